#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! EVM RPC end to end: anvil nodes as providers, Foundry's `cast` as a
//! real JSON-RPC client reading through the proxy.

mod support;

use sentinel_cli::runner::{self, RunOptions};
use sentinel_cli::testbed::{find_anvil, Anvil};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

fn opts(
    dir: &std::path::Path,
    ready: tokio::sync::oneshot::Sender<std::net::SocketAddr>,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> RunOptions {
    RunOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        key: None,
        token: None,
        webhooks: vec![],
        stop_after: Some(Duration::from_secs(90)),
        ready: Some(ready),
        stop: Some(stop),
        observer: None,
        hedge: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cast_keeps_getting_answers_while_anvil_backends_die_one_by_one() {
    let (Some(anvil), Some(cast)) = (find_anvil(), find_tool("cast")) else {
        return missing("anvil and cast (npm @foundry-rs/anvil @foundry-rs/cast)");
    };
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Anvil::spawn(&anvil, 31337, 1).await.unwrap());
    }
    let urls: Vec<String> = nodes.iter().map(Anvil::url).collect();
    let cfg = evm_config(&urls, 3, Some(31337));
    let dir = tempfile::tempdir().unwrap();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let workload = async move {
        let addr = ready_rx.await.unwrap();
        let rpc = format!("http://{addr}/proxy/eth");
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (mut ok, mut failed, mut last_block) = (0u32, Vec::new(), 0u64);
        for i in 0..120u32 {
            if i == 20 {
                nodes[0].kill().await;
            }
            if i == 60 {
                nodes[1].kill().await;
            }
            let out = tokio::process::Command::new(&cast)
                .args(["block-number", "--rpc-url", &rpc])
                .output()
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
            match text.parse::<u64>() {
                Ok(n) if out.status.success() => {
                    ok += 1;
                    last_block = n;
                }
                _ => failed.push(format!(
                    "{i}: {} {}",
                    text,
                    String::from_utf8_lossy(&out.stderr)
                )),
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        let _ = stop_tx.send(());
        (ok, failed, last_block, nodes)
    };
    let (run, (ok, failed, last_block, _nodes)) = tokio::join!(
        runner::run(cfg, opts(dir.path(), ready_tx, stop_rx)),
        workload
    );
    run.unwrap();
    assert!(
        failed.is_empty(),
        "{} of {} cast calls failed: {failed:?}",
        failed.len(),
        ok as usize + failed.len()
    );
    assert!(
        last_block > 5,
        "the chain kept advancing through the proxy ({last_block})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_node_is_stale_and_a_foreign_chain_is_inconsistent() {
    let Some(anvil) = find_anvil() else {
        return missing("anvil (npm @foundry-rs/anvil)");
    };
    let mut nodes = Vec::new();
    for chain in [31337, 31337, 31337, 31338] {
        nodes.push(Anvil::spawn(&anvil, chain, 1).await.unwrap());
    }
    let urls: Vec<String> = nodes.iter().map(Anvil::url).collect();
    // No expected chain id: the foreign chain must be caught by the
    // cross-provider vote alone.
    let cfg = evm_config(&urls, 2, None);
    let dir = tempfile::tempdir().unwrap();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let seen2 = seen.clone();
    let mut o = opts(dir.path(), ready_tx, stop_rx);
    // The nodes are separate chains spawned one after another; on a loaded
    // machine their first heads can be far apart for the first ticks.
    // What counts is what the sentinel says once it has seen them all
    // for a few seconds (the stall begins at 6 s).
    let started = Instant::now();
    o.observer = Some(Box::new(move |_, engine| {
        if started.elapsed() < Duration::from_secs(4) {
            return;
        }
        let mut s = seen2.lock().unwrap();
        for (id, p) in &engine.state().providers {
            if let Some(c) = &p.bad_check {
                s.push((id.to_string(), c.clone()));
            }
        }
    }));
    let workload = async move {
        let _ = ready_rx.await;
        tokio::time::sleep(Duration::from_secs(6)).await;
        nodes[1].stop_mining().await.unwrap();
        tokio::time::sleep(Duration::from_secs(16)).await;
        let _ = stop_tx.send(());
        nodes
    };
    let (run, _nodes) = tokio::join!(runner::run(cfg, o), workload);
    run.unwrap();
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().any(|(id, c)| id == "n2" && c == "freshness"),
        "stalled node not caught as stale: {seen:?}"
    );
    assert!(
        seen.iter().any(|(id, c)| id == "n4" && c == "consistency"),
        "foreign chain not caught as inconsistent: {seen:?}"
    );
    assert!(
        !seen.iter().any(|(id, _)| id == "n1" || id == "n3"),
        "healthy nodes blamed: {seen:?}"
    );
}
