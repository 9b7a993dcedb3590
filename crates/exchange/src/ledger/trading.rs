//! The trading half of the ledger: listing markets from the genesis, oracle updates
//! (aggregation, funding accrual, risk refresh and expiry settlement of every market of
//! the underlying), matches, cancels and liquidations. Each operation validates before it
//! mutates, records the leaves it touches, and keeps collateral conserved.

use super::{BlockContext, Ledger, LedgerError, ListingError, PlacementError, TxError, Underlying};
use crate::clearinghouse::market::{Instrument, MarketSpec, MarketStatus};
use crate::clearinghouse::{LiquidationOutcome, LiquidationParams, funding_premium};
use crate::genesis::{Genesis, GenesisError, MARKETS_PER_UNDERLYING_MAX, UNDERLYINGS_MAX};
use crate::oracle::{OracleOutcome, aggregate};
use crate::orders::VerifiedOrder;
use crate::orders::{Match, MatchOutcome, execute_match};
use crate::risk::{ScenarioGrid, StrikeVectors, perpetual_vector, strike_vectors};
use crate::state_key::StateKey;
use alloy_primitives::{Address, B256};
use std::collections::BTreeMap;
use straddle_primitives::admin::{INSTRUMENT_CALL, INSTRUMENT_PERPETUAL, INSTRUMENT_PUT};
use straddle_primitives::{CloseMarket, Domain, ListMarket, Order, SignedPriceReport, TimeInForce};

fn underlying_error(id: u32, reason: impl ToString) -> LedgerError {
    GenesisError::Underlying {
        id,
        reason: reason.to_string(),
    }
    .into()
}

fn market_error(id: u32, reason: impl ToString) -> LedgerError {
    GenesisError::Market {
        id,
        reason: reason.to_string(),
    }
    .into()
}

impl Ledger {
    /// Lists the genesis underlyings and markets (validated).
    pub(super) fn list_genesis_markets(&mut self, genesis: &Genesis) -> Result<(), LedgerError> {
        if genesis.underlyings.len() > UNDERLYINGS_MAX {
            return Err(underlying_error(
                0,
                format!("at most {UNDERLYINGS_MAX} underlyings"),
            ));
        }
        for config in &genesis.underlyings {
            let id = config.id;
            if config.oracle.underlying != id {
                return Err(underlying_error(id, "oracle.underlying must equal id"));
            }
            config
                .oracle
                .validate()
                .map_err(|e| underlying_error(id, e))?;
            config
                .risk
                .validate()
                .map_err(|e| underlying_error(id, e))?;
            let grid = ScenarioGrid::new(&config.risk).map_err(|e| underlying_error(id, e))?;
            let underlying = Underlying {
                config: config.clone(),
                grid,
                oracle: Default::default(),
            };
            if self.underlyings.insert(id, underlying).is_some() {
                return Err(underlying_error(id, "listed twice"));
            }
        }
        let mut per_underlying: BTreeMap<u32, usize> = BTreeMap::new();
        for spec in &genesis.markets {
            if !self.underlyings.contains_key(&spec.underlying) {
                return Err(market_error(
                    spec.id,
                    format!("unknown underlying {}", spec.underlying),
                ));
            }
            let count = per_underlying.entry(spec.underlying).or_default();
            *count += 1;
            if *count > MARKETS_PER_UNDERLYING_MAX {
                return Err(market_error(spec.id, "too many markets on its underlying"));
            }
            self.clearinghouse
                .add_market(*spec)
                .map_err(|e| market_error(spec.id, e))?;
        }
        Ok(())
    }

    /// An underlying.
    pub fn underlying(&self, id: u32) -> Option<&Underlying> {
        self.underlyings.get(&id)
    }

    /// Every underlying, by id.
    pub fn underlyings(&self) -> impl Iterator<Item = &Underlying> {
        self.underlyings.values()
    }

    /// The order registry.
    pub fn orders(&self) -> &crate::orders::OrderRegistry {
        &self.orders
    }

