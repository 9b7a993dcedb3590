//! The sequencer's matching engine: a price-time priority limit order book per market.
//!
//! Prices are integer ticks and quantities integer lots (the caller converts from a
//! market's tick and lot). Matching is split in two so the sequencer can check every
//! proposed match against the STF before the book changes: [`Book::plan`] walks the
//! opposite side without mutating it, [`Book::apply`] commits a plan, [`Book::rest`] puts a
//! remainder on the book. [`Book::submit`] does all three for callers that need no check.
//!
//! Self-trade prevention is *expire maker*: a resting order of the taker's own trader met
//! while matching is cancelled, and matching continues behind it. Spec:
//! `docs/spec/matching.md`.

mod ladder;

pub use ladder::LADDER_SPAN_MAX;
use ladder::{Ladder, NIL};

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Bid.
    Buy,
    /// Ask.
    Sell,
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// What happens when a taker meets a resting order of its own trader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SelfTradePrevention {
    /// Cancel the resting order and keep matching behind it.
    #[default]
    ExpireMaker,
    /// Stop matching there: the taker keeps its fills so far and its remainder is
    /// dropped (never rests); the resting order is untouched. The sequencer uses this,
    /// because a resting order is placed on-chain and only its owner can cancel it.
    ExpireTaker,
}

/// Time in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    /// Good till cancelled: the remainder rests.
    GoodTillCancelled,
    /// Immediate or cancel: the remainder is dropped.
    ImmediateOrCancel,
    /// Fill or kill: completely filled at once, or refused with nothing changed.
    FillOrKill,
    /// Post only: refused if it would cross, else rests.
    PostOnly,
}

/// An incoming order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Who owns it (self-trade prevention compares these).
    pub trader: u64,
    /// Side.
    pub side: Side,
    /// Limit price, ticks (≥ 1).
    pub price: u64,
    /// Quantity, lots (≥ 1).
    pub qty: u64,
    /// Time in force.
    pub tif: TimeInForce,
    /// The caller's handle, returned with every fill and cancel of this order.
    pub tag: u64,
}

/// A resting order's identifier: slot and generation, never reused while the book lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderId(pub u64);

impl OrderId {
    fn new(slot: u32, generation: u32) -> OrderId {
        OrderId((u64::from(generation) << 32) | u64::from(slot))
    }

    fn slot(self) -> u32 {
        self.0 as u32
    }

    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// Why an order was refused. The book is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// Zero price or zero quantity.
    #[error("price and quantity must be at least one tick and one lot")]
    Zero,
    /// A post-only order that would take liquidity.
    #[error("post-only order would cross the book")]
    PostOnlyWouldCross,
    /// A fill-or-kill order without enough crossing liquidity.
    #[error(
        "fill-or-kill order cannot be filled completely ({available} of {wanted} lots available)"
    )]
    FillOrKillUnfilled {
        /// Lots that would fill.
        available: u64,
        /// Lots wanted.
        wanted: u64,
    },
    /// The price is too far from the rest of its side.
    #[error("price is more than {LADDER_SPAN_MAX} ticks away from the other orders on its side")]
    PriceOutOfRange,
    /// An amend that would cross: cancel and submit a new order instead.
    #[error("amended price would cross the book")]
    AmendWouldCross,
    /// No live order with that id.
    #[error("no such resting order")]
    UnknownOrder,
}

/// One planned or executed fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// The resting order.
    pub maker: OrderId,
    /// Its trader.
    pub maker_trader: u64,
    /// Its tag.
    pub maker_tag: u64,
    /// The maker's price, ticks.
    pub price: u64,
    /// Lots filled.
    pub qty: u64,
    /// The maker is completely filled by this fill.
    pub maker_done: bool,
}

/// A resting order removed without a fill (self-trade prevention or cancel), as it was.
pub type Removed = RestingOrder;

/// What matching an order would do, computed without changing the book.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Fills in priority order.
    pub fills: Vec<Fill>,
    /// The taker's own resting orders met on the way (cancelled when applied).
    pub self_trades: Vec<OrderId>,
    /// Lots left unfilled after the fills.
    pub remaining: u64,
    /// The plan stopped at its fill bound with crossing liquidity left: plan again after
    /// applying this one.
    pub truncated: bool,
    /// Matching stopped at the taker's own resting order
    /// ([`SelfTradePrevention::ExpireTaker`]): the remainder must not rest.
    pub stopped_by_self_trade: bool,
}

/// A resting order as the book holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    /// Its id.
    pub id: OrderId,
    /// Its trader.
    pub trader: u64,
    /// Its tag.
    pub tag: u64,
    /// Its side.
    pub side: Side,
    /// Its price, ticks.
    pub price: u64,
    /// Lots left.
    pub qty: u64,
}

