#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! The shipped `sentinel.toml` is valid and means what its comments say.

use sentinel_core::config::Config;
use sentinel_core::Kind;

#[test]
fn the_default_config_is_valid() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../sentinel.toml")).unwrap();
    let cfg = Config::from_toml(&text).unwrap_or_else(|e| panic!("sentinel.toml is invalid:\n{e}"));
    let kinds: Vec<Kind> = cfg.services.iter().map(|s| s.kind).collect();
    assert!(
        kinds.contains(&Kind::EvmRpc)
            && kinds.contains(&Kind::Storage)
            && kinds.contains(&Kind::Api)
    );
    for s in &cfg.services {
        assert!(
            s.providers.len() >= 3,
            "{}: failover needs alternatives",
            s.id
        );
        assert_eq!(
            s.providers
                .iter()
                .filter(|p| p.initial == sentinel_core::config::Initial::Active)
                .count(),
            1,
            "{}",
            s.id
        );
    }
    assert!(
        !cfg.sentinel.allow_private_targets,
        "the SSRF guard stays on by default"
    );
}
