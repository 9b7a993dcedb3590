//! Oracle aggregation: quorum, lower median, age and move bounds, and every rejection
//! reason; a property test that fewer than a quorum of arbitrary (dishonest) reports can
//! never move the accepted index outside the range of the honest ones.

use super::*;
use alloy_primitives::{Address, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use proptest::prelude::*;
use straddle_primitives::PriceReport;

const NOW: u64 = 1_800_000_000_000;
const EXPIRY: u64 = NOW + 7 * 86_400_000;

fn domain() -> Domain {
    Domain {
        chain_id: 424242,
        verifying_contract: Address::ZERO,
    }
}

fn key(i: u64) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&U256::from(1000 + i).into()).unwrap()
}

fn config(signers: u64, quorum: usize) -> OracleConfig {
    OracleConfig {
        underlying: 1,
        signers: (0..signers).map(|i| key(i).address()).collect(),
        quorum,
        staleness_ms_max: 5_000,
        move_ppm_max: 100_000,
    }
}

fn report(signer: u64, index: u64, timestamp_ms: u64, atm: u32) -> SignedPriceReport {
    let report = PriceReport {
        underlying: 1,
        timestampMs: timestamp_ms,
        indexPrice: index,
        expiriesMs: vec![EXPIRY],
        atmVolsPpm: vec![atm],
        skewsPpm: vec![-100_000],
        curvaturesPpm: vec![200_000],
    };
    sign(report, signer)
}

fn sign(report: PriceReport, signer: u64) -> SignedPriceReport {
    let signature = key(signer)
        .sign_hash_sync(&report.signing_hash(&domain()))
        .unwrap();
    SignedPriceReport { report, signature }
}

#[test]
fn quorum_of_reports_gives_the_lower_median() {
    let reports = [
        report(0, 3_010_000_000, NOW - 10, 600_000),
        report(1, 3_000_000_000, NOW - 20, 650_000),
        report(2, 2_990_000_000, NOW - 30, 700_000),
        report(3, 3_020_000_000, NOW - 40, 640_000),
    ];
    let outcome = aggregate(
        &config(5, 3),
        &OracleState::default(),
        &reports,
        &domain(),
        NOW,
    )
    .unwrap();
    assert_eq!(outcome.state.index_micro_usdc, 3_000_000_000);
    assert_eq!(outcome.state.timestamp_ms, NOW - 30);
    assert_eq!(outcome.state.smiles[&EXPIRY].atm_vol_ppm, 640_000);
    assert_eq!(outcome.smiles_updated, vec![EXPIRY]);
    assert!(!outcome.clamped && outcome.rejected.is_empty());
    assert_eq!(outcome.state.recent, vec![(NOW - 30, 3_000_000_000)]);
}

#[test]
fn a_large_move_is_clamped_and_continues_next_update() {
    let first = aggregate(
        &config(3, 2),
        &OracleState::default(),
        &[
            report(0, 3_000_000_000, NOW - 5, 600_000),
            report(1, 3_000_000_000, NOW - 5, 600_000),
        ],
        &domain(),
        NOW,
    )
    .unwrap();
    let crash = [
        report(0, 1_500_000_000, NOW + 1_000, 600_000),
        report(1, 1_500_000_000, NOW + 1_000, 600_000),
    ];
    let second = aggregate(&config(3, 2), &first.state, &crash, &domain(), NOW + 1_000).unwrap();
    assert!(second.clamped);
    assert_eq!(second.median_micro_usdc, 1_500_000_000);
    assert_eq!(second.state.index_micro_usdc, 2_700_000_000);
    let crash = [
        report(0, 1_500_000_000, NOW + 2_000, 600_000),
        report(1, 1_500_000_000, NOW + 2_000, 600_000),
    ];
    let third = aggregate(&config(3, 2), &second.state, &crash, &domain(), NOW + 2_000).unwrap();
    assert_eq!(third.state.index_micro_usdc, 2_430_000_000);
}

