//! Persistence of state leaves in redb (`docs/spec/state.md` names the keys).
//!
//! Why redb: pure Rust (no C++ build, unlike RocksDB's ~24 min here), ACID transactions
//! with copy-on-write B-trees and a checksummed two-phase commit, so a block's writes land
//! atomically and survive `kill -9` or power loss. The caller opens one write transaction
//! per block and adds its own tables (blocks, receipts) to the same transaction.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use std::path::Path;

use straddle_state::{LeafChange, RawLeaf, key_hash};

/// `keccak256(key)` → `key_len (u16 BE) ‖ key ‖ value`.
const LEAVES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state_leaves");

/// Longest state key accepted, in bytes.
pub const STATE_KEY_BYTES_MAX: usize = 64;

/// Errors of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded database failed.
    #[error("database: {0}")]
    Database(#[from] redb::Error),
    /// Stored bytes that this code did not write.
    #[error("corrupt state leaf: {0}")]
    Corrupt(&'static str),
}

crate::redb_errors_into!(StoreError);

/// The embedded database holding the state leaves (and, through [`Store::database`], the
/// caller's own tables).
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens or creates the database file.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            db: Database::create(path)?,
        })
    }

    /// The underlying database, for tables owned by other crates.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Writes a block's leaf changes inside the caller's transaction.
    pub fn write_leaves(txn: &WriteTransaction, changes: &[LeafChange]) -> Result<(), StoreError> {
        let mut table = txn.open_table(LEAVES)?;
        let mut buf = Vec::new();
        for change in changes {
            let path = key_hash(&change.key);
            match &change.value {
                Some(value) => {
                    let key_len = u16::try_from(change.key.len())
                        .ok()
                        .filter(|len| *len as usize <= STATE_KEY_BYTES_MAX)
                        .ok_or(StoreError::Corrupt("state key too long"))?;
                    buf.clear();
                    buf.extend_from_slice(&key_len.to_be_bytes());
                    buf.extend_from_slice(&change.key);
                    buf.extend_from_slice(value);
                    table.insert(path.as_slice(), buf.as_slice())?;
                }
                None => {
                    table.remove(path.as_slice())?;
                }
            }
        }
        Ok(())
    }

    /// Every stored leaf as `(key, value)`, in key-hash order.
    pub fn read_leaves(&self) -> Result<Vec<RawLeaf>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(LEAVES) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut leaves = Vec::new();
        for entry in table.iter()? {
            let (path, stored) = entry?;
            let stored = stored.value();
            if stored.len() < 2 {
                return Err(StoreError::Corrupt("leaf shorter than its length prefix"));
            }
            let key_len = u16::from_be_bytes([stored[0], stored[1]]) as usize;
            let key = stored
                .get(2..2 + key_len)
                .ok_or(StoreError::Corrupt("key overruns leaf"))?;
            if key_hash(key).as_slice() != path.value() {
                return Err(StoreError::Corrupt("leaf stored under the wrong key hash"));
            }
            leaves.push((key.to_vec(), stored[2 + key_len..].to_vec()));
        }
        Ok(leaves)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use straddle_state::{SparseMerkleTree, value_hash};

    #[test]
    fn leaves_round_trip_and_rebuild_the_same_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.redb")).unwrap();
        let changes: Vec<LeafChange> = (0u32..100)
            .map(|i| LeafChange {
                key: i.to_be_bytes().to_vec(),
                value: Some(vec![i as u8; 3]),
            })
            .chain([LeafChange {
                key: 5u32.to_be_bytes().to_vec(),
                value: None,
            }])
            .collect();
        let txn = store.database().begin_write().unwrap();
        Store::write_leaves(&txn, &changes).unwrap();
        txn.commit().unwrap();

        let mut tree = SparseMerkleTree::new();
        tree.update_batch(changes.iter().map(LeafChange::tree_update).collect());
        let leaves = store.read_leaves().unwrap();
        assert_eq!(leaves.len(), 99);
        let mut rebuilt = SparseMerkleTree::new();
        rebuilt.update_batch(
            leaves
                .iter()
                .map(|(k, v)| (key_hash(k), Some(value_hash(v))))
                .collect(),
        );
        assert_eq!(rebuilt.root(), tree.root());
    }
}