    /// Accepts an oracle update for `underlying` and brings every one of its markets up to
    /// date: perpetuals accrue funding for the time since the previous update and get a
    /// vector at mark = index + premium; options get fresh vectors from their expiry's
    /// smile (none if the smile is missing or the inputs are out of bounds: trading halts
    /// until a later update); expired options are settled from the oracle window.
    ///
    /// The update runs as the dispute game's sub-steps (`docs/spec/disputes.md` §4.1):
    /// [`Ledger::plan_oracle_update`] aggregates the reports (refusing changes nothing),
    /// then each active market is brought up to date on its own, the highest id first
    /// ([`Ledger::apply_oracle_market`]), and [`Ledger::finish_oracle_update`] stores the
    /// new oracle state. Each market's update reads only its own leaf and the new oracle
    /// state, so the order does not change the result.
    pub fn apply_oracle_update(
        &mut self,
        underlying_id: u32,
        reports: &[SignedPriceReport],
        domain: &Domain,
        block: &BlockContext,
    ) -> Result<OracleOutcome, TxError> {
        let plan = self.plan_oracle_update(underlying_id, reports, domain, block)?;
        let mut strikes = StrikeCache::default();
        for id in self.active_market_ids(underlying_id).into_iter().rev() {
            self.apply_oracle_market(&plan, id, &mut strikes);
        }
        Ok(self.finish_oracle_update(plan))
    }

    /// The first part of an oracle update: the reports aggregated against the
    /// underlying's current oracle state. Nothing changes.
    pub fn plan_oracle_update(
        &self,
        underlying_id: u32,
        reports: &[SignedPriceReport],
        domain: &Domain,
        block: &BlockContext,
    ) -> Result<OracleUpdatePlan, TxError> {
        let underlying = self.underlyings.get(&underlying_id).ok_or(TxError::Oracle(
            crate::oracle::OracleError::UnknownUnderlying(underlying_id),
        ))?;
        let outcome = aggregate(
            &underlying.config.oracle,
            &underlying.oracle,
            reports,
            domain,
            block.timestamp_ms,
        )
        .map_err(TxError::Oracle)?;
        let elapsed_ms = if underlying.oracle.index_micro_usdc == 0 {
            0
        } else {
            outcome
                .state
                .timestamp_ms
                .saturating_sub(underlying.oracle.timestamp_ms)
        };
        Ok(OracleUpdatePlan {
            underlying: underlying_id,
            outcome,
            elapsed_ms,
            now_ms: block.timestamp_ms,
        })
    }

    /// Brings one active market of the plan's underlying up to date (a sub-step of the
    /// update): a perpetual accrues funding and gets its vector at mark; an option gets
    /// its side of its strike's vectors, or, expired, is settled (it then leaves the
    /// underlying's active markets, whose leaf changes). `strikes` keeps the vectors of
    /// strikes already priced in this update (a call and a put share them). A market that
    /// is not an active one of the underlying is left alone.
    pub fn apply_oracle_market(
        &mut self,
        plan: &OracleUpdatePlan,
        id: u32,
        strikes: &mut StrikeCache,
    ) {
        let Some(underlying) = self.underlyings.get(&plan.underlying) else {
            return;
        };
        let Some(market) = self
            .clearinghouse
            .market(id)
            .filter(|m| m.spec.underlying == plan.underlying && m.status == MarketStatus::Active)
        else {
            return;
        };
        let state = &plan.outcome.state;
        let index = state.index_micro_usdc;
        let (spec, last_price) = (market.spec, market.last_price_micro_usdc);
        match spec.instrument {
            Instrument::Perpetual => {
                let cap_ppm = underlying.config.funding_premium_cap_ppm;
                let premium = funding_premium(last_price, index, cap_ppm);
                let mark = (i128::from(index) + i128::from(premium) / 1_000).max(1) as u64;
                let vector = perpetual_vector(mark, &underlying.grid).ok();
                if plan.elapsed_ms > 0 {
                    let _ = self
                        .clearinghouse
                        .accrue_funding(id, premium, plan.elapsed_ms);
                }
                let _ = self.clearinghouse.replace_vector(id, vector);
            }
            Instrument::Option {
                kind,
                strike_micro_usdc,
                expiry_ms,
            } => {
                if plan.now_ms >= expiry_ms {
                    // Refused only when the window holds no price for the expiry: the
                    // market then stays unpriced (no trading) and is retried on later
                    // updates.
                    if self
                        .clearinghouse
                        .settle_expiry(id, state, plan.now_ms)
                        .is_ok()
                    {
                        self.touched.insert(StateKey::Oracle(plan.underlying));
                    }
                    let _ = self.clearinghouse.replace_vector(id, None);
                } else {
                    let short_min_ppm = underlying.config.risk.short_option_min_ppm;
                    let vectors = strikes
                        .0
                        .entry((strike_micro_usdc, expiry_ms))
                        .or_insert_with(|| {
                            state.smiles.get(&expiry_ms).and_then(|smile| {
                                strike_vectors(
                                    strike_micro_usdc,
                                    expiry_ms,
                                    index,
                                    smile,
                                    plan.now_ms,
                                    &underlying.grid,
                                    short_min_ppm,
                                )
                                .ok()
                            })
                        });
                    let vector = vectors.as_ref().map(|v| v.side(kind).clone());
                    let _ = self.clearinghouse.replace_vector(id, vector);
                }
            }
        }
        self.touched.insert(StateKey::Market(id));
    }

