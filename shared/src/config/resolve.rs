//! Lookups and the effective probe of a provider (its own, else its
//! service's, else the kind's default).
//!
//! A default never makes a config invalid: the default probe timeout (5 s)
//! is shortened to the service's `probe_interval` when that is shorter,
//! both for the kind's default probe (here) and for a `probe` block that
//! leaves `timeout` out (when the config is read, since only the reader
//! knows what was written). An explicit timeout over the interval is still
//! an error.

use super::{Config, Method, ProbeSpec, ProviderConfig, ServiceConfig};
use crate::time::Span;
use crate::Kind;

impl Config {
    /// The service with this id.
    pub fn service(&self, id: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.id.as_str() == id)
    }

    /// The provider with this id and its service.
    pub fn provider(&self, id: &str) -> Option<(&ServiceConfig, &ProviderConfig)> {
        self.services.iter().find_map(|s| {
            s.providers
                .iter()
                .find(|p| p.id.as_str() == id)
                .map(|p| (s, p))
        })
    }

    /// Every provider with its service, in configuration order.
    pub fn providers(&self) -> impl Iterator<Item = (&ServiceConfig, &ProviderConfig)> {
        self.services
            .iter()
            .flat_map(|s| s.providers.iter().map(move |p| (s, p)))
    }
}

/// The probe a provider runs: its own, else its service's, else the
/// default of its kind. For `evm-rpc` the default is a POST of one JSON-RPC
/// batch (`eth_chainId`, `eth_blockNumber`, `eth_getBlockByNumber`), one
/// subrequest for three answers. The default timeout (5 s) is shortened to
/// the probe interval when the interval is shorter, so a hung provider
/// never delays its own next probe.
pub fn effective_probe(svc: &ServiceConfig, p: &ProviderConfig) -> ProbeSpec {
    if let Some(spec) = p.probe.as_ref().or(svc.probe.as_ref()) {
        return super::db_api::expand(spec.clone());
    }
    let mut spec = ProbeSpec {
        timeout: default_timeout(svc.probe_interval),
        ..ProbeSpec::default()
    };
    if svc.kind == Kind::EvmRpc {
        spec.method = Method::Post;
        spec.headers
            .insert("content-type".into(), "application/json".into());
    }
    spec
}

/// The timeout of a probe that does not set one: the default (5 s), or
/// the probe interval when that is shorter, so a hung provider never
/// delays its own next probe and a default never exceeds the interval.
pub(crate) fn default_timeout(probe_interval: Span) -> Span {
    ProbeSpec::default().timeout.min(probe_interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_probe_timeout_fits_the_interval() {
        let cfg = Config::from_toml(
            "[sentinel]\nid = \"t\"\n[[service]]\nid = \"eth\"\nkind = \"evm-rpc\"\nprobe_interval = \"2s\"\n[[service.provider]]\nid = \"n\"\nendpoint = \"http://127.0.0.1:8545\"\n",
        )
        .unwrap();
        let (svc, p) = cfg.provider("n").unwrap();
        let spec = effective_probe(svc, p);
        assert_eq!(spec.timeout, Span::secs(2));
        assert_eq!(spec.method, Method::Post);
    }
}
