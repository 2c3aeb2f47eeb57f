//! Time as data.
//!
//! The core never reads a clock: every entry point takes `now` as
//! [`UnixMillis`], milliseconds since the Unix epoch (UTC), supplied by the
//! shell (`worker::Date::now()`, the system clock, or a virtual clock in
//! tests). Durations in configuration are [`Span`]s written as `"30s"`,
//! `"5m"`, `"24h"`, `"30d"` or `"250ms"`, always with a unit: a bare
//! number (`timeout = 2`, or `"2"`) is refused, because nothing in it says
//! whether it means 2 ms or 2 s. (Binary encodings such as postcard, which
//! no person writes, store a span as its milliseconds.)
//!
//! Calendar arithmetic (start of a UTC day or month, for quota resets) uses
//! Howard Hinnant's `days_from_civil` / `civil_from_days` algorithms
//! (<https://howardhinnant.github.io/date_algorithms.html>), exact for the
//! proleptic Gregorian calendar and free of any time-zone database.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type UnixMillis = u64;

/// One second in milliseconds.
pub const SECOND: u64 = 1_000;
/// One minute in milliseconds.
pub const MINUTE: u64 = 60 * SECOND;
/// One hour in milliseconds.
pub const HOUR: u64 = 60 * MINUTE;
/// One day in milliseconds.
pub const DAY: u64 = 24 * HOUR;

/// A length of time in milliseconds, parsed from a human string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(pub u64);

impl Span {
    /// A span of `ms` milliseconds.
    pub const fn ms(ms: u64) -> Self {
        Span(ms)
    }
    /// A span of `s` seconds.
    pub const fn secs(s: u64) -> Self {
        Span(s * SECOND)
    }
    /// A span of `m` minutes.
    pub const fn mins(m: u64) -> Self {
        Span(m * MINUTE)
    }
    /// A span of `h` hours.
    pub const fn hours(h: u64) -> Self {
        Span(h * HOUR)
    }
    /// A span of `d` days.
    pub const fn days(d: u64) -> Self {
        Span(d * DAY)
    }
    /// The span in milliseconds.
    pub const fn as_ms(self) -> u64 {
        self.0
    }

