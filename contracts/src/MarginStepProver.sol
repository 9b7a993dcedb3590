// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepProver} from "./DisputeGame.sol";
import {IPortalRecords} from "./PortalRecords.sol";
import {PortfolioRisk} from "./PortfolioRisk.sol";
import {StepRules} from "./StepProver.sol";

/// @title MarginStepProver
/// @notice The one-step prover's margin withdrawals (kind 5), directly or as a forced
/// transaction's payload; `StepProver` forwards them here. Any other kind reverts
/// `UnsupportedKind`.
/// @dev A margin withdrawal (`Ledger::execute_action` with `Clearinghouse::withdraw`)
/// moves `amount` of the signer's margin cash back to its collateral: refused when
/// expired, when the nonce is used or stale, when the amount is zero, does not fit 127
/// bits or would overflow the collateral, when a position's market is unknown, when the
/// normalised portfolio (`PortfolioRisk.normalise`) has no positions and less cash than the
/// amount, or when its equity after the withdrawal is below its initial margin (or a
/// position's market has no risk vector to price it). Otherwise the account gets the
/// amount and the nonce, the portfolio is stored normalised (removed when it is left with
/// no cash and no positions), and the clearing totals keep the rounding remainder.
/// Leaves: the markets of the portfolio's positions before the transaction (in its
/// order, read only), the signer's account, its portfolio (`0x04 ‖ signer`), the
/// clearing totals (`0x08`).
contract MarginStepProver is StepRules, IStepProver {
    /// @param chainId The L2 chain id of the signing domain.
    /// @param verifyingContract The signing domain's verifying contract.
    /// @param portal_ The chain's Portal (forced margin withdrawals must be its records).
    constructor(uint64 chainId, address verifyingContract, IPortalRecords portal_)
        StepRules(chainId, verifyingContract, portal_, address(0))
    {}

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
        Leaf[] memory leaves = leavesOf(witness);
        if (kind == KIND_FORCED) return forced(preRoot, blockNumber, timestampMs, transaction, leaves);
        if (kind != KIND_WITHDRAW_MARGIN) revert UnsupportedKind(kind);
        (, bytes32 root) = userSigned(preRoot, blockNumber, timestampMs, transaction, leaves);
        return root;
    }

    /// @dev Covers the margin withdrawal only: other kinds are not this contract's.
    function userSigned(bytes32 preRoot, uint64, uint64 timestampMs, bytes calldata transaction, Leaf[] memory leaves)
        internal
        view
        override
        returns (bool covered, bytes32 root)
    {
        if (transaction.length == 0 || uint8(transaction[0]) != KIND_WITHDRAW_MARGIN) return (false, preRoot);
        (Action memory a, address sender) = signedAction(transaction);
        // Bytes that do not decode are not this kind: a forced payload then only counts.
        if (!decodesAsAction(transaction)) return (false, preRoot);
        // A signature that does not recover: refused before any leaf is read.
        if (sender == address(0)) return (true, preRoot);
        return (true, withdrawMargin(preRoot, timestampMs, a, sender, leaves));
    }

    /// @dev The leaves' keys and the portfolio before the transaction (see the contract's
    /// notes for the order).
    function withdrawalKeys(address sender, Leaf[] memory leaves)
        internal
        pure
        returns (bytes[] memory keys, PortfolioRisk.Portfolio memory portfolio)
    {
        if (leaves.length < 3) revert WrongLeafCount(leaves.length, 3);
        uint256 markets = leaves.length - 3;
        bool valid;
        (valid, portfolio) = PortfolioRisk.portfolioOf(leaves[markets + 1].present, leaves[markets + 1].value);
        if (!valid) revert BadLeafValue(markets + 1);
        requireCount(leaves, portfolio.positions.length + 3);
        keys = new bytes[](leaves.length);
        for (uint256 i = 0; i < markets; i++) {
            keys[i] = abi.encodePacked(uint8(0x05), portfolio.positions[i].market);
        }
        keys[markets] = accountKey(sender);
        keys[markets + 1] = abi.encodePacked(uint8(0x04), sender);
        keys[markets + 2] = abi.encodePacked(uint8(0x08));
    }

    function withdrawMargin(bytes32 preRoot, uint64 timestampMs, Action memory a, address sender, Leaf[] memory leaves)
        internal
        pure
        returns (bytes32)
    {
        (bytes[] memory keys, PortfolioRisk.Portfolio memory portfolio) = withdrawalKeys(sender, leaves);
        uint256 markets = portfolio.positions.length;
        Account memory account = accountOf(leaves[markets], markets);
        (bool ok, uint256 slot) = nonceSlot(account.nonces, a.nonce);
        if (
            !ok || timestampMs > a.expiryMs || a.amount == 0 || a.amount > uint128(type(int128).max)
                || uint256(account.collateral) + a.amount > type(uint128).max
        ) return unchanged(preRoot, leaves, keys);
        (bool allowed, PortfolioRisk.Portfolio memory normalised, int256 remainder) =
            withdrawn(portfolio, leaves, int256(uint256(a.amount)));
        if (!allowed) return unchanged(preRoot, leaves, keys);
        account.collateral += a.amount;
        account.nonces = insertNonce(account.nonces, slot, a.nonce);
        return withdrawalWrites(preRoot, keys, leaves, encodeAccount(account), normalised, remainder);
    }

    /// @dev The root after a margin withdrawal: the markets checked (only read, so against
    /// the root before the writes), then the account, the portfolio and the clearing
    /// totals written.
    function withdrawalWrites(
        bytes32 preRoot,
        bytes[] memory keys,
        Leaf[] memory leaves,
        bytes memory account,
        PortfolioRisk.Portfolio memory normalised,
        int256 remainder
    ) internal pure returns (bytes32 root) {
        uint256 markets = leaves.length - 3;
        for (uint256 i = 0; i < markets; i++) {
            checkUnchanged(preRoot, keys[i], leaves[i]);
        }
        root = write(preRoot, keys[markets], leaves[markets], markets, account);
        root = normalised.cash == 0 && normalised.positions.length == 0
            ? remove(root, keys[markets + 1], leaves[markets + 1], markets + 1)
            : write(root, keys[markets + 1], leaves[markets + 1], markets + 1, PortfolioRisk.encode(normalised));
        (bytes memory totals,) = clearingTotals(leaves[markets + 2], markets + 2);
        root = write(
            root, keys[markets + 2], leaves[markets + 2], markets + 2, PortfolioRisk.keepRemainder(totals, remainder)
        );
    }

    /// @dev The portfolio normalised and `amount` poorer, if the clearinghouse allows it:
    /// every position's market is known, and either there are positions whose margin the
    /// equity still covers or there is the cash.
    function withdrawn(PortfolioRisk.Portfolio memory portfolio, Leaf[] memory leaves, int256 amount)
        internal
        pure
        returns (bool allowed, PortfolioRisk.Portfolio memory normalised, int256 remainder)
    {
        uint256 count = portfolio.positions.length;
        bytes[] memory markets = new bytes[](count);
        for (uint256 i = 0; i < count; i++) {
            if (!leaves[i].present) return (false, normalised, 0);
            if (!PortfolioRisk.isMarket(leaves[i].value)) revert BadLeafValue(i);
            markets[i] = leaves[i].value;
        }
        bytes[] memory keptMarkets;
        (normalised, keptMarkets, remainder) = PortfolioRisk.normalise(portfolio, markets);
        if (normalised.positions.length == 0 && normalised.cash < amount) return (false, normalised, 0);
        normalised.cash -= amount;
        (bool priced, int256 equity,, int256 initial) = PortfolioRisk.margin(normalised, keptMarkets);
        allowed = priced && equity >= initial;
    }
}