/// Everything [`Book::submit`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Execution {
    /// Fills in order.
    pub fills: Vec<Fill>,
    /// Own resting orders cancelled by self-trade prevention.
    pub self_trades: Vec<Removed>,
    /// The remainder's id if it rests.
    pub rested: Option<OrderId>,
    /// Lots neither filled nor rested (IOC remainder).
    pub dropped: u64,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    generation: u32,
    live: bool,
    side: Side,
    trader: u64,
    tag: u64,
    price: u64,
    qty: u64,
    prev: u32,
    next: u32,
}

impl Slot {
    /// The order this slot holds, as callers see it.
    fn resting(&self, id: OrderId) -> RestingOrder {
        RestingOrder {
            id,
            trader: self.trader,
            tag: self.tag,
            side: self.side,
            price: self.price,
            qty: self.qty,
        }
    }
}

/// One market's book.
#[derive(Clone, Debug)]
pub struct Book {
    bids: Ladder,
    asks: Ladder,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    /// Levels whose quantity changed since the last [`Book::take_changed_levels`].
    changed: Vec<(Side, u64)>,
    stp: SelfTradePrevention,
}

impl Default for Book {
    fn default() -> Book {
        Book::new()
    }
}

impl Book {
    /// An empty book.
    pub fn new() -> Book {
        Book {
            bids: Ladder::new(true),
            asks: Ladder::new(false),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            changed: Vec::new(),
            stp: SelfTradePrevention::default(),
        }
    }

    /// An empty book with the given self-trade prevention mode.
    pub fn with_self_trade_prevention(stp: SelfTradePrevention) -> Book {
        Book { stp, ..Book::new() }
    }

    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Resting orders.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when nothing rests.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Best bid `(price, total lots)`.
    pub fn best_bid(&self) -> Option<(u64, u64)> {
        self.best(Side::Buy)
    }

    /// Best ask `(price, total lots)`.
    pub fn best_ask(&self) -> Option<(u64, u64)> {
        self.best(Side::Sell)
    }

    fn best(&self, side: Side) -> Option<(u64, u64)> {
        let ladder = self.ladder(side);
        ladder
            .best()
            .map(|i| (ladder.price_of(i), ladder.level(i).qty))
    }

    /// Up to `levels` non-empty levels of `side` from the best: `(price, lots, orders)`.
    pub fn depth(&self, side: Side, levels: usize) -> Vec<(u64, u64, u32)> {
        self.ladder(side).depth(levels)
    }

    /// Total lots resting at `price` on `side` (0 when none).
    pub fn level_qty(&self, side: Side, price: u64) -> u64 {
        let ladder = self.ladder(side);
        ladder.index_of(price).map_or(0, |i| ladder.level(i).qty)
    }

    /// A live resting order.
    pub fn order(&self, id: OrderId) -> Option<RestingOrder> {
        Some(self.live_slot(id)?.resting(id))
    }

    /// Every resting order of `side` in priority order (tests and snapshots).
    pub fn orders(&self, side: Side) -> Vec<RestingOrder> {
        let ladder = self.ladder(side);
        let mut out = Vec::new();
        let mut at = ladder.best();
        while let Some(index) = at {
            let mut slot = ladder.level(index).head;
            while slot != NIL {
                let s = &self.slots[slot as usize];
                out.push(s.resting(OrderId::new(slot, s.generation)));
                slot = s.next;
            }
            at = ladder.next_worse(index);
        }
        out
    }

    /// Levels whose total changed since the last call, `(side, price)` in the order they
    /// changed (a level may appear more than once); read the new totals with
    /// [`Book::level_qty`].
    pub fn take_changed_levels(&mut self) -> Vec<(Side, u64)> {
        std::mem::take(&mut self.changed)
    }

    fn live_slot(&self, id: OrderId) -> Option<&Slot> {
        self.slots
            .get(id.slot() as usize)
            .filter(|s| s.live && s.generation == id.generation())
    }

    fn crosses(side: Side, limit: u64, maker_price: u64) -> bool {
        match side {
            Side::Buy => maker_price <= limit,
            Side::Sell => maker_price >= limit,
        }
    }

    /// What matching `order` would do, with at most `fills_max` fills; the book is not
    /// changed. Refuses a post-only order that would cross and a fill-or-kill order that
    /// the crossing liquidity (within `fills_max` fills) cannot fill completely.
    pub fn plan(&self, order: &NewOrder, fills_max: usize) -> Result<Plan, Reject> {
        self.plan_bounded(order, fills_max, |_| true)
    }

