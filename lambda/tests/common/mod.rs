//! moto's DynamoDB server for the Lambda's tests (PyPI `moto[server]`,
//! in the venv `.ci/tools` fills, or on `PATH`), started on a free port
//! on 127.0.0.1 and killed on drop; and a client for it.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods
)]

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub fn moto_server() -> Option<PathBuf> {
    let venv = std::env::var_os("SENTINEL_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/bookkeeper-sentinel/venv"))
        })
        .map(|v| v.join("bin/moto_server"));
    venv.filter(|p| p.is_file()).or_else(|| {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("moto_server"))
                .find(|p| p.is_file())
        })
    })
}

/// The venv's python beside `moto_server`, and `tests/moto_serial.py`:
/// moto serving one request at a time, so its TransactWriteItems are
/// isolated as DynamoDB's are (see the script).
pub fn serial(moto_server: &std::path::Path) -> (PathBuf, PathBuf) {
    let python = moto_server.with_file_name("python3");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/moto_serial.py");
    (python, script)
}

/// moto on a free port, killed on drop.
pub struct Moto {
    child: std::process::Child,
    /// Its endpoint.
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn moto() -> Option<Moto> {
    let Some(bin) = moto_server() else {
        if std::env::var_os("SENTINEL_E2E_REQUIRE").is_some() {
            panic!(
                "moto_server is required under SENTINEL_E2E_REQUIRE (bash .ci/tools installs it)"
            );
        }
        eprintln!("SKIPPED: moto_server not installed (bash .ci/tools installs it)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (python, script) = serial(&bin);
    let child = std::process::Command::new(python)
        .arg(script)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let m = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(m);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not listen in 30 s");
}

/// A DynamoDB client for `m`, with test credentials.
pub fn client(m: &Moto) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(&m.url)
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}
