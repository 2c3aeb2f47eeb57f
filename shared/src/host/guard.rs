//! The SSRF guard: probes and proxied requests go only to public
//! addresses unless the configuration allows private targets
//! (`sentinel.allow_private_targets`, which the local demo sets).
//!
//! Two checks, because an HTTP client resolves names itself:
//!
//! - [`check_url`] runs before every request and on every redirect hop:
//!   only `http` and `https`, and a literal IP host (the client never asks
//!   the resolver about those) must be public. `localhost` names are
//!   refused outright.
//! - the shell's DNS resolver (native: `sentinel-native`'s
//!   `GuardedResolver`) calls [`check_addrs`] on every name it resolves
//!   and refuses the name if *any* of its addresses is not public.
//!   Checking the addresses the client then connects to — not a separate
//!   lookup beforehand — closes the DNS-rebinding gap between check and
//!   use. Resolving is the only part of the guard that is I/O.
//!
//! "Not public" is [`classify`]: private, loopback, link-local (including
//! the cloud metadata address 169.254.169.254), unspecified, broadcast,
//! CGNAT, documentation, benchmarking, multicast and reserved ranges, and
//! the IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64,
//! 6to4) are judged by the embedded address.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use url::Url;

/// Why a URL or address is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// Not a URL.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// Not http or https.
    #[error("scheme `{0}` is not allowed (only http and https)")]
    Scheme(String),
    /// A non-public address (or a name that resolves to one).
    #[error("{host} is {class} ({addr}); private targets are not allowed by the config")]
    Blocked {
        /// The host as written.
        host: String,
        /// The offending address.
        addr: IpAddr,
        /// Its class, e.g. `a loopback address`.
        class: &'static str,
    },
    /// A `localhost` name.
    #[error("{0} is a loopback name; private targets are not allowed by the config")]
    Localhost(String),
}

impl GuardError {
    /// Whether this is a refusal of the target (as opposed to a malformed
    /// URL).
    pub fn is_blocked(&self) -> bool {
        !matches!(self, GuardError::InvalidUrl(_))
    }
}

fn v4_in(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn v6_in(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    let n = Ipv6Addr::new(
        net[0], net[1], net[2], net[3], net[4], net[5], net[6], net[7],
    );
    (u128::from(ip) & mask) == (u128::from(n) & mask)
}

const V4_RANGES: &[([u8; 4], u32, &str)] = &[
    ([0, 0, 0, 0], 8, "a \"this network\" address"),
    ([10, 0, 0, 0], 8, "a private address"),
    ([100, 64, 0, 0], 10, "a carrier-grade NAT address"),
    ([127, 0, 0, 0], 8, "a loopback address"),
    ([169, 254, 169, 254], 32, "the cloud metadata address"),
    ([169, 254, 0, 0], 16, "a link-local address"),
    ([172, 16, 0, 0], 12, "a private address"),
    ([192, 0, 0, 0], 24, "an IETF protocol address"),
    ([192, 0, 2, 0], 24, "a documentation address"),
    ([192, 88, 99, 0], 24, "a 6to4 relay address"),
    ([192, 168, 0, 0], 16, "a private address"),
    ([198, 18, 0, 0], 15, "a benchmarking address"),
    ([198, 51, 100, 0], 24, "a documentation address"),
    ([203, 0, 113, 0], 24, "a documentation address"),
    ([224, 0, 0, 0], 4, "a multicast address"),
    ([255, 255, 255, 255], 32, "the broadcast address"),
    ([240, 0, 0, 0], 4, "a reserved address"),
];

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("the unspecified address");
    }
    V4_RANGES
        .iter()
        .find(|(net, prefix, _)| v4_in(ip, *net, *prefix))
        .map(|(_, _, class)| *class)
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("the unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    let s = ip.segments();
    // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible
    // (::a.b.c.d) forms: judge the IPv4 address.
    if let Some(v4) = ip.to_ipv4() {
        return classify_v4(v4);
    }
    // NAT64 well-known prefix 64:ff9b::/96.
    if v6_in(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return classify_v4(v4);
    }
    // 6to4 2002::/16 embeds an IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return classify_v4(v4);
    }
    const V6_RANGES: &[([u16; 8], u32, &str)] = &[
        (
            [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
            48,
            "a local-use NAT64 address",
        ),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "a discard-only address"),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "a Teredo address"),
        ([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "a benchmarking address"),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            "a documentation address",
        ),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "a documentation address"),
        (
            [0xfc00, 0, 0, 0, 0, 0, 0, 0],
            7,
            "a unique local (private) address",
        ),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "a link-local address"),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "a site-local address"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "a multicast address"),
    ];
    V6_RANGES
        .iter()
        .find(|(net, prefix, _)| v6_in(ip, *net, *prefix))
        .map(|(_, _, class)| *class)
}

