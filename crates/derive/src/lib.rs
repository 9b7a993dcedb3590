//! Derivation's rules (`docs/spec/batches.md` §6, `docs/spec/disputes.md` §5.3): the one
//! module that decides whether a batch or a block links after its parent, used by
//! derivation, by the sequencer's import of derived blocks and by the challenger, and
//! mirrored on L1 by `SourceRules.sol` (parity: `tests/source_rules_parity.rs`).

pub mod rules;

pub use rules::{
    LinkFault, Parent, batch_links, block_follows, contradicts_revealed, description_links,
};
