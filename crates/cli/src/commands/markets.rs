//! Markets and their prices: `straddle markets`, `oracle show|push` (the devnet's signed
//! price reports, `docs/spec/clearinghouse.md` §2), `operator list-market|close-market`
//! and `liquidate` (`docs/spec/clearinghouse.md` §4–5).

use crate::support::{
    SignArgs, client, devnet_domain, devnet_oracle_update, parse_micro, print, send_transaction,
    usdc_text,
};
use alloy_primitives::Address;
use alloy_signer::SignerSync;
use clap::{Args, Subcommand, ValueEnum};
use eyre::{Context, eyre};
use straddle_primitives::admin::{INSTRUMENT_CALL, INSTRUMENT_PERPETUAL, INSTRUMENT_PUT};
use straddle_primitives::{
    Amount, CloseMarket, Liquidate, ListMarket, SignedLiquidate, Transaction,
};
use straddle_rpc_api::StraddleApiClient;

/// `straddle oracle`.
#[derive(Subcommand)]
pub(crate) enum OracleCommand {
    /// Show every underlying's accepted index and smiles.
    Show,
    /// Devnet: sign a price report with the devnet oracle keys and submit the update.
    Push {
        /// Underlying id (1 = ETH, 2 = BTC on the devnet).
        #[arg(long, default_value_t = 1)]
        underlying: u32,
        /// Index price in USDC.
        #[arg(long)]
        price: String,
        /// Option expiry to report a smile for, unix ms (default: the devnet expiry).
        #[arg(long, default_value_t = straddle_exchange::devnet::DEVNET_OPTION_EXPIRY_MS)]
        expiry_ms: u64,
        /// At-the-money volatility (0.65 = 65 %).
        #[arg(long, default_value = "0.65")]
        atm_vol: String,
        /// Skew per unit of log-moneyness.
        #[arg(long, default_value = "-0.1", allow_hyphen_values = true)]
        skew: String,
        /// Curvature per unit of log-moneyness squared.
        #[arg(long, default_value = "0.2")]
        curvature: String,
    },
}

