#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `sentinel status`, run as a user would, against local servers that are
//! and are not a sentinel: it must tell which, say why nothing answered,
//! and print what a sentinel answered as it is.

use sentinel_core::api::{self, dto, ApiContext, ApiRequest, Auth, Routed};
use sentinel_core::config::Config;
use sentinel_core::sim::Scenario;
use sentinel_core::time::{days_from_civil, DAY, MINUTE};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Output};

fn status(url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(["status", "--url", url])
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Serves JSON on 127.0.0.1 for as long as the test runs: `bodies` by
/// path, `fallback` (or a 404) for every other path. Returns its base URL.
fn serve(bodies: BTreeMap<&'static str, Vec<u8>>, fallback: Option<Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_string();
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) <= 2 {
                    break;
                }
            }
            let (code, body) = match bodies.get(path.as_str()).or(fallback.as_ref()) {
                Some(body) => ("200 OK", body.clone()),
                None => ("404 Not Found", br#"{"error":"no such path"}"#.to_vec()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {code}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    url
}

#[test]
fn a_json_server_that_is_not_a_sentinel_is_called_so() {
    let url = serve(
        BTreeMap::new(),
        Some(br#"{"status":"ok","providers":[],"count":0}"#.to_vec()),
    );
    let out = status(&url);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stderr.contains(&format!("{url} is not a Bookkeeper Sentinel")),
        "{stderr}"
    );
    assert!(stderr.contains("/healthz"), "{stderr}");
    assert!(!stdout.contains("providers;"), "no table: {stdout}");
}

#[test]
fn a_refused_port_is_called_refused() {
    let url = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let out = status(&url);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no sentinel answering"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "connection refused (is the sentinel running at {url}?)"
        )),
        "{stderr}"
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // Accept every connection and hold it open without a word.
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    let out = status(&url);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("no sentinel answering at {url}/healthz")),
        "{stderr}"
    );
    assert!(stderr.contains("timed out after 5 s"), "{stderr}");
}

#[test]
fn an_unknown_host_is_called_so() {
    // `.invalid` never resolves (RFC 2606).
    let out = status("http://sentinel.invalid:8080");
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no sentinel answering at http://sentinel.invalid:8080/healthz"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cannot resolve the host `sentinel.invalid`")
            || stderr.contains("timed out after 5 s"),
        "{stderr}"
    );
}

#[test]
fn a_url_that_is_no_url_is_called_so() {
    let out = status("localhost:8080");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("is not a URL to ask a sentinel at"),
        "{}",
        text(&out.stderr)
    );
}

/// The `/healthz` and `/v1/providers` bodies of a small simulated sentinel.
fn sentinel_bodies() -> (Vec<u8>, dto::ProviderList) {
    let start = days_from_civil(2026, 11, 2) as u64 * DAY;
    let cfg = Config::from_toml(
        r#"
[sentinel]
id = "status-test"
allow_private_targets = true

[[service]]
id = "prices"
kind = "api"
probe_interval = "30s"

[service.probe]
path = "/health"

[[service.provider]]
id = "a"
endpoint = "http://127.0.0.1:9001"
initial = "active"

[[service.provider]]
id = "b"
endpoint = "http://127.0.0.1:9002"
"#,
    )
    .unwrap();
    let mut s = Scenario::new(cfg, start, 7).unwrap();
    s.run_until(start + 10 * MINUTE);
    let ctx = ApiContext {
        engine: &s.engine,
        now: s.now,
        recent_observations: &[],
    };
    let get = |path: &str| match api::route(&ApiRequest::new("GET", path), &ctx, &Auth::Deny) {
        Routed::Response(r) => {
            assert_eq!(r.status, 200, "{path}");
            r.body
        }
        other => panic!("{path}: {other:?}"),
    };
    let health = get("/healthz");
    let list = serde_json::from_slice(&get("/v1/providers")).unwrap();
    (health, list)
}

#[test]
fn probe_details_are_printed_as_they_are() {
    let (health, mut list) = sentinel_bodies();
    let last = list.providers[1].last_probe.as_mut().expect("probed");
    last.detail = Some("missing header x-api-key\nsee x-request-id".into());
    let url = serve(
        BTreeMap::from([
            ("/healthz", health),
            (
                "/v1/providers?limit=500",
                serde_json::to_vec(&list).unwrap(),
            ),
        ]),
        None,
    );
    let out = status(&url);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let b = stdout
        .lines()
        .find(|l| l.starts_with("b "))
        .unwrap_or_else(|| panic!("no row for b:\n{stdout}"));
    assert!(
        b.ends_with("missing header x-api-key see x-request-id"),
        "{b}"
    );
    let a = stdout.lines().find(|l| l.starts_with("a ")).unwrap();
    assert!(a.contains(" * "), "a is routed: {a}");
    assert!(stdout.contains("2 providers; * = the provider its service routes to"));
}

/// Issue 12: the list is paginated; `status` follows `next` to the end and
/// shows what is wrong in words.
#[test]
fn every_page_is_read_and_problems_are_said_in_words() {
    let (health, list) = sentinel_bodies();
    let mut first = list.clone();
    first.providers.truncate(1);
    first.next = Some("prices:a".into());
    let mut second = list.clone();
    second.providers.remove(0);
    second.providers[0].problem = Some("answered 429 Too Many Requests 3 times in a row".into());
    let url = serve(
        BTreeMap::from([
            ("/healthz", health),
            (
                "/v1/providers?limit=500",
                serde_json::to_vec(&first).unwrap(),
            ),
            (
                "/v1/providers?limit=500&cursor=prices:a",
                serde_json::to_vec(&second).unwrap(),
            ),
        ]),
        None,
    );
    let out = status(&url);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("2 providers;"), "{stdout}");
    let b = stdout.lines().find(|l| l.starts_with("b ")).unwrap();
    assert!(
        b.ends_with("answered 429 Too Many Requests 3 times in a row"),
        "{b}"
    );
    assert!(b.contains("0.00%"), "utilization in percent: {b}");
}
