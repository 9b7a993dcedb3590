// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title L2Block
/// @notice Straddle's L2 block header and its transactions commitment, as
/// crates/primitives/src/block.rs defines them. A header is 116 bytes, big-endian, in
/// this order: number u64, parentHash, timestampMs u64, stateRoot, transactionsRoot,
/// transactionCount u32; its hash is keccak256 of those bytes. The transactions root is
/// a binary Merkle tree of depth ceil(log2(count)) over keccak256 of each transaction's
/// canonical bytes; a node is keccak256(left ‖ right) and a missing right child is zero.
library L2Block {
    /// @notice A decoded header.
    struct Header {
        uint64 number;
        bytes32 parentHash;
        uint64 timestampMs;
        bytes32 stateRoot;
        bytes32 transactionsRoot;
        uint32 transactionCount;
    }

    /// @notice Bytes of an encoded header.
    uint256 internal constant HEADER_BYTES = 116;

    /// @notice The header is not 116 bytes.
    error BadHeaderLength(uint256 length);

    /// @notice Decodes `encoded` and returns it with its hash.
    function decode(bytes calldata encoded) internal pure returns (Header memory header, bytes32 hash) {
        if (encoded.length != HEADER_BYTES) revert BadHeaderLength(encoded.length);
        header = Header({
            number: uint64(bytes8(encoded[0:8])),
            parentHash: bytes32(encoded[8:40]),
            timestampMs: uint64(bytes8(encoded[40:48])),
            stateRoot: bytes32(encoded[48:80]),
            transactionsRoot: bytes32(encoded[80:112]),
            transactionCount: uint32(bytes4(encoded[112:116]))
        });
        hash = keccak256(encoded);
    }

    /// @notice Whether `siblings` (bottom up) prove that the transaction with canonical
    /// bytes `transaction` is number `index` of a block with `count` transactions and
    /// transactions root `root`.
    function provesTransaction(
        bytes32 root,
        uint256 count,
        uint256 index,
        bytes calldata transaction,
        bytes32[] calldata siblings
    ) internal pure returns (bool) {
        if (index >= count || siblings.length != depth(count)) return false;
        bytes32 hash = keccak256(transaction);
        uint256 position = index;
        for (uint256 i = 0; i < siblings.length; i++) {
            hash = position % 2 == 0
                ? keccak256(abi.encodePacked(hash, siblings[i]))
                : keccak256(abi.encodePacked(siblings[i], hash));
            position /= 2;
        }
        return hash == root;
    }

    /// @notice ceil(log2(count)): siblings in a proof of one of `count` transactions.
    function depth(uint256 count) internal pure returns (uint256 levels) {
        uint256 width = 1;
        while (width < count) {
            width <<= 1;
            levels++;
        }
    }
}
