//! The oracle: turning signed price reports into one accepted index price and volatility
//! smile per expiry. An update needs a quorum of distinct configured signers; the
//! accepted value is the lower median, so fewer than a quorum of dishonest signers cannot
//! move it outside the honest reports' range; every report is bounded in age; the index
//! moves at most `move_ppm_max` per update. Spec: `docs/spec/clearinghouse.md` §2.

use crate::risk::VolSmile;
use alloy_primitives::Address;
use std::collections::BTreeMap;
use straddle_primitives::{Domain, SignedPriceReport};

/// Most signers an underlying may configure (and reports one update may carry: the wire
/// format's bound).
pub const ORACLE_SIGNERS_MAX: usize = straddle_primitives::transaction::REPORTS_PER_UPDATE_MAX;
/// How far a report's timestamp may be ahead of the block time, ms.
pub const REPORT_FUTURE_MS_MAX: u64 = 2_000;
/// Accepted index prices remembered for expiry settlement.
pub const SETTLEMENT_WINDOW_LEN: usize = 8;
/// Volatility smiles an underlying holds (one per listed expiry).
pub const SMILES_MAX: usize = 16;
/// Bounds of an at-the-money volatility, ppm (1 % to 1000 %).
pub const ATM_VOL_PPM_MIN: u32 = 10_000;
/// See [`ATM_VOL_PPM_MIN`].
pub const ATM_VOL_PPM_MAX: u32 = 10_000_000;

/// Who may report for an underlying and how reports are accepted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OracleConfig {
    /// Underlying id.
    pub underlying: u32,
    /// The signer set.
    pub signers: Vec<Address>,
    /// Distinct valid reports an update needs.
    pub quorum: usize,
    /// Oldest report accepted, relative to the block time, ms.
    pub staleness_ms_max: u64,
    /// Largest index move per update, ppm of the previous index (larger moves are
    /// clamped to the band, and the next update continues from there).
    pub move_ppm_max: u32,
}

/// Why an oracle configuration is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OracleConfigError {
    /// Quorum must be a strict majority of the signers, at least 1.
    #[error("quorum {quorum} must satisfy signers/2 < quorum ≤ signers ({signers} signers)")]
    Quorum {
        /// Configured quorum.
        quorum: usize,
        /// Configured signers.
        signers: usize,
    },
    /// Too many or duplicate signers.
    #[error("signers must be distinct and at most {ORACLE_SIGNERS_MAX}")]
    Signers,
    /// The move bound must be in (0, 100 %).
    #[error("move_ppm_max must be in 1..1000000")]
    MoveBound,
}

impl OracleConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), OracleConfigError> {
        let mut distinct = self.signers.clone();
        distinct.sort();
        distinct.dedup();
        if distinct.len() != self.signers.len() || self.signers.len() > ORACLE_SIGNERS_MAX {
            return Err(OracleConfigError::Signers);
        }
        if self.quorum == 0
            || self.quorum > self.signers.len()
            || self.quorum * 2 <= self.signers.len()
        {
            return Err(OracleConfigError::Quorum {
                quorum: self.quorum,
                signers: self.signers.len(),
            });
        }
        if self.move_ppm_max == 0 || self.move_ppm_max >= 1_000_000 {
            return Err(OracleConfigError::MoveBound);
        }
        Ok(())
    }
}

/// The accepted oracle state of an underlying.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OracleState {
    /// Accepted index price, micro-USDC (0 before the first update).
    pub index_micro_usdc: u64,
    /// Time of the accepted observation (lower median of the reports' timestamps), ms.
    pub timestamp_ms: u64,
    /// Volatility smile per expiry (ms), at most [`SMILES_MAX`].
    pub smiles: BTreeMap<u64, VolSmile>,
    /// The last accepted `(timestamp_ms, index)` pairs, oldest first, at most
    /// [`SETTLEMENT_WINDOW_LEN`].
    pub recent: Vec<(u64, u64)>,
}

