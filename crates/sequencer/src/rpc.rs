//! The JSON-RPC server (HTTP and WebSocket on one port).

use crate::errors::signature_error;
use crate::sequencer::{BlockEvent, Sequencer, SubmitError};
use alloy_primitives::{Address, B256, Bytes};
use jsonrpsee::core::{SubscriptionResult, async_trait};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use straddle_exchange::AdmittedTx;
use straddle_exchange::{Genesis, StateKey};
use straddle_fault_proof::archive::{ArchiveError, ProofArchive};
use straddle_fault_proof::step::StepError;
use straddle_primitives::block::BlockHeader;
use straddle_primitives::block::{StoredTx, with_hashes};
use straddle_primitives::signed::parse_signature;
use straddle_primitives::{Action, Amount, SignedAction, Transaction};
use straddle_rpc_api::errors::{self, rpc_error};
use straddle_rpc_api::*;
use straddle_storage::chain_store::ChainStore;
use tokio::sync::broadcast::error::RecvError;

/// The RPC handler.
pub struct RpcHandler {
    sequencer: Arc<Sequencer>,
    store: Arc<ChainStore>,
    genesis: Genesis,
    archive: Arc<ProofArchive>,
}

impl RpcHandler {
    /// A handler over a running sequencer.
    pub fn new(sequencer: Arc<Sequencer>, store: Arc<ChainStore>, genesis: Genesis) -> RpcHandler {
        RpcHandler {
            archive: Arc::new(ProofArchive::new(store.clone(), genesis.clone())),
            sequencer,
            store,
            genesis,
        }
    }