/// Why `ip` is not a public address (`None`: it is public).
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Whether `ip` is refused unless private targets are allowed.
pub fn is_blocked(ip: IpAddr) -> bool {
    classify(ip).is_some()
}

fn check_ip(host: &str, ip: IpAddr) -> Result<(), GuardError> {
    match classify(ip) {
        Some(class) => Err(GuardError::Blocked {
            host: host.to_string(),
            addr: ip,
            class,
        }),
        None => Ok(()),
    }
}

/// Checks a URL before it is requested (and every redirect hop): only
/// `http`/`https`; unless `allow_private`, a literal IP host must be
/// public and `localhost` names are refused. Hostnames are checked again
/// when resolved, by the shell's resolver through [`check_addrs`].
pub fn check_url(url: &str, allow_private: bool) -> Result<(), GuardError> {
    let parsed = Url::parse(url).map_err(|e| GuardError::InvalidUrl(e.to_string()))?;
    check_parsed(&parsed, allow_private)
}

/// [`check_url`] for a parsed URL.
pub fn check_parsed(url: &Url, allow_private: bool) -> Result<(), GuardError> {
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(GuardError::Scheme(other.to_string())),
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| GuardError::InvalidUrl("no host".into()))?;
    if allow_private {
        return Ok(());
    }
    // The URL parser has already turned every numeric form (`2130706433`,
    // `0x7f.1`, `0177.0.0.1`) into a dotted IPv4 address; IPv6 hosts come
    // bracketed.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return check_ip(host, ip);
    }
    let d = host.trim_end_matches('.').to_ascii_lowercase();
    if d == "localhost" || d.ends_with(".localhost") {
        return Err(GuardError::Localhost(d));
    }
    Ok(())
}

/// Checks resolved addresses: all must be public.
pub fn check_addrs(host: &str, addrs: &[SocketAddr]) -> Result<(), GuardError> {
    addrs.iter().try_for_each(|a| check_ip(host, a.ip()))
}

/// Most redirects followed per request.
pub const MAX_REDIRECTS: usize = 3;

/// Why a redirect was not followed (besides the guard itself).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    /// Too many hops.
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooMany,
    /// https → http.
    #[error("refused a redirect from https to http")]
    Downgrade,
    /// Credentials would go to another origin.
    #[error("refused a redirect to another origin ({0}): the request carries credentials")]
    CrossOrigin(String),
    /// The next hop is refused by the guard.
    #[error(transparent)]
    Guard(#[from] GuardError),
}

