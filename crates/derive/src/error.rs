//! Why a derivation round stopped, by what it takes to go on (as kona's pipeline errors
//! do): a *temporary* failure is retried next round; a *critical* one means this node
//! cannot hold what L1 says (its store failed, or its chain refused a block the rules
//! accepted), which an operator must see. A *reset* (an L1 reorg under the last block
//! read) is not an error: the round itself reads L1 again from the start.

use crate::chain::DerivedChain;
use straddle_l1::L1Error;
use straddle_storage::chain_store::ChainStoreError;

/// What it takes to go on after a [`DeriveError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Retried next round (L1 or the node was briefly unavailable).
    Temporary,
    /// The node's own storage failed, or its chain refused a block the rules took:
    /// retried, and logged as an error an operator must see.
    Critical,
}

/// Why a derivation round stopped early.
#[derive(Debug, thiserror::Error)]
pub enum DeriveError {
    /// L1 refused or failed.
    #[error("L1: {0}")]
    L1(#[from] L1Error),
    /// The chain derived blocks go into refused or failed.
    #[error("L2: {error}")]
    Chain {
        /// What the chain said.
        error: Box<dyn std::error::Error + Send + Sync>,
        /// Whether it was only busy or stopping, or refused.
        severity: Severity,
    },
    /// The node's store failed.
    #[error("storage: {0}")]
    Store(#[from] ChainStoreError),
}

impl DeriveError {
    /// A [`DeriveError::Chain`] from chain `C`'s error.
    pub fn chain<C: DerivedChain>(error: C::Error) -> DeriveError {
        DeriveError::Chain {
            severity: C::severity(&error),
            error: Box::new(error),
        }
    }

    /// What it takes to go on.
    pub fn severity(&self) -> Severity {
        match self {
            DeriveError::L1(_) => Severity::Temporary,
            DeriveError::Chain { severity, .. } => *severity,
            DeriveError::Store(_) => Severity::Critical,
        }
    }

    /// Logs the error at the level its severity calls for.
    pub fn log(&self, what: &str) {
        match self.severity() {
            Severity::Temporary => tracing::warn!(error = %self, "{what}"),
            Severity::Critical => {
                metrics::counter!("straddle_derivation_critical_errors_total").increment(1);
                tracing::error!(error = %self, "{what}")
            }
        }
    }
}
