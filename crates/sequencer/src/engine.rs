//! The sequencer's order books over the chain state: one [`Book`] per market holding the
//! placed (resting) orders of the registry, converted between the market's micro-units
//! and the book's ticks and lots. It turns a taker's plan into a match transaction that
//! names placed makers (kind 0x17) for the STF to check, and it is rebuilt from the state
//! alone on start (`OrderRegistry::resting`, by placement sequence), so a crash loses no
//! resting order and no priority. Spec: `docs/spec/matching.md`.

use alloy_primitives::{Address, B256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use straddle_book::{
    Book, NewOrder, OrderId, Plan, Removed, SelfTradePrevention, Side, TimeInForce as BookTif,
};
use straddle_exchange::Ledger;
use straddle_exchange::clearinghouse::market::MarketSpec;
use straddle_exchange::orders::{FILLS_PER_MATCH_MAX, MatchWeight};
use straddle_primitives::{Order, SignedOrder, TimeInForce, Transaction, VerifiedOrder};
use straddle_rpc_api::{BookSnapshot, BookUpdate};

/// Why the engine cannot take an order. The books are unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// No such market.
    #[error("unknown market {0}")]
    UnknownMarket(u32),
    /// Price or size not a positive multiple of the market's tick or lot.
    #[error("price {price} or size {size} is off the market's tick {tick} or lot {lot}")]
    OffGrid {
        /// Price given.
        price: u64,
        /// Size given.
        size: u64,
        /// The market's tick.
        tick: u64,
        /// The market's lot.
        lot: u64,
    },
    /// Unknown time-in-force byte.
    #[error("unknown time in force {0}")]
    UnknownTimeInForce(u8),
    /// The book refused it.
    #[error("{0}")]
    Book(#[from] straddle_book::Reject),
    /// A quote of a bulk placement would take liquidity: quotes only rest.
    #[error("quote {0} would cross the book: quotes must be passive")]
    QuoteWouldCross(usize),
    /// Two quotes of one bulk placement cross each other.
    #[error("quote {0} crosses quote {1} of the same request")]
    QuotesCross(usize, usize),
}

/// A resting order as the engine knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    /// Owner.
    pub owner: Address,
    /// Order hash.
    pub hash: B256,
    /// The order.
    pub order: Order,
    /// Its id in its market's book.
    pub id: OrderId,
}

/// A planned match: the transaction to check, and the plan to apply once it is accepted.
#[derive(Clone, Debug)]
pub struct PlannedMatch {
    /// Kind 0x17: the signed taker against placed makers named by owner; `None` when
    /// nothing crosses.
    pub transaction: Option<Transaction>,
    /// The makers as the STF sees them once verified (owner and hash known), with the
    /// micro-contracts each fills, in the transaction's order.
    pub makers: Vec<(VerifiedOrder, u64)>,
    /// The book plan behind it.
    pub plan: Plan,
}

/// All books.
#[derive(Default)]
pub struct Engine {
    books: BTreeMap<u32, Book>,
    /// Trader numbers for self-trade prevention.
    traders: HashMap<Address, u64>,
    /// Resting orders by the tag the book carries.
    resting: HashMap<u64, RestingOrder>,
    by_order: HashMap<(Address, B256), u64>,
    next_tag: u64,
    /// `(expiry ms, tag)` of every resting order, for the expiry sweep.
    expiries: BTreeSet<(u64, u64)>,
    /// Update numbers per market.
    seqs: HashMap<u32, u64>,
}

fn book_tif(order: &Order) -> Result<BookTif, EngineError> {
    Ok(
        match TimeInForce::from_u8(order.timeInForce)
            .ok_or(EngineError::UnknownTimeInForce(order.timeInForce))?
        {
            TimeInForce::GoodTillCancelled => BookTif::GoodTillCancelled,
            TimeInForce::ImmediateOrCancel => BookTif::ImmediateOrCancel,
            TimeInForce::FillOrKill => BookTif::FillOrKill,
            TimeInForce::PostOnly => BookTif::PostOnly,
        },
    )
}

/// A market's listing.
fn spec(ledger: &Ledger, market: u32) -> Result<MarketSpec, EngineError> {
    Ok(ledger
        .clearinghouse()
        .market(market)
        .ok_or(EngineError::UnknownMarket(market))?
        .spec)
}

