//! Builders shared by the workspace's tests: the devnet's keys, domain and genesis, anvil
//! with the chain's contracts, signed orders, oracle updates and listings, a reproducible
//! random source, and gas traces of L1 calls. Test-only: no production crate depends on
//! it.

use alloy_primitives::{Address, Bytes};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use straddle_exchange::Genesis;
use straddle_exchange::devnet::{DEVNET_CHAIN_ID, dev_key, devnet_genesis};
use straddle_primitives::{
    Action, Domain, Order, PriceReport, SignedOrder, SignedPriceReport, Transaction,
};
use straddle_rpc_api::SendActionRequest;

/// Dev account `i`'s key.
pub fn signer(i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&dev_key(i)).unwrap()
}

/// The devnet's signing domain.
pub fn domain() -> Domain {
    Domain {
        chain_id: DEVNET_CHAIN_ID,
        verifying_contract: Address::ZERO,
    }
}

/// The devnet genesis over the ten dev accounts.
pub fn genesis() -> Genesis {
    devnet_genesis(&dev_addresses())
}

/// The ten dev accounts' addresses.
pub fn dev_addresses() -> Vec<Address> {
    (0..10).map(|i| signer(i).address()).collect()
}

/// Anvil on a free port, from the tools the setup script installs.
pub fn anvil() -> straddle_l1::Anvil {
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    straddle_l1::Anvil::start(&straddle_l1::anvil::anvil_binary(&repo), 0, &[]).unwrap()
}

/// An L1 client of dev account `index` on `anvil`.
pub fn l1_client(anvil: &straddle_l1::Anvil, index: usize) -> straddle_l1::L1Client {
    straddle_l1::L1Client::connect(
        &anvil.url(),
        PrivateKeySigner::from_bytes(&dev_key(index)).unwrap(),
    )
    .unwrap()
}

/// The chain's L1 contracts for `genesis` on the anvil `l1` talks to (its key deploys,
/// proposes and batches).
pub async fn deploy_for(l1: &straddle_l1::L1Client, genesis: &Genesis) -> straddle_l1::Deployment {
    let config = straddle_fault_proof::deploy_config(genesis, l1.address(), l1.address()).unwrap();
    l1.deploy_devnet(&config).await.unwrap()
}

/// Wall-clock unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// An ETH oracle update at `index`, now, signed by dev accounts `signers`.
pub fn oracle_update(signers: &[usize], index: u64) -> Transaction {
    let report = PriceReport {
        underlying: 1,
        timestampMs: now_ms(),
        indexPrice: index,
        expiriesMs: vec![],
        atmVolsPpm: vec![],
        skewsPpm: vec![],
        curvaturesPpm: vec![],
    };
    signed_update(signers, report)
}

/// An oracle update of `underlying` at `index` stamped `timestamp_ms`, with a smile for
/// the devnet's option expiry (so its options get vectors), signed by two of the
/// devnet's oracle signers.
pub fn price_update(underlying: u32, index: u64, timestamp_ms: u64) -> Transaction {
    let report = PriceReport {
        underlying,
        timestampMs: timestamp_ms,
        indexPrice: index,
        expiriesMs: vec![straddle_exchange::devnet::DEVNET_OPTION_EXPIRY_MS],
        atmVolsPpm: vec![650_000],
        skewsPpm: vec![-100_000],
        curvaturesPpm: vec![200_000],
    };
    signed_update(&[7, 8], report)
}

/// An oracle update carrying `report` signed by each of dev accounts `signers`.
pub fn signed_update(signers: &[usize], report: PriceReport) -> Transaction {
    let underlying = report.underlying;
    let reports = signers
        .iter()
        .map(|i| {
            let signature = signer(*i)
                .sign_hash_sync(&report.signing_hash(&domain()))
                .unwrap();
            SignedPriceReport {
                report: report.clone(),
                signature,
            }
        })
        .collect();
    Transaction::OracleUpdate {
        underlying,
        reports,
    }
}

/// The devnet operator (account 0) lists ETH perpetual `market` (tick 0.1 USDC, lot
/// 0.001).
pub fn list_perpetual(market: u32, nonce: u64, expiry_ms: u64) -> Transaction {
    let listing = perpetual_listing(market, nonce, expiry_ms);
    let signature = signer(0)
        .sign_hash_sync(&listing.signing_hash(&domain()))
        .unwrap();
    Transaction::ListMarket { listing, signature }
}

/// The terms of an ETH perpetual listing (tick 0.1 USDC, lot 0.001, fees 100/300 ppm).
pub fn perpetual_listing(
    market: u32,
    nonce: u64,
    expiry_ms: u64,
) -> straddle_primitives::ListMarket {
    straddle_primitives::ListMarket {
        market,
        underlying: 1,
        instrument: straddle_primitives::admin::INSTRUMENT_PERPETUAL,
        strike: 0,
        optionExpiryMs: 0,
        tick: 100_000,
        lot: 1_000,
        makerFeePpm: 100,
        takerFeePpm: 300,
        nonce,
        expiryMs: expiry_ms,
    }
}

