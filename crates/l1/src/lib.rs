//! Straddle's L1 client: one signer on one L1 RPC endpoint. It deploys the contracts,
//! makes and reads deposits, and (in the batcher, proposer and withdrawal modules that
//! build on it) posts batches, proposes outputs and finalizes withdrawals. Every call
//! waits for its receipt and turns a revert into [`L1Error::Reverted`].

pub mod anvil;
pub mod batches;
pub mod beacon;
pub mod blobs;
pub mod deploy;
pub mod deposits;
pub mod disputes;
pub mod forced;
pub mod opening;
pub mod outputs;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;

pub use alloy;
pub use anvil::Anvil;
pub use batches::{
    BatchKind, BatchLog, PostReceipt, batch_bytes, batch_log, batches_between, calldata_batch,
};
pub use blobs::SidecarKind;
pub use deploy::{DeployConfig, Deployment, OracleProverConfig};
pub use deposits::{DepositLog, deposits_between};
pub use forced::{ForcedLog, forced_between};
pub use outputs::{Output, WithdrawalClaim};

/// Most L1 blocks asked for in one `eth_getLogs` (what public endpoints allow).
pub const LOG_RANGE_MAX: u64 = 5_000;

/// Why an L1 operation failed.
#[derive(Debug, thiserror::Error)]
pub enum L1Error {
    /// The endpoint is not a URL.
    #[error("invalid L1 RPC URL {url:?}: {reason}")]
    InvalidUrl {
        /// As given.
        url: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The RPC call failed (connection refused, node error, timeout).
    #[error("L1 RPC: {0}")]
    Rpc(String),
    /// The transaction was mined but reverted.
    #[error("L1 transaction {tx} reverted ({what})")]
    Reverted {
        /// Its hash.
        tx: B256,
        /// What it was for.
        what: &'static str,
    },
    /// A contract returned or logged bytes that do not decode as its ABI says.
    #[error("L1 data does not decode: {0}")]
    Decode(String),
    /// A blob does not hold a batch, or does not match its versioned hash.
    #[error("blob: {0}")]
    Blob(String),
    /// A deployment produced no contract address.
    #[error("deployment of {0} returned no contract address")]
    NoContractAddress(&'static str),
}

impl L1Error {
    pub(crate) fn rpc(error: impl std::fmt::Display) -> L1Error {
        L1Error::Rpc(error.to_string())
    }
}

/// A contract's `uint256` that Straddle counts in 64 bits (indices, counts).
pub(crate) fn u64_of(value: U256, what: &str) -> Result<u64, L1Error> {
    u64::try_from(value).map_err(|_| L1Error::Decode(format!("{what} above 64 bits")))
}

/// The `E` events `address` logged in L1 blocks `from..=to`, in log order, each with
/// its L1 block number.
pub(crate) async fn event_logs<E: alloy::sol_types::SolEvent>(
    client: &L1Client,
    address: Address,
    from: u64,
    to: u64,
) -> Result<Vec<(E, u64)>, L1Error> {
    let mut events = Vec::new();
    for (start, end) in log_ranges(from, to) {
        let filter = alloy::rpc::types::Filter::new()
            .address(address)
            .event_signature(E::SIGNATURE_HASH)
            .from_block(start)
            .to_block(end);
        let logs = client
            .provider
            .get_logs(&filter)
            .await
            .map_err(L1Error::rpc)?;
        for log in &logs {
            let event =
                E::decode_log_data(log.data()).map_err(|e| L1Error::Decode(e.to_string()))?;
            let block = log
                .block_number
                .ok_or_else(|| L1Error::Decode(format!("{} log without a block", E::SIGNATURE)))?;
            events.push((event, block));
        }
    }
    Ok(events)
}

/// `from..=to` cut into consecutive ranges of at most [`LOG_RANGE_MAX`] blocks, in order
/// (public endpoints refuse `eth_getLogs` over longer ones).
pub fn log_ranges(from: u64, to: u64) -> impl Iterator<Item = (u64, u64)> {
    let mut next = (from <= to).then_some(from);
    std::iter::from_fn(move || {
        let start = next?;
        let end = to.min(start.saturating_add(LOG_RANGE_MAX - 1));
        next = (end < to).then(|| end + 1);
        Some((start, end))
    })
}

/// The first `E` event among `receipt`'s logs.
pub(crate) fn receipt_event<E: alloy::sol_types::SolEvent>(
    receipt: &TransactionReceipt,
) -> Result<E, L1Error> {
    receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| E::decode_log_data(log.data()).ok())
        .ok_or_else(|| {
            L1Error::Decode(format!(
                "receipt {} has no {} event",
                receipt.transaction_hash,
                E::SIGNATURE
            ))
        })
}

/// A connection to an L1 node with one local signer.
#[derive(Clone, Debug)]
pub struct L1Client {
    provider: DynProvider,
    signer: Address,
    /// Where blobs come from when set (a consensus client's beacon API); else the L1
    /// node's `anvil_getBlobByHash` (the devnet).
    beacon: Option<std::sync::Arc<beacon::BeaconApi>>,
}

impl L1Client {
    /// Connects to `url` (HTTP) signing with `key`.
    pub fn connect(url: &str, key: PrivateKeySigner) -> Result<L1Client, L1Error> {
        let parsed = url.parse().map_err(|e| L1Error::InvalidUrl {
            url: url.into(),
            reason: format!("{e}"),
        })?;
        let signer = key.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(key))
            .connect_http(parsed)
            .erased();
        Ok(L1Client {
            provider,
            signer,
            beacon: None,
        })
    }

