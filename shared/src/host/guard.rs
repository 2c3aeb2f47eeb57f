//! The SSRF guard: probes, proxied requests, webhooks and submitted
//! providers go only to public addresses unless the configuration allows
//! private targets (`sentinel.allow_private_targets`, which the local demo
//! sets) — and never, whatever the configuration, to a cloud metadata
//! service or a link-local address.
//!
//! Two tiers, because the two kinds of target are not equally dangerous:
//!
//! - **always refused** ([`always_refused`], [`metadata_name`]): the
//!   instance metadata services (169.254.169.254 for AWS, GCP, Azure,
//!   OpenStack, DigitalOcean, Oracle, Hetzner; `fd00:ec2::254` for AWS
//!   over IPv6; 100.100.100.200 for Alibaba; 192.0.0.192 for Oracle Cloud
//!   Classic; names like `metadata.google.internal`) and all of link-local
//!   (169.254.0.0/16, fe80::/10), where they and the AWS ECS task
//!   credentials (169.254.170.2) live. A request there hands the
//!   instance's cloud credentials to whoever reads the answer — the
//!   proxy's caller, a dashboard visitor — and no sentinel ever needs a
//!   provider there. `allow_private_targets` does not open them
//!   (OWASP, *Server-Side Request Forgery Prevention Cheat Sheet*;
//!   the Capital One breach of 2019 went through exactly this address).
//! - **refused unless private targets are allowed** ([`classify`]):
//!   private (RFC 1918, unique local), loopback, unspecified, "this
//!   network", broadcast, CGNAT, documentation, benchmarking, multicast
//!   and reserved ranges; names that only a local resolver answers:
//!   `localhost` and `*.localhost` (RFC 6761), `*.local` (mDNS, RFC 6762),
//!   `*.home.arpa` (RFC 8375), `*.internal` (ICANN's private-use TLD),
//!   `*.localdomain`, and single-label names (search domains,
//!   `/etc/hosts`).
//!
//! The IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64,
//! 6to4) are judged by the embedded address in both tiers. Every numeric
//! spelling of an IPv4 host (`2130706433`, `0x7f.1`, `0177.0.0.1`,
//! `127.1`, percent-encoded or full-width digits) is normalised to a
//! dotted address by the WHATWG URL parser before the guard looks at it,
//! so the guard judges addresses, never spellings.
//!
//! Where it is applied:
//!
//! - [`check_url`] runs before every request and on every redirect hop
//!   ([`redirect_verdict`]), when webhooks are configured, and when a
//!   provider is submitted (`POST /v1/providers`): only `http` and
//!   `https`, a literal IP host judged by its address, a name by the rules
//!   above. The check is name-based: no DNS in the core.
//! - the shell's DNS resolver (native: `sentinel-native`'s
//!   `GuardedResolver`) calls [`check_resolved`] on every name it resolves
//!   and refuses the name if *any* of its addresses is refused. Checking
//!   the addresses the client then connects to — not a separate lookup
//!   beforehand — closes the DNS-rebinding gap between check and use.
//!   Resolving is the only part of the guard that is I/O.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use url::{Host, Url};

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
    /// A name only a local resolver answers (`*.local`, `*.internal`, a
    /// single label, …).
    #[error("{name} is {class}; private targets are not allowed by the config")]
    LocalName {
        /// The name, lowercased.
        name: String,
        /// Its class, e.g. `a multicast DNS (.local) name`.
        class: &'static str,
    },
    /// A cloud metadata or link-local address (or a name that resolves to
    /// one): refused even with `allow_private_targets`.
    #[error("{host} is {class} ({addr}); it is not allowed as a target, not even with allow_private_targets")]
    Forbidden {
        /// The host as written.
        host: String,
        /// The offending address.
        addr: IpAddr,
        /// Its class, e.g. `the cloud metadata address`.
        class: &'static str,
    },
    /// A cloud metadata service's name: refused even with
    /// `allow_private_targets`.
    #[error("{0} is a cloud metadata service name; it is not allowed as a target, not even with allow_private_targets")]
    MetadataName(String),
}

