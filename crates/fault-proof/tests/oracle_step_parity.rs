//! Parity of the L1 oracle-update sub-steps (`OracleStepProver.sol`,
//! `docs/spec/disputes.md` §4.1) with the Rust STF: random oracle updates of the devnet's
//! two underlyings (and of an unknown one) carry reports that are valid or fail each of
//! the oracle's checks (another underlying, a signer outside the set, a repeated signer,
//! a malleable signature, stale, from the future, not newer, a zero index, a volatility
//! out of bounds), move the index within and beyond the move bound, and bring smiles for
//! up to 20 expiries (the oracle keeps 16), some of them past or repeated within a
//! report; the operator lists options expiring within minutes, which later updates
//! settle from the window (or cannot: a gap in the updates leaves no value near the
//! expiry). Each update runs on one chain sub-step by sub-step (`oracle_sub_steps`) and
//! on another whole, as blocks do: the roots must agree after every transaction, and
//! every sub-step, and the count, must give the same root on anvil.

use straddle_testkit as common;

use alloy_primitives::Address;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use common::Rng;
use std::collections::BTreeMap;
use straddle_chain::Chain;
use straddle_exchange::BlockContext;
use straddle_exchange::clearinghouse::market::{Instrument, MarketStatus};
use straddle_fault_proof::step::{execute_into_tree, oracle_sub_steps, prover_underlyings};
use straddle_l1::L1Client;
use straddle_primitives::admin::{INSTRUMENT_CALL, INSTRUMENT_PUT};
use straddle_primitives::{ListMarket, PriceReport, SignedPriceReport, Transaction};

const UPDATES: usize = 160;
/// The devnet's oracle signers, and an account that is not one.
const SIGNERS: [usize; 3] = [7, 8, 9];
const OUTSIDER: usize = 3;

struct Run {
    rng: Rng,
    block: BlockContext,
    /// Index per underlying (1 ETH, 2 BTC), micro-USDC.
    index: [u64; 3],
    /// Expiries the reports quote (some listed as options).
    expiries: Vec<u64>,
    listing_nonce: u64,
    next_market: u32,
}

impl Run {
    fn report(
        &mut self,
        underlying: u32,
        signer: &PrivateKeySigner,
    ) -> (SignedPriceReport, &'static str) {
        let mut report = PriceReport {
            underlying,
            timestampMs: self.block.timestamp_ms - self.rng.below(5_000),
            indexPrice: self.index[underlying as usize % 3].max(1) * (995 + self.rng.below(11))
                / 1_000,
            expiriesMs: Vec::new(),
            atmVolsPpm: Vec::new(),
            skewsPpm: Vec::new(),
            curvaturesPpm: Vec::new(),
        };
        for _ in 0..self.rng.below(9) {
            let expiry = if self.rng.chance(10) {
                self.block.timestamp_ms - 1
            } else {
                self.expiries[self.rng.below(self.expiries.len() as u64) as usize]
            };
            report.expiriesMs.push(expiry);
            report
                .atmVolsPpm
                .push(300_000 + self.rng.below(900_000) as u32);
            report
                .skewsPpm
                .push(self.rng.below(400_000) as i32 - 200_000);
            report.curvaturesPpm.push(self.rng.below(500_000) as u32);
        }
        let mut fault = "valid";
        match self.rng.below(40) {
            0 => {
                report.underlying = 5 - underlying.min(3);
                fault = "another underlying";
            }
            1 => {
                report.timestampMs = self.block.timestamp_ms - 61_000 - self.rng.below(10_000);
                fault = "stale";
            }
            2 => {
                report.timestampMs = self.block.timestamp_ms + 2_001 + self.rng.below(3);
                fault = "from the future";
            }
            3 => {
                report.indexPrice = 0;
                fault = "zero index";
            }
            4 if !report.atmVolsPpm.is_empty() => {
                report.atmVolsPpm[0] = if self.rng.chance(50) {
                    9_999
                } else {
                    10_000_001
                };
                fault = "volatility out of bounds";
            }
            5 => {
                report.timestampMs = self.block.timestamp_ms + 2_000;
                fault = "at the future bound";
            }
            _ => {}
        }
        let mut signature = signer
            .sign_hash_sync(&report.signing_hash(&common::domain()))
            .unwrap();
        if self.rng.chance(3) {
            // The same signature with high s: malleable, refused.
            signature = malleable(signature);
            fault = "malleable signature";
        }
        (SignedPriceReport { report, signature }, fault)
    }

