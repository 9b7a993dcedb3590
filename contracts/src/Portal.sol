// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {OutputRegistry} from "./OutputRegistry.sol";
import {PortalRecords} from "./PortalRecords.sol";
import {StateProof} from "./StateProof.sol";

/// @title Portal
/// @notice Where collateral enters and leaves Straddle. A deposit locks the ERC-20
/// collateral here and records an ordered, hashed deposit that the L2 must credit (in
/// index order; derivation reads the `DepositQueued` events and the hash chain). A
/// withdrawal requested on L2 is paid here, once, to its L1 recipient after an output
/// containing it has finalized, against a Merkle proof of its withdrawal leaf. A forced
/// transaction is a signed L2 transaction submitted here instead of to the sequencer: the
/// L2 must include it, in index order, within `forcedInclusionWindow` L1 blocks, or
/// derivation includes it at the window's end (docs/spec/settlement.md, forced
/// inclusion).
/// @dev Amounts are collateral token units; the L2 counts the same units (micro-USDC for
/// the 6-decimal devnet token). See docs/spec/settlement.md.
contract Portal {
    using SafeERC20 for IERC20;

    /// @notice A withdrawal as the L2 records it under state key `0x02 ‖ index`.
    struct Withdrawal {
        /// @notice Its index in the L2's withdrawal sequence.
        uint64 index;
        /// @notice The L2 account debited.
        address account;
        /// @notice Who receives the tokens on L1.
        address recipient;
        /// @notice Token units.
        uint128 amount;
        /// @notice The L2 block that recorded it.
        uint64 l2BlockNumber;
    }

    /// @notice State-key tag of a withdrawal leaf (docs/spec/state.md).
    uint8 public constant WITHDRAWAL_TAG = 0x02;
    /// @notice Largest single deposit (the L2 keeps balances in 128 bits; this bound keeps
    /// any sum of deposits far from overflowing).
    uint256 public constant DEPOSIT_MAX = type(uint96).max;

    /// @notice Largest forced transaction, bytes (an order, a cancel or a withdrawal is
    /// well under it).
    uint256 public constant FORCED_TRANSACTION_BYTES_MAX = 2_048;

    /// @notice The collateral token.
    IERC20 public immutable collateral;
    /// @notice L1 blocks within which the L2 must include a forced transaction.
    uint64 public immutable forcedInclusionWindow;
    /// @notice Where finalized outputs come from.
    OutputRegistry public immutable outputs;

    /// @notice Deposits made so far (the next deposit's index).
    uint64 public depositCount;
    /// @notice Hash chain over every deposit: keccak256(previous ‖ depositHash).
    bytes32 public depositAccumulator;
    /// @notice Each deposit's hash, by index.
    mapping(uint64 => bytes32) public depositHashes;
    /// @notice The L1 block each deposit was made in, by index (a batch may carry a
    /// deposit only from a later L1 block: what the batch opener checks).
    mapping(uint64 => uint64) public depositBlocks;
    /// @notice Withdrawals already paid, by `withdrawalId` (index and content): a payout
    /// of another withdrawal under the same index (a state no honest chain has) cannot
    /// block the one the canonical chain holds.
    mapping(bytes32 => bool) public withdrawalPaid;
    /// @notice Forced transactions submitted so far (the next one's index).
    uint64 public forcedCount;
    /// @notice Hash chain over every forced transaction: keccak256(previous ‖ forcedHash).
    bytes32 public forcedAccumulator;
    /// @notice Each forced transaction's hash, by index (what the one-step prover checks a
    /// forced transaction of an L2 block against).
    mapping(uint64 => bytes32) public forcedHashes;
    /// @notice The L1 block each forced transaction was submitted in, by index.
    mapping(uint64 => uint64) public forcedBlocks;
    /// @notice The L1 time (seconds) each forced transaction was submitted at, by index: a
    /// block derivation makes for it takes this time, or its parent's if later.
    mapping(uint64 => uint64) public forcedTimes;

    /// @notice A deposit the L2 must credit to `l2Recipient`.
    event DepositQueued(
        uint64 indexed index,
        address indexed from,
        address indexed l2Recipient,
        uint256 amount,
        bytes32 depositHash,
        bytes32 accumulator
    );
    /// @notice A signed L2 transaction the L2 must include (raw canonical bytes, unchecked
    /// here: the L2 checks its signature when it executes it).
    event TransactionForced(
        uint64 indexed index, address indexed sender, bytes transaction, bytes32 forcedHash, bytes32 accumulator
    );
    /// @notice An L2 withdrawal was paid on L1.
    event WithdrawalFinalized(uint64 indexed index, address indexed recipient, uint256 amount, uint256 outputIndex);

    /// @notice Deposits must be positive and at most `DEPOSIT_MAX`.
    error DepositAmountOutOfRange(uint256 amount);
    /// @notice A forced transaction must have 1 to `FORCED_TRANSACTION_BYTES_MAX` bytes.
    error ForcedTransactionSizeOutOfRange(uint256 size);
    /// @notice The inclusion window must be at least one block.
    error ZeroWindow();
    /// @notice A zero address where one is required.
    error ZeroAddress();
    /// @notice The output is not finalized (unknown, in its window, or invalidated).
    error OutputNotFinalized(uint256 outputIndex);
    /// @notice The withdrawal was already paid.
    error WithdrawalAlreadyFinalized(bytes32 id);
    /// @notice The proof does not show this withdrawal in the output's state.
    error InvalidWithdrawalProof();

    /// @param collateral_ The ERC-20 collateral.
    /// @param outputs_ The output registry withdrawals are proven against.
    /// @param forcedInclusionWindow_ L1 blocks within which a forced transaction is included.
    constructor(IERC20 collateral_, OutputRegistry outputs_, uint64 forcedInclusionWindow_) {
        if (address(collateral_) == address(0) || address(outputs_) == address(0)) revert ZeroAddress();
        if (forcedInclusionWindow_ == 0) revert ZeroWindow();
        collateral = collateral_;
        outputs = outputs_;
        forcedInclusionWindow = forcedInclusionWindow_;
    }

    /// @notice Submits `transaction` (a signed L2 transaction in its canonical encoding,
    /// docs/spec/transactions.md) for forced inclusion. The L2 executes it like any other:
    /// a bad signature or a refused action changes nothing, but the inclusion is final.
    /// @return index The forced transaction's index.
    function forceTransaction(bytes calldata transaction) external returns (uint64 index) {
        if (transaction.length == 0 || transaction.length > FORCED_TRANSACTION_BYTES_MAX) {
            revert ForcedTransactionSizeOutOfRange(transaction.length);
        }
        index = forcedCount;
        bytes32 forcedHash = hashForced(index, msg.sender, transaction);
        bytes32 accumulator = keccak256(abi.encodePacked(forcedAccumulator, forcedHash));
        forcedHashes[index] = forcedHash;
        forcedBlocks[index] = uint64(block.number);
        forcedTimes[index] = uint64(block.timestamp);
        forcedAccumulator = accumulator;
        forcedCount = index + 1;
        emit TransactionForced(index, msg.sender, transaction, forcedHash, accumulator);
    }

    /// @notice The hash a forced transaction is recorded under (the L2 recomputes it).
    function hashForced(uint64 index, address sender, bytes calldata transaction) public pure returns (bytes32) {
        return PortalRecords.forcedHash(index, sender, keccak256(transaction));
    }

    /// @notice Locks `amount` of the caller's collateral (approve first) for `l2Recipient`.
    /// @return index The deposit's index.
    function deposit(address l2Recipient, uint256 amount) external returns (uint64 index) {
        if (l2Recipient == address(0)) revert ZeroAddress();
        if (amount == 0 || amount > DEPOSIT_MAX) revert DepositAmountOutOfRange(amount);
        collateral.safeTransferFrom(msg.sender, address(this), amount);
        index = depositCount;
        bytes32 depositHash = hashDeposit(index, msg.sender, l2Recipient, amount);
        bytes32 accumulator = keccak256(abi.encodePacked(depositAccumulator, depositHash));
        depositHashes[index] = depositHash;
        depositBlocks[index] = uint64(block.number);
        depositAccumulator = accumulator;
        depositCount = index + 1;
        emit DepositQueued(index, msg.sender, l2Recipient, amount, depositHash, accumulator);
    }

    /// @notice Pays withdrawal `w` against finalized output `outputIndex`, whose state must
    /// hold `w` under its withdrawal key (`siblings`: the Merkle proof, root side first).
    /// Anyone may relay it; the tokens go to `w.recipient`.
    function finalizeWithdrawal(uint256 outputIndex, Withdrawal calldata w, bytes32[] calldata siblings) external {
        if (!outputs.isFinalized(outputIndex)) revert OutputNotFinalized(outputIndex);
        bytes32 id = withdrawalId(w);
        if (withdrawalPaid[id]) revert WithdrawalAlreadyFinalized(id);
        bytes32 stateRoot = outputs.getOutput(outputIndex).stateRoot;
        if (!StateProof.verifyInclusion(stateRoot, withdrawalKey(w.index), withdrawalValue(w), siblings)) {
            revert InvalidWithdrawalProof();
        }
        withdrawalPaid[id] = true;
        collateral.safeTransfer(w.recipient, w.amount);
        emit WithdrawalFinalized(w.index, w.recipient, w.amount, outputIndex);
    }

    /// @notice The hash a deposit is recorded under (the L2 recomputes it).
    function hashDeposit(uint64 index, address from, address l2Recipient, uint256 amount)
        public
        pure
        returns (bytes32)
    {
        return PortalRecords.depositHash(index, from, l2Recipient, amount);
    }

    /// @notice The replay key of withdrawal `w`: `keccak256(index ‖ withdrawalValue(w))`.
    function withdrawalId(Withdrawal calldata w) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(w.index, withdrawalValue(w)));
    }

    /// @notice The L2 state key of withdrawal `index`: `0x02 ‖ index (8 bytes)`.
    function withdrawalKey(uint64 index) public pure returns (bytes memory) {
        return abi.encodePacked(WITHDRAWAL_TAG, index);
    }

    /// @notice The L2 state value of a withdrawal: account ‖ recipient ‖ amount (16 bytes)
    /// ‖ block number (8 bytes).
    function withdrawalValue(Withdrawal calldata w) public pure returns (bytes memory) {
        return abi.encodePacked(w.account, w.recipient, w.amount, w.l2BlockNumber);
    }
}
