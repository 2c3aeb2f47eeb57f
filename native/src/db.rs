//! Probes that speak the databases' own protocols: PostgreSQL and Redis.
//!
//! A provider whose endpoint is `postgres://HOST:PORT/DB?user=U` (or
//! `postgresql://`) or `redis://HOST:PORT` (`rediss://` for TLS) is
//! probed here instead of over HTTP. The probe's `body` is the query:
//! SQL for PostgreSQL (default `SELECT 1 AS ok`), a command for Redis
//! (default `PING`; `GET health:key`, `HGET h f`…, split on whitespace).
//! The answer becomes a JSON document, so the service's usual checks
//! apply to it unchanged:
//!
//! - PostgreSQL: `{"rows": N, "row": {column: value, …}}`, the first row
//!   of the simple-query protocol (every value as the server's text; the
//!   checks read numeric text as numbers). Replication lag where exposed:
//!   `SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
//!   AS lag_s` with an assertion on `/row/lag_s`.
//! - Redis: `{"reply": …}` — a string, an integer, an array, or null.
//!   An error reply (`-ERR …`) is an HTTP-like `502` with the error.
//!
//! Credentials come from the provider's sealed `secret_headers`:
//! `password` (and, for Redis 6 ACLs, `username`). TLS: `sslmode=require`
//! (PostgreSQL) or `rediss://` (Redis), with the Mozilla roots. The host
//! is resolved through the SSRF guard like every probe; the timeout is the
//! probe's.

use bytes::Bytes;
use sentinel_core::host::{OutboundError, OutboundRequest, OutboundResponse};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Whether `scheme` is one this module speaks.
pub(crate) fn is_db(scheme: &str) -> bool {
    matches!(scheme, "postgres" | "postgresql" | "redis" | "rediss")
}

/// The longest Redis bulk reply read (the probe's cap applies too).
const MAX_REPLY: usize = 1 << 20;

