//! `straddle devnet`, the README's main command, run as a user runs it: it prints its
//! endpoints, a deposit made with `cast` alone (no Straddle code on the client side) is
//! credited on the sequencer and re-derived by the follower, the market maker's quotes
//! fill an order, and SIGINT (Ctrl-C) stops every process it started.

mod common;

use alloy_primitives::Address;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use straddle_exchange::devnet::DEV_PRIVATE_KEYS;
use straddle_rpc_api::StraddleApiClient;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A port `p` with `p + 1` free too (the devnet uses the next port for the follower).
fn free_port_pair() -> u16 {
    loop {
        let port = straddle_l1::anvil::free_port().unwrap();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// Ports for anvil, the sequencer's and follower's RPC (`rpc`, `rpc + 1`) and metrics
/// (`metrics`, `metrics + 1`): free when chosen and all five distinct (a released port
/// can come back as another's `+ 1`, and two services would then race for it).
fn devnet_ports() -> (u16, u16, u16) {
    loop {
        let l1 = straddle_l1::anvil::free_port().unwrap();
        let rpc = free_port_pair();
        let metrics = free_port_pair();
        let ports = std::collections::BTreeSet::from([l1, rpc, rpc + 1, metrics, metrics + 1]);
        if ports.len() == 5 {
            return (l1, rpc, metrics);
        }
    }
}

fn cast(args: &[&str]) -> String {
    let output = Command::new(repo().join("tools/node_modules/.bin/cast"))
        .args(args)
        .output()
        .expect("run cast (installed by scripts/setup-tools.sh)");
    assert!(
        output.status.success(),
        "cast {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_devnet_credits_a_cast_deposit_fills_an_order_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let (l1_port, rpc_port, metrics_port) = devnet_ports();
    let mut devnet = Command::new(common::BINARY)
        .arg("devnet")
        .arg("--dir")
        .arg(dir.path())
        .args(["--l1-port", &l1_port.to_string()])
        .args(["--rpc-port", &rpc_port.to_string()])
        .args(["--metrics-port", &metrics_port.to_string()])
        .arg("--anvil")
        .arg(straddle_l1::anvil::anvil_binary(&repo()))
        .args(["--oracle-interval-ms", "1000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start straddle devnet");
    let mut stdout = BufReader::new(devnet.stdout.take().unwrap());
    let mut banner = String::new();
    loop {
        let mut line = String::new();
        let read = stdout.read_line(&mut line).unwrap();
        assert!(read > 0, "devnet exited before it was ready:\n{banner}");
        banner.push_str(&line);
        if line.contains("Ctrl-C stops everything") {
            break;
        }
    }
    assert!(banner.starts_with("straddle devnet ready"), "{banner}");
    let sequencer_url = format!("http://127.0.0.1:{rpc_port}");
    let follower_url = format!("http://127.0.0.1:{}", rpc_port + 1);
    assert!(banner.contains(&sequencer_url) && banner.contains(&follower_url));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("devnet.json")).unwrap()).unwrap();
    let l1_url = summary["l1Rpc"].as_str().unwrap().to_string();
    let token = summary["deployment"]["collateral"].as_str().unwrap();
    let portal = summary["deployment"]["portal"].as_str().unwrap();

    // A deposit with cast only: approve, then Portal.deposit to a fresh L2 address.
    let depositor_key = format!("0x{}", DEV_PRIVATE_KEYS[3]);
    let recipient = Address::repeat_byte(0x5e);
    let common_args = ["--private-key", &depositor_key, "--rpc-url", &l1_url];
    let approve = [
        "send",
        token,
        "approve(address,uint256)",
        portal,
        "2500000000",
    ];
    cast(&[&approve[..], &common_args[..]].concat());
    let recipient_text = recipient.to_string();
    let deposit = [
        "send",
        portal,
        "deposit(address,uint256)",
        &recipient_text,
        "2500000000",
    ];
    cast(&[&deposit[..], &common_args[..]].concat());
    let sequencer = straddle_rpc_api::http_client(&sequencer_url).unwrap();
    let follower = straddle_rpc_api::http_client(&follower_url).unwrap();
    for (name, node) in [("sequencer", &sequencer), ("follower", &follower)] {
        wait_for(&format!("the {name} credits the deposit"), async || {
            node.get_account(recipient).await.unwrap().collateral.0 == 2_500_000_000
        })
        .await;
    }

    // The market maker quotes the ETH perpetual: a market order of account 2 fills.
    let cli = |args: &[&str]| {
        let mut all = vec!["--rpc", sequencer_url.as_str()];
        all.extend_from_slice(args);
        common::run_cli(&all)
    };
    cli(&["margin", "deposit", "--dev", "2", "--amount", "10000"]);
    cli(&[
        "order",
        "place",
        "--market",
        "1",
        "--dev",
        "2",
        "--side",
        "buy",
        "--size",
        "1",
        "--market-order",
    ]);
    let trader = common::dev_signer(2).address();
    let positions = sequencer
        .get_account(trader)
        .await
        .unwrap()
        .margin
        .positions;
    assert_eq!(
        positions
            .iter()
            .map(|p| (p.market, p.size))
            .collect::<Vec<_>>(),
        vec![(1, 1_000_000)],
        "the market order filled against the devnet's quotes"
    );

    // Ctrl-C: every service and anvil stop, and the ports are free again.
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(devnet.id() as libc::pid_t, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = devnet.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the devnet did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "devnet exit status {status:?}");
    for port in [l1_port, rpc_port, rpc_port + 1] {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "something still listens on {port} after Ctrl-C"
        );
    }
}
