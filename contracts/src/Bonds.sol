// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Bonds
/// @notice The rules for bonds (docs/spec/disputes.md §3). A losing bond: half goes to
/// the winner, half is burnt (kept by the contract that held it, owed to no one); the
/// burnt half is what a proposer and a challenger colluding to delay finality pay per game
/// they stage, whoever of them wins it. Every bond (a proposal's, a challenge's) is at
/// least `minimum(block.basefee)` when posted: the winner's half must pay for the most gas
/// a winner can spend in one game at that gas price.
library Bonds {
    /// @notice Percent of a losing bond that is burnt.
    uint256 internal constant BURNT_PERCENT = 50;
    /// @notice The most gas one side spends winning a game, base and calldata included:
    /// one move per bisection level (64 over block numbers, 32 over a block's
    /// transactions, 32 down its transactions tree, 11 over an oracle update's sub-steps)
    /// at up to 150 000 gas each, the open (or the join), the block reveal and the ending
    /// move (`timeout`, `resolveDispute`) at up to 400 000 each, and the final step
    /// (3 000 000); docs/spec/disputes.md §3.
    uint256 internal constant WINNER_GAS_MAX = 139 * 150_000 + 3 * 400_000 + 3_000_000;

    /// @notice The least bond at `gasPrice` wei per gas: the winner's half covers
    /// `WINNER_GAS_MAX` at that price.
    function minimum(uint256 gasPrice) internal pure returns (uint256) {
        return WINNER_GAS_MAX * gasPrice * 100 / (100 - BURNT_PERCENT);
    }

    /// @notice How a losing `bond` splits between the winner and the burn.
    function split(uint256 bond) internal pure returns (uint256 toWinner, uint256 burnt) {
        burnt = bond * BURNT_PERCENT / 100;
        toWinner = bond - burnt;
    }
}
