//! An account's collateral: `straddle transfer`, `withdraw` (and `withdraw finalize`,
//! the payout on L1 of `docs/spec/settlement.md` §2), `mint` (the devnet faucet),
//! `margin deposit|withdraw`, `balance`, and `typed-data`, the EIP-712 payload of these
//! actions for external signers (`docs/spec/actions.md`).

use crate::support::{SignArgs, client, parse_l1_key, print, send, usdc_text};
use alloy_primitives::Address;
use clap::{Args, Subcommand, ValueEnum};
use std::time::Duration;
use straddle_exchange::devnet::DEVNET_CHAIN_ID;
use straddle_primitives::{
    Action, Amount, DepositMargin, Domain, Mint, Transfer, Withdraw, WithdrawMargin,
};
use straddle_rpc_api::StraddleApiClient;

/// `straddle transfer`.
#[derive(Args)]
pub(crate) struct TransferArgs {
    /// Recipient address.
    #[arg(long)]
    to: Address,
    /// Amount in USDC, up to 6 decimals (e.g. 12.5).
    #[arg(long)]
    amount: String,
    #[command(flatten)]
    sign: SignArgs,
}

/// `straddle withdraw`: a request, or with the `finalize` subcommand its payout on L1.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct WithdrawArgs {
    #[command(subcommand)]
    finalize: Option<WithdrawCommand>,
    /// L1 recipient (defaults to the signer).
    #[arg(long)]
    recipient: Option<Address>,
    /// Amount in USDC, up to 6 decimals.
    #[arg(long, required = true)]
    amount: Option<String>,
    #[command(flatten)]
    sign: SignArgs,
}

#[derive(Subcommand)]
enum WithdrawCommand {
    /// Pay out an L2 withdrawal on L1: proves it against the latest finalized output
    /// and calls `Portal.finalizeWithdrawal` (anyone may relay; the tokens go to the
    /// withdrawal's recipient).
    Finalize {
        /// The withdrawal's index (in the receipt of `straddle withdraw`).
        #[arg(long)]
        index: u64,
        /// L1 JSON-RPC endpoint (HTTP).
        #[arg(long)]
        l1_rpc: String,
        /// The L1 Portal.
        #[arg(long)]
        portal: Address,
        /// The L1 OutputRegistry.
        #[arg(long)]
        registry: Address,
        /// The L1 key paying the gas (hex).
        #[arg(long, env = "STRADDLE_L1_KEY", hide_env_values = true)]
        l1_key: String,
        /// Wait up to this many seconds for a finalized output that covers the withdrawal.
        #[arg(long, default_value_t = 0)]
        wait_secs: u64,
    },
}

/// `straddle mint`.
#[derive(Args)]
pub(crate) struct MintArgs {
    /// Recipient address.
    #[arg(long)]
    to: Address,
    /// Amount in USDC, up to 6 decimals.
    #[arg(long)]
    amount: String,
    #[command(flatten)]
    sign: SignArgs,
}

/// `straddle margin`.
#[derive(Subcommand)]
pub(crate) enum MarginCommand {
    /// Move collateral into your margin account (trading cash).
    Deposit {
        /// Amount in USDC, up to 6 decimals.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        sign: SignArgs,
    },
    /// Move cash from your margin account back to collateral (needs initial margin to
    /// stay covered when you hold positions).
    Withdraw {
        /// Amount in USDC, up to 6 decimals.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        sign: SignArgs,
    },
}

/// `straddle balance`.
#[derive(Args)]
pub(crate) struct BalanceArgs {
    /// The account.
    address: Address,
}