    /// The last part of an oracle update: stores the new oracle state (the underlying's
    /// leaf: index, window, smiles and its active markets).
    pub fn finish_oracle_update(&mut self, plan: OracleUpdatePlan) -> OracleOutcome {
        if let Some(underlying) = self.underlyings.get_mut(&plan.underlying) {
            underlying.oracle = plan.outcome.state.clone();
        }
        self.touched.insert(StateKey::Oracle(plan.underlying));
        debug_assert!(
            self.is_conserved(),
            "collateral not conserved after an oracle update"
        );
        plan.outcome
    }

    /// Settles a match at block time (see [`execute_match`]).
    pub fn apply_match(
        &mut self,
        proposed: &Match,
        block: &BlockContext,
    ) -> Result<MatchOutcome, TxError> {
        let outcome = execute_match(
            &mut self.orders,
            &mut self.clearinghouse,
            proposed,
            block.timestamp_ms,
        )
        .map_err(TxError::Match)?;
        self.touched
            .insert(StateKey::Portfolio(proposed.taker.owner));
        self.touched
            .insert(StateKey::Order(proposed.taker.owner, proposed.taker.hash));
        for fill in &proposed.makers {
            self.touched.insert(StateKey::Portfolio(fill.maker.owner));
            self.touched
                .insert(StateKey::Order(fill.maker.owner, fill.maker.hash));
        }
        self.touched
            .insert(StateKey::Market(proposed.taker.order.market));
        self.touched.insert(StateKey::ClearingTotals);
        debug_assert!(
            self.is_conserved(),
            "collateral not conserved after a match"
        );
        Ok(outcome)
    }

    /// The checks of a signed request outside the action set: not expired at block time,
    /// and a nonce the signer's window accepts. Returns the nonce's slot for
    /// [`Ledger::consume_nonce`] once the request has succeeded.
    fn check_signed_request(
        &self,
        signer: Address,
        nonce: u64,
        expiry_ms: u64,
        block: &BlockContext,
    ) -> Result<usize, TxError> {
        if block.timestamp_ms > expiry_ms {
            return Err(TxError::Expired {
                expiry_ms,
                block_ms: block.timestamp_ms,
            });
        }
        let window = self
            .accounts
            .get(&signer)
            .map(|a| a.nonces.as_slice())
            .unwrap_or_default();
        super::check_nonce(window, nonce)
    }

    /// Records a used nonce (see [`Ledger::check_signed_request`]).
    fn consume_nonce(&mut self, signer: Address, slot: usize, nonce: u64) {
        let account = self.accounts.entry(signer).or_default();
        super::insert_nonce(&mut account.nonces, slot, nonce);
        self.touched.insert(StateKey::Account(signer));
    }

    /// Whether `owner`'s `order` may rest: a resting time in force, not expired at block
    /// time, not cancelled or filled, not placed before, on an active market's tick and
    /// lot.
    fn check_placement(
        &self,
        owner: Address,
        order: &Order,
        hash: &B256,
        block: &BlockContext,
    ) -> Result<(), PlacementError> {
        match TimeInForce::from_u8(order.timeInForce) {
            Some(TimeInForce::GoodTillCancelled | TimeInForce::PostOnly) => {}
            _ => return Err(PlacementError::CannotRest(order.timeInForce)),
        }
        self.check_live_order(owner, order, hash, block).map(|_| ())
    }

