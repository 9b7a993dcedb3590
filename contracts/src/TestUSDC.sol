// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestUSDC
/// @notice The devnet's collateral: a 6-decimal ERC-20 that anyone can mint. Never deploy
/// it on a chain with value.
contract TestUSDC is ERC20 {
    constructor() ERC20("Straddle Test USD Coin", "tUSDC") {}

    /// @notice Six decimals, like USDC.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` to `to` (devnet faucet).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