    fn block_view(&self, header: BlockHeader, txs: Vec<StoredTx>, full: bool) -> BlockView {
        let txs = with_hashes(txs, &self.genesis.domain);
        BlockView {
            hash: header.hash(),
            status: self.sequencer.finality(header.number),
            header,
            transaction_hashes: txs.iter().map(|tx| tx.hash).collect(),
            transactions: if full {
                txs.into_iter()
                    .map(|tx| {
                        let (kind, action, signature) = match &tx.tx {
                            Transaction::Action(signed) => (
                                "action",
                                Some(signed.action.clone()),
                                Some(Bytes::from(signed.signature.as_bytes().to_vec())),
                            ),
                            Transaction::OracleUpdate { .. } => ("oracleUpdate", None, None),
                            Transaction::Match { .. } => ("match", None, None),
                            Transaction::Cancel(_) => ("cancel", None, None),
                            Transaction::Liquidate(_) => ("liquidate", None, None),
                            Transaction::AutoDeleverage(_) => ("autoDeleverage", None, None),
                            Transaction::RetireOrder(_) => ("retireOrder", None, None),
                            Transaction::Deposit(_) => ("deposit", None, None),
                            Transaction::Forced(_) => ("forced", None, None),
                            Transaction::Undecodable => ("undecodable", None, None),
                            Transaction::BulkCancel { .. } => ("bulkCancel", None, None),
                            Transaction::PlaceOrders { .. } => ("placeOrders", None, None),
                            Transaction::PlaceOrder(_) => ("placeOrder", None, None),
                            Transaction::MatchPlaced { .. } => ("matchPlaced", None, None),
                            Transaction::ListMarket { .. } => ("listMarket", None, None),
                            Transaction::CloseMarket { .. } => ("closeMarket", None, None),
                        };
                        TransactionView {
                            hash: tx.hash,
                            sender: tx.sender,
                            kind: kind.into(),
                            action,
                            signature,
                            raw: Bytes::from(tx.tx.encode()),
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }
}

impl RpcHandler {
    async fn submit(&self, tx: Transaction) -> RpcResult<Receipt> {
        let admitted =
            AdmittedTx::new(tx, &self.genesis.domain).map_err(|e| signature_error(&e))?;
        let ack = self.sequencer.submit(admitted).await?;
        Ok(Receipt {
            tx_hash: ack.tx_hash,
            sender: ack.sender,
            block_number: ack.block_number,
            index: ack.index,
            status: Finality::Soft,
            withdrawal_index: ack.withdrawal_index,
        })
    }
}

fn market_view(market: &straddle_exchange::clearinghouse::market::Market) -> MarketView {
    use straddle_exchange::clearinghouse::market::{Instrument, MarketStatus};
    use straddle_exchange::risk::OptionKind;
    let (kind, strike, expiry_ms) = match market.spec.instrument {
        Instrument::Perpetual => ("perpetual", None, None),
        Instrument::Option {
            kind,
            strike_micro_usdc,
            expiry_ms,
        } => (
            if kind == OptionKind::Call {
                "call"
            } else {
                "put"
            },
            Some(strike_micro_usdc),
            Some(expiry_ms),
        ),
    };
    let (status, settlement_value) = match market.status {
        MarketStatus::Active => ("active", None),
        MarketStatus::Settled { value_micro_usdc } => ("settled", Some(value_micro_usdc)),
    };
    let vector = market.vector.as_ref();
    MarketView {
        id: market.spec.id,
        underlying: market.spec.underlying,
        kind: kind.into(),
        strike,
        expiry_ms,
        tick: market.spec.tick_micro_usdc,
        lot: market.spec.lot,
        maker_fee_ppm: market.spec.maker_fee_ppm,
        taker_fee_ppm: market.spec.taker_fee_ppm,
        status: status.into(),
        settlement_value,
        open_interest: market.open_interest,
        last_price: market.last_price_micro_usdc,
        funding_index: market.funding_index.to_string(),
        mark: vector.map(|v| (v.mark_nano / 1_000) as u64),
        delta_nano: vector.map(|v| v.delta_nano),
        gamma_nano: vector.map(|v| v.gamma_nano),
        vega_nano: vector.map(|v| v.vega_nano),
        theta_nano: vector.map(|v| v.theta_nano),
        sigma_ppm: vector.map(|v| v.sigma_ppm),
    }
}

impl RpcHandler {
    /// The sub-steps of oracle update `index` of block `number`, replayed off the
    /// async runtime.
    async fn oracle_sub_steps(
        &self,
        number: u64,
        index: u64,
    ) -> RpcResult<straddle_fault_proof::step::OracleSubSteps> {
        let archive = self.archive.clone();
        let index = usize::try_from(index)
            .map_err(|_| rpc_error(errors::NOT_FOUND, "no such transaction"))?;
        tokio::task::spawn_blocking(move || archive.oracle_sub_steps(number, index))
            .await
            .map_err(storage_error)?
            .map_err(archive_error)
    }
}

/// A transaction from its canonical bytes; malformed bytes are invalid parameters.
fn decode_transaction(raw: &[u8]) -> RpcResult<Transaction> {
    Transaction::decode(raw).map_err(|e| {
        rpc_error(
            errors::INVALID_PARAMS,
            format!("not a canonical transaction: {e}"),
        )
    })
}

fn storage_error(error: impl std::fmt::Display) -> ErrorObjectOwned {
    tracing::error!(%error, "storage error while answering a query");
    rpc_error(errors::INTERNAL, "internal storage error")
}

fn head_view(header: &BlockHeader, hash: B256) -> BlockHeadView {
    BlockHeadView {
        number: header.number,
        hash,
        state_root: header.state_root,
        timestamp_ms: header.timestamp_ms,
    }
}

fn event_view(event: &BlockEvent) -> BlockView {
    BlockView {
        hash: event.hash,
        header: event.header.clone(),
        status: Finality::Soft,
        transactions: Vec::new(),
        transaction_hashes: event.transactions.clone(),
    }
}

#[async_trait]
impl StraddleApiServer for RpcHandler {
    async fn chain_id(&self) -> RpcResult<u64> {
        Ok(self.genesis.domain.chain_id)
    }

    async fn chain_head(&self) -> RpcResult<ChainHead> {
        let (header, hash) = self.sequencer.committed_head();
        let shared = &self.sequencer.shared;
        let level = |number: &std::sync::atomic::AtomicU64| -> RpcResult<BlockHeadView> {
            let number = number.load(Ordering::Acquire).min(header.number);
            let header = self
                .store
                .header(number)
                .map_err(storage_error)?
                .ok_or_else(|| storage_error(format!("block {number} missing")))?;
            Ok(head_view(&header, header.hash()))
        };
        Ok(ChainHead {
            chain_id: self.genesis.domain.chain_id,
            soft: head_view(&header, hash),
            safe: level(&shared.safe_number)?,
            finalized: level(&shared.finalized_number)?,
            derived_l1_block: shared.derived_l1_block.load(Ordering::Acquire),
        })
    }

    async fn send_action(&self, request: SendActionRequest) -> RpcResult<Receipt> {
        let chain_id = self.genesis.domain.chain_id;
        if request.chain_id != chain_id {
            return Err(rpc_error(
                errors::WRONG_CHAIN_ID,
                format!(
                    "wrong chain id {}: this chain is {chain_id}",
                    request.chain_id
                ),
            ));
        }
        let signature = parse_signature(&request.signature).map_err(|e| signature_error(&e))?;
        let signed = SignedAction {
            action: request.action,
            signature,
        };
        self.submit(Transaction::Action(signed)).await
    }

    async fn send_transaction(&self, raw: Bytes) -> RpcResult<Receipt> {
        let tx = decode_transaction(&raw)?;
        self.submit(tx).await
    }

    async fn get_markets(&self) -> RpcResult<Vec<MarketView>> {
        Ok(self
            .sequencer
            .read(|chain| {
                chain
                    .ledger
                    .clearinghouse()
                    .markets()
                    .map(market_view)
                    .collect()
            })
            .await?)
    }

    async fn get_oracles(&self) -> RpcResult<Vec<OracleView>> {
        Ok(self
            .sequencer
            .read(|chain| {
                chain
                    .ledger
                    .underlyings()
                    .map(|u| OracleView {
                        underlying: u.config.id,
                        symbol: u.config.symbol.clone(),
                        index: u.oracle.index_micro_usdc,
                        timestamp_ms: u.oracle.timestamp_ms,
                        smiles: u
                            .oracle
                            .smiles
                            .iter()
                            .map(|(e, s)| (*e, s.atm_vol_ppm, s.skew_ppm, s.curvature_ppm))
                            .collect(),
                    })
                    .collect()
            })
            .await?)
    }

    async fn typed_data(&self, action: Action) -> RpcResult<serde_json::Value> {
        Ok(action.typed_data_json(&self.genesis.domain))
    }

    async fn get_account(&self, address: Address) -> RpcResult<AccountView> {
        let snapshot = self.sequencer.account(address).await?;
        Ok(account_view(address, snapshot))
    }

    async fn place_order(&self, raw: Bytes) -> RpcResult<OrderAck> {
        let tx = decode_transaction(&raw)?;
        let Transaction::PlaceOrder(signed) = tx else {
            return Err(rpc_error(
                errors::INVALID_PARAMS,
                "placeOrder takes a kind-0x1A transaction (one signed order)",
            ));
        };
        let verified = signed
            .clone()
            .verify(&self.genesis.domain)
            .map_err(|e| signature_error(&e))?;
        Ok(self.sequencer.place_order(signed, verified).await?)
    }

    async fn get_book(&self, market: u32, levels: Option<usize>) -> RpcResult<BookSnapshot> {
        self.sequencer
            .book(market, levels.unwrap_or(usize::MAX))
            .await?
            .ok_or_else(|| rpc_error(errors::INVALID_PARAMS, format!("unknown market {market}")))
    }

    async fn open_orders(&self, owner: Address) -> RpcResult<Vec<OrderUpdate>> {
        Ok(self.sequencer.open_orders(owner).await?)
    }

    async fn get_ticker(&self, market: u32) -> RpcResult<TickerView> {
        ticker(&self.sequencer, market)
            .await?
            .ok_or_else(|| rpc_error(errors::INVALID_PARAMS, format!("unknown market {market}")))
    }

    async fn subscribe_book(
        &self,
        pending: PendingSubscriptionSink,
        market: u32,
    ) -> SubscriptionResult {
        let events = self.sequencer.shared.market.subscribe();
        forward_market(pending, events, "book", move |event| match event {
            MarketEvent::Book(update) if update.market == market => Some(update.clone()),
            _ => None,
        })
        .await
    }

    async fn subscribe_trades(
        &self,
        pending: PendingSubscriptionSink,
        market: u32,
    ) -> SubscriptionResult {
        let events = self.sequencer.shared.market.subscribe();
        forward_market(pending, events, "trades", move |event| match event {
            MarketEvent::Trade(trade) if trade.market == market => Some(trade.clone()),
            _ => None,
        })
        .await
    }

    async fn subscribe_ticker(
        &self,
        pending: PendingSubscriptionSink,
        market: u32,
    ) -> SubscriptionResult {
        let mut blocks = self.sequencer.shared.blocks.subscribe();
        let sink = pending.accept().await?;
        loop {
            tokio::select! {
                _ = sink.closed() => return Ok(()),
                event = blocks.recv() => match event {
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        let Ok(Some(view)) = ticker(&self.sequencer, market).await else { return Ok(()) };
                        if send_json(&sink, &view).await.is_err() { return Ok(()); }
                    }
                    Err(RecvError::Closed) => return Ok(()),
                }
            }
        }
    }

    async fn subscribe_user(
        &self,
        pending: PendingSubscriptionSink,
        address: Address,
    ) -> SubscriptionResult {
        let mut market = self.sequencer.shared.market.subscribe();
        let mut blocks = self.sequencer.shared.blocks.subscribe();
        let sink = pending.accept().await?;
        loop {
            tokio::select! {
                _ = sink.closed() => return Ok(()),
                group = market.recv() => match group {
                    Ok(group) => {
                        for event in group.iter() {
                            let mine = match event {
                                MarketEvent::Order(order) if order.owner == address => Some(UserEvent::Order(order.clone())),
                                MarketEvent::Trade(trade) if trade.taker == address || trade.maker == address => Some(UserEvent::Fill(trade.clone())),
                                _ => None,
                            };
                            if let Some(mine) = mine && send_json(&sink, &mine).await.is_err() { return Ok(()); }
                        }
                    }
                    Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "user subscriber lagged"),
                    Err(RecvError::Closed) => return Ok(()),
                },
                event = blocks.recv() => match event {
                    Ok(event) => {
                        if !event.portfolios.contains(&address) { continue; }
                        let Ok(snapshot) = self.sequencer.account(address).await else { return Ok(()) };
                        let margin = UserEvent::Margin(account_view(address, snapshot).margin);
                        if send_json(&sink, &margin).await.is_err() { return Ok(()); }
                    }
                    Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "user subscriber lagged"),
                    Err(RecvError::Closed) => return Ok(()),
                }
            }
        }
    }

    async fn get_block(&self, block: BlockRef, full: Option<bool>) -> RpcResult<Option<BlockView>> {
        let number = match block {
            BlockRef::Number(number) => number,
            BlockRef::Hash(hash) => match self.store.block_number(&hash).map_err(storage_error)? {
                Some(number) => number,
                None => return Ok(None),
            },
            BlockRef::Tag(tag) if tag == "latest" => self
                .sequencer
                .shared
                .committed_number
                .load(Ordering::Acquire),
            BlockRef::Tag(tag) => {
                return Err(rpc_error(
                    errors::INVALID_PARAMS,
                    format!("unknown block reference {tag:?}: use a number, a hash or \"latest\""),
                ));
            }
        };
        let block = self.store.block(number).map_err(storage_error)?;
        Ok(block.map(|(header, txs)| self.block_view(header, txs, full.unwrap_or(false))))
    }

    async fn get_receipt(&self, tx_hash: B256) -> RpcResult<Option<Receipt>> {
        let Some(location) = self.store.tx_location(&tx_hash).map_err(storage_error)? else {
            return Ok(None);
        };
        let Some((_, txs)) = self
            .store
            .block(location.block_number)
            .map_err(storage_error)?
        else {
            return Ok(None);
        };
        let Some(tx) = txs.get(location.index as usize) else {
            return Ok(None);
        };
        Ok(Some(Receipt {
            tx_hash,
            sender: tx.sender,
            block_number: location.block_number,
            index: location.index,
            status: self.sequencer.finality(location.block_number),
            withdrawal_index: None,
        }))
    }

    async fn get_withdrawal_proof(
        &self,
        index: u64,
        block_number: u64,
    ) -> RpcResult<WithdrawalProofView> {
        let archive = self.archive.clone();
        let proof =
            tokio::task::spawn_blocking(move || archive.withdrawal_proof(index, block_number))
                .await
                .map_err(storage_error)?
                .map_err(archive_error)?;
        Ok(WithdrawalProofView {
            index: proof.index,
            account: proof.account,
            recipient: proof.recipient,
            amount: Amount(proof.amount),
            l2_block_number: proof.l2_block,
            block_number: proof.block_number,
            state_root: proof.state_root,
            block_hash: proof.block_hash,
            siblings: proof.siblings,
        })
    }

    async fn get_forced_queue(&self, block_number: u64) -> RpcResult<ForcedQueueView> {
        let archive = self.archive.clone();
        let (next, state_root, witness) =
            tokio::task::spawn_blocking(move || archive.forced_queue(block_number))
                .await
                .map_err(storage_error)?
                .map_err(archive_error)?;
        Ok(ForcedQueueView {
            block_number,
            state_root,
            next,
            witness,
        })
    }

    async fn get_block_positions(&self, block_number: u64) -> RpcResult<Vec<B256>> {
        let archive = self.archive.clone();
        tokio::task::spawn_blocking(move || archive.block_positions(block_number))
            .await
            .map_err(storage_error)?
            .map_err(archive_error)
    }

    async fn get_block_source(&self, block_number: u64) -> RpcResult<Option<BlockSource>> {
        self.store.block_source(block_number).map_err(storage_error)
    }

    async fn get_step(&self, block_number: u64, index: u64) -> RpcResult<StepView> {
        let archive = self.archive.clone();
        let index = usize::try_from(index)
            .map_err(|_| rpc_error(errors::NOT_FOUND, "no such transaction"))?;
        let (input, siblings) =
            tokio::task::spawn_blocking(move || archive.step(block_number, index))
                .await
                .map_err(storage_error)?
                .map_err(archive_error)?;
        Ok(StepView {
            pre_root: input.pre_root,
            block_number: input.block_number,
            timestamp_ms: input.timestamp_ms,
            transaction: input.transaction,
            witness: input.witness,
            siblings,
        })
    }

    async fn get_sub_step_positions(&self, block_number: u64, index: u64) -> RpcResult<Vec<B256>> {
        Ok(self.oracle_sub_steps(block_number, index).await?.roots)
    }

    async fn get_sub_step(
        &self,
        block_number: u64,
        index: u64,
        sub_step: u64,
    ) -> RpcResult<SubStepView> {
        let steps = self.oracle_sub_steps(block_number, index).await?;
        let input = usize::try_from(sub_step)
            .ok()
            .and_then(|k| k.checked_sub(1))
            .and_then(|k| steps.inputs.into_iter().nth(k))
            .ok_or_else(|| rpc_error(errors::NOT_FOUND, "no such sub-step"))?;
        Ok(SubStepView {
            pre_root: input.pre_root,
            timestamp_ms: input.timestamp_ms,
            transaction: input.transaction,
            sub_step: input.index,
            count: input.count,
            witness: input.witness,
        })
    }

    async fn get_proof(&self, address: Address) -> RpcResult<ProofView> {
        let snapshot = self.sequencer.proof(StateKey::Account(address)).await?;
        Ok(ProofView {
            block_number: snapshot.block_number,
            state_root: snapshot.state_root,
            key_hash: straddle_state::key_hash(&snapshot.key),
            key: Bytes::from(snapshot.key),
            value: snapshot.value.map(Bytes::from),
            proof: snapshot.proof,
        })
    }

    async fn subscribe_new_blocks(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        let events = self.sequencer.shared.blocks.subscribe();
        forward(pending, events, "new blocks", |event| {
            vec![event_view(event)]
        })
        .await
    }

    async fn subscribe_account(
        &self,
        pending: PendingSubscriptionSink,
        address: Address,
    ) -> SubscriptionResult {
        let events = self.sequencer.shared.blocks.subscribe();
        forward(pending, events, "account", move |event| {
            event
                .accounts
                .iter()
                .filter(|(a, _)| *a == address)
                .map(|(_, account)| AccountUpdate {
                    block_number: event.header.number,
                    collateral: account.collateral,
                    nonces: account.nonces.clone(),
                })
                .collect()
        })
        .await
    }
}

/// Sends one JSON item to a subscriber.
async fn send_json<T: serde::Serialize>(
    sink: &jsonrpsee::SubscriptionSink,
    item: &T,
) -> Result<(), ()> {
    let raw = serde_json::value::to_raw_value(item).map_err(|_| ())?;
    sink.send(SubscriptionMessage::from(raw))
        .await
        .map_err(|_| ())
}

/// Forwards to a subscriber, until it leaves, the items `pick` draws from each event of
/// `events`. A lagging subscriber misses events (logged); book subscribers see the gap in
/// the update numbers.
async fn forward<E: Clone, T: serde::Serialize>(
    pending: PendingSubscriptionSink,
    mut events: tokio::sync::broadcast::Receiver<E>,
    what: &'static str,
    pick: impl Fn(&E) -> Vec<T>,
) -> SubscriptionResult {
    let sink = pending.accept().await?;
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            event = events.recv() => match event {
                Ok(event) => {
                    for item in pick(&event) {
                        if send_json(&sink, &item).await.is_err() { return Ok(()); }
                    }
                }
                Err(RecvError::Lagged(missed)) => tracing::warn!(missed, what, "subscriber lagged"),
                Err(RecvError::Closed) => return Ok(()),
            }
        }
    }
}

