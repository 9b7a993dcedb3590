// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Base} from "./utils/Base.sol";
import {OutputRegistry} from "../src/OutputRegistry.sol";

contract OutputRegistryTest is Base {
    OutputRegistry internal registry;
    address internal constant PROPOSER = address(0xA11CE);
    address internal constant RESOLVER = address(0xB0B);
    address internal constant CHALLENGER = address(0xC4A1);
    uint64 internal constant WINDOW = 600;
    uint96 internal constant BOND = 1 ether;

    function setUp() public {
        vm.warp(1_000_000);
        registry = new OutputRegistry(PROPOSER, RESOLVER, WINDOW, BOND);
        vm.deal(PROPOSER, 100 ether);
    }

    function propose(uint64 l2Block) internal returns (uint256) {
        vm.prank(PROPOSER);
        return registry.propose{value: BOND}(
            l2Block, keccak256(abi.encode("state", l2Block)), bytes32(uint256(l2Block)), 2 * l2Block + 1
        );
    }

    function test_ProposalsAreOrderedAndBonded() public {
        vm.assertEq(propose(10), 0, "first index");
        vm.assertEq(propose(20), 1, "second index");
        vm.assertEq(registry.outputCount(), 2, "count");
        vm.assertEq(uint256(registry.latestBlockNumber()), 20, "latest");
        OutputRegistry.Output memory output = registry.getOutput(1);
        vm.assertEq(output.stateRoot, keccak256(abi.encode("state", uint64(20))), "state root");
        vm.assertEq(output.proposer, PROPOSER, "proposer");
        vm.assertEq(uint256(output.position), 41, "position");
        vm.assertEq(address(registry).balance, 2 * uint256(BOND), "bonds held");
    }

    function test_RejectsBadProposals() public {
        vm.deal(address(this), 10 ether);
        vm.expectRevert(OutputRegistry.NotProposer.selector);
        registry.propose{value: BOND}(1, bytes32(0), bytes32(0), 1);
        vm.prank(PROPOSER);
        vm.expectRevert(OutputRegistry.GenesisNotProposed.selector);
        registry.propose{value: BOND}(0, bytes32(0), bytes32(0), 1);

        vm.prank(PROPOSER);
        vm.expectRevert(abi.encodeWithSelector(OutputRegistry.WrongBond.selector, 1, uint256(BOND)));
        registry.propose{value: 1}(1, bytes32(0), bytes32(0), 1);

        propose(10);
        vm.prank(PROPOSER);
        vm.expectRevert(abi.encodeWithSelector(OutputRegistry.BlockNotAfterLatest.selector, uint64(10), uint64(10)));
        registry.propose{value: BOND}(10, bytes32(0), bytes32(0), 1);
    }

    function test_FinalizesAfterTheWindowAndReturnsTheBondOnce() public {
        propose(10);
        vm.assertFalse(registry.isFinalized(0), "fresh output is not final");
        vm.expectRevert(abi.encodeWithSelector(OutputRegistry.NotFinal.selector, 0));
        registry.reclaimBond(0);
        vm.warp(block.timestamp + WINDOW - 1);
        vm.assertFalse(registry.isFinalized(0), "one second early");
        vm.warp(block.timestamp + 1);
        vm.assertTrue(registry.isFinalized(0), "final at the window's end");
        vm.assertFalse(registry.isFinalized(1), "unknown outputs are not final");

        registry.reclaimBond(0);
        vm.expectRevert(abi.encodeWithSelector(OutputRegistry.BondAlreadyReclaimed.selector, 0));
        registry.reclaimBond(0);
        uint256 before = PROPOSER.balance;
        vm.prank(PROPOSER);
        registry.claimCredit();
        vm.assertEq(PROPOSER.balance - before, BOND, "bond paid back");
        vm.prank(PROPOSER);
        vm.expectRevert(OutputRegistry.NoCredit.selector);
        registry.claimCredit();
    }

    function test_InvalidationRemovesTheOutputAndItsDependents() public {
        propose(10);
        propose(20);
        propose(30);
        vm.expectRevert(OutputRegistry.NotResolver.selector);
        registry.invalidate(1, CHALLENGER);

        vm.prank(RESOLVER);
        registry.invalidate(1, CHALLENGER);
        vm.assertEq(registry.outputCount(), 1, "outputs 1 and 2 removed");
        vm.assertEq(registry.credit(CHALLENGER), BOND, "the invalid output's bond moves");
        vm.assertEq(registry.credit(PROPOSER), BOND, "the dependent's bond returns");
        vm.expectRevert(abi.encodeWithSelector(OutputRegistry.UnknownOutput.selector, 1));
        registry.getOutput(1);

        // The sequence continues after the surviving output.
        vm.assertEq(propose(20), 1, "index reused");
        vm.prank(CHALLENGER);
        registry.claimCredit();
        vm.assertEq(CHALLENGER.balance, BOND, "challenger paid");
    }

    function test_AnOpenDisputeHoldsFinalityBack() public {
        propose(10);
        vm.expectRevert(OutputRegistry.NotResolver.selector);
        registry.disputeOpened(0);
        vm.startPrank(RESOLVER);
        registry.disputeOpened(0);
        registry.disputeOpened(0);
        vm.warp(block.timestamp + WINDOW);
        vm.assertFalse(registry.isFinalized(0), "two disputes open");
        vm.assertFalse(registry.inChallengeWindow(0), "window over");
        registry.disputeClosed(0);
        vm.assertFalse(registry.isFinalized(0), "one dispute open");
        registry.disputeClosed(0);
        vm.assertTrue(registry.isFinalized(0), "final once none is open");
        vm.expectRevert(abi.encodeWithSelector(OutputRegistry.NoOpenDispute.selector, 0));
        registry.disputeClosed(0);
        vm.stopPrank();
    }

    function test_FinalOutputsCannotBeInvalidated() public {
        propose(10);
        vm.warp(block.timestamp + WINDOW);
        vm.prank(RESOLVER);
        vm.expectRevert(abi.encodeWithSelector(OutputRegistry.AlreadyFinal.selector, 0));
        registry.invalidate(0, CHALLENGER);
    }

    function testFuzz_BondsAreConserved(uint8 proposals, uint8 invalidFrom, uint8 reclaimUpTo) public {
        uint256 count = bound(proposals, 1, 20);
        for (uint256 i = 0; i < count; i++) {
            propose(uint64(i + 1) * 7);
        }
        uint256 from = bound(invalidFrom, 0, count - 1);
        vm.prank(RESOLVER);
        registry.invalidate(from, CHALLENGER);
        vm.warp(block.timestamp + WINDOW);
        uint256 reclaimed = bound(reclaimUpTo, 0, from);
        for (uint256 i = 0; i < reclaimed; i++) {
            registry.reclaimBond(i);
        }
        uint256 stillHeld = (from - reclaimed) * BOND;
        vm.assertEq(
            registry.credit(CHALLENGER) + registry.credit(PROPOSER) + stillHeld,
            address(registry).balance,
            "every wei held is a bond or a credit"
        );
    }
}
