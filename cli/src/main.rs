//! `sentinel`: the local Bookkeeper Sentinel. This file only parses the
//! command line and wires the library together.
//!
//! Errors reach a person, not a developer: `main` prints each as one plain
//! message (`error: ` and the chain of causes, `{:#}`) and exits with
//! status 1, whatever `RUST_BACKTRACE` says. (Returning `anyhow::Result`
//! from `main` would print its `Debug` form, which carries a stack
//! backtrace whenever `RUST_BACKTRACE=1` is set, as it often is on
//! developer machines.) Usage errors are clap's, printed by clap, with
//! status 2.

// The demo and the CLI talk to a person on the terminal.
#![allow(clippy::print_stdout)]
#![allow(clippy::disallowed_methods)] // a shell owns the clock

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use sentinel_cli::{demo, runner, status};
use sentinel_core::config::Config;
use sentinel_core::secret::{self, SecretKey};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "sentinel",
    version,
    about = "Bookkeeper Sentinel: autonomous provider manager (local shell)"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the sentinel: probe, score, switch and serve the API until stopped.
    Run {
        /// Configuration file (TOML, or JSON by extension).
        #[arg(long, default_value = "sentinel.toml")]
        config: PathBuf,
        /// HTTP listener.
        #[arg(long, default_value = "127.0.0.1:8080", env = "SENTINEL_LISTEN")]
        listen: SocketAddr,
        /// Where the embedded store lives.
        #[arg(long, default_value = ".sentinel", env = "SENTINEL_DATA")]
        data: PathBuf,
        /// File holding the key that opens sealed credentials (base64 or hex).
        #[arg(long, env = "SENTINEL_KEY_FILE")]
        key_file: Option<PathBuf>,
        /// Bearer token required by mutating routes.
        #[arg(long, env = "SENTINEL_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Webhook URL for alerts (Slack- or Discord-compatible); repeatable.
        #[arg(long = "webhook", env = "SENTINEL_WEBHOOK", value_delimiter = ',')]
        webhooks: Vec<String>,
        /// Stop by itself after this many seconds.
        #[arg(long)]
        stop_after: Option<u64>,
        /// Hedge proxied requests that are safe to repeat: when the active
        /// provider has not answered within its p95 latency, ask the next.
        #[arg(long)]
        hedge: bool,
    },
    /// Start local providers with scripted faults and run the sentinel against them.
    Demo {
        /// HTTP listener for the dashboard, API and proxy.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        duration: Option<u64>,
        /// Where the demo's store lives (default: a fresh temporary directory).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Do not start anvil nodes even when anvil is installed.
        #[arg(long)]
        no_anvil: bool,
    },
    /// Validate a configuration and print every error with its key; with
    /// a key file, also open every sealed credential.
    Check {
        /// Configuration file.
        #[arg(long, default_value = "sentinel.toml")]
        config: PathBuf,
        /// The key that opens sealed credentials (base64 or hex).
        #[arg(long, env = "SENTINEL_KEY_FILE")]
        key_file: Option<PathBuf>,
    },
    /// Print the providers table of a running sentinel.
    Status {
        /// The running sentinel's address.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "SENTINEL_URL")]
        url: String,
    },
    /// Discover providers for a service now: the running sentinel tries
    /// the catalog's candidates once each, onboards those that pass into
    /// testing, and says why for every other one. With --veto, removes a
    /// provider discovery onboarded and never onboards it again.
    Discover {
        /// The service to discover providers for.
        #[arg(long, required_unless_present = "veto")]
        service: Option<String>,
        /// Veto this discovered provider instead.
        #[arg(long, conflicts_with = "service")]
        veto: Option<String>,
        /// The running sentinel's address.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "SENTINEL_URL")]
        url: String,
        /// Its bearer token (the one `run --token` was given).
        #[arg(long, env = "SENTINEL_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Check a provider's on-chain attestation: read the contract and the
    /// Attested event over JSON-RPC and, with --sentinel, recompute the
    /// evidence hash from the report that sentinel serves. Exits 1 when
    /// it does not hold.
    Verify {
        /// Provider id.
        provider: String,
        /// EVM JSON-RPC URL.
        #[arg(long, env = "SENTINEL_RPC")]
        rpc: String,
        /// The SentinelTrust contract's address.
        #[arg(long, env = "SENTINEL_CONTRACT")]
        contract: String,
        /// A sentinel's URL to fetch the evidence report from.
        #[arg(long)]
        sentinel: Option<String>,
        /// The score isVerified is asked for, in basis points.
        #[arg(long, default_value_t = 9000)]
        min_score: u16,
        /// The record age isVerified accepts, in seconds.
        #[arg(long, default_value_t = 7200)]
        max_age: u64,
    },
    /// Generate a key for sealing credentials.
    Keygen {
        /// Where to write it (mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Seal a credential read from stdin for a provider's secret header.
    Seal {
        /// The key file.
        #[arg(long, env = "SENTINEL_KEY_FILE")]
        key_file: PathBuf,
        /// Provider id.
        #[arg(long)]
        provider: String,
        /// Header name (e.g. authorization).
        #[arg(long)]
        header: String,
    },
}

fn load_config(path: &Path) -> Result<Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut cfg = Config::from_named(&path.to_string_lossy(), &text)
        .map_err(|e| anyhow::anyhow!("{} is invalid:\n{e}", path.display()))?;
    resolve_catalog(&mut cfg, path);
    Ok(cfg)
}

