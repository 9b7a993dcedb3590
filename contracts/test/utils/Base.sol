// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice The forge cheatcodes these tests use (forge-std is not installable here, so
/// the interface is declared directly; forge implements every function at `VM_ADDRESS`).
interface Vm {
    function warp(uint256 timestamp) external;
    function fee(uint256 baseFee) external;
    function roll(uint256 blockNumber) external;
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function deal(address account, uint256 balance) external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 selector) external;
    function expectRevert() external;
    function expectEmit() external;
    function blobhashes(bytes32[] calldata hashes) external;
    function addr(uint256 privateKey) external pure returns (address);
    function readFile(string calldata path) external view returns (string memory);
    function parseJsonBytes32(string calldata json, string calldata key) external pure returns (bytes32);
    function parseJsonBytes32Array(string calldata json, string calldata key) external pure returns (bytes32[] memory);
    function parseJsonUint(string calldata json, string calldata key) external pure returns (uint256);
    function parseJsonBool(string calldata json, string calldata key) external pure returns (bool);
    function assertGt(uint256 left, uint256 right, string calldata error) external pure;
    function assertLe(uint256 left, uint256 right, string calldata error) external pure;
    function parseJsonAddress(string calldata json, string calldata key) external pure returns (address);
    function parseJsonBytes(string calldata json, string calldata key) external pure returns (bytes memory);
    function assertEq(uint256 left, uint256 right, string calldata error) external pure;
    function assertEq(bytes32 left, bytes32 right, string calldata error) external pure;
    function assertEq(address left, address right, string calldata error) external pure;
    function assertEq(bytes calldata left, bytes calldata right, string calldata error) external pure;
    function assertTrue(bool condition, string calldata error) external pure;
    function assertFalse(bool condition, string calldata error) external pure;
    function assume(bool condition) external pure;
    function toString(uint256 value) external pure returns (string memory);
    function getNonce(address account) external view returns (uint64);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
}

/// @notice Base of the contract tests: the cheatcode handle.
abstract contract Base {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @notice `x` folded into `[min, max]` (fuzz inputs).
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        return min + (x % (max - min + 1));
    }

    /// @notice The address of the contract `deployer` creates with `nonce` (CREATE;
    /// nonces below 128, which is all the tests need).
    function createAddress(address deployer, uint64 nonce) internal pure returns (address) {
        require(nonce < 128, "nonce too large for this helper");
        bytes memory rlp = nonce == 0
            ? abi.encodePacked(bytes1(0xd6), bytes1(0x94), deployer, bytes1(0x80))
            : abi.encodePacked(bytes1(0xd6), bytes1(0x94), deployer, uint8(nonce));
        return address(uint160(uint256(keccak256(rlp))));
    }
}
