// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title StateProof
/// @notice Inclusion proofs against a Straddle state root: the compact sparse Merkle tree
/// of crates/state (docs/spec/state.md). A key's path is the bits of keccak256(key), most
/// significant first; a leaf hashes as keccak256(0x00 ‖ keyHash ‖ keccak256(value)); an
/// internal node as keccak256(0x01 ‖ left ‖ right). A subtree holding one leaf is that
/// leaf, so a proof has one sibling per level down to the leaf's depth, root side first.
/// `update` computes the root after one leaf changes: the rule the one-step prover of the
/// dispute game (docs/spec/disputes.md) applies to every leaf a transaction writes.
library StateProof {
    /// @notice Where a proof ends: an empty subtree (`isLeaf` false), or a leaf (the key's
    /// own for inclusion, another key's on the same path for exclusion).
    struct Terminal {
        bool isLeaf;
        bytes32 keyHash;
        bytes32 valueHash;
    }

    /// @notice The preimage of a node: a leaf `(keyHash, valueHash)` when `isLeaf`, else an
    /// internal node `(left, right)`.
    struct Preimage {
        bool isLeaf;
        bytes32 a;
        bytes32 b;
    }

    /// @notice A proof longer than the tree can be deep.
    error ProofTooDeep(uint256 siblings);
    /// @notice The proof does not lead to the root it is given with.
    error ProofMismatch();
    /// @notice The preimage given for the last sibling does not hash to it.
    error SiblingPreimageMismatch();

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

    /// @notice The root after setting the leaf at `keyHash` to `valueHash` (or removing it
    /// when `remove`), from `root` and a proof of the key against it (`siblings`, root side
    /// first, and `terminal`). Removing a present key needs `sibling`, the preimage of the
    /// last sibling: if it is a leaf, that leaf takes the emptied parent's place (the
    /// compact tree keeps a lone leaf at the top of its subtree) and rises past empty
    /// siblings; the preimage is what shows which it is. Reverts if the proof does not
    /// match `root`.
    function update(
        bytes32 root,
        bytes32 keyHash,
        bool remove,
        bytes32 valueHash,
        bytes32[] memory siblings,
        Terminal memory terminal,
        Preimage memory sibling
    ) internal pure returns (bytes32) {
        uint256 depth = siblings.length;
        if (depth > SIBLINGS_MAX) revert ProofTooDeep(depth);
        bytes32 old = terminal.isLeaf ? leafHash(terminal.keyHash, terminal.valueHash) : bytes32(0);
        if (walkUp(keyHash, old, siblings) != root) revert ProofMismatch();
        bool present = terminal.isLeaf && terminal.keyHash == keyHash;
        if (remove) {
            if (!present) return root;
            return removeLeaf(keyHash, siblings, sibling);
        }
        bytes32 leaf = leafHash(keyHash, valueHash);
        if (present || !terminal.isLeaf) return walkUp(keyHash, leaf, siblings);
        // Another key's leaf where ours goes: both under a new subtree, down to the first
        // bit where their paths part.
        uint256 parting = depth;
        while (parting < 256 && bitOf(keyHash, parting) == bitOf(terminal.keyHash, parting)) {
            parting++;
        }
        bytes32 other = leafHash(terminal.keyHash, terminal.valueHash);
        bytes32 hash = bitOf(keyHash, parting) ? nodeHash(other, leaf) : nodeHash(leaf, other);
        for (uint256 level = parting; level > depth; level--) {
            hash = bitOf(keyHash, level - 1) ? nodeHash(bytes32(0), hash) : nodeHash(hash, bytes32(0));
        }
        return walkUp(keyHash, hash, siblings);
    }

    /// @notice Checks that the proof (`siblings`, bottom up, ending in `terminal`) of the
    /// path of `keyHash` holds against `root`, changing nothing: one walk up where
    /// `update` of a leaf to its own value takes two.
    function verify(bytes32 root, bytes32 keyHash, bytes32[] memory siblings, Terminal memory terminal) internal pure {
        if (siblings.length > SIBLINGS_MAX) revert ProofTooDeep(siblings.length);
        bytes32 old = terminal.isLeaf ? leafHash(terminal.keyHash, terminal.valueHash) : bytes32(0);
        if (walkUp(keyHash, old, siblings) != root) revert ProofMismatch();
    }

    function removeLeaf(bytes32 keyHash, bytes32[] memory siblings, Preimage memory preimage)
        private
        pure
        returns (bytes32)
    {
        uint256 depth = siblings.length;
        if (depth == 0) return bytes32(0);
        bytes32 sibling = siblings[depth - 1];
        bytes32 shown = preimage.isLeaf ? leafHash(preimage.a, preimage.b) : nodeHash(preimage.a, preimage.b);
        if (shown != sibling) revert SiblingPreimageMismatch();
        bytes32 hash;
        bool single;
        if (preimage.isLeaf) {
            // The sibling leaf is alone in its parent now: it takes the parent's place.
            (hash, single) = (sibling, true);
        } else {
            hash = bitOf(keyHash, depth - 1) ? nodeHash(sibling, bytes32(0)) : nodeHash(bytes32(0), sibling);
        }
        for (uint256 level = depth - 1; level > 0; level--) {
            bytes32 next = siblings[level - 1];
            if (single && next == bytes32(0)) continue; // a lone leaf rises further
            single = false;
            hash = bitOf(keyHash, level - 1) ? nodeHash(next, hash) : nodeHash(hash, next);
        }
        return hash;
    }

    /// @notice The root from the node `hash` at depth `siblings.length` on `keyHash`'s path.
    /// @dev In assembly: this loop is most of a one-step proof's cost (two walks of ~21
    /// levels per leaf written), and compiled Solidity spent ~600 gas a level on calls,
    /// bounds checks and checked arithmetic around a 48-gas hash. Bit `level − 1` of the
    /// key picks the side: `(keyHash >> (256 − level)) & 1`, 1 meaning the right child.
    function walkUp(bytes32 keyHash, bytes32 hash, bytes32[] memory siblings) private pure returns (bytes32 root) {
        assembly ("memory-safe") {
            let free := mload(0x40)
            mstore8(free, 0x01)
            for { let level := mload(siblings) } gt(level, 0) { level := sub(level, 1) } {
                let sibling := mload(add(siblings, mul(level, 32)))
                switch and(shr(sub(256, level), keyHash), 1)
                case 1 {
                    mstore(add(free, 1), sibling)
                    mstore(add(free, 33), hash)
                }
                default {
                    mstore(add(free, 1), hash)
                    mstore(add(free, 33), sibling)
                }
                hash := keccak256(free, 65)
            }
            root := hash
        }
    }

    function bitOf(bytes32 keyHash, uint256 depth) private pure returns (bool) {
        return (uint256(keyHash) >> (255 - depth)) & 1 == 1;
    }

    function leafHash(bytes32 keyHash, bytes32 valueHash) private pure returns (bytes32) {
        return tagged(0x00, keyHash, valueHash);
    }

    function nodeHash(bytes32 left, bytes32 right) private pure returns (bytes32) {
        return tagged(0x01, left, right);
    }

    /// @dev keccak256(tag ‖ a ‖ b), 65 bytes, hashed in the free memory past the pointer
    /// without allocating: a proof walk hashes ~2 × 21 times per leaf, and allocating each
    /// preimage (as abi.encodePacked does) made memory, and its quadratic cost, grow with
    /// every hash.
    function tagged(uint8 tag, bytes32 a, bytes32 b) private pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let free := mload(0x40)
            mstore8(free, tag)
            mstore(add(free, 1), a)
            mstore(add(free, 33), b)
            hash := keccak256(free, 65)
        }
    }
}
