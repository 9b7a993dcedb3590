// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Base} from "./utils/Base.sol";
import {ISubStepProver, IStepProver} from "../src/ProverInterfaces.sol";
import {IPortalRecords, StepProver} from "../src/StepProver.sol";
import {OrderStepProver} from "../src/OrderStepProver.sol";
import {StepRules} from "../src/StepRules.sol";
import {MarginStepProver} from "../src/MarginStepProver.sol";
import {MatchStepProver} from "../src/MatchStepProver.sol";
import {LiquidationStepProver} from "../src/LiquidationStepProver.sol";

/// @notice How the one-step prover treats bad input: an uncovered kind and a malformed
/// witness revert with a named error (a step cannot be decided on them), bytes that do
/// not decode or a signature that does not recover change nothing. Its rules themselves
/// are checked against the Rust STF by crates/fault-proof/tests/step_parity.rs.
contract StepProverTest is Base {
    StepProver internal prover;
    IStepProver internal orders;
    bytes32 internal constant ROOT = keccak256("some state");
    uint256 internal constant KEY = 0xA11CE;

    function setUp() public {
        orders = new OrderStepProver(424242, address(0), IPortalRecords(address(0xB0B)), address(0));
        prover = new StepProver(
            424242,
            address(0),
            IPortalRecords(address(0xB0B)),
            address(0),
            orders,
            new MarginStepProver(424242, address(0), IPortalRecords(address(0xB0B))),
            new MatchStepProver(424242, address(0)),
            new LiquidationStepProver(424242, address(0)),
            ISubStepProver(address(0))
        );
    }

    function execute(bytes memory transaction, bytes memory witness) internal view returns (bytes32) {
        return prover.execute(ROOT, 1, 1_000, transaction, witness);
    }

    /// A transfer of 5 to 0xBEEF signed with KEY (v as given, 27/28 when zero).
    function transfer(uint8 forcedV) internal view returns (bytes memory) {
        address to = address(0xBEEF);
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Transfer(address to,uint128 amount,uint64 nonce,uint64 expiryMs)"),
                to,
                uint128(5),
                uint64(1),
                uint64(10_000)
            )
        );
        bytes32 digest = keccak256(abi.encodePacked(hex"1901", prover.domainSeparator(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(KEY, digest);
        return abi.encodePacked(uint8(1), to, uint128(5), uint64(1), uint64(10_000), r, s, forcedV == 0 ? v : forcedV);
    }

    function test_UncoveredKindsRevertByName() public {
        // An oracle update.
        vm.expectRevert(abi.encodeWithSelector(StepRules.UnsupportedKind.selector, uint8(0x10)));
        this.callExecute(hex"10", "");
    }

    function test_MarginWithdrawalsAreForwardedAndTheMarginProverTakesNoOther() public {
        IStepProver margin = prover.margin();
        // Bytes that do not decode change nothing, through either.
        vm.assertEq(execute(hex"0500", ""), ROOT, "a truncated margin withdrawal, forwarded");
        vm.assertEq(execute(hex"1b00", ""), ROOT, "a truncated retirement, forwarded");
        // A retirement reads at least the order record.
        vm.expectRevert(abi.encodeWithSelector(StepRules.WrongLeafCount.selector, 0, 1));
        this.callExecute(abi.encodePacked(uint8(0x1b), address(0xBEEF), bytes32(uint256(7))), "");
        vm.assertEq(margin.execute(ROOT, 1, 1_000, hex"0500", ""), ROOT, "directly");
        // One whose signature recovers reads at least the account, portfolio and
        // clearing totals: a witness of none is refused by name, from the margin prover.
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("WithdrawMargin(uint128 amount,uint64 nonce,uint64 expiryMs)"),
                uint128(5),
                uint64(1),
                uint64(10_000)
            )
        );
        bytes32 digest = keccak256(abi.encodePacked(hex"1901", prover.domainSeparator(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(KEY, digest);
        bytes memory withdrawal = abi.encodePacked(uint8(5), address(0), uint128(5), uint64(1), uint64(10_000), r, s, v);
        vm.expectRevert(abi.encodeWithSelector(StepRules.WrongLeafCount.selector, 0, 3));
        this.callExecute(withdrawal, "");
        bytes memory signedTransfer = transfer(0);
        vm.expectRevert(abi.encodeWithSelector(StepRules.UnsupportedKind.selector, uint8(1)));
        margin.execute(ROOT, 1, 1_000, signedTransfer, "");
    }

    function test_OrderKindsAreForwardedAndTheOrderProverTakesNoOther() public {
        vm.assertEq(address(prover.orders()), address(orders), "the order prover");
        // A placement that does not decode (too short) changes nothing, through either.
        vm.assertEq(execute(hex"1a00", ""), ROOT, "a truncated placement, forwarded");
        vm.assertEq(execute(hex"1600", ""), ROOT, "a truncated bulk placement, forwarded");
        vm.assertEq(orders.execute(ROOT, 1, 1_000, hex"1a00", ""), ROOT, "directly");
        // Closing a market: a truncated one, and one signed by someone but the operator
        // (none here), change nothing before any leaf is read.
        vm.assertEq(execute(hex"1900", ""), ROOT, "a truncated close, forwarded");
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("CloseMarket(uint32 market,uint64 nonce,uint64 expiryMs)"),
                uint32(1),
                uint64(1),
                uint64(10_000)
            )
        );
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(KEY, keccak256(abi.encodePacked(hex"1901", prover.domainSeparator(), structHash)));
        vm.assertEq(
            execute(abi.encodePacked(uint8(0x19), uint32(1), uint64(1), uint64(10_000), r, s, v), ""),
            ROOT,
            "a close not signed by the operator"
        );
        // Listing a market: a truncated one, and one signed by someone but the operator,
        // likewise.
        vm.assertEq(execute(hex"1800", ""), ROOT, "a truncated listing, forwarded");
        structHash = keccak256(
            abi.encode(
                keccak256(
                    "ListMarket(uint32 market,uint32 underlying,uint8 instrument,uint64 strike,uint64 optionExpiryMs,uint64 tick,uint64 lot,uint32 makerFeePpm,uint32 takerFeePpm,uint64 nonce,uint64 expiryMs)"
                ),
                uint32(7),
                uint32(1),
                uint8(0),
                uint64(0),
                uint64(0),
                uint64(100_000),
                uint64(1_000),
                uint32(100),
                uint32(300),
                uint64(1),
                uint64(10_000)
            )
        );
        (v, r, s) = vm.sign(KEY, keccak256(abi.encodePacked(hex"1901", prover.domainSeparator(), structHash)));
        bytes memory listing = abi.encodePacked(
            uint8(0x18), uint32(7), uint32(1), uint8(0), uint64(0), uint64(0), uint64(100_000), uint64(1_000)
        );
        listing = abi.encodePacked(listing, uint32(100), uint32(300), uint64(1), uint64(10_000), r, s, v);
        vm.assertEq(execute(listing, ""), ROOT, "a listing not signed by the operator");
        // A placement whose signature recovers reads three leaves: a witness of none is
        // refused by name, from the order prover.
        bytes memory placement = signedPlacement();
        vm.expectRevert(abi.encodeWithSelector(StepRules.WrongLeafCount.selector, 0, 3));
        this.callExecute(placement, "");
        bytes memory signedTransfer = transfer(0);
        vm.expectRevert(abi.encodeWithSelector(StepRules.UnsupportedKind.selector, uint8(1)));
        orders.execute(ROOT, 1, 1_000, signedTransfer, "");
    }

    function test_MatchesAreForwardedAndTheMatchProverTakesNoOther() public {
        IStepProver matches = prover.matches();
        // Bytes that do not decode change nothing, through either.
        vm.assertEq(execute(hex"1100", ""), ROOT, "a truncated match, forwarded");
        vm.assertEq(execute(hex"1700", ""), ROOT, "a truncated match of placed orders, forwarded");
        vm.assertEq(matches.execute(ROOT, 1, 1_000, hex"1100", ""), ROOT, "directly");
        // A match whose signatures recover reads at least the taker's record and
        // portfolio, the market and the clearing totals: a witness of none is refused by
        // name, from the match prover.
        bytes memory order = signedPlacement();
        bytes memory signedOrder = new bytes(order.length - 1);
        for (uint256 i = 0; i < signedOrder.length; i++) {
            signedOrder[i] = order[i + 1];
        }
        bytes memory signedMatch = abi.encodePacked(uint8(0x11), signedOrder, uint8(1), signedOrder, uint64(1_000_000));
        vm.expectRevert(abi.encodeWithSelector(StepRules.WrongLeafCount.selector, 0, 4));
        this.callExecute(signedMatch, "");
        bytes memory signedTransfer = transfer(0);
        vm.expectRevert(abi.encodeWithSelector(StepRules.UnsupportedKind.selector, uint8(1)));
        matches.execute(ROOT, 1, 1_000, signedTransfer, "");
    }

    function test_LiquidationsAreForwardedAndTheLiquidationProverTakesNoOther() public {
        IStepProver liquidations = prover.liquidations();
        vm.assertEq(execute(hex"1300", ""), ROOT, "a truncated liquidation, forwarded");
        vm.assertEq(execute(hex"1400", ""), ROOT, "a truncated auto-deleveraging, forwarded");
        // An auto-deleveraging (unsigned) reads both portfolios, the market and the totals.
        vm.expectRevert(abi.encodeWithSelector(StepRules.WrongLeafCount.selector, 0, 4));
        this.callExecute(abi.encodePacked(uint8(0x14), address(0xBEEF), uint32(1), address(0xCAFE), uint64(1_000)), "");
        vm.assertEq(liquidations.execute(ROOT, 1, 1_000, hex"1300", ""), ROOT, "directly");
        // One whose signature recovers reads at least the liquidator's account, both
        // portfolios, the market and the clearing totals.
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Liquidate(address target,uint32 market,uint64 size,uint64 nonce,uint64 expiryMs)"),
                address(0xBEEF),
                uint32(1),
                uint64(1_000),
                uint64(1),
                uint64(10_000)
            )
        );
        bytes32 digest = keccak256(abi.encodePacked(hex"1901", prover.domainSeparator(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(KEY, digest);
        bytes memory liquidation = abi.encodePacked(
            uint8(0x13), address(0xBEEF), uint32(1), uint64(1_000), uint64(1), uint64(10_000), r, s, v
        );
        vm.expectRevert(abi.encodeWithSelector(StepRules.WrongLeafCount.selector, 0, 5));
        this.callExecute(liquidation, "");
        bytes memory signedTransfer = transfer(0);
        vm.expectRevert(abi.encodeWithSelector(StepRules.UnsupportedKind.selector, uint8(1)));
        liquidations.execute(ROOT, 1, 1_000, signedTransfer, "");
    }

    /// An order placement signed with KEY.
    function signedPlacement() internal view returns (bytes memory) {
        bytes memory body = abi.encodePacked(
            uint32(1),
            uint8(1),
            uint64(3_000_000_000),
            uint64(1_000_000),
            uint8(0),
            uint8(0),
            uint64(10_000),
            uint64(7),
            uint64(9)
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Order(uint32 market,bool isBuy,uint64 limitPrice,uint64 size,uint8 timeInForce,bool reduceOnly,uint64 expiryMs,uint64 clientOrderId,uint64 nonce)"
                ),
                uint32(1),
                true,
                uint64(3_000_000_000),
                uint64(1_000_000),
                uint8(0),
                false,
                uint64(10_000),
                uint64(7),
                uint64(9)
            )
        );
        bytes32 digest = keccak256(abi.encodePacked(hex"1901", prover.domainSeparator(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(KEY, digest);
        return abi.encodePacked(uint8(0x1a), body, r, s, v);
    }

    function test_BytesThatDoNotDecodeChangeNothing() public view {
        vm.assertEq(execute("", ""), ROOT, "empty");
        vm.assertEq(execute(hex"0102", ""), ROOT, "a truncated transfer");
        vm.assertEq(execute(hex"1c00", ""), ROOT, "a truncated deposit");
        vm.assertEq(execute(hex"1d0000", ""), ROOT, "a truncated forced transaction");
        vm.assertEq(execute(transfer(5), ""), ROOT, "v outside {0, 1, 27, 28}");
        vm.assertEq(execute(hex"fe", ""), ROOT, "the undecodable item");
    }

    function test_MalformedWitnessesAreRefusedByName() public {
        bytes memory signed = transfer(0);
        // A signed transfer to someone else reads two leaves.
        vm.expectRevert(abi.encodeWithSelector(StepRules.WrongLeafCount.selector, 0, 2));
        this.callExecute(signed, "");
        // A count of one byte, then a count of one leaf and nothing behind it.
        vm.expectRevert(abi.encodeWithSelector(StepRules.BadWitness.selector, 0));
        this.callExecute(signed, hex"01");
        vm.expectRevert(abi.encodeWithSelector(StepRules.BadWitness.selector, 2));
        this.callExecute(signed, hex"0001");
        // Unknown flags (8).
        vm.expectRevert(abi.encodeWithSelector(StepRules.BadWitness.selector, 5));
        this.callExecute(signed, hex"0001080000");
        // A leaf claiming a 16-byte value with 2 bytes behind it.
        vm.expectRevert(abi.encodeWithSelector(StepRules.BadWitness.selector, 5));
        this.callExecute(signed, hex"00010100100000");
        // A sibling preimage announced (flag 4) but missing.
        vm.expectRevert(abi.encodeWithSelector(StepRules.BadWitness.selector, 5));
        this.callExecute(signed, hex"0001040000");
        // Trailing bytes after the last leaf.
        vm.expectRevert(abi.encodeWithSelector(StepRules.BadWitness.selector, 7));
        this.callExecute(signed, hex"00010000000000ff");
    }

    function callExecute(bytes calldata transaction, bytes calldata witness) external view returns (bytes32) {
        return prover.execute(ROOT, 1, 1_000, transaction, witness);
    }
}