#[test]
fn each_bad_report_is_left_out_with_its_reason() {
    let previous = OracleState {
        index_micro_usdc: 3_000_000_000,
        timestamp_ms: NOW - 1_000,
        ..OracleState::default()
    };
    let mut high_s = report(1, 3_000_000_000, NOW, 600_000);
    high_s.signature = alloy_primitives::Signature::new(
        high_s.signature.r(),
        U256::from_be_slice(&hex_order()) - high_s.signature.s(),
        !high_s.signature.v(),
    );
    let mut wrong_underlying = report(2, 3_000_000_000, NOW, 600_000);
    wrong_underlying.report.underlying = 2;
    let mut malformed = report(3, 3_000_000_000, NOW, 600_000).report;
    malformed.skewsPpm.clear();
    let malformed = sign(malformed, 3);
    let reports = [
        report(0, 3_000_000_000, NOW, 600_000),
        high_s,
        wrong_underlying,
        malformed,
        report(42, 3_000_000_000, NOW, 600_000),
        report(0, 3_000_000_000, NOW, 600_000),
        report(4, 3_000_000_000, NOW - 6_000, 600_000),
        report(5, 3_000_000_000, NOW + 3_000, 600_000),
        report(6, 3_000_000_000, NOW - 1_000, 600_000),
        report(7, 0, NOW, 600_000),
        report(8, 3_000_000_000, NOW, 5_000),
    ];
    let error = aggregate(&config(10, 6), &previous, &reports, &domain(), NOW).unwrap_err();
    let OracleError::QuorumNotMet {
        valid,
        quorum,
        rejected,
    } = error
    else {
        panic!("expected QuorumNotMet, got {error:?}");
    };
    assert_eq!((valid, quorum), (1, 6));
    let reasons: Vec<_> = rejected
        .iter()
        .map(|(i, r)| (*i, std::mem::discriminant(r)))
        .collect();
    use ReportRejection::*;
    let expected = [
        (1, BadSignature),
        (2, WrongUnderlying(2)),
        (3, Malformed("")),
        (4, UnknownSigner(Address::ZERO)),
        (5, DuplicateSigner(Address::ZERO)),
        (
            6,
            Stale {
                timestamp_ms: 0,
                oldest_ms: 0,
            },
        ),
        (7, FromTheFuture(0)),
        (
            8,
            NotNewer {
                timestamp_ms: 0,
                accepted_ms: 0,
            },
        ),
        (9, Malformed("")),
        (10, Malformed("")),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(i, r)| (*i, std::mem::discriminant(r)))
        .collect();
    assert_eq!(reasons, expected);
    assert_eq!(
        aggregate(&config(10, 6), &previous, &[], &domain(), NOW).unwrap_err(),
        OracleError::QuorumNotMet {
            valid: 0,
            quorum: 6,
            rejected: vec![]
        }
    );
    let too_many: Vec<_> = (0..17).map(|i| report(i, 1, NOW, 600_000)).collect();
    assert_eq!(
        aggregate(&config(10, 6), &previous, &too_many, &domain(), NOW).unwrap_err(),
        OracleError::TooManyReports(17)
    );
}

fn hex_order() -> [u8; 32] {
    // secp256k1 group order n.
    let mut n = [0u8; 32];
    let text = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
    for (i, byte) in n.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    n
}

#[test]
fn at_most_smiles_max_expiries_are_kept_the_nearest() {
    // Two updates of 8 expiries each plus one more: 17 expiries, 16 kept.
    let expiries: Vec<u64> = (1..=17).map(|d| NOW + d * 86_400_000).collect();
    let mut state = OracleState::default();
    for (step, chunk) in expiries.chunks(8).enumerate() {
        let at = NOW + step as u64;
        let reports: Vec<_> = (0..2)
            .map(|i| {
                let report = PriceReport {
                    underlying: 1,
                    timestampMs: at,
                    indexPrice: 3_000_000_000,
                    expiriesMs: chunk.to_vec(),
                    atmVolsPpm: vec![600_000; chunk.len()],
                    skewsPpm: vec![0; chunk.len()],
                    curvaturesPpm: vec![0; chunk.len()],
                };
                sign(report, i)
            })
            .collect();
        state = aggregate(&config(3, 2), &state, &reports, &domain(), at)
            .unwrap()
            .state;
    }
    assert_eq!(state.smiles.len(), SMILES_MAX);
    assert_eq!(
        state.smiles.keys().copied().collect::<Vec<_>>(),
        expiries[..SMILES_MAX].to_vec()
    );
}

#[test]
fn configurations_are_validated() {
    assert_eq!(config(5, 3).validate(), Ok(()));
    assert!(matches!(
        config(4, 2).validate(),
        Err(OracleConfigError::Quorum { .. })
    ));
    assert!(matches!(
        config(4, 5).validate(),
        Err(OracleConfigError::Quorum { .. })
    ));
    let mut duplicate = config(3, 2);
    duplicate.signers.push(duplicate.signers[0]);
    assert_eq!(duplicate.validate(), Err(OracleConfigError::Signers));
    let mut unbounded = config(3, 2);
    unbounded.move_ppm_max = 1_000_000;
    assert_eq!(unbounded.validate(), Err(OracleConfigError::MoveBound));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// With 7 signers and quorum 4, at most 3 can be dishonest; whatever they report, the
    /// accepted index stays within the honest reports' range.
    #[test]
    fn a_minority_cannot_move_the_median_outside_the_honest_range(
        honest in prop::collection::vec(2_900_000_000u64..3_100_000_000, 4..=7),
        lies in prop::collection::vec(1u64..u64::MAX / 2, 0..=3),
    ) {
        let honest_count = honest.len() as u64;
        let lies: Vec<u64> = lies.into_iter().take((7 - honest_count) as usize).collect();
        let mut reports: Vec<_> = honest.iter().enumerate().map(|(i, p)| report(i as u64, *p, NOW, 600_000)).collect();
        reports.extend(lies.iter().enumerate().map(|(i, p)| report(honest_count + i as u64, *p, NOW, 10_000_000)));
        let outcome = aggregate(&config(7, 4), &OracleState::default(), &reports, &domain(), NOW).unwrap();
        let (low, high) = (*honest.iter().min().unwrap(), *honest.iter().max().unwrap());
        prop_assert!((low..=high).contains(&outcome.state.index_micro_usdc));
        let atm = outcome.state.smiles[&EXPIRY].atm_vol_ppm;
        prop_assert_eq!(atm, 600_000);
    }
}