    /// [`Book::plan`] under one more bound the caller keeps: before each fill, `admits`
    /// is asked with the maker's tag, and the plan stops there (truncated, as at
    /// `fills_max`) when it answers `false`. The sequencer uses it to keep one match
    /// within what the STF allows a match to touch.
    pub fn plan_bounded(
        &self,
        order: &NewOrder,
        fills_max: usize,
        mut admits: impl FnMut(u64) -> bool,
    ) -> Result<Plan, Reject> {
        if order.price == 0 || order.qty == 0 {
            return Err(Reject::Zero);
        }
        let opposite = self.ladder(order.side.opposite());
        let mut plan = Plan {
            remaining: order.qty,
            ..Plan::default()
        };
        if order.tif == TimeInForce::PostOnly {
            if let Some(best) = opposite.best()
                && Self::crosses(order.side, order.price, opposite.price_of(best))
            {
                return Err(Reject::PostOnlyWouldCross);
            }
            return Ok(plan);
        }
        let mut at = opposite.best();
        'levels: while let Some(index) = at {
            let price = opposite.price_of(index);
            if !Self::crosses(order.side, order.price, price) {
                break;
            }
            let mut slot = opposite.level(index).head;
            while slot != NIL {
                let maker = &self.slots[slot as usize];
                let id = OrderId::new(slot, maker.generation);
                if plan.remaining == 0 {
                    break 'levels;
                }
                if maker.trader == order.trader {
                    if self.stp == SelfTradePrevention::ExpireTaker {
                        plan.stopped_by_self_trade = true;
                        break 'levels;
                    }
                    plan.self_trades.push(id);
                } else {
                    if plan.fills.len() == fills_max || !admits(maker.tag) {
                        plan.truncated = true;
                        break 'levels;
                    }
                    let qty = plan.remaining.min(maker.qty);
                    plan.fills.push(Fill {
                        maker: id,
                        maker_trader: maker.trader,
                        maker_tag: maker.tag,
                        price,
                        qty,
                        maker_done: qty == maker.qty,
                    });
                    plan.remaining -= qty;
                }
                slot = maker.next;
            }
            at = opposite.next_worse(index);
        }
        if order.tif == TimeInForce::FillOrKill && plan.remaining > 0 {
            return Err(Reject::FillOrKillUnfilled {
                available: order.qty - plan.remaining,
                wanted: order.qty,
            });
        }
        Ok(plan)
    }

    /// Commits a plan made by [`Book::plan`] on this book with no change in between:
    /// cancels the self-trades and fills the makers. Returns the self-trade removals.
    pub fn apply(&mut self, plan: &Plan) -> Vec<Removed> {
        let removed: Vec<Removed> = plan
            .self_trades
            .iter()
            .filter_map(|id| self.cancel(*id))
            .collect();
        for fill in &plan.fills {
            self.fill(fill.maker, fill.qty);
        }
        removed
    }

    /// Takes `qty` lots from a resting order (removing it when it reaches zero).
    fn fill(&mut self, id: OrderId, qty: u64) {
        let Some(slot) = self.live_slot(id).copied() else {
            debug_assert!(false, "fill of a dead order");
            return;
        };
        debug_assert!(qty <= slot.qty, "overfill");
        let qty = qty.min(slot.qty);
        if qty == slot.qty {
            self.unlink(id.slot());
        } else {
            self.slots[id.slot() as usize].qty -= qty;
            let ladder = self.ladder_mut(slot.side);
            if let Some(index) = ladder.index_of(slot.price) {
                ladder.level_mut(index).qty -= qty;
            }
            self.changed.push((slot.side, slot.price));
        }
    }

    /// Rests `qty` lots of `order` at its price (a remainder after matching, or a
    /// post-only order). The caller has matched it first: resting a crossing order is a
    /// bug and is refused.
    pub fn rest(&mut self, order: &NewOrder, qty: u64) -> Result<OrderId, Reject> {
        if order.price == 0 || qty == 0 {
            return Err(Reject::Zero);
        }
        if let Some((best, _)) = self.best(order.side.opposite())
            && Self::crosses(order.side, order.price, best)
        {
            return Err(Reject::PostOnlyWouldCross);
        }
        let index = self
            .ladder_mut(order.side)
            .ensure(order.price)
            .ok_or(Reject::PriceOutOfRange)?;
        let slot_index = match self.free.pop() {
            Some(free) => free,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    live: false,
                    side: order.side,
                    trader: 0,
                    tag: 0,
                    price: 0,
                    qty: 0,
                    prev: NIL,
                    next: NIL,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let ladder = self.ladder_mut(order.side);
        let level = ladder.level_mut(index);
        let tail = level.tail;
        let was_empty = level.count == 0;
        level.tail = slot_index;
        if tail == NIL {
            level.head = slot_index;
        }
        level.qty += qty;
        level.count += 1;
        if was_empty {
            ladder.mark_occupied(index);
        }
        if tail != NIL {
            self.slots[tail as usize].next = slot_index;
        }
        let slot = &mut self.slots[slot_index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        *slot = Slot {
            generation: slot.generation,
            live: true,
            side: order.side,
            trader: order.trader,
            tag: order.tag,
            price: order.price,
            qty,
            prev: tail,
            next: NIL,
        };
        self.live += 1;
        self.changed.push((order.side, order.price));
        Ok(OrderId::new(slot_index, slot.generation))
    }

    /// Removes a slot from its level's queue and frees it.
    fn unlink(&mut self, slot_index: u32) {
        let slot = self.slots[slot_index as usize];
        if slot.prev != NIL {
            self.slots[slot.prev as usize].next = slot.next;
        }
        if slot.next != NIL {
            self.slots[slot.next as usize].prev = slot.prev;
        }
        let ladder = self.ladder_mut(slot.side);
        if let Some(index) = ladder.index_of(slot.price) {
            let level = ladder.level_mut(index);
            if level.head == slot_index {
                level.head = slot.next;
            }
            if level.tail == slot_index {
                level.tail = slot.prev;
            }
            level.qty -= slot.qty;
            level.count -= 1;
            if level.count == 0 {
                ladder.mark_empty(index);
            }
        }
        let freed = &mut self.slots[slot_index as usize];
        freed.live = false;
        freed.prev = NIL;
        freed.next = NIL;
        self.free.push(slot_index);
        self.live -= 1;
        self.changed.push((slot.side, slot.price));
    }

    /// Cancels a resting order; `None` if it is not live.
    pub fn cancel(&mut self, id: OrderId) -> Option<Removed> {
        let removed = self.live_slot(id)?.resting(id);
        self.unlink(id.slot());
        Some(removed)
    }

    /// Amends a resting order. Reducing the quantity at the same price keeps its place in
    /// the queue and its id; any other change (new price, larger quantity) re-queues it
    /// at the back of its new level under a new id. An amend whose price would cross is
    /// refused (cancel and submit instead) and changes nothing.
    pub fn amend(&mut self, id: OrderId, price: u64, qty: u64) -> Result<OrderId, Reject> {
        let slot = *self.live_slot(id).ok_or(Reject::UnknownOrder)?;
        if price == 0 || qty == 0 {
            return Err(Reject::Zero);
        }
        if price == slot.price && qty <= slot.qty {
            let reduce = slot.qty - qty;
            if reduce > 0 {
                self.fill(id, reduce);
            }
            return Ok(id);
        }
        if let Some((best, _)) = self.best(slot.side.opposite())
            && Self::crosses(slot.side, price, best)
        {
            return Err(Reject::AmendWouldCross);
        }
        // Make sure the new price fits before removing the old order.
        self.ladder_mut(slot.side)
            .ensure(price)
            .ok_or(Reject::PriceOutOfRange)?;
        self.unlink(id.slot());
        let order = NewOrder {
            trader: slot.trader,
            side: slot.side,
            price,
            qty,
            tif: TimeInForce::GoodTillCancelled,
            tag: slot.tag,
        };
        self.rest(&order, qty)
    }

    /// Matches `order` completely (no fill bound) and rests a good-till-cancelled or
    /// post-only remainder.
    pub fn submit(&mut self, order: &NewOrder) -> Result<Execution, Reject> {
        let plan = self.plan(order, usize::MAX)?;
        if order.tif == TimeInForce::GoodTillCancelled || order.tif == TimeInForce::PostOnly {
            // Fail before changing anything if the remainder cannot rest.
            if plan.remaining > 0 && self.ladder_mut(order.side).ensure(order.price).is_none() {
                return Err(Reject::PriceOutOfRange);
            }
        }
        let self_trades = self.apply(&plan);
        let mut execution = Execution {
            fills: plan.fills,
            self_trades,
            rested: None,
            dropped: 0,
        };
        if plan.remaining > 0 {
            match order.tif {
                _ if plan.stopped_by_self_trade => execution.dropped = plan.remaining,
                TimeInForce::GoodTillCancelled | TimeInForce::PostOnly => {
                    execution.rested = Some(self.rest(order, plan.remaining)?);
                }
                TimeInForce::ImmediateOrCancel | TimeInForce::FillOrKill => {
                    execution.dropped = plan.remaining;
                }
            }
        }
        Ok(execution)
    }
}

#[cfg(test)]
mod tests;
