// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title SentinelTrust: quorum-signed, replay-safe trust records for providers
/// @notice Bookkeeper Sentinel's on-chain anchor (DESIGN.md section 9). Each epoch
/// the sentinels sign ONE EIP-712 digest over a batch of records; anyone may submit
/// the batch with the signatures of a quorum of authorised signers. The contract
/// keeps, per provider, only what `latest` and `isVerified` need (64 bits, four
/// providers per storage slot); the evidence hash lives in the `Attested` event.
/// @dev Storage layout, EIP-712 strings and gas figures: contracts/README.md.
contract SentinelTrust {
    /// @notice One provider's standing for one epoch, as the sentinels sign it.
    /// @param provider keccak256(bytes(providerId))
    /// @param score basis points, 0..=10000
    /// @param trust 0 untrusted, 1 testing, 2 trusted, 3 verified
    /// @param epoch hours since the Unix epoch, 1..=2^24-1
    /// @param expiry Unix seconds; epoch*3600 < expiry <= epoch*3600 + 2^23-1
    /// @param evidence hash of the epoch's evidence report
    struct Record {
        bytes32 provider;
        uint16 score;
        uint8 trust;
        uint64 epoch;
        uint64 expiry;
        bytes32 evidence;
    }

    // ------------------------------------------------------------------ EIP-712

    bytes32 public constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 public constant RECORD_TYPEHASH =
        keccak256("Record(bytes32 provider,uint16 score,uint8 trust,uint64 epoch,uint64 expiry,bytes32 evidence)");
    bytes32 public constant BATCH_TYPEHASH = keccak256(
        "Batch(Record[] records)Record(bytes32 provider,uint16 score,uint8 trust,uint64 epoch,uint64 expiry,bytes32 evidence)"
    );
    bytes32 public constant REVOKE_TYPEHASH = keccak256("Revoke(bytes32 provider,uint64 epoch)");
    bytes32 private constant NAME_HASH = keccak256("BookkeeperSentinel");
    bytes32 private constant VERSION_HASH = keccak256("1");

    // ------------------------------------------------------------------ limits

    uint256 public constant MAX_SCORE = 10_000;
    uint8 public constant TRUST_VERIFIED = 3;
    /// @notice Records per batch (bounds every loop over a batch).
    uint256 public constant MAX_BATCH = 1024;
    /// @notice Authorised signers (bounds the signature loop).
    uint256 public constant MAX_SIGNERS = 32;
    /// @notice Largest epoch that fits the packed entry (hours: year 3884).
    uint256 public constant MAX_EPOCH = (1 << 24) - 1;
    /// @notice Largest expiry - epoch*3600 that fits the packed entry (~97 days).
    uint256 public constant MAX_TTL = (1 << 23) - 1;
    /// @dev secp256k1n / 2: signatures with a larger s are malleable copies.
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    // Packed entry, 64 bits per provider, four per slot (lane = index % 4,
    // bits 64*lane .. 64*lane+63 of slot index / 4):
    //   bits  0..23  epoch
    //   bits 24..46  expiry - epoch*3600 (seconds)
    //   bits 47..60  score
    //   bits 61..62  trust
    //   bit  63      revoked
    uint256 private constant MASK64 = 0xffffffffffffffff;
    uint256 private constant TTL_SHIFT = 24;
    uint256 private constant SCORE_SHIFT = 47;
    uint256 private constant TRUST_SHIFT = 61;
    uint256 private constant REVOKED_SHIFT = 63;

    // ------------------------------------------------------------------ state

    /// @notice May add and remove signers, set the quorum and hand itself over.
    address public owner;
    /// @notice Distinct authorised signatures a batch or a revocation needs.
    uint8 public quorum;
    /// @notice Authorised signers.
    uint8 public signerCount;
    /// @notice Providers ever attested or revoked (indices 1..=providerCount).
    uint32 public providerCount;

    address[] private _signers;
    /// @dev signer => 1-based position in _signers (0 = not a signer).
    mapping(address => uint256) private _signerPos;
    /// @notice provider => 1-based index, assigned on the provider's first record (0 = unknown).
    mapping(bytes32 => uint256) public indexOf;
    /// @dev tag => taken. A tag belongs to at most one provider, so a tag match
    /// proves an index hint; a provider whose tag was taken gets no tag (its
    /// lane stays 0) and is found by lookup only.
    mapping(uint32 => bool) private _tagTaken;
    /// @dev slot k: the 32-bit tags of the providers with 0-based index 8k..8k+7.
    mapping(uint256 => uint256) private _tags;
    /// @dev slot k: the packed entries of the providers with 0-based index 4k..4k+3.
    mapping(uint256 => uint256) private _entries;

    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;
    address private immutable _self;

    // ------------------------------------------------------------------ events

    event Attested(bytes32 indexed provider, uint16 score, uint8 trust, uint64 epoch, uint64 expiry, bytes32 evidence);
    event Revoked(bytes32 indexed provider, uint64 epoch);
    event Registered(bytes32 indexed provider, uint256 index);
    event SignerAdded(address indexed signer);
    event SignerRemoved(address indexed signer);
    event QuorumChanged(uint8 quorum);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    // ------------------------------------------------------------------ errors

    error NotOwner();
    error ZeroAddress();
    error SignerExists(address signer);
    error NotASigner(address signer);
    error TooManySigners();
    error BadQuorum(uint256 quorum, uint256 signers);
    error BadBatchSize(uint256 records);
    error BadIndicesLength(uint256 indices, uint256 records);
    error BelowQuorum(uint256 signatures, uint256 quorum);
    error TooManySignatures(uint256 signatures, uint256 signers);
    error BadSignature(uint256 position);
    error NotAuthorised(address signer);
    error DuplicateOrUnsorted(uint256 position, address signer);
    error BadScore(bytes32 provider, uint256 score);
    error BadTrust(bytes32 provider, uint256 trust);
    error BadEpoch(bytes32 provider, uint256 epoch);
    error Expired(bytes32 provider, uint256 expiry);
    error BadExpiry(bytes32 provider, uint256 expiry);
    error Stale(bytes32 provider, uint64 storedEpoch, uint256 epoch);
    error AlreadyRevoked(bytes32 provider, uint64 epoch);
    error BadIndex(bytes32 provider, uint256 index);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// @param signers_ the authorised sentinel signers (distinct, non-zero, at most 32)
    /// @param quorum_ signatures required, 1..=signers_.length
    constructor(address[] memory signers_, uint8 quorum_) {
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
        for (uint256 i = 0; i < signers_.length; ++i) {
            _addSigner(signers_[i]);
        }
        _setQuorum(quorum_);
        _cachedChainId = block.chainid;
        _self = address(this);
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    // ------------------------------------------------------------------ owner

    function addSigner(address signer) external onlyOwner {
        _addSigner(signer);
    }

    /// @dev Reverts with BadQuorum when the removal would leave fewer signers
    /// than the quorum: lower the quorum first.
    function removeSigner(address signer) external onlyOwner {
        uint256 pos = _signerPos[signer];
        if (pos == 0) revert NotASigner(signer);
        uint256 count = signerCount;
        if (count - 1 < quorum) revert BadQuorum(quorum, count - 1);
        address last = _signers[count - 1];
        _signers[pos - 1] = last;
        _signerPos[last] = pos;
        _signers.pop();
        delete _signerPos[signer];
        signerCount = uint8(count - 1);
        emit SignerRemoved(signer);
    }

    function setQuorum(uint8 quorum_) external onlyOwner {
        _setQuorum(quorum_);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function _addSigner(address signer) private {
        if (signer == address(0)) revert ZeroAddress();
        if (_signerPos[signer] != 0) revert SignerExists(signer);
        uint256 count = signerCount;
        if (count >= MAX_SIGNERS) revert TooManySigners();
        _signers.push(signer);
        _signerPos[signer] = count + 1;
        signerCount = uint8(count + 1);
        emit SignerAdded(signer);
    }

    function _setQuorum(uint8 quorum_) private {
        if (quorum_ == 0 || quorum_ > signerCount) revert BadQuorum(quorum_, signerCount);
        quorum = quorum_;
        emit QuorumChanged(quorum_);
    }

    // ------------------------------------------------------------------ submit

    /// @notice Anchors a batch signed by a quorum: `signatures` are 65-byte
    /// (r, s, v) signatures over `hashBatch(records)`, sorted by signer address,
    /// strictly increasing. Each provider's index is looked up (new providers are
    /// registered); `submitIndexed` takes the indices as hints and costs less.
    function submit(Record[] calldata records, bytes[] calldata signatures) external {
        _submit(records, signatures, 0);
    }

    /// @notice As `submit`, with `indices[i]` = `indexOf(records[i].provider)`
    /// (0 for a provider not registered yet). A wrong hint reverts `BadIndex`.
    /// Records of providers with neighbouring indices share a storage slot, so
    /// a batch ordered by index writes a quarter of the slots.
    function submitIndexed(Record[] calldata records, bytes[] calldata signatures, uint32[] calldata indices) external {
        if (indices.length != records.length) revert BadIndicesLength(indices.length, records.length);
        uint256 offset;
        assembly ("memory-safe") {
            offset := indices.offset
        }
        _submit(records, signatures, offset);
    }

    // Failure codes of the storing loop (it is assembly; Solidity reverts with
    // the matching custom error after it).
    uint256 private constant E_RANGE = 1; // a field out of range: _fail says which
    uint256 private constant E_INDEX = 2;
    uint256 private constant E_STALE = 3;

    /// @dev hintsOffset = 0: every index is looked up; else the calldata offset
    /// of the 1-based index hints (0 = look up). Any failure reverts the whole
    /// transaction, the writes of the storing pass included; the signatures are
    /// checked last, over the batch hash that pass produced.
    function _submit(Record[] calldata records, bytes[] calldata signatures, uint256 hintsOffset) private {
        uint256 n = records.length;
        if (n == 0 || n > MAX_BATCH) revert BadBatchSize(n);
        uint256 recordsOffset;
        assembly ("memory-safe") {
            recordsOffset := records.offset
        }
        (uint256 err, uint256 errAt, uint256 errValue, bytes32 arrayHash) = _store(recordsOffset, n, hintsOffset);
        if (err != 0) _fail(records[errAt], err, errValue);
        _checkQuorum(_hashTypedData(keccak256(abi.encode(BATCH_TYPEHASH, arrayHash))), signatures);
    }

    /// @dev The storing pass, in assembly. Per record: copy it next to
    /// RECORD_TYPEHASH in memory and hash it (hashStruct, kept for the batch
    /// hash); range-check its fields; find its index (the hint checked against
    /// the provider's tag, or looked up, registering a new provider); check the
    /// epoch against the packed entry and write the new entry; emit Attested
    /// straight from the copied record. The slots of _tags and _entries are
    /// cached, so records with neighbouring indices share one SLOAD and one SSTORE.
    /// Returns a failure code (0 = none), the failing record's position and a
    /// value for the error, and keccak256 of the records' struct hashes.
    function _store(uint256 recordsOffset, uint256 n, uint256 hintsOffset)
        private
        returns (uint256 err, uint256 errAt, uint256 errValue, bytes32 arrayHash)
    {
        bytes32 recordTypeHash = RECORD_TYPEHASH;
        assembly ("memory-safe") {
            function slotOf(key, mappingSlot) -> slot {
                mstore(0, key)
                mstore(32, mappingSlot)
                slot := keccak256(0, 64)
            }
            // The 0-based index of a provider without a hint: looked up, or
            // assigned (the next one) with the provider's tag when that tag is
            // free (else its lane stays 0 and only lookups find the provider).
            function lookup(provider) -> idx {
                let indexSlot := slotOf(provider, indexOf.slot)
                idx := sload(indexSlot)
                switch idx
                case 0 {
                    let word := sload(providerCount.slot)
                    let shift := shl(3, providerCount.offset)
                    idx := and(shr(shift, word), 0xffffffff)
                    sstore(providerCount.slot, or(and(word, not(shl(shift, 0xffffffff))), shl(shift, add(idx, 1))))
                    sstore(indexSlot, add(idx, 1))
                    let tag := or(and(provider, 0xffffffff), 1)
                    let takenSlot := slotOf(tag, _tagTaken.slot)
                    if iszero(sload(takenSlot)) {
                        sstore(takenSlot, 1)
                        let tagSlot := slotOf(shr(3, idx), _tags.slot)
                        sstore(tagSlot, or(sload(tagSlot), shl(shl(5, and(idx, 7)), tag)))
                    }
                    // Registered(provider, index)
                    mstore(0, add(idx, 1))
                    log2(0, 32, 0xc8704a622f3eb8c9fc5a2ddf1775b5ea7695359b13dec8111874e266a4d5fbc9, provider)
                }
                default { idx := sub(idx, 1) }
            }
            // returns the failure code and value, and the end of the struct hashes written
            function storeAll(p, hashes, end, hp) -> code, value, h {
                let fields := add(end, 32) // end: RECORD_TYPEHASH ‖ the record being processed
                let entryKey := not(0) // the _entries slot key held in entryWord
                let entryWord := 0
                let tagKey := not(0) // the _tags slot key held in tagWord
                let tagWord := 0
                for { h := hashes } lt(h, end) { p := add(p, 192) } {
                    calldatacopy(fields, p, 192)
                    mstore(h, keccak256(end, 224))
                    h := add(h, 32)
                    let provider := mload(fields)
                    let epoch := mload(add(fields, 96))
                    let entry := 0
                    {
                        let score := mload(add(fields, 32))
                        let trustLevel := mload(add(fields, 64))
                        let expiry := mload(add(fields, 128))
                        let ttl := sub(expiry, mul(epoch, 3600))
                        // Full 256-bit words are checked, so a value with dirty
                        // high bits (which hashes differently from its typed
                        // value) never passes; sub(x, 1) wraps 0 to the maximum.
                        if or(
                            or(gt(score, 10000), gt(trustLevel, 3)),
                            or(
                                or(gt(sub(epoch, 1), 0xfffffe), iszero(gt(expiry, timestamp()))),
                                gt(sub(ttl, 1), 0x7ffffe)
                            )
                        ) {
                            code := 1 // E_RANGE
                            leave
                        }
                        // entry: epoch | ttl << 24 | score << 47 | trust << 61 (revoked = 0)
                        entry := or(or(epoch, shl(24, ttl)), or(shl(47, score), shl(61, trustLevel)))
                    }

                    let idx := 0
                    switch hp
                    case 0 { idx := lookup(provider) }
                    default {
                        let hint := calldataload(hp)
                        hp := add(hp, 32)
                        switch hint
                        case 0 {
                            idx := lookup(provider)
                            tagKey := not(0) // _tags may have changed under the cache
                        }
                        default {
                            idx := sub(hint, 1)
                            let k := shr(3, idx)
                            if iszero(eq(k, tagKey)) {
                                tagKey := k
                                tagWord := sload(slotOf(k, _tags.slot))
                            }
                            if iszero(
                                eq(and(shr(shl(5, and(idx, 7)), tagWord), 0xffffffff), or(and(provider, 0xffffffff), 1))
                            ) {
                                code := 2 // E_INDEX
                                value := hint
                                leave
                            }
                        }
                    }

                    let key := shr(2, idx)
                    if iszero(eq(key, entryKey)) {
                        if iszero(eq(entryKey, not(0))) { sstore(slotOf(entryKey, _entries.slot), entryWord) }
                        entryKey := key
                        entryWord := sload(slotOf(key, _entries.slot))
                    }
                    let shift := shl(6, and(idx, 3))
                    let stored := and(shr(shift, entryWord), 0xffffff)
                    if iszero(gt(epoch, stored)) {
                        code := 3 // E_STALE
                        value := stored
                        leave
                    }
                    entryWord := or(and(entryWord, not(shl(shift, 0xffffffffffffffff))), shl(shift, entry))
                    // Attested(provider, score, trust, epoch, expiry, evidence):
                    // the record's last five words, as copied
                    log2(
                        add(fields, 32),
                        160,
                        0xffcf4d14379db77ab9fc55eb597e23d69eb276d4aedf416f82e32d4fb965add7,
                        provider
                    )
                }
                sstore(slotOf(entryKey, _entries.slot), entryWord)
            }

            let hashes := mload(0x40) // n words: hashStruct(record i); scratch, not allocated
            let end := add(hashes, shl(5, n))
            mstore(end, recordTypeHash)
            let h := 0
            err, errValue, h := storeAll(recordsOffset, hashes, end, hintsOffset)
            switch err
            case 0 { arrayHash := keccak256(hashes, shl(5, n)) }
            default { errAt := sub(shr(5, sub(h, hashes)), 1) }
        }
    }

    /// @dev Reverts with the custom error for a failure of the storing loop.
    function _fail(Record calldata record, uint256 err, uint256 value) private view {
        bytes32 provider = record.provider;
        if (err == E_INDEX) revert BadIndex(provider, value);
        if (err == E_STALE) revert Stale(provider, uint64(value), record.epoch);
        // E_RANGE: the first failing check, on the raw words
        uint256 score;
        uint256 trust;
        uint256 epoch;
        uint256 expiry;
        assembly ("memory-safe") {
            score := calldataload(add(record, 32))
            trust := calldataload(add(record, 64))
            epoch := calldataload(add(record, 96))
            expiry := calldataload(add(record, 128))
        }
        if (score > MAX_SCORE) revert BadScore(provider, score);
        if (trust > TRUST_VERIFIED) revert BadTrust(provider, trust);
        if (epoch == 0 || epoch > MAX_EPOCH) revert BadEpoch(provider, epoch);
        if (expiry <= block.timestamp) revert Expired(provider, expiry);
        revert BadExpiry(provider, expiry);
    }

    /// @dev Assigns the next index to `provider` (as `lookup` in _submit does).
    /// Returns the 0-based index.
    function _register(bytes32 provider) private returns (uint256 idx) {
        idx = providerCount;
        providerCount = uint32(idx + 1);
        indexOf[provider] = idx + 1;
        uint32 tag = _tagOf(provider);
        if (!_tagTaken[tag]) {
            _tagTaken[tag] = true;
            _tags[idx >> 3] |= uint256(tag) << ((idx & 7) << 5);
        }
        emit Registered(provider, idx + 1);
    }

    /// @dev The low 32 bits of the provider hash, lowest bit set (never zero,
    /// so an empty lane never matches).
    function _tagOf(bytes32 provider) private pure returns (uint32) {
        return uint32(uint256(provider)) | 1;
    }

    // ------------------------------------------------------------------ revoke

    /// @notice Revokes `provider` as of `epoch` (>= its stored epoch), signed by a
    /// quorum over `hashRevoke(provider, epoch)`. A later record must carry a
    /// greater epoch; it clears the revocation.
    function revoke(bytes32 provider, uint64 epoch, bytes[] calldata signatures) external {
        _checkQuorum(hashRevoke(provider, epoch), signatures);
        if (epoch == 0 || epoch > MAX_EPOCH) revert BadEpoch(provider, epoch);
        uint256 idx = indexOf[provider];
        idx = idx == 0 ? _register(provider) : idx - 1;
        uint256 key = idx >> 2;
        uint256 shift = (idx & 3) << 6;
        uint256 word = _entries[key];
        uint256 old = (word >> shift) & MASK64;
        uint256 stored = old & 0xffffff;
        if (epoch < stored) revert Stale(provider, uint64(stored), epoch);
        if (old >> REVOKED_SHIFT != 0 && epoch == stored) revert AlreadyRevoked(provider, epoch);
        // Keep the last score, trust and expiry; the expiry is clamped to the
        // revocation epoch's start when it was earlier.
        uint256 oldExpiry = stored * 3600 + ((old >> TTL_SHIFT) & MAX_TTL);
        uint256 start = uint256(epoch) * 3600;
        uint256 ttl = oldExpiry > start ? oldExpiry - start : 0;
        uint256 entry = uint256(epoch) | (ttl << TTL_SHIFT) | (old & (uint256(0xffff) << SCORE_SHIFT))
            | (uint256(1) << REVOKED_SHIFT);
        _entries[key] = (word & ~(MASK64 << shift)) | (entry << shift);
        emit Revoked(provider, epoch);
    }

    // ------------------------------------------------------------------ signatures

    /// @dev Each signature: 65 bytes r ‖ s ‖ v, v in {27, 28}, s <= n/2; the
    /// recovered signers are authorised and strictly increasing by address.
    function _checkQuorum(bytes32 digest, bytes[] calldata signatures) private view {
        uint256 n = signatures.length;
        uint256 q = quorum;
        if (n < q) revert BelowQuorum(n, q);
        uint256 count = signerCount;
        if (n > count) revert TooManySignatures(n, count);
        address last = address(0);
        for (uint256 i = 0; i < n; ++i) {
            bytes calldata sig = signatures[i];
            if (sig.length != 65) revert BadSignature(i);
            bytes32 r;
            bytes32 s;
            uint8 v;
            assembly ("memory-safe") {
                r := calldataload(sig.offset)
                s := calldataload(add(sig.offset, 32))
                v := byte(0, calldataload(add(sig.offset, 64)))
            }
            if (uint256(s) > HALF_N || (v != 27 && v != 28)) revert BadSignature(i);
            address signer = ecrecover(digest, v, r, s);
            if (signer == address(0)) revert BadSignature(i);
            if (_signerPos[signer] == 0) revert NotAuthorised(signer);
            if (signer <= last) revert DuplicateOrUnsorted(i, signer);
            last = signer;
        }
    }

    // ------------------------------------------------------------------ hashing

    /// @notice The EIP-712 domain separator (name "BookkeeperSentinel", version "1",
    /// this chain, this contract).
    function domainSeparator() public view returns (bytes32) {
        if (block.chainid == _cachedChainId && address(this) == _self) return _cachedDomainSeparator;
        return _buildDomainSeparator();
    }

    /// @notice The digest the sentinels sign for a batch: EIP-712 `Batch(Record[] records)`.
    function hashBatch(Record[] calldata records) external view returns (bytes32) {
        return _hashTypedData(_hashBatchStruct(records));
    }

    /// @notice The EIP-712 struct hash of one record (hashStruct(Record)).
    function hashRecord(Record calldata record) external pure returns (bytes32 h) {
        bytes32 typeHash = RECORD_TYPEHASH;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typeHash)
            calldatacopy(add(m, 32), record, 192)
            h := keccak256(m, 224)
        }
    }

    /// @notice The digest the sentinels sign to revoke: EIP-712 `Revoke(bytes32 provider,uint64 epoch)`.
    function hashRevoke(bytes32 provider, uint64 epoch) public view returns (bytes32) {
        return _hashTypedData(keccak256(abi.encode(REVOKE_TYPEHASH, provider, epoch)));
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    function _hashTypedData(bytes32 structHash) private view returns (bytes32 digest) {
        bytes32 sep = domainSeparator();
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, 0x1901000000000000000000000000000000000000000000000000000000000000)
            mstore(add(m, 2), sep)
            mstore(add(m, 34), structHash)
            digest := keccak256(m, 66)
        }
    }

    /// @dev hashStruct(Batch) = keccak256(BATCH_TYPEHASH ‖ keccak256(hashStruct(r0) ‖ … ‖ hashStruct(rn-1))),
    /// hashStruct(Record) = keccak256(RECORD_TYPEHASH ‖ the six fields as 32-byte words).
    /// Records are static structs, so calldata holds them as 6 contiguous words each.
    function _hashBatchStruct(Record[] calldata records) private pure returns (bytes32 h) {
        bytes32 recordTypeHash = RECORD_TYPEHASH;
        bytes32 batchTypeHash = BATCH_TYPEHASH;
        assembly ("memory-safe") {
            let n := records.length
            let hashes := mload(0x40)
            let scratch := add(hashes, mul(n, 32))
            mstore(scratch, recordTypeHash)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                calldatacopy(add(scratch, 32), add(records.offset, mul(i, 192)), 192)
                mstore(add(hashes, mul(i, 32)), keccak256(scratch, 224))
            }
            let arrayHash := keccak256(hashes, mul(n, 32))
            mstore(hashes, batchTypeHash)
            mstore(add(hashes, 32), arrayHash)
            h := keccak256(hashes, 64)
        }
    }

    // ------------------------------------------------------------------ views

    /// @notice The provider's latest record (all zero for an unknown provider).
    /// After a revocation: revoked = true, epoch = the revocation's epoch, and the
    /// last score, trust and expiry (the expiry clamped to the revocation epoch's start).
    function latest(bytes32 provider)
        external
        view
        returns (uint16 score, uint8 trust, uint64 epoch, uint64 expiry, bool revoked)
    {
        uint256 idx = indexOf[provider];
        if (idx == 0) return (0, 0, 0, 0, false);
        uint256 e = _entry(idx - 1);
        epoch = uint64(e & 0xffffff);
        expiry = uint64(uint256(epoch) * 3600 + ((e >> TTL_SHIFT) & MAX_TTL));
        score = uint16((e >> SCORE_SHIFT) & 0x3fff);
        trust = uint8((e >> TRUST_SHIFT) & 3);
        revoked = e >> REVOKED_SHIFT != 0;
    }

    /// @notice True when the provider's latest record is not revoked, has trust
    /// level verified (3) AND score >= minScore, has not expired
    /// (block.timestamp < expiry), and its epoch started at most maxAge seconds
    /// ago (an epoch starting in the future counts as age 0).
    function isVerified(bytes32 provider, uint16 minScore, uint64 maxAge) external view returns (bool) {
        uint256 idx = indexOf[provider];
        if (idx == 0) return false;
        uint256 e = _entry(idx - 1);
        if (e >> REVOKED_SHIFT != 0) return false;
        if ((e >> TRUST_SHIFT) & 3 != TRUST_VERIFIED) return false;
        if ((e >> SCORE_SHIFT) & 0x3fff < minScore) return false;
        uint256 start = (e & 0xffffff) * 3600;
        if (block.timestamp >= start + ((e >> TTL_SHIFT) & MAX_TTL)) return false;
        return block.timestamp <= start || block.timestamp - start <= maxAge;
    }

    /// @notice The value to pass for `provider` in `submitIndexed`'s indices: its
    /// 1-based index, or 0 when it has none yet or its tag is shared (then the
    /// contract looks it up, which costs a cold SLOAD more).
    function hintOf(bytes32 provider) external view returns (uint32) {
        uint256 idx = indexOf[provider];
        if (idx == 0) return 0;
        uint256 lane = (_tags[(idx - 1) >> 3] >> (((idx - 1) & 7) << 5)) & 0xffffffff;
        return lane == _tagOf(provider) ? uint32(idx) : 0;
    }

    /// @notice The authorised signers, in no particular order.
    function signers() external view returns (address[] memory) {
        return _signers;
    }

    function isSigner(address account) external view returns (bool) {
        return _signerPos[account] != 0;
    }

    function _entry(uint256 idx) private view returns (uint256) {
        return (_entries[idx >> 2] >> ((idx & 3) << 6)) & MASK64;
    }
}