/// `straddle operator`.
#[derive(Subcommand)]
pub(crate) enum OperatorCommand {
    /// List a market; it trades once an oracle update prices it.
    ListMarket {
        /// New market id.
        #[arg(long)]
        market: u32,
        /// Underlying id (1 ETH, 2 BTC on the devnet).
        #[arg(long)]
        underlying: u32,
        /// What it trades.
        #[arg(long, value_enum)]
        instrument: InstrumentArg,
        /// Option strike in USDC.
        #[arg(long, required_if_eq_any([("instrument", "call"), ("instrument", "put")]))]
        strike: Option<String>,
        /// Option expiry, unix milliseconds.
        #[arg(long, required_if_eq_any([("instrument", "call"), ("instrument", "put")]))]
        option_expiry_ms: Option<u64>,
        /// Price increment in USDC per contract.
        #[arg(long, default_value = "0.1")]
        tick: String,
        /// Size increment in contracts.
        #[arg(long, default_value = "0.001")]
        lot: String,
        /// Maker fee, ppm of notional.
        #[arg(long, default_value_t = 200)]
        maker_fee_ppm: u32,
        /// Taker fee, ppm of notional.
        #[arg(long, default_value_t = 500)]
        taker_fee_ppm: u32,
        #[command(flatten)]
        sign: SignArgs,
    },
    /// Close a perpetual market at the recent index mean; positions are paid out.
    CloseMarket {
        /// Market id.
        #[arg(long)]
        market: u32,
        #[command(flatten)]
        sign: SignArgs,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum InstrumentArg {
    Perpetual,
    Call,
    Put,
}

/// `straddle liquidate`.
#[derive(Args)]
pub(crate) struct LiquidateArgs {
    /// The account to liquidate.
    #[arg(long)]
    target: Address,
    /// Market id.
    #[arg(long)]
    market: u32,
    /// Size in contracts (6 decimals).
    #[arg(long)]
    size: String,
    #[command(flatten)]
    sign: SignArgs,
}

/// Prints every market with its mark, delta and open interest.
pub(crate) async fn markets(rpc: &str, json: bool) -> eyre::Result<()> {
    let markets = client(rpc)?.get_markets().await?;
    print(json, &markets, || {
        let mut lines = vec![format!(
            "{:>4} {:>3} {:>9} {:>10} {:>14} {:>8} {:>14} {:>10}",
            "id", "und", "kind", "strike", "mark", "delta", "open interest", "status"
        )];
        for m in &markets {
            lines.push(format!(
                "{:>4} {:>3} {:>9} {:>10} {:>14} {:>8} {:>14} {:>10}",
                m.id,
                m.underlying,
                m.kind,
                m.strike.map_or("-".into(), |k| usdc_text(&k.to_string())),
                m.mark
                    .map_or("unpriced".into(), |p| usdc_text(&p.to_string())),
                m.delta_nano
                    .map_or("-".into(), |d| format!("{:.3}", d as f64 / 1e9)),
                usdc_text(&m.open_interest.to_string()),
                m.status
            ));
        }
        lines.join("\n")
    })
}

/// Shows the accepted prices, or signs and pushes a devnet oracle update.
pub(crate) async fn oracle(rpc: &str, json: bool, command: OracleCommand) -> eyre::Result<()> {
    match command {
        OracleCommand::Show => {
            let oracles = client(rpc)?.get_oracles().await?;
            print(json, &oracles, || {
                oracles
                    .iter()
                    .map(|o| {
                        format!(
                            "{} ({}): index {} USDC at {} ms, {} smiles",
                            o.symbol,
                            o.underlying,
                            usdc_text(&o.index.to_string()),
                            o.timestamp_ms,
                            o.smiles.len()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        OracleCommand::Push {
            underlying,
            price,
            expiry_ms,
            atm_vol,
            skew,
            curvature,
        } => {
            let ppm = |text: &str| -> eyre::Result<i64> {
                let value: f64 = text
                    .parse()
                    .wrap_err_with(|| format!("not a number: {text}"))?;
                Ok((value * 1e6).round() as i64)
            };
            let smile = (
                expiry_ms,
                u32::try_from(ppm(&atm_vol)?)?,
                i32::try_from(ppm(&skew)?)?,
                u32::try_from(ppm(&curvature)?)?,
            );
            let index = u64::try_from(Amount::parse_whole(&price)?.0)
                .map_err(|_| eyre!("price too large"))?;
            let domain = devnet_domain(rpc).await?;
            let tx = devnet_oracle_update(&domain, underlying, index, smile)?;
            send_transaction(rpc, json, tx).await
        }
    }
}

/// Signs an operator request with the given key and sends it.
pub(crate) async fn operator(rpc: &str, json: bool, command: OperatorCommand) -> eyre::Result<()> {
    let domain = devnet_domain(rpc).await?;
    let tx = match command {
        OperatorCommand::ListMarket {
            market,
            underlying,
            instrument,
            strike,
            option_expiry_ms,
            tick,
            lot,
            maker_fee_ppm,
            taker_fee_ppm,
            sign,
        } => {
            let (nonce, expiry_ms) = sign.nonce_and_expiry();
            let listing = ListMarket {
                market,
                underlying,
                instrument: match instrument {
                    InstrumentArg::Perpetual => INSTRUMENT_PERPETUAL,
                    InstrumentArg::Call => INSTRUMENT_CALL,
                    InstrumentArg::Put => INSTRUMENT_PUT,
                },
                strike: strike
                    .map(|s| parse_micro(&s, "strike"))
                    .transpose()?
                    .unwrap_or(0),
                optionExpiryMs: option_expiry_ms.unwrap_or(0),
                tick: parse_micro(&tick, "tick")?,
                lot: parse_micro(&lot, "lot")?,
                makerFeePpm: maker_fee_ppm,
                takerFeePpm: taker_fee_ppm,
                nonce,
                expiryMs: expiry_ms,
            };
            let signature = sign
                .key
                .signer()?
                .sign_hash_sync(&listing.signing_hash(&domain))?;
            Transaction::ListMarket { listing, signature }
        }
        OperatorCommand::CloseMarket { market, sign } => {
            let (nonce, expiry_ms) = sign.nonce_and_expiry();
            let close = CloseMarket {
                market,
                nonce,
                expiryMs: expiry_ms,
            };
            let signature = sign
                .key
                .signer()?
                .sign_hash_sync(&close.signing_hash(&domain))?;
            Transaction::CloseMarket { close, signature }
        }
    };
    send_transaction(rpc, json, tx).await
}

/// Signs and sends a liquidation.
pub(crate) async fn liquidate(rpc: &str, json: bool, args: LiquidateArgs) -> eyre::Result<()> {
    let LiquidateArgs {
        target,
        market,
        size,
        sign,
    } = args;
    let size = parse_micro(&size, "size")?;
    let signer = sign.key.signer()?;
    let domain = devnet_domain(rpc).await?;
    let (nonce, expiry_ms) = sign.nonce_and_expiry();
    let liquidate = Liquidate {
        target,
        market,
        size,
        nonce,
        expiryMs: expiry_ms,
    };
    let signature = signer.sign_hash_sync(&liquidate.signing_hash(&domain))?;
    let tx = Transaction::Liquidate(SignedLiquidate {
        liquidate,
        signature,
    });
    send_transaction(rpc, json, tx).await
}