    /// Parses `"250ms"`, `"30s"`, `"5m"`, `"24h"`, `"30d"`, `"1w"` or a bare
    /// number of milliseconds.
    pub fn parse(s: &str) -> Result<Span, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        if num.is_empty() {
            return Err(format!(
                "`{s}` is not a duration (expected e.g. \"30s\", \"5m\", \"24h\")"
            ));
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{s}`: the number is too large"))?;
        let mult = match unit.trim() {
            "" | "ms" => 1,
            "s" => SECOND,
            "m" | "min" => MINUTE,
            "h" => HOUR,
            "d" => DAY,
            "w" => 7 * DAY,
            other => {
                return Err(format!(
                    "`{s}`: unknown unit `{other}` (use ms, s, m, h, d or w)"
                ))
            }
        };
        n.checked_mul(mult)
            .map(Span)
            .ok_or_else(|| format!("`{s}` overflows"))
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        for (unit, size) in [("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", SECOND)] {
            if ms >= size && ms % size == 0 {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_u64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with a unit, such as \"250ms\", \"30s\", \"5m\" or \"24h\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Span, E> {
                Err(E::custom(no_unit(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Span, E> {
                match u64::try_from(v) {
                    Ok(v) => Err(E::custom(no_unit(v))),
                    Err(_) => Err(E::custom(format!("`{v}`: a duration cannot be negative"))),
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Span, E> {
                let t = v.trim();
                if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(E::custom(match t.parse::<u64>() {
                        Ok(n) => no_unit(n),
                        Err(_) => format!("`{t}` has no unit (and is too large)"),
                    }));
                }
                Span::parse(v).map_err(E::custom)
            }
        }
        struct Millis;
        impl serde::de::Visitor<'_> for Millis {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration in milliseconds")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Span, E> {
                Ok(Span(v))
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(V)
        } else {
            d.deserialize_u64(Millis)
        }
    }
}

/// The refusal of a bare number where a duration belongs.
fn no_unit(n: u64) -> String {
    match n.checked_mul(SECOND) {
        Some(ms) => format!("`{n}` has no unit: write \"{n}s\" or \"{ms}ms\""),
        None => format!("`{n}` has no unit: write \"{n}ms\" (or another unit)"),
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Hinnant).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01 (Hinnant).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Start of the UTC day containing `t`.
pub fn start_of_day(t: UnixMillis) -> UnixMillis {
    t - t % DAY
}

/// Start of the UTC hour containing `t`.
pub fn start_of_hour(t: UnixMillis) -> UnixMillis {
    t - t % HOUR
}

/// Start of the UTC calendar month containing `t`.
pub fn start_of_month(t: UnixMillis) -> UnixMillis {
    month_bounds(t).0
}

/// The start of the month containing `t` and of the next one. The books
/// ask for them several times per provider per tick, always for the same
/// day, so the last day's answer is remembered (per thread; a pure
/// function's memo, the same on every machine).
fn month_bounds(t: UnixMillis) -> (UnixMillis, UnixMillis) {
    use std::cell::Cell;
    thread_local! {
        static LAST: Cell<(u64, UnixMillis, UnixMillis)> = const { Cell::new((u64::MAX, 0, 0)) };
    }
    let day = t / DAY;
    let compute = || {
        let (y, m, _) = civil_from_days(day as i64);
        let start = (days_from_civil(y, m, 1) as u64) * DAY;
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        (start, (days_from_civil(ny, nm, 1) as u64) * DAY)
    };
    LAST.try_with(|last| {
        let (d, start, next) = last.get();
        if d == day {
            return (start, next);
        }
        let (start, next) = compute();
        last.set((day, start, next));
        (start, next)
    })
    .unwrap_or_else(|_| compute())
}

/// Start of the UTC calendar month after the one containing `t`.
pub fn start_of_next_month(t: UnixMillis) -> UnixMillis {
    month_bounds(t).1
}

/// Formats `t` as RFC 3339 UTC with millisecond precision, e.g.
/// `2026-11-24T12:00:00.000Z`.
pub fn rfc3339(t: UnixMillis) -> String {
    let days = (t / DAY) as i64;
    let (y, m, d) = civil_from_days(days);
    let rem = t % DAY;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / HOUR,
        (rem % HOUR) / MINUTE,
        (rem % MINUTE) / SECOND,
        rem % SECOND
    )
}

/// Parses an RFC 3339 timestamp (`2026-11-24T12:00:00Z`, with optional
/// fraction and `±hh:mm` offset) into Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<UnixMillis> {
    let b = s.trim().as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = std::str::from_utf8(b.get(r)?).ok()?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || d == 0 || d > 31 {
        return None;
    }
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0u64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + u64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    let offset_secs: i64 = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = i64::from(num(i + 1..i + 3)?);
            let om = i64::from(num(i + 4..i + 6)?);
            let off = oh * 3600 + om * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(y), mo, d);
    let secs =
        days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(se) - offset_secs;
    u64::try_from(secs).ok().map(|s| s * SECOND + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_bounds_are_right_whatever_was_asked_before() {
        // Alternate days far apart, so the remembered day keeps changing,
        // and ask each twice (the second answer comes from the memo).
        let cases = [
            ("2026-12-31T23:59:59.999Z", "2026-12-01", "2027-01-01"),
            ("2027-01-01T00:00:00.000Z", "2027-01-01", "2027-02-01"),
            ("2024-02-29T12:00:00.000Z", "2024-02-01", "2024-03-01"),
            ("1970-01-01T00:00:00.000Z", "1970-01-01", "1970-02-01"),
            ("2026-11-30T08:00:00.000Z", "2026-11-01", "2026-12-01"),
        ];
        for _ in 0..2 {
            for (t, start, next) in cases {
                let t = parse_rfc3339(t).unwrap();
                let day = |d: &str| parse_rfc3339(&format!("{d}T00:00:00Z")).unwrap();
                assert_eq!(start_of_month(t), day(start), "{}", rfc3339(t));
                assert_eq!(start_of_next_month(t), day(next), "{}", rfc3339(t));
            }
        }
    }

    #[test]
    fn spans_parse_and_print() {
        assert_eq!(Span::parse("30s"), Ok(Span::secs(30)));
        assert_eq!(Span::parse("5m"), Ok(Span::mins(5)));
        assert_eq!(Span::parse("250ms"), Ok(Span::ms(250)));
        assert_eq!(Span::parse("1500"), Ok(Span::ms(1500)));
        assert_eq!(
            Span::parse("2d").map(|s| s.to_string()),
            Ok("2d".to_string())
        );
        assert!(Span::parse("5 parsecs").is_err());
        assert!(Span::parse("s").is_err());
        assert!(Span::parse("99999999999999999999d").is_err());
        assert_eq!(Span::ms(1500).to_string(), "1500ms");
    }

    #[test]
    fn a_duration_needs_a_unit() {
        #[derive(Debug, serde::Deserialize)]
        struct T {
            #[allow(dead_code)]
            t: Span,
        }
        let refused = |text: &str| {
            serde_json::from_str::<T>(text)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        for text in [r#"{"t":2}"#, r#"{"t":"2"}"#, r#"{"t":" 2 "}"#] {
            let e = refused(text).unwrap_err();
            assert!(
                e.contains("`2` has no unit: write \"2s\" or \"2000ms\""),
                "{text}: {e}"
            );
        }
        assert!(refused(r#"{"t":-2}"#).unwrap_err().contains("negative"));
        assert!(refused(r#"{"t":99999999999999999999}"#).is_err());
        assert_eq!(refused(r#"{"t":"2s"}"#), Ok(()));
        // A binary encoding still round-trips milliseconds.
        let bytes = postcard::to_allocvec(&Span::ms(1500)).unwrap();
        assert_eq!(
            postcard::from_bytes::<Span>(&bytes).unwrap(),
            Span::ms(1500)
        );
    }

    #[test]
    fn calendar_round_trips() {
        for z in [
            -1_000_000i64,
            -1,
            0,
            1,
            59,
            60,
            365,
            19_000,
            20_416,
            2_000_000,
        ] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        // 2026-11-24T12:34:56.789Z
        let t = 1_795_998_896_789 - 5 * DAY - 12 * HOUR;
        assert_eq!(rfc3339(t), "2026-11-24T12:34:56.789Z");
        assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        assert_eq!(rfc3339(start_of_month(t)), "2026-11-01T00:00:00.000Z");
        assert_eq!(rfc3339(start_of_next_month(t)), "2026-12-01T00:00:00.000Z");
        let dec = parse_rfc3339("2026-12-31T23:59:59Z").unwrap();
        assert_eq!(
            rfc3339(start_of_next_month(dec)),
            "2027-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn rfc3339_offsets_and_garbage() {
        assert_eq!(
            parse_rfc3339("2026-11-24T14:00:00+02:00"),
            parse_rfc3339("2026-11-24T12:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2026-11-24T12:00:00.5Z").map(|t| t % 1000),
            Some(500)
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-24T12:00:00",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
