//! Signed orders on-chain: the order registry (filled size and cancellation per order
//! hash) and the validation of match transactions. The matching engine proposes matches;
//! this module enforces every rule that protects the traders whose signatures it carries:
//! same market, opposite sides, prices that cross at the maker's price, remaining size,
//! expiry, cancellation, reduce-only, self-trade, time-in-force, and (through the
//! clearinghouse) margin. A match is all-or-nothing. Spec: `docs/spec/clearinghouse.md` §6.

use crate::clearinghouse::{ClearingError, Clearinghouse, Fill, FillOutcome};
use crate::risk::POSITIONS_PER_ACCOUNT_MAX;
use alloy_primitives::{Address, B256};
use std::collections::HashMap;
use straddle_primitives::TimeInForce;

/// Makers one match may fill (the wire format's bound).
pub const FILLS_PER_MATCH_MAX: usize = straddle_primitives::transaction::MAKERS_PER_MATCH_MAX;

/// The most one match may touch, in units of the cost of its one-step proof on L1
/// ([`MatchWeight`]). Every match of one maker fits (two full portfolios over 64 other
/// markets weigh 218), so any two accounts can always trade; a sweep over more is split
/// into several matches by the engine. Keeps one match's proof under the dispute game's
/// gas target (`docs/spec/disputes.md` §4).
pub const MATCH_WEIGHT_MAX: usize = 220;
// Any two accounts can trade: two full portfolios over distinct markets, and a third
// market traded, fit.
const _: () = assert!(
    2 * POSITIONS_PER_ACCOUNT_MAX
        + WEIGHT_PER_MARKET * (2 * POSITIONS_PER_ACCOUNT_MAX + 1)
        + 2 * WEIGHT_PER_PORTFOLIO
        <= MATCH_WEIGHT_MAX
);

/// Weight of each distinct portfolio a match touches (its leaf, its order record, one
/// fill's arithmetic).
pub const WEIGHT_PER_PORTFOLIO: usize = 12;
/// Weight of each distinct market the match's portfolios hold or trade (a leaf read).
pub const WEIGHT_PER_MARKET: usize = 2;

/// What a match touches: its portfolios (the taker's and each maker owner's, once
/// each), the positions they hold as stored before the match, and the distinct markets
/// of those positions together with the match's market.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchWeight {
    owners: Vec<Address>,
    markets: Vec<u32>,
    positions: usize,
}

impl MatchWeight {
    /// The weight of a match on `market` with no portfolio yet.
    pub fn new(market: u32) -> Self {
        Self {
            owners: Vec::new(),
            markets: vec![market],
            positions: 0,
        }
    }

    /// The weight with `owner`'s portfolio added (nothing if already in), leaving this
    /// one as it is (the engine asks before it commits a maker).
    pub fn with(&self, clearinghouse: &Clearinghouse, owner: Address) -> Self {
        let mut next = self.clone();
        next.add(clearinghouse, owner);
        next
    }

    /// Adds `owner`'s portfolio (nothing if already in).
    fn add(&mut self, clearinghouse: &Clearinghouse, owner: Address) {
        if self.owners.contains(&owner) {
            return;
        }
        self.owners.push(owner);
        for position in clearinghouse.stored_positions(&owner) {
            self.positions += 1;
            if !self.markets.contains(&position.market) {
                self.markets.push(position.market);
            }
        }
    }

    /// `positions + 2·markets + 12·portfolios`.
    pub fn weight(&self) -> usize {
        self.positions
            + WEIGHT_PER_MARKET * self.markets.len()
            + WEIGHT_PER_PORTFOLIO * self.owners.len()
    }

    /// Within [`MATCH_WEIGHT_MAX`].
    pub fn fits(&self) -> bool {
        self.weight() <= MATCH_WEIGHT_MAX
    }

    /// The weight of a match between `accounts` on `market`.
    pub fn of(clearinghouse: &Clearinghouse, market: u32, accounts: &[Address]) -> Self {
        // Built in place: the STF weighs every match.
        let mut weight = Self::new(market);
        for owner in accounts {
            weight.add(clearinghouse, *owner);
        }
        weight
    }
}

pub use straddle_primitives::VerifiedOrder;

/// What the chain remembers of an order, keyed by (owner, order hash): the order hash
/// does not include the signer, so two people signing identical orders must not share a
/// record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderRecord {
    /// Filled size, micro-contracts.
    pub filled: u64,
    /// Cancelled by its owner.
    pub cancelled: bool,
    /// Placed (resting) by its owner's signature: matches may name it without a
    /// signature of their own, and the sequencer's book is rebuilt from these.
    pub placed: Option<Placement>,
}

