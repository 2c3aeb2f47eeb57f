//! What the host checks before it starts: who may call the authenticated
//! routes, whether the webhooks are acceptable targets, and whether every
//! sealed credential opens with the runtime's key.

use super::guard;
use crate::api::Auth;
use crate::config::{Config, Errors};

/// The token → caller rule: a non-empty token enables bearer
/// authentication; none (or an empty one) disables the authenticated
/// routes rather than accepting an empty credential.
pub fn auth_for(token: Option<&str>) -> Auth {
    token.map_or(Auth::Deny, Auth::bearer)
}

/// Checks webhook URLs: http or https, and the same guard as probes
/// (private targets only when the config allows them). Errors never
/// contain the URL, which embeds the webhook's token.
pub fn validate_webhooks(urls: &[String], allow_private: bool) -> Result<(), (usize, String)> {
    for (i, u) in urls.iter().enumerate() {
        if let Err(e) = guard::check_url(u, allow_private) {
            return Err((i + 1, e.to_string()));
        }
    }
    Ok(())
}

/// Opens every sealed credential of the configuration with `key` and
/// reports each that does not open — a wrong key, a value moved to another
/// provider or header, a tampered value — as a config error with its key
/// (`service.S.provider.P.secret_headers.H`), so `sentinel check` catches
/// it before providers are paged as "down".
pub fn check_sealed(config: &Config, key: Option<&crate::secret::SecretKey>) -> Errors {
    let mut errs = Errors::default();
    for svc in &config.services {
        for p in &svc.providers {
            for (header, sealed) in &p.secret_headers {
                let at = format!(
                    "service.{}.provider.{}.secret_headers.{header}",
                    svc.id, p.id
                );
                let Some(key) = key else {
                    errs.push_key(&at, "is sealed, but no key was given (--key-file)");
                    continue;
                };
                let aad = crate::probe::secret_header_aad(&p.id, header);
                if let Err(e) = crate::secret::open(key, &aad, sealed) {
                    errs.push_key(
                        &at,
                        format!(
                            "does not open with this key: {e} (a wrong key, a value sealed for another provider or header, or a tampered value)"
                        ),
                    );
                }
            }
        }
    }
    errs
}