    /// An update of `underlying` (1, 2, or the unknown 3) from a random set of reports.
    fn update(
        &mut self,
        underlying: u32,
        faults: &mut BTreeMap<&'static str, usize>,
    ) -> Transaction {
        let mut reports = Vec::new();
        let count = self.rng.below(5);
        let first = self.rng.below(3) as usize;
        for k in 0..count as usize {
            // Mostly distinct signers, in a random order.
            let who = if self.rng.chance(8) {
                OUTSIDER
            } else {
                SIGNERS[(first + k) % 3]
            };
            let (report, fault) = self.report(underlying, &common::signer(who));
            let fault = if who == OUTSIDER {
                "outside the signer set"
            } else {
                fault
            };
            *faults.entry(fault).or_default() += 1;
            reports.push(report);
        }
        if self.rng.chance(10) && !reports.is_empty() {
            reports.push(reports[0].clone());
            *faults.entry("repeated signer").or_default() += 1;
        }
        Transaction::OracleUpdate {
            underlying,
            reports,
        }
    }

    /// The operator lists an option on ETH expiring at one of the quoted expiries.
    fn list_option(&mut self) -> Transaction {
        self.listing_nonce += 1;
        // Mostly one of the expiries minutes away, which settle during the run.
        let soon = self.block.timestamp_ms + 3_600_000;
        let near = self.rng.chance(70);
        let ahead: Vec<u64> = self
            .expiries
            .iter()
            .copied()
            .filter(|expiry| *expiry > self.block.timestamp_ms && (!near || *expiry < soon))
            .collect();
        let ahead = if ahead.is_empty() {
            vec![straddle_exchange::devnet::DEVNET_OPTION_EXPIRY_MS]
        } else {
            ahead
        };
        let expiry = ahead[self.rng.below(ahead.len() as u64) as usize];
        let strike = (2_000 + 250 * self.rng.below(9)) * 1_000_000;
        let listing = ListMarket {
            market: self.next_market,
            underlying: 1,
            instrument: if self.rng.chance(50) {
                INSTRUMENT_CALL
            } else {
                INSTRUMENT_PUT
            },
            strike,
            optionExpiryMs: expiry,
            tick: 100_000,
            lot: 1_000,
            makerFeePpm: 100,
            takerFeePpm: 300,
            nonce: self.listing_nonce,
            expiryMs: self.block.timestamp_ms + 60_000,
        };
        self.next_market += 1;
        let signature = common::signer(0)
            .sign_hash_sync(&listing.signing_hash(&common::domain()))
            .unwrap();
        Transaction::ListMarket { listing, signature }
    }
}

/// `signature` with s replaced by n − s (and the parity flipped): it still recovers, but
/// the STF refuses high s.
fn malleable(signature: alloy_primitives::Signature) -> alloy_primitives::Signature {
    let order = alloy_primitives::U256::from_str_radix(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        16,
    )
    .unwrap();
    alloy_primitives::Signature::new(signature.r(), order - signature.s(), !signature.v())
}

