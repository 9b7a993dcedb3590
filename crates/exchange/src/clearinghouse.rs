//! The clearinghouse: margin accounts (signed cash plus at most 32 positions), fills
//! settled between a buyer and a seller, fees, and the margin rule that protects every
//! account: after a fill or a withdrawal that increases an account's risk, its equity
//! must cover its initial margin.
//!
//! Accounting is "cash plus value at mark": a fill moves `size × price` of cash from the
//! buyer to the seller, so `equity = cash + Σ q·mark` is unchanged by the trade itself
//! (only fees and the difference between trade price and mark move it). Cash may be
//! negative (a leveraged long). Collateral enters and leaves a margin account from the
//! collateral ledger (`deposit`, `withdraw`).
//!
//! Spec: `docs/spec/clearinghouse.md` §5.

mod error;
mod liquidation;
pub mod market;
mod portfolios;
mod settlement;

#[cfg(test)]
mod tests;

use crate::risk::margin::POSITION_SIZE_MAX;
use crate::risk::{Exposure, MarginError, MarginSummary, POSITIONS_PER_ACCOUNT_MAX, margin};
use alloy_primitives::Address;
pub use error::ClearingError;
pub use liquidation::{AdlOutcome, LiquidationOutcome, LiquidationParams};
use market::{Market, MarketId, MarketSpec, MarketStatus};
pub use portfolios::Portfolios;
use std::collections::BTreeMap;

/// Pico-USDC (10^-12) per micro-USDC: `size (10^-6) × price (10^-6)` is in pico-USDC.
const PICO_PER_MICRO: i128 = 1_000_000;

/// One open position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The market.
    pub market: MarketId,
    /// Signed size, micro-contracts (positive = long).
    pub size: i64,
    /// The market's funding index when funding was last settled into cash.
    pub funding_snapshot: i128,
    /// Entry cost: the signed value paid for the open contracts at their trade prices,
    /// micro-USDC (negative for a short). Informational — cash already moved at each
    /// trade — it gives the entry price and unrealised P&L (`size·mark − cost`).
    pub cost: i128,
}

/// Funding accrues per this period: a premium of p per contract held for one period
/// costs a long p (and pays a short p).
pub const FUNDING_PERIOD_MS: i128 = 8 * 3_600 * 1_000;
/// Femto-USDC per micro-USDC.
pub(crate) const FEMTO_PER_MICRO: i128 = 1_000_000_000;
/// Oracle values at most this long before expiry count toward the settlement price.
pub const SETTLEMENT_LOOKBACK_MS: u64 = 5 * 60 * 1_000;

/// The funding premium of a perpetual per contract, nano-USDC: the last fill price minus
/// the index, clamped to ±`cap_ppm` of the index (0 before the first fill). The
/// perpetual's mark is the index plus this premium.
pub fn funding_premium(last_price_micro_usdc: u64, index_micro_usdc: u64, cap_ppm: u32) -> i64 {
    if last_price_micro_usdc == 0 {
        return 0;
    }
    let cap = i128::from(index_micro_usdc) * i128::from(cap_ppm) / 1_000_000;
    let premium =
        (i128::from(last_price_micro_usdc) - i128::from(index_micro_usdc)).clamp(-cap, cap);
    (premium * 1_000) as i64
}

/// A margin account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Portfolio {
    /// Signed cash, micro-USDC.
    pub cash: i128,
    /// Open positions, sorted by market, never zero-sized, at most
    /// [`POSITIONS_PER_ACCOUNT_MAX`].
    pub positions: Vec<Position>,
}

impl Portfolio {
    /// The signed size held in `market` (0 if none).
    pub fn size_in(&self, market: MarketId) -> i64 {
        self.size(market)
    }

    fn size(&self, market: MarketId) -> i64 {
        self.positions
            .iter()
            .find(|p| p.market == market)
            .map_or(0, |p| p.size)
    }

