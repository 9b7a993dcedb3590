// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice What the one-step prover and the batch opener read from the Portal: the hashes
/// of the deposits and forced transactions L1 recorded, and the L1 blocks they were
/// recorded in.
interface IPortalRecords {
    function depositHashes(uint64 index) external view returns (bytes32);
    function forcedHashes(uint64 index) external view returns (bytes32);
    function depositBlocks(uint64 index) external view returns (uint64);
    function forcedBlocks(uint64 index) external view returns (uint64);
    function forcedTimes(uint64 index) external view returns (uint64);
    function forcedInclusionWindow() external view returns (uint64);
}

/// @title PortalRecords
/// @notice The hashes the Portal records deposits and forced transactions under
/// (docs/spec/settlement.md §1, §7), for the Portal and every contract that checks a
/// transaction against them.
library PortalRecords {
    /// @notice keccak256(abi.encode(uint64 index, address from, address recipient, uint256 amount)).
    function depositHash(uint64 index, address from, address recipient, uint256 amount)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(index, from, recipient, amount));
    }

    /// @notice keccak256(abi.encode(uint64 index, address sender, bytes32 keccak256(transaction))).
    function forcedHash(uint64 index, address sender, bytes32 transactionHash) internal pure returns (bytes32) {
        return keccak256(abi.encode(index, sender, transactionHash));
    }
}
