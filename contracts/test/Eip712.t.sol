// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {SentinelTrust} from "../src/SentinelTrust.sol";

/// @notice The contract's EIP-712 hashing against Foundry's own (alloy's)
/// implementation of eth_signTypedData_v4, and fixed vectors the Rust side
/// can check itself against byte for byte (contracts/README.md).
contract Eip712Test is Base {
    /// The first contract anvil's default account 0 deploys (nonce 0).
    address internal constant ANVIL_FIRST = 0x5FbDB2315678afecb367f032d93F642f64180aa3;

    function test_typeHashes() public view {
        assertEq(
            trust.RECORD_TYPEHASH(),
            keccak256("Record(bytes32 provider,uint16 score,uint8 trust,uint64 epoch,uint64 expiry,bytes32 evidence)"),
            "record"
        );
        assertEq(
            trust.BATCH_TYPEHASH(),
            keccak256(
                "Batch(Record[] records)Record(bytes32 provider,uint16 score,uint8 trust,uint64 epoch,uint64 expiry,bytes32 evidence)"
            ),
            "batch"
        );
        assertEq(trust.REVOKE_TYPEHASH(), keccak256("Revoke(bytes32 provider,uint64 epoch)"), "revoke");
    }

    function test_domainSeparator_matchesSpec() public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("BookkeeperSentinel"),
                keccak256("1"),
                block.chainid,
                address(trust)
            )
        );
        assertEq(trust.domainSeparator(), expected, "domain separator");
    }

    function test_hashBatch_matchesAbiEncode() public view {
        SentinelTrust.Record[] memory rs = batch(5, EPOCH);
        bytes32[] memory hs = new bytes32[](rs.length);
        for (uint256 i = 0; i < rs.length; ++i) {
            SentinelTrust.Record memory r = rs[i];
            hs[i] = keccak256(
                abi.encode(trust.RECORD_TYPEHASH(), r.provider, r.score, r.trust, r.epoch, r.expiry, r.evidence)
            );
            assertEq(trust.hashRecord(r), hs[i], "hashRecord");
        }
        bytes32 structHash = keccak256(abi.encode(trust.BATCH_TYPEHASH(), keccak256(abi.encodePacked(hs))));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", trust.domainSeparator(), structHash));
        assertEq(trust.hashBatch(rs), digest, "hashBatch");
    }

    function test_hashBatch_matchesFoundryEip712() public view {
        SentinelTrust.Record[] memory rs = batch(3, EPOCH);
        assertEq(trust.hashBatch(rs), vm.eip712HashTypedData(batchJson(rs, block.chainid, address(trust))), "batch");
        bytes32 p = rs[0].provider;
        assertEq(
            trust.hashRevoke(p, EPOCH),
            vm.eip712HashTypedData(revokeJson(p, EPOCH, block.chainid, address(trust))),
            "revoke"
        );
    }

    /// Fixed vectors: chain 31337, contract at anvil's first deployment address.
    function test_fixedVectors() public {
        vm.chainId(31337);
        SentinelTrust fresh = new SentinelTrust(signersOf(), 2);
        vm.etch(ANVIL_FIRST, address(fresh).code);
        SentinelTrust deployed = SentinelTrust(ANVIL_FIRST);

        SentinelTrust.Record[] memory rs = vectorRecords();
        emit log_named_bytes32(
            "domainSeparator(31337, 0x5FbDB2315678afecb367f032d93F642f64180aa3)", deployed.domainSeparator()
        );
        emit log_named_bytes32("hashRecord(records[0])", deployed.hashRecord(rs[0]));
        emit log_named_bytes32("hashRecord(records[1])", deployed.hashRecord(rs[1]));
        emit log_named_bytes32("hashBatch(records)", deployed.hashBatch(rs));
        emit log_named_bytes32("hashRevoke(records[0].provider, 494444)", deployed.hashRevoke(rs[0].provider, 494444));

        assertEq(
            deployed.domainSeparator(), 0x8fa1d9baff96a9191941812ddbecff834d1cb7996a14df13cda441e13350dc61, "domain"
        );
        assertEq(
            deployed.hashRecord(rs[0]), 0xeb0ee4067b9b4d62c4c199c4d60532c1a27569b5f4ac50162b9e33387857f060, "record 0"
        );
        assertEq(
            deployed.hashRecord(rs[1]), 0xe227d3b353a559574c9898172017fb59be49b26d3654e17fe5718caffc6aaf68, "record 1"
        );
        assertEq(deployed.hashBatch(rs), 0xb6ec2a5dc99b148911f79e1a0997b67a93992b153dbb732c1a946bcb31cc7677, "batch");
        assertEq(
            deployed.hashRevoke(rs[0].provider, 494444),
            0x09dbc5b45da7b86cb2d143a33298d34ccbcf43534daa5dd9aebe3b6004787069,
            "revoke"
        );
        assertEq(deployed.hashBatch(rs), vm.eip712HashTypedData(batchJson(rs, 31337, ANVIL_FIRST)), "alloy agrees");
    }

    function vectorRecords() internal pure returns (SentinelTrust.Record[] memory rs) {
        rs = new SentinelTrust.Record[](2);
        rs[0] = SentinelTrust.Record({
            provider: keccak256(bytes("example-provider-a")),
            score: 9420,
            trust: 3,
            epoch: 494444,
            expiry: 1780007200,
            evidence: keccak256(bytes("evidence-a"))
        });
        rs[1] = SentinelTrust.Record({
            provider: keccak256(bytes("example-provider-b")),
            score: 7100,
            trust: 1,
            epoch: 494444,
            expiry: 1780007200,
            evidence: keccak256(bytes("evidence-b"))
        });
    }

    function signersOf() internal view returns (address[] memory s) {
        s = new address[](3);
        (s[0], s[1], s[2]) = (a1, a2, a3);
    }

    // --------------------------------------------------------- JSON typed data

    function domainJson(uint256 chainId, address verifyingContract) internal pure returns (string memory) {
        return string.concat(
            '"domain":{"name":"BookkeeperSentinel","version":"1","chainId":',
            vm.toString(chainId),
            ',"verifyingContract":"',
            vm.toString(verifyingContract),
            '"}'
        );
    }

    string internal constant DOMAIN_TYPE =
        '"EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}]';
    string internal constant RECORD_TYPE =
        '"Record":[{"name":"provider","type":"bytes32"},{"name":"score","type":"uint16"},{"name":"trust","type":"uint8"},{"name":"epoch","type":"uint64"},{"name":"expiry","type":"uint64"},{"name":"evidence","type":"bytes32"}]';

    function batchJson(SentinelTrust.Record[] memory rs, uint256 chainId, address verifyingContract)
        internal
        pure
        returns (string memory json)
    {
        string memory records;
        for (uint256 i = 0; i < rs.length; ++i) {
            SentinelTrust.Record memory r = rs[i];
            records = string.concat(
                records,
                i == 0 ? "" : ",",
                '{"provider":"',
                vm.toString(r.provider),
                '","score":',
                vm.toString(uint256(r.score)),
                ',"trust":',
                vm.toString(uint256(r.trust)),
                ',"epoch":',
                vm.toString(uint256(r.epoch)),
                ',"expiry":',
                vm.toString(uint256(r.expiry)),
                ',"evidence":"',
                vm.toString(r.evidence),
                '"}'
            );
        }
        json = string.concat(
            '{"types":{',
            DOMAIN_TYPE,
            ",",
            RECORD_TYPE,
            ',"Batch":[{"name":"records","type":"Record[]"}]},"primaryType":"Batch",',
            domainJson(chainId, verifyingContract),
            ',"message":{"records":[',
            records,
            "]}}"
        );
    }

    function revokeJson(bytes32 provider, uint64 epoch, uint256 chainId, address verifyingContract)
        internal
        pure
        returns (string memory)
    {
        return string.concat(
            '{"types":{',
            DOMAIN_TYPE,
            ',"Revoke":[{"name":"provider","type":"bytes32"},{"name":"epoch","type":"uint64"}]},"primaryType":"Revoke",',
            domainJson(chainId, verifyingContract),
            ',"message":{"provider":"',
            vm.toString(provider),
            '","epoch":',
            vm.toString(uint256(epoch)),
            "}}"
        );
    }
}