/// `order` signed by dev account `owner`.
pub fn sign_order(owner: usize, order: Order) -> SignedOrder {
    sign_order_with(&signer(owner), order)
}

/// `order` signed by `key`.
pub fn sign_order_with(key: &PrivateKeySigner, order: Order) -> SignedOrder {
    let signature = key.sign_hash_sync(&order.hash(&domain())).unwrap();
    SignedOrder { order, signature }
}

/// A 1-contract order at 3 000 on market 1 by dev account `owner`.
pub fn signed_order(owner: usize, is_buy: bool, tif: u8, nonce: u64) -> SignedOrder {
    order_at(owner, is_buy, tif, 3_000_000_000, 1_000_000, nonce)
}

/// `action` signed by `key` on the devnet, as `straddle_sendAction` takes it.
pub fn action_request(key: &PrivateKeySigner, action: Action) -> SendActionRequest {
    let signature = key.sign_hash_sync(&action.signing_hash(&domain())).unwrap();
    SendActionRequest {
        chain_id: DEVNET_CHAIN_ID,
        action,
        signature: Bytes::from(signature.as_bytes().to_vec()),
    }
}

/// A signed order on market 1 with the given terms.
pub fn order_at(
    owner: usize,
    is_buy: bool,
    tif: u8,
    price: u64,
    size: u64,
    nonce: u64,
) -> SignedOrder {
    let order = Order {
        market: 1,
        isBuy: is_buy,
        limitPrice: price,
        size,
        timeInForce: tif,
        reduceOnly: false,
        expiryMs: now_ms() + 60_000,
        clientOrderId: nonce,
        nonce,
    };
    let signature = signer(owner)
        .sign_hash_sync(&order.hash(&domain()))
        .unwrap();
    SignedOrder { order, signature }
}

/// secp256k1 curve order.
pub const CURVE_ORDER: alloy_primitives::U256 = alloy_primitives::U256::from_limbs([
    0xBFD25E8CD0364141,
    0xBAAEDCE6AF48A03B,
    0xFFFFFFFFFFFFFFFE,
    0xFFFFFFFFFFFFFFFF,
]);

/// SplitMix64: reproducible without a dependency.
pub struct Rng(
    /// The state.
    pub u64,
);

impl Rng {
    /// The next value.
    #[allow(
        clippy::should_implement_trait,
        reason = "an endless source: Iterator's Option would only be unwrapped"
    )]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True `percent` times in 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Gas by opcode of one step (anvil's struct logger), for finding where it goes.
pub async fn trace_step(
    l1: &straddle_l1::L1Client,
    prover: Address,
    input: &straddle_l1::disputes::StepInput,
) {
    trace_call(l1, prover, input.calldata()).await;
}

/// [`trace_step`] of any call to `to` with `data`.
pub async fn trace_call(l1: &straddle_l1::L1Client, to: Address, data: Bytes) {
    use straddle_l1::alloy::providers::Provider;
    let prover = to;
    let call = serde_json::json!({"to": prover, "data": data});
    let options =
        serde_json::json!({"disableStack": true, "disableMemory": true, "disableStorage": true});
    let result: serde_json::Value = l1
        .provider()
        .raw_request("debug_traceCall".into(), (call, "latest", options))
        .await
        .unwrap();
    if let Some(path) = std::env::var_os("STRADDLE_TRACE_DUMP") {
        std::fs::write(path, result.to_string()).unwrap();
    }
    let mut by_op: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for log in result["structLogs"].as_array().unwrap() {
        let op = log["op"].as_str().unwrap_or("?").to_string();
        let cost = log["gasCost"].as_u64().unwrap_or(0);
        let entry = by_op.entry(op).or_default();
        entry.0 += 1;
        entry.1 += cost;
    }
    let mut ops: Vec<_> = by_op.into_iter().collect();
    ops.sort_by_key(|(_, (_, gas))| std::cmp::Reverse(*gas));
    for (op, (count, gas)) in ops.iter().take(15) {
        println!("    {op:>14} {count:>8} × = {gas:>9} gas");
    }
}

/// Runs every sub-step of `steps` through the oracle prover at `prover` (a `StepProver`
/// or an `OracleStepProver`): each must give the node's root after it.
pub async fn check_sub_steps(
    l1: &straddle_l1::L1Client,
    prover: Address,
    steps: &straddle_fault_proof::step::OracleSubSteps,
    context: &str,
) {
    for (input, root) in steps.inputs.iter().zip(&steps.roots[1..]) {
        let proven = l1.oracle_sub_step(prover, input).await.unwrap_or_else(|e| {
            panic!(
                "{context}: sub-step {} of {} reverted: {e}",
                input.index, input.count
            )
        });
        assert_eq!(
            proven, *root,
            "{context}: sub-step {} of {} differs",
            input.index, input.count
        );
    }
}