    /// Changes a (funding-settled) position by `delta` contracts traded for `value`
    /// (signed micro-USDC: positive when paid for a buy); the snapshot becomes
    /// `funding_index`. The entry cost grows with opening trades, shrinks pro rata with
    /// closing ones (truncating toward zero), and restarts at the opening part of a trade
    /// that flips the side.
    fn trade(&mut self, market: MarketId, delta: i64, value: i128, funding_index: i128) {
        let (old, old_cost) = self
            .positions
            .iter()
            .find(|p| p.market == market)
            .map_or((0, 0), |p| (p.size, p.cost));
        let new = old + delta;
        let cost = if new == 0 {
            0
        } else if old == 0 || (old > 0) == (delta > 0) {
            old_cost + value
        } else if (new > 0) == (old > 0) {
            old_cost * i128::from(new) / i128::from(old)
        } else {
            value * i128::from(new) / i128::from(delta)
        };
        match self.positions.binary_search_by_key(&market, |p| p.market) {
            Ok(i) if new == 0 => {
                self.positions.remove(i);
            }
            Ok(i) => {
                let position = &mut self.positions[i];
                position.size = new;
                position.funding_snapshot = funding_index;
                position.cost = cost;
            }
            Err(_) if new == 0 => {}
            Err(i) => self.positions.insert(
                i,
                Position {
                    market,
                    size: new,
                    funding_snapshot: funding_index,
                    cost,
                },
            ),
        }
    }
}

/// A trade between two accounts, as a match transaction carries it (after the order
/// checks of §5, which live with the orders).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// The market.
    pub market: MarketId,
    /// Receives the contracts.
    pub buyer: Address,
    /// Delivers the contracts.
    pub seller: Address,
    /// Size, micro-contracts (positive).
    pub size: u64,
    /// Price, micro-USDC per contract.
    pub price_micro_usdc: u64,
    /// Whether the buyer is the taker (the seller is then the maker), or the reverse.
    pub taker_is_buyer: bool,
}

/// What a settled fill cost each side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FillOutcome {
    /// Cash the buyer paid for the contracts, micro-USDC (rounded up).
    pub buyer_paid: i128,
    /// Cash the seller received, micro-USDC (rounded down).
    pub seller_received: i128,
    /// Fee paid by the taker, micro-USDC.
    pub taker_fee: i128,
    /// Fee paid by the maker, micro-USDC.
    pub maker_fee: i128,
}

/// An account's margin state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRisk {
    /// `cash + floor(Σ q·mark)`, micro-USDC.
    pub equity: i128,
    /// The margin summary (requirements, Greeks, scenario P&L).
    pub margin: MarginSummary,
}

/// What [`Clearinghouse::restore`] needs to undo changes to some accounts and one market.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    portfolios: Vec<(Address, Option<Portfolio>)>,
    market: Option<(MarketId, u64, u64)>,
    fee_pool: i128,
    insurance_fund: i128,
    rounding_reserve_femto: i128,
}

/// The clearinghouse state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Clearinghouse {
    markets: BTreeMap<MarketId, Market>,
    portfolios: Portfolios,
    /// Fees collected, micro-USDC.
    pub fee_pool: i128,
    /// Insurance fund, micro-USDC (receives rounding remainders and liquidation penalties).
    pub insurance_fund: i128,
    /// Sub-micro remainders of lazy settlements (funding, expiry payouts), femto-USDC;
    /// whole micro-USDC are swept into the insurance fund.
    pub rounding_reserve_femto: i128,
    initial_factor_ppm: u32,
}

/// The fee at `ppm` on a notional in pico-USDC, in micro-USDC rounded up.
fn fee_micro(notional_pico: i128, ppm: u32) -> i128 {
    ceil_div(notional_pico * i128::from(ppm), PICO_PER_MICRO * 1_000_000)
}

fn ceil_div(value: i128, divisor: i128) -> i128 {
    value.div_euclid(divisor) + i128::from(value.rem_euclid(divisor) != 0)
}

