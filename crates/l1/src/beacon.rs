//! Blobs from a consensus client's standard beacon API, for reading blob batches on a
//! public network, where the execution node keeps no blobs: `GET
//! /eth/v1/beacon/blob_sidecars/{slot}` for the slot of the batch's L1 block, the slot
//! found from `GET /eth/v1/beacon/genesis` (`genesis_time`) and `GET
//! /eth/v1/config/spec` (`SECONDS_PER_SLOT`). A sidecar is picked by the versioned hash
//! of its KZG commitment; what the API serves is not trusted: the caller recomputes each
//! blob's commitment and checks it against the versioned hash the batch's transaction
//! names (`batches::blob_batch`).

use crate::L1Error;
use crate::blobs;
use alloy::eips::eip4844::Blob;
use alloy::eips::eip4844::kzg_to_versioned_hash;
use alloy::primitives::{B256, hex};
use serde::Deserialize;
use tokio::sync::OnceCell;

/// A consensus client's beacon API.
#[derive(Debug)]
pub struct BeaconApi {
    url: String,
    http: reqwest::Client,
    /// `(genesis_time, SECONDS_PER_SLOT)`, read once.
    timing: OnceCell<(u64, u64)>,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct Genesis {
    genesis_time: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct Spec {
    seconds_per_slot: String,
}

#[derive(Deserialize)]
struct Sidecar {
    blob: String,
    kzg_commitment: String,
}

fn number(text: &str, what: &str) -> Result<u64, L1Error> {
    text.parse()
        .map_err(|_| L1Error::Rpc(format!("beacon API: {what} {text:?} is not a number")))
}

fn bytes(text: &str, what: &str) -> Result<Vec<u8>, L1Error> {
    hex::decode(text).map_err(|e| L1Error::Rpc(format!("beacon API: {what} is not hex: {e}")))
}

impl BeaconApi {
    /// The beacon API at `url` (`http://host:5052`).
    pub fn new(url: &str) -> Result<BeaconApi, L1Error> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| L1Error::Rpc(format!("beacon API client: {e}")))?;
        Ok(BeaconApi {
            url: url.trim_end_matches('/').to_string(),
            http,
            timing: OnceCell::new(),
        })
    }

    async fn get<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, L1Error> {
        let url = format!("{}{path}", self.url);
        let response = self
            .http
            .get(&url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| L1Error::Rpc(format!("beacon API {url}: {e}")))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| L1Error::Rpc(format!("beacon API {url}: {e}")))?;
        if !status.is_success() {
            return Err(L1Error::Rpc(format!("beacon API {url}: {status}: {body}")));
        }
        serde_json::from_str::<Data<T>>(&body)
            .map(|data| data.data)
            .map_err(|e| L1Error::Rpc(format!("beacon API {url}: unexpected response: {e}")))
    }

    async fn timing(&self) -> Result<(u64, u64), L1Error> {
        self.timing
            .get_or_try_init(|| async {
                let genesis: Genesis = self.get("/eth/v1/beacon/genesis").await?;
                let spec: Spec = self.get("/eth/v1/config/spec").await?;
                let seconds = number(&spec.seconds_per_slot, "SECONDS_PER_SLOT")?;
                if seconds == 0 {
                    return Err(L1Error::Rpc("beacon API: SECONDS_PER_SLOT is 0".into()));
                }
                Ok((number(&genesis.genesis_time, "genesis_time")?, seconds))
            })
            .await
            .copied()
    }

    /// The slot of the L1 block made at `timestamp` (unix seconds).
    pub async fn slot_at(&self, timestamp: u64) -> Result<u64, L1Error> {
        let (genesis, seconds) = self.timing().await?;
        let since = timestamp.checked_sub(genesis).ok_or_else(|| {
            L1Error::Rpc(format!(
                "beacon API: L1 block time {timestamp} is before genesis {genesis}"
            ))
        })?;
        Ok(since / seconds)
    }

    /// The blobs with versioned hashes `hashes`, in that order, from the sidecars of the L1
    /// block made at `timestamp`. Not yet checked against the hashes beyond the served
    /// commitments: the caller recomputes them.
    pub async fn blobs(&self, timestamp: u64, hashes: &[B256]) -> Result<Vec<Blob>, L1Error> {
        let slot = self.slot_at(timestamp).await?;
        let sidecars: Vec<Sidecar> = self
            .get(&format!("/eth/v1/beacon/blob_sidecars/{slot}"))
            .await?;
        let mut by_hash = Vec::with_capacity(sidecars.len());
        for sidecar in &sidecars {
            let commitment = bytes(&sidecar.kzg_commitment, "a KZG commitment")?;
            by_hash.push((kzg_to_versioned_hash(&commitment), &sidecar.blob));
        }
        // Pushed one by one: a blob is 128 KiB, too large to pass around by value.
        let mut found = Vec::with_capacity(hashes.len());
        for hash in hashes {
            let (_, blob) = by_hash
                .iter()
                .find(|(served, _)| served == hash)
                .ok_or_else(|| {
                    L1Error::Rpc(format!(
                        "beacon API: slot {slot} has no blob sidecar for {hash}"
                    ))
                })?;
            found.push(blobs::blob_from_bytes(&bytes(blob, "a blob")?)?);
        }
        Ok(found)
    }
}
