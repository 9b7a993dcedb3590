//! A simulated L1 the test mines, reorgs and finalizes: blocks holding batch postings,
//! read by derivation through the real `L1Reader` trait.

use alloy_primitives::{Address, B256, Bytes, keccak256};
use std::sync::{Arc, Mutex};
use straddle_derive::L1Reader;
use straddle_l1::L1Error;
use straddle_l1::batches::{BatchKind, BatchLog};
use straddle_l1::deposits::DepositLog;
use straddle_l1::forced::ForcedLog;

/// The inbox address batches are read from.
pub const INBOX: Address = Address::repeat_byte(0x1b);
/// The portal address (no deposits or forced transactions in the simulation).
pub const PORTAL: Address = Address::repeat_byte(0x90);

/// One L1 block: its hash, time and the batches posted in it.
#[derive(Clone)]
pub struct L1Block {
    /// Its hash.
    pub hash: B256,
    /// Its time, unix seconds.
    pub timestamp: u64,
    /// The batches posted in it, with their bytes.
    pub batches: Vec<(BatchLog, Bytes)>,
}

struct L1State {
    blocks: Vec<L1Block>,
    finalized: u64,
    /// Makes a re-mined block's hash differ from the one it replaces.
    forks: u64,
}

/// An L1 whose blocks the test mines, reorgs and finalizes.
#[derive(Clone)]
pub struct SimL1(Arc<Mutex<L1State>>);

impl Default for SimL1 {
    fn default() -> SimL1 {
        SimL1::new()
    }
}

impl SimL1 {
    /// An L1 holding only its genesis block.
    pub fn new() -> SimL1 {
        let genesis = L1Block {
            hash: keccak256(b"l1 genesis"),
            timestamp: 1_000,
            batches: Vec::new(),
        };
        SimL1(Arc::new(Mutex::new(L1State {
            blocks: vec![genesis],
            finalized: 0,
            forks: 0,
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, L1State> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Mines a block holding `postings`, in order.
    pub fn mine(&self, postings: Vec<Vec<u8>>) {
        let mut state = self.state();
        let number = state.blocks.len() as u64;
        let count: u64 = state.blocks.iter().map(|b| b.batches.len() as u64).sum();
        let hash = keccak256([number.to_be_bytes(), state.forks.to_be_bytes()].concat());
        let timestamp = state.blocks[number as usize - 1].timestamp + 12;
        let batches = postings
            .into_iter()
            .enumerate()
            .map(|(k, bytes)| {
                let log = BatchLog {
                    index: count + k as u64,
                    kind: BatchKind::Calldata,
                    commitment: keccak256(&bytes),
                    blob_count: 0,
                    accumulator: B256::ZERO,
                    l1_block: number,
                    l1_block_hash: hash,
                    tx_hash: keccak256([hash.as_slice(), &(k as u64).to_be_bytes()].concat()),
                };
                (log, Bytes::from(bytes))
            })
            .collect();
        state.blocks.push(L1Block {
            hash,
            timestamp,
            batches,
        });
    }

    /// Drops the newest `depth` blocks above the finalized one.
    pub fn reorg(&self, depth: usize) {
        let mut state = self.state();
        let keep = state
            .blocks
            .len()
            .saturating_sub(depth)
            .max(state.finalized as usize + 1);
        state.blocks.truncate(keep);
        state.forks += 1;
    }

    /// Finalizes up to `lag` blocks below the head.
    pub fn finalize(&self, lag: u64) {
        let mut state = self.state();
        let head = state.blocks.len() as u64 - 1;
        state.finalized = state.finalized.max(head.saturating_sub(lag));
    }

    /// The newest block's number.
    pub fn head(&self) -> u64 {
        self.state().blocks.len() as u64 - 1
    }

    /// Every posting on L1 now, in order.
    pub fn postings(&self) -> Vec<Bytes> {
        let state = self.state();
        state
            .blocks
            .iter()
            .flat_map(|b| b.batches.iter().map(|(_, bytes)| bytes.clone()))
            .collect()
    }
}

impl L1Reader for SimL1 {
    async fn block_number(&self) -> Result<u64, L1Error> {
        Ok(self.head())
    }

    async fn finalized_block_number(&self) -> Result<u64, L1Error> {
        Ok(self.state().finalized)
    }

    async fn block_hash(&self, number: u64) -> Result<Option<B256>, L1Error> {
        Ok(self.state().blocks.get(number as usize).map(|b| b.hash))
    }

    async fn block_timestamp(&self, number: u64) -> Result<u64, L1Error> {
        self.state()
            .blocks
            .get(number as usize)
            .map(|b| b.timestamp)
            .ok_or_else(|| L1Error::Rpc(format!("no L1 block {number}")))
    }

    async fn forced_inclusion_window(&self, _portal: Address) -> Result<u64, L1Error> {
        Ok(10)
    }

    async fn batches_between(
        &self,
        _inbox: Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<BatchLog>, L1Error> {
        let state = self.state();
        Ok(state
            .blocks
            .iter()
            .skip(from as usize)
            .take((to + 1).saturating_sub(from) as usize)
            .flat_map(|b| b.batches.iter().map(|(log, _)| *log))
            .collect())
    }

    async fn deposits_between(
        &self,
        _: Address,
        _: u64,
        _: u64,
    ) -> Result<Vec<DepositLog>, L1Error> {
        Ok(Vec::new())
    }

    async fn forced_between(&self, _: Address, _: u64, _: u64) -> Result<Vec<ForcedLog>, L1Error> {
        Ok(Vec::new())
    }

    async fn batch_bytes(&self, batch: &BatchLog) -> Result<Bytes, L1Error> {
        let state = self.state();
        state
            .blocks
            .get(batch.l1_block as usize)
            .and_then(|b| {
                b.batches
                    .iter()
                    .find(|(log, _)| log.tx_hash == batch.tx_hash)
            })
            .map(|(_, bytes)| bytes.clone())
            .ok_or_else(|| L1Error::Rpc("the posting is gone (reorg)".into()))
    }
}
