// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title OutputRegistry
/// @notice Holds the L2 output roots the proposer posts (state root and block hash of an
/// L2 block), each with a bond. An output finalizes once its challenge window has passed
/// and no dispute on it is open; withdrawals are proven against finalized outputs only.
/// @dev Outputs form one sequence with strictly increasing L2 block numbers. The
/// `resolver` (the DisputeGame contract) marks disputes open and closed and can
/// invalidate an unfinalized output: it and every later output are removed, the invalid
/// output's bond goes to the address the resolver names, and the later outputs' bonds
/// return to their proposers. Bonds are paid out by pull (`claimCredit`).
/// See docs/spec/settlement.md and docs/spec/disputes.md.
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
        /// @notice Who posted it (and gets the bond back).
        address proposer;
        /// @notice Wei held as bond (zero once reclaimed or moved).
        uint96 bond;
    }

    /// @notice The only address allowed to propose.
    address public immutable proposer;
    /// @notice The only address allowed to invalidate outputs.
    address public immutable resolver;
    /// @notice Seconds after its proposal before an output is final.
    uint64 public immutable challengeWindow;
    /// @notice Wei every proposal must carry.
    uint96 public immutable bondAmount;

    Output[] private outputs;

    /// @notice Wei each address can claim (returned or won bonds).
    mapping(address => uint256) public credit;

    /// @notice An output was posted.
    event OutputProposed(
        uint256 indexed index,
        uint64 indexed l2BlockNumber,
        bytes32 stateRoot,
        bytes32 blockHash,
        uint64 position,
        address proposer
    );
    /// @notice Outputs from `fromIndex` on were removed; `fromIndex` was invalid.
    event OutputsInvalidated(uint256 indexed fromIndex, uint256 removed, address bondRecipient);
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
    /// @notice The bond sent differs from `bondAmount`.
    error WrongBond(uint256 sent, uint256 required);
    /// @notice The L2 block is not after the latest output's.
    error BlockNotAfterLatest(uint64 l2BlockNumber, uint64 latest);
    /// @notice Block 0 (the genesis) cannot be proposed.
    error GenesisNotProposed();
    /// @notice No output at this index.
    error UnknownOutput(uint256 index);
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
    /// `position` (`Output.position`), with the bond as value.
    /// @return index The new output's index.
    function propose(uint64 l2BlockNumber, bytes32 stateRoot, bytes32 blockHash, uint64 position)
        external
        payable
        returns (uint256 index)
    {
        if (msg.sender != proposer) revert NotProposer();
        if (msg.value != bondAmount) revert WrongBond(msg.value, bondAmount);
        // Block 0 is the genesis every dispute anchors on; it is not proposed.
        if (l2BlockNumber == 0) revert GenesisNotProposed();
        uint256 count = outputs.length;
        if (count > 0) {
            uint64 latest = outputs[count - 1].l2BlockNumber;
            if (l2BlockNumber <= latest) revert BlockNotAfterLatest(l2BlockNumber, latest);
        }
        outputs.push(
            Output({
                stateRoot: stateRoot,
                blockHash: blockHash,
                l2BlockNumber: l2BlockNumber,
                proposedAt: uint64(block.timestamp),
                openDisputes: 0,
                position: position,
                proposer: msg.sender,
                bond: uint96(msg.value)
            })
        );
        emit OutputProposed(count, l2BlockNumber, stateRoot, blockHash, position, msg.sender);
        return count;
    }

    /// @notice Removes output `index` (proven invalid) and every later output. The invalid
    /// output's bond is credited to `bondRecipient`; later bonds to their proposers.
    function invalidate(uint256 index, address bondRecipient) external {
        if (msg.sender != resolver) revert NotResolver();
        if (bondRecipient == address(0)) revert ZeroAddress();
        uint256 count = outputs.length;
        if (index >= count) revert UnknownOutput(index);
        if (isFinalized(index)) revert AlreadyFinal(index);
        credit[bondRecipient] += outputs[index].bond;
        for (uint256 i = count - 1; i > index; i--) {
            Output storage later = outputs[i];
            credit[later.proposer] += later.bond;
            outputs.pop();
        }
        outputs.pop();
        emit OutputsInvalidated(index, count - index, bondRecipient);
    }

    /// @notice The resolver opened a dispute on output `index`: it cannot finalize until
    /// the dispute is closed (or it is invalidated).
    function disputeOpened(uint256 index) external {
        if (msg.sender != resolver) revert NotResolver();
        if (index >= outputs.length) revert UnknownOutput(index);
        Output storage output = outputs[index];
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

    /// @notice Whether output `index` exists, its challenge window has passed and no
    /// dispute on it is open.
    function isFinalized(uint256 index) public view returns (bool) {
        if (index >= outputs.length) return false;
        Output storage output = outputs[index];
        return output.openDisputes == 0 && !inChallengeWindow(index);
    }

    /// @notice Whether output `index` exists and may still be challenged (a dispute on it
    /// may be opened).
    function inChallengeWindow(uint256 index) public view returns (bool) {
        if (index >= outputs.length) return false;
        // The window is hours on a live chain; a validator's few seconds of skew do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        return block.timestamp < uint256(outputs[index].proposedAt) + challengeWindow;
    }

    /// @notice Output `index`; reverts when there is none.
    function getOutput(uint256 index) external view returns (Output memory) {
        if (index >= outputs.length) revert UnknownOutput(index);
        return outputs[index];
    }

    /// @notice Number of outputs (valid ones; invalidated outputs are removed).
    function outputCount() external view returns (uint256) {
        return outputs.length;
    }

    /// @notice The L2 block of the latest output (0 when there is none).
    function latestBlockNumber() external view returns (uint64) {
        uint256 count = outputs.length;
        return count == 0 ? 0 : outputs[count - 1].l2BlockNumber;
    }
}
