//! The matching engine inside admission: a signed order is checked (live, affordable),
//! matched against the book as match transactions of at most 16 makers that the STF
//! checks one by one, and its remainder rests as a placement — all in the block being
//! built, acknowledged after the log holds every transaction it produced. A maker the
//! STF refuses is taken off the book and the taker re-planned against the next one.
//! Market events (book updates, trades, order updates) are published with the same
//! flush. Spec: `docs/spec/matching.md` §5–6 and `docs/spec/feeds.md`.

use super::{Admission, OrderReply, SubmitError, Waiter, Waiting};
use crate::engine::{EngineError, PlannedMatch};
use alloy_primitives::{Address, B256};
use std::time::Instant;
use straddle_exchange::AdmittedTx;
use straddle_exchange::TxError;
use straddle_exchange::clearinghouse::ClearingError;
use straddle_exchange::orders::MatchError;
use straddle_primitives::{
    ForcedPayload, Order, SignedOrder, TimeInForce, Transaction, VerifiedOrder, VerifiedTransaction,
};
use straddle_rpc_api::{FillReport, OrderAck, OrderStatus, OrderUpdate, Trade};

/// Maker repairs (a maker refused by the STF, taken off the book) one order may trigger
/// before the engine gives up on it: bounds the work one request can cause.
const REPAIRS_PER_ORDER_MAX: usize = 64;

impl Admission {
    /// Matches a signed order and rests its remainder; the reply waits for the log.
    pub(super) fn place_order(
        &mut self,
        signed: &SignedOrder,
        taker: VerifiedOrder,
        received: Instant,
        reply: OrderReply,
    ) {
        let started = Instant::now();
        let result = self.match_and_rest(signed, &taker);
        metrics::histogram!("straddle_order_match_seconds").record(started.elapsed().as_secs_f64());
        match result {
            Ok(ack) => match ack.block_number {
                Some(block_number) => self.acks.push(Waiting {
                    waiter: Waiter::Order(reply, ack),
                    block_number,
                    received,
                }),
                None => {
                    let _ = reply.send(Ok(ack));
                }
            },
            Err(error) => {
                metrics::counter!("straddle_orders_refused_total").increment(1);
                let _ = reply.send(Err(error));
            }
        }
    }

    fn match_and_rest(
        &mut self,
        signed: &SignedOrder,
        taker: &VerifiedOrder,
    ) -> Result<OrderAck, SubmitError> {
        let order = &taker.order;
        let context = self.open_block().context;
        let ledger = &self.state.ledger;
        let filled_before = ledger
            .check_live_order(taker.owner, order, &taker.hash, &context)
            .map_err(|e| SubmitError::Rejected(TxError::Placement(e)))?;
        let mut remaining = order.size - filled_before;
        ledger
            .clearinghouse()
            .check_order_margin(
                taker.owner,
                order.market,
                order.isBuy,
                remaining,
                order.limitPrice,
            )
            .map_err(|e| SubmitError::Rejected(TxError::Margin(e)))?;
        let mut ack = OrderAck {
            order_hash: taker.hash,
            owner: taker.owner,
            market: order.market,
            status: OrderStatus::Unfilled,
            filled: 0,
            resting: 0,
            fills: Vec::new(),
            transactions: Vec::new(),
            block_number: None,
            reason: None,
        };
        let mut repairs = 0;
        // Why matching ended early; the remainder then does not rest.
        let mut stopped: Option<String> = None;
        while remaining > 0 {
            let planned = match self
                .engine
                .plan(&self.state.ledger, signed, taker.owner, remaining)
            {
                Ok(planned) => planned,
                Err(error) if ack.fills.is_empty() => return Err(SubmitError::Order(error)),
                Err(error) => {
                    stopped = Some(error.to_string());
                    break;
                }
            };
            let PlannedMatch {
                transaction,
                makers,
                plan,
            } = planned;
            let Some(transaction) = transaction else {
                if plan.stopped_by_self_trade {
                    stopped = Some(SELF_TRADE_REASON.into());
                }
                break;
            };
            let admitted = self.own_transaction(
                transaction,
                VerifiedTransaction::MatchPlaced {
                    taker: taker.clone(),
                    makers: makers.clone(),
                },
                taker.owner,
            );
            let error = match self.execute(admitted) {
                Ok((tx_ack, _)) => {
                    self.engine.apply(order.market, &plan);
                    remaining -= self.record_fills(taker, &makers, &mut ack, &tx_ack);
                    if plan.stopped_by_self_trade {
                        stopped = Some(SELF_TRADE_REASON.into());
                    }
                    if plan.stopped_by_self_trade || !plan.truncated {
                        break;
                    }
                    continue;
                }
                Err(TxError::Match(error)) => {
                    if let Some(index) = self.maker_at_fault(&error, taker, &makers)
                        && repairs < REPAIRS_PER_ORDER_MAX
                    {
                        repairs += 1;
                        let maker = &makers[index].0;
                        self.retire(maker.owner, maker.hash, &error);
                        continue;
                    }
                    TxError::Match(error)
                }
                Err(error) => error,
            };
            if ack.fills.is_empty() {
                return Err(SubmitError::Rejected(error));
            }
            stopped = Some(format!("matching stopped: {error}"));
            break;
        }
        let may_rest = stopped.is_none();
        ack.reason = stopped;
        ack.status = if remaining == 0 {
            OrderStatus::Filled
        } else if may_rest && rests(order) {
            self.rest_remainder(signed, taker, remaining, &mut ack)?;
            ack.status
        } else {
            if ack.reason.is_none() {
                ack.reason = Some("immediate-or-cancel: the remainder does not rest".into());
            }
            OrderStatus::Unfilled
        };
        if ack.status != OrderStatus::Resting {
            self.tell(
                taker.owner,
                taker.hash,
                order,
                ack.status,
                ack.reason.clone(),
            );
        }
        Ok(ack)
    }

