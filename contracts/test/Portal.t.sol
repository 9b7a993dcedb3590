// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Base} from "./utils/Base.sol";
import {OutputRegistry} from "../src/OutputRegistry.sol";
import {Portal} from "../src/Portal.sol";
import {TestUSDC} from "../src/TestUSDC.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

contract PortalTest is Base {
    TestUSDC internal usdc;
    OutputRegistry internal registry;
    Portal internal portal;
    string internal fixture;
    address internal constant PROPOSER = address(0xA11CE);
    address internal constant RESOLVER = address(0xB0B);
    address internal constant ALICE = address(0xA1);
    uint64 internal constant WINDOW = 600;
    uint64 internal constant FORCED_WINDOW = 20;

    function setUp() public {
        vm.warp(1_000_000);
        usdc = new TestUSDC();
        registry = new OutputRegistry(PROPOSER, RESOLVER, WINDOW, 0);
        portal = new Portal(IERC20(address(usdc)), registry, FORCED_WINDOW);
        fixture = vm.readFile("test/fixtures/withdrawals.json");
        usdc.mint(ALICE, 10_000e6);
        vm.prank(ALICE);
        usdc.approve(address(portal), type(uint256).max);
    }

    function test_DepositsAreOrderedAndHashChained() public {
        bytes32 first = portal.hashDeposit(0, ALICE, address(0xD1), 5e6);
        bytes32 chained = keccak256(abi.encodePacked(bytes32(0), first));
        vm.expectEmit();
        emit Portal.DepositQueued(0, ALICE, address(0xD1), 5e6, first, chained);
        vm.prank(ALICE);
        vm.assertEq(uint256(portal.deposit(address(0xD1), 5e6)), 0, "first index");

        bytes32 second = portal.hashDeposit(1, ALICE, address(0xD2), 7);
        vm.roll(block.number + 5);
        vm.prank(ALICE);
        portal.deposit(address(0xD2), 7);
        vm.assertEq(uint256(portal.depositBlocks(1)), block.number, "L1 block by index");
        vm.assertEq(uint256(portal.depositBlocks(0)), block.number - 5, "earlier L1 block kept");
        vm.assertEq(uint256(portal.depositCount()), 2, "count");
        vm.assertEq(portal.depositHashes(1), second, "hash by index");
        vm.assertEq(portal.depositAccumulator(), keccak256(abi.encodePacked(chained, second)), "chain");
        vm.assertEq(usdc.balanceOf(address(portal)), 5e6 + 7, "tokens locked");
        vm.assertEq(
            portal.hashDeposit(0, ALICE, address(0xD1), 5e6),
            keccak256(abi.encode(uint64(0), ALICE, address(0xD1), uint256(5e6))),
            "hash layout"
        );
    }

    function test_ForcedTransactionsAreOrderedAndHashChained() public {
        bytes memory first = hex"01aabbcc";
        bytes32 firstHash = keccak256(abi.encode(uint64(0), ALICE, keccak256(first)));
        bytes32 chained = keccak256(abi.encodePacked(bytes32(0), firstHash));
        vm.expectEmit();
        emit Portal.TransactionForced(0, ALICE, first, firstHash, chained);
        vm.prank(ALICE);
        vm.assertEq(uint256(portal.forceTransaction(first)), 0, "first index");

        bytes memory second = new bytes(2_048);
        vm.roll(block.number + 3);
        vm.warp(block.timestamp + 36);
        vm.prank(address(0xB2));
        vm.assertEq(uint256(portal.forceTransaction(second)), 1, "second index");
        bytes32 secondHash = portal.hashForced(1, address(0xB2), second);
        vm.assertEq(portal.forcedAccumulator(), keccak256(abi.encodePacked(chained, secondHash)), "chain");
        vm.assertEq(uint256(portal.forcedCount()), 2, "count");
        vm.assertEq(portal.forcedHashes(0), firstHash, "first hash kept");
        vm.assertEq(portal.forcedHashes(1), secondHash, "second hash kept");
        vm.assertEq(uint256(portal.forcedBlocks(1)), block.number, "L1 block by index");
        vm.assertEq(uint256(portal.forcedBlocks(0)), block.number - 3, "earlier L1 block kept");
        vm.assertEq(uint256(portal.forcedTimes(1)), block.timestamp, "L1 time by index");
        vm.assertEq(uint256(portal.forcedTimes(0)), block.timestamp - 36, "earlier L1 time kept");
        vm.assertEq(uint256(portal.forcedInclusionWindow()), FORCED_WINDOW, "window");
    }

    function test_RejectsForcedTransactionsOutOfSize() public {
        vm.expectRevert(abi.encodeWithSelector(Portal.ForcedTransactionSizeOutOfRange.selector, 0));
        portal.forceTransaction("");
        vm.expectRevert(abi.encodeWithSelector(Portal.ForcedTransactionSizeOutOfRange.selector, 2_049));
        portal.forceTransaction(new bytes(2_049));
        vm.expectRevert(Portal.ZeroWindow.selector);
        new Portal(IERC20(address(usdc)), registry, 0);
    }

    function test_RejectsBadDeposits() public {
        vm.startPrank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(Portal.DepositAmountOutOfRange.selector, 0));
        portal.deposit(ALICE, 0);
        uint256 tooMuch = uint256(type(uint96).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(Portal.DepositAmountOutOfRange.selector, tooMuch));
        portal.deposit(ALICE, tooMuch);
        vm.expectRevert(Portal.ZeroAddress.selector);
        portal.deposit(address(0), 1);
        vm.stopPrank();
        // No allowance: the token refuses and nothing is recorded.
        vm.expectRevert();
        portal.deposit(ALICE, 1);
        vm.assertEq(uint256(portal.depositCount()), 0, "nothing recorded");
    }

    function withdrawal(uint256 i) internal view returns (Portal.Withdrawal memory, bytes32[] memory) {
        return withdrawalIn("", i);
    }

    /// @dev Withdrawal `i` of the fixture's state at JSON path `state` ("" for the chain's,
    /// ".fork" for the fork's), with its proof.
    function withdrawalIn(string memory state, uint256 i)
        internal
        view
        returns (Portal.Withdrawal memory w, bytes32[] memory siblings)
    {
        string memory at = string.concat(state, ".withdrawals[", vm.toString(i), "]");
        w = Portal.Withdrawal({
            index: uint64(vm.parseJsonUint(fixture, string.concat(at, ".index"))),
            account: vm.parseJsonAddress(fixture, string.concat(at, ".account")),
            recipient: vm.parseJsonAddress(fixture, string.concat(at, ".recipient")),
            amount: uint128(vm.parseJsonUint(fixture, string.concat(at, ".amount"))),
            l2BlockNumber: uint64(vm.parseJsonUint(fixture, string.concat(at, ".l2BlockNumber")))
        });
        siblings = vm.parseJsonBytes32Array(fixture, string.concat(at, ".siblings"));
    }

    /// Posts the fixture's output (the state the Rust chain built) and funds the portal.
    function postFixtureOutput() internal {
        proposeState("", uint64(vm.parseJsonUint(fixture, ".l2BlockNumber")));
        vm.prank(ALICE);
        portal.deposit(ALICE, 5_000e6);
    }

    /// @dev Proposes the fixture's state at JSON path `state` as the output of block
    /// `number`.
    function proposeState(string memory state, uint64 number) internal {
        vm.prank(PROPOSER);
        registry.propose(
            number,
            vm.parseJsonBytes32(fixture, string.concat(state, ".stateRoot")),
            vm.parseJsonBytes32(fixture, string.concat(state, ".blockHash")),
            1
        );
    }

    function test_EncodingMatchesTheRustState() public view {
        for (uint256 i = 0; i < 4; i++) {
            (Portal.Withdrawal memory w,) = withdrawal(i);
            string memory at = string.concat(".withdrawals[", vm.toString(i), "]");
            vm.assertEq(portal.withdrawalKey(w.index), vm.parseJsonBytes(fixture, string.concat(at, ".key")), "key");
            vm.assertEq(portal.withdrawalValue(w), vm.parseJsonBytes(fixture, string.concat(at, ".value")), "value");
        }
    }

    function test_PaysProvenWithdrawalsOnceAfterFinalization() public {
        postFixtureOutput();
        (Portal.Withdrawal memory w, bytes32[] memory siblings) = withdrawal(0);
        vm.expectRevert(abi.encodeWithSelector(Portal.OutputNotFinalized.selector, 0));
        portal.finalizeWithdrawal(0, w, siblings);

        vm.warp(block.timestamp + WINDOW);
        for (uint256 i = 0; i < 4; i++) {
            (w, siblings) = withdrawal(i);
            uint256 before = usdc.balanceOf(w.recipient);
            portal.finalizeWithdrawal(0, w, siblings);
            vm.assertEq(usdc.balanceOf(w.recipient) - before, w.amount, "recipient paid");
            vm.assertTrue(portal.withdrawalPaid(portal.withdrawalId(w)), "marked");
        }
        (w, siblings) = withdrawal(2);
        vm.expectRevert(abi.encodeWithSelector(Portal.WithdrawalAlreadyFinalized.selector, portal.withdrawalId(w)));
        portal.finalizeWithdrawal(0, w, siblings);
    }

    /// @notice Attack: a state that holds another withdrawal under index 0 (a fork no
    /// honest chain has, say a wrong output that finalized) pays it, to block the
    /// canonical withdrawal 0. The replay key names the content, so the canonical one
    /// still pays, once.
    function test_AWithdrawalPaidOnAForkDoesNotBlockTheCanonicalOne() public {
        uint64 number = uint64(vm.parseJsonUint(fixture, ".fork.l2BlockNumber"));
        proposeState(".fork", number);
        proposeState("", number + 1);
        vm.prank(ALICE);
        portal.deposit(ALICE, 5_000e6);
        vm.warp(block.timestamp + WINDOW);
        (Portal.Withdrawal memory forked, bytes32[] memory forkSiblings) = withdrawalIn(".fork", 0);
        portal.finalizeWithdrawal(0, forked, forkSiblings);
        (Portal.Withdrawal memory w, bytes32[] memory siblings) = withdrawal(0);
        vm.assertTrue(forked.amount != w.amount, "the same index, another content");
        uint256 before = usdc.balanceOf(w.recipient);
        portal.finalizeWithdrawal(1, w, siblings);
        vm.assertEq(usdc.balanceOf(w.recipient) - before, w.amount, "the canonical withdrawal pays");
        vm.expectRevert(abi.encodeWithSelector(Portal.WithdrawalAlreadyFinalized.selector, portal.withdrawalId(w)));
        portal.finalizeWithdrawal(1, w, siblings);
    }

    function test_RejectsTamperedWithdrawals() public {
        postFixtureOutput();
        vm.warp(block.timestamp + WINDOW);
        (Portal.Withdrawal memory w, bytes32[] memory siblings) = withdrawal(1);

        Portal.Withdrawal memory more = w;
        more.amount = w.amount + 1;
        vm.expectRevert(Portal.InvalidWithdrawalProof.selector);
        portal.finalizeWithdrawal(0, more, siblings);

        Portal.Withdrawal memory redirected = w;
        redirected.recipient = ALICE;
        vm.expectRevert(Portal.InvalidWithdrawalProof.selector);
        portal.finalizeWithdrawal(0, redirected, siblings);

        Portal.Withdrawal memory otherIndex = w;
        otherIndex.index = w.index + 1;
        vm.expectRevert(Portal.InvalidWithdrawalProof.selector);
        portal.finalizeWithdrawal(0, otherIndex, siblings);

        siblings[siblings.length - 1] = bytes32(uint256(siblings[siblings.length - 1]) ^ 1);
        vm.expectRevert(Portal.InvalidWithdrawalProof.selector);
        portal.finalizeWithdrawal(0, w, siblings);

        bytes32[] memory shorter = new bytes32[](0);
        vm.expectRevert(Portal.InvalidWithdrawalProof.selector);
        portal.finalizeWithdrawal(0, w, shorter);
    }

    function test_InvalidatedOutputsPayNothing() public {
        postFixtureOutput();
        vm.prank(RESOLVER);
        registry.invalidate(0, RESOLVER);
        vm.warp(block.timestamp + WINDOW);
        (Portal.Withdrawal memory w, bytes32[] memory siblings) = withdrawal(0);
        vm.expectRevert(abi.encodeWithSelector(Portal.OutputNotFinalized.selector, 0));
        portal.finalizeWithdrawal(0, w, siblings);
    }

    function testFuzz_NoOtherAmountProves(uint128 amount, uint8 which) public {
        postFixtureOutput();
        vm.warp(block.timestamp + WINDOW);
        (Portal.Withdrawal memory w, bytes32[] memory siblings) = withdrawal(which % 4);
        vm.assume(amount != w.amount);
        w.amount = amount;
        vm.expectRevert(Portal.InvalidWithdrawalProof.selector);
        portal.finalizeWithdrawal(0, w, siblings);
    }
}