impl Engine {
    /// The books of every order the state holds as resting at `now_ms`, in placement
    /// order (so time priority survives restarts).
    pub fn from_ledger(ledger: &Ledger, now_ms: u64) -> Engine {
        let mut engine = Engine::default();
        for (owner, hash, placement, filled) in ledger.orders().resting(now_ms) {
            if ledger
                .clearinghouse()
                .active_market(placement.order.market)
                .is_err()
            {
                continue;
            }
            let remaining = placement.order.size - filled;
            if let Err(error) = engine.rest(ledger, owner, hash, &placement.order, remaining) {
                tracing::warn!(%owner, %hash, %error, "placed order not rested on start");
            }
        }
        engine
    }

    fn trader(&mut self, owner: Address) -> u64 {
        let next = self.traders.len() as u64;
        *self.traders.entry(owner).or_insert(next)
    }

    /// Converts `order` (with `qty` micro-contracts left) to the book's units; also
    /// returns the market's lot.
    fn new_order(
        &mut self,
        ledger: &Ledger,
        owner: Address,
        order: &Order,
        qty: u64,
        tag: u64,
    ) -> Result<(NewOrder, u64), EngineError> {
        let spec = spec(ledger, order.market)?;
        let (tick, lot) = (spec.tick_micro_usdc, spec.lot);
        spec.check_grid(order.limitPrice, qty)
            .map_err(|_| EngineError::OffGrid {
                price: order.limitPrice,
                size: qty,
                tick,
                lot,
            })?;
        let new = NewOrder {
            trader: self.trader(owner),
            side: if order.isBuy { Side::Buy } else { Side::Sell },
            price: order.limitPrice / tick,
            qty: qty / lot,
            tif: book_tif(order)?,
            tag,
        };
        Ok((new, lot))
    }

    /// Rests `remaining` micro-contracts of a placed order at the back of its level.
    pub fn rest(
        &mut self,
        ledger: &Ledger,
        owner: Address,
        hash: B256,
        order: &Order,
        remaining: u64,
    ) -> Result<OrderId, EngineError> {
        let tag = self.next_tag;
        let (new, _) = self.new_order(ledger, owner, order, remaining, tag)?;
        let book = self
            .books
            .entry(order.market)
            .or_insert_with(|| Book::with_self_trade_prevention(SelfTradePrevention::ExpireTaker));
        let id = book.rest(&new, new.qty)?;
        self.next_tag += 1;
        self.expiries.insert((order.expiryMs, tag));
        self.resting.insert(
            tag,
            RestingOrder {
                owner,
                hash,
                order: order.clone(),
                id,
            },
        );
        self.by_order.insert((owner, hash), tag);
        Ok(id)
    }

    /// Takes an order off its book (cancelled, or refused by the STF); `None` if it
    /// was not resting.
    pub fn remove(&mut self, owner: Address, hash: B256) -> Option<RestingOrder> {
        let tag = *self.by_order.get(&(owner, hash))?;
        let resting = self.forget(tag)?;
        if let Some(book) = self.books.get_mut(&resting.order.market) {
            book.cancel(resting.id);
        }
        Some(resting)
    }

    /// Drops the engine's records of a tag whose book order is gone (or about to be).
    fn forget(&mut self, tag: u64) -> Option<RestingOrder> {
        let resting = self.resting.remove(&tag)?;
        self.by_order.remove(&(resting.owner, resting.hash));
        self.expiries.remove(&(resting.order.expiryMs, tag));
        Some(resting)
    }

    /// Brings a resting order in line with its registry record after a transaction the
    /// engine did not plan touched it (a cancel, a signed match): gone when cancelled or
    /// filled, otherwise reduced to what is left (keeping its priority). Returns the
    /// order when it was removed.
    pub fn sync(&mut self, ledger: &Ledger, owner: Address, hash: B256) -> Option<RestingOrder> {
        let tag = *self.by_order.get(&(owner, hash))?;
        let resting = self.resting.get(&tag)?;
        let record = ledger.orders().record(&owner, &hash);
        let left = record.map_or(resting.order.size, |r| {
            if r.cancelled {
                0
            } else {
                resting.order.size.saturating_sub(r.filled)
            }
        });
        let lot = spec(ledger, resting.order.market).map_or(1, |s| s.lot);
        let (market, id) = (resting.order.market, resting.id);
        let book = self.books.get_mut(&market)?;
        let current = book.order(id)?;
        if left / lot == 0 {
            return self.remove(owner, hash);
        }
        if left / lot < current.qty {
            let _ = book.amend(id, current.price, left / lot);
        }
        None
    }

