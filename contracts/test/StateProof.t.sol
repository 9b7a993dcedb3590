// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Base} from "./utils/Base.sol";
import {StateProof} from "../src/StateProof.sol";

/// Exposes the library's internal functions to the test.
contract StateProofHarness {
    function update(
        bytes32 root,
        bytes32 keyHash,
        bool remove,
        bytes32 valueHash,
        bytes32[] memory siblings,
        StateProof.Terminal memory terminal,
        StateProof.Preimage memory sibling
    ) external pure returns (bytes32) {
        return StateProof.update(root, keyHash, remove, valueHash, siblings, terminal, sibling);
    }
}

/// Replays the Rust tree's updates, insertions and removals
/// (crates/state/tests/solidity_update_fixtures.rs) and requires the same roots.
contract StateProofTest is Base {
    StateProofHarness internal harness;
    string internal fixture;

    function setUp() public {
        harness = new StateProofHarness();
        fixture = vm.readFile("test/fixtures/state_updates.json");
    }

    function caseAt(uint256 i)
        internal
        view
        returns (
            bytes32 root,
            bytes32 keyHash,
            bool remove,
            bytes32 valueHash,
            bytes32[] memory siblings,
            StateProof.Terminal memory terminal,
            StateProof.Preimage memory sibling
        )
    {
        string memory at = string.concat(".cases[", vm.toString(i), "]");
        root = vm.parseJsonBytes32(fixture, string.concat(at, ".root"));
        keyHash = vm.parseJsonBytes32(fixture, string.concat(at, ".keyHash"));
        remove = vm.parseJsonBool(fixture, string.concat(at, ".remove"));
        valueHash = vm.parseJsonBytes32(fixture, string.concat(at, ".valueHash"));
        siblings = vm.parseJsonBytes32Array(fixture, string.concat(at, ".siblings"));
        terminal = StateProof.Terminal({
            isLeaf: vm.parseJsonBool(fixture, string.concat(at, ".terminalIsLeaf")),
            keyHash: vm.parseJsonBytes32(fixture, string.concat(at, ".terminalKey")),
            valueHash: vm.parseJsonBytes32(fixture, string.concat(at, ".terminalValue"))
        });
        sibling = StateProof.Preimage({
            isLeaf: vm.parseJsonBool(fixture, string.concat(at, ".siblingIsLeaf")),
            a: vm.parseJsonBytes32(fixture, string.concat(at, ".siblingA")),
            b: vm.parseJsonBytes32(fixture, string.concat(at, ".siblingB"))
        });
    }

    function test_UpdatesMatchTheRustTree() public view {
        uint256 count = vm.parseJsonUint(fixture, ".count");
        vm.assertGt(count, 80, "enough cases");
        bytes32 previous;
        for (uint256 i = 0; i < count; i++) {
            (
                bytes32 root,
                bytes32 keyHash,
                bool remove,
                bytes32 valueHash,
                bytes32[] memory siblings,
                StateProof.Terminal memory terminal,
                StateProof.Preimage memory sibling
            ) = caseAt(i);
            if (i > 0) vm.assertEq(root, previous, "cases chain");
            bytes32 expected = vm.parseJsonBytes32(fixture, string.concat(".cases[", vm.toString(i), "].newRoot"));
            bytes32 got = harness.update(root, keyHash, remove, valueHash, siblings, terminal, sibling);
            vm.assertEq(got, expected, string.concat("case ", vm.toString(i)));
            previous = expected;
        }
    }

    function test_RejectsAProofOfAnotherRoot() public {
        (
            bytes32 root,
            bytes32 keyHash,
            bool remove,
            bytes32 valueHash,
            bytes32[] memory siblings,
            StateProof.Terminal memory terminal,
            StateProof.Preimage memory sibling
        ) = caseAt(0);
        vm.expectRevert(StateProof.ProofMismatch.selector);
        harness.update(bytes32(uint256(root) ^ 1), keyHash, remove, valueHash, siblings, terminal, sibling);
    }

    function test_ARemovalMustShowItsSibling() public {
        uint256 count = vm.parseJsonUint(fixture, ".count");
        for (uint256 i = 0; i < count; i++) {
            (
                bytes32 root,
                bytes32 keyHash,
                bool remove,
                bytes32 valueHash,
                bytes32[] memory siblings,
                StateProof.Terminal memory terminal,
                StateProof.Preimage memory sibling
            ) = caseAt(i);
            if (!remove || !terminal.isLeaf || terminal.keyHash != keyHash || siblings.length == 0) continue;
            // Claiming a leaf sibling is a node (or the reverse) cannot pass.
            sibling.isLeaf = !sibling.isLeaf;
            vm.expectRevert(StateProof.SiblingPreimageMismatch.selector);
            harness.update(root, keyHash, remove, valueHash, siblings, terminal, sibling);
            return;
        }
        revert("no removal case");
    }
}
