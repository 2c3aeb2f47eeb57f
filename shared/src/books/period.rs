//! Quota periods as half-open UTC windows `[start, end)`.
//!
//! A period is a UTC calendar minute, hour, day or month, shifted by the
//! quota's reset offset: the boundaries are the calendar boundaries plus
//! the offset. The window containing `now` is therefore found by stepping
//! back by the offset, taking the calendar period there, and stepping
//! forward again:
//!
//! ```text
//! start = calendar_start(now − offset) + offset
//! end   = calendar_next(now − offset)  + offset
//! ```
//!
//! A daily quota with offset 6h runs 06:00–06:00 UTC; a monthly one with
//! offset 14d runs from the 15th to the 15th (month lengths follow the
//! month the cycle *starts* in, shifted). Before the first boundary after
//! the epoch (only possible for `now < offset`), the window is
//! `[0, offset)`. Month arithmetic uses [`crate::time`]'s exact proleptic
//! Gregorian functions, so leap years and Dec→Jan need no special cases.

use super::spec::Period;
use crate::time::{
    start_of_day, start_of_hour, start_of_month, start_of_next_month, Span, UnixMillis, DAY, HOUR,
    MINUTE,
};
use serde::{Deserialize, Serialize};

/// A half-open time window `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    /// First millisecond in the window.
    pub start: UnixMillis,
    /// First millisecond after the window.
    pub end: UnixMillis,
}

impl Window {
    /// Its length in milliseconds.
    pub const fn len(self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether it is empty (never, for windows from [`window`]).
    pub const fn is_empty(self) -> bool {
        self.end <= self.start
    }

    /// Milliseconds from its start to `now` (clamped to the window).
    pub fn elapsed(self, now: UnixMillis) -> u64 {
        now.clamp(self.start, self.end) - self.start
    }

    /// Milliseconds from `now` to its end (clamped to the window).
    pub fn remaining(self, now: UnixMillis) -> u64 {
        self.end - now.clamp(self.start, self.end)
    }

    /// Whether `t` lies in it.
    pub const fn contains(self, t: UnixMillis) -> bool {
        self.start <= t && t < self.end
    }
}

fn calendar_start(period: Period, t: UnixMillis) -> UnixMillis {
    match period {
        Period::Minute => t - t % MINUTE,
        Period::Hour => start_of_hour(t),
        Period::Day => start_of_day(t),
        Period::Month => start_of_month(t),
    }
}

fn calendar_next(period: Period, t: UnixMillis) -> UnixMillis {
    match period {
        Period::Minute => (t - t % MINUTE).saturating_add(MINUTE),
        Period::Hour => start_of_hour(t).saturating_add(HOUR),
        Period::Day => start_of_day(t).saturating_add(DAY),
        Period::Month => start_of_next_month(t),
    }
}

/// The window of `period`, shifted by `offset`, that contains `now`.
pub fn window(period: Period, offset: Span, now: UnixMillis) -> Window {
    let off = offset.as_ms();
    match now.checked_sub(off) {
        Some(t) => Window {
            start: calendar_start(period, t).saturating_add(off),
            end: calendar_next(period, t).saturating_add(off),
        },
        None => Window { start: 0, end: off },
    }
}

/// The UTC calendar month containing `now`: the period of the free tier,
/// the month-to-date totals and the money budget.
pub fn month(now: UnixMillis) -> Window {
    window(Period::Month, Span(0), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{parse_rfc3339, rfc3339};

    fn t(s: &str) -> UnixMillis {
        parse_rfc3339(s).unwrap()
    }

    fn show(w: Window) -> (String, String) {
        (rfc3339(w.start), rfc3339(w.end))
    }

    #[test]
    fn calendar_periods() {
        let now = t("2026-11-24T12:34:56.789Z");
        assert_eq!(
            show(window(Period::Minute, Span(0), now)),
            (
                "2026-11-24T12:34:00.000Z".into(),
                "2026-11-24T12:35:00.000Z".into()
            )
        );
        assert_eq!(
            show(window(Period::Hour, Span(0), now)),
            (
                "2026-11-24T12:00:00.000Z".into(),
                "2026-11-24T13:00:00.000Z".into()
            )
        );
        assert_eq!(
            show(window(Period::Day, Span(0), now)),
            (
                "2026-11-24T00:00:00.000Z".into(),
                "2026-11-25T00:00:00.000Z".into()
            )
        );
        assert_eq!(
            show(month(now)),
            (
                "2026-11-01T00:00:00.000Z".into(),
                "2026-12-01T00:00:00.000Z".into()
            )
        );
    }

    #[test]
    fn december_to_january() {
        let w = month(t("2026-12-31T23:59:59.999Z"));
        assert_eq!(
            show(w),
            (
                "2026-12-01T00:00:00.000Z".into(),
                "2027-01-01T00:00:00.000Z".into()
            )
        );
        let next = month(w.end);
        assert_eq!(next.start, w.end);
        assert_eq!(rfc3339(next.end), "2027-02-01T00:00:00.000Z");
    }

    #[test]
    fn february_in_a_leap_year() {
        let w = month(t("2028-02-29T12:00:00Z"));
        assert_eq!(w.len(), 29 * DAY);
        assert_eq!(month(t("2027-02-10T00:00:00Z")).len(), 28 * DAY);
        assert_eq!(rfc3339(w.end), "2028-03-01T00:00:00.000Z");
    }

    #[test]
    fn reset_offsets() {
        // A daily quota resetting at 06:00 UTC.
        let six = Span::hours(6);
        assert_eq!(
            show(window(Period::Day, six, t("2026-11-24T05:59:59Z"))),
            (
                "2026-11-23T06:00:00.000Z".into(),
                "2026-11-24T06:00:00.000Z".into()
            )
        );
        assert_eq!(
            show(window(Period::Day, six, t("2026-11-24T06:00:00Z"))),
            (
                "2026-11-24T06:00:00.000Z".into(),
                "2026-11-25T06:00:00.000Z".into()
            )
        );
        // A billing cycle on the 15th, across the new year.
        let cycle = Span::days(14);
        assert_eq!(
            show(window(Period::Month, cycle, t("2027-01-10T00:00:00Z"))),
            (
                "2026-12-15T00:00:00.000Z".into(),
                "2027-01-15T00:00:00.000Z".into()
            )
        );
        assert_eq!(
            show(window(Period::Month, cycle, t("2027-01-15T00:00:00Z"))),
            (
                "2027-01-15T00:00:00.000Z".into(),
                "2027-02-15T00:00:00.000Z".into()
            )
        );
        // Before the first boundary after the epoch.
        assert_eq!(
            window(Period::Day, six, 1000),
            Window {
                start: 0,
                end: 6 * HOUR
            }
        );
    }

    #[test]
    fn window_helpers() {
        let w = Window {
            start: 100,
            end: 200,
        };
        assert_eq!((w.len(), w.elapsed(150), w.remaining(150)), (100, 50, 50));
        assert_eq!((w.elapsed(50), w.remaining(500)), (0, 0));
        assert!(w.contains(100) && !w.contains(200) && !w.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn windows_contain_now(now in 0u64..7_258_118_400_000, off in 0u64..(28 * DAY), p in 0usize..4) {
            let period = [Period::Minute, Period::Hour, Period::Day, Period::Month][p];
            let off = Span(off % period.min_len().as_ms());
            let w = window(period, off, now);
            proptest::prop_assert!(w.contains(now));
            // The next window starts where this one ends.
            proptest::prop_assert_eq!(window(period, off, w.end).start, w.end);
        }
    }
}
