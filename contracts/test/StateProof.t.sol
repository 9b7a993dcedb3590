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

    struct Case {
        bytes32 root;
        bytes32 keyHash;
        bool remove;
        bytes32 valueHash;
        bytes32[] siblings;
        StateProof.Terminal terminal;
        StateProof.Preimage sibling;
        bytes32 newRoot;
    }

    function caseAt(uint256 i) internal view returns (Case memory c) {
        string memory at = string.concat(".cases[", vm.toString(i), "]");
        c.root = vm.parseJsonBytes32(fixture, string.concat(at, ".root"));
        c.keyHash = vm.parseJsonBytes32(fixture, string.concat(at, ".keyHash"));
        c.remove = vm.parseJsonBool(fixture, string.concat(at, ".remove"));
        c.valueHash = vm.parseJsonBytes32(fixture, string.concat(at, ".valueHash"));
        c.siblings = vm.parseJsonBytes32Array(fixture, string.concat(at, ".siblings"));
        c.terminal = StateProof.Terminal({
            isLeaf: vm.parseJsonBool(fixture, string.concat(at, ".terminalIsLeaf")),
            keyHash: vm.parseJsonBytes32(fixture, string.concat(at, ".terminalKey")),
            valueHash: vm.parseJsonBytes32(fixture, string.concat(at, ".terminalValue"))
        });
        c.sibling = StateProof.Preimage({
            isLeaf: vm.parseJsonBool(fixture, string.concat(at, ".siblingIsLeaf")),
            a: vm.parseJsonBytes32(fixture, string.concat(at, ".siblingA")),
            b: vm.parseJsonBytes32(fixture, string.concat(at, ".siblingB"))
        });
        c.newRoot = vm.parseJsonBytes32(fixture, string.concat(at, ".newRoot"));
    }

    function applyCase(Case memory c, bytes32 root) internal view returns (bytes32) {
        return harness.update(root, c.keyHash, c.remove, c.valueHash, c.siblings, c.terminal, c.sibling);
    }

    function test_UpdatesMatchTheRustTree() public view {
        uint256 count = vm.parseJsonUint(fixture, ".count");
        vm.assertGt(count, 80, "enough cases");
        bytes32 previous;
        for (uint256 i = 0; i < count; i++) {
            Case memory c = caseAt(i);
            if (i > 0) vm.assertEq(c.root, previous, "cases chain");
            vm.assertEq(applyCase(c, c.root), c.newRoot, string.concat("case ", vm.toString(i)));
            previous = c.newRoot;
        }
    }

    function test_RejectsAProofOfAnotherRoot() public {
        Case memory c = caseAt(0);
        bytes32 other = bytes32(uint256(c.root) ^ 1);
        vm.expectRevert(StateProof.ProofMismatch.selector);
        applyCase(c, other);
    }

    function test_ARemovalMustShowItsSibling() public {
        uint256 count = vm.parseJsonUint(fixture, ".count");
        for (uint256 i = 0; i < count; i++) {
            Case memory c = caseAt(i);
            if (!c.remove || !c.terminal.isLeaf || c.terminal.keyHash != c.keyHash || c.siblings.length == 0) continue;
            // Claiming a leaf sibling is a node (or the reverse) cannot pass.
            c.sibling.isLeaf = !c.sibling.isLeaf;
            vm.expectRevert(StateProof.SiblingPreimageMismatch.selector);
            applyCase(c, c.root);
            return;
        }
        revert("no removal case");
    }
}
