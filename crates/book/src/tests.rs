//! Unit tests of each rule, and property tests: the book against a deliberately simple
//! reference implementation on random operation streams (same fills, same resting orders
//! in the same priority after every operation), no crossed book, level totals equal to
//! their orders, and every lot accounted for.

use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

fn order(trader: u64, side: Side, price: u64, qty: u64, tif: TimeInForce, tag: u64) -> NewOrder {
    NewOrder {
        trader,
        side,
        price,
        qty,
        tif,
        tag,
    }
}

fn gtc(trader: u64, side: Side, price: u64, qty: u64, tag: u64) -> NewOrder {
    order(
        trader,
        side,
        price,
        qty,
        TimeInForce::GoodTillCancelled,
        tag,
    )
}

#[test]
fn price_then_time_priority_and_the_makers_price() {
    let mut book = Book::new();
    book.submit(&gtc(1, Side::Sell, 101, 5, 1)).unwrap();
    book.submit(&gtc(2, Side::Sell, 100, 5, 2)).unwrap();
    book.submit(&gtc(3, Side::Sell, 100, 5, 3)).unwrap();
    let done = book.submit(&gtc(9, Side::Buy, 102, 12, 4)).unwrap();
    let fills: Vec<_> = done
        .fills
        .iter()
        .map(|f| (f.maker_tag, f.price, f.qty))
        .collect();
    assert_eq!(fills, vec![(2, 100, 5), (3, 100, 5), (1, 101, 2)]);
    assert_eq!(done.rested, None);
    assert_eq!(book.best_ask(), Some((101, 3)));
    assert_eq!(book.best_bid(), None);
}

#[test]
fn time_in_force_rules() {
    let mut book = Book::new();
    book.submit(&gtc(1, Side::Sell, 100, 5, 1)).unwrap();
    // Post-only that would cross: refused, nothing changes.
    let post = order(2, Side::Buy, 100, 1, TimeInForce::PostOnly, 2);
    assert_eq!(book.submit(&post), Err(Reject::PostOnlyWouldCross));
    // Fill-or-kill larger than the book: refused, nothing changes.
    let fok = order(2, Side::Buy, 100, 6, TimeInForce::FillOrKill, 3);
    assert_eq!(
        book.submit(&fok),
        Err(Reject::FillOrKillUnfilled {
            available: 5,
            wanted: 6
        })
    );
    assert_eq!(book.best_ask(), Some((100, 5)));
    // IOC: fills what it can, drops the rest.
    let ioc = order(2, Side::Buy, 100, 7, TimeInForce::ImmediateOrCancel, 4);
    let done = book.submit(&ioc).unwrap();
    assert_eq!((done.fills.len(), done.dropped, done.rested), (1, 2, None));
    assert!(book.is_empty());
    // A non-crossing post-only rests.
    let post = order(2, Side::Buy, 99, 1, TimeInForce::PostOnly, 5);
    assert!(book.submit(&post).unwrap().rested.is_some());
    assert_eq!(book.submit(&gtc(1, Side::Buy, 0, 1, 6)), Err(Reject::Zero));
}

#[test]
fn self_trade_prevention_expires_the_resting_order() {
    let mut book = Book::new();
    book.submit(&gtc(1, Side::Sell, 100, 5, 1)).unwrap();
    book.submit(&gtc(2, Side::Sell, 100, 5, 2)).unwrap();
    let done = book.submit(&gtc(1, Side::Buy, 100, 3, 3)).unwrap();
    assert_eq!(done.self_trades.len(), 1);
    assert_eq!(done.self_trades[0].tag, 1);
    assert_eq!(done.fills[0].maker_tag, 2);
    assert_eq!(book.best_ask(), Some((100, 2)));
}

#[test]
fn expire_taker_stops_at_the_own_order_and_drops_the_remainder() {
    let mut book = Book::with_self_trade_prevention(SelfTradePrevention::ExpireTaker);
    book.submit(&gtc(2, Side::Sell, 100, 2, 1)).unwrap();
    book.submit(&gtc(1, Side::Sell, 100, 5, 2)).unwrap();
    book.submit(&gtc(3, Side::Sell, 100, 5, 3)).unwrap();
    let done = book.submit(&gtc(1, Side::Buy, 100, 6, 4)).unwrap();
    let fills: Vec<_> = done.fills.iter().map(|f| (f.maker_tag, f.qty)).collect();
    assert_eq!(fills, vec![(1, 2)]);
    assert_eq!((done.dropped, done.rested), (4, None));
    assert!(done.self_trades.is_empty());
    let tags: Vec<_> = book.orders(Side::Sell).iter().map(|o| o.tag).collect();
    assert_eq!(tags, vec![2, 3], "the own order is untouched");
}