/// A resting order as the chain keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Global placement sequence number: time priority across restarts.
    pub seq: u64,
    /// The order itself.
    pub order: straddle_primitives::Order,
}

impl OrderRecord {
    /// Whether the order was placed.
    pub fn is_placed(&self) -> bool {
        self.placed.is_some()
    }
}

/// One maker of a match and the size it fills.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MakerFill {
    /// The resting order.
    pub maker: VerifiedOrder,
    /// Size filled against it, micro-contracts.
    pub size: u64,
    /// The maker is named by owner, not signed: the registry must show it placed.
    pub placed: bool,
}

/// A match transaction: one taker against up to [`FILLS_PER_MATCH_MAX`] makers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// The incoming order.
    pub taker: VerifiedOrder,
    /// The resting orders it fills, in book order.
    pub makers: Vec<MakerFill>,
}

/// Why a match was refused. Nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// No makers, or more than [`FILLS_PER_MATCH_MAX`].
    #[error("a match fills 1 to {FILLS_PER_MATCH_MAX} makers, got {0}")]
    FillCount(usize),
    /// A maker on another market.
    #[error("maker {0} is on another market")]
    MarketMismatch(usize),
    /// A maker on the taker's side.
    #[error("maker {0} is on the taker's side")]
    SameSide(usize),
    /// The prices do not cross.
    #[error("maker {index} at {maker_price} does not cross the taker's limit {taker_limit}")]
    NotCrossing {
        /// Which maker.
        index: usize,
        /// The taker's limit.
        taker_limit: u64,
        /// The maker's price.
        maker_price: u64,
    },
    /// Zero fill size.
    #[error("maker {0} fills zero")]
    ZeroFill(usize),
    /// An order past its expiry.
    #[error("order {0} expired")]
    Expired(B256),
    /// A cancelled order.
    #[error("order {0} is cancelled")]
    Cancelled(B256),
    /// More than the order's remaining size.
    #[error("order {hash}: {requested} requested, {remaining} remaining")]
    Overfilled {
        /// The order.
        hash: B256,
        /// What is left.
        remaining: u64,
        /// What the match asks.
        requested: u64,
    },
    /// Taker and maker have the same owner (self-trade prevention: the match is refused).
    #[error("maker {0} has the taker's owner")]
    SelfTrade(usize),
    /// A post-only order cannot take.
    #[error("a post-only order cannot be the taker")]
    PostOnlyTaker,
    /// Immediate-or-cancel and fill-or-kill orders never rest, so never make.
    #[error("maker {0} is immediate-or-cancel or fill-or-kill")]
    MakerCannotRest(usize),
    /// A fill-or-kill taker not filled completely.
    #[error("fill-or-kill order filled {filled} of {size}")]
    FillOrKillIncomplete {
        /// Filled in this match.
        filled: u64,
        /// Its size.
        size: u64,
    },
    /// A maker named without a signature that its owner never placed.
    #[error("maker {0} was not placed by its named owner")]
    NotPlaced(usize),
    /// Unknown time-in-force value.
    #[error("unknown time in force {0}")]
    UnknownTimeInForce(u8),
    /// The match touches more than [`MATCH_WEIGHT_MAX`] allows ([`MatchWeight`]).
    #[error(
        "the match touches {positions} positions in {markets} markets over {portfolios} portfolios: weight {weight}, at most {MATCH_WEIGHT_MAX}"
    )]
    TooHeavy {
        /// Positions the portfolios hold.
        positions: usize,
        /// Distinct markets, the match's included.
        markets: usize,
        /// Distinct portfolios.
        portfolios: usize,
        /// `positions + 2·markets + 12·portfolios`.
        weight: usize,
    },
    /// A reduce-only order would increase or flip its owner's position.
    #[error("reduce-only order {0} would increase the position")]
    ReduceOnly(B256),
    /// The clearinghouse refused a fill (margin, limits, market).
    #[error("fill {index}: {error}")]
    Clearing {
        /// Which maker.
        index: usize,
        /// Why.
        error: ClearingError,
    },
}

/// The order registry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderRegistry {
    records: HashMap<(Address, B256), OrderRecord>,
    /// Placements so far (the next placement's sequence number).
    pub placements: u64,
}