    /// Whether `owner`'s order could still trade in `block`: not expired, cancelled,
    /// filled or placed before, on an active market and on its grid; returns the size
    /// filled so far. The sequencer asks this before an order reaches its book;
    /// placements check it too.
    pub fn check_live_order(
        &self,
        owner: Address,
        order: &Order,
        hash: &B256,
        block: &BlockContext,
    ) -> Result<u64, PlacementError> {
        if block.timestamp_ms > order.expiryMs {
            return Err(PlacementError::Expired);
        }
        let record = self.orders.record(&owner, hash);
        if let Some(record) = record {
            if record.cancelled {
                return Err(PlacementError::Cancelled);
            }
            if record.filled >= order.size {
                return Err(PlacementError::Filled);
            }
            if record.is_placed() {
                return Err(PlacementError::AlreadyPlaced);
            }
        }
        self.clearinghouse
            .active_market(order.market)
            .and_then(|market| market.spec.check_grid(order.limitPrice, order.size))
            .map_err(PlacementError::Market)?;
        Ok(record.map_or(0, |r| r.filled))
    }

    /// Registers one signed order as resting, with its body and the next placement
    /// sequence number (the order's own signature authorises it; no nonce is consumed).
    pub fn apply_place_order(
        &mut self,
        order: &VerifiedOrder,
        block: &BlockContext,
    ) -> Result<u64, TxError> {
        self.check_placement(order.owner, &order.order, &order.hash, block)
            .map_err(TxError::Placement)?;
        let seq = self.orders.placements;
        self.orders.place(order.owner, order.hash, &order.order);
        self.touched
            .insert(StateKey::Order(order.owner, order.hash));
        self.touched.insert(StateKey::ClearingTotals);
        Ok(seq)
    }

    /// Retires `owner`'s placed order `hash` when it can no longer trade (§6.3): past
    /// its expiry, its market no longer active, or its owner unable to afford the rest
    /// of it at its limit (the fill rule of §5.3 refuses with insufficient margin or a
    /// position limit). The record becomes cancelled. Permissionless: the sequencer sends
    /// it when the STF refused a fill against the order, so its book stays repaired
    /// across restarts.
    pub fn apply_retire_order(
        &mut self,
        owner: Address,
        hash: B256,
        block: &BlockContext,
    ) -> Result<(), TxError> {
        let refused = |e| Err(TxError::Placement(e));
        let Some(record) = self.orders.record(&owner, &hash) else {
            return refused(PlacementError::NotResting);
        };
        let Some(placement) = record.placed.as_ref() else {
            return refused(PlacementError::NotResting);
        };
        let order = &placement.order;
        if record.cancelled || record.filled >= order.size {
            return refused(PlacementError::NotResting);
        }
        let unaffordable = matches!(
            self.clearinghouse.check_order_margin(
                owner,
                order.market,
                order.isBuy,
                order.size - record.filled,
                order.limitPrice,
            ),
            Err(
                crate::clearinghouse::ClearingError::InsufficientMargin { .. }
                    | crate::clearinghouse::ClearingError::Limit(_)
            )
        );
        let dead = block.timestamp_ms > order.expiryMs
            || self.clearinghouse.active_market(order.market).is_err()
            || unaffordable;
        if !dead {
            return refused(PlacementError::StillTradeable);
        }
        self.apply_cancel(owner, hash);
        Ok(())
    }

    /// Replaces quotes for `owner` under one signature: checks the expiry and every
    /// order, then cancels the up to [`straddle_primitives::BULK_ORDERS_CANCELS_MAX`] orders
    /// `cancels`, registers the up to [`straddle_primitives::BULK_ORDERS_MAX`] `orders`
    /// as placed (so matches can name these makers without their own signatures) and
    /// consumes the nonce. All or nothing: an order that is also cancelled by the same
    /// request is refused as cancelled.
    pub fn apply_place_orders(
        &mut self,
        owner: Address,
        cancels: &[B256],
        orders: &[(Order, B256)],
        nonce: u64,
        expiry_ms: u64,
        block: &BlockContext,
    ) -> Result<(), TxError> {
        let slot = self.check_signed_request(owner, nonce, expiry_ms, block)?;
        for (i, (order, hash)) in orders.iter().enumerate() {
            if orders[..i].iter().any(|(_, h)| h == hash) {
                return Err(TxError::Placement(PlacementError::AlreadyPlaced));
            }
            if cancels.contains(hash) {
                return Err(TxError::Placement(PlacementError::Cancelled));
            }
            self.check_placement(owner, order, hash, block)
                .map_err(TxError::Placement)?;
        }
        for hash in cancels {
            self.apply_cancel(owner, *hash);
        }
        for (order, hash) in orders {
            self.orders.place(owner, *hash, order);
            self.touched.insert(StateKey::Order(owner, *hash));
        }
        self.touched.insert(StateKey::ClearingTotals);
        self.consume_nonce(owner, slot, nonce);
        Ok(())
    }

