//! Writing HTML: escaping straight into the output, and the small
//! phrases every view uses (relative times, score changes).

use crate::time::UnixMillis;
use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    push_escaped(&mut out, s);
    out
}

/// Appends `s` to `out`, escaped for element content and quoted
/// attribute values.
pub(super) fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// At most `max` characters of `s` (an ellipsis marks a cut).
pub(super) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// A change of a score in basis points, signed and coloured.
pub(super) fn delta(d: i32) -> String {
    if d == 0 {
        return String::new();
    }
    let class = if d >= 0 { "pos" } else { "neg" };
    let sign = if d >= 0 { "+" } else { "−" };
    let a = d.unsigned_abs();
    format!(
        "<span class=\"{class}\">{sign}{}.{:02}</span>",
        a / 100,
        a % 100
    )
}

/// "3 min ago", "in 2 h", from `now`.
pub(super) fn ago(now: UnixMillis, t: UnixMillis) -> String {
    let (d, future) = if t > now {
        (t - now, true)
    } else {
        (now - t, false)
    };
    let secs = d / 1000;
    let mut span = String::with_capacity(12);
    let _ = if secs < 60 {
        write!(span, "{secs} s")
    } else if secs < 3600 {
        write!(span, "{} min", secs / 60)
    } else if secs < 86_400 {
        write!(span, "{} h", secs / 3600)
    } else {
        write!(span, "{} d", secs / 86_400)
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// The head of every dashboard page, through `<body>`: the charset, the
/// viewport, the title (escaped) and the style.
pub(super) fn head(out: &mut String, version: &str, title: &str) {
    out.push_str("<!doctype html>\n<html lang=\"en\" data-version=\"");
    push_escaped(out, version);
    out.push_str(
        "\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<title>",
    );
    push_escaped(out, title);
    out.push_str("</title>\n<style>");
    out.push_str(super::assets::STYLE);
    out.push_str("</style>\n</head>\n<body>\n");
}