impl Clearinghouse {
    /// An empty clearinghouse whose initial margin is maintenance × `initial_factor_ppm`.
    pub fn new(initial_factor_ppm: u32) -> Clearinghouse {
        Clearinghouse {
            initial_factor_ppm,
            ..Clearinghouse::default()
        }
    }

    /// Lists a market.
    pub fn add_market(&mut self, spec: MarketSpec) -> Result<(), ClearingError> {
        spec.validate()?;
        if self.markets.contains_key(&spec.id) {
            return Err(ClearingError::DuplicateMarket(spec.id));
        }
        self.markets.insert(
            spec.id,
            Market {
                spec,
                status: MarketStatus::Active,
                open_interest: 0,
                vector: None,
                funding_index: 0,
                last_price_micro_usdc: 0,
            },
        );
        Ok(())
    }

    /// A market.
    pub fn market(&self, id: MarketId) -> Option<&Market> {
        self.markets.get(&id)
    }

    /// A market that exists and is still trading.
    pub fn active_market(&self, id: MarketId) -> Result<&Market, ClearingError> {
        let market = self
            .markets
            .get(&id)
            .ok_or(ClearingError::UnknownMarket(id))?;
        if market.status != MarketStatus::Active {
            return Err(ClearingError::MarketClosed(id));
        }
        Ok(market)
    }

    /// An active market's mark (nano-USDC), lot and funding index; refused when unpriced.
    fn priced_market(&self, id: MarketId) -> Result<(i64, u64, i128), ClearingError> {
        let market = self.active_market(id)?;
        let vector = market
            .vector
            .as_ref()
            .ok_or(ClearingError::NoRiskVector(id))?;
        Ok((vector.mark_nano, market.spec.lot, market.funding_index))
    }

    /// [`Clearinghouse::active_market`], mutably.
    fn active_market_mut(&mut self, id: MarketId) -> Result<&mut Market, ClearingError> {
        let market = self
            .markets
            .get_mut(&id)
            .ok_or(ClearingError::UnknownMarket(id))?;
        if market.status != MarketStatus::Active {
            return Err(ClearingError::MarketClosed(id));
        }
        Ok(market)
    }

    /// Installs a market's new risk vector (after an oracle update).
    pub fn set_vector(
        &mut self,
        id: MarketId,
        vector: crate::risk::RiskVector,
    ) -> Result<(), ClearingError> {
        let market = self
            .markets
            .get_mut(&id)
            .ok_or(ClearingError::UnknownMarket(id))?;
        market.vector = Some(vector);
        Ok(())
    }

    /// An account's margin account (empty if never used).
    pub fn portfolio(&self, account: &Address) -> Portfolio {
        self.portfolios.get(account).cloned().unwrap_or_default()
    }

    /// The positions of an account's stored portfolio (before normalisation).
    pub fn stored_positions(&self, account: &Address) -> &[Position] {
        self.portfolios
            .get(account)
            .map_or(&[], |p| p.positions.as_slice())
    }

    /// Every market, by id.
    pub fn markets(&self) -> impl Iterator<Item = &Market> {
        self.markets.values()
    }

    /// Installs a stored market (rebuilding state from leaves).
    pub fn load_market(&mut self, market: Market) {
        self.markets.insert(market.spec.id, market);
    }

    /// Replaces a market's risk vector (`None` halts trading until the next refresh).
    pub fn replace_vector(
        &mut self,
        id: MarketId,
        vector: Option<crate::risk::RiskVector>,
    ) -> Result<(), ClearingError> {
        let market = self
            .markets
            .get_mut(&id)
            .ok_or(ClearingError::UnknownMarket(id))?;
        market.vector = vector;
        Ok(())
    }

    /// Installs a stored margin account (rebuilding state from leaves).
    pub fn load_portfolio(&mut self, account: Address, portfolio: Portfolio) {
        self.portfolios.insert(account, portfolio);
    }

