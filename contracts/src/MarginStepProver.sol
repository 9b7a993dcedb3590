// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IPortalRecords} from "./PortalRecords.sol";
import {PortfolioRisk} from "./PortfolioRisk.sol";
import {PortfolioSteps} from "./PortfolioSteps.sol";
import {StepRules} from "./StepRules.sol";

/// @title MarginStepProver
/// @notice The one-step prover's margin withdrawals (kind 5), directly or as a forced
/// transaction's payload, and order retirements (0x1B): the kinds decided by whether an
/// account can afford something. `StepProver` forwards them here. Any other kind reverts
/// `UnsupportedKind`.
/// @dev A margin withdrawal (`Ledger::execute_action` with `Clearinghouse::withdraw`)
/// moves `amount` of the signer's margin cash back to its collateral: refused when
/// expired, when the nonce is used or stale, when the amount is zero, does not fit 127
/// bits or would overflow the collateral, when a position's market is unknown, when the
/// normalised portfolio (`PortfolioRisk.normalise`) has no positions and less cash than the
/// amount, or when its equity after the withdrawal is below its initial margin (or a
/// position's market has no risk vector to price it). Otherwise the account gets the
/// amount and the nonce, the portfolio is stored normalised (removed when it is left with
/// no cash and no positions), and the clearing totals keep the rounding remainder.
/// Leaves: the markets of the portfolio's positions before the transaction (in its
/// order, read only), the signer's account, its portfolio (`0x04 ‖ signer`), the
/// clearing totals (`0x08`).
///
/// A retirement (`Ledger::apply_retire_order`, unsigned: the sequencer sends it when a
/// fill against a placed order was refused) cancels a resting placed order (placed, not
/// cancelled, not filled) that can no longer trade: past its expiry, its market not
/// active, or its owner unable to afford the rest of it at its limit (`check_order_margin`
/// refusing for the margin rule or a position bound; refusals for anything else, such
/// as a market without a vector, do not count). Leaves: the markets of the owner's
/// positions other than the order's (read only), the order's market, the owner's
/// portfolio (both read only), the order record (the only leaf written); just the
/// record when it is not a resting placed order.
contract MarginStepProver is PortfolioSteps {
    /// @notice kind ‖ owner ‖ order hash.
    uint256 internal constant RETIRE_ORDER_BYTES = 53;
    /// @notice Where a placed record holds its order's fields: `filled u64 ‖ cancelled u8
    /// ‖ placed u8 ‖ seq u64 ‖ body`, the body from byte 18.
    uint256 internal constant RECORD_BODY = 18;
    /// @param chainId The L2 chain id of the signing domain.
    /// @param verifyingContract The signing domain's verifying contract.
    /// @param portal_ The chain's Portal (forced margin withdrawals must be its records).
    constructor(uint64 chainId, address verifyingContract, IPortalRecords portal_)
        StepRules(chainId, verifyingContract, portal_, address(0))
    {}

    /// @inheritdoc PortfolioSteps
    function executeKind(bytes32 preRoot, uint64 blockNumber, uint64 timestampMs, bytes calldata transaction, bytes calldata witness)
        internal
        view
        override
        returns (bytes32)
    {
        uint8 kind = uint8(transaction[0]);
        Leaf[] memory leaves = leavesOf(witness);
        if (kind == KIND_FORCED) return forced(preRoot, blockNumber, timestampMs, transaction, leaves);
        if (kind == KIND_RETIRE_ORDER) return retire(preRoot, timestampMs, transaction, leaves);
        if (kind != KIND_WITHDRAW_MARGIN) revert UnsupportedKind(kind);
        (, bytes32 root) = userSigned(preRoot, blockNumber, timestampMs, transaction, leaves);
        return root;
    }

    // ---------------------------------------------------------------- retirements

    /// @notice A resting placed order's terms, from its record.
    struct Resting {
        uint32 market;
        bool isBuy;
        uint64 price;
        uint64 remaining;
        uint64 expiryMs;
    }

    function retire(bytes32 preRoot, uint64 timestampMs, bytes calldata transaction, Leaf[] memory leaves)
        internal
        pure
        returns (bytes32)
    {
        if (transaction.length != RETIRE_ORDER_BYTES) return preRoot;
        address owner = address(bytes20(transaction[1:21]));
        bytes memory recordKey = orderKey(owner, bytes32(transaction[21:53]));
        if (leaves.length == 0) revert WrongLeafCount(0, 1);
        uint256 last = leaves.length - 1;
        (bool resting, Resting memory o) = restingOf(leaves[last], last);
        if (!resting) {
            requireCount(leaves, 1);
            return unchanged(preRoot, leaves, single(recordKey));
        }
        (MarketSet memory set, bytes[] memory keys, PortfolioRisk.Portfolio memory portfolio) =
            retirementLeaves(owner, recordKey, o.market, leaves);
        if (!dead(timestampMs, set, leaves, portfolio, o)) return unchanged(preRoot, leaves, keys);
        // Everything but the record is only read: proven against the root before it.
        for (uint256 i = 0; i < last; i++) {
            checkUnchanged(preRoot, keys[i], leaves[i]);
        }
        return write(preRoot, keys[last], leaves[last], last, cancelledRecord(leaves[last], last));
    }

    /// @dev The order can no longer trade: expired, its market not active, or unaffordable.
    function dead(
        uint64 timestampMs,
        MarketSet memory set,
        Leaf[] memory leaves,
        PortfolioRisk.Portfolio memory portfolio,
        Resting memory o
    ) internal pure returns (bool) {
        bytes memory m = set.tradedLeaf;
        return timestampMs > o.expiryMs || m.length == 0 || uint8(m[PortfolioRisk.MARKET_STATUS]) != 0
            || unaffordable(set, leaves, portfolio, o);
    }

    /// @dev The market set, keys and portfolio of a retirement of a resting order on
    /// `market`.
    function retirementLeaves(address owner, bytes memory recordKey, uint32 market, Leaf[] memory leaves)
        internal
        pure
        returns (MarketSet memory set, bytes[] memory keys, PortfolioRisk.Portfolio memory portfolio)
    {
        if (leaves.length < 3) revert WrongLeafCount(leaves.length, 3);
        uint256 last = leaves.length - 1;
        PortfolioRisk.Portfolio[] memory portfolios = new PortfolioRisk.Portfolio[](1);
        bool valid;
        (valid, portfolios[0]) = PortfolioRisk.portfolioOf(leaves[last - 1].present, leaves[last - 1].value);
        if (!valid) revert BadLeafValue(last - 1);
        set = marketSetOf(portfolios, market, leaves, leaves.length - 3, last - 2);
        keys = new bytes[](leaves.length);
        marketKeys(set, keys);
        keys[last - 2] = abi.encodePacked(uint8(0x05), market);
        keys[last - 1] = abi.encodePacked(uint8(0x04), owner);
        keys[last] = recordKey;
        portfolio = portfolios[0];
    }

    /// @dev Whether the record holds a resting placed order (placed, not cancelled, not
    /// filled), and its terms.
    function restingOf(Leaf memory record, uint256 index) internal pure returns (bool, Resting memory o) {
        if (!record.present) return (false, o);
        bytes memory value = record.value;
        if (value.length < 10) revert BadLeafValue(index);
        if (uint8(value[8]) != 0 || uint8(value[9]) != 1) return (false, o);
        if (value.length != RECORD_BODY + ORDER_BODY_BYTES) revert BadLeafValue(index);
        uint64 filled = uint64(PortfolioRisk.readUint(value, 0, 8));
        uint64 size = uint64(PortfolioRisk.readUint(value, RECORD_BODY + 13, 8));
        if (filled >= size) return (false, o);
        o.market = uint32(PortfolioRisk.readUint(value, RECORD_BODY, 4));
        o.isBuy = uint8(value[RECORD_BODY + 4]) == 1;
        o.price = uint64(PortfolioRisk.readUint(value, RECORD_BODY + 5, 8));
        o.remaining = size - filled;
        o.expiryMs = uint64(PortfolioRisk.readUint(value, RECORD_BODY + 23, 8));
        return (true, o);
    }

    /// @dev `check_order_margin` refusing for the margin rule or a position bound: the
    /// owner taking the rest of the order at its limit (paying the taker fee) would hold
    /// more than 32 positions, one beyond the size bound, or, its maintenance risen, not
    /// cover its initial margin. The market is active here.
    function unaffordable(
        MarketSet memory set,
        Leaf[] memory leaves,
        PortfolioRisk.Portfolio memory portfolio,
        Resting memory o
    ) internal pure returns (bool) {
        bytes memory m = set.tradedLeaf;
        if (uint8(m[PortfolioRisk.MARKET_HAS_VECTOR]) != 1) return false;
        if (int256(uint256(o.remaining)) > PortfolioRisk.POSITION_SIZE_MAX) return false;
        (bool known, bytes[] memory markets) = marketsOf(set, leaves, portfolio);
        if (!known) return false;
        (PortfolioRisk.Portfolio memory p, bytes[] memory kept,) = PortfolioRisk.normalise(portfolio, markets);
        (uint8 class, int256 maintenanceBefore,,) = riskOf(p, kept);
        if (class != 0) return class == 2;
        hypotheticalFill(p, m, o);
        if (p.positions.length > PortfolioRisk.POSITIONS_MAX) return true;
        (known, markets) = marketsOf(set, leaves, p);
        (uint8 classAfter, int256 maintenance, int256 equity, int256 initial) = riskOf(p, markets);
        if (classAfter != 0) return classAfter == 2;
        return maintenance > maintenanceBefore && equity < initial;
    }

    /// @dev The owner takes the rest of the order at its limit, paying the taker fee.
    function hypotheticalFill(PortfolioRisk.Portfolio memory p, bytes memory m, Resting memory o) internal pure {
        int256 size = int256(uint256(o.remaining));
        int256 notional = size * int256(uint256(o.price));
        int256 fee = PortfolioRisk.ceilDiv(notional * int256(PortfolioRisk.readUint(m, 45, 4)), 1_000_000_000_000);
        int256 fundingIndex = PortfolioRisk.signed(m, PortfolioRisk.MARKET_FUNDING_INDEX, 16);
        if (o.isBuy) {
            int256 paid = PortfolioRisk.ceilDiv(notional, 1_000_000);
            PortfolioRisk.trade(p, o.market, size, paid, fundingIndex);
            p.cash -= paid + fee;
        } else {
            int256 received = PortfolioRisk.floorDiv(notional, 1_000_000);
            PortfolioRisk.trade(p, o.market, -size, -received, fundingIndex);
            p.cash += received - fee;
        }
    }

    /// @dev `risk_of_normalized`'s outcome: 0 priced (with maintenance, equity and
    /// initial), 1 refused without counting as unaffordable (a market without a vector,
    /// checked first), 2 refused for a position beyond the size bound (a margin limit).
    function riskOf(PortfolioRisk.Portfolio memory p, bytes[] memory markets)
        internal
        pure
        returns (uint8 class, int256 maintenance, int256 equity, int256 initial)
    {
        for (uint256 i = 0; i < markets.length; i++) {
            if (uint8(markets[i][PortfolioRisk.MARKET_HAS_VECTOR]) != 1) return (1, 0, 0, 0);
        }
        bool priced;
        (priced, equity, maintenance, initial) = PortfolioRisk.margin(p, markets);
        return (priced ? 0 : 2, maintenance, equity, initial);
    }

    /// @dev Covers the margin withdrawal only: other kinds are not this contract's.
    function userSigned(bytes32 preRoot, uint64, uint64 timestampMs, bytes calldata transaction, Leaf[] memory leaves)
        internal
        view
        override
        returns (bool covered, bytes32 root)
    {
        if (transaction.length == 0 || uint8(transaction[0]) != KIND_WITHDRAW_MARGIN) return (false, preRoot);
        (Action memory a, address sender) = signedAction(transaction);
        // Bytes that do not decode are not this kind: a forced payload then only counts.
        if (!decodesAsAction(transaction)) return (false, preRoot);
        // A signature that does not recover: refused before any leaf is read.
        if (sender == address(0)) return (true, preRoot);
        return (true, withdrawMargin(preRoot, timestampMs, a, sender, leaves));
    }

    /// @dev The leaves' keys and the portfolio before the transaction (see the contract's
    /// notes for the order).
    function withdrawalKeys(address sender, Leaf[] memory leaves)
        internal
        pure
        returns (bytes[] memory keys, PortfolioRisk.Portfolio memory portfolio)
    {
        if (leaves.length < 3) revert WrongLeafCount(leaves.length, 3);
        uint256 markets = leaves.length - 3;
        bool valid;
        (valid, portfolio) = PortfolioRisk.portfolioOf(leaves[markets + 1].present, leaves[markets + 1].value);
        if (!valid) revert BadLeafValue(markets + 1);
        requireCount(leaves, portfolio.positions.length + 3);
        keys = new bytes[](leaves.length);
        for (uint256 i = 0; i < markets; i++) {
            keys[i] = abi.encodePacked(uint8(0x05), portfolio.positions[i].market);
        }
        keys[markets] = accountKey(sender);
        keys[markets + 1] = abi.encodePacked(uint8(0x04), sender);
        keys[markets + 2] = abi.encodePacked(uint8(0x08));
    }

    function withdrawMargin(bytes32 preRoot, uint64 timestampMs, Action memory a, address sender, Leaf[] memory leaves)
        internal
        pure
        returns (bytes32)
    {
        (bytes[] memory keys, PortfolioRisk.Portfolio memory portfolio) = withdrawalKeys(sender, leaves);
        uint256 markets = portfolio.positions.length;
        Account memory account = accountOf(leaves[markets], markets);
        (bool ok, uint256 slot) = nonceSlot(account.nonces, a.nonce);
        if (
            !ok || timestampMs > a.expiryMs || a.amount == 0 || a.amount > uint128(type(int128).max)
                || uint256(account.collateral) + a.amount > type(uint128).max
        ) return unchanged(preRoot, leaves, keys);
        (bool allowed, PortfolioRisk.Portfolio memory normalised, int256 remainder) =
            withdrawn(portfolio, leaves, int256(uint256(a.amount)));
        if (!allowed) return unchanged(preRoot, leaves, keys);
        account.collateral += a.amount;
        account.nonces = insertNonce(account.nonces, slot, a.nonce);
        return withdrawalWrites(preRoot, keys, leaves, encodeAccount(account), normalised, remainder);
    }

    /// @dev The root after a margin withdrawal: the markets checked (only read, so against
    /// the root before the writes), then the account, the portfolio and the clearing
    /// totals written.
    function withdrawalWrites(
        bytes32 preRoot,
        bytes[] memory keys,
        Leaf[] memory leaves,
        bytes memory account,
        PortfolioRisk.Portfolio memory normalised,
        int256 remainder
    ) internal pure returns (bytes32 root) {
        uint256 markets = leaves.length - 3;
        for (uint256 i = 0; i < markets; i++) {
            checkUnchanged(preRoot, keys[i], leaves[i]);
        }
        root = write(preRoot, keys[markets], leaves[markets], markets, account);
        root = writePortfolio(root, keys[markets + 1], leaves[markets + 1], markets + 1, normalised);
        (bytes memory totals,) = clearingTotals(leaves[markets + 2], markets + 2);
        root = write(
            root,
            keys[markets + 2],
            leaves[markets + 2],
            markets + 2,
            PortfolioRisk.settleTotals(totals, 0, 0, remainder)
        );
    }

    /// @dev The portfolio normalised and `amount` poorer, if the clearinghouse allows it:
    /// every position's market is known, and either there are positions whose margin the
    /// equity still covers or there is the cash.
    function withdrawn(PortfolioRisk.Portfolio memory portfolio, Leaf[] memory leaves, int256 amount)
        internal
        pure
        returns (bool allowed, PortfolioRisk.Portfolio memory normalised, int256 remainder)
    {
        uint256 count = portfolio.positions.length;
        bytes[] memory markets = new bytes[](count);
        for (uint256 i = 0; i < count; i++) {
            if (!leaves[i].present) return (false, normalised, 0);
            if (!PortfolioRisk.isMarket(leaves[i].value)) revert BadLeafValue(i);
            markets[i] = leaves[i].value;
        }
        bytes[] memory keptMarkets;
        (normalised, keptMarkets, remainder) = PortfolioRisk.normalise(portfolio, markets);
        if (normalised.positions.length == 0 && normalised.cash < amount) return (false, normalised, 0);
        normalised.cash -= amount;
        (bool priced, int256 equity,, int256 initial) = PortfolioRisk.margin(normalised, keptMarkets);
        allowed = priced && equity >= initial;
    }
}
