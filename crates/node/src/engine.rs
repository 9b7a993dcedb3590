//! The sequencer's order books over the chain state: one [`Book`] per market holding the
//! placed (resting) orders of the registry, converted between the market's micro-units
//! and the book's ticks and lots. It turns a taker's plan into a match transaction that
//! names placed makers (kind 0x17) for the STF to check, and it is rebuilt from the state
//! alone on start (`OrderRegistry::resting`, by placement sequence), so a crash loses no
//! resting order and no priority. Spec: `docs/spec/matching.md`.

use alloy_primitives::{Address, B256};
use std::collections::{BTreeMap, HashMap};
use straddle_book::{
    Book, NewOrder, OrderId, Plan, Removed, SelfTradePrevention, Side, TimeInForce as BookTif,
};
use straddle_exchange::Ledger;
use straddle_exchange::clearinghouse::market::MarketSpec;
use straddle_exchange::orders::FILLS_PER_MATCH_MAX;
use straddle_primitives::{Order, SignedOrder, TimeInForce, Transaction};

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
        let tag = self.by_order.remove(&(owner, hash))?;
        let resting = self.resting.remove(&tag)?;
        if let Some(book) = self.books.get_mut(&resting.order.market) {
            book.cancel(resting.id);
        }
        Some(resting)
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
    /// market's book: at most [`FILLS_PER_MATCH_MAX`] makers. The transaction is `None`
    /// when nothing crosses (the plan may still say matching stopped at a self-trade).
    pub fn plan(
        &mut self,
        ledger: &Ledger,
        taker: &SignedOrder,
        owner: Address,
        remaining: u64,
    ) -> Result<PlannedMatch, EngineError> {
        let (new, lot) = self.new_order(ledger, owner, &taker.order, remaining, u64::MAX)?;
        let plan = match self.books.get(&taker.order.market) {
            Some(book) => book.plan(&new, FILLS_PER_MATCH_MAX)?,
            None => Plan {
                remaining: new.qty,
                ..Plan::default()
            },
        };
        let transaction = (!plan.fills.is_empty()).then(|| Transaction::MatchPlaced {
            taker: taker.clone(),
            makers: plan
                .fills
                .iter()
                .filter_map(|fill| {
                    let maker = self.resting.get(&fill.maker_tag)?;
                    Some((maker.order.clone(), maker.owner, fill.qty * lot))
                })
                .collect(),
        });
        Ok(PlannedMatch { transaction, plan })
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
            if let Some(maker) = self.resting.remove(&fill.maker_tag) {
                self.by_order.remove(&(maker.owner, maker.hash));
            }
        }
        removed
            .iter()
            .filter_map(|r| {
                let maker = self.resting.remove(&r.tag)?;
                self.by_order.remove(&(maker.owner, maker.hash));
                Some(maker)
            })
            .collect()
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