    /// Takes off the books every order past its expiry at `now_ms` and every order of a
    /// market that is no longer active (closed or settled): the STF would refuse to fill
    /// them. Returns what was removed.
    pub fn sweep(&mut self, ledger: &Ledger, now_ms: u64) -> Vec<RestingOrder> {
        let mut gone: Vec<(Address, B256)> = self
            .expiries
            .range(..(now_ms, 0))
            .filter_map(|(_, tag)| self.resting.get(tag).map(|r| (r.owner, r.hash)))
            .collect();
        let closed: Vec<u32> = self
            .books
            .keys()
            .copied()
            .filter(|m| ledger.clearinghouse().active_market(*m).is_err())
            .collect();
        for market in closed {
            let emptied = self
                .books
                .get(&market)
                .is_none_or(|b| b.best_bid().is_none() && b.best_ask().is_none());
            if emptied {
                // Its last update went out with the flush after the sweep that emptied
                // it; dropping the book keeps later sweeps from scanning for it again.
                self.books.remove(&market);
                continue;
            }
            gone.extend(
                self.resting
                    .values()
                    .filter(|r| r.order.market == market)
                    .map(|r| (r.owner, r.hash)),
            );
        }
        gone.into_iter()
            .filter_map(|(owner, hash)| self.remove(owner, hash))
            .collect()
    }

    /// Whether `order` (owner `owner`) would take liquidity from its book if the owner's
    /// orders `excluding` were gone — how a quote replacement that cancels and places in
    /// one request is checked to stay passive.
    pub fn crosses_excluding(
        &self,
        ledger: &Ledger,
        owner: Address,
        order: &Order,
        excluding: &[B256],
    ) -> bool {
        let (Some(book), Ok(spec)) = (self.books.get(&order.market), spec(ledger, order.market))
        else {
            return false;
        };
        let side = if order.isBuy { Side::Sell } else { Side::Buy };
        let excluded: Vec<(u64, u64)> = excluding
            .iter()
            .filter_map(|hash| {
                let resting = self.resting.get(self.by_order.get(&(owner, *hash))?)?;
                let placed = book.order(resting.id)?;
                (placed.side == side).then_some((placed.price, placed.qty))
            })
            .collect();
        let limit = order.limitPrice / spec.tick_micro_usdc.max(1);
        // Walk the crossing levels from the best; a level crosses only if something
        // besides the excluded orders rests there. At most `excluding.len() + 1` levels.
        for (price, qty, _) in book.depth(side, excluding.len() + 1) {
            let crosses = if order.isBuy {
                price <= limit
            } else {
                price >= limit
            };
            if !crosses {
                return false;
            }
            let mine: u64 = excluded
                .iter()
                .filter(|(p, _)| *p == price)
                .map(|(_, q)| q)
                .sum();
            if qty > mine {
                return true;
            }
        }
        false
    }

    /// The book updates since the last call, one per market that changed, each with
    /// the market's next update number.
    pub fn take_book_updates(&mut self, ledger: &Ledger) -> Vec<BookUpdate> {
        let mut updates = Vec::new();
        for (market, book) in self.books.iter_mut() {
            let mut changed = book.take_changed_levels();
            if changed.is_empty() {
                continue;
            }
            let Ok(spec) = spec(ledger, *market) else {
                continue;
            };
            let (tick, lot) = (spec.tick_micro_usdc, spec.lot);
            changed.sort_unstable_by_key(|(side, price)| match side {
                Side::Buy => (0, u64::MAX - price),
                Side::Sell => (1, *price),
            });
            changed.dedup();
            let seq = self.seqs.entry(*market).or_default();
            *seq += 1;
            let level = |side, price| (price * tick, book.level_qty(side, price) * lot);
            updates.push(BookUpdate {
                market: *market,
                seq: *seq,
                bids: changed
                    .iter()
                    .filter(|(side, _)| *side == Side::Buy)
                    .map(|(side, price)| level(*side, *price))
                    .collect(),
                asks: changed
                    .iter()
                    .filter(|(side, _)| *side == Side::Sell)
                    .map(|(side, price)| level(*side, *price))
                    .collect(),
            });
        }
        updates
    }

    /// `market`'s whole book (or its best `levels` per side) as of the last update
    /// taken with [`Engine::take_book_updates`].
    pub fn snapshot(&self, ledger: &Ledger, market: u32, levels: usize) -> Option<BookSnapshot> {
        let spec = spec(ledger, market).ok()?;
        let (tick, lot) = (spec.tick_micro_usdc, spec.lot);
        let side = |side| -> Vec<(u64, u64, u32)> {
            self.books.get(&market).map_or(Vec::new(), |book| {
                book.depth(side, levels)
                    .into_iter()
                    .map(|(price, qty, orders)| (price * tick, qty * lot, orders))
                    .collect()
            })
        };
        Some(BookSnapshot {
            market,
            seq: self.seqs.get(&market).copied().unwrap_or(0),
            bids: side(Side::Buy),
            asks: side(Side::Sell),
        })
    }

