//! Blob batches read through the standard beacon API, as on a public network: a local
//! server answers `GET /eth/v1/beacon/genesis`, `/eth/v1/config/spec` and
//! `/eth/v1/beacon/blob_sidecars/{slot}` in the standard response format (one slot per
//! anvil block, a second each), serving the blobs anvil keeps with their KZG commitments
//! and proofs. The client reads a two-blob batch through it and gets the posted bytes; a
//! server that serves a changed blob (with the changed blob's commitment, or under the
//! real one), or none, makes the read fail instead of returning other bytes.

mod common;

use std::sync::Arc;
use straddle_l1::alloy::consensus::Transaction as _;
use straddle_l1::alloy::eips::eip4844::c_kzg;
use straddle_l1::alloy::primitives::{Bytes, hex};
use straddle_l1::alloy::providers::Provider;
use straddle_l1::alloy::signers::local::PrivateKeySigner;
use straddle_l1::{BatchKind, L1Client, batch_bytes, batches_between};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY_0: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// How the test server answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Serving {
    /// The blobs as anvil keeps them.
    Honest,
    /// Each blob with one byte changed, and the commitment and proof of the changed blob.
    Changed,
    /// Each blob with one byte changed, under the commitment and proof of the real one.
    ChangedUnderTheRealCommitment,
    /// No sidecars.
    Nothing,
}

struct BeaconServer {
    l1: L1Client,
    genesis_time: u64,
    serving: Serving,
}

