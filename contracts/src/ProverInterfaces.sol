// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

// The interfaces between the dispute game and the one-step provers, in their own file so
// that the provers do not compile with the game (which is built for size, the provers for
// gas: foundry.toml).

/// @notice Re-executes one Straddle transaction on L1 (the one-step prover).
interface IStepProver {
    /// @notice The state root after `transaction` (canonical bytes) executes in block
    /// `blockNumber` at `timestampMs` on the state with root `preRoot`; `witness` holds
    /// the proofs of the leaves it reads and writes. Reverts when the witness does not
    /// match `preRoot` or the kind is not covered.
    function execute(
        bytes32 preRoot,
        uint64 blockNumber,
        uint64 timestampMs,
        bytes calldata transaction,
        bytes calldata witness
    ) external view returns (bytes32 postRoot);
}

/// @notice Reads the chain's forced queue off a state root: where derivation's forced
/// blocks go depends on it (docs/spec/disputes.md §5.2).
interface IForcedQueue {
    /// @notice The chain's next forced index in the state `root` (the count of the queue
    /// leaf 0x09, 0 while absent); `witness` holds that leaf and its proof.
    function forcedQueueCount(bytes32 root, bytes calldata witness) external view returns (uint64);
}

/// @notice Re-executes one oracle update (kind 0x10) on L1 a sub-step at a time
/// (docs/spec/disputes.md §4.1): an update of an underlying with M active markets is M + 1
/// sub-steps, one per market and the last storing the oracle state.
interface ISubStepProver {
    /// @notice How many sub-steps `transaction` takes on the state `preRoot` (`witness`:
    /// the underlying's leaf and its proof).
    function subStepCount(bytes32 preRoot, bytes calldata transaction, bytes calldata witness)
        external
        view
        returns (uint256);

    /// @notice The state root after sub-step `index` (1 … `count`) of `transaction` in a
    /// block at `timestampMs`, from `preRoot`, the root after the sub-step before.
    function subStep(
        bytes32 preRoot,
        uint64 timestampMs,
        bytes calldata transaction,
        uint256 index,
        uint256 count,
        bytes calldata witness
    ) external view returns (bytes32);
}
