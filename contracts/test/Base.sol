// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "./lib/Test.sol";
import {SentinelTrust} from "../src/SentinelTrust.sol";

abstract contract Base is Test {
    // 2026-05-28T20:26:40Z; epoch = NOW / 3600 = 494444
    uint256 internal constant NOW = 1_780_000_000;
    uint64 internal constant EPOCH = uint64(NOW / 3600);
    uint64 internal constant TTL = 2 hours;

    uint256 internal constant K1 = 0xA11CE;
    uint256 internal constant K2 = 0xB0B;
    uint256 internal constant K3 = 0xCA7;
    uint256 internal constant K_OUTSIDER = 0xBAD;

    SentinelTrust internal trust;
    address internal a1;
    address internal a2;
    address internal a3;

    function setUp() public virtual {
        vm.warp(NOW);
        a1 = vm.addr(K1);
        a2 = vm.addr(K2);
        a3 = vm.addr(K3);
        address[] memory s = new address[](3);
        s[0] = a1;
        s[1] = a2;
        s[2] = a3;
        trust = new SentinelTrust(s, 2);
    }

    function pid(string memory providerId) internal pure returns (bytes32) {
        return keccak256(bytes(providerId));
    }

    function rec(bytes32 provider, uint16 score, uint8 trustLevel, uint64 epoch)
        internal
        pure
        returns (SentinelTrust.Record memory)
    {
        return SentinelTrust.Record({
            provider: provider,
            score: score,
            trust: trustLevel,
            epoch: epoch,
            expiry: epoch * 3600 + 3600 + TTL,
            evidence: keccak256(abi.encode("evidence", provider, epoch))
        });
    }

    function one(SentinelTrust.Record memory r) internal pure returns (SentinelTrust.Record[] memory rs) {
        rs = new SentinelTrust.Record[](1);
        rs[0] = r;
    }

    function keys2() internal pure returns (uint256[] memory k) {
        k = new uint256[](2);
        k[0] = K1;
        k[1] = K2;
    }

    function keys(uint256 x) internal pure returns (uint256[] memory k) {
        k = new uint256[](1);
        k[0] = x;
    }

    function keys(uint256 x, uint256 y) internal pure returns (uint256[] memory k) {
        k = new uint256[](2);
        k[0] = x;
        k[1] = y;
    }

    /// @dev Signs `digest` with each key, in the given order.
    function signAsIs(bytes32 digest, uint256[] memory ks) internal pure returns (bytes[] memory sigs) {
        sigs = new bytes[](ks.length);
        for (uint256 i = 0; i < ks.length; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(ks[i], digest);
            sigs[i] = abi.encodePacked(r, s, v);
        }
    }

    /// @dev Signs `digest` with each key, sorted by signer address (what the contract wants).
    function signSorted(bytes32 digest, uint256[] memory ks) internal pure returns (bytes[] memory) {
        uint256[] memory sorted = new uint256[](ks.length);
        for (uint256 i = 0; i < ks.length; ++i) {
            sorted[i] = ks[i];
            for (uint256 j = i; j > 0 && vm.addr(sorted[j]) < vm.addr(sorted[j - 1]); --j) {
                (sorted[j], sorted[j - 1]) = (sorted[j - 1], sorted[j]);
            }
        }
        return signAsIs(digest, sorted);
    }

    function signBatch(SentinelTrust.Record[] memory rs, uint256[] memory ks) internal view returns (bytes[] memory) {
        return signSorted(trust.hashBatch(rs), ks);
    }

    function submit(SentinelTrust.Record[] memory rs) internal {
        trust.submit(rs, signBatch(rs, keys2()));
    }

    function batch(uint256 n, uint64 epoch) internal pure returns (SentinelTrust.Record[] memory rs) {
        rs = new SentinelTrust.Record[](n);
        for (uint256 i = 0; i < n; ++i) {
            rs[i] = rec(pid(string.concat("provider-", vm.toString(i))), uint16(9000 + i), 3, epoch);
        }
    }

    function hints(SentinelTrust.Record[] memory rs) internal view returns (uint32[] memory h) {
        h = new uint32[](rs.length);
        for (uint256 i = 0; i < rs.length; ++i) {
            h[i] = uint32(trust.indexOf(rs[i].provider));
        }
    }
}