impl OrderRegistry {
    /// The record of `owner`'s order `hash`, if the chain has seen it.
    pub fn record(&self, owner: &Address, hash: &B256) -> Option<&OrderRecord> {
        self.records.get(&(*owner, *hash))
    }

    /// Installs a stored record (rebuilding state from leaves).
    pub fn load(&mut self, owner: Address, hash: B256, record: OrderRecord) {
        self.records.insert((owner, hash), record);
    }

    /// Registers `owner`'s order `hash` as placed with its body and the next sequence
    /// number; a second placement of the same order keeps the first (and its priority).
    /// Returns whether it was new.
    pub fn place(
        &mut self,
        owner: Address,
        hash: B256,
        order: &straddle_primitives::Order,
    ) -> bool {
        let record = self.records.entry((owner, hash)).or_default();
        if record.placed.is_some() {
            return false;
        }
        record.placed = Some(Placement {
            seq: self.placements,
            order: order.clone(),
        });
        self.placements += 1;
        true
    }

    /// Every placed order that can still trade at `now_ms` (not cancelled, not filled,
    /// not expired), by placement sequence: what the sequencer's book rests on start.
    pub fn resting(&self, now_ms: u64) -> Vec<(Address, B256, &Placement, u64)> {
        let mut out: Vec<_> = self
            .records
            .iter()
            .filter_map(|((owner, hash), record)| {
                let placement = record.placed.as_ref()?;
                let live = !record.cancelled
                    && record.filled < placement.order.size
                    && now_ms <= placement.order.expiryMs;
                live.then_some((*owner, *hash, placement, record.filled))
            })
            .collect();
        out.sort_by_key(|(_, _, placement, _)| placement.seq);
        out
    }

    /// Cancels `signer`'s order `hash`, whether or not the chain has seen it yet: a cancel
    /// only ever reaches the signer's own orders.
    pub fn cancel(&mut self, signer: Address, hash: B256) {
        self.records.entry((signer, hash)).or_default().cancelled = true;
    }

    fn state_of(&self, order: &VerifiedOrder) -> (u64, bool) {
        self.records
            .get(&(order.owner, order.hash))
            .map_or((0, false), |r| (r.filled, r.cancelled))
    }
}

/// Everything a settled match did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchOutcome {
    /// One outcome per maker.
    pub fills: Vec<FillOutcome>,
    /// Total size the taker filled.
    pub taker_filled: u64,
}

fn time_in_force(order: &VerifiedOrder) -> Result<TimeInForce, MatchError> {
    TimeInForce::from_u8(order.order.timeInForce)
        .ok_or(MatchError::UnknownTimeInForce(order.order.timeInForce))
}

fn check_live(
    registry: &OrderRegistry,
    order: &VerifiedOrder,
    requested: u64,
    now_ms: u64,
) -> Result<u64, MatchError> {
    if now_ms > order.order.expiryMs {
        return Err(MatchError::Expired(order.hash));
    }
    let (filled, cancelled) = registry.state_of(order);
    if cancelled {
        return Err(MatchError::Cancelled(order.hash));
    }
    let remaining = order.order.size.saturating_sub(filled);
    if requested > remaining {
        return Err(MatchError::Overfilled {
            hash: order.hash,
            remaining,
            requested,
        });
    }
    Ok(filled)
}

/// `true` if a fill of `size` on `is_buy` side keeps `position` on the same side and no
/// larger (what reduce-only allows).
fn reduces(position: i64, is_buy: bool, size: u64) -> bool {
    let size = size as i64;
    if is_buy {
        position < 0 && size <= -position
    } else {
        position > 0 && size <= position
    }
}

