//! What derivation reads from L1 (`docs/spec/batches.md` §6): block numbers, hashes and
//! times, the inbox's batches and their bytes, the Portal's deposits and forced records.
//! A trait, so derivation runs over anvil through [`L1Client`] or over any other source
//! of the same facts.

use alloy_primitives::{Address, B256, Bytes};
use std::future::Future;
use straddle_l1::deposits::DepositLog;
use straddle_l1::forced::ForcedLog;
use straddle_l1::{BatchLog, L1Client, L1Error};

/// The L1 reads derivation makes.
pub trait L1Reader: Clone + Send + Sync + 'static {
    /// The latest block number.
    fn block_number(&self) -> impl Future<Output = Result<u64, L1Error>> + Send;
    /// The `finalized` block number.
    fn finalized_block_number(&self) -> impl Future<Output = Result<u64, L1Error>> + Send;
    /// Block `number`'s hash, if the block exists.
    fn block_hash(&self, number: u64)
    -> impl Future<Output = Result<Option<B256>, L1Error>> + Send;
    /// Block `number`'s time, unix seconds.
    fn block_timestamp(&self, number: u64) -> impl Future<Output = Result<u64, L1Error>> + Send;
    /// The Portal's forced-inclusion window, L1 blocks.
    fn forced_inclusion_window(
        &self,
        portal: Address,
    ) -> impl Future<Output = Result<u64, L1Error>> + Send;
    /// The batches `inbox` logged in blocks `from..=to`.
    fn batches_between(
        &self,
        inbox: Address,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<BatchLog>, L1Error>> + Send;
    /// The deposits `portal` logged in blocks `from..=to`.
    fn deposits_between(
        &self,
        portal: Address,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<DepositLog>, L1Error>> + Send;
    /// The forced transactions `portal` logged in blocks `from..=to`.
    fn forced_between(
        &self,
        portal: Address,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<ForcedLog>, L1Error>> + Send;
    /// A batch's bytes, checked against its commitment.
    fn batch_bytes(&self, batch: &BatchLog) -> impl Future<Output = Result<Bytes, L1Error>> + Send;
}

impl L1Reader for L1Client {
    async fn block_number(&self) -> Result<u64, L1Error> {
        L1Client::block_number(self).await
    }

    async fn finalized_block_number(&self) -> Result<u64, L1Error> {
        L1Client::finalized_block_number(self).await
    }

    async fn block_hash(&self, number: u64) -> Result<Option<B256>, L1Error> {
        L1Client::block_hash(self, number).await
    }

    async fn block_timestamp(&self, number: u64) -> Result<u64, L1Error> {
        L1Client::block_timestamp(self, number).await
    }

    async fn forced_inclusion_window(&self, portal: Address) -> Result<u64, L1Error> {
        L1Client::forced_inclusion_window(self, portal).await
    }

    async fn batches_between(
        &self,
        inbox: Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<BatchLog>, L1Error> {
        straddle_l1::batches_between(self, inbox, from, to).await
    }

    async fn deposits_between(
        &self,
        portal: Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<DepositLog>, L1Error> {
        straddle_l1::deposits_between(self, portal, from, to).await
    }

    async fn forced_between(
        &self,
        portal: Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<ForcedLog>, L1Error> {
        straddle_l1::forced_between(self, portal, from, to).await
    }

    async fn batch_bytes(&self, batch: &BatchLog) -> Result<Bytes, L1Error> {
        straddle_l1::batch_bytes(self, batch).await
    }
}