    /// Places the remainder of a good-till-cancelled or post-only order (kind 0x1A)
    /// and rests it on the book.
    fn rest_remainder(
        &mut self,
        signed: &SignedOrder,
        taker: &VerifiedOrder,
        remaining: u64,
        ack: &mut OrderAck,
    ) -> Result<(), SubmitError> {
        let admitted = self.own_transaction(
            Transaction::PlaceOrder(signed.clone()),
            VerifiedTransaction::PlaceOrder(taker.clone()),
            taker.owner,
        );
        match self.execute(admitted) {
            Ok((tx_ack, _)) => {
                ack.transactions.push(tx_ack.tx_hash);
                ack.block_number = Some(tx_ack.block_number);
            }
            Err(error) if ack.fills.is_empty() => return Err(SubmitError::Rejected(error)),
            Err(error) => {
                ack.reason = Some(format!("the remainder could not rest: {error}"));
                ack.status = OrderStatus::Unfilled;
                return Ok(());
            }
        }
        match self.engine.rest(
            &self.state.ledger,
            taker.owner,
            taker.hash,
            &taker.order,
            remaining,
        ) {
            Ok(_) => {
                ack.resting = remaining;
                ack.status = OrderStatus::Resting;
                self.tell(
                    taker.owner,
                    taker.hash,
                    &taker.order,
                    OrderStatus::Resting,
                    None,
                );
            }
            Err(error) => {
                // Placed in the state but not on the book: a restart rests it again.
                tracing::warn!(owner = %taker.owner, hash = %taker.hash, %error, "placed order did not rest");
                ack.reason = Some(format!("placed, but the book refused it: {error}"));
                ack.status = OrderStatus::Unfilled;
            }
        }
        Ok(())
    }

    /// Reports the fills of an accepted match (ack, trades, makers' order updates);
    /// returns the micro-contracts filled.
    fn record_fills(
        &mut self,
        taker: &VerifiedOrder,
        makers: &[(VerifiedOrder, u64)],
        ack: &mut OrderAck,
        tx_ack: &super::Acknowledgement,
    ) -> u64 {
        let mut filled = 0;
        for (maker, size) in makers {
            filled += size;
            ack.fills.push(FillReport {
                maker: maker.owner,
                maker_order: maker.hash,
                price: maker.order.limitPrice,
                size: *size,
            });
            self.events.push(super::MarketEvent::Trade(Trade {
                market: taker.order.market,
                price: maker.order.limitPrice,
                size: *size,
                taker_is_buy: taker.order.isBuy,
                taker: taker.owner,
                taker_order: taker.hash,
                maker: maker.owner,
                maker_order: maker.hash,
                tx_hash: tx_ack.tx_hash,
                block_number: tx_ack.block_number,
            }));
            let resting = self.engine.is_resting(&maker.owner, &maker.hash);
            let status = if resting {
                OrderStatus::Resting
            } else {
                OrderStatus::Filled
            };
            self.tell(maker.owner, maker.hash, &maker.order, status, None);
        }
        ack.filled += filled;
        ack.transactions.push(tx_ack.tx_hash);
        ack.block_number = Some(tx_ack.block_number);
        filled
    }