#[test]
fn plans_respect_the_fill_bound_and_change_nothing() {
    let mut book = Book::new();
    for tag in 0..5 {
        book.submit(&gtc(10 + tag, Side::Sell, 100 + tag, 1, tag))
            .unwrap();
    }
    let taker = gtc(1, Side::Buy, 200, 5, 99);
    let plan = book.plan(&taker, 2).unwrap();
    assert_eq!(
        (plan.fills.len(), plan.remaining, plan.truncated),
        (2, 3, true)
    );
    assert_eq!(book.len(), 5);
    book.apply(&plan);
    let rest_of_taker = NewOrder {
        qty: plan.remaining,
        ..taker
    };
    let plan = book.plan(&rest_of_taker, 16).unwrap();
    assert_eq!(
        (plan.fills.len(), plan.remaining, plan.truncated),
        (3, 0, false)
    );
}

#[test]
fn a_bounded_plan_stops_before_the_first_maker_refused_and_the_next_plan_takes_it() {
    let mut book = Book::new();
    for tag in 0..5 {
        book.submit(&gtc(10 + tag, Side::Sell, 100 + tag, 1, tag))
            .unwrap();
    }
    let taker = gtc(1, Side::Buy, 200, 5, 99);
    // A budget the caller keeps: each maker costs its tag + 1, three units in all.
    let mut budget = 3;
    let mut asked = Vec::new();
    let plan = book
        .plan_bounded(&taker, 16, |tag| {
            asked.push(tag);
            let cost = tag + 1;
            if cost > budget {
                return false;
            }
            budget -= cost;
            true
        })
        .unwrap();
    assert_eq!(
        asked,
        vec![0, 1, 2],
        "asked in priority order, up to the refusal"
    );
    let tags: Vec<_> = plan.fills.iter().map(|f| f.maker_tag).collect();
    assert_eq!(
        (tags, plan.remaining, plan.truncated),
        (vec![0, 1], 3, true)
    );
    assert_eq!(book.len(), 5, "planning changes nothing");
    book.apply(&plan);
    let rest = NewOrder {
        qty: plan.remaining,
        ..taker
    };
    let plan = book.plan_bounded(&rest, 16, |tag| tag == 2).unwrap();
    let tags: Vec<_> = plan.fills.iter().map(|f| f.maker_tag).collect();
    assert_eq!((tags, plan.truncated), (vec![2], true));
    // A fill-or-kill order the bound leaves short is refused.
    let fok = NewOrder {
        tif: TimeInForce::FillOrKill,
        ..rest
    };
    assert!(matches!(
        book.plan_bounded(&fok, 16, |tag| tag == 2),
        Err(Reject::FillOrKillUnfilled { .. })
    ));
}

#[test]
fn amend_down_keeps_priority_and_anything_else_requeues() {
    let mut book = Book::new();
    let a = book
        .submit(&gtc(1, Side::Buy, 100, 5, 1))
        .unwrap()
        .rested
        .unwrap();
    book.submit(&gtc(2, Side::Buy, 100, 5, 2)).unwrap();
    assert_eq!(book.amend(a, 100, 3), Ok(a));
    assert_eq!(book.orders(Side::Buy)[0].tag, 1);
    let moved = book.amend(a, 100, 4).unwrap();
    assert_ne!(moved, a);
    assert_eq!(
        book.orders(Side::Buy)[1].tag,
        1,
        "larger size loses priority"
    );
    assert!(book.order(a).is_none(), "the old id is dead");
    book.submit(&gtc(3, Side::Sell, 105, 1, 3)).unwrap();
    assert_eq!(book.amend(moved, 105, 4), Err(Reject::AmendWouldCross));
    assert_eq!(
        book.amend(OrderId(12345), 100, 1),
        Err(Reject::UnknownOrder)
    );
}

#[test]
fn a_price_too_far_from_the_side_is_refused_without_a_change() {
    let mut book = Book::new();
    book.submit(&gtc(1, Side::Buy, 10, 1, 1)).unwrap();
    let far = gtc(1, Side::Buy, 10 + LADDER_SPAN_MAX, 1, 2);
    assert_eq!(book.submit(&far), Err(Reject::PriceOutOfRange));
    assert_eq!(book.len(), 1);
}

// ---- reference implementation ----

#[derive(Clone, Debug)]
struct RefOrder {
    tag: u64,
    trader: u64,
    side: Side,
    price: u64,
    qty: u64,
    seq: u64,
}