/// `[discovery] catalog`, relative to the configuration file.
fn resolve_catalog(cfg: &mut Config, config_path: &Path) {
    if let Some(c) = &cfg.discovery.catalog {
        let p = Path::new(c);
        if p.is_relative() {
            let base = config_path.parent().unwrap_or_else(|| Path::new("."));
            cfg.discovery.catalog = Some(base.join(p).to_string_lossy().into_owned());
        }
    }
}

fn load_key(path: &Path) -> Result<SecretKey> {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: key file {} is readable by others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    let t = text.trim();
    SecretKey::from_base64(t)
        .or_else(|_| SecretKey::from_hex(t))
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Logs to stderr; `SENTINEL_LOG` overrides the default filter. Colours
/// only on a terminal, and not with `NO_COLOR`.
fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SENTINEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(demo::use_colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .init();
}

fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}`: the message and its causes on one line, never the
            // backtrace anyhow's `Debug` would add.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn try_main() -> Result<()> {
    let cli = Cli::parse();
    // The tick, probes and deliveries. `run` serves HTTP on threads of its
    // own (`SENTINEL_WORKER_THREADS`, default one per core; see
    // `server::Servers`), so this runtime needs only one worker.
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(real_main(cli))
}

async fn real_main(cli: Cli) -> Result<()> {
    match cli.command {
        Cmd::Run {
            config,
            listen,
            data,
            key_file,
            token,
            webhooks,
            stop_after,
            hedge,
        } => {
            init_tracing("info");
            let cfg = load_config(&config)?;
            let key = key_file.as_deref().map(load_key).transpose()?;
            // Every sealed credential must open before anything is probed.
            let sealed = sentinel_core::host::check_sealed(&cfg, key.as_ref());
            if !sealed.0.is_empty() {
                bail!(
                    "{} has sealed credentials that do not open:\n{sealed}",
                    config.display()
                );
            }
            let opts = runner::RunOptions {
                listen,
                data_dir: data,
                key,
                token,
                webhooks,
                stop_after: stop_after.map(Duration::from_secs),
                ready: None,
                stop: None,
                observer: None,
                hedge,
            };
            runner::run(cfg, opts).await?;
        }
        Cmd::Demo {
            listen,
            duration,
            data,
            no_anvil,
        } => {
            init_tracing("error");
            demo::run(demo::DemoOptions {
                listen,
                duration: duration.map(Duration::from_secs),
                data,
                anvil: !no_anvil,
            })
            .await?;
        }
        Cmd::Check { config, key_file } => {
            let text = std::fs::read_to_string(&config)
                .with_context(|| format!("cannot read {}", config.display()))?;
            let key = key_file.as_deref().map(load_key).transpose()?;
            let errs = match Config::from_named(&config.to_string_lossy(), &text) {
                Err(errs) => errs,
                Ok(mut cfg) => {
                    resolve_catalog(&mut cfg, &config);
                    if let Err(e) = runner::load_catalog(&cfg) {
                        eprintln!("error: {e}");
                        bail!("{}: its discovery catalog is not usable", config.display());
                    }
                    let sealed = sentinel_core::host::check_sealed(&cfg, key.as_ref());
                    let providers: usize = cfg.services.iter().map(|s| s.providers.len()).sum();
                    for a in cfg.advice() {
                        println!("warning: {a}");
                    }
                    // The shared secrets are platform secrets, not config:
                    // say now what `run` would refuse to start without.
                    if let Err(e) =
                        sentinel_core::peer::secrets_from(&cfg, |k| std::env::var(k).ok())
                    {
                        println!("warning: {e} (in this environment; `sentinel run` will not start without it)");
                    }
                    if let Err(e) =
                        sentinel_core::chain::Anchor::from_config(&cfg, |k| std::env::var(k).ok())
                    {
                        println!("warning: {e} (in this environment; `sentinel run` will not start without it)");
                    }
                    if key.is_none() || sealed.0.is_empty() {
                        println!(
                            "{}: ok ({} services, {providers} providers)",
                            config.display(),
                            cfg.services.len()
                        );
                        if key.is_none() && !sealed.0.is_empty() {
                            println!(
                                "note: {} sealed credential(s) not opened: pass --key-file to check them",
                                sealed.0.len()
                            );
                        }
                        return Ok(());
                    }
                    sealed
                }
            };
            for e in &errs.0 {
                eprintln!("error: {e}");
            }
            bail!("{}: {} error(s)", config.display(), errs.0.len());
        }
        Cmd::Discover {
            service,
            veto,
            url,
            token,
        } => {
            let ask = match (service, veto) {
                (_, Some(p)) => sentinel_cli::discover::Ask::Veto(p),
                (Some(s), None) => sentinel_cli::discover::Ask::Service(s),
                (None, None) => bail!("give --service SERVICE or --veto PROVIDER"),
            };
            let out = sentinel_cli::discover::run(&url, token.as_deref(), &ask).await?;
            print!("{out}");
        }
        Cmd::Status { url } => {
            let table = status::fetch_table(&url).await?;
            print!("{table}");
        }
        Cmd::Verify {
            provider,
            rpc,
            contract,
            sentinel,
            min_score,
            max_age,
        } => {
            let args = sentinel_cli::verify::VerifyArgs {
                provider,
                rpc,
                contract,
                sentinel,
                min_score,
                max_age_s: max_age,
            };
            let v = sentinel_cli::verify::verify(&args).await?;
            for l in &v.lines {
                println!("{l}");
            }
            if !v.holds {
                std::process::exit(1);
            }
        }
        Cmd::Keygen { out } => {
            let key = SecretKey::generate(&mut rand_core::OsRng);
            write_private(&out, key.to_base64().expose())?;
            println!("wrote a new key to {}", out.display());
        }
        Cmd::Seal {
            key_file,
            provider,
            header,
        } => {
            let key = load_key(&key_file)?;
            let id = sentinel_core::ProviderId::new(provider).map_err(anyhow::Error::msg)?;
            let mut value = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut value)?;
            let aad = sentinel_core::probe::secret_header_aad(&id, &header);
            let sealed = secret::seal(
                &key,
                &aad,
                value.trim_end_matches(['\r', '\n']),
                &mut rand_core::OsRng,
            )?;
            println!(
                "[service.provider.secret_headers]\n{} = \"{}\"",
                header.to_ascii_lowercase(),
                sealed.encode()
            );
        }
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    if path.exists() {
        bail!("{} exists; refusing to overwrite a key", path.display());
    }
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
    }
    #[cfg(not(unix))]
    std::fs::write(path, format!("{text}\n"))?;
    Ok(())
}