/// Validates and settles a match at block time `now_ms`: all fills happen or none.
pub fn execute_match(
    registry: &mut OrderRegistry,
    clearinghouse: &mut Clearinghouse,
    proposed: &Match,
    now_ms: u64,
) -> Result<MatchOutcome, MatchError> {
    let taker = &proposed.taker;
    if proposed.makers.is_empty() || proposed.makers.len() > FILLS_PER_MATCH_MAX {
        return Err(MatchError::FillCount(proposed.makers.len()));
    }
    let taker_tif = time_in_force(taker)?;
    if taker_tif == TimeInForce::PostOnly {
        return Err(MatchError::PostOnlyTaker);
    }
    let taker_total: u64 = proposed
        .makers
        .iter()
        .map(|m| m.size)
        .fold(0, u64::saturating_add);
    let taker_filled_before = check_live(registry, taker, taker_total, now_ms)?;
    if taker_tif == TimeInForce::FillOrKill && taker_total != taker.order.size {
        return Err(MatchError::FillOrKillIncomplete {
            filled: taker_total,
            size: taker.order.size,
        });
    }
    // Per-order fills within this match (a maker order may appear once per match, but
    // count defensively).
    let mut filled_now: HashMap<(Address, B256), u64> = HashMap::new();
    for (index, fill) in proposed.makers.iter().enumerate() {
        let maker = &fill.maker;
        if fill.size == 0 {
            return Err(MatchError::ZeroFill(index));
        }
        if maker.order.market != taker.order.market {
            return Err(MatchError::MarketMismatch(index));
        }
        if maker.order.isBuy == taker.order.isBuy {
            return Err(MatchError::SameSide(index));
        }
        if maker.owner == taker.owner {
            return Err(MatchError::SelfTrade(index));
        }
        if fill.placed
            && !registry
                .record(&maker.owner, &maker.hash)
                .is_some_and(OrderRecord::is_placed)
        {
            return Err(MatchError::NotPlaced(index));
        }
        if matches!(
            time_in_force(maker)?,
            TimeInForce::ImmediateOrCancel | TimeInForce::FillOrKill
        ) {
            return Err(MatchError::MakerCannotRest(index));
        }
        let crosses = if taker.order.isBuy {
            maker.order.limitPrice <= taker.order.limitPrice
        } else {
            maker.order.limitPrice >= taker.order.limitPrice
        };
        if !crosses {
            return Err(MatchError::NotCrossing {
                index,
                taker_limit: taker.order.limitPrice,
                maker_price: maker.order.limitPrice,
            });
        }
        let so_far = filled_now.entry((maker.owner, maker.hash)).or_insert(0);
        *so_far = so_far.saturating_add(fill.size);
        check_live(registry, maker, *so_far, now_ms)?;
    }

    // Settle in book order, undoing everything if any fill is refused.
    let mut accounts: Vec<Address> = proposed.makers.iter().map(|m| m.maker.owner).collect();
    accounts.push(taker.owner);
    let weight = MatchWeight::of(clearinghouse, taker.order.market, &accounts);
    if !weight.fits() {
        return Err(MatchError::TooHeavy {
            positions: weight.positions,
            markets: weight.markets.len(),
            portfolios: weight.owners.len(),
            weight: weight.weight(),
        });
    }
    let checkpoint = clearinghouse.checkpoint(&accounts, taker.order.market);
    let mut fills = Vec::with_capacity(proposed.makers.len());
    for (index, fill) in proposed.makers.iter().enumerate() {
        let maker = &fill.maker;
        let result = settle_one(clearinghouse, taker, maker, fill.size, index);
        match result {
            Ok(outcome) => fills.push(outcome),
            Err(error) => {
                clearinghouse.restore(checkpoint);
                return Err(error);
            }
        }
    }
    for fill in &proposed.makers {
        registry
            .records
            .entry((fill.maker.owner, fill.maker.hash))
            .or_default()
            .filled += fill.size;
    }
    registry
        .records
        .entry((taker.owner, taker.hash))
        .or_default()
        .filled = taker_filled_before + taker_total;
    Ok(MatchOutcome {
        fills,
        taker_filled: taker_total,
    })
}

fn settle_one(
    clearinghouse: &mut Clearinghouse,
    taker: &VerifiedOrder,
    maker: &VerifiedOrder,
    size: u64,
    index: usize,
) -> Result<FillOutcome, MatchError> {
    let market = taker.order.market;
    for order in [taker, maker] {
        if order.order.reduceOnly {
            let position = clearinghouse.portfolio(&order.owner).size_in(market);
            if !reduces(position, order.order.isBuy, size) {
                return Err(MatchError::ReduceOnly(order.hash));
            }
        }
    }
    let (buyer, seller) = if taker.order.isBuy {
        (taker.owner, maker.owner)
    } else {
        (maker.owner, taker.owner)
    };
    clearinghouse
        .settle_fill(&Fill {
            market,
            buyer,
            seller,
            size,
            price_micro_usdc: maker.order.limitPrice,
            taker_is_buyer: taker.order.isBuy,
        })
        .map_err(|error| MatchError::Clearing { index, error })
}

#[cfg(test)]
mod tests;
