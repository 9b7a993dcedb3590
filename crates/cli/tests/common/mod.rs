//! Helpers shared by the end-to-end tests that spawn the real `straddle` binary.

#![allow(dead_code, unused_imports)]

pub use straddle_testkit::{dev_addresses, domain as devnet_domain, signer as dev_signer};

use alloy_primitives::Address;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;
use straddle_exchange::devnet::dev_key;
use straddle_primitives::Action;

pub const BINARY: &str = env!("CARGO_BIN_EXE_straddle");

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Dev account `index`'s key as an L1 signer.
pub fn l1_key(index: usize) -> straddle_l1::alloy::signers::local::PrivateKeySigner {
    straddle_l1::alloy::signers::local::PrivateKeySigner::from_bytes(&dev_key(index))
        .expect("devnet keys are valid")
}

/// Polls `done` every 100 ms until it holds; fails after 60 s.
pub async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Anvil (mining on demand) with the contracts of [`deploy_config`] deployed by dev
/// account 0, which proposes; dev account 1 is the batcher.
pub async fn anvil_with_contracts(
    challenge_window_secs: u64,
    forced_inclusion_window: u64,
) -> (
    straddle_l1::Anvil,
    straddle_l1::L1Client,
    straddle_l1::Deployment,
) {
    let anvil =
        straddle_l1::Anvil::start(&straddle_l1::anvil::anvil_binary(&repo()), 0, &[]).unwrap();
    let operator = straddle_l1::L1Client::connect(&anvil.url(), l1_key(0)).unwrap();
    let deployment = operator
        .deploy_devnet(&deploy_config(
            operator.address(),
            l1_key(1).address(),
            challenge_window_secs,
            forced_inclusion_window,
        ))
        .await
        .unwrap();
    (anvil, operator, deployment)
}

/// The L1 deployment of a test chain whose nodes run the default devnet genesis (no
/// `--genesis`): bond 1 wei, a 60 s dispute clock.
pub fn deploy_config(
    proposer: Address,
    batcher: Address,
    challenge_window_secs: u64,
    forced_inclusion_window: u64,
) -> straddle_l1::DeployConfig {
    let genesis = straddle_testkit::genesis();
    straddle_l1::DeployConfig {
        challenge_window_secs,
        forced_inclusion_window,
        ..straddle_fault_proof::deploy_config(&genesis, proposer, batcher).unwrap()
    }
}

pub fn sign(key: &PrivateKeySigner, action: &Action) -> [u8; 65] {
    key.sign_hash_sync(&action.signing_hash(&devnet_domain()))
        .expect("signing with a local key cannot fail")
        .as_bytes()
}

/// A `straddle node` child process on an ephemeral port.
pub struct NodeProcess {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
    _stdout: BufReader<ChildStdout>,
}

impl NodeProcess {
    /// Starts the binary on `data_dir` and waits for its "ready" line. Logs go to
    /// `data_dir/../node.log` (appended across restarts).
    pub fn start(data_dir: &Path) -> NodeProcess {
        NodeProcess::start_with(data_dir, &[], "straddle node ready: rpc ")
    }

