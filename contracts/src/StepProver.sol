// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IForcedQueue, IStepProver, ISubStepProver} from "./ProverInterfaces.sol";
import {IPortalRecords} from "./PortalRecords.sol";
import {StepRules} from "./StepRules.sol";

/// @title StepProver
/// @notice The one-step prover the dispute game calls (see `StepRules` for the rules):
/// the ledger's kinds here, order placements forwarded to `orders`, margin withdrawals
/// (direct or forced) to `margin`, matches to `matches` and liquidations and
/// auto-deleveragings to `liquidations` (the five share the rules' code but not a contract, each under the
/// 24 KiB limit).
contract StepProver is StepRules, IStepProver, ISubStepProver, IForcedQueue {
    /// @notice The prover of oracle updates' sub-steps (`OracleStepProver`).
    ISubStepProver public immutable oracles;
    /// @notice The prover of the order kinds (placements and bulk placements).
    IStepProver public immutable orders;
    /// @notice The prover of margin withdrawals and order retirements (`MarginStepProver`).
    IStepProver public immutable margin;
    /// @notice The prover of matches (`MatchStepProver`).
    IStepProver public immutable matches;
    /// @notice The prover of liquidations and auto-deleveragings (`LiquidationStepProver`).
    IStepProver public immutable liquidations;

    /// @param chainId The L2 chain id of the signing domain.
    /// @param verifyingContract The signing domain's verifying contract.
    /// @param portal_ The chain's Portal.
    /// @param faucetOperator_ The genesis operator if the faucet is on, else zero.
    /// @param orders_ The order kinds' prover (an `OrderStepProver` of the same chain).
    /// @param margin_ The margin withdrawals' prover (a `MarginStepProver` of the same chain).
    /// @param matches_ The matches' prover (a `MatchStepProver` of the same chain).
    /// @param liquidations_ The liquidations' prover (a `LiquidationStepProver` of the same
    /// chain).
    /// @param oracles_ The oracle updates' prover (an `OracleStepProver` of the same chain).
    constructor(
        uint64 chainId,
        address verifyingContract,
        IPortalRecords portal_,
        address faucetOperator_,
        IStepProver orders_,
        IStepProver margin_,
        IStepProver matches_,
        IStepProver liquidations_,
        ISubStepProver oracles_
    ) StepRules(chainId, verifyingContract, portal_, faucetOperator_) {
        oracles = oracles_;
        orders = orders_;
        margin = margin_;
        matches = matches_;
        liquidations = liquidations_;
    }

    /// @inheritdoc IStepProver
    function execute(
        bytes32 preRoot,
        uint64 blockNumber,
        uint64 timestampMs,
        bytes calldata transaction,
        bytes calldata witness
    ) external view returns (bytes32) {
        if (transaction.length == 0) return preRoot;
        uint8 kind = uint8(transaction[0]);
        if (kind == KIND_UNDECODABLE) return preRoot;
        if (
            kind == KIND_PLACE_ORDER || kind == KIND_PLACE_ORDERS || kind == KIND_CLOSE_MARKET
                || kind == KIND_LIST_MARKET
        ) {
            return orders.execute(preRoot, blockNumber, timestampMs, transaction, witness);
        }
        if (kind == KIND_MATCH || kind == KIND_MATCH_PLACED) {
            return matches.execute(preRoot, blockNumber, timestampMs, transaction, witness);
        }
        if (kind == KIND_LIQUIDATE || kind == KIND_AUTO_DELEVERAGE) {
            return liquidations.execute(preRoot, blockNumber, timestampMs, transaction, witness);
        }
        bool forcedMargin = kind == KIND_FORCED && transaction.length > FORCED_HEADER_BYTES
            && uint8(transaction[FORCED_HEADER_BYTES]) == KIND_WITHDRAW_MARGIN;
        if (kind == KIND_WITHDRAW_MARGIN || forcedMargin || kind == KIND_RETIRE_ORDER) {
            return margin.execute(preRoot, blockNumber, timestampMs, transaction, witness);
        }
        Leaf[] memory leaves = leavesOf(witness);
        if (kind == KIND_DEPOSIT) return deposit(preRoot, transaction, leaves);
        if (kind == KIND_FORCED) return forced(preRoot, blockNumber, timestampMs, transaction, leaves);
        (bool covered, bytes32 root) = userSigned(preRoot, blockNumber, timestampMs, transaction, leaves);
        if (!covered) revert UnsupportedKind(kind);
        return root;
    }

    /// @inheritdoc IForcedQueue
    function forcedQueueCount(bytes32 root, bytes calldata witness) external pure returns (uint64 count) {
        Leaf[] memory leaves = leavesOf(witness);
        requireCount(leaves, 1);
        checkUnchanged(root, hex"09", leaves[0]);
        (count,) = queueOf(leaves[0]);
    }

    /// @inheritdoc ISubStepProver
    function subStepCount(bytes32 preRoot, bytes calldata transaction, bytes calldata witness)
        external
        view
        returns (uint256)
    {
        return oracles.subStepCount(preRoot, transaction, witness);
    }

    /// @inheritdoc ISubStepProver
    function subStep(
        bytes32 preRoot,
        uint64 timestampMs,
        bytes calldata transaction,
        uint256 index,
        uint256 count,
        bytes calldata witness
    ) external view returns (bytes32) {
        return oracles.subStep(preRoot, timestampMs, transaction, index, count, witness);
    }
}