    /// The fill among `makers` whose maker caused the STF's refusal, if a maker did.
    fn maker_at_fault(
        &self,
        error: &MatchError,
        taker: &VerifiedOrder,
        makers: &[(VerifiedOrder, u64)],
    ) -> Option<usize> {
        let by_hash = |hash: &B256| {
            if *hash == taker.hash {
                return None;
            }
            makers.iter().position(|(m, _)| m.hash == *hash)
        };
        match error {
            MatchError::Expired(hash)
            | MatchError::Cancelled(hash)
            | MatchError::ReduceOnly(hash)
            | MatchError::Overfilled { hash, .. } => by_hash(hash),
            MatchError::MarketMismatch(index)
            | MatchError::SameSide(index)
            | MatchError::ZeroFill(index)
            | MatchError::SelfTrade(index)
            | MatchError::MakerCannotRest(index)
            | MatchError::NotPlaced(index)
            | MatchError::NotCrossing { index, .. } => Some(*index),
            MatchError::Clearing { index, error } => {
                let (maker, size) = makers.get(*index)?;
                let maker_fails = match error {
                    ClearingError::InsufficientMargin { account, .. } => *account == maker.owner,
                    // Ambiguous refusals: the maker is at fault when its own side of
                    // this fill fails the fill rule on its own.
                    _ => self
                        .state
                        .ledger
                        .clearinghouse()
                        .check_order_margin(
                            maker.owner,
                            maker.order.market,
                            maker.order.isBuy,
                            *size,
                            maker.order.limitPrice,
                        )
                        .is_err(),
                };
                maker_fails.then_some(*index)
            }
            _ => None,
        }
    }

    /// A bulk placement (kind 0x16) through the engine: every quote must rest without
    /// crossing (the book, after this request's own cancels, and the request's other
    /// quotes) and be affordable on its own; then the STF applies it and the books
    /// follow.
    pub(super) fn replace_quotes(
        &mut self,
        tx: AdmittedTx,
    ) -> Result<super::Acknowledgement, SubmitError> {
        if let VerifiedTransaction::PlaceOrders {
            owner,
            cancels,
            orders,
            ..
        } = &tx.verified
        {
            self.check_quotes(*owner, cancels, orders)?;
        }
        let (ack, verified) = self.execute(tx).map_err(SubmitError::Rejected)?;
        if let VerifiedTransaction::PlaceOrders {
            owner,
            cancels,
            orders,
            ..
        } = verified
        {
            for hash in cancels {
                self.remove_resting(owner, hash, OrderStatus::Cancelled, None);
            }
            for (order, hash) in orders {
                match self
                    .engine
                    .rest(&self.state.ledger, owner, hash, &order, order.size)
                {
                    Ok(_) => self.tell(owner, hash, &order, OrderStatus::Resting, None),
                    Err(error) => {
                        tracing::warn!(%owner, %hash, %error, "placed quote did not rest")
                    }
                }
            }
        }
        Ok(ack)
    }

    /// Every quote of a bulk placement must rest without crossing (the book after the
    /// request's own cancels, and the request's other quotes) and be affordable alone.
    fn check_quotes(
        &self,
        owner: Address,
        cancels: &[B256],
        orders: &[(Order, B256)],
    ) -> Result<(), SubmitError> {
        let ledger = &self.state.ledger;
        for (index, (order, _)) in orders.iter().enumerate() {
            if self.engine.crosses_excluding(ledger, owner, order, cancels) {
                return Err(SubmitError::Order(EngineError::QuoteWouldCross(index)));
            }
            if let Some(other) = orders[..index].iter().position(|(o, _)| {
                o.market == order.market
                    && o.isBuy != order.isBuy
                    && if o.isBuy {
                        o.limitPrice >= order.limitPrice
                    } else {
                        o.limitPrice <= order.limitPrice
                    }
            }) {
                return Err(SubmitError::Order(EngineError::QuotesCross(index, other)));
            }
            ledger
                .clearinghouse()
                .check_order_margin(
                    owner,
                    order.market,
                    order.isBuy,
                    order.size,
                    order.limitPrice,
                )
                .map_err(|e| SubmitError::Rejected(TxError::Margin(e)))?;
        }
        Ok(())
    }

