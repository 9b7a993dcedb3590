//! Durable storage of a Straddle node: the write-ahead log that holds every acknowledged
//! transaction before its receipt, and the redb database holding the chain (headers,
//! bodies, transaction index, block sources) and the state leaves, one redb transaction
//! per block (`docs/spec/rpc.md`, acknowledgement and durability; `docs/spec/state.md`).

/// `From` every redb error type for `$target`, as [`StoreError::Database`].
macro_rules! redb_errors_into {
    ($target:ty) => {
        $crate::redb_errors_into!(
            $target: redb::DatabaseError,
            redb::TransactionError,
            redb::TableError,
            redb::StorageError,
            redb::CommitError
        );
    };
    ($target:ty: $($error:ty),*) => {$(
        impl From<$error> for $target {
            fn from(error: $error) -> Self {
                $crate::leaves::StoreError::Database(error.into()).into()
            }
        }
    )*};
}
pub(crate) use redb_errors_into;

pub mod chain_store;
pub mod leaves;
pub mod wal;

pub use chain_store::{ChainStore, ChainStoreError, SealedBlock, TxLocation};
pub use leaves::{STATE_KEY_BYTES_MAX, Store, StoreError};
pub use wal::{WalBlock, WalError, WalWriter};
