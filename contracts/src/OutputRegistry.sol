// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Bonds} from "./Bonds.sol";

/// @title OutputRegistry
/// @notice Holds the L2 output roots the proposer posts (state root and block hash of an
/// L2 block), each with a bond. An output finalizes once its challenge window has passed
/// and no dispute on it is open; withdrawals are proven against finalized outputs only.
/// @dev Outputs keep their index for ever. The outputs not removed form one sequence with
/// strictly increasing L2 block numbers (a doubly linked list, so removing one is O(1)).
/// The `resolver` (the DisputeGame contract) marks disputes open and closed and can
/// invalidate an output that is not final: that output alone is removed (each output
/// stands on its own: its block hash commits to its own chain, so a later correct output
/// does not depend on an earlier wrong one) and its bond goes to the address the resolver
/// names. Finality is monotone: an output is final only when every earlier output is final
/// or removed, and a final output is never removed. Bonds are paid out by pull
/// (`claimCredit`). See docs/spec/settlement.md and docs/spec/disputes.md.
contract OutputRegistry {
    /// @notice One posted output.
    struct Output {
        /// @notice The L2 state root after block `l2BlockNumber`.
        bytes32 stateRoot;
        /// @notice The hash of that L2 block.
        bytes32 blockHash;
        /// @notice The L2 block the output is for.
        uint64 l2BlockNumber;
        /// @notice L1 timestamp of the proposal.
        uint64 proposedAt;
        /// @notice Disputes on this output that are still open (it cannot finalize).
        uint32 openDisputes;
        /// @notice Where derivation placed the block (docs/spec/disputes.md §5.3): `2b + 1`
        /// for inbox batch `b`, `2c` for a forced block put before batch `c`.
        uint64 position;
        /// @notice Removed by a won dispute or a proven mismatch (its index is not reused).
        /// In the slot of the fields above, so a finality check reads one slot per output.
        bool removed;
        /// @notice Who posted it (and gets the bond back).
        address proposer;
        /// @notice Wei held as bond (zero once reclaimed or moved).
        uint96 bond;
        /// @notice Index + 1 of the previous and the next output not removed (0: none).
        uint64 previous;
        uint64 next;
        /// @notice The L1 block the output is judged against: the block before its
        /// proposal. The output claims that the data on L1 up to this block derives its
        /// block; data posted later cannot make it right (docs/spec/disputes.md §1).
        uint64 l1Head;
    }

    /// @notice The only address allowed to propose.
    address public immutable proposer;
    /// @notice The only address allowed to invalidate outputs.
    address public immutable resolver;
    /// @notice Seconds after its proposal before an output is final.
    uint64 public immutable challengeWindow;
    /// @notice Wei every proposal and every challenge must carry at least (more when L1 gas
    /// is dear: `requiredBond`).
    uint96 public immutable bondAmount;

    /// @notice How far past the finality cursor `isFinalized` looks: an output further
    /// ahead is final once `advanceFinality` has moved the cursor closer. Bounds the gas
    /// of every finality check, `invalidate`'s included, whatever follows.
    uint256 public constant FINALITY_LOOKAHEAD = 64;
    /// @notice How far each proposal moves the finality cursor.
    uint256 public constant FINALITY_STEPS_PER_PROPOSAL = 16;

    Output[] private outputs;
    /// @notice Index + 1 of the newest output not removed (0: none).
    uint64 private newest;
    /// @notice Every output below this index is final or removed.
    uint256 public finalityCursor;

    /// @notice Wei each address can claim (returned or won bonds).
    mapping(address => uint256) public credit;
    /// @notice Wei burnt: the burnt halves of removed outputs' bonds (`Bonds.split`),
    /// held here for ever.
    uint256 public burnt;

    /// @notice An output was posted.
    event OutputProposed(
        uint256 indexed index,
        uint64 indexed l2BlockNumber,
        bytes32 stateRoot,
        bytes32 blockHash,
        uint64 position,
        address proposer
    );
    /// @notice Output `index` was removed as invalid; the winner's part of its bond went to
    /// `bondRecipient`.
    event OutputInvalidated(uint256 indexed index, address bondRecipient);
    /// @notice Every output below `cursor` is final or removed.
    event FinalityAdvanced(uint256 cursor);
    /// @notice A dispute on output `index` was opened (`open`) or closed.
    event DisputeMarked(uint256 indexed index, bool open, uint32 openDisputes);
    /// @notice A finalized output's bond went back to its proposer's credit.
    event BondReclaimed(uint256 indexed index, address proposer, uint256 amount);
    /// @notice Credit was paid out.
    event CreditClaimed(address indexed account, uint256 amount);

    /// @notice The caller is not the proposer.
    error NotProposer();
    /// @notice The caller is not the resolver.
    error NotResolver();
    /// @notice The bond sent is below `requiredBond()` (or does not fit 96 bits).
    error WrongBond(uint256 sent, uint256 required);
    /// @notice The L2 block is not after the latest output's.
    error BlockNotAfterLatest(uint64 l2BlockNumber, uint64 latest);
    /// @notice Block 0 (the genesis) cannot be proposed.
    error GenesisNotProposed();
    /// @notice No output at this index.
    error UnknownOutput(uint256 index);
    /// @notice The output was removed.
    error OutputRemoved(uint256 index);
    /// @notice The output's challenge window has passed: no dispute may open on it.
    error WindowClosed(uint256 index);
    /// @notice The output is final and can no longer be invalidated.
    error AlreadyFinal(uint256 index);
    /// @notice The output is not final yet.
    error NotFinal(uint256 index);
    /// @notice The output has no open dispute to close.
    error NoOpenDispute(uint256 index);
    /// @notice The bond was already reclaimed.
    error BondAlreadyReclaimed(uint256 index);
    /// @notice Nothing to claim.
    error NoCredit();
    /// @notice Sending ether failed.
    error PaymentFailed();
    /// @notice A zero address where one is required.
    error ZeroAddress();

    /// @param proposer_ The address allowed to propose.
    /// @param resolver_ The address allowed to invalidate.
    /// @param challengeWindow_ Seconds before an output is final.
    /// @param bondAmount_ Wei each proposal carries.
    constructor(address proposer_, address resolver_, uint64 challengeWindow_, uint96 bondAmount_) {
        if (proposer_ == address(0) || resolver_ == address(0)) revert ZeroAddress();
        proposer = proposer_;
        resolver = resolver_;
        challengeWindow = challengeWindow_;
        bondAmount = bondAmount_;
    }

    /// @notice Posts the output of L2 block `l2BlockNumber` at derivation position
    /// `position` (`Output.position`), with the bond as value (at least `requiredBond()`).
    /// @return index The new output's index.
    function propose(uint64 l2BlockNumber, bytes32 stateRoot, bytes32 blockHash, uint64 position)
        external
        payable
        returns (uint256 index)
    {
        if (msg.sender != proposer) revert NotProposer();
        uint256 required = requiredBond();
        if (msg.value < required || msg.value > type(uint96).max) revert WrongBond(msg.value, required);
        // Block 0 is the genesis every dispute anchors on; it is not proposed.
        if (l2BlockNumber == 0) revert GenesisNotProposed();
        uint256 count = outputs.length;
        uint64 previous = newest;
        if (previous != 0) {
            uint64 latest = outputs[previous - 1].l2BlockNumber;
            if (l2BlockNumber <= latest) revert BlockNotAfterLatest(l2BlockNumber, latest);
            outputs[previous - 1].next = uint64(count + 1);
        }
        newest = uint64(count + 1);
        outputs.push(
            Output({
                stateRoot: stateRoot,
                blockHash: blockHash,
                l2BlockNumber: l2BlockNumber,
                proposedAt: uint64(block.timestamp),
                openDisputes: 0,
                position: position,
                removed: false,
                proposer: msg.sender,
                bond: uint96(msg.value),
                previous: previous,
                next: 0,
                l1Head: uint64(block.number - 1)
            })
        );
        emit OutputProposed(count, l2BlockNumber, stateRoot, blockHash, position, msg.sender);
        advance(FINALITY_STEPS_PER_PROPOSAL);
        return count;
    }

    /// @notice Removes output `index` (proven invalid), in O(1) whatever follows it: later
    /// outputs stay. Its bond splits by `Bonds.split`: the winner's part is credited to
    /// `bondRecipient`, the rest is burnt. A final output cannot be removed.
    function invalidate(uint256 index, address bondRecipient) external {
        if (msg.sender != resolver) revert NotResolver();
        if (bondRecipient == address(0)) revert ZeroAddress();
        Output storage output = live(index);
        if (isFinalized(index)) revert AlreadyFinal(index);
        output.removed = true;
        (uint256 toWinner, uint256 burn) = Bonds.split(output.bond);
        output.bond = 0;
        credit[bondRecipient] += toWinner;
        burnt += burn;
        uint64 previous = output.previous;
        uint64 next = output.next;
        if (previous != 0) outputs[previous - 1].next = next;
        if (next != 0) outputs[next - 1].previous = previous;
        else newest = previous;
        emit OutputInvalidated(index, bondRecipient);
    }

    /// @notice The resolver opened a dispute on output `index`: it cannot finalize until
    /// the dispute is closed (or it is removed). Only inside the challenge window, so an
    /// output that is ready to finalize stays ready.
    function disputeOpened(uint256 index) external {
        if (msg.sender != resolver) revert NotResolver();
        Output storage output = live(index);
        if (!inChallengeWindow(index)) revert WindowClosed(index);
        output.openDisputes += 1;
        emit DisputeMarked(index, true, output.openDisputes);
    }

    /// @notice The resolver closed a dispute on output `index` without invalidating it.
    function disputeClosed(uint256 index) external {
        if (msg.sender != resolver) revert NotResolver();
        if (index >= outputs.length) revert UnknownOutput(index);
        Output storage output = outputs[index];
        if (output.openDisputes == 0) revert NoOpenDispute(index);
        output.openDisputes -= 1;
        emit DisputeMarked(index, false, output.openDisputes);
    }

    /// @notice Returns a finalized output's bond to its proposer's credit.
    function reclaimBond(uint256 index) external {
        if (!isFinalized(index)) revert NotFinal(index);
        Output storage output = outputs[index];
        uint256 bond = output.bond;
        if (bond == 0) revert BondAlreadyReclaimed(index);
        output.bond = 0;
        credit[output.proposer] += bond;
        emit BondReclaimed(index, output.proposer, bond);
    }

    /// @notice Pays the caller's credit.
    function claimCredit() external {
        uint256 amount = credit[msg.sender];
        if (amount == 0) revert NoCredit();
        credit[msg.sender] = 0;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert PaymentFailed();
        emit CreditClaimed(msg.sender, amount);
    }

    /// @notice The least bond a proposal or a challenge carries now: `bondAmount`, or more
    /// when L1 gas is so dear that the winner's half of it would not pay for a game
    /// (`Bonds.minimum` at the block's base fee).
    function requiredBond() public view returns (uint256) {
        uint256 floor = Bonds.minimum(block.basefee);
        return floor > bondAmount ? floor : bondAmount;
    }

    /// @notice Moves the finality cursor over at most `maxSteps` outputs that are final
    /// (window passed, no dispute open) or removed; anyone may call it. Returns the cursor.
    function advanceFinality(uint256 maxSteps) external returns (uint256) {
        return advance(maxSteps);
    }

    /// @notice Whether output `index` is final: it exists, is not removed, and it and
    /// every output before it are final or removed. Outputs below the cursor are; past
    /// it, at most `FINALITY_LOOKAHEAD` outputs are checked (further ones are final once
    /// the cursor has moved: `advanceFinality`).
    function isFinalized(uint256 index) public view returns (bool) {
        if (index >= outputs.length || outputs[index].removed) return false;
        uint256 cursor = finalityCursor;
        if (index < cursor) return true;
        if (index - cursor >= FINALITY_LOOKAHEAD) return false;
        for (uint256 i = cursor; i <= index; i++) {
            if (!settled(outputs[i])) return false;
        }
        return true;
    }

    /// @notice Whether output `index` exists, is not removed and may still be challenged
    /// (a dispute on it may be opened).
    function inChallengeWindow(uint256 index) public view returns (bool) {
        if (index >= outputs.length || outputs[index].removed) return false;
        // The window is hours on a live chain; a validator's few seconds of skew do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        return block.timestamp < uint256(outputs[index].proposedAt) + challengeWindow;
    }

    /// @notice Output `index`; reverts when there is none.
    function getOutput(uint256 index) external view returns (Output memory) {
        if (index >= outputs.length) revert UnknownOutput(index);
        return outputs[index];
    }

    /// @notice Number of outputs ever proposed (removed ones included: indices are not
    /// reused).
    function outputCount() external view returns (uint256) {
        return outputs.length;
    }

    /// @notice The L2 block of the newest output not removed (0 when there is none).
    function latestBlockNumber() external view returns (uint64) {
        uint64 latest = newest;
        return latest == 0 ? 0 : outputs[latest - 1].l2BlockNumber;
    }

    /// @dev Output `index`, which must exist and not be removed.
    function live(uint256 index) internal view returns (Output storage output) {
        if (index >= outputs.length) revert UnknownOutput(index);
        output = outputs[index];
        if (output.removed) revert OutputRemoved(index);
    }

    /// @dev Removed, or its window has passed with no dispute open (it stays so: no dispute
    /// opens after the window).
    function settled(Output storage output) internal view returns (bool) {
        if (output.removed) return true;
        // forge-lint: disable-next-line(block-timestamp)
        return output.openDisputes == 0 && block.timestamp >= uint256(output.proposedAt) + challengeWindow;
    }

    /// @dev Moves the cursor over at most `maxSteps` settled outputs.
    function advance(uint256 maxSteps) internal returns (uint256 cursor) {
        cursor = finalityCursor;
        uint256 count = outputs.length;
        uint256 end = maxSteps < count - cursor ? cursor + maxSteps : count;
        while (cursor < end && settled(outputs[cursor])) {
            cursor++;
        }
        if (cursor != finalityCursor) {
            finalityCursor = cursor;
            emit FinalityAdvanced(cursor);
        }
    }
}
