// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Base} from "./utils/Base.sol";
import {BatchInbox} from "../src/BatchInbox.sol";
import {BatchOpener} from "../src/BatchOpener.sol";
import {IPortalRecords} from "../src/PortalRecords.sol";

/// @notice Malformed batches and openings are refused by name. Parity with the Rust batch
/// format over random batches (calldata and blobs) is tested from Rust against anvil
/// (crates/fault-proof/tests/batch_opening.rs).
contract BatchOpenerTest is Base {
    BatchInbox internal inbox;
    BatchOpener internal opener;
    address internal constant BATCHER = address(0xBA7C);
    bytes32 internal constant PARENT = bytes32(uint256(0xabcd));
    bytes internal constant SIGNATURE = abi.encodePacked(bytes32(uint256(7)), bytes32(uint256(9) | (1 << 255)));

    function setUp() public {
        inbox = new BatchInbox(BATCHER);
        opener = new BatchOpener(inbox, IPortalRecords(address(0)), 424_242, address(0));
    }

    /// @dev A one-block batch (block 5) holding one transaction `section`.
    function batchOf(uint8 version, bytes memory section) internal pure returns (bytes memory) {
        return
            abi.encodePacked(
                version, uint64(5), PARENT, uint64(1000), hex"01", hex"0001", hex"00", hex"000000", section
            );
    }

    /// @dev A cancel naming a literal hash, with a 1-byte nonce and expiry.
    function cancel(bytes memory nonce) internal pure returns (bytes memory) {
        return abi.encodePacked(hex"12", hex"00", bytes32(uint256(0x5555)), nonce, hex"04", SIGNATURE);
    }

    function post(bytes memory batch) internal returns (uint256 index) {
        vm.prank(BATCHER);
        index = inbox.postCalldata(batch);
    }

    function open(bytes memory batch, uint64 blockNumber, uint256 position)
        internal
        returns (BatchOpener.Opened memory)
    {
        uint256 index = post(batch);
        return opener.openCalldata(index, blockNumber, position, batch, "");
    }

    function expectInvalid(bytes memory batch, string memory reason) internal {
        uint256 index = post(batch);
        try opener.openCalldata(index, 5, 0, batch, "") {
            vm.assertTrue(false, reason);
        } catch (bytes memory data) {
            vm.assertEq(bytes32(bytes4(data)), bytes32(BatchOpener.Invalid.selector), "an Invalid revert");
            bytes memory payload = new bytes(data.length - 4);
            for (uint256 i = 0; i < payload.length; i++) {
                payload[i] = data[i + 4];
            }
            (string memory got,) = abi.decode(payload, (string, uint256));
            vm.assertEq(keccak256(bytes(got)), keccak256(bytes(reason)), reason);
        }
    }

    function test_ACancelOpensToItsCanonicalBytes() public {
        BatchOpener.Opened memory opened = open(batchOf(1, cancel(hex"03")), 5, 0);
        bytes memory canonical = abi.encodePacked(
            hex"12",
            bytes32(uint256(0x5555)),
            uint64(3),
            uint64(1002), // zigzag 4 = +2 from the base time
            bytes32(uint256(7)),
            bytes32(uint256(9)),
            uint8(28)
        );
        vm.assertEq(opened.transaction, canonical, "canonical bytes");
        vm.assertEq(uint256(opened.blockNumber), 5, "block");
        vm.assertEq(uint256(opened.timestampMs), 1000, "time");
        vm.assertEq(uint256(opened.blockTransactions), 1, "count");
        vm.assertEq(opened.parentHash, PARENT, "parent");
    }

    function test_AMalformedStructureIsRefusedByName() public {
        bytes memory versionTwo = batchOf(2, cancel(hex"03"));
        uint256 index = post(versionTwo);
        vm.expectRevert(abi.encodeWithSelector(BatchOpener.UnknownVersion.selector, uint8(2)));
        opener.openCalldata(index, 5, 0, versionTwo, "");

        // Cut inside the index: the table and index do not fit.
        bytes memory cut = batchOf(1, cancel(hex"03"));
        assembly {
            mstore(cut, 54)
        }
        index = post(cut);
        vm.expectRevert(abi.encodeWithSelector(BatchOpener.Truncated.selector, uint256(54)));
        opener.openCalldata(index, 5, 0, cut, "");
    }

    /// @dev Whether transaction 0 of block 5 of `batch` opens to the undecodable item.
    function expectUndecodable(bytes memory batch, string memory why) internal {
        vm.assertEq(open(batch, 5, 0).transaction, hex"fe", why);
    }

    function test_AnItemThatDoesNotDecodeAloneOpensAsTheUndecodableItem() public {
        expectUndecodable(batchOf(1, cancel(hex"8000")), "non-minimal varint");
        expectUndecodable(batchOf(1, abi.encodePacked(cancel(hex"03"), hex"00")), "a byte past the item");
        // A hash item naming the literal at section offset 4: after itself.
        expectUndecodable(batchOf(1, abi.encodePacked(hex"12", hex"05", hex"03", hex"04", SIGNATURE)), "forward");
        // A retirement naming address 0 of an empty table.
        expectUndecodable(batchOf(1, abi.encodePacked(hex"1b", hex"00", hex"00", bytes32(0))), "address table");
        expectUndecodable(batchOf(1, hex"30"), "unknown kind");
        bytes memory truncated = batchOf(1, cancel(hex"03"));
        assembly {
            mstore(truncated, sub(mload(truncated), 10))
        }
        expectUndecodable(truncated, "the item cut short");
        // The one index entry points past the section.
        bytes memory past = batchOf(1, cancel(hex"03"));
        past[55] = 0x7f;
        expectUndecodable(past, "a slot past the section");

        bytes memory canonicalCancel = abi.encodePacked(
            hex"12", bytes32(uint256(0x5555)), uint64(3), uint64(1002), bytes32(uint256(7)), bytes32(uint256(9))
        );
        // Carried canonically although compactable (s fits 255 bits).
        expectUndecodable(
            batchOf(1, abi.encodePacked(hex"ff", uint8(114), canonicalCancel, uint8(28))), "compactable, carried"
        );
        // A high-s cancel carried canonically opens as it is; with recovery byte 0 it is
        // not canonical (it would re-encode as 27).
        bytes memory highS = abi.encodePacked(
            hex"12", bytes32(uint256(0x5555)), uint64(3), uint64(1002), bytes32(uint256(7)), bytes32(type(uint256).max)
        );
        bytes memory carried = abi.encodePacked(highS, uint8(27));
        vm.assertEq(
            open(batchOf(1, abi.encodePacked(hex"ff", uint8(114), carried)), 5, 0).transaction, carried, "high-s"
        );
        expectUndecodable(batchOf(1, abi.encodePacked(hex"ff", uint8(114), highS, uint8(0))), "recovery byte 0");
        // The undecodable item carried canonically is itself.
        expectUndecodable(batchOf(1, hex"ff01fe"), "0xFE carried");
        expectUndecodable(batchOf(1, hex"ff02fe00"), "0xFE with a byte");
        expectUndecodable(batchOf(1, hex"ff80800101"), "canonical bytes past the bound");
    }

    function test_OpeningsOfTheWrongBatchOrPlaceAreRefused() public {
        bytes memory batch = batchOf(1, cancel(hex"03"));
        uint256 index = post(batch);
        bytes memory other = batchOf(1, cancel(hex"04"));
        vm.expectRevert(abi.encodeWithSelector(BatchOpener.CommitmentMismatch.selector, index));
        opener.openCalldata(index, 5, 0, other, "");
        vm.expectRevert(abi.encodeWithSelector(BatchOpener.NoSuchTransaction.selector, uint64(5), uint256(1)));
        opener.openCalldata(index, 5, 1, batch, "");
        vm.expectRevert(abi.encodeWithSelector(BatchOpener.NoSuchTransaction.selector, uint64(6), uint256(0)));
        opener.openCalldata(index, 6, 0, batch, "");
        vm.expectRevert(abi.encodeWithSelector(BatchOpener.WrongPosting.selector, index));
        opener.openBlobs(index, 5, 0, hex"0000", "");
        vm.expectRevert(abi.encodeWithSelector(BatchInbox.UnknownBatch.selector, index + 1));
        opener.openCalldata(index + 1, 5, 0, batch, "");
    }
}
