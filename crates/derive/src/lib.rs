//! Derivation (`docs/spec/batches.md` §6, `docs/spec/disputes.md` §5.3): the L2 chain from
//! L1 data alone. `rules` is the one module that decides whether a batch or a block links
//! after its parent (derivation, the sequencer's import and the challenger call it;
//! `SourceRules.sol` mirrors it, parity in `tests/source_rules_parity.rs`); `pipeline`
//! reads L1 through the `l1::L1Reader` trait and feeds the chain through the
//! `chain::DerivedChain` trait, which the node implements; `error` classes what stops a
//! round by severity.

pub mod chain;
pub mod error;
pub mod l1;
pub mod pipeline;
pub mod rules;

pub use chain::{DerivedChain, Imported};
pub use error::{DeriveError, Severity};
pub use l1::L1Reader;
pub use pipeline::{L1Source, Mode, Pipeline, run, run_over};
pub use rules::{
    LinkFault, Parent, batch_links, block_follows, contradicts_revealed, description_links,
};