/// What the reference did: fills as `(maker tag, price, qty)`, self-trade tags, rested.
type RefOutcome = (Vec<(u64, u64, u64)>, Vec<u64>, bool);

#[derive(Default)]
struct Reference {
    orders: Vec<RefOrder>,
    seq: u64,
}

impl Reference {
    fn sorted(&self, side: Side) -> Vec<RefOrder> {
        let mut v: Vec<_> = self
            .orders
            .iter()
            .filter(|o| o.side == side)
            .cloned()
            .collect();
        v.sort_by_key(|o| {
            let p = if side == Side::Buy {
                u64::MAX - o.price
            } else {
                o.price
            };
            (p, o.seq)
        });
        v
    }

    fn submit(&mut self, o: &NewOrder) -> Result<RefOutcome, Reject> {
        if o.price == 0 || o.qty == 0 {
            return Err(Reject::Zero);
        }
        let crosses = |p: u64| match o.side {
            Side::Buy => p <= o.price,
            Side::Sell => p >= o.price,
        };
        let opposite = self.sorted(o.side.opposite());
        if o.tif == TimeInForce::PostOnly && opposite.first().is_some_and(|m| crosses(m.price)) {
            return Err(Reject::PostOnlyWouldCross);
        }
        let mut remaining = o.qty;
        let mut fills = Vec::new();
        let mut self_trades = Vec::new();
        if o.tif != TimeInForce::PostOnly {
            for maker in opposite.iter().take_while(|m| crosses(m.price)) {
                if remaining == 0 {
                    break;
                }
                if maker.trader == o.trader {
                    self_trades.push(maker.tag);
                } else {
                    let q = remaining.min(maker.qty);
                    fills.push((maker.tag, maker.price, q));
                    remaining -= q;
                }
            }
        }
        if o.tif == TimeInForce::FillOrKill && remaining > 0 {
            return Err(Reject::FillOrKillUnfilled {
                available: o.qty - remaining,
                wanted: o.qty,
            });
        }
        self.orders.retain(|r| !self_trades.contains(&r.tag));
        for (tag, _, q) in &fills {
            let r = self.orders.iter_mut().find(|r| r.tag == *tag).unwrap();
            r.qty -= q;
        }
        self.orders.retain(|r| r.qty > 0);
        let rests = remaining > 0
            && matches!(
                o.tif,
                TimeInForce::GoodTillCancelled | TimeInForce::PostOnly
            );
        if rests {
            self.seq += 1;
            self.orders.push(RefOrder {
                tag: o.tag,
                trader: o.trader,
                side: o.side,
                price: o.price,
                qty: remaining,
                seq: self.seq,
            });
        }
        Ok((fills, self_trades, rests))
    }
}

#[derive(Clone, Debug)]
enum Op {
    Submit {
        trader: u64,
        buy: bool,
        price: u64,
        qty: u64,
        tif: u8,
    },
    Cancel(usize),
    Amend {
        pick: usize,
        price_delta: i64,
        qty: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u64..4, any::<bool>(), prop_oneof![9 => 95u64..106, 1 => 1u64..5_000], 1u64..20, 0u8..4)
            .prop_map(|(trader, buy, price, qty, tif)| Op::Submit { trader, buy, price, qty, tif }),
        2 => any::<usize>().prop_map(Op::Cancel),
        1 => (any::<usize>(), -3i64..4, 1u64..20).prop_map(|(pick, price_delta, qty)| Op::Amend { pick, price_delta, qty }),
    ]
}

