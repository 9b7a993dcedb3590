// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title L2Domain
/// @notice The EIP-712 domain of Straddle's signed L2 requests (crates/primitives
/// `Domain`): name "Straddle", version "1", the L2 chain id and a verifying contract.
library L2Domain {
    /// @notice The EIP-712 type hash of an `Order` (crates/primitives `Order`).
    bytes32 internal constant ORDER_TYPEHASH = keccak256(
        "Order(uint32 market,bool isBuy,uint64 limitPrice,uint64 size,uint8 timeInForce,bool reduceOnly,uint64 expiryMs,uint64 clientOrderId,uint64 nonce)"
    );

    /// @notice The domain separator for `chainId` and `verifyingContract`.
    function separator(uint64 chainId, address verifyingContract) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Straddle"),
                keccak256("1"),
                uint256(chainId),
                verifyingContract
            )
        );
    }
}
