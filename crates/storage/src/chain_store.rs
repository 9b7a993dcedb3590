//! Persistent chain data in the same redb file as the state leaves: headers, block
//! bodies, the transaction index and the chain head. One redb transaction per block makes
//! a block's state and chain data land together or not at all.

use crate::leaves::{Store, StoreError};
use alloy_primitives::B256;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use straddle_primitives::Transaction;
use straddle_primitives::block::{BlockHeader, BlockSource, StoredTx};
use straddle_primitives::codec::{DecodeError, Reader, Writer};
use straddle_state::LeafChange;

/// number → header ‖ tx count (u32) ‖ per tx: sender (20) ‖ len (u16) ‖ canonical bytes.
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// block hash → number.
const BLOCK_NUMBERS: TableDefinition<&[u8], u64> = TableDefinition::new("block_numbers");
/// tx hash → block number (u64) ‖ index (u32).
const TX_LOCATIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tx_locations");
/// "head" → number; "genesis" → genesis JSON.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Block number → where derivation took it from (`kind u8 ‖ index u64`).
const BLOCK_SOURCES: TableDefinition<u64, &[u8]> = TableDefinition::new("block_sources");

/// Errors of the chain store.
#[derive(Debug, thiserror::Error)]
pub enum ChainStoreError {
    /// The state store or database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored bytes do not decode.
    #[error("corrupt chain data: {0}")]
    Corrupt(#[from] DecodeError),
}

crate::redb_errors_into!(ChainStoreError);

/// A sealed block ready to be persisted.
#[derive(Clone, Debug)]
pub struct SealedBlock {
    /// The header.
    pub header: BlockHeader,
    /// Its hash.
    pub hash: B256,
    /// Transactions in order.
    pub transactions: Vec<StoredTx>,
    /// Their canonical bytes, encoded once at sealing (for the transactions root, then
    /// for the store).
    pub encoded: Vec<Vec<u8>>,
    /// The state leaves the block changed.
    pub changes: Vec<LeafChange>,
}

/// Where a transaction sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxLocation {
    /// Block number.
    pub block_number: u64,
    /// Position in the block.
    pub index: u32,
}

/// The chain store.
pub struct ChainStore {
    store: Store,
}

impl ChainStore {
    /// Opens or creates `state.redb` under `dir`.
    pub fn open(dir: &Path) -> Result<ChainStore, ChainStoreError> {
        Ok(ChainStore {
            store: Store::open(&dir.join("state.redb"))?,
        })
    }

    /// The state leaves, for rebuilding the in-memory state.
    pub fn read_leaves(&self) -> Result<Vec<straddle_state::RawLeaf>, ChainStoreError> {
        Ok(self.store.read_leaves()?)
    }

