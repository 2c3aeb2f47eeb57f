//! The compiled registry: every provider with its effective probe, its
//! compiled checks and its integer cost model, built once from the
//! configuration (and the providers submitted at run time).

use crate::books::Rates;
use crate::config::{
    effective_probe, join, Config, Errors, ProbeSpec, ProviderConfig, ServiceConfig,
};
use crate::quality::{evm_probe_body, CompiledChecks};
use crate::state::Submitted;
use crate::{Bps, Kind, ProviderId, ServiceId};
use std::collections::BTreeMap;

/// A provider ready to be probed and scored.
#[derive(Debug, Clone)]
pub struct ProviderRuntime {
    /// Its service.
    pub service: ServiceId,
    /// Its configuration.
    pub config: ProviderConfig,
    /// Its effective probe.
    pub probe: ProbeSpec,
    /// The probe's body (the JSON-RPC batch for evm-rpc).
    pub body: Option<Vec<u8>>,
    /// The probe's full URL.
    pub url: String,
    /// Compiled body checks.
    pub checks: CompiledChecks,
    /// Integer cost model.
    pub rates: Rates,
    /// The prior its score is shrunk toward.
    pub prior: Bps,
    /// Whether it was submitted at run time.
    pub submitted: bool,
}

/// A service and its providers, in order.
#[derive(Debug, Clone)]
pub struct ServiceRuntime {
    /// Its configuration (the `providers` list as configured).
    pub config: ServiceConfig,
    /// All its providers, configured then submitted.
    pub providers: Vec<ProviderId>,
}

/// All services and providers.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    services: BTreeMap<ServiceId, ServiceRuntime>,
    providers: BTreeMap<ProviderId, ProviderRuntime>,
}

/// Joins an endpoint and a path with exactly one `/` between them.
pub fn join_url(endpoint: &str, path: &str) -> String {
    if path.is_empty() {
        return endpoint.to_string();
    }
    let base = endpoint.trim_end_matches('/');
    let mut url = String::with_capacity(base.len() + path.len() + 1);
    url.push_str(base);
    if !(path.starts_with('/') || path.starts_with('?')) {
        url.push('/');
    }
    url.push_str(path);
    url
}

impl Registry {
    /// Compiles the configuration and the submitted providers.
    pub fn build(config: &Config, submitted: &[Submitted]) -> Result<Registry, Errors> {
        let mut reg = Registry::default();
        let mut errs = Errors::default();
        for svc in &config.services {
            let mut ids = Vec::new();
            let mut subs = Vec::new();
            for s in submitted.iter().filter(|s| s.service == svc.id) {
                match serde_json::from_str::<ProviderConfig>(&s.provider_json) {
                    Ok(p) => subs.push(p),
                    Err(e) => errs.push(
                        &format!("submitted.{}", s.id),
                        "(stored json)",
                        format!("cannot be read back: {e}"),
                    ),
                }
            }
            let all = svc
                .providers
                .iter()
                .map(|p| (p, false))
                .chain(subs.iter().map(|p| (p, true)));
            for (p, is_sub) in all {
                let probe = effective_probe(svc, p);
                let checks = match CompiledChecks::new(
                    &probe.checks,
                    svc.evm.as_ref().filter(|_| svc.kind == Kind::EvmRpc),
                ) {
                    Ok(c) => c,
                    Err(e) => {
                        errs.0.extend(e.0.into_iter().map(|mut c| {
                            c.key = join(&format!("service.{}.provider.{}", svc.id, p.id), &c.key);
                            c
                        }));
                        continue;
                    }
                };
                let body = match (&probe.body, svc.kind) {
                    (Some(b), _) => Some(b.as_bytes().to_vec()),
                    (None, Kind::EvmRpc) => Some(evm_probe_body()),
                    (None, _) => None,
                };
                let prior = p.prior.unwrap_or(if is_sub {
                    config.policy.reputation.prior_unknown
                } else {
                    config.policy.reputation.prior_configured
                });
                ids.push(p.id.clone());
                reg.providers.insert(
                    p.id.clone(),
                    ProviderRuntime {
                        service: svc.id.clone(),
                        // A database is asked at its address; the probe's
                        // body is the query, its path means nothing.
                        url: if crate::config::is_db_endpoint(&p.endpoint) {
                            p.endpoint.clone()
                        } else {
                            join_url(&p.endpoint, &probe.path)
                        },
                        config: p.clone(),
                        probe,
                        body,
                        checks,
                        rates: p.cost.compile(),
                        prior,
                        submitted: is_sub,
                    },
                );
            }
            reg.services.insert(
                svc.id.clone(),
                ServiceRuntime {
                    config: svc.clone(),
                    providers: ids,
                },
            );
        }
        if errs.is_empty() {
            Ok(reg)
        } else {
            Err(errs)
        }
    }

    /// A provider.
    pub fn provider<Q: Ord + ?Sized>(&self, id: &Q) -> Option<&ProviderRuntime>
    where
        ProviderId: std::borrow::Borrow<Q>,
    {
        self.providers.get(id)
    }

    /// A service.
    pub fn service<Q: Ord + ?Sized>(&self, id: &Q) -> Option<&ServiceRuntime>
    where
        ServiceId: std::borrow::Borrow<Q>,
    {
        self.services.get(id)
    }

    /// All providers, by id.
    pub fn providers(&self) -> impl Iterator<Item = &ProviderRuntime> {
        self.providers.values()
    }

    /// All services, by id.
    pub fn services(&self) -> impl Iterator<Item = &ServiceRuntime> {
        self.services.values()
    }
}

#[cfg(test)]
mod tests {
    use super::join_url;

    #[test]
    fn urls_join_with_one_slash() {
        assert_eq!(join_url("https://a.example/", "/x"), "https://a.example/x");
        assert_eq!(join_url("https://a.example", "x"), "https://a.example/x");
        assert_eq!(join_url("https://a.example/v1", ""), "https://a.example/v1");
        assert_eq!(
            join_url("https://a.example/v1/", "?q=1"),
            "https://a.example/v1?q=1"
        );
    }
}