/// [`forward`] over market event groups, one item per event `pick` selects.
async fn forward_market<T: serde::Serialize>(
    pending: PendingSubscriptionSink,
    events: tokio::sync::broadcast::Receiver<Arc<Vec<MarketEvent>>>,
    what: &'static str,
    pick: impl Fn(&MarketEvent) -> Option<T>,
) -> SubscriptionResult {
    forward(pending, events, what, |group| {
        group.iter().filter_map(&pick).collect()
    })
    .await
}

/// A market's ticker: the market from the sequencer's state, the best levels from its
/// book. `None` for an unknown market.
async fn ticker(sequencer: &Sequencer, market: u32) -> Result<Option<TickerView>, SubmitError> {
    let Some(book) = sequencer.book(market, 1).await? else {
        return Ok(None);
    };
    let view = sequencer
        .read(move |chain| {
            let ledger = &chain.ledger;
            let m = ledger.clearinghouse().market(market)?;
            let index = ledger
                .underlying(m.spec.underlying)
                .map_or(0, |u| u.oracle.index_micro_usdc);
            let vector = m.vector.as_ref();
            let mark = vector.map(|v| (v.mark_nano / 1_000) as u64);
            let perpetual = matches!(
                m.spec.instrument,
                straddle_exchange::clearinghouse::market::Instrument::Perpetual
            );
            Some(TickerView {
                market,
                block_number: chain.last_block_number,
                mark,
                index,
                last_price: m.last_price_micro_usdc,
                best_bid: None,
                best_ask: None,
                funding_rate_ppm: match (perpetual, mark) {
                    (true, Some(mark)) if index > 0 => Some(
                        ((i128::from(mark) - i128::from(index)) * 1_000_000 / i128::from(index))
                            as i64,
                    ),
                    _ => None,
                },
                open_interest: m.open_interest,
                delta_nano: vector.map(|v| v.delta_nano),
                gamma_nano: vector.map(|v| v.gamma_nano),
                vega_nano: vector.map(|v| v.vega_nano),
                theta_nano: vector.map(|v| v.theta_nano),
                implied_vol_ppm: if perpetual {
                    None
                } else {
                    vector.map(|v| v.sigma_ppm)
                },
            })
        })
        .await?;
    Ok(view.map(|view| TickerView {
        best_bid: book.bids.first().map(|(p, q, _)| (*p, *q)),
        best_ask: book.asks.first().map(|(p, q, _)| (*p, *q)),
        ..view
    }))
}

