//! Fault proofs from the Rust side (`docs/spec/disputes.md` §4): the witness of one
//! transaction (or one oracle sub-step) for the L1 one-step prover, per-transaction roots
//! of a block, proofs against past blocks (the archive a node answers `getStep` and
//! withdrawal proofs from), and the L1 deployment a chain's genesis fixes. The
//! Rust↔Solidity parity tests live in this crate's `tests/`.

pub mod archive;
pub mod deploy;
pub mod step;

pub use archive::{ArchiveError, ProofArchive, WithdrawalProof};
pub use deploy::deploy_config;
pub use step::{OracleSubSteps, StepError, per_transaction_roots};