/// `straddle typed-data`.
#[derive(Args)]
pub(crate) struct TypedDataArgs {
    /// The action.
    #[arg(long, value_enum)]
    kind: ActionKind,
    /// Recipient (L2 for transfer/mint, L1 for withdraw; not used by margin actions).
    #[arg(long, required_if_eq_any = [("kind", "transfer"), ("kind", "withdraw"), ("kind", "mint")])]
    to: Option<Address>,
    /// Amount in USDC, up to 6 decimals.
    #[arg(long)]
    amount: String,
    /// Nonce.
    #[arg(long)]
    nonce: u64,
    /// Expiry, unix milliseconds.
    #[arg(long)]
    expiry_ms: u64,
    /// Chain id.
    #[arg(long, default_value_t = DEVNET_CHAIN_ID)]
    chain_id: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum ActionKind {
    Transfer,
    Withdraw,
    Mint,
    DepositMargin,
    WithdrawMargin,
}

/// Signs and sends a transfer.
pub(crate) async fn transfer(rpc: &str, json: bool, args: TransferArgs) -> eyre::Result<()> {
    let TransferArgs { to, amount, sign } = args;
    let amount = Amount::parse_whole(&amount)?;
    send(rpc, json, &sign, |nonce, expiry_ms| {
        Action::Transfer(Transfer {
            to,
            amount: amount.0,
            nonce,
            expiryMs: expiry_ms,
        })
    })
    .await
}

/// Signs and sends a withdrawal request, or pays one out on L1 (`withdraw finalize`).
pub(crate) async fn withdraw(rpc: &str, json: bool, args: WithdrawArgs) -> eyre::Result<()> {
    let WithdrawArgs {
        finalize,
        recipient,
        amount,
        sign,
    } = args;
    if let Some(command) = finalize {
        return finalize_withdrawal(rpc, json, command).await;
    }
    let amount = Amount::parse_whole(amount.as_deref().unwrap_or_default())?;
    let recipient = match recipient {
        Some(r) => r,
        None => sign.key.signer()?.address(),
    };
    send(rpc, json, &sign, |nonce, expiry_ms| {
        Action::Withdraw(Withdraw {
            recipient,
            amount: amount.0,
            nonce,
            expiryMs: expiry_ms,
        })
    })
    .await
}

/// `straddle withdraw finalize`: the latest finalized output covering the withdrawal,
/// its proof from the L2 node against that output's block, then the Portal call.
async fn finalize_withdrawal(rpc: &str, json: bool, command: WithdrawCommand) -> eyre::Result<()> {
    let WithdrawCommand::Finalize {
        index,
        l1_rpc,
        portal,
        registry,
        l1_key,
        wait_secs,
    } = command;
    let l1 = straddle_l1::L1Client::connect(&l1_rpc, parse_l1_key(&l1_key)?)?;
    let l2 = client(rpc)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(wait_secs);
    let (output, proof) = loop {
        let output = l1.latest_finalized_output(registry).await?;
        if let Some(output) = output {
            match l2.get_withdrawal_proof(index, output.l2_block).await {
                Ok(proof) => break (output, proof),
                Err(jsonrpsee::core::ClientError::Call(e))
                    if e.code() == straddle_rpc_api::errors::NOT_FOUND => {}
                Err(e) => return Err(e.into()),
            }
        }
        eyre::ensure!(
            std::time::Instant::now() < deadline,
            "no finalized output covers withdrawal {index} yet (outputs finalize after the registry's challenge window; pass --wait-secs to wait)"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eyre::ensure!(
        proof.state_root == output.state_root,
        "the L2 node's state root at block {} ({}) differs from output {}'s ({}): this node is not on the proposed chain",
        output.l2_block,
        proof.state_root,
        output.index,
        output.state_root
    );
    let claim = straddle_l1::WithdrawalClaim {
        index,
        account: proof.account,
        recipient: proof.recipient,
        amount: proof.amount.0,
        l2_block: proof.l2_block_number,
    };
    eyre::ensure!(
        !l1.withdrawal_finalized(portal, &claim).await?,
        "withdrawal {index} is already finalized on L1"
    );
    let tx = l1
        .finalize_withdrawal(portal, output.index, &claim, proof.siblings.clone())
        .await?;
    let report = serde_json::json!({
        "index": index,
        "recipient": proof.recipient,
        "amount": proof.amount,
        "outputIndex": output.index,
        "l2BlockNumber": output.l2_block,
        "l1Transaction": tx,
    });
    print(json, &report, || {
        format!(
            "withdrawal {index} paid: {} to {} (output {} at L2 block {}), L1 tx {tx}",
            usdc_text(&proof.amount.0.to_string()),
            proof.recipient,
            output.index,
            output.l2_block
        )
    })
}

/// Signs and sends a faucet mint.
pub(crate) async fn mint(rpc: &str, json: bool, args: MintArgs) -> eyre::Result<()> {
    let MintArgs { to, amount, sign } = args;
    let amount = Amount::parse_whole(&amount)?;
    send(rpc, json, &sign, |nonce, expiry_ms| {
        Action::Mint(Mint {
            to,
            amount: amount.0,
            nonce,
            expiryMs: expiry_ms,
        })
    })
    .await
}

/// Signs and sends a margin deposit or withdrawal.
pub(crate) async fn margin(rpc: &str, json: bool, command: MarginCommand) -> eyre::Result<()> {
    match command {
        MarginCommand::Deposit { amount, sign } => {
            let amount = Amount::parse_whole(&amount)?;
            send(rpc, json, &sign, |nonce, expiry_ms| {
                Action::DepositMargin(DepositMargin {
                    amount: amount.0,
                    nonce,
                    expiryMs: expiry_ms,
                })
            })
            .await
        }
        MarginCommand::Withdraw { amount, sign } => {
            let amount = Amount::parse_whole(&amount)?;
            send(rpc, json, &sign, |nonce, expiry_ms| {
                Action::WithdrawMargin(WithdrawMargin {
                    amount: amount.0,
                    nonce,
                    expiryMs: expiry_ms,
                })
            })
            .await
        }
    }
}

/// Prints an account's collateral and, when it trades, its margin account.
pub(crate) async fn balance(rpc: &str, json: bool, args: BalanceArgs) -> eyre::Result<()> {
    let account = client(rpc)?.get_account(args.address).await?;
    print(json, &account, || {
        let margin = &account.margin;
        if margin.cash == "0" && margin.positions.is_empty() {
            return format!("{} USDC", account.collateral);
        }
        let positions: Vec<String> = margin
            .positions
            .iter()
            .map(|p| {
                format!(
                    "market {}: {} @ {} (P&L {})",
                    p.market,
                    usdc_text(&p.size.to_string()),
                    usdc_text(&p.entry_price.to_string()),
                    p.unrealized_pnl
                        .as_deref()
                        .map_or("unpriced".to_string(), usdc_text)
                )
            })
            .collect();
        let nano = |text: &str| text.parse::<f64>().map_or(0.0, |v| v / 1e9);
        format!(
            "{} USDC\nmargin: cash {} USDC, equity {} USDC, maintenance {} USDC, initial {} USDC, free {} USDC\n  positions: {}\n  delta {:.4}, gamma {:.6}, vega {:.2} USDC/pt, theta {:.2} USDC/day\n  estimated liquidation index: {}",
            account.collateral,
            usdc_text(&margin.cash),
            usdc_text(&margin.equity),
            usdc_text(&margin.maintenance),
            usdc_text(&margin.initial),
            usdc_text(&margin.free_collateral),
            if positions.is_empty() {
                "none".to_string()
            } else {
                positions.join(", ")
            },
            nano(&margin.delta_nano),
            nano(&margin.gamma_nano),
            nano(&margin.vega_nano),
            nano(&margin.theta_nano),
            margin
                .liquidation_index
                .map_or("beyond the margin grid".to_string(), |i| format!(
                    "{} USDC",
                    usdc_text(&i.to_string())
                )),
        )
    })
}

/// Prints the EIP-712 typed data of an action (no node needed).
pub(crate) fn typed_data(args: TypedDataArgs) -> eyre::Result<()> {
    let TypedDataArgs {
        kind,
        to,
        amount,
        nonce,
        expiry_ms,
        chain_id,
    } = args;
    let amount = Amount::parse_whole(&amount)?.0;
    let to = to.unwrap_or(Address::ZERO);
    let action = match kind {
        ActionKind::DepositMargin => Action::DepositMargin(DepositMargin {
            amount,
            nonce,
            expiryMs: expiry_ms,
        }),
        ActionKind::WithdrawMargin => Action::WithdrawMargin(WithdrawMargin {
            amount,
            nonce,
            expiryMs: expiry_ms,
        }),
        ActionKind::Transfer => Action::Transfer(Transfer {
            to,
            amount,
            nonce,
            expiryMs: expiry_ms,
        }),
        ActionKind::Withdraw => Action::Withdraw(Withdraw {
            recipient: to,
            amount,
            nonce,
            expiryMs: expiry_ms,
        }),
        ActionKind::Mint => Action::Mint(Mint {
            to,
            amount,
            nonce,
            expiryMs: expiry_ms,
        }),
    };
    let domain = Domain {
        chain_id,
        verifying_contract: Address::ZERO,
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&action.typed_data_json(&domain))?
    );
    Ok(())
}