/// The redirect rule every shell applies to every hop: `previous` are the
/// URLs requested so far (the first is the original), `next` the new one.
/// At most [`MAX_REDIRECTS`] hops, each passing the guard, never from
/// https to http, and same-origin only when the request carries opened
/// credentials (a client drops `authorization` on a cross-origin hop, but
/// not a custom `x-api-key`).
pub fn redirect_verdict(
    previous: &[Url],
    next: &Url,
    allow_private: bool,
    same_origin_only: bool,
) -> Result<(), RedirectError> {
    if previous.len() > MAX_REDIRECTS {
        return Err(RedirectError::TooMany);
    }
    check_parsed(next, allow_private)?;
    if let Some(last) = previous.last() {
        if last.scheme() == "https" && next.scheme() != "https" {
            return Err(RedirectError::Downgrade);
        }
    }
    if same_origin_only {
        if let Some(first) = previous.first() {
            if first.origin() != next.origin() {
                return Err(RedirectError::CrossOrigin(
                    next.origin().ascii_serialization(),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn address_classification() {
        let table: &[(&str, Option<&str>)] = &[
            // Public.
            ("1.1.1.1", None),
            ("8.8.8.8", None),
            ("93.184.216.34", None),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("192.167.255.255", None),
            ("169.253.0.1", None),
            ("2606:4700:4700::1111", None),
            ("2a00:1450:4001::200e", None),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::808:808", None),
            ("2002:808:808::1", None),
            // Private.
            ("10.0.0.1", Some("private")),
            ("10.255.255.255", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.254", Some("private")),
            ("192.168.1.1", Some("private")),
            ("fc00::1", Some("unique local")),
            ("fd12:3456::1", Some("unique local")),
            // Loopback.
            ("127.0.0.1", Some("loopback")),
            ("127.255.0.9", Some("loopback")),
            ("::1", Some("loopback")),
            // Link-local and the metadata service.
            ("169.254.0.1", Some("link-local")),
            ("169.254.169.254", Some("metadata")),
            ("fe80::1", Some("link-local")),
            ("febf::1", Some("link-local")),
            ("fec0::1", Some("site-local")),
            // Unspecified, this network, broadcast.
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("this network")),
            ("::", Some("unspecified")),
            ("255.255.255.255", Some("broadcast")),
            // CGNAT.
            ("100.64.0.1", Some("carrier-grade NAT")),
            ("100.127.255.255", Some("carrier-grade NAT")),
            // Documentation, benchmarking, multicast, reserved.
            ("192.0.2.1", Some("documentation")),
            ("198.51.100.7", Some("documentation")),
            ("203.0.113.9", Some("documentation")),
            ("2001:db8::1", Some("documentation")),
            ("198.18.0.1", Some("benchmarking")),
            ("198.19.255.255", Some("benchmarking")),
            ("224.0.0.1", Some("multicast")),
            ("ff02::1", Some("multicast")),
            ("240.0.0.1", Some("reserved")),
            ("192.0.0.8", Some("IETF")),
            // IPv4 embedded in IPv6.
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.1.2.3", Some("private")),
            ("::ffff:169.254.169.254", Some("metadata")),
            ("::127.0.0.1", Some("loopback")),
            ("64:ff9b::a00:1", Some("private")),
            ("64:ff9b::7f00:1", Some("loopback")),
            ("2002:a9fe:a9fe::1", Some("metadata")),
            ("2002:c0a8:0101::1", Some("private")),
            ("2001::1", Some("Teredo")),
        ];
        for (addr, want) in table {
            let ip: IpAddr = addr.parse().unwrap();
            let got = classify(ip);
            match want {
                None => assert_eq!(got, None, "{addr} should be public"),
                Some(w) => {
                    let c = got.unwrap_or_else(|| panic!("{addr} should be blocked ({w})"));
                    assert!(c.contains(w), "{addr}: {c} does not mention {w}");
                }
            }
            assert_eq!(is_blocked(ip), want.is_some(), "{addr}");
        }
    }

    #[test]
    fn urls() {
        let refused = [
            "http://127.0.0.1:8080/x",
            "http://[::1]/",
            "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://localhost:9/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "https://0.0.0.0/",
        ];
        for u in refused {
            let e = check_url(u, false).unwrap_err();
            assert!(e.is_blocked(), "{u}: {e}");
            assert!(e.to_string().contains("not allowed"), "{e}");
            assert_eq!(check_url(u, true), Ok(()), "{u} with allow_private");
        }
        for u in [
            "https://example.com/v1",
            "http://1.1.1.1:8545",
            "https://[2606:4700::1]/",
        ] {
            assert_eq!(check_url(u, false), Ok(()), "{u}");
        }
        for u in [
            "file:///etc/passwd",
            "ftp://example.com/",
            "gopher://x/",
            "javascript:alert(1)",
        ] {
            let e = check_url(u, true).unwrap_err();
            assert!(matches!(e, GuardError::Scheme(_)), "{u}: {e}");
        }
        for u in ["not a url", "http://", "/relative"] {
            let e = check_url(u, false).unwrap_err();
            assert!(matches!(e, GuardError::InvalidUrl(_)), "{u}: {e}");
            assert!(!e.is_blocked());
        }
    }

    #[test]
    fn redirect_rules() {
        let u = |s: &str| Url::parse(s).unwrap();
        let ok =
            |prev: &[Url], next: &str, same: bool| redirect_verdict(prev, &u(next), false, same);
        assert!(ok(&[u("https://a.example/")], "https://b.example/x", false).is_ok());
        let e = ok(&[u("https://a.example/")], "http://a.example/x", false).unwrap_err();
        assert!(e.to_string().contains("https to http"), "{e}");
        assert!(ok(&[u("http://a.example/")], "https://a.example/x", false).is_ok());
        let three: Vec<Url> = (0..3)
            .map(|i| u(&format!("https://a.example/{i}")))
            .collect();
        assert!(ok(&three, "https://a.example/3", false).is_ok());
        let four: Vec<Url> = (0..4)
            .map(|i| u(&format!("https://a.example/{i}")))
            .collect();
        assert!(ok(&four, "https://a.example/4", false)
            .unwrap_err()
            .to_string()
            .contains("more than 3"));
        assert!(ok(&[u("https://a.example/")], "https://a.example:8443/", true).is_err());
        assert!(ok(&[u("https://a.example/")], "https://a.example/other", true).is_ok());
        assert!(ok(&[u("https://a.example/")], "https://127.0.0.1/", false).is_err());
        assert!(ok(&[u("https://a.example/")], "ftp://a.example/", false).is_err());
    }
}
