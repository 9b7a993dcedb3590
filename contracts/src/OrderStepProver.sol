// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepProver} from "./ProverInterfaces.sol";
import {IPortalRecords} from "./PortalRecords.sol";
import {PortfolioRisk} from "./PortfolioRisk.sol";
import {StepRules} from "./StepRules.sol";

/// @title OrderStepProver
/// @notice The one-step prover's order and market kinds: order placements (0x1A), bulk
/// placements (0x16), market listings (0x18) and market closings (0x19); `StepProver`
/// forwards them here. Any other kind reverts `UnsupportedKind`.
contract OrderStepProver is StepRules, IStepProver {
    /// @notice kind ‖ market u32 ‖ nonce u64 ‖ expiryMs u64 ‖ r ‖ s ‖ v.
    uint256 internal constant CLOSE_MARKET_BYTES = 86;
    bytes32 internal constant CLOSE_MARKET_TYPEHASH =
        keccak256("CloseMarket(uint32 market,uint64 nonce,uint64 expiryMs)");
    /// @notice kind ‖ market u32 ‖ underlying u32 ‖ instrument u8 ‖ strike u64 ‖
    /// optionExpiryMs u64 ‖ tick u64 ‖ lot u64 ‖ makerFeePpm u32 ‖ takerFeePpm u32 ‖ nonce
    /// u64 ‖ expiryMs u64 ‖ r ‖ s ‖ v.
    uint256 internal constant LIST_MARKET_BYTES = 131;
    bytes32 internal constant LIST_MARKET_TYPEHASH = keccak256(
        "ListMarket(uint32 market,uint32 underlying,uint8 instrument,uint64 strike,uint64 optionExpiryMs,uint64 tick,uint64 lot,uint32 makerFeePpm,uint32 takerFeePpm,uint64 nonce,uint64 expiryMs)"
    );
    /// @notice Highest fee, ppm (crates/exchange FEE_PPM_MAX).
    uint256 internal constant FEE_PPM_MAX = 10_000;

    /// @notice The genesis operator, who alone closes markets (zero: nobody).
    address public immutable operator;

    /// @param chainId The L2 chain id of the signing domain.
    /// @param verifyingContract The signing domain's verifying contract.
    /// @param portal_ The chain's Portal.
    /// @param operator_ The genesis operator (zero when the genesis names none).
    constructor(uint64 chainId, address verifyingContract, IPortalRecords portal_, address operator_)
        StepRules(chainId, verifyingContract, portal_, address(0))
    {
        operator = operator_;
    }

    /// @inheritdoc IStepProver
    function execute(bytes32 preRoot, uint64, uint64 timestampMs, bytes calldata transaction, bytes calldata witness)
        external
        view
        returns (bytes32)
    {
        if (transaction.length == 0) return preRoot;
        uint8 kind = uint8(transaction[0]);
        Leaf[] memory leaves = leavesOf(witness);
        if (kind == KIND_PLACE_ORDER) return placeOrder(preRoot, timestampMs, transaction, leaves);
        if (kind == KIND_PLACE_ORDERS) return placeOrders(preRoot, timestampMs, transaction, leaves);
        if (kind == KIND_CLOSE_MARKET) return closeMarket(preRoot, timestampMs, transaction, leaves);
        if (kind == KIND_LIST_MARKET) return listMarket(preRoot, timestampMs, transaction, leaves);
        revert UnsupportedKind(kind);
    }

    /// @dev The operator closes a perpetual (`Ledger::apply_close_market`,
    /// `Clearinghouse::close_perpetual`): refused unless signed by the operator (else
    /// before any leaf is read), not expired, with a nonce its window takes, on an active
    /// perpetual whose underlying's oracle holds accepted values no older than five
    /// minutes; the market settles at their truncated mean (positions are paid when next
    /// normalised) and loses its vector; it leaves the underlying's active markets.
    /// Leaves: the underlying's (`0x06 ‖ id`), the operator's account, the market; the
    /// account and the market alone when the market does not exist.
    function closeMarket(bytes32 preRoot, uint64 timestampMs, bytes calldata transaction, Leaf[] memory leaves)
        internal
        view
        returns (bytes32)
    {
        if (transaction.length != CLOSE_MARKET_BYTES) return preRoot;
        uint64 nonce = uint64(bytes8(transaction[5:13]));
        uint64 expiryMs = uint64(bytes8(transaction[13:21]));
        address signer = recoverStrict(
            digest(keccak256(abi.encode(CLOSE_MARKET_TYPEHASH, uint32(bytes4(transaction[1:5])), nonce, expiryMs))),
            transaction[21:86]
        );
        if (signer == address(0) || signer != operator) return preRoot;
        (bytes[] memory keys, bytes memory closed) = closingLeaves(signer, uint32(bytes4(transaction[1:5])), leaves);
        if (closed.length == 0) return unchanged(preRoot, leaves, keys);
        Account memory account = accountOf(leaves[1], 1);
        (bool ok, uint256 slot) = nonceSlot(account.nonces, nonce);
        if (!ok || timestampMs > expiryMs || !settle(closed, leaves[0], timestampMs)) {
            return unchanged(preRoot, leaves, keys);
        }
        account.nonces = insertNonce(account.nonces, slot, nonce);
        // The market leaves the underlying's active markets.
        return operatorWrites(preRoot, keys, leaves, false, account, closed);
    }

    /// @dev A listing's or closing's writes: the underlying's leaf with the market added
    /// to its active markets (`listed`) or removed, the operator's account, the market.
    function operatorWrites(
        bytes32 preRoot,
        bytes[] memory keys,
        Leaf[] memory leaves,
        bool listed,
        Account memory account,
        bytes memory market
    ) internal pure returns (bytes32 root) {
        uint256 id = PortfolioRisk.readUint(market, 0, 4);
        root = write(preRoot, keys[0], leaves[0], 0, withMarket(leaves[0].value, id, listed));
        root = write(root, keys[1], leaves[1], 1, encodeAccount(account));
        root = write(root, keys[2], leaves[2], 2, market);
    }

    /// @dev The operator lists a market (`Ledger::apply_list_market`): refused unless
    /// signed by the operator (else before any leaf is read), not expired, with a nonce
    /// its window takes, a known instrument (a perpetual without option terms, an option
    /// expiring after the block), a known underlying (its leaf present) with fewer than
    /// 1 024 active markets, a tick and a lot, fees within 1 %, an option's strike, and an
    /// id no market has. The market is written active, unpriced (no vector), and joins
    /// the underlying's active markets. Leaves: the underlying's (`0x06 ‖ id`), the
    /// operator's account, the market.
    function listMarket(bytes32 preRoot, uint64 timestampMs, bytes calldata transaction, Leaf[] memory leaves)
        internal
        view
        returns (bytes32)
    {
        if (transaction.length != LIST_MARKET_BYTES) return preRoot;
        address signer = recoverStrict(digest(listingHash(transaction)), transaction[66:131]);
        if (signer == address(0) || signer != operator) return preRoot;
        requireCount(leaves, 3);
        bytes[] memory keys = new bytes[](3);
        keys[0] = abi.encodePacked(uint8(0x06), bytes4(transaction[5:9]));
        keys[1] = accountKey(signer);
        keys[2] = abi.encodePacked(uint8(0x05), bytes4(transaction[1:5]));
        Account memory account = accountOf(leaves[1], 1);
        uint64 nonce = uint64(bytes8(transaction[50:58]));
        (bool ok, uint256 slot) = nonceSlot(account.nonces, nonce);
        if (
            !ok || timestampMs > uint64(bytes8(transaction[58:66])) || !listable(transaction, timestampMs)
                || !leaves[0].present || leaves[2].present
                || activeMarkets(leaves[0].value) >= MARKETS_PER_UNDERLYING_MAX
        ) {
            return unchanged(preRoot, leaves, keys);
        }
        account.nonces = insertNonce(account.nonces, slot, nonce);
        // The market leaf: the listing's terms (market .. takerFeePpm, 49 bytes), then
        // status active, no settlement value, open interest, funding index or last
        // price, and no vector (42 zero bytes).
        return operatorWrites(preRoot, keys, leaves, true, account, bytes.concat(transaction[1:50], new bytes(42)));
    }

    /// @dev The listing's EIP-712 struct hash: the type hash and each field as a word.
    function listingHash(bytes calldata t) internal pure returns (bytes32) {
        uint8[11] memory widths = [4, 4, 1, 8, 8, 8, 8, 4, 4, 8, 8];
        bytes memory encoded = new bytes(32 * 12);
        bytes32 typeHash = LIST_MARKET_TYPEHASH;
        assembly ("memory-safe") {
            mstore(add(encoded, 32), typeHash)
        }
        uint256 at = 1;
        for (uint256 i = 0; i < widths.length; i++) {
            uint256 width = widths[i];
            uint256 value = uint256(bytes32(t[at:at + width])) >> (256 - 8 * width);
            assembly ("memory-safe") {
                mstore(add(encoded, add(64, mul(i, 32))), value)
            }
            at += width;
        }
        return keccak256(encoded);
    }

    /// @dev The listing's terms as `apply_list_market` and `MarketSpec::validate` take
    /// them: instrument 0 (strike and option expiry zero) or 1, 2 (expiring after the
    /// block, strike non-zero); tick and lot non-zero; fees at most FEE_PPM_MAX.
    function listable(bytes calldata t, uint64 timestampMs) internal pure returns (bool) {
        uint8 instrument = uint8(t[9]);
        uint64 strike = uint64(bytes8(t[10:18]));
        uint64 optionExpiryMs = uint64(bytes8(t[18:26]));
        if (instrument == 0) {
            if (strike != 0 || optionExpiryMs != 0) return false;
        } else if (instrument == 1 || instrument == 2) {
            if (optionExpiryMs <= timestampMs || strike == 0) return false;
        } else {
            return false;
        }
        return uint64(bytes8(t[26:34])) != 0 && uint64(bytes8(t[34:42])) != 0 && uint32(bytes4(t[42:46])) <= FEE_PPM_MAX
            && uint32(bytes4(t[46:50])) <= FEE_PPM_MAX;
    }

    /// @dev Settles the market leaf `closed` (a copy) at the oracle's settlement price, if
    /// it is an active perpetual (status 0, kind 0) and there is a price: status 1, the
    /// value, no vector.
    function settle(bytes memory closed, Leaf memory oracle, uint64 timestampMs) internal pure returns (bool) {
        if (uint8(closed[49]) != 0 || uint8(closed[8]) != 0) return false;
        (bool priced, uint64 price) = settlementPrice(oracle, timestampMs);
        if (!priced) return false;
        closed[49] = 0x01;
        bytes8 value = bytes8(price);
        for (uint256 b = 0; b < 8; b++) {
            closed[50 + b] = value[b];
        }
        closed[90] = 0x00;
        assembly ("memory-safe") {
            mstore(closed, 91) // the vector goes
        }
        return true;
    }

    /// @dev The keys a close reads and a copy of the market's leaf (empty when the market
    /// does not exist: then only the account and the market are read).
    function closingLeaves(address signer, uint32 market, Leaf[] memory leaves)
        internal
        pure
        returns (bytes[] memory keys, bytes memory closed)
    {
        if (leaves.length == 0) revert WrongLeafCount(0, 2);
        Leaf memory marketLeaf = leaves[leaves.length - 1];
        if (!marketLeaf.present) {
            requireCount(leaves, 2);
            keys = new bytes[](2);
            (keys[0], keys[1]) = (accountKey(signer), abi.encodePacked(uint8(0x05), market));
            return (keys, closed);
        }
        requireCount(leaves, 3);
        closed = bytes.concat(marketLeaf.value);
        if (!PortfolioRisk.isMarket(closed)) revert BadLeafValue(2);
        keys = new bytes[](3);
        keys[0] = abi.encodePacked(uint8(0x06), uint32(PortfolioRisk.readUint(closed, 4, 4)));
        (keys[1], keys[2]) = (accountKey(signer), abi.encodePacked(uint8(0x05), market));
    }

    /// @dev The truncated mean of the oracle's recent accepted values stamped no more
    /// than five minutes before `timestampMs` (`settlement_price`); none when there is
    /// none (the leaf's layout: `oracleLayout`).
    function settlementPrice(Leaf memory oracle, uint64 timestampMs) internal pure returns (bool, uint64) {
        if (!oracle.present) return (false, 0);
        bytes memory value = oracle.value;
        (uint256 at, uint256 recent,,) = oracleLayout(value);
        uint256 sum;
        uint256 count;
        for (uint256 i = 0; i < recent; i++) {
            uint256 stamped = PortfolioRisk.readUint(value, at + 16 * i, 8);
            if (stamped + SETTLEMENT_LOOKBACK_MS >= timestampMs) {
                sum += PortfolioRisk.readUint(value, at + 16 * i + 8, 8);
                count++;
            }
        }
        if (count == 0) return (false, 0);
        // The mean of u64 values fits u64.
        // forge-lint: disable-next-line(unsafe-typecast)
        return (true, uint64(sum / count));
    }
}