    /// Reads blobs from the beacon API at `url` (a consensus client's, on a public
    /// network) instead of the L1 node's `anvil_getBlobByHash`; `None` keeps the latter.
    pub fn with_beacon_api(mut self, url: Option<&str>) -> Result<L1Client, L1Error> {
        self.beacon = url
            .map(beacon::BeaconApi::new)
            .transpose()?
            .map(std::sync::Arc::new);
        Ok(self)
    }

    /// Connects to `url` (HTTP) for reads only: sending fails with an RPC error.
    pub fn read_only(url: &str) -> Result<L1Client, L1Error> {
        let parsed = url.parse().map_err(|e| L1Error::InvalidUrl {
            url: url.into(),
            reason: format!("{e}"),
        })?;
        let provider = ProviderBuilder::new().connect_http(parsed).erased();
        Ok(L1Client {
            provider,
            signer: Address::ZERO,
            beacon: None,
        })
    }

    /// The signer's address.
    pub fn address(&self) -> Address {
        self.signer
    }

    /// The provider (for reads and for callers that build their own transactions).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The beacon API blobs are read from, if set.
    pub fn beacon(&self) -> Option<&beacon::BeaconApi> {
        self.beacon.as_deref()
    }

    /// The latest L1 block number.
    pub async fn block_number(&self) -> Result<u64, L1Error> {
        self.provider.get_block_number().await.map_err(L1Error::rpc)
    }

    /// The hash of L1 block `number` on the current chain (`None` above the head).
    pub async fn block_hash(&self, number: u64) -> Result<Option<B256>, L1Error> {
        let block = self
            .provider
            .get_block_by_number(number.into())
            .await
            .map_err(L1Error::rpc)?;
        Ok(block.map(|b| b.header.hash))
    }

    /// The timestamp of L1 block `number`, unix seconds.
    pub async fn block_timestamp(&self, number: u64) -> Result<u64, L1Error> {
        let block = self
            .provider
            .get_block_by_number(number.into())
            .await
            .map_err(L1Error::rpc)?
            .ok_or_else(|| L1Error::Rpc(format!("L1 block {number} not found")))?;
        Ok(block.header.timestamp)
    }

