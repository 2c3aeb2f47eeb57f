//! The state encoded in parts, so a store that can write parts (the local
//! redb store) writes only what changed in a tick instead of the whole
//! state: with 1,000 providers the state is ~700 KB, while a tick changes
//! the providers it probed and a small head.
//!
//! The parts join into exactly [`State::to_bytes`]: postcard encodes a
//! struct as its fields in order and a map as a varint length followed by
//! its entries in key order, so
//!
//! ```text
//! to_bytes = prefix ++ varint(n) ++ entry_1 ++ … ++ entry_n ++ suffix
//! ```
//!
//! where `prefix` is the magic, the format version and the fields before
//! `providers`, each `entry` one provider as its map entry (id, then
//! state), and `suffix` the fields after it. A store can therefore keep the
//! entries under their ids, rewrite only those whose bytes changed, and
//! give back the whole encoding by concatenation, without decoding.

use crate::state::{State, MAGIC, STATE_VERSION};
use crate::ProviderId;

/// A state encoded for a store; see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncodedState {
    /// Magic, format version and the fields before `providers`.
    pub prefix: Vec<u8>,
    /// Each provider's map entry, in key order.
    pub providers: Vec<(ProviderId, Vec<u8>)>,
    /// The fields after `providers`.
    pub suffix: Vec<u8>,
    /// Whether this is an opaque blob in `prefix` (not split; tests and
    /// stores that only ever see whole states).
    pub opaque: bool,
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn encode<T: serde::Serialize>(v: &T, out: Vec<u8>) -> Vec<u8> {
    // Serializing plain data into a Vec cannot fail.
    postcard::to_extend(v, out).unwrap_or_default()
}

impl EncodedState {
    /// Encodes `state` in parts.
    pub fn of(state: &State) -> EncodedState {
        let mut prefix = Vec::with_capacity(32);
        prefix.extend_from_slice(MAGIC);
        prefix.extend_from_slice(&STATE_VERSION.to_le_bytes());
        let prefix = encode(&(state.version, state.revision, state.last_decide), prefix);
        let providers = state
            .providers
            .iter()
            .map(|(id, ps)| (id.clone(), encode(&(id, ps), Vec::with_capacity(512))))
            .collect();
        let suffix = encode(
            &(
                &state.services,
                &state.history,
                state.switch_seq,
                &state.alerts,
                &state.footprint,
                state.footprint_step,
                &state.usage_watermarks,
                &state.submitted,
                &state.outbox,
                state.notice_seq,
                &state.schedule,
                &state.usage_seen,
                &state.recent_latency,
                &state.applied,
                &state.peering,
                &state.anchoring,
            ),
            Vec::with_capacity(1024),
        );
        // A tuple serialises as its fields one after another, and serde's
        // tuples stop at sixteen: the seventeenth field follows.
        let suffix = encode(&(&state.discovery, &state.status_pages), suffix);
        EncodedState {
            prefix,
            providers,
            suffix,
            opaque: false,
        }
    }

    /// An opaque, unsplit encoding.
    pub fn opaque(bytes: Vec<u8>) -> EncodedState {
        EncodedState {
            prefix: bytes,
            opaque: true,
            ..EncodedState::default()
        }
    }

    /// Joins parts as a store kept them into the whole encoding.
    pub fn join<'a>(
        prefix: &[u8],
        entries: impl ExactSizeIterator<Item = &'a [u8]>,
        suffix: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(prefix.len() + suffix.len() + entries.len() * 700);
        out.extend_from_slice(prefix);
        varint(entries.len() as u64, &mut out);
        for e in entries {
            out.extend_from_slice(e);
        }
        out.extend_from_slice(suffix);
        out
    }

    /// The whole encoding ([`State::to_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.opaque {
            return self.prefix.clone();
        }
        EncodedState::join(
            &self.prefix,
            self.providers.iter().map(|(_, e)| e.as_slice()),
            &self.suffix,
        )
    }
}