    /// Every margin account (for invariant checks).
    pub fn portfolios(&self) -> impl Iterator<Item = (&Address, &Portfolio)> {
        self.portfolios.iter()
    }

    /// Equity and margin of a portfolio at the current vectors.
    pub fn risk_of(&self, portfolio: &Portfolio) -> Result<AccountRisk, ClearingError> {
        let (portfolio, _) = self.normalized(portfolio)?;
        self.risk_of_normalized(&portfolio)
    }

    /// [`Clearinghouse::risk_of`] for a portfolio that is already normalised (by
    /// [`Clearinghouse::normalized`]).
    pub fn risk_of_normalized(&self, portfolio: &Portfolio) -> Result<AccountRisk, ClearingError> {
        let mut exposures = Vec::with_capacity(portfolio.positions.len());
        for position in &portfolio.positions {
            let market = self
                .markets
                .get(&position.market)
                .ok_or(ClearingError::UnknownMarket(position.market))?;
            let vector = market
                .vector
                .as_ref()
                .ok_or(ClearingError::NoRiskVector(position.market))?;
            exposures.push(Exposure {
                size: position.size,
                vector,
            });
        }
        let margin = margin(&exposures, self.initial_factor_ppm)?;
        // Value at mark in femto-USDC, floored to micro-USDC (against the account).
        let equity = portfolio.cash + margin.mark_value_femto.div_euclid(FEMTO_PER_MICRO);
        Ok(AccountRisk { equity, margin })
    }

    /// The portfolio with everything owed settled into cash: funding accrued on
    /// perpetuals since each snapshot, and payouts of settled markets (positions closed).
    /// Returns the sub-micro remainder (femto-USDC, ≥ 0) the rounding kept back.
    /// Rounding is against the account: it receives floor, pays ceil.
    pub fn normalized(&self, portfolio: &Portfolio) -> Result<(Portfolio, i128), ClearingError> {
        let mut result = portfolio.clone();
        let mut remainder = 0i128;
        let mut credit = |cash: &mut i128, amount_femto: i128| {
            let micro = amount_femto.div_euclid(FEMTO_PER_MICRO);
            *cash += micro;
            remainder += amount_femto - micro * FEMTO_PER_MICRO;
        };
        let mut kept = Vec::with_capacity(result.positions.len());
        for position in &result.positions {
            let market = self
                .markets
                .get(&position.market)
                .ok_or(ClearingError::UnknownMarket(position.market))?;
            let size = i128::from(position.size);
            // Funding: a long pays the index increase, a short receives it.
            let accrued = market.funding_index - position.funding_snapshot;
            if accrued != 0 {
                credit(&mut result.cash, -size * accrued);
            }
            match market.status {
                MarketStatus::Settled { value_micro_usdc } => {
                    // size (10^-6) × value (10^-6 USDC) = pico; × 1000 = femto.
                    credit(
                        &mut result.cash,
                        size * i128::from(value_micro_usdc) * 1_000,
                    );
                }
                MarketStatus::Active => kept.push(Position {
                    funding_snapshot: market.funding_index,
                    ..*position
                }),
            }
        }
        result.positions = kept;
        Ok((result, remainder))
    }

    fn keep_remainder(&mut self, remainder_femto: i128) {
        self.rounding_reserve_femto += remainder_femto;
        let whole = self.rounding_reserve_femto.div_euclid(FEMTO_PER_MICRO);
        self.insurance_fund += whole;
        self.rounding_reserve_femto -= whole * FEMTO_PER_MICRO;
    }

    /// Moves collateral from the ledger into `account`'s margin account.
    pub fn deposit(&mut self, account: Address, amount: u128) -> Result<(), ClearingError> {
        let amount = i128::try_from(amount).map_err(|_| ClearingError::InvalidAmount)?;
        if amount == 0 {
            return Err(ClearingError::InvalidAmount);
        }
        let mut portfolio = self.portfolio(&account);
        portfolio.cash = portfolio
            .cash
            .checked_add(amount)
            .ok_or(ClearingError::InvalidAmount)?;
        self.portfolios.insert(account, portfolio);
        Ok(())
    }

