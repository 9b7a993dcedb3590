//! Durable storage of a Straddle node: the write-ahead log that holds every acknowledged
//! transaction before its receipt, and the redb database holding the chain (headers,
//! bodies, transaction index, block sources) and the state leaves, one redb transaction
//! per block (`docs/spec/rpc.md`, acknowledgement and durability; `docs/spec/state.md`).

pub mod chain_store;
pub mod leaves;
pub mod wal;

pub use chain_store::{ChainStore, ChainStoreError, SealedBlock, TxLocation};
pub use leaves::{STATE_KEY_BYTES_MAX, Store, StoreError};
pub use wal::{WalBlock, WalError, WalWriter};