/// Probes `req` (a database URL) and answers as an HTTP response would.
pub(crate) async fn probe(
    req: &OutboundRequest,
    tls: &rustls::ClientConfig,
    allow_private: bool,
) -> Result<OutboundResponse, OutboundError> {
    #[allow(clippy::disallowed_methods)] // a monotonic duration, not a clock
    let started = Instant::now();
    let scheme = req.url.scheme_str().unwrap_or_default().to_string();
    let host = req
        .url
        .host()
        .ok_or_else(|| OutboundError::Protocol("the URL has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let default_port = if scheme.starts_with("redis") {
        6379
    } else {
        5432
    };
    let port = req.url.port_u16().unwrap_or(default_port);
    let addr = resolve(&host, port, allow_private).await?;
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| OutboundError::Connect(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let header = |name: &str| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let query = String::from_utf8_lossy(&req.body).trim().to_string();
    let (status, body) = match scheme.as_str() {
        "redis" | "rediss" => {
            let cmd = if query.is_empty() {
                "PING".to_string()
            } else {
                query
            };
            let auth = (header("username"), header("password"));
            if scheme == "rediss" {
                let s = tls_stream(stream, &host, tls).await?;
                redis(s, &cmd, auth).await?
            } else {
                redis(stream, &cmd, auth).await?
            }
        }
        _ => {
            let sql = if query.is_empty() {
                "SELECT 1 AS ok".to_string()
            } else {
                query
            };
            postgres(req, stream, &host, &sql, header("password"), tls).await?
        }
    };
    let mut body = body.to_string().into_bytes();
    let truncated = body.len() as u64 > req.max_bytes;
    body.truncate(usize::try_from(req.max_bytes).unwrap_or(usize::MAX));
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(OutboundResponse {
        status,
        headers,
        body: Bytes::from(body),
        truncated,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// The first address of `host` the guard accepts (a literal is judged by
/// the core before the request reaches the shell; a name here).
async fn resolve(host: &str, port: u16, allow_private: bool) -> Result<SocketAddr, OutboundError> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        let addr = SocketAddr::new(ip, port);
        sentinel_core::host::guard::check_resolved(host, &[addr], allow_private)
            .map_err(|e| OutboundError::Blocked(e.to_string()))?;
        return Ok(addr);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| OutboundError::Connect(format!("{host}: {e}")))?
        .collect();
    sentinel_core::host::guard::check_resolved(host, &addrs, allow_private)
        .map_err(|e| OutboundError::Blocked(e.to_string()))?;
    addrs
        .first()
        .copied()
        .ok_or_else(|| OutboundError::Connect(format!("{host}: no address")))
}

async fn tls_stream(
    stream: TcpStream,
    host: &str,
    tls: &rustls::ClientConfig,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, OutboundError> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| OutboundError::Tls(e.to_string()))?;
    tokio_rustls::TlsConnector::from(Arc::new(tls.clone()))
        .connect(name, stream)
        .await
        .map_err(|e| OutboundError::Tls(e.to_string()))
}

/// Runs `sql` (simple-query protocol) and answers its first row.
async fn postgres(
    req: &OutboundRequest,
    stream: TcpStream,
    host: &str,
    sql: &str,
    password: Option<String>,
    tls: &rustls::ClientConfig,
) -> Result<(u16, serde_json::Value), OutboundError> {
    // tokio-postgres reads the URL's database, user and options itself.
    let mut config: tokio_postgres::Config = req
        .url
        .to_string()
        .parse()
        .map_err(|e: tokio_postgres::Error| OutboundError::Protocol(e.to_string()))?;
    if let Some(p) = password {
        config.password(p);
    }
    config.connect_timeout(std::time::Duration::from_millis(req.timeout_ms.max(1)));
    let fail = |e: tokio_postgres::Error| classify(&e);
    // TLS when asked (`sslmode=require`); `prefer` (the default) would
    // need a second connection to fall back, so it means plain here.
    let client = if config.get_ssl_mode() != tokio_postgres::config::SslMode::Require {
        let (client, conn) = config
            .connect_raw(stream, tokio_postgres::NoTls)
            .await
            .map_err(fail)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    } else {
        {
            use tokio_postgres::tls::MakeTlsConnect;
            let mut make = tokio_postgres_rustls::MakeRustlsConnect::new(tls.clone());
            let connector = <tokio_postgres_rustls::MakeRustlsConnect as MakeTlsConnect<
                TcpStream,
            >>::make_tls_connect(&mut make, host)
            .map_err(|e| OutboundError::Tls(e.to_string()))?;
            let (client, conn) = config.connect_raw(stream, connector).await.map_err(fail)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client
        }
    };
    let messages = match client.simple_query(sql).await {
        Ok(m) => m,
        Err(e) => {
            // The server answered with an error (a bad query, a permission):
            // up, but its answer is not usable — a 502 with its words.
            if let Some(db) = e.as_db_error() {
                return Ok((
                    502,
                    serde_json::json!({ "error": db.message(), "code": db.code().code() }),
                ));
            }
            return Err(classify(&e));
        }
    };
    let mut rows = 0u64;
    let mut first = serde_json::Map::new();
    for m in messages {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = m {
            if rows == 0 {
                for (i, col) in row.columns().iter().enumerate() {
                    let v = row.get(i).map_or(serde_json::Value::Null, |s| {
                        serde_json::Value::String(s.into())
                    });
                    first.insert(col.name().to_string(), v);
                }
            }
            rows += 1;
        }
    }
    Ok((200, serde_json::json!({ "rows": rows, "row": first })))
}

fn classify(e: &tokio_postgres::Error) -> OutboundError {
    let text = e.to_string();
    if text.contains("timed out") || text.contains("timeout") {
        OutboundError::Timeout
    } else if e.as_db_error().is_some() {
        // Refused at login (a wrong password, an unknown database).
        OutboundError::Protocol(text)
    } else if text.contains("closed") || text.contains("reset") {
        OutboundError::Reset(text)
    } else {
        OutboundError::Protocol(text)
    }
}

/// Sends one command (after `AUTH` when a password is set) and reads its
/// reply.
async fn redis<S: AsyncRead + AsyncWrite + Unpin + Send>(
    stream: S,
    cmd: &str,
    auth: (Option<String>, Option<String>),
) -> Result<(u16, serde_json::Value), OutboundError> {
    let mut s = BufReader::new(stream);
    if let (user, Some(password)) = auth {
        let mut args = vec!["AUTH".to_string()];
        args.extend(user);
        args.push(password);
        write_command(&mut s, &args).await?;
        if let Reply::Error(e) = read_reply(&mut s, 0).await? {
            return Ok((502, serde_json::json!({ "error": e })));
        }
    }
    let args: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
    write_command(&mut s, &args).await?;
    Ok(match read_reply(&mut s, 0).await? {
        Reply::Error(e) => (502, serde_json::json!({ "error": e })),
        Reply::Value(v) => (200, serde_json::json!({ "reply": v })),
    })
}

async fn write_command<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    args: &[String],
) -> Result<(), OutboundError> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    s.get_mut()
        .write_all(&out)
        .await
        .map_err(|e| OutboundError::Reset(e.to_string()))
}