    /// Keeps the books in line with a transaction the engine did not make.
    pub(super) fn observe(&mut self, verified: &VerifiedTransaction) {
        match verified {
            VerifiedTransaction::Cancel {
                signer, order_hash, ..
            } => {
                self.remove_resting(*signer, *order_hash, OrderStatus::Cancelled, None);
            }
            VerifiedTransaction::BulkCancel { signer, cancel } => {
                for hash in &cancel.orderHashes {
                    self.remove_resting(*signer, *hash, OrderStatus::Cancelled, None);
                }
            }
            // A follower imports matches against placed orders too (the sequencer's engine
            // made them; it admits none from users).
            VerifiedTransaction::Match { taker, makers }
            | VerifiedTransaction::MatchPlaced { taker, makers } => {
                for order in std::iter::once(taker).chain(makers.iter().map(|(m, _)| m)) {
                    if let Some(gone) =
                        self.engine
                            .sync(&self.state.ledger, order.owner, order.hash)
                    {
                        self.tell(
                            gone.owner,
                            gone.hash,
                            &gone.order,
                            OrderStatus::Filled,
                            None,
                        );
                    }
                }
            }
            VerifiedTransaction::RetireOrder(retire) => {
                self.remove_resting(
                    retire.owner,
                    retire.order_hash,
                    OrderStatus::Removed,
                    Some("retired: it can no longer trade".into()),
                );
            }
            VerifiedTransaction::CloseMarket { .. } => {
                let now = self.open_block().context.timestamp_ms;
                self.sweep(now);
            }
            // Placements reach here only in blocks derived from L1 (the sequencer places
            // through its engine): the books rest what the state says rests, so a
            // follower's books follow the chain without a restart.
            VerifiedTransaction::PlaceOrder(order) => self.rest_placed(order.owner, order.hash),
            VerifiedTransaction::PlaceOrders {
                owner,
                cancels,
                orders,
                ..
            } => {
                for hash in cancels {
                    self.sync_cancelled(*owner, *hash);
                }
                for (_, hash) in orders {
                    self.rest_placed(*owner, *hash);
                }
            }
            // A forced payload may have been refused while the inclusion stood: the
            // books follow what the state says of each order it names.
            VerifiedTransaction::Forced {
                payload: ForcedPayload::Valid(inner),
                ..
            } => match inner.as_ref() {
                VerifiedTransaction::Cancel {
                    signer, order_hash, ..
                } => self.sync_cancelled(*signer, *order_hash),
                VerifiedTransaction::BulkCancel { signer, cancel } => {
                    for hash in &cancel.orderHashes {
                        self.sync_cancelled(*signer, *hash);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// Rests `owner`'s placed order `hash` on its book at what the state says is left,
    /// if the state holds it as resting in an active market and the book does not yet.
    fn rest_placed(&mut self, owner: Address, hash: B256) {
        if self.engine.is_resting(&owner, &hash) {
            return;
        }
        let ledger = &self.state.ledger;
        let Some(record) = ledger.orders().record(&owner, &hash) else {
            return;
        };
        let Some(placement) = record.placed.as_ref() else {
            return;
        };
        let order = placement.order.clone();
        let left = order.size.saturating_sub(record.filled);
        if record.cancelled
            || left == 0
            || ledger.clearinghouse().active_market(order.market).is_err()
        {
            return;
        }
        match self.engine.rest(ledger, owner, hash, &order, left) {
            Ok(_) => self.tell(owner, hash, &order, OrderStatus::Resting, None),
            Err(error) => {
                tracing::warn!(%owner, %hash, %error, "derived placement not rested on the book")
            }
        }
    }

    /// Takes `owner`'s order `hash` off the book if the state no longer lets it rest.
    fn sync_cancelled(&mut self, owner: Address, hash: B256) {
        if let Some(gone) = self.engine.sync(&self.state.ledger, owner, hash) {
            self.tell(
                gone.owner,
                gone.hash,
                &gone.order,
                OrderStatus::Cancelled,
                None,
            );
        }
    }

    /// Takes a maker the STF refused off the book, and retires it in the state (kind
    /// 0x1B) when the rules agree it cannot trade, so a restart does not bring it back.
    fn retire(&mut self, owner: Address, hash: B256, error: &MatchError) {
        let retire = straddle_primitives::RetireOrder {
            owner,
            order_hash: hash,
        };
        let admitted = self.own_transaction(
            Transaction::RetireOrder(retire),
            VerifiedTransaction::RetireOrder(retire),
            Address::ZERO,
        );
        if let Err(refusal) = self.execute(admitted) {
            tracing::debug!(%owner, %hash, %refusal, "refused maker not retired in the state");
        }
        self.remove_resting(
            owner,
            hash,
            OrderStatus::Removed,
            Some(format!("the STF refused a fill against it: {error}")),
        );
    }

    /// A transaction the engine built from parts it already verified (no signature is
    /// recovered again).
    fn own_transaction(
        &self,
        tx: Transaction,
        verified: VerifiedTransaction,
        sender: Address,
    ) -> AdmittedTx {
        AdmittedTx {
            hash: tx.hash(&self.state.genesis.domain),
            tx,
            verified,
            sender,
        }
    }

    /// Takes an order off the book and tells its owner; a no-op if it was not resting.
    fn remove_resting(
        &mut self,
        owner: Address,
        hash: B256,
        status: OrderStatus,
        reason: Option<String>,
    ) {
        if let Some(gone) = self.engine.remove(owner, hash) {
            self.tell(owner, hash, &gone.order, status, reason);
        }
    }

    /// Removes expired orders and orders of closed markets from the books.
    pub(super) fn sweep(&mut self, now_ms: u64) {
        for gone in self.engine.sweep(&self.state.ledger, now_ms) {
            let reason = if gone.order.expiryMs < now_ms {
                "past its expiry"
            } else {
                "its market is closed"
            };
            self.tell(
                gone.owner,
                gone.hash,
                &gone.order,
                OrderStatus::Expired,
                Some(reason.into()),
            );
        }
    }

    /// Moves the books' changed levels into the events of the next flush.
    pub(super) fn collect_book_updates(&mut self) {
        let updates = self.engine.take_book_updates(&self.state.ledger);
        self.events
            .extend(updates.into_iter().map(super::MarketEvent::Book));
    }

    /// `owner`'s resting orders, by market then priority.
    pub(super) fn open_orders(&self, owner: Address) -> Vec<OrderUpdate> {
        self.engine
            .open_orders(&owner)
            .into_iter()
            .map(|(resting, _)| {
                self.order_update(
                    owner,
                    resting.hash,
                    &resting.order,
                    OrderStatus::Resting,
                    None,
                )
            })
            .collect()
    }

    /// Tells an order's owner (user stream) where the order stands now.
    fn tell(
        &mut self,
        owner: Address,
        hash: B256,
        order: &Order,
        status: OrderStatus,
        reason: Option<String>,
    ) {
        let update = self.order_update(owner, hash, order, status, reason);
        self.events.push(super::MarketEvent::Order(update));
    }

    fn order_update(
        &self,
        owner: Address,
        hash: B256,
        order: &Order,
        status: OrderStatus,
        reason: Option<String>,
    ) -> OrderUpdate {
        let filled = self
            .state
            .ledger
            .orders()
            .record(&owner, &hash)
            .map_or(0, |r| r.filled);
        OrderUpdate {
            owner,
            order_hash: hash,
            market: order.market,
            is_buy: order.isBuy,
            price: order.limitPrice,
            size: order.size,
            filled,
            resting: if status == OrderStatus::Resting {
                order.size.saturating_sub(filled)
            } else {
                0
            },
            client_order_id: order.clientOrderId,
            status,
            reason,
        }
    }
}

const SELF_TRADE_REASON: &str =
    "self-trade prevention (expire taker): matching stopped at the owner's own resting order";

/// Whether an order's remainder rests.
fn rests(order: &Order) -> bool {
    matches!(
        TimeInForce::from_u8(order.timeInForce),
        Some(TimeInForce::GoodTillCancelled | TimeInForce::PostOnly)
    )
}
