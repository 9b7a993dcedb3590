// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title BatchInbox
/// @notice Where the sequencer's batcher publishes L2 batches, as EIP-4844 blobs or as
/// calldata. The inbox keeps a commitment per batch and a hash chain over all of them, so
/// later proofs (the one-step prover of the fraud-proof milestone) can point at the exact
/// contents of a batch: for calldata the keccak256 of the bytes, for blobs the versioned
/// hashes of the blobs (which the KZG point-evaluation precompile can open).
/// @dev The inbox does not read batch contents; derivation decodes them and skips what
/// does not decode (docs/spec/batches.md).
contract BatchInbox {
    /// @notice How a batch was posted.
    enum Kind {
        Calldata,
        Blobs
    }

    /// @notice One posted batch.
    struct Batch {
        /// @notice keccak256 of the calldata, or of the blobs' versioned hashes packed.
        bytes32 commitment;
        /// @notice The L1 block it was posted in.
        uint64 l1BlockNumber;
        /// @notice Calldata or blobs.
        Kind kind;
        /// @notice Number of blobs (zero for calldata).
        uint8 blobCount;
    }

    /// @notice Most blobs one batch may carry (the Prague limit per L1 block).
    uint256 public constant BLOBS_PER_BATCH_MAX = 9;
    /// @notice Largest calldata batch, bytes.
    uint256 public constant CALLDATA_BATCH_BYTES_MAX = 120_000;

    /// @notice The only address allowed to post.
    address public immutable batcher;

    /// @notice Hash chain over every batch: keccak256(previous ‖ index ‖ kind ‖ commitment).
    bytes32 public accumulator;

    Batch[] private batches;
    mapping(uint256 => bytes32[]) private blobHashes;

    /// @notice Batch `index` was posted.
    event BatchPosted(uint256 indexed index, Kind kind, bytes32 commitment, uint8 blobCount, bytes32 accumulator);

    /// @notice The caller is not the batcher.
    error NotBatcher();
    /// @notice A zero address where one is required.
    error ZeroAddress();
    /// @notice The calldata batch is empty or too large.
    error CalldataSizeOutOfRange(uint256 size);
    /// @notice The blob count is zero or too large.
    error BlobCountOutOfRange(uint256 count);
    /// @notice The transaction carries fewer blobs than claimed.
    error MissingBlob(uint256 index);
    /// @notice No batch at this index.
    error UnknownBatch(uint256 index);

    /// @param batcher_ The address allowed to post.
    constructor(address batcher_) {
        if (batcher_ == address(0)) revert ZeroAddress();
        batcher = batcher_;
    }

    /// @notice Posts a batch carried in this call's `data`.
    /// @return index The batch's index.
    function postCalldata(bytes calldata data) external returns (uint256 index) {
        if (msg.sender != batcher) revert NotBatcher();
        if (data.length == 0 || data.length > CALLDATA_BATCH_BYTES_MAX) {
            revert CalldataSizeOutOfRange(data.length);
        }
        return record(Kind.Calldata, keccak256(data), 0);
    }

    /// @notice Posts a batch carried in the first `count` blobs of this transaction.
    /// @return index The batch's index.
    function postBlobs(uint256 count) external returns (uint256 index) {
        if (msg.sender != batcher) revert NotBatcher();
        if (count == 0 || count > BLOBS_PER_BATCH_MAX) revert BlobCountOutOfRange(count);
        bytes32[] memory hashes = new bytes32[](count);
        for (uint256 i = 0; i < count; i++) {
            bytes32 versioned = blobhash(i);
            if (versioned == bytes32(0)) revert MissingBlob(i);
            hashes[i] = versioned;
        }
        // casting to 'uint8' is safe because count <= BLOBS_PER_BATCH_MAX (checked above)
        // forge-lint: disable-next-line(unsafe-typecast)
        index = record(Kind.Blobs, keccak256(abi.encodePacked(hashes)), uint8(count));
        bytes32[] storage stored = blobHashes[index];
        for (uint256 i = 0; i < count; i++) {
            stored.push(hashes[i]);
        }
    }

    /// @notice Batch `index`; reverts when there is none.
    function getBatch(uint256 index) external view returns (Batch memory) {
        if (index >= batches.length) revert UnknownBatch(index);
        return batches[index];
    }

    /// @notice The versioned hashes of blob batch `index` (empty for calldata).
    function getBlobHashes(uint256 index) external view returns (bytes32[] memory) {
        if (index >= batches.length) revert UnknownBatch(index);
        return blobHashes[index];
    }

    /// @notice Batches posted so far.
    function batchCount() external view returns (uint256) {
        return batches.length;
    }

    function record(Kind kind, bytes32 commitment, uint8 blobCount) private returns (uint256 index) {
        index = batches.length;
        batches.push(
            Batch({commitment: commitment, l1BlockNumber: uint64(block.number), kind: kind, blobCount: blobCount})
        );
        bytes32 chained = keccak256(abi.encodePacked(accumulator, index, uint8(kind), commitment));
        accumulator = chained;
        emit BatchPosted(index, kind, commitment, blobCount, chained);
    }
}
