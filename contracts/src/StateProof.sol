// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title StateProof
/// @notice Inclusion proofs against a Straddle state root: the compact sparse Merkle tree
/// of crates/state (docs/spec/state.md). A key's path is the bits of keccak256(key), most
/// significant first; a leaf hashes as keccak256(0x00 ‖ keyHash ‖ keccak256(value)); an
/// internal node as keccak256(0x01 ‖ left ‖ right). A subtree holding one leaf is that
/// leaf, so a proof has one sibling per level down to the leaf's depth, root side first.
library StateProof {
    /// @notice A proof longer than the tree can be deep.
    error ProofTooDeep(uint256 siblings);

    /// @notice Most siblings a proof can have (one per key bit).
    uint256 internal constant SIBLINGS_MAX = 256;

    /// @notice Whether `value` is stored under `key` in the tree with root `root`.
    function verifyInclusion(bytes32 root, bytes memory key, bytes memory value, bytes32[] calldata siblings)
        internal
        pure
        returns (bool)
    {
        uint256 depth = siblings.length;
        if (depth > SIBLINGS_MAX) revert ProofTooDeep(depth);
        bytes32 keyHash = keccak256(key);
        bytes32 hash = keccak256(abi.encodePacked(uint8(0x00), keyHash, keccak256(value)));
        for (uint256 d = depth; d > 0; d--) {
            uint256 level = d - 1;
            bool right = (uint256(keyHash) >> (255 - level)) & 1 == 1;
            hash = right
                ? keccak256(abi.encodePacked(uint8(0x01), siblings[level], hash))
                : keccak256(abi.encodePacked(uint8(0x01), hash, siblings[level]));
        }
        return hash == root;
    }
}
