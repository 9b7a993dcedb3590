// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

// Length (over 800 lines): one library so every step prover executes the same ledger
// rules, linked once; the kinds share the leaf codecs, nonce windows and margin checks that
// splitting would scatter or copy.

import {StateProof} from "./StateProof.sol";
import {L2Domain} from "./L2Domain.sol";
import {IPortalRecords, PortalRecords} from "./PortalRecords.sol";
import {PortfolioRisk} from "./PortfolioRisk.sol";

/// @title StepRules
/// @notice The one-step prover's rules: re-executes one Straddle transaction exactly as the Rust
/// STF does (crates/exchange, the ledger's rules) and returns the state root after it.
/// Covered kinds: deposits (0x1C), transfers (1), withdrawals (2), mints (3), margin deposits (4),
/// margin withdrawals (5) and order retirements (0x1B, both in `MarginStepProver`), matches (0x11, 0x17, in `MatchStepProver`),
/// liquidations and auto-deleveragings (0x13, 0x14, in `LiquidationStepProver`),
/// cancels (0x12), bulk cancels (0x15), order placements, bulk placements, market listings
/// and closings (0x1A, 0x16, 0x18, 0x19, in `OrderStepProver`) and forced transactions
/// (0x1D) carrying any of the user kinds among these or anything that may not be forced,
/// and undecodable batch items (0xFE), which change nothing. Oracle updates (0x10) are proven a sub-step at a time (`subStep`, forwarded to
/// `OracleStepProver`; docs/spec/disputes.md §4.1): `execute` refuses them, and any
/// unknown kind, with `UnsupportedKind`. A
/// transaction the STF refuses changes nothing, so its post-state root is the pre-state
/// root; bytes that do not decode are refused the same way, and so are a deposit or a
/// forced transaction the Portal did not record (derivation takes them from the Portal
/// only, so an honest chain never holds one: this is what stops a block from minting
/// collateral out of a deposit nobody made).
/// @dev The witness is packed (`leavesOf`): the leaves the kind reads, in the order this
/// contract writes them (deposit: recipient's account, totals; transfer: sender's account,
/// then the recipient's unless it is the sender; withdrawal: sender's account, the new
/// withdrawal record, totals; cancel: the order record; bulk cancel: the order records,
/// each once in first-seen order, then the signer's account; placement: the market (read
/// only), the order record, the clearing totals; margin deposit: the sender's account, its
/// portfolio; forced: the queue, then its payload's if
/// the index is the next), each with its current value and a proof. When the
/// transaction changes the state each proof is against the root after the leaves before
/// it were written; when it is refused every proof is against the pre-state root. A
/// transfer or withdrawal whose signature does not recover needs no leaves.
abstract contract StepRules {
    /// @notice One leaf the transaction reads: its value (empty when absent) and a proof.
    struct Leaf {
        bool present;
        bytes value;
        bytes32[] siblings;
        StateProof.Terminal terminal;
        /// @dev The preimage of the last sibling: given only for a leaf the transaction
        /// removes (`StateProof.update` needs it to collapse the emptied subtree).
        StateProof.Preimage sibling;
    }

    /// @notice An account leaf (`0x01 ‖ address`).
    struct Account {
        uint128 collateral;
        uint64[] nonces;
    }

    /// @notice The ledger totals leaf (`0x03`).
    struct Totals {
        uint128 genesisSupply;
        uint128 minted;
        uint128 withdrawn;
        uint64 withdrawalCount;
        uint128 deposited;
        uint64 depositCount;
        bytes32 depositAccumulator;
    }

    /// @notice A transaction kind the prover does not cover yet.
    error UnsupportedKind(uint8 kind);
    /// @notice The witness has another number of leaves than the kind reads.
    error WrongLeafCount(uint256 given, uint256 needed);
    /// @notice A leaf's claimed value does not match its proof's terminal.
    error LeafMismatch(uint256 leaf);
    /// @notice The witness does not parse (at this byte).
    error BadWitness(uint256 at);
    /// @notice A stored leaf value does not decode (the state is not Straddle's).
    error BadLeafValue(uint256 leaf);

    uint8 internal constant KIND_TRANSFER = 1;
    uint8 internal constant KIND_WITHDRAW = 2;
    uint8 internal constant KIND_MINT = 3;
    uint8 internal constant KIND_DEPOSIT_MARGIN = 4;
    uint8 internal constant KIND_WITHDRAW_MARGIN = 5;
    uint8 internal constant KIND_CANCEL = 0x12;
    uint8 internal constant KIND_BULK_CANCEL = 0x15;
    uint8 internal constant KIND_DEPOSIT = 0x1C;
    uint8 internal constant KIND_FORCED = 0x1D;
    /// @dev An undecodable batch item (docs/spec/batches.md §4.1): changes nothing.
    uint8 internal constant KIND_UNDECODABLE = 0xFE;
    uint8 internal constant KIND_PLACE_ORDER = 0x1A;
    uint8 internal constant KIND_PLACE_ORDERS = 0x16;
    uint8 internal constant KIND_MATCH = 0x11;
    uint8 internal constant KIND_MATCH_PLACED = 0x17;
    uint8 internal constant KIND_LIQUIDATE = 0x13;
    uint8 internal constant KIND_AUTO_DELEVERAGE = 0x14;
    uint8 internal constant KIND_RETIRE_ORDER = 0x1B;
    uint8 internal constant KIND_CLOSE_MARKET = 0x19;
    uint8 internal constant KIND_LIST_MARKET = 0x18;
    /// @notice Most orders one bulk placement carries (crates/primitives BULK_ORDERS_MAX).
    uint256 internal constant BULK_ORDERS_MAX = 32;
    /// @notice Most orders one bulk placement cancels (BULK_ORDERS_CANCELS_MAX).
    uint256 internal constant BULK_ORDERS_CANCELS_MAX = 32;
    uint256 internal constant ORDER_BODY_BYTES = 47;
    bytes32 internal constant BULK_ORDERS_TYPEHASH = keccak256(
        "BulkOrders(bytes32[] cancels,Order[] orders,uint64 nonce,uint64 expiryMs)Order(uint32 market,bool isBuy,uint64 limitPrice,uint64 size,uint8 timeInForce,bool reduceOnly,uint64 expiryMs,uint64 clientOrderId,uint64 nonce)"
    );
    /// @notice kind ‖ order body (47) ‖ r ‖ s ‖ v.
    uint256 internal constant PLACE_ORDER_BYTES = 113;
    /// @notice The clearing totals leaf (`0x08`): fee pool, insurance fund and rounding
    /// reserve (u128 each), then the placement count (u64).
    uint256 internal constant CLEARING_TOTALS_BYTES = 56;
    uint256 internal constant FORCED_HEADER_BYTES = 33;
    uint256 internal constant CANCEL_BYTES = 114;
    /// @notice Most orders one bulk cancel names (crates/primitives BULK_CANCEL_MAX).
    uint256 internal constant BULK_CANCEL_MAX = 64;
    bytes32 internal constant CANCEL_TYPEHASH = keccak256("Cancel(bytes32 orderHash,uint64 nonce,uint64 expiryMs)");
    bytes32 internal constant BULK_CANCEL_TYPEHASH =
        keccak256("BulkCancel(bytes32[] orderHashes,uint64 nonce,uint64 expiryMs)");
    /// @notice Largest forced payload (Portal.FORCED_TRANSACTION_BYTES_MAX).
    uint256 internal constant FORCED_PAYLOAD_MAX = 2048;
    uint256 internal constant ACTION_BYTES = 118;
    uint256 internal constant DEPOSIT_BYTES = 65;
    /// @notice Nonces an account remembers (crates/exchange NONCE_WINDOW_LEN).
    uint256 internal constant NONCE_WINDOW_LEN = 32;
    /// @notice Largest total collateral supply (crates/exchange COLLATERAL_SUPPLY_MAX).
    uint256 internal constant COLLATERAL_SUPPLY_MAX = 100_000_000_000_000_000_000;
    uint256 internal constant CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant HALF_CURVE_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    bytes32 internal constant TRANSFER_TYPEHASH =
        keccak256("Transfer(address to,uint128 amount,uint64 nonce,uint64 expiryMs)");
    bytes32 internal constant MINT_TYPEHASH = keccak256("Mint(address to,uint128 amount,uint64 nonce,uint64 expiryMs)");
    bytes32 internal constant DEPOSIT_MARGIN_TYPEHASH =
        keccak256("DepositMargin(uint128 amount,uint64 nonce,uint64 expiryMs)");
    bytes32 internal constant WITHDRAW_MARGIN_TYPEHASH =
        keccak256("WithdrawMargin(uint128 amount,uint64 nonce,uint64 expiryMs)");
    bytes32 internal constant WITHDRAW_TYPEHASH =
        keccak256("Withdraw(address recipient,uint128 amount,uint64 nonce,uint64 expiryMs)");

    /// @notice Oracle values at most this long before a close or an expiry count toward
    /// its settlement price (crates/exchange SETTLEMENT_LOOKBACK_MS).
    uint256 internal constant SETTLEMENT_LOOKBACK_MS = 300_000;
    /// @notice Active markets one underlying may have (crates/exchange
    /// MARKETS_PER_UNDERLYING_MAX).
    uint256 internal constant MARKETS_PER_UNDERLYING_MAX = 1024;
    /// @notice EIP-712 domain separator of the L2's signed actions.
    bytes32 public immutable domainSeparator;
    /// @notice The Portal whose records deposits and forced transactions must match.
    IPortalRecords public immutable portal;
    /// @notice The genesis operator when the devnet faucet is on (it alone mints); zero
    /// when minting is off.
    address public immutable faucetOperator;

    /// @param chainId The L2 chain id of the signing domain.
    /// @param verifyingContract The signing domain's verifying contract.
    /// @param portal_ The chain's Portal.
    /// @param faucetOperator_ The genesis operator if the faucet is on, else zero.
    constructor(uint64 chainId, address verifyingContract, IPortalRecords portal_, address faucetOperator_) {
        portal = portal_;
        faucetOperator = faucetOperator_;
        domainSeparator = L2Domain.separator(chainId, verifyingContract);
    }

    /// @dev The user-signed kinds the prover covers (transfer, withdrawal, mint, margin
    /// deposit, cancel, bulk cancel), directly or as a forced payload: whether
    /// `transaction` is one of them, and the root after it. (`MarginStepProver` covers the
    /// margin withdrawal instead.)
    function userSigned(
        bytes32 preRoot,
        uint64 blockNumber,
        uint64 timestampMs,
        bytes calldata transaction,
        Leaf[] memory leaves
    ) internal view virtual returns (bool covered, bytes32 root) {
        uint8 kind = transaction.length == 0 ? 0 : uint8(transaction[0]);
        if (kind == KIND_TRANSFER || kind == KIND_WITHDRAW || kind == KIND_MINT || kind == KIND_DEPOSIT_MARGIN) {
            return (true, action(preRoot, blockNumber, timestampMs, transaction, leaves));
        }
        if (kind == KIND_CANCEL) return (true, cancel(preRoot, timestampMs, transaction, leaves));
        if (kind == KIND_BULK_CANCEL) return (true, bulkCancel(preRoot, timestampMs, transaction, leaves));
        return (false, preRoot);
    }

    // ---------------------------------------------------------------- cancels

    /// @dev kind ‖ orderHash ‖ nonce u64 ‖ expiryMs u64 ‖ r ‖ s ‖ v. Marks the signer's
    /// order record (0x07 ‖ signer ‖ orderHash) cancelled, creating it if absent; refused
    /// once expired. A single cancel does not use its nonce.
    function cancel(bytes32 preRoot, uint64 timestampMs, bytes calldata transaction, Leaf[] memory leaves)
        internal
        view
        returns (bytes32)
    {
        if (transaction.length != CANCEL_BYTES) return preRoot;
        bytes32 orderHash = bytes32(transaction[1:33]);
        uint64 expiryMs = uint64(bytes8(transaction[41:49]));
        bytes32 structHash =
            keccak256(abi.encode(CANCEL_TYPEHASH, orderHash, uint64(bytes8(transaction[33:41])), expiryMs));
        address signer = recoverStrict(digest(structHash), transaction[49:114]);
        if (signer == address(0)) return preRoot;
        requireCount(leaves, 1);
        bytes[] memory keys = single(orderKey(signer, orderHash));
        if (timestampMs > expiryMs) return unchanged(preRoot, leaves, keys);
        return write(preRoot, keys[0], leaves[0], 0, cancelledRecord(leaves[0], 0));
    }

    /// @dev kind ‖ count u8 ‖ orderHash × count ‖ nonce u64 ‖ expiryMs u64 ‖ r ‖ s ‖ v
    /// (count ≤ 64). Cancels each order once (records in first-seen order), then uses the
    /// signer's nonce; refused whole once expired or when the nonce is used or stale.
    function bulkCancel(bytes32 preRoot, uint64 timestampMs, bytes calldata transaction, Leaf[] memory leaves)
        internal
        view
        returns (bytes32)
    {
        (bool decodes, SignedRequest memory request) = bulkCancelRequest(transaction);
        if (!decodes) return preRoot;
        requireCount(leaves, request.keys.length);
        uint256 last = request.keys.length - 1;
        Account memory account = accountOf(leaves[last], last);
        (bool ok, uint256 slot) = nonceSlot(account.nonces, request.nonce);
        if (!ok || timestampMs > request.expiryMs) return unchanged(preRoot, leaves, request.keys);
        bytes32 root = preRoot;
        for (uint256 i = 0; i < last; i++) {
            root = write(root, request.keys[i], leaves[i], i, cancelledRecord(leaves[i], i));
        }
        account.nonces = insertNonce(account.nonces, slot, request.nonce);
        return write(root, request.keys[last], leaves[last], last, encodeAccount(account));
    }

    /// @dev A decoded, signed request and the keys of the leaves it reads.
    struct SignedRequest {
        uint64 nonce;
        uint64 expiryMs;
        bytes[] keys;
    }

    /// @dev The bulk cancel in `transaction`, if it decodes and its signature recovers.
    function bulkCancelRequest(bytes calldata transaction)
        internal
        view
        returns (bool decodes, SignedRequest memory request)
    {
        if (transaction.length < 2) return (false, request);
        uint256 count = uint8(transaction[1]);
        uint256 end = 2 + 32 * count;
        if (count > BULK_CANCEL_MAX || transaction.length != end + 81) return (false, request);
        request.nonce = uint64(bytes8(transaction[end:end + 8]));
        request.expiryMs = uint64(bytes8(transaction[end + 8:end + 16]));
        bytes32 structHash =
            keccak256(abi.encode(BULK_CANCEL_TYPEHASH, keccak256(transaction[2:end]), request.nonce, request.expiryMs));
        address signer = recoverStrict(digest(structHash), transaction[end + 16:end + 81]);
        if (signer == address(0)) return (false, request);
        request.keys = bulkCancelKeys(transaction[2:end], signer);
        return (true, request);
    }

    /// @dev The order-record keys of `hashes` (each once, first-seen order), then the
    /// signer's account key.
    function bulkCancelKeys(bytes calldata hashes, address signer) internal pure returns (bytes[] memory keys) {
        uint256 count = hashes.length / 32;
        bytes32[] memory unique = new bytes32[](count);
        uint256 found;
        for (uint256 i = 0; i < count; i++) {
            bytes32 hash = bytes32(hashes[32 * i:32 * i + 32]);
            bool seen;
            for (uint256 j = 0; j < found && !seen; j++) {
                seen = unique[j] == hash;
            }
            if (!seen) unique[found++] = hash;
        }
        keys = new bytes[](found + 1);
        for (uint256 i = 0; i < found; i++) {
            keys[i] = orderKey(signer, unique[i]);
        }
        keys[found] = accountKey(signer);
    }

    function orderKey(address owner, bytes32 orderHash) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(0x07), owner, orderHash);
    }

    /// @dev The order record with its cancelled flag set: `filled u64 ‖ cancelled u8 ‖
    /// placed u8 ‖ (placement)`, a fresh `0 ‖ 1 ‖ 0` when absent.
    function cancelledRecord(Leaf memory leaf, uint256 index) internal pure returns (bytes memory record) {
        if (!leaf.present) return abi.encodePacked(uint64(0), uint8(1), uint8(0));
        record = bytes.concat(leaf.value);
        if (record.length < 10 || uint8(record[8]) > 1 || uint8(record[9]) > 1) revert BadLeafValue(index);
        record[8] = 0x01;
    }

    // ---------------------------------------------------------------- placements

    /// @dev kind ‖ order body ‖ r ‖ s ‖ v, the body `market u32 ‖ isBuy u8 ‖ limitPrice
    /// u64 ‖ size u64 ‖ timeInForce u8 ‖ reduceOnly u8 ‖ expiryMs u64 ‖ clientOrderId u64 ‖
    /// nonce u64`. Registers the signer's order as resting (clearinghouse.md §6.2): its
    /// record (`0x07 ‖ owner ‖ hash`) gets the placement (sequence number = the clearing
    /// totals' placement count, which grows by one), keeping its filled size. Refused
    /// unless good-till-cancelled or post-only, not expired, not cancelled, filled or
    /// placed before, on an active market (`0x05 ‖ id`: status 0) and on its grid (size a
    /// positive multiple of the lot, price of the tick). Leaves: the market (read), the
    /// order record, the clearing totals.
    function placeOrder(bytes32 preRoot, uint64 timestampMs, bytes calldata transaction, Leaf[] memory leaves)
        internal
        view
        returns (bytes32)
    {
        if (transaction.length != PLACE_ORDER_BYTES) return preRoot;
        bytes calldata body = transaction[1:48];
        // Booleans other than 0 and 1 do not decode.
        if (uint8(body[4]) > 1 || uint8(body[22]) > 1) return preRoot;
        bytes32 orderHash = digest(orderStructHash(body));
        address owner = recoverStrict(orderHash, transaction[48:113]);
        if (owner == address(0)) return preRoot;
        requireCount(leaves, 3);
        bytes[] memory keys = placementKeys(body, owner, orderHash);
        if (!placeable(body, timestampMs, leaves[0], 0, leaves[1], 1)) return unchanged(preRoot, leaves, keys);
        // The market is only read: its proof must be against the root before the writes.
        checkUnchanged(preRoot, keys[0], leaves[0]);
        (bytes memory totals, uint64 seq) = clearingTotals(leaves[2], 2);
        bytes32 root = write(preRoot, keys[1], leaves[1], 1, placedRecord(leaves[1], seq, body));
        return write(root, keys[2], leaves[2], 2, withPlacements(totals, seq + 1));
    }

    /// @dev The leaves a placement reads: its market, the owner's order record, the
    /// clearing totals.
    function placementKeys(bytes calldata body, address owner, bytes32 orderHash)
        internal
        pure
        returns (bytes[] memory keys)
    {
        keys = new bytes[](3);
        keys[0] = abi.encodePacked(uint8(0x05), bytes4(body[0:4]));
        keys[1] = orderKey(owner, orderHash);
        keys[2] = abi.encodePacked(uint8(0x08));
    }

    /// @dev Checks a leaf only read against `root`.
    function checkUnchanged(bytes32 root, bytes memory key, Leaf memory leaf) internal pure {
        StateProof.verify(root, checked(key, leaf, 0), leaf.siblings, leaf.terminal);
    }

    /// @dev A decoded bulk placement: where its parts are in the transaction, its
    /// signer, each order's hash, and the leaves it reads (`keys`) with, per order, the
    /// index of its market's leaf and of its record's.
    struct BulkPlacement {
        uint256 cancels;
        uint256 orders;
        uint256 bodies;
        uint64 nonce;
        uint64 expiryMs;
        address owner;
        bytes32[] orderHashes;
        bytes[] keys;
        uint256[] marketLeaf;
        uint256[] recordLeaf;
        uint256 records;
        uint256 ordersFirstRecord;
    }

    /// @dev kind ‖ c u8 (≤ 64) ‖ cancelled hash × c ‖ n u8 (≤ 32) ‖ order body × n ‖ nonce
    /// u64 ‖ expiryMs u64 ‖ r ‖ s ‖ v (EIP-712 `BulkOrders`). All or nothing: refused when
    /// expired, when the nonce is used or stale, when an order is named twice or also
    /// cancelled, or when any order could not rest (as a placement); else cancels the
    /// signer's `cancels`, places each order (numbered from the clearing totals' count)
    /// and uses the nonce. Leaves: the orders' markets (each once, read only), the order
    /// records of the cancels then the orders (each once), the clearing totals, the
    /// signer's account.
    function placeOrders(bytes32 preRoot, uint64 timestampMs, bytes calldata transaction, Leaf[] memory leaves)
        internal
        view
        returns (bytes32)
    {
        (bool decodes, BulkPlacement memory p) = bulkPlacementOf(transaction);
        if (!decodes) return preRoot;
        requireCount(leaves, p.keys.length);
        uint256 totalsLeaf = p.keys.length - 2;
        Account memory account = accountOf(leaves[totalsLeaf + 1], totalsLeaf + 1);
        (bool ok, uint256 slot) = nonceSlot(account.nonces, p.nonce);
        if (!ok || timestampMs > p.expiryMs || !bulkPlaceable(transaction, p, timestampMs, leaves)) {
            return unchanged(preRoot, leaves, p.keys);
        }
        bytes32 root = placeAll(preRoot, transaction, p, leaves);
        account.nonces = insertNonce(account.nonces, slot, p.nonce);
        return write(root, p.keys[totalsLeaf + 1], leaves[totalsLeaf + 1], totalsLeaf + 1, encodeAccount(account));
    }

    /// @dev Checks the markets (read only), cancels, places and counts: the root after,
    /// before the nonce is used.
    function placeAll(bytes32 preRoot, bytes calldata transaction, BulkPlacement memory p, Leaf[] memory leaves)
        internal
        pure
        returns (bytes32 root)
    {
        uint256 totalsLeaf = p.keys.length - 2;
        uint256 firstRecord = totalsLeaf - p.records;
        for (uint256 i = 0; i < firstRecord; i++) {
            checkUnchanged(preRoot, p.keys[i], leaves[i]);
        }
        root = preRoot;
        // Cancelled records first (each once), then each order's placement.
        for (uint256 leaf = firstRecord; leaf < totalsLeaf - p.orders; leaf++) {
            root = write(root, p.keys[leaf], leaves[leaf], leaf, cancelledRecord(leaves[leaf], leaf));
        }
        (bytes memory totals, uint64 seq) = clearingTotals(leaves[totalsLeaf], totalsLeaf);
        for (uint256 j = 0; j < p.orders; j++) {
            uint256 leaf = p.recordLeaf[j];
            uint256 at = p.bodies + ORDER_BODY_BYTES * j;
            // casting to 'uint64' is safe because j < 32
            // forge-lint: disable-next-line(unsafe-typecast)
            bytes memory record = placedRecord(leaves[leaf], seq + uint64(j), transaction[at:at + ORDER_BODY_BYTES]);
            root = write(root, p.keys[leaf], leaves[leaf], leaf, record);
        }
        // casting to 'uint64' is safe because at most 32 orders
        // forge-lint: disable-next-line(unsafe-typecast)
        totals = withPlacements(totals, seq + uint64(p.orders));
        root = write(root, p.keys[totalsLeaf], leaves[totalsLeaf], totalsLeaf, totals);
    }

    /// @dev The bulk placement in `transaction`, if it decodes and its signature recovers,
    /// with the keys of the leaves it reads.
    function bulkPlacementOf(bytes calldata transaction) internal view returns (bool decodes, BulkPlacement memory p) {
        if (transaction.length < 2) return (false, p);
        p.cancels = uint8(transaction[1]);
        uint256 at = 2 + 32 * p.cancels;
        if (p.cancels > BULK_ORDERS_CANCELS_MAX || transaction.length < at + 1) return (false, p);
        p.orders = uint8(transaction[at]);
        p.bodies = at + 1;
        uint256 end = p.bodies + ORDER_BODY_BYTES * p.orders;
        if (p.orders > BULK_ORDERS_MAX || transaction.length != end + 81) return (false, p);
        p.nonce = uint64(bytes8(transaction[end:end + 8]));
        p.expiryMs = uint64(bytes8(transaction[end + 8:end + 16]));
        bytes32[] memory structs = new bytes32[](p.orders);
        p.orderHashes = new bytes32[](p.orders);
        for (uint256 j = 0; j < p.orders; j++) {
            bytes calldata body = transaction[p.bodies + ORDER_BODY_BYTES * j:p.bodies + ORDER_BODY_BYTES * (j + 1)];
            // Booleans other than 0 and 1 do not decode.
            if (uint8(body[4]) > 1 || uint8(body[22]) > 1) return (false, p);
            structs[j] = orderStructHash(body);
            p.orderHashes[j] = digest(structs[j]);
        }
        bytes32 structHash = keccak256(
            abi.encode(
                BULK_ORDERS_TYPEHASH,
                keccak256(transaction[2:2 + 32 * p.cancels]),
                keccak256(abi.encodePacked(structs)),
                p.nonce,
                p.expiryMs
            )
        );
        p.owner = recoverStrict(digest(structHash), transaction[end + 16:end + 81]);
        if (p.owner == address(0)) return (false, p);
        bulkPlacementKeys(transaction, p);
        return (true, p);
    }

    /// @dev The keys a bulk placement reads (see `placeOrders`), and per order the index
    /// of its market's and its record's leaf.
    function bulkPlacementKeys(bytes calldata transaction, BulkPlacement memory p) internal pure {
        uint256 most = p.orders + p.cancels + p.orders + 2;
        bytes[] memory keys = new bytes[](most);
        bytes32[] memory seen = new bytes32[](most);
        uint256 count;
        p.marketLeaf = new uint256[](p.orders);
        p.recordLeaf = new uint256[](p.orders);
        for (uint256 j = 0; j < p.orders; j++) {
            uint256 at = p.bodies + ORDER_BODY_BYTES * j;
            (count, p.marketLeaf[j]) =
                addOnce(keys, seen, count, abi.encodePacked(uint8(0x05), bytes4(transaction[at:at + 4])));
        }
        uint256 firstRecord = count;
        for (uint256 i = 0; i < p.cancels; i++) {
            bytes32 hash = bytes32(transaction[2 + 32 * i:34 + 32 * i]);
            (count,) = addOnce(keys, seen, count, orderKey(p.owner, hash));
        }
        p.ordersFirstRecord = count;
        for (uint256 j = 0; j < p.orders; j++) {
            (count, p.recordLeaf[j]) = addOnce(keys, seen, count, orderKey(p.owner, p.orderHashes[j]));
        }
        p.records = count - firstRecord;
        keys[count++] = abi.encodePacked(uint8(0x08));
        keys[count++] = accountKey(p.owner);
        p.keys = new bytes[](count);
        for (uint256 i = 0; i < count; i++) {
            p.keys[i] = keys[i];
        }
    }

    /// @dev Appends `key` to `keys[..count]` unless there already; its index either way.
    function addOnce(bytes[] memory keys, bytes32[] memory seen, uint256 count, bytes memory key)
        internal
        pure
        returns (uint256, uint256 index)
    {
        bytes32 hash = keccak256(key);
        for (uint256 i = 0; i < count; i++) {
            if (seen[i] == hash) return (count, i);
        }
        keys[count] = key;
        seen[count] = hash;
        return (count + 1, count);
    }

    /// @dev Whether every order of the bulk placement may rest: named once, not also
    /// cancelled, and placeable (as a single placement) on its record and market.
    function bulkPlaceable(bytes calldata transaction, BulkPlacement memory p, uint64 timestampMs, Leaf[] memory leaves)
        internal
        pure
        returns (bool)
    {
        // An order named twice, or also cancelled, shares its record leaf with an earlier
        // name: the record leaf of order j must be its own, after the cancels'.
        for (uint256 j = 0; j < p.orders; j++) {
            if (p.recordLeaf[j] != p.ordersFirstRecord + j) return false;
            uint256 at = p.bodies + ORDER_BODY_BYTES * j;
            uint256 market = p.marketLeaf[j];
            uint256 record = p.recordLeaf[j];
            bytes calldata body = transaction[at:at + ORDER_BODY_BYTES];
            if (!placeable(body, timestampMs, leaves[market], market, leaves[record], record)) return false;
        }
        return true;
    }

    /// @dev The clearing totals with the placement count set to `count`.
    function withPlacements(bytes memory totals, uint64 count) internal pure returns (bytes memory) {
        bytes8 next = bytes8(count);
        for (uint256 i = 0; i < 8; i++) {
            totals[48 + i] = next[i];
        }
        return totals;
    }

    /// @dev The EIP-712 struct hash of a canonical order body.
    function orderStructHash(bytes calldata body) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                L2Domain.ORDER_TYPEHASH,
                uint32(bytes4(body[0:4])),
                uint8(body[4]),
                uint64(bytes8(body[5:13])),
                uint64(bytes8(body[13:21])),
                uint8(body[21]),
                uint8(body[22]),
                uint64(bytes8(body[23:31])),
                uint64(bytes8(body[31:39])),
                uint64(bytes8(body[39:47]))
            )
        );
    }

    /// @dev Whether the order may rest: time in force, expiry, its record (leaf
    /// `recordLeaf`), its market (leaf `marketLeaf`).
    function placeable(
        bytes calldata body,
        uint64 timestampMs,
        Leaf memory marketLeaf,
        uint256 marketIndex,
        Leaf memory recordLeaf,
        uint256 recordIndex
    ) internal pure returns (bool) {
        uint64 size = uint64(bytes8(body[13:21]));
        if ((body[21] != 0 && uint8(body[21]) != 3) || timestampMs > uint64(bytes8(body[23:31]))) return false;
        if (recordLeaf.present) {
            bytes memory record = recordLeaf.value;
            if (record.length < 10) revert BadLeafValue(recordIndex);
            if (uint8(record[8]) != 0 || PortfolioRisk.readUint(record, 0, 8) >= size || uint8(record[9]) != 0) {
                return false;
            }
        }
        if (!marketLeaf.present) return false;
        bytes memory market = marketLeaf.value;
        // id u32 ‖ underlying u32 ‖ kind u8 ‖ strike u64 ‖ expiry u64 ‖ tick u64 ‖ lot u64 ‖
        // makerFeePpm u32 ‖ takerFeePpm u32 ‖ status u8 ‖ …
        if (market.length < 50) revert BadLeafValue(marketIndex);
        uint64 price = uint64(bytes8(body[5:13]));
        uint256 tick = PortfolioRisk.readUint(market, 25, 8);
        uint256 lot = PortfolioRisk.readUint(market, 33, 8);
        if (uint8(market[49]) != 0) return false;
        return size != 0 && lot != 0 && size % lot == 0 && price != 0 && tick != 0 && price % tick == 0;
    }

    /// @dev The record with the placement: `filled u64 ‖ cancelled u8 (0) ‖ placed u8 (1) ‖
    /// seq u64 ‖ body`, the filled size kept.
    function placedRecord(Leaf memory leaf, uint64 seq, bytes calldata body) internal pure returns (bytes memory) {
        uint64 filled = leaf.present ? uint64(PortfolioRisk.readUint(leaf.value, 0, 8)) : 0;
        return abi.encodePacked(filled, uint8(0), uint8(1), seq, body);
    }

    /// @dev The clearing totals leaf (`0x08`; absent is all zero) and its placement count.
    function clearingTotals(Leaf memory leaf, uint256 index) internal pure returns (bytes memory totals, uint64 count) {
        if (!leaf.present) return (new bytes(CLEARING_TOTALS_BYTES), 0);
        totals = bytes.concat(leaf.value);
        if (totals.length != CLEARING_TOTALS_BYTES) revert BadLeafValue(index);
        count = uint64(PortfolioRisk.readUint(totals, 48, 8));
    }

    // ---------------------------------------------------------------- forced transactions

    /// @dev kind ‖ index u64 ‖ sender ‖ length u32 ‖ payload. The inclusion counts (the
    /// queue leaf, 0x09: count u64 ‖ accumulator, absent before the first) when `index`
    /// is the next; the payload then executes if it is a transfer or withdrawal that
    /// decodes and whose signature recovers, and changes nothing if it does not decode or
    /// is of a kind that may not be forced. Leaves: the queue, then the payload's.
    function forced(
        bytes32 preRoot,
        uint64 blockNumber,
        uint64 timestampMs,
        bytes calldata transaction,
        Leaf[] memory leaves
    ) internal view returns (bytes32) {
        if (transaction.length < FORCED_HEADER_BYTES) return preRoot;
        uint256 length = uint32(bytes4(transaction[29:33]));
        if (length > FORCED_PAYLOAD_MAX || transaction.length != FORCED_HEADER_BYTES + length) return preRoot;
        if (leaves.length == 0) revert WrongLeafCount(0, 1);
        (bool next, bytes32 root) = include(preRoot, transaction, leaves[0]);
        // Not the next index: refused whole.
        if (!next) return root;
        bytes calldata payload = transaction[FORCED_HEADER_BYTES:];
        Leaf[] memory rest = new Leaf[](leaves.length - 1);
        for (uint256 i = 0; i < rest.length; i++) {
            rest[i] = leaves[i + 1];
        }
        (bool covered, bytes32 executed) = userSigned(root, blockNumber, timestampMs, payload, rest);
        if (covered) return executed;
        uint8 kind = payload.length == 0 ? 0 : uint8(payload[0]);
        if (kind == 5 && decodesAsAction(payload)) {
            // A forceable kind whose rule the prover does not have yet.
            revert UnsupportedKind(kind);
        }
        // Does not decode, or may not be forced: only the inclusion counts.
        requireCount(rest, 0);
        return root;
    }

    /// @dev Counts the forced transaction in the queue if its index is the next: whether
    /// it was, and the root after (unchanged, with the queue leaf checked, if not).
    function include(bytes32 preRoot, bytes calldata transaction, Leaf memory queueLeaf)
        internal
        view
        returns (bool next, bytes32 root)
    {
        uint64 index = uint64(bytes8(transaction[1:9]));
        address sender = address(bytes20(transaction[9:29]));
        (uint64 count, bytes32 accumulator) = queueOf(queueLeaf);
        bytes32 forcedHash = PortalRecords.forcedHash(index, sender, keccak256(transaction[FORCED_HEADER_BYTES:]));
        // Not the next index, or not what the Portal recorded (derivation never produces
        // such a transaction): refused whole.
        if (index != count || portal.forcedHashes(index) != forcedHash) {
            Leaf[] memory queue = new Leaf[](1);
            queue[0] = queueLeaf;
            return (false, unchanged(preRoot, queue, single(hex"09")));
        }
        bytes memory queued = abi.encodePacked(count + 1, keccak256(abi.encodePacked(accumulator, forcedHash)));
        return (true, write(preRoot, hex"09", queueLeaf, 0, queued));
    }

    /// @dev Whether `payload` decodes as a signed action (kinds 1–5): 118 bytes, v in
    /// {0, 1, 27, 28}, a zero address for the margin kinds (4, 5).
    function decodesAsAction(bytes calldata payload) internal pure returns (bool) {
        if (payload.length != ACTION_BYTES) return false;
        uint8 v = uint8(payload[117]);
        if (v != 0 && v != 1 && v != 27 && v != 28) return false;
        uint8 kind = uint8(payload[0]);
        return kind < 4 || address(bytes20(payload[1:21])) == address(0);
    }

    /// @dev The queue leaf: `count u64 ‖ accumulator`; absent is zero.
    function queueOf(Leaf memory leaf) internal pure returns (uint64 count, bytes32 accumulator) {
        if (!leaf.present) return (0, bytes32(0));
        bytes memory value = leaf.value;
        if (value.length != 40) revert BadLeafValue(0);
        count = uint64(PortfolioRisk.readUint(value, 0, 8));
        accumulator = bytes32(PortfolioRisk.readUint(value, 8, 32));
    }

    function single(bytes memory key) internal pure returns (bytes[] memory keys) {
        keys = new bytes[](1);
        keys[0] = key;
    }

    // ---------------------------------------------------------------- deposits

    /// @dev kind ‖ index u64 ‖ from ‖ recipient ‖ amount u128.
    struct Deposit {
        uint64 index;
        address from;
        address recipient;
        uint128 amount;
    }

    function deposit(bytes32 preRoot, bytes calldata transaction, Leaf[] memory leaves)
        internal
        view
        returns (bytes32)
    {
        if (transaction.length != DEPOSIT_BYTES) return preRoot;
        Deposit memory d = Deposit({
            index: uint64(bytes8(transaction[1:9])),
            from: address(bytes20(transaction[9:29])),
            recipient: address(bytes20(transaction[29:49])),
            amount: uint128(bytes16(transaction[49:65]))
        });
        requireCount(leaves, 2);
        Account memory account = accountOf(leaves[0], 0);
        Totals memory totals = totalsOf(leaves[1], 1);
        uint256 deposited = uint256(totals.deposited) + d.amount;
        uint256 balance = uint256(account.collateral) + d.amount;
        // A deposit the Portal did not record is not L1's: derivation never produces one,
        // so a block that carries it changes nothing by it.
        if (
            d.index != totals.depositCount || d.amount == 0 || deposited > type(uint128).max
                || uint256(totals.genesisSupply) + totals.minted + deposited > COLLATERAL_SUPPLY_MAX
                || balance > type(uint128).max || portal.depositHashes(d.index) != hashOf(d)
        ) {
            return unchanged(preRoot, leaves, keysOfDeposit(d.recipient));
        }
        // Checked against type(uint128).max above.
        // forge-lint: disable-next-line(unsafe-typecast)
        account.collateral = uint128(balance);
        // Checked against type(uint128).max above.
        // forge-lint: disable-next-line(unsafe-typecast)
        totals.deposited = uint128(deposited);
        totals.depositCount += 1;
        totals.depositAccumulator = keccak256(abi.encodePacked(totals.depositAccumulator, hashOf(d)));
        bytes32 root = write(preRoot, accountKey(d.recipient), leaves[0], 0, encodeAccount(account));
        return write(root, hex"03", leaves[1], 1, encodeTotals(totals));
    }

    /// @dev The Portal's hash of a deposit.
    function hashOf(Deposit memory d) internal pure returns (bytes32) {
        return PortalRecords.depositHash(d.index, d.from, d.recipient, d.amount);
    }

    function keysOfDeposit(address recipient) internal pure returns (bytes[] memory keys) {
        keys = new bytes[](2);
        keys[0] = accountKey(recipient);
        keys[1] = hex"03";
    }

    // ---------------------------------------------------------------- actions

    /// @dev Transfer and withdrawal share their layout: kind ‖ address ‖ amount u128 ‖
    /// nonce u64 ‖ expiryMs u64 ‖ r ‖ s ‖ v.
    struct Action {
        uint8 kind;
        address target;
        uint128 amount;
        uint64 nonce;
        uint64 expiryMs;
    }

    function action(
        bytes32 preRoot,
        uint64 blockNumber,
        uint64 timestampMs,
        bytes calldata transaction,
        Leaf[] memory leaves
    ) internal view returns (bytes32) {
        (Action memory a, address sender) = signedAction(transaction);
        // Bytes that do not decode, or a signature that does not parse or recover:
        // refused before any leaf is read.
        if (sender == address(0)) return preRoot;
        if (a.kind == KIND_TRANSFER) return transfer(preRoot, timestampMs, a, sender, leaves);
        if (a.kind == KIND_DEPOSIT_MARGIN) return depositMargin(preRoot, timestampMs, a, sender, leaves);
        if (a.kind == KIND_MINT) return mint(preRoot, timestampMs, a, sender, leaves);
        return withdraw(preRoot, blockNumber, timestampMs, a, sender, leaves);
    }

    /// @dev A signed action's fields and signer; the signer is zero when the bytes do not
    /// decode (118 bytes; a margin action carries a zero address) or the signature does
    /// not recover.
    function signedAction(bytes calldata transaction) internal view returns (Action memory a, address sender) {
        if (transaction.length != ACTION_BYTES) return (a, address(0));
        a = Action({
            kind: uint8(transaction[0]),
            target: address(bytes20(transaction[1:21])),
            amount: uint128(bytes16(transaction[21:37])),
            nonce: uint64(bytes8(transaction[37:45])),
            expiryMs: uint64(bytes8(transaction[45:53]))
        });
        if (a.kind >= KIND_DEPOSIT_MARGIN && a.target != address(0)) return (a, address(0));
        sender = recoverStrict(digestOf(a), transaction[53:118]);
    }

    /// @dev The devnet faucet: only the genesis operator mints, and only with the faucet
    /// on (`faucetOperator` zero otherwise); anyone else is refused before a leaf is read.
    /// Leaves: the operator's account (its nonce), the recipient's unless it is the
    /// operator, totals (minted, within the supply cap).
    function mint(bytes32 preRoot, uint64 timestampMs, Action memory a, address sender, Leaf[] memory leaves)
        internal
        view
        returns (bytes32)
    {
        if (sender != faucetOperator) return preRoot;
        bool toSelf = a.target == sender;
        requireCount(leaves, toSelf ? 2 : 3);
        bytes[] memory keys = new bytes[](leaves.length);
        uint256 last = leaves.length - 1;
        keys[0] = accountKey(sender);
        if (!toSelf) keys[1] = accountKey(a.target);
        keys[last] = hex"03";
        Account memory account = accountOf(leaves[0], 0);
        Account memory recipient = toSelf ? account : accountOf(leaves[1], 1);
        Totals memory totals = totalsOf(leaves[last], last);
        (bool ok, uint256 slot) = nonceSlot(account.nonces, a.nonce);
        if (!ok || timestampMs > a.expiryMs || !creditMint(a.amount, recipient, totals)) {
            return unchanged(preRoot, leaves, keys);
        }
        account.nonces = insertNonce(account.nonces, slot, a.nonce);
        bytes32 root = write(preRoot, keys[0], leaves[0], 0, encodeAccount(account));
        if (!toSelf) root = write(root, keys[1], leaves[1], 1, encodeAccount(recipient));
        return write(root, keys[last], leaves[last], last, encodeTotals(totals));
    }

    function transfer(bytes32 preRoot, uint64 timestampMs, Action memory a, address sender, Leaf[] memory leaves)
        internal
        pure
        returns (bytes32)
    {
        bool toSelf = a.target == sender;
        requireCount(leaves, toSelf ? 1 : 2);
        bytes[] memory keys = new bytes[](leaves.length);
        keys[0] = accountKey(sender);
        if (!toSelf) keys[1] = accountKey(a.target);
        Account memory account = accountOf(leaves[0], 0);
        (bool ok, uint256 slot) = nonceSlot(account.nonces, a.nonce);
        if (!ok || timestampMs > a.expiryMs || a.amount == 0 || account.collateral < a.amount) {
            return unchanged(preRoot, leaves, keys);
        }
        uint128 debited = account.collateral - a.amount;
        account.nonces = insertNonce(account.nonces, slot, a.nonce);
        if (toSelf) {
            // Debited and credited again: only the nonce changes.
            return write(preRoot, keys[0], leaves[0], 0, encodeAccount(account));
        }
        Account memory recipient = accountOf(leaves[1], 1);
        uint256 credited = uint256(recipient.collateral) + a.amount;
        if (credited > type(uint128).max) return unchanged(preRoot, leaves, keys);
        account.collateral = debited;
        // Checked against type(uint128).max above.
        // forge-lint: disable-next-line(unsafe-typecast)
        recipient.collateral = uint128(credited);
        bytes32 root = write(preRoot, keys[0], leaves[0], 0, encodeAccount(account));
        return write(root, keys[1], leaves[1], 1, encodeAccount(recipient));
    }

    function withdraw(
        bytes32 preRoot,
        uint64 blockNumber,
        uint64 timestampMs,
        Action memory a,
        address sender,
        Leaf[] memory leaves
    ) internal pure returns (bytes32) {
        requireCount(leaves, 3);
        Account memory account = accountOf(leaves[0], 0);
        Totals memory totals = totalsOf(leaves[2], 2);
        bytes[] memory keys = new bytes[](3);
        keys[0] = accountKey(sender);
        keys[1] = withdrawalKey(totals.withdrawalCount);
        keys[2] = hex"03";
        (bool ok, uint256 slot) = nonceSlot(account.nonces, a.nonce);
        uint256 withdrawn = uint256(totals.withdrawn) + a.amount;
        if (
            !ok || timestampMs > a.expiryMs || a.amount == 0 || account.collateral < a.amount
                || withdrawn > type(uint128).max
        ) {
            return unchanged(preRoot, leaves, keys);
        }
        account.collateral -= a.amount;
        account.nonces = insertNonce(account.nonces, slot, a.nonce);
        // Checked against type(uint128).max above.
        // forge-lint: disable-next-line(unsafe-typecast)
        totals.withdrawn = uint128(withdrawn);
        totals.withdrawalCount += 1;
        bytes memory request = abi.encodePacked(sender, a.target, a.amount, blockNumber);
        bytes32 root = write(preRoot, keys[0], leaves[0], 0, encodeAccount(account));
        root = write(root, keys[1], leaves[1], 1, request);
        return write(root, keys[2], leaves[2], 2, encodeTotals(totals));
    }

    /// @dev Moves `amount` of the sender's collateral into its margin account: the account
    /// (its nonce, collateral) and the portfolio (`0x04 ‖ sender`: `cash i128 ‖ count u8 ‖
    /// positions`, created with no positions when absent), whose cash must still fit 128
    /// signed bits.
    function depositMargin(bytes32 preRoot, uint64 timestampMs, Action memory a, address sender, Leaf[] memory leaves)
        internal
        pure
        returns (bytes32)
    {
        requireCount(leaves, 2);
        bytes[] memory keys = new bytes[](2);
        keys[0] = accountKey(sender);
        keys[1] = abi.encodePacked(uint8(0x04), sender);
        Account memory account = accountOf(leaves[0], 0);
        (bool ok, uint256 slot) = nonceSlot(account.nonces, a.nonce);
        (bool fits, bytes memory portfolio) = creditedPortfolio(leaves[1], a.amount);
        if (!ok || timestampMs > a.expiryMs || a.amount == 0 || account.collateral < a.amount || !fits) {
            return unchanged(preRoot, leaves, keys);
        }
        account.collateral -= a.amount;
        account.nonces = insertNonce(account.nonces, slot, a.nonce);
        bytes32 root = write(preRoot, keys[0], leaves[0], 0, encodeAccount(account));
        return write(root, keys[1], leaves[1], 1, portfolio);
    }

    /// @dev The portfolio with `amount` more cash, if the cash still fits in 128 signed
    /// bits. (Cash never returns to zero here with no positions: a portfolio without
    /// positions holds positive cash or is absent.)
    function creditedPortfolio(Leaf memory leaf, uint128 amount) internal pure returns (bool fits, bytes memory value) {
        int256 cash;
        if (leaf.present) {
            value = bytes.concat(leaf.value);
            if (value.length < 17) revert BadLeafValue(1);
            // casting to 'int128' reads the two's complement the leaf stores
            // forge-lint: disable-next-line(unsafe-typecast)
            cash = int128(uint128(PortfolioRisk.readUint(value, 0, 16)));
        } else {
            value = new bytes(17);
        }
        int256 credited = cash + int256(uint256(amount));
        if (credited > type(int128).max) return (false, value);
        // casting to 'uint128' writes the two's complement of a value that fits (checked above)
        // forge-lint: disable-next-line(unsafe-typecast)
        bytes16 stored = bytes16(uint128(int128(credited)));
        for (uint256 i = 0; i < 16; i++) {
            value[i] = stored[i];
        }
        return (true, value);
    }

    /// @dev Adds a minted `amount` to `recipient` and to `totals` (both in memory) if it is
    /// positive and fits: the collateral in 128 bits and the supply under its cap.
    function creditMint(uint128 amount, Account memory recipient, Totals memory totals) internal pure returns (bool) {
        uint256 minted = uint256(totals.minted) + amount;
        uint256 balance = uint256(recipient.collateral) + amount;
        if (
            amount == 0 || minted > type(uint128).max || balance > type(uint128).max
                || uint256(totals.genesisSupply) + minted + totals.deposited > COLLATERAL_SUPPLY_MAX
        ) return false;
        // Both checked against type(uint128).max above.
        // forge-lint: disable-next-line(unsafe-typecast)
        recipient.collateral = uint128(balance);
        // forge-lint: disable-next-line(unsafe-typecast)
        totals.minted = uint128(minted);
        return true;
    }

    function digestOf(Action memory a) internal view returns (bytes32) {
        if (a.kind >= KIND_DEPOSIT_MARGIN) {
            bytes32 marginTypeHash = a.kind == KIND_DEPOSIT_MARGIN ? DEPOSIT_MARGIN_TYPEHASH : WITHDRAW_MARGIN_TYPEHASH;
            return digest(keccak256(abi.encode(marginTypeHash, a.amount, a.nonce, a.expiryMs)));
        }
        bytes32 typeHash =
            a.kind == KIND_TRANSFER ? TRANSFER_TYPEHASH : a.kind == KIND_MINT ? MINT_TYPEHASH : WITHDRAW_TYPEHASH;
        return digest(keccak256(abi.encode(typeHash, a.target, a.amount, a.nonce, a.expiryMs)));
    }

    /// @dev The EIP-712 digest of `structHash` in the L2's domain.
    function digest(bytes32 structHash) internal view returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", domainSeparator, structHash));
    }

    /// @dev The signer of the digest `signed`, or zero when the Rust STF would refuse the signature:
    /// v outside {0, 1, 27, 28}, r or s zero or not below the curve order, high s, or
    /// no recovery.
    function recoverStrict(bytes32 signed, bytes calldata signature) internal pure returns (address) {
        uint256 r = uint256(bytes32(signature[0:32]));
        uint256 s = uint256(bytes32(signature[32:64]));
        uint8 v = uint8(signature[64]);
        if (v < 27) v += 27;
        if (v != 27 && v != 28) return address(0);
        if (r == 0 || s == 0 || r >= CURVE_ORDER || s > HALF_CURVE_ORDER) return address(0);
        return ecrecover(signed, v, bytes32(r), bytes32(s));
    }

    /// @dev Where `nonce` goes in the ascending window; not ok when it was used or is
    /// below a full window.
    function nonceSlot(uint64[] memory window, uint64 nonce) internal pure returns (bool ok, uint256 slot) {
        while (slot < window.length && window[slot] < nonce) slot++;
        if (slot < window.length && window[slot] == nonce) return (false, slot);
        if (slot == 0 && window.length >= NONCE_WINDOW_LEN) return (false, slot);
        return (true, slot);
    }

    /// @dev The window with `nonce` inserted at `slot`, its lowest dropped past the limit.
    function insertNonce(uint64[] memory window, uint256 slot, uint64 nonce) internal pure returns (uint64[] memory) {
        uint64[] memory grown = new uint64[](window.length + 1);
        for (uint256 i = 0; i < grown.length; i++) {
            grown[i] = i < slot ? window[i] : i == slot ? nonce : window[i - 1];
        }
        if (grown.length <= NONCE_WINDOW_LEN) return grown;
        uint64[] memory kept = new uint64[](NONCE_WINDOW_LEN);
        for (uint256 i = 0; i < NONCE_WINDOW_LEN; i++) {
            kept[i] = grown[i + 1];
        }
        return kept;
    }

    // ---------------------------------------------------------------- leaves

    /// @dev Parses the packed witness: `count u16 ‖ leaf × count`, a leaf being `flags u8
    /// (1: present, 2: the proof ends in a leaf, 4: the last sibling's preimage follows)
    /// ‖ valueLength u16 ‖ value ‖ (terminal keyHash ‖ valueHash, when flag 2) ‖
    /// (preimage isLeaf u8 ‖ a ‖ b, when flag 4) ‖ siblingCount u16 ‖ sibling ×
    /// siblingCount`.
    /// (Read straight from calldata: ABI-decoding nested arrays cost more than the proofs.)
    function leavesOf(bytes calldata witness) internal pure returns (Leaf[] memory leaves) {
        if (witness.length == 0) return new Leaf[](0);
        if (witness.length < 2) revert BadWitness(0);
        leaves = new Leaf[](uint16(bytes2(witness[0:2])));
        uint256 at = 2;
        for (uint256 i = 0; i < leaves.length; i++) {
            Leaf memory leaf = leaves[i];
            if (at + 3 > witness.length) revert BadWitness(at);
            uint8 flags = uint8(witness[at]);
            uint256 valueLength = uint16(bytes2(witness[at + 1:at + 3]));
            at += 3;
            uint256 terminalBytes = flags & 2 == 2 ? 64 : 0;
            uint256 siblingBytes = flags & 4 == 4 ? 65 : 0;
            if (flags > 7 || at + valueLength + terminalBytes + siblingBytes + 2 > witness.length) {
                revert BadWitness(at);
            }
            leaf.present = flags & 1 == 1;
            leaf.value = witness[at:at + valueLength];
            at += valueLength;
            if (terminalBytes != 0) {
                leaf.terminal =
                    StateProof.Terminal(true, bytes32(witness[at:at + 32]), bytes32(witness[at + 32:at + 64]));
                at += 64;
            }
            if (siblingBytes != 0) {
                leaf.sibling = StateProof.Preimage(
                    uint8(witness[at]) == 1, bytes32(witness[at + 1:at + 33]), bytes32(witness[at + 33:at + 65])
                );
                at += 65;
            }
            uint256 count = uint16(bytes2(witness[at:at + 2]));
            at += 2;
            uint256 end = at + 32 * count;
            if (count > StateProof.SIBLINGS_MAX || end > witness.length) revert BadWitness(at);
            bytes32[] memory siblings = new bytes32[](count);
            assembly ("memory-safe") {
                calldatacopy(add(siblings, 32), add(witness.offset, at), mul(count, 32))
            }
            leaf.siblings = siblings;
            at = end;
        }
        if (at != witness.length) revert BadWitness(at);
    }

    /// @dev Where an underlying's leaf keeps its recent values and its active markets:
    /// `index u64 ‖ timestamp u64 ‖ smileCount u8 ‖ smile (20 bytes) × smileCount ‖
    /// recentCount u8 ‖ (timestamp u64 ‖ index u64) × recentCount ‖ activeCount u32 ‖
    /// marketId u32 × activeCount` (ids ascending); reverts on any other layout.
    function oracleLayout(bytes memory value)
        internal
        pure
        returns (uint256 recentAt, uint256 recent, uint256 activeAt, uint256 active)
    {
        if (value.length < 17) revert BadLeafValue(0);
        uint256 smiles = uint8(value[16]);
        recentAt = 17 + 20 * smiles;
        if (smiles > 16 || value.length < recentAt + 1) revert BadLeafValue(0);
        recent = uint8(value[recentAt]);
        recentAt += 1;
        activeAt = recentAt + 16 * recent;
        if (recent > 8 || value.length < activeAt + 4) revert BadLeafValue(0);
        active = PortfolioRisk.readUint(value, activeAt, 4);
        if (active > MARKETS_PER_UNDERLYING_MAX || value.length != activeAt + 4 + 4 * active) revert BadLeafValue(0);
    }

    /// @dev How many active markets the underlying has.
    function activeMarkets(bytes memory value) internal pure returns (uint256 active) {
        (,,, active) = oracleLayout(value);
    }

    /// @dev A copy of the underlying's leaf with market `id` added to its active markets
    /// (`listed`, in ascending place) or removed from them (it must be one).
    function withMarket(bytes memory value, uint256 id, bool listed) internal pure returns (bytes memory out) {
        (,, uint256 countAt, uint256 count) = oracleLayout(value);
        uint256 first = countAt + 4;
        uint256 k = 0;
        while (k < count && PortfolioRisk.readUint(value, first + 4 * k, 4) < id) k++;
        uint256 cut = first + 4 * k;
        if (listed) {
            out = new bytes(value.length + 4);
            copy(out, 0, value, 0, cut);
            // A market id is a u32.
            // forge-lint: disable-next-line(unsafe-typecast)
            bytes4 inserted = bytes4(uint32(id));
            for (uint256 b = 0; b < 4; b++) {
                out[cut + b] = inserted[b];
            }
            copy(out, cut + 4, value, cut, value.length - cut);
            count += 1;
        } else {
            if (k == count || PortfolioRisk.readUint(value, cut, 4) != id) revert BadLeafValue(0);
            out = new bytes(value.length - 4);
            copy(out, 0, value, 0, cut);
            copy(out, cut, value, cut + 4, value.length - cut - 4);
            count -= 1;
        }
        // At most 1 025 here.
        // forge-lint: disable-next-line(unsafe-typecast)
        bytes4 stored = bytes4(uint32(count));
        for (uint256 b = 0; b < 4; b++) {
            out[countAt + b] = stored[b];
        }
    }

    /// @dev Copies `length` bytes of `from` at `fromAt` into `to` at `toAt`.
    function copy(bytes memory to, uint256 toAt, bytes memory from, uint256 fromAt, uint256 length) internal pure {
        assembly ("memory-safe") {
            mcopy(add(add(to, 32), toAt), add(add(from, 32), fromAt), length)
        }
    }

    function requireCount(Leaf[] memory leaves, uint256 needed) internal pure {
        if (leaves.length != needed) revert WrongLeafCount(leaves.length, needed);
    }

    /// @dev Writes `value` under `key` given the leaf's proof against `root`; the claimed
    /// current value must be the proof's.
    function write(bytes32 root, bytes memory key, Leaf memory leaf, uint256 index, bytes memory value)
        internal
        pure
        returns (bytes32)
    {
        bytes32 keyHash = checked(key, leaf, index);
        return StateProof.update(root, keyHash, false, keccak256(value), leaf.siblings, leaf.terminal, leaf.sibling);
    }

    /// @dev Removes the leaf under `key` given its proof against `root` (and, when it is
    /// present, its last sibling's preimage); the claimed current value must be the proof's.
    function remove(bytes32 root, bytes memory key, Leaf memory leaf, uint256 index) internal pure returns (bytes32) {
        bytes32 keyHash = checked(key, leaf, index);
        return StateProof.update(root, keyHash, true, bytes32(0), leaf.siblings, leaf.terminal, leaf.sibling);
    }

    /// @dev A refused transaction: every leaf read is proven against `root`, which stays.
    function unchanged(bytes32 root, Leaf[] memory leaves, bytes[] memory keys) internal pure returns (bytes32) {
        for (uint256 i = 0; i < leaves.length; i++) {
            StateProof.verify(root, checked(keys[i], leaves[i], i), leaves[i].siblings, leaves[i].terminal);
        }
        return root;
    }

    /// @dev The key's hash, after checking the leaf's claim (present with `value`, or
    /// absent) agrees with its proof's terminal.
    function checked(bytes memory key, Leaf memory leaf, uint256 index) internal pure returns (bytes32 keyHash) {
        keyHash = keccak256(key);
        StateProof.Terminal memory terminal = leaf.terminal;
        bool terminalIsKey = terminal.isLeaf && terminal.keyHash == keyHash;
        if (leaf.present) {
            if (!terminalIsKey || terminal.valueHash != keccak256(leaf.value)) revert LeafMismatch(index);
        } else if (terminalIsKey || leaf.value.length != 0) {
            revert LeafMismatch(index);
        }
    }

    function accountKey(address account) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(0x01), account);
    }

    function withdrawalKey(uint64 index) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(0x02), index);
    }

    /// @dev `collateral u128 ‖ count u8 ‖ nonce u64 × count`; absent is empty.
    function accountOf(Leaf memory leaf, uint256 index) internal pure returns (Account memory account) {
        if (!leaf.present) return account;
        bytes memory value = leaf.value;
        if (value.length < 17) revert BadLeafValue(index);
        uint256 count = uint8(value[16]);
        if (count > NONCE_WINDOW_LEN || value.length != 17 + 8 * count) revert BadLeafValue(index);
        account.collateral = uint128(PortfolioRisk.readUint(value, 0, 16));
        account.nonces = new uint64[](count);
        for (uint256 i = 0; i < count; i++) {
            account.nonces[i] = uint64(PortfolioRisk.readUint(value, 17 + 8 * i, 8));
        }
    }

    function encodeAccount(Account memory account) internal pure returns (bytes memory value) {
        value = abi.encodePacked(account.collateral, uint8(account.nonces.length));
        for (uint256 i = 0; i < account.nonces.length; i++) {
            value = bytes.concat(value, bytes8(account.nonces[i]));
        }
    }

    /// @dev `genesisSupply u128 ‖ minted u128 ‖ withdrawn u128 ‖ withdrawalCount u64 ‖
    /// deposited u128 ‖ depositCount u64 ‖ depositAccumulator`; absent is all zero.
    function totalsOf(Leaf memory leaf, uint256 index) internal pure returns (Totals memory totals) {
        if (!leaf.present) return totals;
        bytes memory value = leaf.value;
        if (value.length != 112) revert BadLeafValue(index);
        totals.genesisSupply = uint128(PortfolioRisk.readUint(value, 0, 16));
        totals.minted = uint128(PortfolioRisk.readUint(value, 16, 16));
        totals.withdrawn = uint128(PortfolioRisk.readUint(value, 32, 16));
        totals.withdrawalCount = uint64(PortfolioRisk.readUint(value, 48, 8));
        totals.deposited = uint128(PortfolioRisk.readUint(value, 56, 16));
        totals.depositCount = uint64(PortfolioRisk.readUint(value, 72, 8));
        totals.depositAccumulator = bytes32(PortfolioRisk.readUint(value, 80, 32));
    }

    function encodeTotals(Totals memory t) internal pure returns (bytes memory) {
        return abi.encodePacked(
            t.genesisSupply, t.minted, t.withdrawn, t.withdrawalCount, t.deposited, t.depositCount, t.depositAccumulator
        );
    }
}