    /// Moves collateral out to the ledger. Without positions the account needs the cash;
    /// with positions its equity afterwards must still cover its initial margin (cash may
    /// go negative: a leveraged long's cash is a loan secured by its positions).
    pub fn withdraw(&mut self, account: Address, amount: u128) -> Result<(), ClearingError> {
        let signed = i128::try_from(amount).map_err(|_| ClearingError::InvalidAmount)?;
        if signed == 0 {
            return Err(ClearingError::InvalidAmount);
        }
        let (mut after, remainder) = self.normalized(&self.portfolio(&account))?;
        if after.positions.is_empty() && after.cash < signed {
            return Err(ClearingError::InsufficientCash {
                account,
                amount,
                cash: after.cash,
            });
        }
        after.cash -= signed;
        let risk = self.risk_of_normalized(&after)?;
        if risk.equity < risk.margin.initial as i128 {
            return Err(ClearingError::InsufficientMargin {
                account,
                equity: risk.equity,
                initial: risk.margin.initial,
            });
        }
        self.keep_remainder(remainder);
        self.portfolios.insert(account, after);
        Ok(())
    }

    /// Settles one fill: moves contracts and cash, charges fees, and checks both accounts'
    /// margin. Either everything happens or nothing does.
    pub fn settle_fill(&mut self, fill: &Fill) -> Result<FillOutcome, ClearingError> {
        let market = self.active_market(fill.market)?;
        if market.vector.is_none() {
            return Err(ClearingError::NoRiskVector(fill.market));
        }
        let spec = market.spec;
        if fill.size > POSITION_SIZE_MAX as u64 {
            return Err(ClearingError::BadSize {
                size: fill.size,
                lot: spec.lot,
            });
        }
        spec.check_grid(fill.price_micro_usdc, fill.size)?;
        if fill.buyer == fill.seller {
            return Err(ClearingError::SelfTrade);
        }
        let notional_pico = i128::from(fill.size) * i128::from(fill.price_micro_usdc);
        let buyer_paid = ceil_div(notional_pico, PICO_PER_MICRO);
        let seller_received = notional_pico.div_euclid(PICO_PER_MICRO);
        let (taker_fee, maker_fee) = (
            fee_micro(notional_pico, spec.taker_fee_ppm),
            fee_micro(notional_pico, spec.maker_fee_ppm),
        );
        let (buyer_fee, seller_fee) = if fill.taker_is_buyer {
            (taker_fee, maker_fee)
        } else {
            (maker_fee, taker_fee)
        };
        let size = fill.size as i64;
        let (mut buyer, buyer_remainder) = self.normalized(&self.portfolio(&fill.buyer))?;
        let (mut seller, seller_remainder) = self.normalized(&self.portfolio(&fill.seller))?;
        let funding_index = market.funding_index;
        let buyer_before = self.risk_of_normalized(&buyer)?;
        let seller_before = self.risk_of_normalized(&seller)?;
        let buyer_size_before = buyer.size(fill.market);
        let seller_size_before = seller.size(fill.market);
        buyer.trade(fill.market, size, buyer_paid, funding_index);
        seller.trade(fill.market, -size, -seller_received, funding_index);
        buyer.cash -= buyer_paid + buyer_fee;
        seller.cash += seller_received - seller_fee;
        self.check_trade_margin(fill.buyer, &buyer_before, &buyer)?;
        self.check_trade_margin(fill.seller, &seller_before, &seller)?;
        // Open interest is the total long size; only these two accounts changed.
        let long_before = buyer_size_before.max(0) + seller_size_before.max(0);
        let long_after = (buyer_size_before + size).max(0) + (seller_size_before - size).max(0);
        let market = self
            .markets
            .get_mut(&fill.market)
            .ok_or(ClearingError::UnknownMarket(fill.market))?;
        market.open_interest = (market.open_interest as i64 + long_after - long_before) as u64;
        market.last_price_micro_usdc = fill.price_micro_usdc;
        self.keep_remainder(buyer_remainder + seller_remainder);
        self.fee_pool += taker_fee + maker_fee;
        self.insurance_fund += buyer_paid - seller_received;
        self.portfolios.insert(fill.buyer, buyer);
        self.portfolios.insert(fill.seller, seller);
        Ok(FillOutcome {
            buyer_paid,
            seller_received,
            taker_fee,
            maker_fee,
        })
    }

