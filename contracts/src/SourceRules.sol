// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {BatchInbox} from "./BatchInbox.sol";
import {BatchOpener} from "./BatchOpener.sol";
import {IPortalRecords} from "./PortalRecords.sol";

/// @title SourceRules
/// @notice Judges where derivation takes an L2 block from (docs/spec/disputes.md §5.3), for
/// the dispute game: given the agreed parent block and its derivation position, which
/// positions are *candidates* for the next block, and whether a revealed block fits the
/// source its position names. A position is `2b + 1` for inbox batch `b` and `2c` for
/// derivation's block for an overdue forced record, put before batch `c`; numeric order
/// is derivation's order, and derivation takes the first candidate.
/// @dev Reads batches through the `BatchOpener` (header and block list only), the inbox's
/// posting blocks and the Portal's forced records. Kept apart from the game, which calls
/// it, for the contract size limit.
contract SourceRules {
    /// @notice The disputed block as the defender revealed it, with its agreed parent.
    struct Revealed {
        uint64 number;
        uint64 timestampMs;
        uint32 transactionCount;
        uint64 position;
        bytes32 parentHash;
        uint64 parentTimestampMs;
        uint64 parentPosition;
        /// @dev The L1 block the disputed output is judged against: only batches posted,
        /// and forced records overdue, by then are sources.
        uint64 l1Head;
    }

    /// @notice Reads what a posted batch says.
    BatchOpener public immutable opener;
    /// @notice The chain's batch inbox (the opener's).
    BatchInbox public immutable inbox;
    /// @notice The chain's Portal (the opener's): forced records and their L1 blocks.
    IPortalRecords public immutable portal;

    /// @param opener_ The batch opener of the chain's inbox and Portal.
    constructor(BatchOpener opener_) {
        opener = opener_;
        inbox = opener_.inbox();
        portal = opener_.portal();
    }

    /// @notice Whether `b`, its position odd (batch `(position − 1) / 2`), is not what
    /// derivation makes: the batch is not a candidate, the position comes before the
    /// parent's, or the batch gives the block another time or transaction count.
    /// `opening`, `blobs`: the batch's header and block list, as for
    /// `BatchOpener.describeBlobs` (blob field elements) / `describeCalldata` (the batch).
    function batchBlockFault(Revealed calldata b, bytes calldata opening, bool blobs) external view returns (bool) {
        (bool isCandidate, BatchOpener.BlockView memory v) = candidate(b, b.position, 0, opening, blobs);
        return !isCandidate || b.position < b.parentPosition || v.timestampMs != b.timestampMs
            || v.transactionCount != b.transactionCount;
    }

    /// @notice Whether `b`, its position even, is not derivation's block for forced
    /// record `record` after its parent: `record` is not the chain's next (`nextForced`)
    /// or does not exist, the block does not hold one transaction at the record's L1 time
    /// (ms) or its parent's if later, or its position is not that record's (a candidate)
    /// or comes before the parent's.
    function forcedBlockFault(Revealed calldata b, uint64 record, uint64 nextForced) external view returns (bool) {
        uint64 timestampMs = opener.forcedBlockTime(record, b.parentTimestampMs);
        (bool isCandidate,) = candidate(b, b.position, nextForced, "", false);
        return !isCandidate || b.position < b.parentPosition || timestampMs == 0 || b.transactionCount != 1
            || b.timestampMs != timestampMs || nextForced != record;
    }

    /// @notice Whether position `earlier`, at or after the parent's and before `b`'s, is a
    /// candidate for `b`'s block: derivation would take it from there instead.
    function earlierCandidate(
        Revealed calldata b,
        uint64 earlier,
        uint64 nextForced,
        bytes calldata opening,
        bool blobs
    ) external view returns (bool) {
        if (earlier < b.parentPosition || earlier >= b.position) return false;
        (bool isCandidate,) = candidate(b, earlier, nextForced, opening, blobs);
        return isCandidate;
    }

    /// @notice Whether derivation, having taken `b`'s parent, could take block `b.number`
    /// from `position`, and what that batch says of the block:
    /// * an odd position, batch `(position − 1) / 2`: when it is the parent's position, the
    ///   batch must carry the block (derivation reads a batch whole); otherwise it must
    ///   exist and *link* there — well formed, first block `b.number`, parent
    ///   `b.parentHash`, first time not before the parent's, no block earlier than the
    ///   one before it;
    /// * an even position `2c`: derivation's block for `nextForced`, the chain's next
    ///   forced record, goes before batch `c` — the first batch posted after the record's
    ///   window ended (if none yet, the window must have ended by now).
    /// A malformed batch structure is no candidate; a fault of the caller's (an element
    /// not opened or not proven, a calldata batch that is not the posting) reverts.
    function candidate(Revealed calldata b, uint64 position, uint64 nextForced, bytes memory opening, bool blobs)
        public
        view
        returns (bool, BatchOpener.BlockView memory v)
    {
        if (position % 2 == 0) return (forcedBefore(nextForced, position / 2, b.l1Head), v);
        uint256 index = position / 2;
        // A batch posted after the output's L1 head is no source for it.
        if (index >= inbox.batchCount() || inbox.getBatch(index).l1BlockNumber > b.l1Head) return (false, v);
        // A plain call, so that a revert for the batch's structure can be told from the
        // caller's (both describe functions take the same arguments).
        bytes4 describe = blobs ? BatchOpener.describeBlobs.selector : BatchOpener.describeCalldata.selector;
        (bool described, bytes memory result) =
            address(opener).staticcall(abi.encodeWithSelector(describe, index, b.number, opening));
        if (!described) {
            if (!structural(result)) {
                assembly ("memory-safe") {
                    revert(add(result, 32), mload(result))
                }
            }
            return (false, v);
        }
        v = abi.decode(result, (BatchOpener.BlockView));
        bool first = v.firstBlock == b.number;
        if (position == b.parentPosition) return (v.carried && (!first || v.parentHash == b.parentHash), v);
        return (
            v.carried && first && v.parentHash == b.parentHash && v.firstTimestampMs >= b.parentTimestampMs
                && v.ordered,
            v
        );
    }

    /// @dev Whether derivation, reading L1 up to block `l1Head`, puts its block for forced
    /// record `record` before batch `c`: the record exists, batch `c − 1` (if any) was
    /// posted by the end of its window (and by `l1Head`), and batch `c` after the window
    /// (or, if no batch `c` was posted by `l1Head`, L1 was read through the window's
    /// last block by then, so derivation included it: `settlement.md` §7).
    function forcedBefore(uint64 record, uint64 c, uint64 l1Head) internal view returns (bool) {
        uint64 recordedAt = portal.forcedBlocks(record);
        if (recordedAt == 0) return false;
        uint64 windowEnd = recordedAt + portal.forcedInclusionWindow();
        uint256 count = inbox.batchCount();
        if (c > count) return false;
        if (c > 0) {
            uint64 previousAt = inbox.getBatch(c - 1).l1BlockNumber;
            if (previousAt > windowEnd || previousAt > l1Head) return false;
        }
        if (c < count) {
            uint64 postedAt = inbox.getBatch(c).l1BlockNumber;
            if (postedAt <= l1Head) return postedAt > windowEnd;
        }
        return l1Head >= windowEnd;
    }

    /// @dev Whether a revert of the opener's `describe*` is the batch's fault (its
    /// structure: docs/spec/batches.md §1) rather than the caller's.
    function structural(bytes memory reason) internal pure returns (bool) {
        if (reason.length < 4) return false;
        // casting to 'bytes4' is safe because it takes the selector, the first 4 bytes
        // forge-lint: disable-next-line(unsafe-typecast)
        bytes4 selector = bytes4(reason);
        return selector == BatchOpener.Invalid.selector || selector == BatchOpener.Truncated.selector
            || selector == BatchOpener.UnknownVersion.selector;
    }
}