/// The account view of a sequencer snapshot.
fn account_view(address: Address, snapshot: crate::sequencer::AccountSnapshot) -> AccountView {
    {
        let (equity, maintenance, initial, free_collateral) = match &snapshot.risk {
            Some(risk) => (
                risk.equity.to_string(),
                risk.margin.maintenance.to_string(),
                risk.margin.initial.to_string(),
                (risk.equity - risk.margin.initial as i128).to_string(),
            ),
            None => (
                snapshot.portfolio.cash.to_string(),
                "0".into(),
                "0".into(),
                snapshot.portfolio.cash.to_string(),
            ),
        };
        let greeks = snapshot.risk.as_ref().map(|r| &r.margin);
        let greek = |f: fn(&straddle_exchange::risk::MarginSummary) -> i128| {
            greeks.map_or("0".to_string(), |m| f(m).to_string())
        };
        AccountView {
            address,
            collateral: snapshot.account.collateral,
            nonces: snapshot.account.nonces,
            pending_block: snapshot.pending_block,
            margin: MarginView {
                cash: snapshot.portfolio.cash.to_string(),
                equity,
                maintenance,
                initial,
                free_collateral,
                positions: snapshot
                    .portfolio
                    .positions
                    .iter()
                    .zip(&snapshot.marks)
                    .map(|(p, mark)| PositionView {
                        market: p.market,
                        size: p.size,
                        entry_price: (p.cost * 1_000_000 / i128::from(p.size)).unsigned_abs()
                            as u64,
                        mark: *mark,
                        unrealized_pnl: mark.map(|m| {
                            (i128::from(p.size) * i128::from(m) / 1_000_000 - p.cost).to_string()
                        }),
                    })
                    .collect(),
                delta_nano: greek(|m| m.delta_nano),
                gamma_nano: greek(|m| m.gamma_nano),
                vega_nano: greek(|m| m.vega_nano),
                theta_nano: greek(|m| m.theta_nano),
                worst_scenario: greeks.map_or(0, |m| m.worst_scenario),
                liquidation_index: snapshot.liquidation_index,
            },
        }
    }
}

/// A chain that does not replay is the node's fault; anything else is a question about
/// something the node does not have.
fn archive_error(error: ArchiveError) -> ErrorObjectOwned {
    match error {
        ArchiveError::Chain(error) | ArchiveError::Step(StepError::Chain(error)) => {
            storage_error(error)
        }
        ArchiveError::Step(error @ StepError::Unsupported(_)) => {
            rpc_error(errors::STEP_UNSUPPORTED, error.to_string())
        }
        other => rpc_error(errors::NOT_FOUND, other.to_string()),
    }
}
