// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Base} from "./utils/Base.sol";
import {BatchInbox} from "../src/BatchInbox.sol";

contract BatchInboxTest is Base {
    BatchInbox internal inbox;
    address internal constant BATCHER = address(0xBA7C);

    function setUp() public {
        inbox = new BatchInbox(BATCHER);
    }

    function test_CalldataBatchesAreCommittedAndChained() public {
        bytes memory first = hex"0102030405";
        bytes memory second = new bytes(1000);
        second[999] = 0x7f;
        vm.roll(77);
        vm.prank(BATCHER);
        vm.assertEq(inbox.postCalldata(first), 0, "first index");
        vm.prank(BATCHER);
        vm.assertEq(inbox.postCalldata(second), 1, "second index");

        BatchInbox.Batch memory batch = inbox.getBatch(1);
        vm.assertEq(batch.commitment, keccak256(second), "commitment is the data's hash");
        vm.assertEq(uint256(batch.l1BlockNumber), 77, "l1 block");
        vm.assertTrue(batch.kind == BatchInbox.Kind.Calldata, "kind");
        bytes32 chained = keccak256(abi.encodePacked(bytes32(0), uint256(0), uint8(0), keccak256(first)));
        chained = keccak256(abi.encodePacked(chained, uint256(1), uint8(0), keccak256(second)));
        vm.assertEq(inbox.accumulator(), chained, "accumulator");
        vm.assertEq(inbox.batchCount(), 2, "count");
    }

    function test_BlobBatchesKeepTheirVersionedHashes() public {
        bytes32[] memory hashes = new bytes32[](2);
        hashes[0] = bytes32(uint256(0x01) << 248 | 0xaa);
        hashes[1] = bytes32(uint256(0x01) << 248 | 0xbb);
        vm.blobhashes(hashes);
        vm.prank(BATCHER);
        uint256 index = inbox.postBlobs(2);
        BatchInbox.Batch memory batch = inbox.getBatch(index);
        vm.assertEq(batch.commitment, keccak256(abi.encodePacked(hashes)), "commitment");
        vm.assertEq(uint256(batch.blobCount), 2, "blob count");
        vm.assertTrue(batch.kind == BatchInbox.Kind.Blobs, "kind");
        bytes32[] memory stored = inbox.getBlobHashes(index);
        vm.assertEq(stored.length, 2, "stored");
        vm.assertEq(stored[1], hashes[1], "second hash");

        vm.prank(BATCHER);
        vm.expectRevert(abi.encodeWithSelector(BatchInbox.MissingBlob.selector, 2));
        inbox.postBlobs(3);
    }

    function test_RejectsBadPosts() public {
        vm.expectRevert(BatchInbox.NotBatcher.selector);
        inbox.postCalldata(hex"01");
        vm.expectRevert(BatchInbox.NotBatcher.selector);
        inbox.postBlobs(1);
        vm.startPrank(BATCHER);
        vm.expectRevert(abi.encodeWithSelector(BatchInbox.CalldataSizeOutOfRange.selector, 0));
        inbox.postCalldata("");
        uint256 tooBig = inbox.CALLDATA_BATCH_BYTES_MAX() + 1;
        vm.expectRevert(abi.encodeWithSelector(BatchInbox.CalldataSizeOutOfRange.selector, tooBig));
        inbox.postCalldata(new bytes(tooBig));
        vm.expectRevert(abi.encodeWithSelector(BatchInbox.BlobCountOutOfRange.selector, 0));
        inbox.postBlobs(0);
        vm.expectRevert(abi.encodeWithSelector(BatchInbox.BlobCountOutOfRange.selector, 10));
        inbox.postBlobs(10);
        vm.expectRevert(abi.encodeWithSelector(BatchInbox.MissingBlob.selector, 0));
        inbox.postBlobs(1);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(BatchInbox.UnknownBatch.selector, 0));
        inbox.getBatch(0);
    }
}