/// Why one report was left out of an update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportRejection {
    /// The signature is invalid or malleable.
    #[error("invalid signature")]
    BadSignature,
    /// Signed by a key outside the signer set.
    #[error("signer {0} is not an oracle signer of this underlying")]
    UnknownSigner(Address),
    /// A second report from the same signer.
    #[error("signer {0} already reported in this update")]
    DuplicateSigner(Address),
    /// For another underlying.
    #[error("report is for underlying {0}")]
    WrongUnderlying(u32),
    /// Too old.
    #[error("report at {timestamp_ms} is older than {oldest_ms}")]
    Stale {
        /// The report's time.
        timestamp_ms: u64,
        /// The oldest acceptable time.
        oldest_ms: u64,
    },
    /// Too far ahead of the block time.
    #[error("report at {0} is in the future")]
    FromTheFuture(u64),
    /// Not newer than the state it would replace.
    #[error("report at {timestamp_ms} is not newer than the accepted {accepted_ms}")]
    NotNewer {
        /// The report's time.
        timestamp_ms: u64,
        /// The accepted state's time.
        accepted_ms: u64,
    },
    /// Zero price, inconsistent arrays, or a volatility outside its bounds.
    #[error("malformed report: {0}")]
    Malformed(&'static str),
}

/// Why an update was refused as a whole. Nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OracleError {
    /// The underlying has no oracle.
    #[error("unknown underlying {0}")]
    UnknownUnderlying(u32),
    /// More reports than [`ORACLE_SIGNERS_MAX`].
    #[error("{0} reports, at most {ORACLE_SIGNERS_MAX}")]
    TooManyReports(usize),
    /// Fewer valid reports than the quorum; the rejections say why.
    #[error("{valid} valid reports, quorum is {quorum}")]
    QuorumNotMet {
        /// Valid reports.
        valid: usize,
        /// Quorum.
        quorum: usize,
        /// Each left-out report's position and reason.
        rejected: Vec<(usize, ReportRejection)>,
    },
}

/// What an accepted update did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OracleOutcome {
    /// The new state.
    pub state: OracleState,
    /// The median before clamping, micro-USDC.
    pub median_micro_usdc: u64,
    /// Whether the move bound clamped the index.
    pub clamped: bool,
    /// Expiries whose smile was updated.
    pub smiles_updated: Vec<u64>,
    /// Reports left out, with reasons.
    pub rejected: Vec<(usize, ReportRejection)>,
}

struct ValidReport<'a> {
    timestamp_ms: u64,
    index: u64,
    report: &'a straddle_primitives::PriceReport,
}

/// The lower median of a non-empty list.
fn lower_median<T: Ord + Copy>(values: &mut [T]) -> T {
    values.sort_unstable();
    values[(values.len() - 1) / 2]
}

fn check_report<'a>(
    config: &OracleConfig,
    previous: &OracleState,
    signed: &'a SignedPriceReport,
    domain: &Domain,
    now_ms: u64,
    seen: &mut Vec<Address>,
) -> Result<ValidReport<'a>, ReportRejection> {
    let report = &signed.report;
    if report.underlying != config.underlying {
        return Err(ReportRejection::WrongUnderlying(report.underlying));
    }
    let signer = signed
        .signer(domain)
        .map_err(|_| ReportRejection::BadSignature)?;
    if !config.signers.contains(&signer) {
        return Err(ReportRejection::UnknownSigner(signer));
    }
    if seen.contains(&signer) {
        return Err(ReportRejection::DuplicateSigner(signer));
    }
    let oldest_ms = now_ms.saturating_sub(config.staleness_ms_max);
    if report.timestampMs < oldest_ms {
        return Err(ReportRejection::Stale {
            timestamp_ms: report.timestampMs,
            oldest_ms,
        });
    }
    if report.timestampMs > now_ms.saturating_add(REPORT_FUTURE_MS_MAX) {
        return Err(ReportRejection::FromTheFuture(report.timestampMs));
    }
    if previous.index_micro_usdc != 0 && report.timestampMs <= previous.timestamp_ms {
        return Err(ReportRejection::NotNewer {
            timestamp_ms: report.timestampMs,
            accepted_ms: previous.timestamp_ms,
        });
    }
    if report.indexPrice == 0 {
        return Err(ReportRejection::Malformed("zero index price"));
    }
    if !report.is_well_formed() {
        return Err(ReportRejection::Malformed("inconsistent expiry arrays"));
    }
    if report
        .atmVolsPpm
        .iter()
        .any(|v| !(ATM_VOL_PPM_MIN..=ATM_VOL_PPM_MAX).contains(v))
    {
        return Err(ReportRejection::Malformed("volatility out of bounds"));
    }
    seen.push(signer);
    Ok(ValidReport {
        timestamp_ms: report.timestampMs,
        index: report.indexPrice,
        report,
    })
}