impl GuardError {
    /// Whether this is a refusal of the target (as opposed to a malformed
    /// URL).
    pub fn is_blocked(&self) -> bool {
        !matches!(self, GuardError::InvalidUrl(_))
    }

    /// Whether the target is refused whatever the configuration (a cloud
    /// metadata service or a link-local address).
    pub fn is_always_refused(&self) -> bool {
        matches!(
            self,
            GuardError::Forbidden { .. } | GuardError::MetadataName(_)
        )
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

/// Refused whatever the configuration: the metadata services first (for
/// the more telling class name), then all of link-local.
const V4_ALWAYS: &[([u8; 4], u32, &str)] = &[
    ([169, 254, 169, 254], 32, "the cloud metadata address"),
    ([169, 254, 170, 2], 32, "the AWS ECS task metadata address"),
    (
        [100, 100, 100, 200],
        32,
        "the Alibaba Cloud metadata address",
    ),
    (
        [192, 0, 0, 192],
        32,
        "the Oracle Cloud Classic metadata address",
    ),
    ([169, 254, 0, 0], 16, "a link-local address"),
];

/// Refused unless private targets are allowed.
const V4_PRIVATE: &[([u8; 4], u32, &str)] = &[
    ([0, 0, 0, 0], 8, "a \"this network\" address"),
    ([10, 0, 0, 0], 8, "a private address"),
    ([100, 64, 0, 0], 10, "a carrier-grade NAT address"),
    ([127, 0, 0, 0], 8, "a loopback address"),
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

fn find_v4(table: &[([u8; 4], u32, &'static str)], ip: Ipv4Addr) -> Option<&'static str> {
    table
        .iter()
        .find(|(net, prefix, _)| v4_in(ip, *net, *prefix))
        .map(|(_, _, class)| *class)
}

/// The IPv4 address an IPv6 address stands for, if it embeds one:
/// IPv4-mapped (`::ffff:a.b.c.d`), the deprecated IPv4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`, bits
/// 16..48). `::` and `::1` are their own addresses, not embeddings.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if ip.is_unspecified() || ip.is_loopback() {
        return None;
    }
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4() {
        return Some(v4);
    }
    let v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if v6_in(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return Some(v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(v4(s[1], s[2]));
    }
    None
}

const V6_ALWAYS: &[([u16; 8], u32, &str)] = &[
    (
        [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254],
        128,
        "the AWS metadata address (IPv6)",
    ),
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "a link-local address"),
];

const V6_PRIVATE: &[([u16; 8], u32, &str)] = &[
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
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "a site-local address"),
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "a multicast address"),
];

fn find_v6(table: &[([u16; 8], u32, &'static str)], ip: Ipv6Addr) -> Option<&'static str> {
    table
        .iter()
        .find(|(net, prefix, _)| v6_in(ip, *net, *prefix))
        .map(|(_, _, class)| *class)
}

/// Why `ip` is refused whatever the configuration (`None`: it is not):
/// a cloud metadata address or a link-local one, also when embedded in an
/// IPv6 address.
pub fn always_refused(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => find_v4(V4_ALWAYS, v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => find_v4(V4_ALWAYS, v4),
            None => find_v6(V6_ALWAYS, v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("the unspecified address");
    }
    find_v4(V4_ALWAYS, ip).or_else(|| find_v4(V4_PRIVATE, ip))
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("the unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    find_v6(V6_ALWAYS, ip).or_else(|| find_v6(V6_PRIVATE, ip))
}

/// Why `ip` is not a public address (`None`: it is public). Covers both
/// tiers; [`always_refused`] tells which addresses stay refused with
/// private targets allowed.
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

/// Whether `ip` is refused under a configuration that does or does not
/// allow private targets.
pub fn is_refused(ip: IpAddr, allow_private: bool) -> bool {
    always_refused(ip).is_some() || (!allow_private && is_blocked(ip))
}

/// Names of cloud metadata services (lowercase, no trailing dot), refused
/// whatever the configuration. They resolve to the addresses
/// [`always_refused`] covers inside the cloud, and the resolver would
/// catch them there; refusing the names too keeps the answer the same at
/// submission (no DNS in the core) and off-cloud.
const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal", // GCP
    "metadata.goog",            // GCP
    "metadata",                 // GCP, through the search domain
    "instance-data",            // AWS EC2, through the search domain
    "instance-data.ec2.internal",
    "metadata.tencentyun.com", // Tencent Cloud
    "rancher-metadata",        // Rancher
];

fn normalise_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `name` (case-insensitive, trailing dot ignored) is a cloud
/// metadata service's name.
pub fn metadata_name(name: &str) -> bool {
    METADATA_NAMES.contains(&normalise_name(name).as_str())
}

/// Why a host *name* (not an IP literal) is only answered by a local
/// resolver (`None`: it is an ordinary public name). `localhost` names
/// are [`GuardError::Localhost`] in [`check_url`].
pub fn local_name(name: &str) -> Option<&'static str> {
    let d = normalise_name(name);
    let under = |tld: &str| d == tld || d.ends_with(&format!(".{tld}"));
    if under("localhost") {
        Some("a loopback name")
    } else if under("local") {
        Some("a multicast DNS (.local) name")
    } else if under("home.arpa") {
        Some("a home network (.home.arpa) name")
    } else if under("internal") {
        Some("a private-use (.internal) name")
    } else if under("localdomain") {
        Some("a local (.localdomain) name")
    } else if !d.contains('.') {
        Some("a single-label name (answered only by local search domains or /etc/hosts)")
    } else {
        None
    }
}

/// Judges an address; `host` names it in an error (formatted only then:
/// this runs on every proxied request).
fn check_ip(host: impl Fn() -> String, ip: IpAddr, allow_private: bool) -> Result<(), GuardError> {
    if let Some(class) = always_refused(ip) {
        return Err(GuardError::Forbidden {
            host: host(),
            addr: ip,
            class,
        });
    }
    if allow_private {
        return Ok(());
    }
    match classify(ip) {
        Some(class) => Err(GuardError::Blocked {
            host: host(),
            addr: ip,
            class,
        }),
        None => Ok(()),
    }
}

fn check_name(name: &str, allow_private: bool) -> Result<(), GuardError> {
    let d = normalise_name(name);
    if metadata_name(&d) {
        return Err(GuardError::MetadataName(d));
    }
    if allow_private {
        return Ok(());
    }
    match local_name(&d) {
        None => Ok(()),
        Some(_) if d == "localhost" || d.ends_with(".localhost") => Err(GuardError::Localhost(d)),
        Some(class) => Err(GuardError::LocalName { name: d, class }),
    }
}

/// Checks a URL before it is requested (and every redirect hop), a webhook
/// and a submitted endpoint: only `http`/`https`; a cloud metadata or
/// link-local target is refused always; unless `allow_private`, a literal
/// IP host must be public and local names are refused (see the module
/// docs). Names are checked again when resolved, by the shell's resolver
/// through [`check_resolved`].
pub fn check_url(url: &str, allow_private: bool) -> Result<(), GuardError> {
    let parsed = Url::parse(url).map_err(|e| GuardError::InvalidUrl(e.to_string()))?;
    check_parsed(&parsed, allow_private)
}

/// [`check_url`] for a parsed URL.
pub fn check_parsed(url: &Url, allow_private: bool) -> Result<(), GuardError> {
    match url.scheme() {
        "http" | "https" => {}
        // Databases probed in their own protocol (the native shells): their
        // host is judged as an http URL's would be, so every numeric
        // spelling of an address (`0x7f.1`, `2130706433`) reads as one.
        "postgres" | "postgresql" | "redis" | "rediss" => {
            let host = url
                .host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| GuardError::InvalidUrl("no host".into()))?;
            return check_url(&format!("http://{host}/"), allow_private);
        }
        other => return Err(GuardError::Scheme(other.to_string())),
    }
    // For http and https the parser has already turned every numeric
    // IPv4 form (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) into an
    // address; IPv6 literals (`[::ffff:127.0.0.1]`) are addresses too.
    match url.host() {
        Some(Host::Ipv4(ip)) => check_ip(|| ip.to_string(), IpAddr::V4(ip), allow_private),
        Some(Host::Ipv6(ip)) => check_ip(|| format!("[{ip}]"), IpAddr::V6(ip), allow_private),
        Some(Host::Domain(d)) if !d.is_empty() => {
            // A domain that still reads as an address (only possible for
            // non-special schemes, which are refused above) is judged as
            // one anyway.
            match d.parse::<IpAddr>() {
                Ok(ip) => check_ip(|| d.to_string(), ip, allow_private),
                Err(_) => check_name(d, allow_private),
            }
        }
        _ => Err(GuardError::InvalidUrl("no host".into())),
    }
}

/// The guard's verdicts on origins (scheme and authority), remembered per
/// thread: [`check_url`] of `scheme://authority/` depends on nothing else,
/// so a proxy that forwards every request to one of a few providers parses
/// each origin once. At most [`Verdicts::CAPACITY`] origins are kept (then
/// the memory starts over). Names are still checked again at every
/// resolution ([`check_resolved`]).
#[derive(Clone, Copy, Debug)]
pub struct Verdicts;

/// Keyed by `{0|1}{scheme}://{authority}` (whether private targets pass,
/// then the origin), with a key buffer reused for lookups.
type VerdictMap = (
    std::collections::HashMap<String, Result<(), GuardError>>,
    String,
);

std::thread_local! {
    static VERDICTS: std::cell::RefCell<VerdictMap> = std::cell::RefCell::default();
}

impl Verdicts {
    /// Most origins remembered per thread.
    pub const CAPACITY: usize = 256;

    /// [`check_url`] of `scheme://authority/`, remembered.
    pub fn judge(scheme: &str, authority: &str, allow_private: bool) -> Result<(), GuardError> {
        VERDICTS.with(|cell| {
            let (map, key) = &mut *cell.borrow_mut();
            key.clear();
            key.push(if allow_private { '1' } else { '0' });
            key.push_str(scheme);
            key.push_str("://");
            key.push_str(authority);
            if let Some(v) = map.get(key.as_str()) {
                return v.clone();
            }
            let verdict = check_url(&format!("{}/", &key[1..]), allow_private);
            if map.len() >= Self::CAPACITY {
                map.clear();
            }
            map.insert(key.clone(), verdict.clone());
            verdict
        })
    }
}

/// Checks resolved addresses under a configuration that does or does not
/// allow private targets: every address must pass (one refused address
/// refuses the name).
pub fn check_resolved(
    host: &str,
    addrs: &[SocketAddr],
    allow_private: bool,
) -> Result<(), GuardError> {
    if metadata_name(host) {
        return Err(GuardError::MetadataName(normalise_name(host)));
    }
    addrs
        .iter()
        .try_for_each(|a| check_ip(|| host.to_string(), a.ip(), allow_private))
}

/// Checks resolved addresses with private targets not allowed: all must
/// be public ([`check_resolved`] with `allow_private = false`).
pub fn check_addrs(host: &str, addrs: &[SocketAddr]) -> Result<(), GuardError> {
    check_resolved(host, addrs, false)
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
    #[test]
    fn database_urls_are_judged_like_http_ones() {
        for bad in [
            "postgres://169.254.169.254:5432/x",
            "redis://0xa9.0xfe.0xa9.0xfe:6379",
            "rediss://[fe80::1]:6379",
            "postgresql://metadata.google.internal/x",
        ] {
            assert!(check_url(bad, true).is_err(), "{bad}");
        }
        for private in [
            "postgres://127.0.0.1:5432/db",
            "redis://2130706433:6379",
            "redis://0x7f.1",
        ] {
            assert!(check_url(private, false).is_err(), "{private}");
            assert!(check_url(private, true).is_ok(), "{private}");
        }
        assert!(check_url("postgres://db.example.com:5432/x", false).is_ok());
        assert!(check_url("mysql://db.example.com/x", true).is_err());
    }

    use super::*;

    #[test]
    fn remembered_verdicts_are_the_guards_own() {
        // Numeric forms the WHATWG parser turns into loopback, per policy.
        for authority in ["0x7f.1", "127.1", "2130706433:8080", "[::ffff:127.0.0.1]"] {
            for _ in 0..2 {
                assert!(
                    Verdicts::judge("http", authority, false).is_err(),
                    "{authority}"
                );
                assert!(
                    Verdicts::judge("http", authority, true).is_ok(),
                    "{authority}"
                );
            }
        }
        for _ in 0..2 {
            assert!(Verdicts::judge("http", "169.254.169.254", true).is_err());
            assert!(Verdicts::judge("file", "example.com", true).is_err());
            assert!(Verdicts::judge("https", "example.com", false).is_ok());
        }
        // Past the capacity the memory starts over, and verdicts hold.
        for n in 0..Verdicts::CAPACITY + 10 {
            assert!(Verdicts::judge("https", &format!("p{n}.example.com"), false).is_ok());
        }
        assert!(Verdicts::judge("http", "0x7f.1", false).is_err());
    }

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
    fn metadata_and_link_local_are_refused_even_with_private_targets_allowed() {
        let always = [
            "http://169.254.169.254/latest/meta-data/",
            "http://169.254.169.254:80/computeMetadata/v1/",
            "http://user:pw@169.254.169.254/",
            "http://public.example@169.254.169.254/",
            "http://2852039166/",                  // decimal
            "http://0xa9fea9fe/",                  // hex
            "http://0251.0376.0251.0376/",         // octal
            "http://169.254.43518/",               // two parts
            "http://%31%36%39.254.169.254/",       // percent-encoded
            "http://１６９.２５４.１６９.２５４/", // full-width digits
            "http://169.254.0.1/",
            "http://169.254.170.2/v2/credentials",
            "http://100.100.100.200/latest/meta-data/",
            "http://192.0.0.192/latest/",
            "http://[fe80::1]/",
            "http://[FE80::a:b:c:d]:8080/",
            "http://[febf::1]/",
            "http://[fd00:ec2::254]/latest/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[::169.254.169.254]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.Google.Internal./",
            "http://metadata.goog/",
            "http://metadata/",
            "http://instance-data/latest/",
            "http://instance-data.ec2.internal/",
            "http://metadata.tencentyun.com/",
            "http://rancher-metadata/latest",
        ];
        for u in always {
            for allow in [false, true] {
                let e = check_url(u, allow).unwrap_err();
                assert!(
                    e.is_blocked() && e.is_always_refused(),
                    "{u} ({allow}): {e}"
                );
                let m = e.to_string();
                assert!(
                    m.contains("not allowed") && m.contains("not even with allow_private_targets"),
                    "{m}"
                );
            }
        }
        let e = check_url("http://169.254.169.254/", true).unwrap_err();
        assert!(e.to_string().contains("metadata"), "{e}");
        let e = check_url("http://[fe80::1]/", true).unwrap_err();
        assert!(e.to_string().contains("link-local"), "{e}");
        for ip in ["169.254.169.254", "169.254.1.1", "fe80::1", "fd00:ec2::254"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(always_refused(ip).is_some() && is_refused(ip, true), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "::1",
            "fd00:ec2::253",
            "100.100.100.201",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(always_refused(ip), None, "{ip}");
            assert!(!is_refused(ip, true) && is_refused(ip, false), "{ip}");
        }
    }

    #[test]
    fn private_targets_in_every_spelling_are_refused_unless_allowed() {
        let private = [
            ("http://localhost/", "loopback name"),
            ("http://LocalHost.:8080/", "loopback name"),
            ("http://api.localhost/", "loopback name"),
            ("http://127.1/", "loopback"),
            ("http://0x7f000001/", "loopback"),
            ("http://017700000001/", "loopback"),
            ("http://127.0.0.1./", "loopback"),
            ("http://%31%32%37.0.0.1/", "loopback"),
            ("http://１２７.０.０.１/", "loopback"),
            ("http://[::ffff:127.0.0.1]/", "loopback"),
            ("http://[0:0:0:0:0:ffff:7f00:1]/", "loopback"),
            ("http://[::1]:8545/", "loopback"),
            ("http://[0::1]/", "loopback"),
            ("http://0/", "unspecified"),
            ("http://[::]/", "unspecified"),
            ("http://10.0.0.1/", "private"),
            ("http://167772161/", "private"),
            ("http://[::ffff:10.0.0.1]/", "private"),
            ("http://[fd12:3456::1]/", "unique local"),
            ("http://192.168.1.1/", "private"),
            ("http://printer.local/", ".local"),
            ("http://router.home.arpa/", ".home.arpa"),
            ("http://db.corp.internal/", ".internal"),
            ("http://localhost.localdomain/", ".localdomain"),
            ("http://box.localdomain/", ".localdomain"),
            ("http://redis:6379/", "single-label"),
        ];
        for (u, why) in private {
            let e = check_url(u, false).unwrap_err();
            assert!(e.is_blocked() && !e.is_always_refused(), "{u}: {e}");
            let m = e.to_string();
            assert!(
                m.contains(why) && m.contains("not allowed by the config"),
                "{u}: {m}"
            );
            assert_eq!(check_url(u, true), Ok(()), "{u} with allow_private");
        }
        for u in [
            "https://rpc.example.com/v1",
            "https://metadata.example.com/",
            "https://localhost.example.com/",
            "https://internal.example.com/",
            "https://local.example.org/",
            "https://xn--bcher-kva.example/",
            "http://1.1.1.1:8545",
            "http://16843009/", // 1.1.1.1
            "https://[2606:4700::1111]/",
            "https://[::ffff:8.8.8.8]/",
        ] {
            assert_eq!(check_url(u, false), Ok(()), "{u}");
            assert_eq!(check_url(u, true), Ok(()), "{u}");
        }
    }

    #[test]
    fn resolved_addresses_follow_the_same_tiers() {
        let sa = |s: &str| -> SocketAddr { s.parse().unwrap() };
        let public = [sa("93.184.216.34:443")];
        let loopback = [sa("93.184.216.34:443"), sa("127.0.0.1:443")];
        let metadata = [sa("169.254.169.254:80")];
        let link_local = [sa("[fe80::1]:80")];
        assert_eq!(check_resolved("a.example", &public, false), Ok(()));
        assert!(matches!(
            check_resolved("a.example", &loopback, false),
            Err(GuardError::Blocked { .. })
        ));
        assert_eq!(check_resolved("a.example", &loopback, true), Ok(()));
        for addrs in [&metadata[..], &link_local[..]] {
            for allow in [false, true] {
                let e = check_resolved("rebind.example", addrs, allow).unwrap_err();
                assert!(e.is_always_refused(), "{e}");
            }
        }
        let e = check_resolved("metadata.google.internal", &public, true).unwrap_err();
        assert!(matches!(e, GuardError::MetadataName(_)), "{e}");
        assert_eq!(check_addrs("a.example", &public), Ok(()));
        assert!(check_addrs("a.example", &loopback).is_err());
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