    /// The number of the latest finalized L1 block (0 when the node reports none).
    pub async fn finalized_block_number(&self) -> Result<u64, L1Error> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Finalized)
            .await
            .map_err(L1Error::rpc)?;
        Ok(block.map_or(0, |b| b.header.number))
    }

    /// Sends `request` from the signer and waits for its receipt; a revert is an error.
    pub async fn send(
        &self,
        request: TransactionRequest,
        what: &'static str,
    ) -> Result<TransactionReceipt, L1Error> {
        // The nonce is read for every transaction (not cached): after an L1 reorg drops
        // one of ours, the next must reuse its nonce.
        let nonce = self
            .provider
            .get_transaction_count(self.signer)
            .pending()
            .await
            .map_err(L1Error::rpc)?;
        let mut request = request.with_from(self.signer).with_nonce(nonce);
        if request.gas.is_none() {
            request = self.with_gas_limit(request).await?;
        }
        let pending = self
            .provider
            .send_transaction(request)
            .await
            .map_err(L1Error::rpc)?;
        succeeded(pending.get_receipt().await.map_err(L1Error::rpc)?, what)
    }

    /// `request` with its gas limit: the estimate plus a margin. The estimate runs against
    /// the latest block; the transaction runs in a later one, where a time-dependent
    /// branch (a dispute clock being charged) may write storage the estimate did not.
    async fn with_gas_limit(
        &self,
        request: TransactionRequest,
    ) -> Result<TransactionRequest, L1Error> {
        let estimate = self
            .provider
            .estimate_gas(request.clone())
            .await
            .map_err(L1Error::rpc)?;
        Ok(request.with_gas_limit(estimate + estimate / 4 + 20_000))
    }

    /// Sends `calls` from the signer back to back, each with the next nonce, without
    /// waiting for one to be mined before sending the next, then waits for all their
    /// receipts: many independent moves (dispute games, say) land in the same blocks
    /// instead of one per block. Results are in the order of `calls`; a call whose gas
    /// estimate fails (it would revert now) is not sent and takes no nonce.
    pub async fn transact_all(
        &self,
        calls: Vec<Outgoing>,
    ) -> Vec<Result<TransactionReceipt, L1Error>> {
        let mut results: Vec<Option<Result<TransactionReceipt, L1Error>>> =
            (0..calls.len()).map(|_| None).collect();
        let mut nonce = match self
            .provider
            .get_transaction_count(self.signer)
            .pending()
            .await
        {
            Ok(nonce) => nonce,
            Err(error) => {
                let error = L1Error::rpc(error).to_string();
                return calls
                    .iter()
                    .map(|_| Err(L1Error::Rpc(error.clone())))
                    .collect();
            }
        };
        let mut sent = Vec::new();
        for (slot, call) in calls.into_iter().enumerate() {
            let what = call.what;
            // Estimated without the nonce: later nonces than the account's are not
            // executable yet.
            let request = match self
                .with_gas_limit(call.request().with_from(self.signer))
                .await
            {
                Ok(request) => request.with_nonce(nonce),
                Err(error) => {
                    results[slot] = Some(Err(error));
                    continue;
                }
            };
            match self.provider.send_transaction(request).await {
                Ok(pending) => {
                    nonce += 1;
                    sent.push((slot, what, pending));
                }
                Err(error) => results[slot] = Some(Err(L1Error::rpc(error))),
            }
        }
        let mut receipts = tokio::task::JoinSet::new();
        for (slot, what, pending) in sent {
            receipts.spawn(async move {
                let receipt = pending.get_receipt().await.map_err(L1Error::rpc);
                (slot, receipt.and_then(|receipt| succeeded(receipt, what)))
            });
        }
        while let Some(joined) = receipts.join_next().await {
            match joined {
                Ok((slot, receipt)) => results[slot] = Some(receipt),
                Err(error) => tracing::error!(%error, "a receipt task failed"),
            }
        }
        results
            .into_iter()
            .map(|result| result.unwrap_or_else(|| Err(L1Error::Rpc("not sent".into()))))
            .collect()
    }

    /// `(base fee per gas, blob base fee per blob gas)` for the next block, wei.
    pub async fn fees(&self) -> Result<(u128, u128), L1Error> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(L1Error::rpc)?
            .ok_or_else(|| L1Error::Rpc("no latest block".into()))?;
        let base_fee = u128::from(block.header.base_fee_per_gas.unwrap_or_default());
        let blob_base_fee = self
            .provider
            .get_blob_base_fee()
            .await
            .map_err(L1Error::rpc)?;
        Ok((base_fee, blob_base_fee))
    }

    /// Calls `call` on `to` in a transaction (with `value` wei) and waits for its receipt.
    pub async fn transact<C: SolCall>(
        &self,
        to: Address,
        call: &C,
        value: U256,
        what: &'static str,
    ) -> Result<TransactionReceipt, L1Error> {
        self.send(Outgoing::call(to, call, value, what).request(), what)
            .await
    }

    /// Calls the view `call` on `to` and decodes its return value.
    pub async fn view<C: SolCall>(&self, to: Address, call: &C) -> Result<C::Return, L1Error> {
        let request = TransactionRequest::default()
            .with_to(to)
            .with_input(Bytes::from(call.abi_encode()));
        let output = self.provider.call(request).await.map_err(L1Error::rpc)?;
        C::abi_decode_returns(&output).map_err(|e| L1Error::Decode(e.to_string()))
    }
}

/// A contract call for [`L1Client::transact_all`].
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// The contract.
    pub to: Address,
    /// The ABI-encoded call.
    pub input: Bytes,
    /// Wei sent with it.
    pub value: U256,
    /// What it does, for errors.
    pub what: &'static str,
}

/// `receipt`, or the revert of the transaction that does `what`.
fn succeeded(
    receipt: TransactionReceipt,
    what: &'static str,
) -> Result<TransactionReceipt, L1Error> {
    if receipt.status() {
        Ok(receipt)
    } else {
        Err(L1Error::Reverted {
            tx: receipt.transaction_hash,
            what,
        })
    }
}

impl Outgoing {
    /// The transaction request that makes the call.
    pub fn request(self) -> TransactionRequest {
        TransactionRequest::default()
            .with_to(self.to)
            .with_input(self.input)
            .with_value(self.value)
    }

    /// `call` on `to` with `value` wei.
    pub fn call<C: SolCall>(to: Address, call: &C, value: U256, what: &'static str) -> Outgoing {
        Outgoing {
            to,
            input: Bytes::from(call.abi_encode()),
            value,
            what,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{LOG_RANGE_MAX, log_ranges};

    #[test]
    fn log_ranges_cover_the_blocks_once_in_order_and_within_the_limit() {
        for (from, to) in [
            (0, 0),
            (5, 4),
            (0, LOG_RANGE_MAX - 1),
            (0, LOG_RANGE_MAX),
            (7, 3 * LOG_RANGE_MAX + 2),
            (u64::MAX - LOG_RANGE_MAX - 3, u64::MAX),
        ] {
            let ranges: Vec<(u64, u64)> = log_ranges(from, to).collect();
            let mut expected = from;
            for &(start, end) in &ranges {
                assert_eq!(start, expected, "{from}..={to}: contiguous");
                assert!(start <= end && end - start < LOG_RANGE_MAX, "{from}..={to}");
                expected = end.wrapping_add(1);
            }
            if from <= to {
                assert_eq!(
                    ranges.last().map(|r| r.1),
                    Some(to),
                    "{from}..={to}: to the end"
                );
            } else {
                assert!(ranges.is_empty());
            }
        }
    }
}