enum Reply {
    Value(serde_json::Value),
    Error(String),
}

async fn read_line<S: AsyncRead + Unpin>(s: &mut BufReader<S>) -> Result<String, OutboundError> {
    let mut line = Vec::new();
    loop {
        let b = s
            .read_u8()
            .await
            .map_err(|e| OutboundError::Reset(e.to_string()))?;
        if b == b'\n' {
            break;
        }
        line.push(b);
        if line.len() > 64 * 1024 {
            return Err(OutboundError::Protocol("a reply line over 64 KiB".into()));
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// One RESP2 reply (arrays nested at most 8 deep).
fn read_reply<S: AsyncRead + Unpin + Send>(
    s: &mut BufReader<S>,
    depth: u32,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reply, OutboundError>> + Send + '_>>
{
    Box::pin(async move {
        let line = read_line(s).await?;
        let (kind, rest) = line.split_at(line.len().min(1));
        let bad = || OutboundError::Protocol(format!("not a Redis reply: {line:?}"));
        Ok(match kind {
            "+" => Reply::Value(serde_json::Value::String(rest.into())),
            "-" => Reply::Error(rest.into()),
            ":" => Reply::Value(serde_json::Value::from(
                rest.parse::<i64>().map_err(|_| bad())?,
            )),
            "$" => {
                let n: i64 = rest.parse().map_err(|_| bad())?;
                if n < 0 {
                    return Ok(Reply::Value(serde_json::Value::Null));
                }
                let n = usize::try_from(n).map_err(|_| bad())?;
                if n > MAX_REPLY {
                    return Err(OutboundError::Protocol(format!("a reply of {n} bytes")));
                }
                let mut buf = vec![0u8; n + 2];
                s.read_exact(&mut buf)
                    .await
                    .map_err(|e| OutboundError::Reset(e.to_string()))?;
                buf.truncate(n);
                Reply::Value(serde_json::Value::String(
                    String::from_utf8_lossy(&buf).into_owned(),
                ))
            }
            "*" if depth < 8 => {
                let n: i64 = rest.parse().map_err(|_| bad())?;
                if n < 0 {
                    return Ok(Reply::Value(serde_json::Value::Null));
                }
                let mut items = Vec::new();
                for _ in 0..n.min(10_000) {
                    match read_reply(s, depth + 1).await? {
                        Reply::Value(v) => items.push(v),
                        Reply::Error(e) => items.push(serde_json::json!({ "error": e })),
                    }
                }
                Reply::Value(serde_json::Value::Array(items))
            }
            _ => return Err(bad()),
        })
    })
}