/// Applies one update (all reports for `config.underlying`) on top of `previous`.
pub fn aggregate(
    config: &OracleConfig,
    previous: &OracleState,
    reports: &[SignedPriceReport],
    domain: &Domain,
    now_ms: u64,
) -> Result<OracleOutcome, OracleError> {
    if reports.len() > ORACLE_SIGNERS_MAX {
        return Err(OracleError::TooManyReports(reports.len()));
    }
    let mut seen = Vec::with_capacity(reports.len());
    let mut valid = Vec::with_capacity(reports.len());
    let mut rejected = Vec::new();
    for (position, signed) in reports.iter().enumerate() {
        match check_report(config, previous, signed, domain, now_ms, &mut seen) {
            Ok(report) => valid.push(report),
            Err(reason) => rejected.push((position, reason)),
        }
    }
    if valid.len() < config.quorum {
        return Err(OracleError::QuorumNotMet {
            valid: valid.len(),
            quorum: config.quorum,
            rejected,
        });
    }
    let median = lower_median(&mut valid.iter().map(|r| r.index).collect::<Vec<_>>());
    let timestamp_ms = lower_median(&mut valid.iter().map(|r| r.timestamp_ms).collect::<Vec<_>>());
    let (index, clamped) = clamp_move(previous.index_micro_usdc, median, config.move_ppm_max);

    let mut state = previous.clone();
    state.index_micro_usdc = index;
    state.timestamp_ms = timestamp_ms;
    state.recent.push((timestamp_ms, index));
    if state.recent.len() > SETTLEMENT_WINDOW_LEN {
        state.recent.remove(0);
    }
    let smiles_updated = update_smiles(&mut state, &valid, config.quorum, now_ms);
    Ok(OracleOutcome {
        state,
        median_micro_usdc: median,
        clamped,
        smiles_updated,
        rejected,
    })
}

/// Clamps `proposed` to `previous · (1 ± move_ppm_max)`; no bound before the first update.
fn clamp_move(previous: u64, proposed: u64, move_ppm_max: u32) -> (u64, bool) {
    if previous == 0 {
        return (proposed, false);
    }
    let band = u128::from(previous) * u128::from(move_ppm_max) / 1_000_000;
    let low = (u128::from(previous) - band) as u64;
    let high = u64::try_from(u128::from(previous) + band).unwrap_or(u64::MAX);
    let clamped = proposed.clamp(low, high);
    (clamped, clamped != proposed)
}

/// Per expiry carried by at least `quorum` valid reports: the lower median of each smile
/// parameter. Expired smiles are dropped; at most [`SMILES_MAX`] are kept (the nearest).
fn update_smiles(
    state: &mut OracleState,
    valid: &[ValidReport<'_>],
    quorum: usize,
    now_ms: u64,
) -> Vec<u64> {
    let mut by_expiry: BTreeMap<u64, Vec<(u32, i32, u32)>> = BTreeMap::new();
    for r in valid {
        let report = r.report;
        for (i, expiry) in report.expiriesMs.iter().enumerate() {
            by_expiry.entry(*expiry).or_default().push((
                report.atmVolsPpm[i],
                report.skewsPpm[i],
                report.curvaturesPpm[i],
            ));
        }
    }
    let mut updated = Vec::new();
    for (expiry, points) in by_expiry {
        if points.len() < quorum || expiry <= now_ms {
            continue;
        }
        let smile = VolSmile {
            atm_vol_ppm: lower_median(&mut points.iter().map(|p| p.0).collect::<Vec<_>>()),
            skew_ppm: lower_median(&mut points.iter().map(|p| p.1).collect::<Vec<_>>()),
            curvature_ppm: lower_median(&mut points.iter().map(|p| p.2).collect::<Vec<_>>()),
        };
        state.smiles.insert(expiry, smile);
        updated.push(expiry);
    }
    state.smiles.retain(|expiry, _| *expiry > now_ms);
    while state.smiles.len() > SMILES_MAX {
        state.smiles.pop_last();
    }
    updated.retain(|expiry| state.smiles.contains_key(expiry));
    updated
}

#[cfg(test)]
mod tests;
