// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {SentinelTrust} from "../src/SentinelTrust.sol";

contract SentinelTrustTest is Base {
    event Attested(bytes32 indexed provider, uint16 score, uint8 trust, uint64 epoch, uint64 expiry, bytes32 evidence);
    event Revoked(bytes32 indexed provider, uint64 epoch);
    event Registered(bytes32 indexed provider, uint256 index);

    // ------------------------------------------------------------ quorum

    function test_quorumMet_recordLands() public {
        SentinelTrust.Record memory r = rec(pid("alpha"), 9500, 3, EPOCH);
        SentinelTrust.Record[] memory rs = one(r);
        bytes[] memory sigs = signBatch(rs, keys2());
        vm.expectEmit(true, false, false, true, address(trust));
        emit Registered(r.provider, 1);
        vm.expectEmit(true, false, false, true, address(trust));
        emit Attested(r.provider, 9500, 3, EPOCH, r.expiry, r.evidence);
        trust.submit(rs, sigs);
        (uint16 score, uint8 t, uint64 epoch, uint64 expiry, bool revoked) = trust.latest(r.provider);
        assertEq(score, 9500, "score");
        assertEq(t, 3, "trust");
        assertEq(epoch, EPOCH, "epoch");
        assertEq(expiry, r.expiry, "expiry");
        assertFalse(revoked, "revoked");
        assertTrue(trust.isVerified(r.provider, 9000, 2 hours), "verified");
        assertEq(trust.indexOf(r.provider), 1, "index");
        assertEq(trust.providerCount(), 1, "providerCount");
    }

    function test_quorumMet_allThreeSigners() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        uint256[] memory k = new uint256[](3);
        (k[0], k[1], k[2]) = (K3, K1, K2);
        trust.submit(rs, signBatch(rs, k));
        assertTrue(trust.isVerified(rs[0].provider, 0, 2 hours), "verified");
    }

    function test_belowQuorum_reverts() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys(K1));
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BelowQuorum.selector, 1, 2));
        trust.submit(rs, sigs);
    }

    function test_noSignatures_reverts() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BelowQuorum.selector, 0, 2));
        trust.submit(rs, new bytes[](0));
    }

    function test_tooManySignatures_reverts() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        uint256[] memory k = new uint256[](4);
        (k[0], k[1], k[2], k[3]) = (K1, K2, K3, K_OUTSIDER);
        bytes[] memory sigs = signBatch(rs, k);
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.TooManySignatures.selector, 4, 3));
        trust.submit(rs, sigs);
    }

    function test_quorumRaised_twoNoLongerEnough() public {
        trust.setQuorum(3);
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BelowQuorum.selector, 2, 3));
        trust.submit(rs, sigs);
    }

    // ------------------------------------------------------------ signatures

    function test_unauthorisedSigner_reverts() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys(K1, K_OUTSIDER));
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.NotAuthorised.selector, vm.addr(K_OUTSIDER)));
        trust.submit(rs, sigs);
    }

    function test_removedSigner_reverts() public {
        trust.removeSigner(a2);
        assertFalse(trust.isSigner(a2), "a2 removed");
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys(K1, K2));
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.NotAuthorised.selector, a2));
        trust.submit(rs, sigs);
        // the remaining two still make the quorum
        trust.submit(rs, signBatch(rs, keys(K1, K3)));
    }

    function test_duplicateSigner_reverts() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sigs = signAsIs(trust.hashBatch(rs), keys(K1, K1));
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.DuplicateOrUnsorted.selector, 1, a1));
        trust.submit(rs, sigs);
    }

    function test_unsortedSigners_revert() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sorted = signBatch(rs, keys2());
        bytes[] memory sigs = new bytes[](2);
        (sigs[0], sigs[1]) = (sorted[1], sorted[0]);
        address lower = a1 < a2 ? a1 : a2;
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.DuplicateOrUnsorted.selector, 1, lower));
        trust.submit(rs, sigs);
    }

    function test_badSignature_length_reverts() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys2());
        sigs[1] = bytes.concat(sigs[1], hex"00");
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadSignature.selector, 1));
        trust.submit(rs, sigs);
    }

    function test_badSignature_highS_reverts() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys2());
        // The malleable twin (r, n - s, v ^ 1) recovers the same signer: rejected.
        (bytes32 r, bytes32 s, uint8 v) = split(sigs[0]);
        uint256 n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141;
        sigs[0] = abi.encodePacked(r, bytes32(n - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadSignature.selector, 0));
        trust.submit(rs, sigs);
    }

    function test_badSignature_v_reverts() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys2());
        (bytes32 r, bytes32 s, uint8 v) = split(sigs[0]);
        sigs[0] = abi.encodePacked(r, s, v - 27); // 0/1 style is not accepted
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadSignature.selector, 0));
        trust.submit(rs, sigs);
    }

    function test_badSignature_unrecoverable_reverts() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys2());
        (, bytes32 s, uint8 v) = split(sigs[1]);
        sigs[1] = abi.encodePacked(bytes32(0), s, v); // r = 0: ecrecover fails
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadSignature.selector, 1));
        trust.submit(rs, sigs);
    }

    function test_forgedRecord_reverts() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 7000, 1, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys2());
        rs[0].trust = 3; // tampered after signing: the signatures recover strangers
        rs[0].score = 9900;
        vm.expectRevert(); // NotAuthorised(<some address>)
        trust.submit(rs, sigs);
        (,, uint64 epoch,,) = trust.latest(rs[0].provider);
        assertEq(epoch, 0, "nothing stored");
    }

    function test_signatureForOtherChain_reverts() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys2());
        bytes32 before = trust.domainSeparator();
        vm.chainId(8453);
        assertTrue(trust.domainSeparator() != before, "domain follows the chain id");
        vm.expectRevert();
        trust.submit(rs, sigs);
    }

    function split(bytes memory sig) internal pure returns (bytes32 r, bytes32 s, uint8 v) {
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
    }

    // ------------------------------------------------------------ replay, expiry, ranges

    function test_replaySameEpoch_reverts() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys2());
        trust.submit(rs, sigs);
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.Stale.selector, rs[0].provider, EPOCH, EPOCH));
        trust.submit(rs, sigs);
    }

    function test_olderEpoch_reverts() public {
        submit(one(rec(pid("alpha"), 9500, 3, EPOCH)));
        SentinelTrust.Record[] memory old = one(rec(pid("alpha"), 9900, 3, EPOCH - 1));
        bytes[] memory sigs = signBatch(old, keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.Stale.selector, old[0].provider, EPOCH, EPOCH - 1));
        trust.submit(old, sigs);
    }

    function test_newerEpoch_overwrites() public {
        submit(one(rec(pid("alpha"), 9500, 3, EPOCH)));
        vm.warp(NOW + 3600);
        submit(one(rec(pid("alpha"), 8100, 2, EPOCH + 1)));
        (uint16 score, uint8 t, uint64 epoch,,) = trust.latest(pid("alpha"));
        assertEq(score, 8100, "score");
        assertEq(t, 2, "trust");
        assertEq(epoch, EPOCH + 1, "epoch");
        assertFalse(trust.isVerified(pid("alpha"), 0, 2 hours), "trusted is not verified");
    }

    function test_sameProviderTwiceInBatch_needsIncreasingEpochs() public {
        SentinelTrust.Record[] memory rs = new SentinelTrust.Record[](2);
        rs[0] = rec(pid("alpha"), 9500, 3, EPOCH);
        rs[1] = rec(pid("alpha"), 9400, 3, EPOCH);
        bytes[] memory sigs = signBatch(rs, keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.Stale.selector, rs[0].provider, EPOCH, EPOCH));
        trust.submit(rs, sigs);
    }

    function test_expired_reverts() public {
        SentinelTrust.Record memory r = rec(pid("alpha"), 9500, 3, EPOCH);
        r.expiry = uint64(NOW); // expiry must be > block.timestamp
        SentinelTrust.Record[] memory rs = one(r);
        bytes[] memory sigs = signBatch(rs, keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.Expired.selector, r.provider, NOW));
        trust.submit(rs, sigs);
    }

    function test_signedBatchExpiresInFlight() public {
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys2());
        vm.warp(rs[0].expiry);
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.Expired.selector, rs[0].provider, rs[0].expiry));
        trust.submit(rs, sigs);
    }

    function test_expiredRecord_isNotVerified() public {
        SentinelTrust.Record memory r = rec(pid("alpha"), 9500, 3, EPOCH);
        submit(one(r));
        assertTrue(trust.isVerified(r.provider, 9000, 1 days), "fresh");
        vm.warp(r.expiry - 1);
        assertTrue(trust.isVerified(r.provider, 9000, 1 days), "last second");
        vm.warp(r.expiry);
        assertFalse(trust.isVerified(r.provider, 9000, 1 days), "expired");
    }

    function test_expiryOutsideWindow_reverts() public {
        SentinelTrust.Record memory r = rec(pid("alpha"), 9500, 3, EPOCH);
        r.expiry = EPOCH * 3600 + uint64(trust.MAX_TTL()) + 1;
        SentinelTrust.Record[] memory rs = one(r);
        bytes[] memory sigs = signBatch(rs, keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadExpiry.selector, r.provider, r.expiry));
        trust.submit(rs, sigs);
        // the longest expiry that fits is accepted
        r.expiry -= 1;
        submit(one(r));
        (,,, uint64 expiry,) = trust.latest(r.provider);
        assertEq(expiry, r.expiry, "max ttl round-trips");
    }

    function test_scoreAbove10000_reverts() public {
        SentinelTrust.Record memory r = rec(pid("alpha"), 10_001, 3, EPOCH);
        SentinelTrust.Record[] memory rs = one(r);
        bytes[] memory sigs = signBatch(rs, keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadScore.selector, r.provider, 10_001));
        trust.submit(rs, sigs);
        r.score = 10_000;
        submit(one(r));
        (uint16 score,,,,) = trust.latest(r.provider);
        assertEq(score, 10_000, "max score");
    }

    function test_trustAbove3_reverts() public {
        SentinelTrust.Record memory r = rec(pid("alpha"), 9500, 4, EPOCH);
        SentinelTrust.Record[] memory rs = one(r);
        bytes[] memory sigs = signBatch(rs, keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadTrust.selector, r.provider, 4));
        trust.submit(rs, sigs);
    }

    function test_badEpoch_reverts() public {
        SentinelTrust.Record memory r = rec(pid("alpha"), 9500, 3, 0);
        r.expiry = uint64(NOW + 1);
        SentinelTrust.Record[] memory rs = one(r);
        bytes[] memory sigs = signBatch(rs, keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadEpoch.selector, r.provider, 0));
        trust.submit(rs, sigs);
        // the largest epoch that fits is accepted, the next one is not
        uint64 maxEpoch = uint64(trust.MAX_EPOCH());
        r = rec(pid("beta"), 9500, 3, maxEpoch + 1);
        rs = one(r);
        sigs = signBatch(rs, keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadEpoch.selector, r.provider, maxEpoch + 1));
        trust.submit(rs, sigs);
        submit(one(rec(pid("beta"), 9500, 3, maxEpoch)));
        (,, uint64 epoch, uint64 expiry,) = trust.latest(pid("beta"));
        assertEq(epoch, maxEpoch, "max epoch");
        assertEq(expiry, uint256(maxEpoch) * 3600 + 3600 + TTL, "its expiry");
    }

    function test_dirtyHighBits_rejected() public {
        // A score word with bits above uint16 hashes differently from its typed
        // value; a raw call with such a word must never be stored.
        SentinelTrust.Record[] memory rs = one(rec(pid("alpha"), 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys2());
        bytes memory data = abi.encodeCall(SentinelTrust.submit, (rs, sigs));
        // selector, 2 heads, length, then provider, score: the score word starts at 4 + 32*4
        uint256 scoreAt = 4 + 32 * 4;
        assembly {
            let p := add(add(data, 32), scoreAt)
            mstore(p, or(mload(p), shl(200, 1)))
        }
        (bool ok,) = address(trust).call(data);
        assertFalse(ok, "dirty word rejected");
        (,, uint64 epoch,,) = trust.latest(rs[0].provider);
        assertEq(epoch, 0, "nothing stored");
    }

    function test_emptyBatch_reverts() public {
        SentinelTrust.Record[] memory rs = new SentinelTrust.Record[](0);
        bytes[] memory sigs = signBatch(rs, keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadBatchSize.selector, 0));
        trust.submit(rs, sigs);
    }

    // ------------------------------------------------------------ revocation

    function test_revoke() public {
        bytes32 p = pid("alpha");
        SentinelTrust.Record memory r = rec(p, 9500, 3, EPOCH);
        submit(one(r));
        vm.expectEmit(true, false, false, true, address(trust));
        emit Revoked(p, EPOCH + 1);
        trust.revoke(p, EPOCH + 1, signSorted(trust.hashRevoke(p, EPOCH + 1), keys2()));
        (uint16 score, uint8 t, uint64 epoch, uint64 expiry, bool revoked) = trust.latest(p);
        assertTrue(revoked, "revoked");
        assertEq(epoch, EPOCH + 1, "epoch moves to the revocation's");
        assertEq(score, 9500, "last score kept");
        assertEq(t, 3, "last trust kept");
        assertEq(expiry, r.expiry, "expiry kept");
        assertFalse(trust.isVerified(p, 0, 1 days), "revoked is not verified");

        // a record signed before the revocation cannot land any more
        SentinelTrust.Record[] memory late = one(rec(p, 9600, 3, EPOCH + 1));
        bytes[] memory lateSigs = signBatch(late, keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.Stale.selector, p, EPOCH + 1, EPOCH + 1));
        trust.submit(late, lateSigs);

        // revoking the same epoch twice is refused (idempotency is the caller's)
        bytes[] memory again = signSorted(trust.hashRevoke(p, EPOCH + 1), keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.AlreadyRevoked.selector, p, EPOCH + 1));
        trust.revoke(p, EPOCH + 1, again);

        // a later record clears the revocation
        vm.warp(NOW + 2 hours);
        submit(one(rec(p, 9700, 3, EPOCH + 2)));
        (score,,,, revoked) = trust.latest(p);
        assertFalse(revoked, "recovered");
        assertEq(score, 9700, "new score");
        assertTrue(trust.isVerified(p, 9000, 2 hours), "verified again");
    }

    function test_revokeSameEpoch() public {
        bytes32 p = pid("alpha");
        submit(one(rec(p, 9500, 3, EPOCH)));
        trust.revoke(p, EPOCH, signSorted(trust.hashRevoke(p, EPOCH), keys2()));
        (,, uint64 epoch,, bool revoked) = trust.latest(p);
        assertTrue(revoked, "revoked");
        assertEq(epoch, EPOCH, "epoch");
    }

    function test_revokeOlderEpoch_reverts() public {
        bytes32 p = pid("alpha");
        submit(one(rec(p, 9500, 3, EPOCH)));
        bytes[] memory sigs = signSorted(trust.hashRevoke(p, EPOCH - 1), keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.Stale.selector, p, EPOCH, EPOCH - 1));
        trust.revoke(p, EPOCH - 1, sigs);
    }

    function test_revokeBelowQuorum_reverts() public {
        bytes32 p = pid("alpha");
        submit(one(rec(p, 9500, 3, EPOCH)));
        bytes[] memory sigs = signSorted(trust.hashRevoke(p, EPOCH), keys(K1));
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BelowQuorum.selector, 1, 2));
        trust.revoke(p, EPOCH, sigs);
    }

    function test_revokeWithBatchSignature_reverts() public {
        // a signature over a batch digest is not a signature over a revocation
        bytes32 p = pid("alpha");
        SentinelTrust.Record[] memory rs = one(rec(p, 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys2());
        trust.submit(rs, sigs);
        vm.expectRevert();
        trust.revoke(p, EPOCH, sigs);
    }

    function test_revokeUnknownProvider_blocksOlderRecords() public {
        bytes32 p = pid("never-seen");
        trust.revoke(p, EPOCH, signSorted(trust.hashRevoke(p, EPOCH), keys2()));
        (uint16 score, uint8 t, uint64 epoch, uint64 expiry, bool revoked) = trust.latest(p);
        assertTrue(revoked, "revoked");
        assertEq(epoch, EPOCH, "epoch");
        assertEq(score, 0, "score");
        assertEq(t, 0, "trust");
        assertEq(expiry, uint256(EPOCH) * 3600, "expiry clamps to the epoch start");
        SentinelTrust.Record[] memory rs = one(rec(p, 9500, 3, EPOCH));
        bytes[] memory sigs = signBatch(rs, keys2());
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.Stale.selector, p, EPOCH, EPOCH));
        trust.submit(rs, sigs);
    }

    // ------------------------------------------------------------ isVerified

    function test_isVerified_semantics() public {
        bytes32 v = pid("verified");
        bytes32 t = pid("trusted");
        SentinelTrust.Record[] memory rs = new SentinelTrust.Record[](2);
        rs[0] = rec(v, 9200, 3, EPOCH);
        rs[1] = rec(t, 9800, 2, EPOCH);
        submit(rs);
        assertTrue(trust.isVerified(v, 9000, 1 hours), "verified, 92 >= 90");
        assertTrue(trust.isVerified(v, 9200, 1 hours), "minScore inclusive");
        assertFalse(trust.isVerified(v, 9201, 1 hours), "score below minScore");
        assertFalse(trust.isVerified(t, 0, 1 hours), "trust 2 is never verified, whatever the score");
        assertFalse(trust.isVerified(pid("unknown"), 0, 1 hours), "unknown provider");
        // age: NOW is 1600 s into EPOCH
        uint64 age = uint64(NOW - uint256(EPOCH) * 3600);
        assertTrue(trust.isVerified(v, 9000, age), "age == maxAge");
        assertFalse(trust.isVerified(v, 9000, age - 1), "older than maxAge");
        // an epoch that starts in the future counts as age 0
        vm.warp(uint256(EPOCH) * 3600 - 10);
        assertTrue(trust.isVerified(v, 9000, 0), "future epoch");
    }

    // ------------------------------------------------------------ indices

    function test_submitIndexed_hintsAndRegistration() public {
        SentinelTrust.Record[] memory rs = batch(6, EPOCH);
        // unknown providers: hints 0, they get indices 1..6 in batch order
        trust.submitIndexed(rs, signBatch(rs, keys2()), new uint32[](6));
        for (uint256 i = 0; i < 6; ++i) {
            assertEq(trust.indexOf(rs[i].provider), i + 1, "index in batch order");
        }
        SentinelTrust.Record[] memory next = batch(6, EPOCH + 1);
        vm.warp(NOW + 1 hours);
        trust.submitIndexed(next, signBatch(next, keys2()), hints(next));
        for (uint256 i = 0; i < 6; ++i) {
            (uint16 score,, uint64 epoch,,) = trust.latest(next[i].provider);
            assertEq(score, 9000 + i, "score");
            assertEq(epoch, EPOCH + 1, "epoch");
        }
    }

    function test_submitIndexed_wrongHint_reverts() public {
        SentinelTrust.Record[] memory rs = batch(3, EPOCH);
        submit(rs);
        SentinelTrust.Record[] memory next = batch(3, EPOCH + 1);
        bytes[] memory sigs = signBatch(next, keys2());
        uint32[] memory h = hints(next);
        (h[0], h[1]) = (h[1], h[0]);
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadIndex.selector, next[0].provider, h[0]));
        trust.submitIndexed(next, sigs, h);
        // a hint past the last index (an empty lane) is refused too
        h = hints(next);
        h[2] = 4;
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadIndex.selector, next[2].provider, 4));
        trust.submitIndexed(next, sigs, h);
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadIndicesLength.selector, 2, 3));
        trust.submitIndexed(next, sigs, new uint32[](2));
    }

    function test_tagCollision_degradesToLookup() public {
        // two providers whose low 32 bits agree (bit 0 aside) share a tag: the
        // second one registers without a tag and is found by lookup only
        bytes32 p = bytes32(uint256(0x1234));
        bytes32 q = bytes32((uint256(7) << 200) | 0x1235);
        submit(one(rec(p, 9500, 3, EPOCH)));
        submit(one(rec(q, 9400, 3, EPOCH)));
        assertEq(trust.indexOf(q), 2, "q has an index");
        assertEq(trust.hintOf(p), 1, "p is hintable");
        assertEq(trust.hintOf(q), 0, "q is not");
        vm.warp(NOW + 1 hours);
        SentinelTrust.Record[] memory rs = new SentinelTrust.Record[](2);
        rs[0] = rec(p, 9500, 3, EPOCH + 1);
        rs[1] = rec(q, 9400, 3, EPOCH + 1);
        bytes[] memory sigs = signBatch(rs, keys2());
        uint32[] memory h = new uint32[](2);
        (h[0], h[1]) = (1, 2);
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadIndex.selector, q, 2));
        trust.submitIndexed(rs, sigs, h);
        h[1] = trust.hintOf(q);
        trust.submitIndexed(rs, sigs, h);
        (uint16 score,, uint64 epoch,,) = trust.latest(q);
        assertEq(score, 9400, "q stored");
        assertEq(epoch, EPOCH + 1, "q epoch");
    }

    function test_revokeRegisters_thenHintsWork() public {
        bytes32 p = pid("revoked-first");
        trust.revoke(p, EPOCH, signSorted(trust.hashRevoke(p, EPOCH), keys2()));
        assertEq(trust.hintOf(p), 1, "hintable after revoke registered it");
        vm.warp(NOW + 1 hours);
        SentinelTrust.Record[] memory rs = one(rec(p, 9500, 3, EPOCH + 1));
        uint32[] memory h = new uint32[](1);
        h[0] = 1;
        trust.submitIndexed(rs, signBatch(rs, keys2()), h);
        (,,,, bool revoked) = trust.latest(p);
        assertFalse(revoked, "cleared");
    }

    function test_manyProviders_lanesAndSlotsIndependent() public {
        // 20 providers span 3 tag slots and 5 entry slots; write them in a
        // scrambled order with hints and check every one round-trips.
        SentinelTrust.Record[] memory rs = batch(20, EPOCH);
        submit(rs);
        SentinelTrust.Record[] memory next = new SentinelTrust.Record[](20);
        for (uint256 i = 0; i < 20; ++i) {
            uint256 j = (i * 7) % 20;
            next[i] = rec(rs[j].provider, uint16(5000 + j), uint8(j % 4), EPOCH + 1 + uint64(j));
        }
        vm.warp(NOW + 1 hours);
        trust.submitIndexed(next, signBatch(next, keys2()), hints(next));
        for (uint256 j = 0; j < 20; ++j) {
            (uint16 score, uint8 t, uint64 epoch, uint64 expiry,) = trust.latest(rs[j].provider);
            assertEq(score, 5000 + j, "score");
            assertEq(t, j % 4, "trust");
            assertEq(epoch, EPOCH + 1 + j, "epoch");
            assertEq(expiry, (EPOCH + 1 + j) * 3600 + 3600 + TTL, "expiry");
        }
    }

    // ------------------------------------------------------------ owner

    function test_owner_only() public {
        address stranger = vm.addr(K_OUTSIDER);
        vm.startPrank(stranger);
        vm.expectRevert(SentinelTrust.NotOwner.selector);
        trust.addSigner(stranger);
        vm.expectRevert(SentinelTrust.NotOwner.selector);
        trust.removeSigner(a1);
        vm.expectRevert(SentinelTrust.NotOwner.selector);
        trust.setQuorum(1);
        vm.expectRevert(SentinelTrust.NotOwner.selector);
        trust.transferOwnership(stranger);
        vm.stopPrank();
    }

    function test_owner_signersAndQuorum() public {
        address d = vm.addr(K_OUTSIDER);
        trust.addSigner(d);
        assertEq(trust.signerCount(), 4, "count");
        assertTrue(trust.isSigner(d), "added");
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.SignerExists.selector, d));
        trust.addSigner(d);
        vm.expectRevert(SentinelTrust.ZeroAddress.selector);
        trust.addSigner(address(0));
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadQuorum.selector, 5, 4));
        trust.setQuorum(5);
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadQuorum.selector, 0, 4));
        trust.setQuorum(0);
        trust.setQuorum(4);
        // removing a signer may not leave fewer signers than the quorum
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadQuorum.selector, 4, 3));
        trust.removeSigner(a1);
        trust.setQuorum(3);
        trust.removeSigner(a1);
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.NotASigner.selector, a1));
        trust.removeSigner(a1);
        address[] memory s = trust.signers();
        assertEq(s.length, 3, "signers");
        for (uint256 i = 0; i < s.length; ++i) {
            assertTrue(s[i] != a1 && trust.isSigner(s[i]), "enumeration matches");
        }
    }

    function test_owner_transfer() public {
        address next = vm.addr(K_OUTSIDER);
        trust.transferOwnership(next);
        assertEq(trust.owner(), next, "owner");
        vm.expectRevert(SentinelTrust.NotOwner.selector);
        trust.setQuorum(1);
        vm.prank(next);
        trust.setQuorum(1);
        assertEq(trust.quorum(), 1, "quorum");
    }

    function test_constructor_checks() public {
        address[] memory s = new address[](2);
        s[0] = a1;
        s[1] = a1;
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.SignerExists.selector, a1));
        new SentinelTrust(s, 1);
        s[1] = a2;
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadQuorum.selector, 3, 2));
        new SentinelTrust(s, 3);
        vm.expectRevert(abi.encodeWithSelector(SentinelTrust.BadQuorum.selector, 0, 2));
        new SentinelTrust(s, 0);
    }

    // ------------------------------------------------------------ fuzz

    function testFuzz_recordRoundTrips(bytes32 provider, uint16 score, uint8 t, uint32 epochOffset, uint32 ttl) public {
        score = uint16(score % 10_001);
        t = t % 4;
        uint64 epoch = EPOCH - 1000 + uint64(epochOffset % 2000);
        uint256 start = uint256(epoch) * 3600;
        uint256 minExpiry = start < NOW ? NOW + 1 : start + 1;
        uint256 maxExpiry = start + trust.MAX_TTL();
        if (minExpiry > maxExpiry) return;
        uint64 expiry = uint64(minExpiry + (uint256(ttl) % (maxExpiry - minExpiry + 1)));
        SentinelTrust.Record memory r = SentinelTrust.Record(provider, score, t, epoch, expiry, keccak256("e"));
        submit(one(r));
        (uint16 s2, uint8 t2, uint64 e2, uint64 x2, bool rv) = trust.latest(provider);
        assertEq(s2, score, "score");
        assertEq(t2, t, "trust");
        assertEq(e2, epoch, "epoch");
        assertEq(x2, expiry, "expiry");
        assertFalse(rv, "revoked");
    }
}
