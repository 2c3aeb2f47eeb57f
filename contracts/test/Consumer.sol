// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {SentinelTrust} from "../src/SentinelTrust.sol";

/// @dev Another contract asking SentinelTrust, to measure what `isVerified`
/// costs a caller.
contract Consumer {
    SentinelTrust public immutable trust;

    constructor(SentinelTrust trust_) {
        trust = trust_;
    }

    function check(bytes32 provider) external view returns (bool ok, uint256 gasUsed) {
        uint256 before = gasleft();
        ok = trust.isVerified(provider, 9000, 2 hours);
        gasUsed = before - gasleft();
    }

    function checkTwice(bytes32 provider) external view returns (bool ok, uint256 first, uint256 second) {
        uint256 before = gasleft();
        ok = trust.isVerified(provider, 9000, 2 hours);
        first = before - gasleft();
        before = gasleft();
        ok = ok && trust.isVerified(provider, 9000, 2 hours);
        second = before - gasleft();
    }
}