    /// Starts `straddle node` with `extra` arguments and waits for the line starting
    /// with `ready` (followed by the RPC URL).
    #[allow(
        clippy::zombie_processes,
        reason = "the child moves into NodeProcess, whose Drop reaps it; early exits reap it too"
    )]
    pub fn start_with(data_dir: &Path, extra: &[String], ready: &str) -> NodeProcess {
        let log = data_dir.with_extension("log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open node log");
        let mut child = Command::new(BINARY)
            .arg("node")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--rpc-addr", "127.0.0.1:0", "--no-metrics"])
            .args(["--block-interval-ms", "20"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("spawn straddle node");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        loop {
            line.clear();
            let read = stdout.read_line(&mut line).unwrap_or(0);
            if read == 0 {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!(
                    "node exited before becoming ready ({status:?}); log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if let Some(rest) = line.trim().strip_prefix(ready) {
                let url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                return NodeProcess {
                    child,
                    url,
                    log,
                    _stdout: stdout,
                };
            }
        }
    }

    pub fn client(&self) -> HttpClient {
        HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(20))
            .build(&self.url)
            .expect("valid url")
    }

    /// SIGKILL: no chance to flush or seal anything.
    pub fn kill_hard(mut self) {
        self.child.kill().expect("SIGKILL the node");
        self.child.wait().expect("reap the node");
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let status = self.child.wait().expect("wait for the node");
        assert!(status.success(), "node did not stop cleanly: {status:?}");
    }
}

impl Drop for NodeProcess {
    /// A test that fails midway must not leave a node running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A `straddle batcher` or `straddle proposer` child process, killed on drop.
pub struct ServiceProcess {
    pub child: Child,
}

impl ServiceProcess {
    /// Starts `straddle <command> args` (a batcher or a proposer); its log goes to `log`.
    #[allow(
        clippy::zombie_processes,
        reason = "the child moves into ServiceProcess, whose Drop reaps it"
    )]
    pub fn start(command: &str, args: &[String], log: &Path) -> ServiceProcess {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the service log");
        let child = Command::new(BINARY)
            .arg(command)
            .args(args)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn the service");
        ServiceProcess { child }
    }

    /// SIGKILL.
    pub fn kill_hard(mut self) {
        self.child.kill().expect("SIGKILL the service");
        self.child.wait().expect("reap the service");
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the binary with `args` and returns stdout, failing the test on a non-zero exit.
pub fn run_cli(args: &[&str]) -> String {
    let output = Command::new(BINARY)
        .args(args)
        .output()
        .expect("run straddle");
    assert!(
        output.status.success(),
        "straddle {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// The L1 arguments of `straddle node` for the contracts of `deployment` on `l1_url`,
/// polling every 100 ms.
pub fn node_l1_args(l1_url: &str, deployment: &straddle_l1::Deployment) -> Vec<String> {
    vec![
        "--l1-rpc".into(),
        l1_url.into(),
        "--portal".into(),
        deployment.portal.to_string(),
        "--inbox".into(),
        deployment.batch_inbox.to_string(),
        "--l1-start-block".into(),
        deployment.start_block.to_string(),
        "--l1-poll-ms".into(),
        "100".into(),
    ]
}

/// A sequencer and a follower of `deployment` on anvil at `l1_url`, with their data in
/// `dir/sequencer` and `dir/follower`.
pub fn start_nodes(
    dir: &Path,
    l1_url: &str,
    deployment: &straddle_l1::Deployment,
) -> (NodeProcess, NodeProcess) {
    let l1_args = node_l1_args(l1_url, deployment);
    let sequencer = NodeProcess::start_with(
        &dir.join("sequencer"),
        &l1_args,
        "straddle node ready: rpc ",
    );
    let mut follower_args = l1_args;
    follower_args.push("--follow".into());
    let follower = NodeProcess::start_with(
        &dir.join("follower"),
        &follower_args,
        "straddle follower ready: rpc ",
    );
    (sequencer, follower)
}

/// `straddle batcher` arguments: posting the blocks of the sequencer at `l2_rpc` to
/// `deployment`'s inbox with dev account 1's key (the test chains' batcher), polling every
/// 200 ms.
pub fn batcher_args(
    l2_rpc: &str,
    l1_url: &str,
    deployment: &straddle_l1::Deployment,
) -> Vec<String> {
    vec![
        "--l2-rpc".into(),
        l2_rpc.into(),
        "--l1-rpc".into(),
        l1_url.into(),
        "--inbox".into(),
        deployment.batch_inbox.to_string(),
        "--l1-key".into(),
        alloy_primitives::hex::encode(dev_key(1)),
        "--l1-start-block".into(),
        deployment.start_block.to_string(),
        "--poll-ms".into(),
        "200".into(),
    ]
}

/// `straddle proposer` against the node at `l2_rpc`, proposing to `deployment`'s
/// registry every second with dev account 0's key, with `extra` arguments.
pub fn start_proposer(
    l2_rpc: &str,
    l1_url: &str,
    deployment: &straddle_l1::Deployment,
    extra: &[String],
    log: &Path,
) -> ServiceProcess {
    let mut args: Vec<String> = vec![
        "--l2-rpc".into(),
        l2_rpc.into(),
        "--l1-rpc".into(),
        l1_url.into(),
        "--registry".into(),
        deployment.output_registry.to_string(),
        "--l1-key".into(),
        alloy_primitives::hex::encode(dev_key(0)),
        "--interval-secs".into(),
        "1".into(),
    ];
    args.extend_from_slice(extra);
    ServiceProcess::start("proposer", &args, log)
}

/// Runs `straddle withdraw finalize` for withdrawal `index` against the node at `l2_rpc`,
/// relayed by dev account 5, waiting up to `wait_secs` for a final output.
pub fn finalize_withdrawal(
    l2_rpc: &str,
    l1_url: &str,
    deployment: &straddle_l1::Deployment,
    index: u64,
    wait_secs: &str,
) -> std::process::Output {
    Command::new(BINARY)
        .args(["--rpc", l2_rpc, "withdraw", "finalize"])
        .args(["--index", &index.to_string(), "--l1-rpc", l1_url])
        .args(["--portal", &deployment.portal.to_string()])
        .args(["--registry", &deployment.output_registry.to_string()])
        .args(["--l1-key", &alloy_primitives::hex::encode(dev_key(5))])
        .args(["--wait-secs", wait_secs])
        .output()
        .expect("run straddle")
}
