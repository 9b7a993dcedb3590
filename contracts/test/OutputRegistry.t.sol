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

    /// @notice Attack: when L1 gas is dear, a bond smaller than what winning a game costs
    /// makes an honest challenge a loss. The required bond then grows with the base fee.
    function test_BondsCoverTheWinnersGasAtTheBaseFee() public {
        vm.assertEq(registry.requiredBond(), BOND, "cheap gas: the configured bond");
        vm.fee(100 gwei);
        uint256 required = registry.requiredBond();
        vm.assertEq(required, 25_050_000 * 100 gwei * 2, "the winner's half pays 25.05 M gas at 100 gwei");
        vm.prank(PROPOSER);
        vm.expectRevert(abi.encodeWithSelector(OutputRegistry.WrongBond.selector, uint256(BOND), required));
        registry.propose{value: BOND}(10, bytes32(0), bytes32(0), 1);
        vm.prank(PROPOSER);
        registry.propose{value: required}(10, bytes32(0), bytes32(0), 1);
        vm.assertEq(uint256(registry.getOutput(0).bond), required, "the bond held is what was sent");
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

    function test_InvalidationRemovesThatOutputAlone() public {
        propose(10);
        propose(20);
        propose(30);
        vm.expectRevert(OutputRegistry.NotResolver.selector);
        registry.invalidate(1, CHALLENGER);

        vm.prank(RESOLVER);
        registry.invalidate(1, CHALLENGER);
        vm.assertEq(registry.outputCount(), 3, "indices are kept");
        vm.assertTrue(registry.getOutput(1).removed, "output 1 removed");
        vm.assertFalse(registry.getOutput(2).removed, "a later output stays");
        vm.assertEq(registry.credit(CHALLENGER), BOND / 2, "half the invalid output's bond moves");
        vm.assertEq(registry.burnt(), BOND / 2, "the other half is burnt");
        vm.assertEq(registry.credit(PROPOSER), 0, "no other bond moves");
        vm.assertFalse(registry.inChallengeWindow(1), "a removed output cannot be disputed");
        vm.prank(RESOLVER);
        vm.expectRevert(abi.encodeWithSelector(OutputRegistry.OutputRemoved.selector, 1));
        registry.invalidate(1, CHALLENGER);

        // Removing the newest output makes the one before it the newest again.
        vm.prank(RESOLVER);
        registry.invalidate(2, CHALLENGER);
        vm.assertEq(uint256(registry.latestBlockNumber()), 10, "newest left");
        vm.assertEq(propose(20), 3, "a new index, after the removed ones");
        vm.prank(CHALLENGER);
        registry.claimCredit();
        vm.assertEq(CHALLENGER.balance, uint256(BOND), "challenger paid half of each bond");
    }

    /// @notice Attack: a wrong output followed by thousands of correct ones, so that
    /// removing it (and every later one) costs more gas than a block holds and the wrong
    /// one finalizes. Removing it costs the same whatever follows.
    function test_RemovingAnOutputCostsTheSameWhateverFollowsIt() public {
        vm.deal(PROPOSER, 10_000 ether);
        propose(1);
        uint256 gasOne = gasToInvalidate(0);
        uint256 wrong = propose(2);
        for (uint64 i = 0; i < 5_000; i++) {
            propose(3 + i);
        }
        uint256 gasMany = gasToInvalidate(wrong);
        vm.assertLe(gasMany, 100_000, "O(1): far under a block");
        vm.assertLe(gasMany, gasOne + 5_000, "no more than with nothing after it");
        vm.assertEq(uint256(registry.latestBlockNumber()), 5_002, "the later outputs stay");
    }

    function gasToInvalidate(uint256 index) internal returns (uint256 used) {
        vm.prank(RESOLVER);
        used = gasleft();
        registry.invalidate(index, CHALLENGER);
        used -= gasleft();
    }

    /// @notice Attack: an output after one under dispute finalizes first (and a withdrawal
    /// is proven against it before the dispute ends). Finality waits for the predecessor.
    function test_AnOutputFinalizesOnlyAfterItsPredecessor() public {
        propose(10);
        propose(20);
        vm.prank(RESOLVER);
        registry.disputeOpened(0);
        vm.warp(block.timestamp + WINDOW);
        vm.assertFalse(registry.isFinalized(0), "disputed");
        vm.assertFalse(registry.isFinalized(1), "its predecessor is not final");
        registry.advanceFinality(10);
        vm.assertEq(registry.finalityCursor(), 0, "the cursor waits at the disputed output");
        vm.prank(RESOLVER);
        registry.disputeClosed(0);
        vm.assertTrue(registry.isFinalized(1), "final once the predecessor is");
        vm.prank(RESOLVER);
        vm.expectRevert(abi.encodeWithSelector(OutputRegistry.AlreadyFinal.selector, 1));
        registry.invalidate(1, CHALLENGER);
    }

    function test_ARemovedPredecessorDoesNotHoldFinalityBack() public {
        propose(10);
        propose(20);
        vm.prank(RESOLVER);
        registry.disputeOpened(0);
        vm.prank(RESOLVER);
        registry.invalidate(0, CHALLENGER);
        vm.warp(block.timestamp + WINDOW);
        vm.assertTrue(registry.isFinalized(1), "final: the only earlier output is removed");
        vm.assertFalse(registry.isFinalized(0), "a removed output is never final");
        vm.expectRevert(abi.encodeWithSelector(OutputRegistry.NotFinal.selector, 0));
        registry.reclaimBond(0);
    }

    function test_NoDisputeOpensAfterTheWindow() public {
        propose(10);
        vm.warp(block.timestamp + WINDOW);
        vm.prank(RESOLVER);
        vm.expectRevert(abi.encodeWithSelector(OutputRegistry.WindowClosed.selector, 0));
        registry.disputeOpened(0);
    }

    function test_FinalityPastTheLookaheadFollowsTheCursor() public {
        uint256 count = registry.FINALITY_LOOKAHEAD() + 10;
        for (uint64 i = 0; i < count; i++) {
            propose(i + 1);
        }
        vm.warp(block.timestamp + WINDOW);
        vm.assertTrue(registry.isFinalized(registry.FINALITY_LOOKAHEAD() - 1), "within the lookahead");
        vm.assertFalse(registry.isFinalized(count - 1), "past it, until the cursor moves");
        vm.assertEq(registry.advanceFinality(type(uint256).max), count, "anyone moves the cursor");
        vm.assertTrue(registry.isFinalized(count - 1), "then final");
        // A proposal moves the cursor too.
        propose(uint64(count) + 1);
        vm.warp(block.timestamp + WINDOW);
        propose(uint64(count) + 2);
        vm.assertEq(registry.finalityCursor(), count + 1, "moved by the proposal");
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

    function testFuzz_BondsAreConserved(uint8 proposals, uint8 invalid, uint8 reclaimUpTo) public {
        uint256 count = bound(proposals, 1, 20);
        for (uint256 i = 0; i < count; i++) {
            propose(uint64(i + 1) * 7);
        }
        uint256 removed = bound(invalid, 0, count - 1);
        vm.prank(RESOLVER);
        registry.invalidate(removed, CHALLENGER);
        vm.warp(block.timestamp + WINDOW);
        uint256 reclaimUntil = bound(reclaimUpTo, 0, count);
        uint256 reclaimed = 0;
        for (uint256 i = 0; i < reclaimUntil; i++) {
            if (i == removed) continue;
            registry.reclaimBond(i);
            reclaimed++;
        }
        uint256 stillHeld = (count - 1 - reclaimed) * BOND;
        vm.assertEq(registry.credit(CHALLENGER) + registry.burnt(), BOND, "the removed output's bond");
        vm.assertEq(
            registry.credit(CHALLENGER) + registry.credit(PROPOSER) + registry.burnt() + stillHeld,
            address(registry).balance,
            "every wei held is a bond, a credit or burnt"
        );
    }
}