    /// The resting order behind a book tag.
    pub fn resting_by_tag(&self, tag: u64) -> Option<&RestingOrder> {
        self.resting.get(&tag)
    }

    /// Whether `owner`'s order `hash` rests.
    pub fn is_resting(&self, owner: &Address, hash: &B256) -> bool {
        self.by_order.contains_key(&(*owner, *hash))
    }

    /// A market's book.
    pub fn book(&self, market: u32) -> Option<&Book> {
        self.books.get(&market)
    }

    /// Plans the next match of `taker` (`remaining` micro-contracts left) against its
    /// market's book: at most [`FILLS_PER_MATCH_MAX`] makers, and no more than
    /// [`MATCH_WEIGHT_MAX`](straddle_exchange::orders::MATCH_WEIGHT_MAX) allows with the taker's portfolio. The transaction is `None`
    /// when nothing crosses (the plan may still say matching stopped at a self-trade).
    pub fn plan(
        &mut self,
        ledger: &Ledger,
        taker: &SignedOrder,
        owner: Address,
        remaining: u64,
    ) -> Result<PlannedMatch, EngineError> {
        let (new, lot) = self.new_order(ledger, owner, &taker.order, remaining, u64::MAX)?;
        let clearinghouse = ledger.clearinghouse();
        let mut weight = MatchWeight::new(taker.order.market).with(clearinghouse, owner);
        let resting = &self.resting;
        // A maker whose portfolio would take the match past MATCH_WEIGHT_MAX ends this
        // match; the next plan takes it.
        let mut admits = |tag: u64| {
            let Some(maker) = resting.get(&tag) else {
                return true;
            };
            let next = weight.with(clearinghouse, maker.owner);
            let fits = next.fits();
            if fits {
                weight = next;
            }
            fits
        };
        let plan = match self.books.get(&taker.order.market) {
            Some(book) => book.plan_bounded(&new, FILLS_PER_MATCH_MAX, &mut admits)?,
            None => Plan {
                remaining: new.qty,
                ..Plan::default()
            },
        };
        let makers: Vec<(VerifiedOrder, u64)> = plan
            .fills
            .iter()
            .filter_map(|fill| {
                let maker = self.resting.get(&fill.maker_tag)?;
                let verified = VerifiedOrder {
                    order: maker.order.clone(),
                    owner: maker.owner,
                    hash: maker.hash,
                };
                Some((verified, fill.qty * lot))
            })
            .collect();
        let transaction = (!makers.is_empty()).then(|| Transaction::MatchPlaced {
            taker: taker.clone(),
            makers: makers
                .iter()
                .map(|(maker, size)| (maker.order.clone(), maker.owner, *size))
                .collect(),
        });
        Ok(PlannedMatch {
            transaction,
            makers,
            plan,
        })
    }

    /// Commits a plan on `market` after the STF accepted its match (or to carry out its
    /// self-trade cancels): fills makers, drops those completely filled or cancelled.
    /// Returns the resting orders removed by self-trade prevention.
    pub fn apply(&mut self, market: u32, plan: &Plan) -> Vec<RestingOrder> {
        let Some(book) = self.books.get_mut(&market) else {
            return Vec::new();
        };
        let removed: Vec<Removed> = book.apply(plan);
        for fill in plan.fills.iter().filter(|f| f.maker_done) {
            self.forget(fill.maker_tag);
        }
        removed.iter().filter_map(|r| self.forget(r.tag)).collect()
    }

    /// The owner and hash of the maker behind fill `index` of `plan` (to take it off the
    /// book when the STF refuses that fill).
    pub fn maker_of(&self, plan: &Plan, index: usize) -> Option<(Address, B256)> {
        let fill = plan.fills.get(index)?;
        let maker = self.resting.get(&fill.maker_tag)?;
        Some((maker.owner, maker.hash))
    }

    /// The orders `owner` has resting with the lots left, by market then priority.
    pub fn open_orders(&self, owner: &Address) -> Vec<(RestingOrder, u64)> {
        let mut out = Vec::new();
        for book in self.books.values() {
            for side in [Side::Buy, Side::Sell] {
                for resting in book.orders(side) {
                    if let Some(order) = self.resting.get(&resting.tag)
                        && order.owner == *owner
                    {
                        out.push((order.clone(), resting.qty));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