    /// Cancels up to [`straddle_primitives::BULK_CANCEL_MAX`] orders for their owner under
    /// one signature: checks the expiry and consumes the signer's nonce (so the request
    /// cannot be replayed to cancel orders placed later under the same hashes).
    pub fn apply_bulk_cancel(
        &mut self,
        signer: Address,
        request: &straddle_primitives::BulkCancel,
        block: &BlockContext,
    ) -> Result<(), TxError> {
        let slot = self.check_signed_request(signer, request.nonce, request.expiryMs, block)?;
        for hash in &request.orderHashes {
            self.apply_cancel(signer, *hash);
        }
        self.consume_nonce(signer, slot, request.nonce);
        Ok(())
    }

    /// The operator lists a market while the chain runs (§5.1). It trades once an oracle
    /// update has priced it (an option needs its expiry in the reports' smiles).
    pub fn apply_list_market(
        &mut self,
        signer: Address,
        listing: &ListMarket,
        block: &BlockContext,
    ) -> Result<(), TxError> {
        if self.operator != Some(signer) {
            return Err(TxError::Unauthorized);
        }
        let slot = self.check_signed_request(signer, listing.nonce, listing.expiryMs, block)?;
        let instrument = match listing.instrument {
            INSTRUMENT_PERPETUAL => {
                if listing.strike != 0 || listing.optionExpiryMs != 0 {
                    return Err(TxError::Listing(ListingError::PerpetualWithOptionTerms));
                }
                Instrument::Perpetual
            }
            INSTRUMENT_CALL | INSTRUMENT_PUT => {
                if listing.optionExpiryMs <= block.timestamp_ms {
                    return Err(TxError::Listing(ListingError::OptionExpiryPassed {
                        expiry_ms: listing.optionExpiryMs,
                        block_ms: block.timestamp_ms,
                    }));
                }
                Instrument::Option {
                    kind: if listing.instrument == INSTRUMENT_CALL {
                        crate::risk::OptionKind::Call
                    } else {
                        crate::risk::OptionKind::Put
                    },
                    strike_micro_usdc: listing.strike,
                    expiry_ms: listing.optionExpiryMs,
                }
            }
            other => return Err(TxError::Listing(ListingError::UnknownInstrument(other))),
        };
        if !self.underlyings.contains_key(&listing.underlying) {
            return Err(TxError::Listing(ListingError::UnknownUnderlying(
                listing.underlying,
            )));
        }
        if self.active_markets_of(listing.underlying) >= MARKETS_PER_UNDERLYING_MAX {
            return Err(TxError::Listing(ListingError::TooManyMarkets(
                listing.underlying,
            )));
        }
        let spec = MarketSpec {
            id: listing.market,
            underlying: listing.underlying,
            instrument,
            tick_micro_usdc: listing.tick,
            lot: listing.lot,
            maker_fee_ppm: listing.makerFeePpm,
            taker_fee_ppm: listing.takerFeePpm,
        };
        self.clearinghouse
            .add_market(spec)
            .map_err(|e| TxError::Listing(ListingError::Market(e)))?;
        self.touched.insert(StateKey::Market(listing.market));
        // The underlying's leaf counts its active markets.
        self.touched.insert(StateKey::Oracle(listing.underlying));
        self.consume_nonce(signer, slot, listing.nonce);
        Ok(())
    }

    /// How many of `underlying`'s markets are active (listed and not settled).
    pub fn active_markets_of(&self, underlying: u32) -> usize {
        self.active_markets(underlying).count()
    }

    /// The ids of `underlying`'s active markets, ascending.
    pub fn active_market_ids(&self, underlying: u32) -> Vec<u32> {
        self.active_markets(underlying).map(|m| m.spec.id).collect()
    }

    fn active_markets(
        &self,
        underlying: u32,
    ) -> impl Iterator<Item = &crate::clearinghouse::market::Market> {
        self.clearinghouse
            .markets()
            .filter(move |m| m.spec.underlying == underlying && m.status == MarketStatus::Active)
    }