/// Runs `tx` on `whole` as a block does and on `stepped` sub-step by sub-step, checking
/// every sub-step on L1. Returns the sub-step count, whether the update was accepted and
/// the highest gas of a sub-step.
async fn prove(
    l1: &L1Client,
    prover: Address,
    whole: &mut Chain,
    stepped: &mut Chain,
    tx: Transaction,
    block: &BlockContext,
    context: &str,
) -> (usize, bool, u64) {
    let before = whole.tip.tree.root();
    let steps = oracle_sub_steps(stepped, &tx, block).unwrap();
    let accepted = execute_into_tree(whole, tx.clone(), block).is_ok();
    assert_eq!(
        steps.roots[0], before,
        "{context}: chains apart before the update"
    );
    assert_eq!(
        steps.roots.last(),
        Some(&whole.tip.tree.root()),
        "{context}: sub-steps end elsewhere than the whole update"
    );
    let count = l1
        .oracle_sub_step_count(
            prover,
            before,
            tx.encode().into(),
            steps.count_witness.clone(),
        )
        .await
        .unwrap();
    assert_eq!(
        count as usize,
        steps.inputs.len(),
        "{context}: sub-step count"
    );
    common::check_sub_steps(l1, prover, &steps, context).await;
    let mut gas = 0;
    for input in [steps.inputs.first(), steps.inputs.last()]
        .into_iter()
        .flatten()
    {
        gas = gas.max(l1.oracle_sub_step_gas(prover, input).await.unwrap());
    }
    (steps.inputs.len(), accepted, gas)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oracle_update_sub_steps_reach_the_stfs_root() {
    let anvil = common::anvil();
    let l1 = common::l1_client(&anvil, 0);
    let genesis = common::genesis();
    let pricer = l1
        .deploy_option_pricer(&straddle_math::constant_table())
        .await
        .unwrap();
    let prover = l1
        .deploy_oracle_step_prover(
            genesis.domain.chain_id,
            genesis.domain.verifying_contract,
            pricer,
            prover_underlyings(&genesis),
        )
        .await
        .unwrap();
    let (mut whole, _) = Chain::from_genesis(&genesis).unwrap();
    let (mut stepped, _) = Chain::from_genesis(&genesis).unwrap();
    let start = common::now_ms();
    let mut run = Run {
        rng: Rng(0x0AC1_E5E7),
        block: BlockContext {
            number: 1,
            timestamp_ms: start,
        },
        index: [0, 3_000_000_000, 60_000_000_000],
        // Twelve expiries four minutes apart (listed options settle during the run), then
        // further ones out to a year, and the devnet's.
        expiries: (1..=12)
            .map(|k| start + k * 240_000)
            .chain((1..=20).map(|k| start + k * 86_400_000 * 18))
            .chain([straddle_exchange::devnet::DEVNET_OPTION_EXPIRY_MS])
            .collect(),
        listing_nonce: 0,
        next_market: 100,
    };
    let mut faults = BTreeMap::new();
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (mut market_gas, mut most_steps) = (0u64, 0usize);
    for k in 0..UPDATES {
        run.block.number += 1;
        // Now and then a gap of 15 minutes: an option expiring inside it finds no value
        // near its expiry and stays unsettled.
        run.block.timestamp_ms += if run.rng.chance(3) {
            900_000
        } else {
            1_000 + run.rng.below(25_000)
        };
        if k < 40 && run.rng.chance(60) {
            let listing = run.list_option();
            let described = format!("{listing:?}");
            let outcome = execute_into_tree(&mut whole, listing.clone(), &run.block);
            assert!(outcome.is_ok(), "{described}: {outcome:?}");
            execute_into_tree(&mut stepped, listing, &run.block).unwrap();
        }
        let underlying = match run.rng.below(20) {
            0 => 3,
            1..=4 => 2,
            _ => 1,
        };
        if underlying < 3 {
            let i = underlying as usize;
            // Within the 10 % bound mostly; now and then beyond it (clamped).
            let band: i128 = if run.rng.chance(15) { 300 } else { 60 };
            let moved =
                run.index[i] as i128 * (run.rng.below(2 * band as u64 + 1) as i128 - band) / 1_000;
            run.index[i] = (run.index[i] as i128 + moved) as u64;
        }
        let tx = run.update(underlying, &mut faults);
        let settled_before = settled(&whole);
        let context = format!("update {k} of underlying {underlying}");
        let (steps, accepted, gas) = prove(
            &l1,
            prover,
            &mut whole,
            &mut stepped,
            tx,
            &run.block,
            &context,
        )
        .await;
        most_steps = most_steps.max(steps);
        if steps > 1 {
            market_gas = market_gas.max(gas);
        }
        let outcome = match (accepted, settled(&whole) > settled_before) {
            (false, _) => "refused",
            (true, true) => "accepted, settling options",
            (true, false) => "accepted",
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    let smiles = whole
        .state
        .ledger
        .underlying(1)
        .unwrap()
        .oracle
        .smiles
        .len();
    // Expired options that found no settlement price stay active, without a vector.
    let unsettled = whole
        .state
        .ledger
        .clearinghouse()
        .markets()
        .filter(|m| {
            m.status == MarketStatus::Active
                && matches!(m.spec.instrument, Instrument::Option { expiry_ms, .. } if expiry_ms <= run.block.timestamp_ms)
        })
        .count();
    println!("report faults: {faults:?}");
    println!(
        "updates: {outcomes:?}; most sub-steps {most_steps}, ETH smiles {smiles}, expired options unsettled {unsettled}"
    );
    println!("highest sub-step gas: {market_gas}");
    for fault in [
        "valid",
        "another underlying",
        "stale",
        "from the future",
        "at the future bound",
        "zero index",
        "volatility out of bounds",
        "malleable signature",
        "outside the signer set",
        "repeated signer",
    ] {
        assert!(
            faults.get(fault).copied().unwrap_or(0) > 0,
            "no report {fault}"
        );
    }
    for outcome in ["refused", "accepted", "accepted, settling options"] {
        assert!(
            outcomes.get(outcome).copied().unwrap_or(0) > 0,
            "no update {outcome}"
        );
    }
    assert_eq!(smiles, 16, "the oracle keeps 16 smiles");
    assert!(
        unsettled > 0,
        "some expired option finds no settlement price"
    );
}

fn settled(chain: &Chain) -> usize {
    chain
        .state
        .ledger
        .clearinghouse()
        .markets()
        .filter(|m| m.status != MarketStatus::Active)
        .count()
}