    /// Whether `account` would pass the fill margin rule (§5.3) after trading `size`
    /// micro-contracts of `market_id` at `price` (buying when `is_buy`) and paying the
    /// taker fee. Changes nothing: the sequencer asks before an order rests or takes, so
    /// an order the account cannot afford is refused up front (the STF checks again at
    /// every fill).
    pub fn check_order_margin(
        &self,
        account: Address,
        market_id: MarketId,
        is_buy: bool,
        size: u64,
        price_micro_usdc: u64,
    ) -> Result<(), ClearingError> {
        let market = self.active_market(market_id)?;
        if market.vector.is_none() {
            return Err(ClearingError::NoRiskVector(market_id));
        }
        if size == 0 || size > POSITION_SIZE_MAX as u64 {
            return Err(ClearingError::BadSize {
                size,
                lot: market.spec.lot,
            });
        }
        let notional_pico = i128::from(size) * i128::from(price_micro_usdc);
        let fee = fee_micro(notional_pico, market.spec.taker_fee_ppm);
        let (mut portfolio, _) = self.normalized(&self.portfolio(&account))?;
        let before = self.risk_of_normalized(&portfolio)?;
        if is_buy {
            let paid = ceil_div(notional_pico, PICO_PER_MICRO);
            portfolio.trade(market_id, size as i64, paid, market.funding_index);
            portfolio.cash -= paid + fee;
        } else {
            let received = notional_pico.div_euclid(PICO_PER_MICRO);
            portfolio.trade(market_id, -(size as i64), -received, market.funding_index);
            portfolio.cash += received - fee;
        }
        self.check_trade_margin(account, &before, &portfolio)
    }

    /// The margin rule of §5.3 for one side of a trade: the normalised portfolio `after`
    /// holds at most [`POSITIONS_PER_ACCOUNT_MAX`] positions, and if its maintenance rose
    /// above `before`'s, its equity covers its initial margin.
    fn check_trade_margin(
        &self,
        account: Address,
        before: &AccountRisk,
        after: &Portfolio,
    ) -> Result<(), ClearingError> {
        if after.positions.len() > POSITIONS_PER_ACCOUNT_MAX {
            return Err(MarginError::TooManyPositions(after.positions.len()).into());
        }
        let risk = self.risk_of_normalized(after)?;
        if risk.margin.maintenance > before.margin.maintenance
            && risk.equity < risk.margin.initial as i128
        {
            return Err(ClearingError::InsufficientMargin {
                account,
                equity: risk.equity,
                initial: risk.margin.initial,
            });
        }
        Ok(())
    }

    /// Remembers `accounts`, `market`'s open interest and last price, and the pools, to undo a
    /// multi-fill operation that fails halfway.
    pub fn checkpoint(&self, accounts: &[Address], market: MarketId) -> Checkpoint {
        let mut portfolios: Vec<(Address, Option<Portfolio>)> = Vec::with_capacity(accounts.len());
        for account in accounts {
            if !portfolios.iter().any(|(a, _)| a == account) {
                portfolios.push((*account, self.portfolios.get(account).cloned()));
            }
        }
        Checkpoint {
            portfolios,
            market: self
                .markets
                .get(&market)
                .map(|m| (market, m.open_interest, m.last_price_micro_usdc)),
            fee_pool: self.fee_pool,
            insurance_fund: self.insurance_fund,
            rounding_reserve_femto: self.rounding_reserve_femto,
        }
    }

