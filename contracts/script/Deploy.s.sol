// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Script} from "./Script.sol";
import {SentinelTrust} from "../src/SentinelTrust.sol";

/// @notice Deploys SentinelTrust; the broadcasting key becomes its owner.
///
///   SENTINEL_SIGNERS=0xA…,0xB… SENTINEL_QUORUM=2 \
///     forge script script/Deploy.s.sol --rpc-url $RPC --broadcast --private-key $KEY
contract Deploy is Script {
    event log_named_address(string key, address val);
    event log_named_uint(string key, uint256 val);

    function run() external returns (SentinelTrust trust) {
        address[] memory signers = vm.envAddress("SENTINEL_SIGNERS", ",");
        uint256 quorum = vm.envUint("SENTINEL_QUORUM");
        require(quorum > 0 && quorum <= signers.length, "SENTINEL_QUORUM must be in 1..=number of SENTINEL_SIGNERS");
        vm.startBroadcast();
        trust = new SentinelTrust(signers, uint8(quorum));
        vm.stopBroadcast();
        emit log_named_address("SentinelTrust", address(trust));
        emit log_named_uint("signers", signers.length);
        emit log_named_uint("quorum", quorum);
    }
}
