//! The devnet: its chain id, its well-known keys (the public anvil/hardhat test mnemonic's
//! first ten accounts — never use them for anything of value) and its genesis.

use crate::clearinghouse::market::{Instrument, MarketSpec};
use crate::genesis::UnderlyingConfig;
use crate::oracle::OracleConfig;
use crate::risk::{OptionKind, RiskParams};
use crate::{Allocation, Genesis};
use alloy_primitives::{Address, B256};
use straddle_primitives::{Amount, Domain};

/// Devnet L2 chain id.
pub const DEVNET_CHAIN_ID: u64 = 424_242;
/// Collateral each devnet account starts with: 1,000,000 USDC.
pub const DEVNET_ALLOCATION: Amount = Amount::from_whole(1_000_000);

/// Private keys of the public test mnemonic `test test … junk`, accounts 0–9.
pub const DEV_PRIVATE_KEYS: [&str; 10] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "dbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// The devnet key at `index` as 32 bytes.
pub fn dev_key(index: usize) -> B256 {
    DEV_PRIVATE_KEYS[index % DEV_PRIVATE_KEYS.len()]
        .parse()
        .unwrap_or_default()
}

/// Devnet accounts whose keys sign oracle reports (quorum 2 of 3).
pub const DEVNET_ORACLE_SIGNERS: [usize; 3] = [7, 8, 9];
/// Expiry of the devnet's listed ETH options: 2027-03-26 08:00 UTC.
pub const DEVNET_OPTION_EXPIRY_MS: u64 = 1_806_048_000_000;

/// The devnet's listings: ETH (1) and BTC (2) with oracle signers
/// [`DEVNET_ORACLE_SIGNERS`]; ETH-PERP (market 1), BTC-PERP (2), and ETH calls and puts at
/// 2,500 / 3,000 / 3,500 expiring [`DEVNET_OPTION_EXPIRY_MS`] (markets 11–16).
fn devnet_listings(addresses: &[Address]) -> (Vec<UnderlyingConfig>, Vec<MarketSpec>) {
    let signers: Vec<Address> = DEVNET_ORACLE_SIGNERS
        .iter()
        .filter_map(|i| addresses.get(*i).copied())
        .collect();
    if signers.len() < DEVNET_ORACLE_SIGNERS.len() {
        return (Vec::new(), Vec::new());
    }
    let underlying = |id: u32, symbol: &str| UnderlyingConfig {
        id,
        symbol: symbol.into(),
        oracle: OracleConfig {
            underlying: id,
            signers: signers.clone(),
            quorum: 2,
            staleness_ms_max: 60_000,
            move_ppm_max: 100_000,
        },
        risk: RiskParams::default(),
        funding_premium_cap_ppm: 5_000,
    };
    let market =
        |id: u32, underlying: u32, instrument: Instrument, tick: u64, lot: u64| MarketSpec {
            id,
            underlying,
            instrument,
            tick_micro_usdc: tick,
            lot,
            maker_fee_ppm: 200,
            taker_fee_ppm: 500,
        };
    let mut markets = vec![
        market(1, 1, Instrument::Perpetual, 100_000, 1_000),
        market(2, 2, Instrument::Perpetual, 1_000_000, 100),
    ];
    let mut id = 11;
    for strike in [2_500u64, 3_000, 3_500] {
        for kind in [OptionKind::Call, OptionKind::Put] {
            let option = Instrument::Option {
                kind,
                strike_micro_usdc: strike * 1_000_000,
                expiry_ms: DEVNET_OPTION_EXPIRY_MS,
            };
            markets.push(market(id, 1, option, 100_000, 1_000));
            id += 1;
        }
    }
    (vec![underlying(1, "ETH"), underlying(2, "BTC")], markets)
}

/// The devnet genesis: account 0 is the operator (faucet on), accounts 0–9 hold
/// [`DEVNET_ALLOCATION`] each, and the listings of `devnet_listings`.
pub fn devnet_genesis(addresses: &[Address]) -> Genesis {
    let (underlyings, markets) = devnet_listings(addresses);
    Genesis {
        domain: Domain {
            chain_id: DEVNET_CHAIN_ID,
            verifying_contract: Address::ZERO,
        },
        timestamp_ms: 0,
        operator: addresses.first().copied(),
        faucet_enabled: true,
        allocations: addresses
            .iter()
            .map(|address| Allocation {
                address: *address,
                amount: DEVNET_ALLOCATION,
            })
            .collect(),
        underlyings,
        markets,
    }
}