    /// The operator closes a perpetual market at the recent index mean (§7.4). Returns
    /// the settlement price.
    pub fn apply_close_market(
        &mut self,
        signer: Address,
        close: &CloseMarket,
        block: &BlockContext,
    ) -> Result<u64, TxError> {
        if self.operator != Some(signer) {
            return Err(TxError::Unauthorized);
        }
        let slot = self.check_signed_request(signer, close.nonce, close.expiryMs, block)?;
        let underlying = self
            .clearinghouse
            .market(close.market)
            .and_then(|m| self.underlyings.get(&m.spec.underlying))
            .ok_or(TxError::Close(
                crate::clearinghouse::ClearingError::UnknownMarket(close.market),
            ))?;
        let (oracle, underlying_id) = (underlying.oracle.clone(), underlying.config.id);
        let price = self
            .clearinghouse
            .close_perpetual(close.market, &oracle, block.timestamp_ms)
            .map_err(TxError::Close)?;
        self.touched.insert(StateKey::Market(close.market));
        // One active market fewer on the underlying's leaf.
        self.touched.insert(StateKey::Oracle(underlying_id));
        self.consume_nonce(signer, slot, close.nonce);
        debug_assert!(
            self.is_conserved(),
            "collateral not conserved after a close"
        );
        Ok(price)
    }

    /// Cancels an order for its owner (see [`crate::orders::OrderRegistry::cancel`]).
    pub fn apply_cancel(&mut self, signer: Address, order_hash: B256) {
        self.orders.cancel(signer, order_hash);
        self.touched.insert(StateKey::Order(signer, order_hash));
    }

    /// A signed liquidation: checks the request's expiry and consumes the liquidator's
    /// nonce (so a signed request cannot be replayed), then liquidates.
    pub fn apply_signed_liquidation(
        &mut self,
        liquidator: Address,
        request: &straddle_primitives::Liquidate,
        block: &BlockContext,
    ) -> Result<LiquidationOutcome, TxError> {
        let slot = self.check_signed_request(liquidator, request.nonce, request.expiryMs, block)?;
        let outcome =
            self.apply_liquidation(liquidator, request.target, request.market, request.size)?;
        self.consume_nonce(liquidator, slot, request.nonce);
        Ok(outcome)
    }

    /// Auto-deleverages part of a bankrupt account against a winning counterparty (see
    /// [`crate::clearinghouse::Clearinghouse::auto_deleverage`]).
    pub fn apply_auto_deleverage(
        &mut self,
        target: Address,
        market: u32,
        counterparty: Address,
        size: u64,
    ) -> Result<crate::clearinghouse::AdlOutcome, TxError> {
        let outcome = self
            .clearinghouse
            .auto_deleverage(target, market, counterparty, size)
            .map_err(TxError::Margin)?;
        for key in [
            StateKey::Portfolio(target),
            StateKey::Portfolio(counterparty),
            StateKey::Market(market),
            StateKey::ClearingTotals,
        ] {
            self.touched.insert(key);
        }
        debug_assert!(
            self.is_conserved(),
            "collateral not conserved after auto-deleveraging"
        );
        Ok(outcome)
    }

    /// Liquidates part of an unhealthy account (see [`crate::clearinghouse::Clearinghouse::liquidate`]).
    pub fn apply_liquidation(
        &mut self,
        liquidator: Address,
        target: Address,
        market: u32,
        size: u64,
    ) -> Result<LiquidationOutcome, TxError> {
        let outcome = self
            .clearinghouse
            .liquidate(
                liquidator,
                target,
                market,
                size,
                &LiquidationParams::default(),
            )
            .map_err(TxError::Margin)?;
        for key in [
            StateKey::Portfolio(liquidator),
            StateKey::Portfolio(target),
            StateKey::Market(market),
            StateKey::ClearingTotals,
        ] {
            self.touched.insert(key);
        }
        debug_assert!(
            self.is_conserved(),
            "collateral not conserved after a liquidation"
        );
        Ok(outcome)
    }
}

/// An accepted oracle update between its sub-steps ([`Ledger::plan_oracle_update`]).
#[derive(Clone, Debug)]
pub struct OracleUpdatePlan {
    /// The underlying.
    pub underlying: u32,
    /// The aggregation: the new oracle state.
    pub outcome: OracleOutcome,
    /// Time since the previous accepted update, ms (0 before the first).
    pub elapsed_ms: u64,
    /// The block time, ms.
    pub now_ms: u64,
}

/// The vectors of the strikes an oracle update has priced, by strike and expiry (none
/// when the STF could not price them).
#[derive(Clone, Debug, Default)]
pub struct StrikeCache(BTreeMap<(u64, u64), Option<StrikeVectors>>);