    /// Persists a block atomically and fsyncs (redb's default immediate durability).
    pub fn commit_block(
        &self,
        block: &SealedBlock,
        genesis_json: Option<&[u8]>,
    ) -> Result<(), ChainStoreError> {
        let txn = self.store.database().begin_write()?;
        Store::write_leaves(&txn, &block.changes)?;
        {
            let mut body = Writer::with_capacity(128 + block.transactions.len() * 140);
            body.raw(&block.header.encode())
                .u32(block.transactions.len() as u32);
            let mut locations = txn.open_table(TX_LOCATIONS)?;
            for (index, (tx, bytes)) in block.transactions.iter().zip(&block.encoded).enumerate() {
                body.address(&tx.sender)
                    .raw(&(bytes.len() as u16).to_be_bytes())
                    .raw(bytes);
                let mut location = Writer::with_capacity(12);
                location.u64(block.header.number).u32(index as u32);
                locations.insert(tx.hash.as_slice(), location.bytes.as_slice())?;
            }
            txn.open_table(BLOCKS)?
                .insert(block.header.number, body.bytes.as_slice())?;
            txn.open_table(BLOCK_NUMBERS)?
                .insert(block.hash.as_slice(), block.header.number)?;
            let mut meta = txn.open_table(META)?;
            meta.insert("head", block.header.number.to_be_bytes().as_slice())?;
            if let Some(genesis) = genesis_json {
                meta.insert("genesis", genesis)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, ChainStoreError> {
        let txn = self.store.database().begin_read()?;
        let table = match txn.open_table(META) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(table.get(key)?.map(|v| v.value().to_vec()))
    }

    /// A value kept beside the chain under `key` (derivation progress), if any.
    pub fn meta_value(&self, key: &str) -> Result<Option<Vec<u8>>, ChainStoreError> {
        self.meta(key)
    }

    /// Stores `value` under `key` beside the chain, durably. `head` and `genesis` belong
    /// to the chain itself and cannot be set this way.
    pub fn set_meta_value(&self, key: &str, value: &[u8]) -> Result<(), ChainStoreError> {
        debug_assert!(key != "head" && key != "genesis");
        let txn = self.store.database().begin_write()?;
        txn.open_table(META)?.insert(key, value)?;
        txn.commit()?;
        Ok(())
    }

    /// The genesis JSON the chain was created with.
    pub fn genesis_json(&self) -> Result<Option<Vec<u8>>, ChainStoreError> {
        self.meta("genesis")
    }

    /// The number of the last committed block, if any.
    pub fn head_number(&self) -> Result<Option<u64>, ChainStoreError> {
        match self.meta("head")? {
            Some(bytes) => Ok(Some(Reader::new(&bytes).u64()?)),
            None => Ok(None),
        }
    }

    /// A block's header and transactions.
    pub fn block(
        &self,
        number: u64,
    ) -> Result<Option<(BlockHeader, Vec<StoredTx>)>, ChainStoreError> {
        let txn = self.store.database().begin_read()?;
        let table = match txn.open_table(BLOCKS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(body) = table.get(number)? else {
            return Ok(None);
        };
        Ok(Some(decode_block(body.value())?))
    }

    /// A block's header only.
    pub fn header(&self, number: u64) -> Result<Option<BlockHeader>, ChainStoreError> {
        Ok(self.block(number)?.map(|(header, _)| header))
    }

    /// The number of the block with this hash.
    pub fn block_number(&self, hash: &B256) -> Result<Option<u64>, ChainStoreError> {
        let txn = self.store.database().begin_read()?;
        let table = match txn.open_table(BLOCK_NUMBERS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(table.get(hash.as_slice())?.map(|v| v.value()))
    }

    /// Records `source` for blocks `numbers` that have none yet (the first batch to carry
    /// a block is its source; later re-posts are not).
    pub fn set_sources_if_absent(
        &self,
        numbers: std::ops::RangeInclusive<u64>,
        source: BlockSource,
    ) -> Result<(), ChainStoreError> {
        let txn = self.store.database().begin_write()?;
        {
            let mut table = txn.open_table(BLOCK_SOURCES)?;
            let encoded = source.encode();
            for number in numbers {
                if table.get(number)?.is_none() {
                    table.insert(number, encoded.as_slice())?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Forgets every block's source (derivation reads L1 again after a reorg).
    pub fn clear_sources(&self) -> Result<(), ChainStoreError> {
        let txn = self.store.database().begin_write()?;
        match txn.delete_table(BLOCK_SOURCES) {
            Ok(_) => {}
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        txn.commit()?;
        Ok(())
    }

    /// Where derivation took block `number` from, if it has.
    pub fn block_source(&self, number: u64) -> Result<Option<BlockSource>, ChainStoreError> {
        let txn = self.store.database().begin_read()?;
        let table = match txn.open_table(BLOCK_SOURCES) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(bytes) = table.get(number)? else {
            return Ok(None);
        };
        Ok(Some(BlockSource::decode(bytes.value())?))
    }

    /// Where a transaction was included.
    pub fn tx_location(&self, hash: &B256) -> Result<Option<TxLocation>, ChainStoreError> {
        let txn = self.store.database().begin_read()?;
        let table = match txn.open_table(TX_LOCATIONS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(bytes) = table.get(hash.as_slice())? else {
            return Ok(None);
        };
        let mut r = Reader::new(bytes.value());
        let location = TxLocation {
            block_number: r.u64()?,
            index: r.u32()?,
        };
        r.finish()?;
        Ok(Some(location))
    }
}

fn decode_block(bytes: &[u8]) -> Result<(BlockHeader, Vec<StoredTx>), DecodeError> {
    let mut r = Reader::new(bytes);
    let header = BlockHeader::decode(r.take(straddle_primitives::block::BLOCK_HEADER_BYTES)?)?;
    let count = r.u32()?;
    let mut transactions = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let sender = r.address()?;
        let len = u16::from_be_bytes([r.u8()?, r.u8()?]) as usize;
        let tx = Transaction::decode(r.take(len)?)?;
        transactions.push(StoredTx {
            sender,
            hash: B256::ZERO,
            tx,
        });
    }
    r.finish()?;
    Ok((header, transactions))
}