impl BeaconServer {
    async fn respond(&self, path: &str) -> (u16, String) {
        match path {
            "/eth/v1/beacon/genesis" => (
                200,
                format!(
                    r#"{{"data":{{"genesis_time":"{}","genesis_validators_root":"0x{}","genesis_fork_version":"0x00000000"}}}}"#,
                    self.genesis_time,
                    hex::encode([0u8; 32])
                ),
            ),
            "/eth/v1/config/spec" => (200, r#"{"data":{"SECONDS_PER_SLOT":"1"}}"#.into()),
            _ => match path.strip_prefix("/eth/v1/beacon/blob_sidecars/") {
                Some(slot) => match slot.parse::<u64>() {
                    Ok(slot) => (200, self.sidecars(slot).await),
                    Err(_) => (400, r#"{"code":400,"message":"bad block id"}"#.into()),
                },
                None => (404, r#"{"code":404,"message":"not found"}"#.into()),
            },
        }
    }

    /// The sidecars of the blobs in the anvil block made `slot` seconds after genesis.
    async fn sidecars(&self, slot: u64) -> String {
        let provider = self.l1.provider();
        let head = provider.get_block_number().await.unwrap();
        let mut sidecars = Vec::new();
        for number in 0..=head {
            let block = provider
                .get_block_by_number(number.into())
                .full()
                .await
                .unwrap()
                .unwrap();
            if block.header.timestamp != self.genesis_time + slot
                || self.serving == Serving::Nothing
            {
                continue;
            }
            for tx in block.transactions.txns() {
                for hash in tx.blob_versioned_hashes().unwrap_or_default() {
                    let blob: Bytes = provider
                        .raw_request("anvil_getBlobByHash".into(), (hash,))
                        .await
                        .unwrap();
                    sidecars.push(self.sidecar(sidecars.len(), slot, blob.to_vec()));
                }
            }
        }
        format!(r#"{{"data":[{}]}}"#, sidecars.join(","))
    }

    fn sidecar(&self, index: usize, slot: u64, mut blob: Vec<u8>) -> String {
        // A field element's low byte: still a valid blob.
        let change = |blob: &mut Vec<u8>| blob[31 * 7 + 20] ^= 1;
        let (commitment, proof) = match self.serving {
            Serving::Changed => {
                change(&mut blob);
                commit(blob.clone())
            }
            Serving::ChangedUnderTheRealCommitment => {
                let real = commit(blob.clone());
                change(&mut blob);
                real
            }
            Serving::Honest | Serving::Nothing => commit(blob.clone()),
        };
        let zero = format!("0x{}", hex::encode([0u8; 32]));
        format!(
            r#"{{"index":"{index}","blob":"0x{}","kzg_commitment":"0x{}","kzg_proof":"0x{}","signed_block_header":{{"message":{{"slot":"{slot}","proposer_index":"0","parent_root":"{zero}","state_root":"{zero}","body_root":"{zero}"}},"signature":"0x{}"}},"kzg_commitment_inclusion_proof":[]}}"#,
            hex::encode(&blob),
            hex::encode(commitment),
            hex::encode(proof),
            hex::encode([0u8; 96]),
        )
    }
}

/// The KZG commitment and proof of `blob`, on a thread with room for the 128 KiB blob
/// the KZG library takes by value.
fn commit(blob: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(move || {
            let settings = c_kzg::ethereum_kzg_settings(0);
            let kzg_blob = c_kzg::Blob::from_bytes(&blob).unwrap();
            let commitment = settings.blob_to_kzg_commitment(&kzg_blob).unwrap();
            let proof = settings
                .compute_blob_kzg_proof(&kzg_blob, &commitment.to_bytes())
                .unwrap();
            (
                commitment.to_bytes().as_slice().to_vec(),
                proof.to_bytes().as_slice().to_vec(),
            )
        })
        .unwrap()
        .join()
        .unwrap()
}

/// Serves `server` over HTTP/1.1 on a free local port; returns its URL.
async fn serve(server: BeaconServer) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = Arc::new(server);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let server = server.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (status, body) = server.respond(&path).await;
                let response = format!(
                    "HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_batch_is_read_through_the_standard_beacon_api_and_checked_against_its_hashes() {
    let anvil = common::anvil_with(&["--block-time", "1"]);
    let key: PrivateKeySigner = KEY_0.parse().unwrap();
    let batcher = L1Client::connect(&anvil.url(), key).unwrap();
    let deployment = batcher
        .deploy_devnet(&common::posting_config(batcher.address()))
        .await
        .unwrap();
    // Two blobs' worth, so that the packing crosses a blob boundary.
    let data: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
    let kind = batcher.sidecar_kind().await.unwrap();
    batcher
        .post_blobs(deployment.batch_inbox, &data, kind)
        .await
        .unwrap();
    let head = batcher.block_number().await.unwrap();
    let logs = batches_between(&batcher, deployment.batch_inbox, 0, head)
        .await
        .unwrap();
    assert_eq!(
        (logs.len(), logs[0].kind, logs[0].blob_count),
        (1, BatchKind::Blobs, 2)
    );
    let genesis_time = batcher.block_timestamp(0).await.unwrap();

    let reader = |serving: Serving| {
        let anvil_url = anvil.url();
        async move {
            let server = BeaconServer {
                l1: L1Client::read_only(&anvil_url).unwrap(),
                genesis_time,
                serving,
            };
            let beacon = serve(server).await;
            L1Client::read_only(&anvil_url)
                .unwrap()
                .with_beacon_api(Some(&beacon))
                .unwrap()
        }
    };
    let honest = reader(Serving::Honest).await;
    let read = batch_bytes(&honest, &logs[0]).await.unwrap();
    assert_eq!(
        read.as_ref(),
        data.as_slice(),
        "the posted bytes, from the beacon API"
    );

    let changed = batch_bytes(&reader(Serving::Changed).await, &logs[0]).await;
    let error = changed.expect_err("a changed blob is refused").to_string();
    assert!(error.contains("no blob sidecar"), "{error}");

    let forged = batch_bytes(
        &reader(Serving::ChangedUnderTheRealCommitment).await,
        &logs[0],
    )
    .await;
    let error = forged
        .expect_err("a blob that is not its commitment's is refused")
        .to_string();
    assert!(error.contains("does not match"), "{error}");

    let missing = batch_bytes(&reader(Serving::Nothing).await, &logs[0]).await;
    let error = missing.expect_err("no sidecar, no bytes").to_string();
    assert!(error.contains("no blob sidecar"), "{error}");
}
