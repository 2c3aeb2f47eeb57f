//! The wall clock: the only clock in the process. The core never reads
//! one; every entry point gets `now` from here.

use sentinel_core::UnixMillis;
use std::time::{SystemTime, UNIX_EPOCH};

/// The wall clock in Unix milliseconds.
#[allow(clippy::disallowed_methods)] // the shell owns the clock
pub fn now_ms() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
