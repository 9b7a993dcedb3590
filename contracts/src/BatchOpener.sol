// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

// Length (over 800 lines): the calldata and the blob openings share the batch layout walk
// and every describe/open entry point the dispute game binds to; one contract keeps them
// on one reading of the format (docs/spec/batches.md).

import {BatchInbox} from "./BatchInbox.sol";
import {L2Domain} from "./L2Domain.sol";
import {IPortalRecords, PortalRecords} from "./PortalRecords.sol";
import {CanonicalForm} from "./CanonicalForm.sol";

/// @title BatchOpener
/// @notice Proves what one transaction of a posted batch is: it opens the bytes of batch
/// `index` that the transaction needs (calldata: the whole posting, against the inbox's
/// keccak commitment; blobs: only the field elements that hold them, each with the KZG
/// point-evaluation precompile against the versioned hash the inbox stored), decodes the
/// transaction from the compact batch format (docs/spec/batches.md §1–4) exactly as
/// `straddle_batch::decode_transaction` does, and returns its canonical bytes
/// (docs/spec/transactions.md) with its block. This is how a dispute learns which
/// transactions L1 defines for a block (docs/spec/disputes.md §5).
/// @dev Reads only the header, the block list, the index entries of the transaction,
/// the address-table entries and order literals it refers to, and its own bytes as far
/// as decoding goes; a reference must name an order literal. A slot whose item does not
/// decode alone (batches.md §4.1: an empty or reversed slot, an unknown kind, a malformed
/// or out-of-slot read, a reference to no literal, an address outside the table, a list
/// past its canonical bound, carried bytes that are not a canonical transaction of a kind
/// without a compact form, a deposit or forced record the Portal did not make before the
/// batch) is the undecodable item `0xFE`, as in `straddle_batch`. A fault of the caller
/// (an element not opened or not proven, another deposit record than the Portal's)
/// reverts instead.
contract BatchOpener {
    /// @notice What the batch says of one transaction.
    struct Opened {
        /// @notice Its block.
        uint64 blockNumber;
        /// @notice That block's time, unix ms.
        uint64 timestampMs;
        /// @notice Its position in the block.
        uint32 position;
        /// @notice How many transactions the block has.
        uint32 blockTransactions;
        /// @notice The batch's first and last blocks.
        uint64 firstBlock;
        uint64 lastBlock;
        /// @notice The hash of the block before the batch's first.
        bytes32 parentHash;
        /// @notice The transaction's canonical bytes.
        bytes transaction;
    }

    /// @notice What a batch's header and block list say of one block.
    struct BlockView {
        /// @notice Whether the batch carries the block at all (if not, the fields
        /// below other than the batch's range and parent are zero).
        bool carried;
        /// @notice The batch's first and last blocks.
        uint64 firstBlock;
        uint64 lastBlock;
        /// @notice The hash of the block before the batch's first.
        bytes32 parentHash;
        /// @notice The block's time, unix ms.
        uint64 timestampMs;
        /// @notice How many transactions the block has.
        uint32 transactionCount;
        /// @notice The time of the batch's first block, unix ms.
        uint64 firstTimestampMs;
        /// @notice Whether no block of the batch is earlier than the one before it.
        bool ordered;
    }

    /// @notice An order as the batch carries it (the EIP-712 `Order`).
    struct Order {
        uint32 market;
        bool isBuy;
        uint64 limitPrice;
        uint64 size;
        uint8 timeInForce;
        bool reduceOnly;
        uint64 expiryMs;
        uint64 clientOrderId;
        uint64 nonce;
    }

    /// @dev The opened bytes of a batch and a position in them. Dense: `data` is the whole
    /// batch. Sparse (blobs): `data` holds the 31 payload bytes of each opened field
    /// element, `pieces` their element numbers (ascending), and byte `p` of the batch is
    /// byte `(p + 4) mod 31` of element `(p + 4) / 31` (the stream starts with a 4-byte
    /// length).
    struct Reader {
        bytes data;
        uint256[] pieces;
        bool sparse;
        uint256 length;
        uint256 at;
        uint256 section;
        uint256 addressStart;
        uint256 addressCount;
        uint64 baseMs;
        bytes depositRecord;
        /// @dev The L1 block the batch was posted in.
        uint64 postedAt;
        /// @dev The element read last and its slot (reads are mostly sequential).
        uint256 lastElement;
        uint256 lastSlot;
        /// @dev Reads of an item's own bytes stop here (its slot's end).
        uint256 limit;
    }

    /// @notice The batch was posted the other way (calldata versus blobs).
    error WrongPosting(uint256 index);
    /// @notice The calldata given is not what the inbox committed to.
    error CommitmentMismatch(uint256 index);
    /// @notice The blob openings do not parse (at this byte).
    error BadOpening(uint256 at);
    /// @notice The point-evaluation precompile refused the opening of this field element.
    error ElementNotProven(uint256 element);
    /// @notice Byte `at` of the batch is needed but was not opened.
    error NotOpened(uint256 at);
    /// @notice The batch ends before byte `at`.
    error Truncated(uint256 at);
    /// @notice The batch's format version is not 1.
    error UnknownVersion(uint8 version);
    /// @notice The batch is malformed at byte `at`.
    error Invalid(string reason, uint256 at);
    /// @notice A transaction kind the format does not know.
    error UnknownKind(uint8 kind, uint256 at);
    /// @notice The batch has no transaction `position` in block `blockNumber`.
    error NoSuchTransaction(uint64 blockNumber, uint256 position);
    /// @notice The Portal has no deposit `index` (an undecodable item, not an error of
    /// the call: `openCalldata` / `openBlobs` return 0xFE for it).
    error UnknownDeposit(uint64 index);
    /// @notice The deposit record given is not the Portal's record `index`.
    error WrongDepositRecord(uint64 index);
    /// @notice The forced transaction carried is not the Portal's record `index`.
    error UnknownForced(uint64 index);
    /// @notice The Portal recorded deposit or forced transaction `index` in the batch's L1
    /// block or later: a batch carries only records made before it.
    error RecordNotBeforeBatch(uint64 index, uint64 recordedAt, uint64 postedAt);

    /// @notice The batch format version read.
    uint8 public constant BATCH_VERSION = 1;
    uint256 internal constant BATCH_BYTES_MAX = (1 << 24) - 1;
    uint256 internal constant ADDRESSES_MAX = 1 << 16;
    /// @notice Most bytes of the structure head (header, block list, address count):
    /// bounds every `describe*`/`open*` walk, whatever the batch (crates/batch).
    uint256 internal constant STRUCTURE_HEAD_BYTES_MAX = 512;
    uint256 internal constant LENGTH_BYTES = 4;
    uint256 internal constant PAYLOAD_BYTES = 31;
    uint256 internal constant ELEMENTS_PER_BLOB = 4096;
    /// @dev One opening: element u32 ‖ value 32 ‖ commitment 48 ‖ proof 48.
    uint256 internal constant OPENING_BYTES = 132;
    /// @notice The BLS12-381 scalar field modulus.
    uint256 internal constant BLS_MODULUS = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001;
    /// @notice The primitive 4096th root of unity of EIP-4844 (7^((r − 1) / 4096) mod r):
    /// field element `i` of a blob is its polynomial's value at ω^bitreverse₁₂(i).
    uint256 internal constant ROOT_OF_UNITY = 0x564c0a11a0f704f4fc3e8acfe0f8245f0ad1347b378fbf96e206da11a5d36306;
    address internal constant POINT_EVALUATION = address(0x0a);
    address internal constant MODEXP = address(0x05);

    uint8 internal constant KIND_MATCH = 0x11;
    uint8 internal constant KIND_CANCEL = 0x12;
    uint8 internal constant KIND_BULK_CANCEL = 0x15;
    uint8 internal constant KIND_PLACE_ORDERS = 0x16;
    uint8 internal constant KIND_MATCH_PLACED = 0x17;
    uint8 internal constant KIND_PLACE_ORDER = 0x1A;
    uint8 internal constant KIND_RETIRE_ORDER = 0x1B;
    uint8 internal constant KIND_DEPOSIT = 0x1C;
    uint8 internal constant KIND_FORCED = 0x1D;
    /// @dev A forced transaction's canonical header: kind ‖ index u64 ‖ sender ‖ length u32.
    uint256 internal constant FORCED_HEADER_BYTES = 33;
    uint8 internal constant KIND_CANONICAL = 0xFF;
    /// @dev The undecodable item (batches.md §4.1).
    uint8 internal constant KIND_UNDECODABLE = 0xFE;

    /// @notice The inbox whose batches this opens.
    BatchInbox public immutable inbox;
    /// @notice The Portal whose records the deposits a batch names must match.
    IPortalRecords public immutable portal;
    /// @notice EIP-712 domain separator of the L2 (order hashes a batch refers to).
    bytes32 public immutable domainSeparator;

    /// @param inbox_ The chain's batch inbox.
    /// @param portal_ The chain's Portal.
    /// @param chainId The L2 chain id of the signing domain.
    /// @param verifyingContract The signing domain's verifying contract.
    constructor(BatchInbox inbox_, IPortalRecords portal_, uint64 chainId, address verifyingContract) {
        inbox = inbox_;
        portal = portal_;
        domainSeparator = L2Domain.separator(chainId, verifyingContract);
    }

    /// @notice The leaf (keccak256 of the canonical bytes, kind 0x1D) of the Portal's
    /// forced record `index`, which must be `sender`'s `payload` (else `UnknownForced`):
    /// the transaction derivation's block for that record holds.
    function forcedLeaf(uint64 index, address sender, bytes calldata payload) external view returns (bytes32) {
        bytes32 recorded = portal.forcedHashes(index);
        if (recorded == bytes32(0) || recorded != PortalRecords.forcedHash(index, sender, keccak256(payload))) {
            revert UnknownForced(index);
        }
        return keccak256(abi.encodePacked(uint8(0x1D), index, sender, uint32(payload.length), payload));
    }

    /// @notice The time of derivation's block for the Portal's forced record `record`
    /// after a block at `parentTimestampMs`: the record's L1 time (ms) or, if later, the
    /// parent's; 0 if there is no such record (docs/spec/settlement.md §7).
    function forcedBlockTime(uint64 record, uint64 parentTimestampMs) external view returns (uint64) {
        uint64 recordedMs = portal.forcedTimes(record) * 1000;
        if (recordedMs == 0) return 0;
        return recordedMs > parentTimestampMs ? recordedMs : parentTimestampMs;
    }

    /// @notice Transaction `position` of block `blockNumber` in calldata batch `index`.
    /// @param batch The posting's calldata (the batch bytes).
    /// @param depositRecord For a deposit: `from ‖ recipient ‖ amount u128` of the Portal's
    /// record (a batch carries only the index); empty otherwise.
    function openCalldata(
        uint256 index,
        uint64 blockNumber,
        uint256 position,
        bytes calldata batch,
        bytes calldata depositRecord
    ) external view returns (Opened memory) {
        Reader memory r = calldataReader(index, batch);
        r.depositRecord = depositRecord;
        return open(r, blockNumber, position);
    }

    /// @notice Transaction `position` of block `blockNumber` in blob batch `index`.
    /// @param openings The field elements read, ascending: `count u16 ‖ (element u32 ‖
    /// value 32 ‖ KZG commitment 48 ‖ KZG proof 48) × count`, `element` counted across the
    /// batch's blobs (4 096 per blob). Element 0 (the length) is always needed. A value's
    /// last 31 bytes are the payload; its first byte is read by no one (the batcher
    /// leaves it zero), so what an element says does not depend on whether it is opened.
    /// @param depositRecord As for `openCalldata`.
    function openBlobs(
        uint256 index,
        uint64 blockNumber,
        uint256 position,
        bytes calldata openings,
        bytes calldata depositRecord
    ) external view returns (Opened memory) {
        Reader memory r = blobReader(index, openings);
        r.depositRecord = depositRecord;
        return open(r, blockNumber, position);
    }

    /// @notice What calldata batch `index` says of block `blockNumber` (its header and
    /// block list only).
    function describeCalldata(uint256 index, uint64 blockNumber, bytes calldata batch)
        external
        view
        returns (BlockView memory v)
    {
        (v,,) = blockOf(calldataReader(index, batch), blockNumber);
    }

    /// @notice What blob batch `index` says of block `blockNumber`; `openings` as for
    /// `openBlobs`, covering the header and block list.
    function describeBlobs(uint256 index, uint64 blockNumber, bytes calldata openings)
        external
        view
        returns (BlockView memory v)
    {
        (v,,) = blockOf(blobReader(index, openings), blockNumber);
    }

    /// @dev A reader of calldata batch `index`, whose bytes must be `batch`.
    function calldataReader(uint256 index, bytes calldata batch) internal view returns (Reader memory r) {
        BatchInbox.Batch memory posted = inbox.getBatch(index);
        if (posted.kind != BatchInbox.Kind.Calldata) revert WrongPosting(index);
        if (keccak256(batch) != posted.commitment) revert CommitmentMismatch(index);
        r.data = batch;
        r.length = batch.length;
        r.limit = batch.length;
        r.postedAt = posted.l1BlockNumber;
    }

    /// @dev A reader of the field elements `openings` opens of blob batch `index`.
    function blobReader(uint256 index, bytes calldata openings) internal view returns (Reader memory r) {
        BatchInbox.Batch memory posted = inbox.getBatch(index);
        if (posted.kind != BatchInbox.Kind.Blobs) revert WrongPosting(index);
        r = proveElements(inbox.getBlobHashes(index), openings);
        r.limit = r.length;
        r.postedAt = posted.l1BlockNumber;
    }

    /// @dev Checks every opening with the point-evaluation precompile and gathers the payloads.
    function proveElements(bytes32[] memory blobHashes, bytes calldata openings)
        internal
        view
        returns (Reader memory r)
    {
        if (openings.length < 2) revert BadOpening(0);
        uint256 count = uint16(bytes2(openings[0:2]));
        if (openings.length != 2 + count * OPENING_BYTES || count == 0) revert BadOpening(0);
        r.sparse = true;
        r.lastElement = type(uint256).max;
        r.pieces = new uint256[](count);
        // One spare byte: each payload is stored with a 32-byte write.
        r.data = new bytes(count * PAYLOAD_BYTES + 1);
        uint256 capacity = blobHashes.length * ELEMENTS_PER_BLOB;
        for (uint256 i = 0; i < count; i++) {
            uint256 at = 2 + i * OPENING_BYTES;
            uint256 element = uint32(bytes4(openings[at:at + 4]));
            if (element >= capacity || (i > 0 && element <= r.pieces[i - 1])) revert BadOpening(at);
            bytes32 value =
                provenValue(blobHashes[element / ELEMENTS_PER_BLOB], element, openings[at + 4:at + OPENING_BYTES]);
            r.pieces[i] = element;
            bytes31 payload = bytes31(value << 8);
            bytes memory data = r.data;
            assembly ("memory-safe") {
                mstore(add(add(data, 32), mul(i, 31)), payload)
            }
        }
        // The 4-byte length heads element 0.
        if (r.pieces[0] != 0) revert NotOpened(0);
        r.length = uint32(bytes4(payloadWord(r, 0)));
        if (r.length == 0 || r.length + LENGTH_BYTES > capacity * PAYLOAD_BYTES) revert Invalid("length", 0);
    }

    /// @dev The value of field element `element` of the blob with versioned hash
    /// `blobHash`, proven by `opening` (value 32 ‖ commitment 48 ‖ proof 48) through the
    /// point-evaluation precompile.
    function provenValue(bytes32 blobHash, uint256 element, bytes calldata opening)
        internal
        view
        returns (bytes32 value)
    {
        value = bytes32(opening[0:32]);
        uint256 z = evaluationPoint(element % ELEMENTS_PER_BLOB);
        (bool ok, bytes memory out) = POINT_EVALUATION.staticcall(abi.encodePacked(blobHash, z, opening));
        if (!ok || out.length != 64) revert ElementNotProven(element);
    }

    /// @dev ω^bitreverse₁₂(i) mod r, through the modexp precompile.
    function evaluationPoint(uint256 i) internal view returns (uint256 z) {
        uint256 reversed;
        for (uint256 bit = 0; bit < 12; bit++) {
            reversed = (reversed << 1) | ((i >> bit) & 1);
        }
        (bool ok, bytes memory out) = MODEXP.staticcall(
            abi.encodePacked(uint256(32), uint256(32), uint256(32), ROOT_OF_UNITY, reversed, BLS_MODULUS)
        );
        if (!ok) revert ElementNotProven(i);
        z = abi.decode(out, (uint256));
    }

    /// @dev The 32 bytes of the sparse data starting at piece slot `slot`'s first byte.
    function payloadWord(Reader memory r, uint256 slot) internal pure returns (bytes32 word) {
        bytes memory data = r.data;
        assembly ("memory-safe") {
            word := mload(add(add(data, 32), mul(slot, 31)))
        }
    }

    /// @dev Decodes the header and block list, locates the transaction and decodes it.
    function open(Reader memory r, uint64 blockNumber, uint256 position) internal view returns (Opened memory o) {
        (BlockView memory v, uint256 before, uint256 total) = blockOf(r, blockNumber);
        if (!v.carried || position >= v.transactionCount) revert NoSuchTransaction(blockNumber, position);
        o.blockNumber = blockNumber;
        o.timestampMs = v.timestampMs;
        // casting to 'uint32' is safe because position < transactionCount
        // forge-lint: disable-next-line(unsafe-typecast)
        o.position = uint32(position);
        o.blockTransactions = v.transactionCount;
        o.firstBlock = v.firstBlock;
        o.lastBlock = v.lastBlock;
        o.parentHash = v.parentHash;
        o.transaction = located(r, r.addressStart + 20 * r.addressCount, before + position, total);
    }

    /// @dev Reads the header and the whole block list (leaving the position after it):
    /// what the batch says of block `blockNumber`, the transactions before it and in all.
    function blockOf(Reader memory r, uint64 blockNumber)
        internal
        pure
        returns (BlockView memory v, uint256 before, uint256 total)
    {
        if (r.length > BATCH_BYTES_MAX) revert Invalid("batch larger than 16 MiB", 0);
        // Nothing of the structure head is read past its bound: a head that runs past it
        // is malformed (Truncated) whatever follows, so its first bytes always decide.
        uint256 limit = r.limit;
        if (limit > STRUCTURE_HEAD_BYTES_MAX) r.limit = STRUCTURE_HEAD_BYTES_MAX;
        uint8 version = uint8(byteAt(r, 0));
        if (version != BATCH_VERSION) revert UnknownVersion(version);
        v.firstBlock = uint64(fixedAt(r, 1, 8));
        v.parentHash = bytes32(fixedAt(r, 9, 32));
        uint64 firstTime = uint64(fixedAt(r, 41, 8));
        v.firstTimestampMs = firstTime;
        v.ordered = true;
        r.baseMs = firstTime;
        r.at = 49;
        uint256 blockCount = varint(r);
        if (blockCount == 0 || blockCount > r.length) revert Invalid("block count", 49);
        if (uint256(v.firstBlock) + blockCount > type(uint64).max) revert Invalid("block numbers overflow", 1);
        // casting to 'uint64' is safe because the sum fits (checked above)
        // forge-lint: disable-next-line(unsafe-typecast)
        v.lastBlock = uint64(v.firstBlock + blockCount - 1);
        v.carried = blockNumber >= v.firstBlock && blockNumber <= v.lastBlock;
        uint256 wanted = v.carried ? blockNumber - v.firstBlock : type(uint256).max;
        uint64 previous = firstTime;
        for (uint256 i = 0; i < blockCount; i++) {
            uint256 start = r.at;
            uint64 timestamp = delta(r, previous);
            if (i == 0 && timestamp != firstTime) revert Invalid("first block time", start);
            if (timestamp < previous) v.ordered = false;
            previous = timestamp;
            uint256 count = varint(r);
            if (i == wanted) {
                v.timestampMs = timestamp;
                before = total;
                if (count > type(uint32).max) revert Invalid("transaction count", start);
                // casting to 'uint32' is safe because count fits (checked above)
                // forge-lint: disable-next-line(unsafe-typecast)
                v.transactionCount = uint32(count);
            }
            total += count;
            if (total > r.length) revert Invalid("transaction count", start);
        }
        // The address table and the index must fit: the rest of the structure.
        r.addressCount = varint(r);
        r.limit = limit;
        if (r.addressCount > ADDRESSES_MAX) revert Invalid("address count", r.at);
        r.addressStart = r.at;
        r.section = r.addressStart + 20 * r.addressCount + 3 * total;
        if (r.section > r.length) revert Truncated(r.length);
    }

    /// @dev Transaction `i` of `total`: the item in its slot (from its index entry to the
    /// next one's, or the section's end), or 0xFE if that does not decode alone.
    function located(Reader memory r, uint256 indexStart, uint256 i, uint256 total)
        internal
        view
        returns (bytes memory)
    {
        uint256 sectionLength = r.length - r.section;
        uint256 offset = fixedAt(r, indexStart + 3 * i, 3);
        uint256 end = i + 1 < total ? fixedAt(r, indexStart + 3 * (i + 1), 3) : sectionLength;
        if (end <= offset || end > sectionLength) return abi.encodePacked(KIND_UNDECODABLE);
        r.at = r.section + offset;
        r.limit = r.section + end;
        try this.decodeItem(r) returns (bytes memory transaction) {
            return transaction;
        } catch (bytes memory reason) {
            if (callerFault(reason)) {
                assembly ("memory-safe") {
                    revert(add(reason, 32), mload(reason))
                }
            }
            return abi.encodePacked(KIND_UNDECODABLE);
        }
    }

    /// @notice Decodes the item of `r` from `r.at`, reading its own bytes no further than
    /// `r.limit`, which it must end at; reverts at any fault. External only so that
    /// `located` can tell an item's fault from the caller's (a self-call).
    function decodeItem(Reader memory r) external view returns (bytes memory transaction) {
        transaction = decodeTransaction(r);
        if (r.at != r.limit) revert Invalid("transaction length mismatch", r.at);
        if (!CanonicalForm.isCanonical(transaction)) revert Invalid("no canonical form", r.at);
    }

    /// @dev Whether a revert of `decodeItem` is the caller's fault (or out of gas, or a
    /// bug) rather than the item's.
    function callerFault(bytes memory reason) internal pure returns (bool) {
        if (reason.length < 4) return true;
        // casting to 'bytes4' is safe because it takes the selector, the first 4 bytes
        // forge-lint: disable-next-line(unsafe-typecast)
        bytes4 selector = bytes4(reason);
        return selector == NotOpened.selector || selector == ElementNotProven.selector
            || selector == BadOpening.selector || selector == WrongDepositRecord.selector
            || selector == bytes4(keccak256("Panic(uint256)"));
    }

    // ----- transactions (batches.md §3) -----

    function decodeTransaction(Reader memory r) internal view returns (bytes memory) {
        uint256 start = r.at;
        uint8 kind = uint8(next(r));
        if (kind >= 1 && kind <= 5) return action(r, kind);
        if (kind == KIND_MATCH || kind == KIND_MATCH_PLACED) return matchOf(r, kind);
        if (kind == KIND_PLACE_ORDER) return abi.encodePacked(kind, signedOrder(r));
        if (kind == KIND_PLACE_ORDERS) return placeOrders(r);
        if (kind == KIND_CANCEL) {
            bytes32 cancelled = hashItem(r);
            return abi.encodePacked(kind, cancelled, nonceAndExpiry(r), signature(r));
        }
        if (kind == KIND_BULK_CANCEL) {
            (uint256 n, bytes memory hashes) = hashList(r);
            // casting to 'uint8' is safe because a count is one byte
            // forge-lint: disable-next-line(unsafe-typecast)
            return abi.encodePacked(kind, uint8(n), hashes, nonceAndExpiry(r), signature(r));
        }
        if (kind == KIND_RETIRE_ORDER) {
            address owner = addressItem(r);
            return abi.encodePacked(kind, owner, hashItem(r));
        }
        if (kind == KIND_DEPOSIT) return depositOf(r);
        if (kind == KIND_CANONICAL) {
            uint256 length = varint(r);
            if (length > CanonicalForm.TRANSACTION_BYTES_MAX) revert Invalid("canonical bytes too long", r.at);
            bytes memory canonical = bytesAt(r, length);
            if (!CanonicalForm.isCanonical(canonical) || CanonicalForm.isCompactable(canonical)) {
                revert Invalid("not a canonical transaction without a compact form", start);
            }
            if (uint8(canonical[0]) == KIND_FORCED) checkForced(r, canonical);
            return canonical;
        }
        revert UnknownKind(kind, start);
    }

    /// @dev Kinds 1–5: `to address` (1–3 only) ‖ amount ‖ nonce ‖ expiry ‖ signature.
    function action(Reader memory r, uint8 kind) internal pure returns (bytes memory) {
        address to = kind <= 3 ? addressItem(r) : address(0);
        uint128 amount = uint128(small(r, type(uint128).max));
        return abi.encodePacked(kind, to, amount, nonceAndExpiry(r), signature(r));
    }

    /// @dev `nonce u64 ‖ expiryMs u64` of a signed request.
    function nonceAndExpiry(Reader memory r) internal pure returns (bytes memory) {
        uint64 nonce = uint64(small(r, type(uint64).max));
        return abi.encodePacked(nonce, delta(r, r.baseMs));
    }

    /// @dev Match (taker ‖ makers with fill sizes) and match against placed makers
    /// (maker body ‖ owner ‖ fill size).
    function matchOf(Reader memory r, uint8 kind) internal pure returns (bytes memory out) {
        out = abi.encodePacked(kind, signedOrder(r));
        uint256 n = next(r);
        // casting to 'uint8' is safe because a count is one byte
        // forge-lint: disable-next-line(unsafe-typecast)
        out = abi.encodePacked(out, uint8(n));
        for (uint256 i = 0; i < n; i++) {
            bytes memory maker;
            if (kind == KIND_MATCH) {
                maker = signedOrder(r);
            } else {
                (Order memory order,) = orderItem(r, false);
                maker = abi.encodePacked(body(order), addressItem(r));
            }
            uint64 fill = uint64(small(r, type(uint64).max));
            out = abi.encodePacked(out, maker, fill);
        }
    }

    /// @dev Bulk placement: cancelled hashes ‖ order bodies ‖ nonce ‖ expiry ‖ signature.
    function placeOrders(Reader memory r) internal view returns (bytes memory) {
        (uint256 c, bytes memory cancels) = hashList(r);
        uint256 n = next(r);
        bytes memory bodies;
        for (uint256 i = 0; i < n; i++) {
            (Order memory order,) = orderItem(r, false);
            bodies = abi.encodePacked(bodies, body(order));
        }
        // casting to 'uint8' is safe because counts are one byte
        // forge-lint: disable-next-line(unsafe-typecast)
        return abi.encodePacked(KIND_PLACE_ORDERS, uint8(c), cancels, uint8(n), bodies, nonceAndExpiry(r), signature(r));
    }

    /// @dev A deposit carries its Portal index; the rest is the Portal's record.
    function depositOf(Reader memory r) internal view returns (bytes memory) {
        uint64 index = uint64(small(r, type(uint64).max));
        bytes32 recorded = portal.depositHashes(index);
        if (recorded == bytes32(0)) revert UnknownDeposit(index);
        recordedBefore(r, index, portal.depositBlocks(index));
        bytes memory record = r.depositRecord;
        if (record.length != 56) revert WrongDepositRecord(index);
        address from;
        address recipient;
        uint128 amount;
        assembly ("memory-safe") {
            from := shr(96, mload(add(record, 32)))
            recipient := shr(96, mload(add(record, 52)))
            amount := shr(128, mload(add(record, 72)))
        }
        if (recorded != PortalRecords.depositHash(index, from, recipient, amount)) revert WrongDepositRecord(index);
        return abi.encodePacked(KIND_DEPOSIT, index, from, recipient, amount);
    }

    /// @dev A forced transaction a batch carries must be the Portal's record, made before
    /// the batch (as derivation takes it).
    function checkForced(Reader memory r, bytes memory canonical) internal view {
        if (canonical.length < FORCED_HEADER_BYTES) revert Invalid("forced transaction", r.at);
        uint64 index;
        address sender;
        uint256 length;
        bytes32 payloadHash;
        assembly ("memory-safe") {
            let head := add(canonical, 33)
            index := shr(192, mload(head))
            sender := shr(96, mload(add(head, 8)))
            length := shr(224, mload(add(head, 28)))
            payloadHash := keccak256(add(head, 32), sub(mload(canonical), 33))
        }
        if (length != canonical.length - FORCED_HEADER_BYTES) revert Invalid("forced transaction", r.at);
        bytes32 recorded = portal.forcedHashes(index);
        if (recorded == bytes32(0) || recorded != PortalRecords.forcedHash(index, sender, payloadHash)) {
            revert UnknownForced(index);
        }
        recordedBefore(r, index, portal.forcedBlocks(index));
    }

    /// @dev Reverts unless a Portal record of L1 block `recordedAt` precedes the batch.
    function recordedBefore(Reader memory r, uint64 index, uint64 recordedAt) internal pure {
        if (recordedAt >= r.postedAt) revert RecordNotBeforeBatch(index, recordedAt, r.postedAt);
    }

    // ----- items (batches.md §2) -----

    /// @dev `n u8 ‖ hash item × n` as the 32-byte hashes back to back.
    function hashList(Reader memory r) internal view returns (uint256 n, bytes memory hashes) {
        n = next(r);
        for (uint256 i = 0; i < n; i++) {
            hashes = abi.encodePacked(hashes, hashItem(r));
        }
    }

    /// @dev An order item that must carry a signature: the canonical `body ‖ signature`.
    function signedOrder(Reader memory r) internal pure returns (bytes memory) {
        (Order memory order, bytes memory sig) = orderItem(r, true);
        return abi.encodePacked(body(order), sig);
    }

    /// @dev An order item: a literal (tag 0 body, tag 1 body and signature) or a reference
    /// `k ≥ 2` to the literal at section offset `k − 2`, strictly earlier.
    function orderItem(Reader memory r, bool signed) internal pure returns (Order memory order, bytes memory sig) {
        uint256 start = r.at;
        uint256 tag = varint(r);
        if (tag >= 2) {
            uint256 offset = tag - 2;
            if (r.section + offset >= start) revert Invalid("order reference points forward", start);
            (order, sig) = literalAt(r, r.section + offset, start);
        } else {
            (order, sig) = literal(r, tag == 1);
        }
        if (signed && sig.length == 0) revert Invalid("order needs its signature", start);
    }

    /// @dev The order literal at `at` (an item with tag 0 or 1), reading position restored.
    function literalAt(Reader memory r, uint256 at, uint256 referrer)
        internal
        pure
        returns (Order memory order, bytes memory sig)
    {
        (uint256 resume, uint256 limit) = (r.at, r.limit);
        r.at = at;
        r.limit = r.length;
        uint256 tag = varint(r);
        if (tag >= 2) revert Invalid("order reference to no literal", referrer);
        (order, sig) = literal(r, tag == 1);
        (r.at, r.limit) = (resume, limit);
    }

    /// @dev An order body literal `market ‖ flags ‖ limitPrice ‖ size ‖ expiry ‖
    /// clientOrderId ‖ nonce`, then its signature when `signed`.
    function literal(Reader memory r, bool signed) internal pure returns (Order memory order, bytes memory sig) {
        order.market = uint32(small(r, type(uint32).max));
        uint256 flags = next(r);
        order.isBuy = flags & 1 == 1;
        order.reduceOnly = flags & 2 == 2;
        // casting to 'uint8' is safe because flags is one byte
        // forge-lint: disable-next-line(unsafe-typecast)
        order.timeInForce = uint8(flags >> 2);
        order.limitPrice = uint64(small(r, type(uint64).max));
        order.size = uint64(small(r, type(uint64).max));
        order.expiryMs = delta(r, r.baseMs);
        order.clientOrderId = uint64(small(r, type(uint64).max));
        order.nonce = uint64(small(r, type(uint64).max));
        if (signed) sig = signature(r);
    }

    /// @dev A hash item: tag 0 and 32 bytes, or `k ≥ 1`: the EIP-712 hash of the order
    /// literal at section offset `k − 1`.
    function hashItem(Reader memory r) internal view returns (bytes32) {
        uint256 start = r.at;
        uint256 tag = varint(r);
        if (tag == 0) return bytes32(bytesAt(r, 32));
        uint256 offset = tag - 1;
        if (r.section + offset >= start) revert Invalid("hash reference points forward", start);
        (Order memory order,) = literalAt(r, r.section + offset, start);
        return orderHash(order);
    }

    /// @dev An address item: an index into the batch's table.
    function addressItem(Reader memory r) internal pure returns (address) {
        uint256 start = r.at;
        uint256 index = varint(r);
        if (index >= r.addressCount) revert Invalid("address index out of the table", start);
        // casting to 'uint160' is safe because fixedAt reads 20 bytes
        // forge-lint: disable-next-line(unsafe-typecast)
        return address(uint160(fixedAt(r, r.addressStart + 20 * index, 20)));
    }

    /// @dev 64 bytes `r ‖ s'` (s' = s | yParity << 255) as the canonical `r ‖ s ‖ v`.
    function signature(Reader memory r) internal pure returns (bytes memory) {
        if (r.at + 64 > r.limit) revert Truncated(r.at);
        uint256 rValue = fixedAt(r, r.at, 32);
        uint256 folded = fixedAt(r, r.at + 32, 32);
        r.at += 64;
        // casting to 'uint8' is safe because the parity is one bit
        // forge-lint: disable-next-line(unsafe-typecast)
        return abi.encodePacked(rValue, folded & ((1 << 255) - 1), uint8(27 + (folded >> 255)));
    }

    /// @dev The canonical 47-byte order body.
    function body(Order memory o) internal pure returns (bytes memory) {
        return abi.encodePacked(
            o.market, o.isBuy, o.limitPrice, o.size, o.timeInForce, o.reduceOnly, o.expiryMs, o.clientOrderId, o.nonce
        );
    }

    /// @dev The order's EIP-712 digest in the L2's domain.
    function orderHash(Order memory o) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                L2Domain.ORDER_TYPEHASH,
                o.market,
                o.isBuy,
                o.limitPrice,
                o.size,
                o.timeInForce,
                o.reduceOnly,
                o.expiryMs,
                o.clientOrderId,
                o.nonce
            )
        );
        return keccak256(abi.encodePacked(hex"1901", domainSeparator, structHash));
    }

    // ----- integers (batches.md, varints and deltas) -----

    /// @dev A minimal unsigned LEB128 varint of at most 128 bits.
    function varint(Reader memory r) internal pure returns (uint256 value) {
        uint256 start = r.at;
        for (uint256 shift = 0; shift <= 126; shift += 7) {
            uint256 b = next(r);
            uint256 bits = b & 0x7f;
            if (shift == 126 && bits > 3) revert Invalid("varint above 128 bits", start);
            value |= bits << shift;
            if (b & 0x80 == 0) {
                if (b == 0 && shift > 0) revert Invalid("non-minimal varint", start);
                return value;
            }
        }
        revert Invalid("varint longer than 19 bytes", start);
    }

    /// @dev A varint no larger than `max`.
    function small(Reader memory r, uint256 max) internal pure returns (uint256 value) {
        uint256 start = r.at;
        value = varint(r);
        if (value > max) revert Invalid("varint too large", start);
    }

    /// @dev A zigzag varint delta from `base`; the result must be a u64.
    function delta(Reader memory r, uint64 base) internal pure returns (uint64) {
        uint256 start = r.at;
        uint256 zigzag = varint(r);
        // casting to 'int256' is safe because a varint has at most 128 bits
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 magnitude = int256(zigzag >> 1);
        int256 value = int256(uint256(base)) + (zigzag & 1 == 1 ? -magnitude - 1 : magnitude);
        if (value < 0 || value > int256(uint256(type(uint64).max))) revert Invalid("delta out of range", start);
        // casting to 'uint64' is safe because value is in range (checked above)
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64(uint256(value));
    }

    // ----- bytes -----

    /// @dev The byte at the position, advancing.
    function next(Reader memory r) internal pure returns (uint256 b) {
        if (r.at >= r.limit) revert Truncated(r.at);
        b = byteAt(r, r.at);
        r.at += 1;
    }

    /// @dev `len` bytes at the position, advancing.
    function bytesAt(Reader memory r, uint256 len) internal pure returns (bytes memory out) {
        if (r.at + len > r.limit) revert Truncated(r.at);
        out = new bytes(len);
        for (uint256 i = 0; i < len; i++) {
            out[i] = bytes1(uint8(byteAt(r, r.at + i)));
        }
        r.at += len;
    }

    /// @dev The big-endian integer of `len` (≤ 32) bytes at `at`.
    function fixedAt(Reader memory r, uint256 at, uint256 len) internal pure returns (uint256 value) {
        for (uint256 i = 0; i < len; i++) {
            value = (value << 8) | byteAt(r, at + i);
        }
    }

    /// @dev Byte `at` of the batch: from the calldata, or from the opened element holding it.
    function byteAt(Reader memory r, uint256 at) internal pure returns (uint256 b) {
        if (at >= r.length) revert Truncated(at);
        bytes memory data = r.data;
        uint256 index = at;
        if (r.sparse) {
            uint256 stream = at + LENGTH_BYTES;
            uint256 element = stream / PAYLOAD_BYTES;
            if (element != r.lastElement) {
                r.lastSlot = pieceSlot(r.pieces, element, at);
                r.lastElement = element;
            }
            index = r.lastSlot * PAYLOAD_BYTES + stream % PAYLOAD_BYTES;
        }
        assembly ("memory-safe") {
            b := byte(0, mload(add(add(data, 32), index)))
        }
    }

    /// @dev Where element `element` is among the opened ones (binary search).
    function pieceSlot(uint256[] memory pieces, uint256 element, uint256 at) internal pure returns (uint256) {
        uint256 low = 0;
        uint256 high = pieces.length;
        while (low < high) {
            uint256 mid = (low + high) / 2;
            uint256 value = pieces[mid];
            if (value == element) return mid;
            if (value < element) low = mid + 1;
            else high = mid;
        }
        revert NotOpened(at);
    }
}