fn check_invariants(book: &Book) {
    if let (Some((bid, _)), Some((ask, _))) = (book.best_bid(), book.best_ask()) {
        assert!(bid < ask, "crossed book: bid {bid} ask {ask}");
    }
    for side in [Side::Buy, Side::Sell] {
        let orders = book.orders(side);
        for pair in orders.windows(2) {
            match side {
                Side::Buy => assert!(pair[0].price >= pair[1].price),
                Side::Sell => assert!(pair[0].price <= pair[1].price),
            }
        }
        let mut totals: HashMap<u64, u64> = HashMap::new();
        for o in &orders {
            assert!(o.qty > 0);
            *totals.entry(o.price).or_default() += o.qty;
        }
        for (price, total) in totals {
            assert_eq!(book.level_qty(side, price), total);
        }
        let depth: u64 = book.depth(side, usize::MAX).iter().map(|l| l.1).sum();
        assert_eq!(depth, orders.iter().map(|o| o.qty).sum::<u64>());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Same fills, same self-trade cancels, same resting orders in the same priority as
    /// the reference after every operation; no crossed book; every lot accounted for.
    #[test]
    fn the_book_matches_the_reference(ops in prop::collection::vec(op(), 1..200)) {
        let mut book = Book::new();
        let mut reference = Reference::default();
        let mut ids: HashMap<u64, OrderId> = HashMap::new();
        // Lots in = filled (taker side) + filled (maker side) + cancelled + dropped + resting.
        let (mut submitted, mut filled, mut removed, mut dropped) = (0u64, 0u64, 0u64, 0u64);
        for (n, op) in ops.into_iter().enumerate() {
            let tag = n as u64 + 1;
            match op {
                Op::Submit { trader, buy, price, qty, tif } => {
                    let tif = [TimeInForce::GoodTillCancelled, TimeInForce::ImmediateOrCancel,
                               TimeInForce::FillOrKill, TimeInForce::PostOnly][tif as usize];
                    let o = order(trader, if buy { Side::Buy } else { Side::Sell }, price, qty, tif, tag);
                    let expected = reference.submit(&o);
                    let got = book.submit(&o);
                    match (expected, got) {
                        (Ok((fills, self_trades, rests)), Ok(done)) => {
                            let got_fills: Vec<_> = done.fills.iter().map(|f| (f.maker_tag, f.price, f.qty)).collect();
                            prop_assert_eq!(got_fills, fills);
                            let got_stp: Vec<_> = done.self_trades.iter().map(|r| r.tag).collect();
                            prop_assert_eq!(got_stp, self_trades);
                            prop_assert_eq!(done.rested.is_some(), rests);
                            if let Some(id) = done.rested { ids.insert(tag, id); }
                            submitted += qty;
                            filled += 2 * done.fills.iter().map(|f| f.qty).sum::<u64>();
                            removed += done.self_trades.iter().map(|r| r.qty).sum::<u64>();
                            dropped += done.dropped;
                        }
                        (Err(a), Err(b)) => prop_assert_eq!(a, b),
                        (a, b) => prop_assert!(false, "reference {:?} book {:?}", a, b),
                    }
                }
                Op::Cancel(pick) => {
                    let live: Vec<u64> = reference.orders.iter().map(|o| o.tag).collect();
                    if live.is_empty() { continue; }
                    let victim = live[pick % live.len()];
                    let gone = book.cancel(ids[&victim]).expect("live in the reference, live in the book");
                    removed += gone.qty;
                    reference.orders.retain(|o| o.tag != victim);
                    prop_assert!(book.cancel(ids[&victim]).is_none(), "cancel twice");
                }
                Op::Amend { pick, price_delta, qty } => {
                    let live: Vec<RefOrder> = reference.orders.clone();
                    if live.is_empty() { continue; }
                    let target = &live[pick % live.len()];
                    let price = (target.price as i64 + price_delta).max(1) as u64;
                    let opposite_best = reference.sorted(target.side.opposite()).first().map(|o| o.price);
                    let would_cross = opposite_best.is_some_and(|p| match target.side {
                        Side::Buy => price >= p, Side::Sell => price <= p });
                    let result = book.amend(ids[&target.tag], price, qty);
                    if price == target.price && qty <= target.qty {
                        prop_assert_eq!(result, Ok(ids[&target.tag]));
                        removed += target.qty - qty;
                        reference.orders.iter_mut().find(|o| o.tag == target.tag).unwrap().qty = qty;
                    } else if would_cross {
                        prop_assert_eq!(result, Err(Reject::AmendWouldCross));
                    } else {
                        let id = result.unwrap();
                        ids.insert(target.tag, id);
                        removed += target.qty;
                        submitted += qty;
                        reference.seq += 1;
                        let r = reference.orders.iter_mut().find(|o| o.tag == target.tag).unwrap();
                        r.price = price; r.qty = qty; r.seq = reference.seq;
                    }
                }
            }
            check_invariants(&book);
            for side in [Side::Buy, Side::Sell] {
                let got: Vec<_> = book.orders(side).iter().map(|o| (o.tag, o.price, o.qty)).collect();
                let want: Vec<_> = reference.sorted(side).iter().map(|o| (o.tag, o.price, o.qty)).collect();
                prop_assert_eq!(got, want);
            }
            let resting: u64 = [Side::Buy, Side::Sell].iter().flat_map(|s| book.orders(*s)).map(|o| o.qty).sum();
            prop_assert_eq!(submitted, filled + removed + dropped + resting);
        }
    }
}

#[test]
fn a_resting_order_costs_48_bytes_in_the_book() {
    // Documented in docs/PERFORMANCE.md (memory per resting order); keep it honest.
    assert_eq!(std::mem::size_of::<Slot>(), 48);
}
