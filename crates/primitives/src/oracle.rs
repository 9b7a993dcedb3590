//! Oracle price reports: EIP-712 messages signed by the configured oracle signers of an
//! underlying, carrying its index price and the volatility smile of each listed expiry.
//! Aggregation rules live in the exchange (`docs/spec/clearinghouse.md` §2).

use crate::action::Domain;
use crate::signed::{SignatureCheckError, recover_strict};
use alloy_primitives::{Address, B256, Signature};
use alloy_sol_types::{SolStruct, sol};

/// Most expiries one report may carry.
pub const REPORT_EXPIRIES_MAX: usize = 8;

sol! {
    /// One signer's observation of an underlying at `timestampMs`.
    #[derive(Debug, PartialEq, Eq)]
    struct PriceReport {
        uint32 underlying;
        uint64 timestampMs;
        uint64 indexPrice;
        uint64[] expiriesMs;
        uint32[] atmVolsPpm;
        int32[] skewsPpm;
        uint32[] curvaturesPpm;
    }
}

/// A report with its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedPriceReport {
    /// The report.
    pub report: PriceReport,
    /// secp256k1 signature over [`PriceReport::signing_hash`].
    pub signature: Signature,
}

impl PriceReport {
    /// The EIP-712 digest under `domain`.
    pub fn signing_hash(&self, domain: &Domain) -> B256 {
        domain.digest(&self.eip712_hash_struct())
    }

    /// Whether the per-expiry arrays are consistent and within [`REPORT_EXPIRIES_MAX`].
    pub fn is_well_formed(&self) -> bool {
        let n = self.expiriesMs.len();
        n <= REPORT_EXPIRIES_MAX
            && self.atmVolsPpm.len() == n
            && self.skewsPpm.len() == n
            && self.curvaturesPpm.len() == n
    }
}

impl SignedPriceReport {
    /// The signer, after the same strict checks as user actions (low-s, in range).
    pub fn signer(&self, domain: &Domain) -> Result<Address, SignatureCheckError> {
        recover_strict(&self.signature, &self.report.signing_hash(domain))
    }
}