    /// Undoes everything since `checkpoint` (which must cover every account touched).
    pub fn restore(&mut self, checkpoint: Checkpoint) {
        for (account, portfolio) in checkpoint.portfolios {
            match portfolio {
                Some(portfolio) => {
                    self.portfolios.insert(account, portfolio);
                }
                None => {
                    self.portfolios.remove(&account);
                }
            }
        }
        if let Some((id, open_interest, last_price)) = checkpoint.market
            && let Some(market) = self.markets.get_mut(&id)
        {
            market.open_interest = open_interest;
            market.last_price_micro_usdc = last_price;
        }
        self.fee_pool = checkpoint.fee_pool;
        self.insurance_fund = checkpoint.insurance_fund;
        self.rounding_reserve_femto = checkpoint.rounding_reserve_femto;
    }

    /// Everything the clearinghouse owes, as if every account were settled now (funding
    /// and expiry payouts included): `(micro-USDC, femto-USDC below one micro)`. The
    /// conservation invariant is `(deposits − withdrawals, 0)`. `None` on overflow.
    pub fn total_value(&self) -> Option<(i128, i128)> {
        let mut micro = self.fee_pool.checked_add(self.insurance_fund)?;
        let mut femto = self.rounding_reserve_femto;
        for portfolio in self.portfolios.values() {
            let (settled, remainder) = self.normalized(portfolio).ok()?;
            micro = micro.checked_add(settled.cash)?;
            femto = femto.checked_add(remainder)?;
        }
        micro = micro.checked_add(femto.div_euclid(FEMTO_PER_MICRO))?;
        Some((micro, femto.rem_euclid(FEMTO_PER_MICRO)))
    }

    /// [`Clearinghouse::total_value_femto`] from the margin accounts' running sums, in
    /// O(markets): a position's settled value is `cash − size·(F − snapshot)` (plus
    /// `size·value` once its market settled), so over every account it is
    /// `Σcash − Σ_m F_m·net_m + Σ size·snapshot (+ Σ_m value_m·net_m)`. Wrapping, so exact
    /// modulo 2^128; `None` if a position is in a market that does not exist.
    pub fn total_value_femto_from_sums(&self) -> Option<i128> {
        let pools = self.fee_pool.wrapping_add(self.insurance_fund);
        let mut total = pools
            .wrapping_mul(FEMTO_PER_MICRO)
            .wrapping_add(self.rounding_reserve_femto)
            .wrapping_add(self.portfolios.cash_femto())
            .wrapping_add(self.portfolios.snapshot_femto());
        for (id, (net, _)) in self.portfolios.markets_held() {
            let market = self.markets.get(&id)?;
            total = total.wrapping_sub(market.funding_index.wrapping_mul(net));
            if let MarketStatus::Settled { value_micro_usdc } = market.status {
                // size (10^-6) × value (10^-6 USDC) = pico; × 1000 = femto.
                total = total.wrapping_add(net.wrapping_mul(i128::from(value_micro_usdc) * 1_000));
            }
        }
        Some(total)
    }

    /// The margin accounts with their running sums.
    pub fn portfolio_sums(&self) -> &Portfolios {
        &self.portfolios
    }

    /// [`Clearinghouse::total_value`] in femto-USDC (tests and small states).
    pub fn total_value_femto(&self) -> Result<i128, ClearingError> {
        let (micro, femto) = self.total_value().ok_or(ClearingError::InvalidAmount)?;
        micro
            .checked_mul(FEMTO_PER_MICRO)
            .and_then(|m| m.checked_add(femto))
            .ok_or(ClearingError::InvalidAmount)
    }
}
