// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Script} from "./Script.sol";
import {SentinelTrust} from "../src/SentinelTrust.sol";
import {Consumer} from "../test/Consumer.sol";

/// @notice Real transactions for the gas table in contracts/README.md: deploys
/// a SentinelTrust (2-of-3) and anchors, as separate transactions, one record
/// and a batch of 100 records, first write and steady state (the next epoch),
/// with `submit` and with `submitIndexed`, then a revocation; and deploys a
/// Consumer contract that measures what `isVerified` costs a caller.
/// Sentinel keys default to anvil's well-known test accounts 1..3; never use
/// this script with real keys.
///
///   forge script script/GasBench.s.sol --rpc-url http://127.0.0.1:8545 --broadcast \
///     --private-key 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
///
/// then read each transaction's gasUsed from broadcast/GasBench.s.sol/<chain>/run-latest.json.
contract GasBench is Script {
    uint256 internal constant K1 = 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d;
    uint256 internal constant K2 = 0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a;
    uint256 internal constant K3 = 0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6;

    SentinelTrust internal trust;

    event log_named_address(string key, address val);

    function run() external {
        address[] memory signers = new address[](3);
        (signers[0], signers[1], signers[2]) = (vm.addr(K1), vm.addr(K2), vm.addr(K3));
        vm.startBroadcast();
        trust = new SentinelTrust(signers, 2);
        uint64 epoch = uint64(block.timestamp / 3600);

        // one record: first write, steady state (submit), steady state (submitIndexed)
        _submit(_batch("single-", 1, epoch), false);
        _submit(_batch("single-", 1, epoch + 1), false);
        _submit(_batch("single-", 1, epoch + 2), true);
        // 100 records: the same
        _submit(_batch("provider-", 100, epoch), false);
        _submit(_batch("provider-", 100, epoch + 1), false);
        _submit(_batch("provider-", 100, epoch + 2), true);
        // a revocation
        bytes32 p = keccak256(bytes("single-0"));
        trust.revoke(p, epoch + 2, _sign(trust.hashRevoke(p, epoch + 2)));
        // a contract that asks isVerified: `cast call <Consumer> "check(bytes32)(bool,uint256)" <provider>`
        Consumer consumer = new Consumer(trust);
        vm.stopBroadcast();
        emit log_named_address("SentinelTrust", address(trust));
        emit log_named_address("Consumer", address(consumer));
    }

    function _batch(string memory prefix, uint256 n, uint64 epoch)
        internal
        pure
        returns (SentinelTrust.Record[] memory rs)
    {
        rs = new SentinelTrust.Record[](n);
        for (uint256 i = 0; i < n; ++i) {
            bytes32 provider = keccak256(bytes(string.concat(prefix, vm.toString(i))));
            rs[i] = SentinelTrust.Record({
                provider: provider,
                score: uint16(9000 + i),
                trust: 3,
                epoch: epoch,
                expiry: epoch * 3600 + 3 hours,
                evidence: keccak256(abi.encode(provider, epoch))
            });
        }
    }

    function _submit(SentinelTrust.Record[] memory rs, bool withHints) internal {
        bytes[] memory sigs = _sign(trust.hashBatch(rs));
        if (!withHints) {
            trust.submit(rs, sigs);
            return;
        }
        uint32[] memory h = new uint32[](rs.length);
        for (uint256 i = 0; i < rs.length; ++i) {
            h[i] = uint32(trust.indexOf(rs[i].provider));
        }
        trust.submitIndexed(rs, sigs, h);
    }

    /// Signatures of K1 and K2, sorted by signer address.
    function _sign(bytes32 digest) internal pure returns (bytes[] memory sigs) {
        (uint256 lo, uint256 hi) = vm.addr(K1) < vm.addr(K2) ? (K1, K2) : (K2, K1);
        sigs = new bytes[](2);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(lo, digest);
        sigs[0] = abi.encodePacked(r, s, v);
        (v, r, s) = vm.sign(hi, digest);
        sigs[1] = abi.encodePacked(r, s, v);
    }
}
