// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice The Foundry cheatcodes these tests and scripts use (a subset of
/// forge-std's Vm interface, same signatures). npm's forge-std is an old,
/// broken copy and `forge install` needs the network, hence this file.
interface Vm {
    // keys and signatures
    function addr(uint256 privateKey) external pure returns (address keyAddr);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);

    /// EIP-712 hashing by Foundry itself (alloy's implementation), from
    /// JSON typed data as in eth_signTypedData_v4: an independent check.
    function eip712HashTypedData(string calldata jsonData) external pure returns (bytes32 digest);

    // environment of the test EVM
    function warp(uint256 newTimestamp) external;
    function roll(uint256 newHeight) external;
    function etch(address target, bytes calldata newRuntimeBytecode) external;
    function chainId(uint256 newChainId) external;
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;

    // expectations
    function expectRevert() external;
    function expectRevert(bytes4 revertData) external;
    function expectRevert(bytes calldata revertData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter) external;

    // gas
    struct Gas {
        uint64 gasLimit;
        uint64 gasTotalUsed;
        uint64 gasMemoryUsed;
        int64 gasRefunded;
        uint64 gasRemaining;
    }

    /// Gas of the last call the test made (its own frame, without the CALL).
    function lastCallGas() external view returns (Gas memory gas);
    /// Marks an account and its storage slots cold, as at the start of a transaction.
    function cool(address target) external;
    function pauseGasMetering() external;
    function resumeGasMetering() external;

    // scripts
    function envAddress(string calldata name, string calldata delim) external view returns (address[] memory value);
    function envUint(string calldata name) external view returns (uint256 value);
    function envOr(string calldata name, uint256 defaultValue) external view returns (uint256 value);
    function startBroadcast() external;
    function startBroadcast(uint256 privateKey) external;
    function stopBroadcast() external;

    // formatting
    function toString(uint256 value) external pure returns (string memory stringifiedValue);
    function toString(address value) external pure returns (string memory stringifiedValue);
    function toString(bytes32 value) external pure returns (string memory stringifiedValue);
}
