//! A change of one state leaf, what a block's execution produces and the store persists
//! (`docs/spec/state.md`).

use crate::hash::{key_hash, value_hash};
use alloy_primitives::B256;

/// A stored leaf: `(key bytes, value bytes)`.
pub type RawLeaf = (Vec<u8>, Vec<u8>);

/// One key set to a new value, or deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafChange {
    /// The raw state key (see `docs/spec/state.md` for the layout).
    pub key: Vec<u8>,
    /// The new canonical value, or `None` to delete.
    pub value: Option<Vec<u8>>,
}

impl LeafChange {
    /// The tree update this change makes.
    pub fn tree_update(&self) -> (B256, Option<B256>) {
        (key_hash(&self.key), self.value.as_deref().map(value_hash))
    }
}
