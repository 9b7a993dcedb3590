//! Liquidation and auto-deleveraging (`docs/spec/clearinghouse.md` §8): an unhealthy
//! account's position moves to a liquidator at the mark with a penalty, and a bankrupt
//! account's to a profitable counterparty that absorbs its deficit; both move positions
//! through [`move_at_mark`].

use super::*;

/// Liquidation parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiquidationParams {
    /// Penalty, ppm of the liquidated notional at mark.
    pub penalty_ppm: u32,
    /// Share of the penalty paid to the liquidator, ppm (the rest funds the insurance fund).
    pub liquidator_share_ppm: u32,
}

impl Default for LiquidationParams {
    fn default() -> LiquidationParams {
        LiquidationParams {
            penalty_ppm: 15_000,
            liquidator_share_ppm: 500_000,
        }
    }
}

/// What an auto-deleveraging did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdlOutcome {
    /// Part of the bankrupt account's deficit the counterparty absorbed, micro-USDC.
    pub absorbed: i128,
    /// The bankrupt account's equity afterwards.
    pub target_equity: i128,
}

/// What a liquidation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiquidationOutcome {
    /// Penalty the target paid, micro-USDC.
    pub penalty: i128,
    /// Part of it paid to the liquidator.
    pub liquidator_reward: i128,
    /// Deficit of a bankrupt target covered by the insurance fund.
    pub insurance_covered: i128,
    /// Deficit the insurance fund could not cover (left for auto-deleveraging).
    pub bad_debt: i128,
}

/// What [`move_at_mark`] moved: the signed size (from the target's side), its value at
/// the mark in femto-USDC, and the micro-USDC each side settled.
struct MovedAtMark {
    moved: i64,
    value_femto: i128,
    /// Paid to the target, rounded down.
    target_receives: i128,
    /// Paid by the other side, rounded up (the difference goes to the insurance fund).
    other_pays: i128,
}

/// Moves `size` of the target's position `held` in `market` to `other` at the mark
/// (§8, §8.2: liquidation and auto-deleveraging move positions the same way), both
/// funding-settled to `funding_index`. Rounding is against the accounts: the target
/// receives the value rounded down, the other side pays it rounded up.
fn move_at_mark(
    target: &mut Portfolio,
    other: &mut Portfolio,
    market: MarketId,
    held: i64,
    size: u64,
    mark_nano: i64,
    funding_index: i128,
) -> MovedAtMark {
    let moved = if held > 0 {
        size as i64
    } else {
        -(size as i64)
    };
    let value_femto = i128::from(moved) * i128::from(mark_nano);
    let target_receives = value_femto.div_euclid(FEMTO_PER_MICRO);
    let other_pays = ceil_div(value_femto, FEMTO_PER_MICRO);
    target.trade(market, -moved, -target_receives, funding_index);
    target.cash += target_receives;
    other.trade(market, moved, other_pays, funding_index);
    other.cash -= other_pays;
    MovedAtMark {
        moved,
        value_femto,
        target_receives,
        other_pays,
    }
}

impl Clearinghouse {
    /// Liquidates `size` of `target`'s position in `market` to `liquidator` (§8): the
    /// position moves at the mark price, the target pays a penalty of
    /// `penalty_ppm` of the notional (capped at its remaining equity, so liquidation never
    /// takes it below bankrupt), of which `liquidator_share_ppm` goes to the liquidator and
    /// the rest to the insurance fund. A target left without positions and with negative
    /// cash is bankrupt: the insurance fund covers the deficit, and what it cannot cover is
    /// recorded as bad debt for auto-deleveraging.
    pub fn liquidate(
        &mut self,
        liquidator: Address,
        target: Address,
        market_id: MarketId,
        size: u64,
        params: &LiquidationParams,
    ) -> Result<LiquidationOutcome, ClearingError> {
        let (mark_nano, lot, funding_index) = self.priced_market(market_id)?;
        if liquidator == target {
            return Err(ClearingError::SelfTrade);
        }
        let (mut victim, victim_remainder) = self.normalized(&self.portfolio(&target))?;
        let risk = self.risk_of_normalized(&victim)?;
        if risk.equity >= risk.margin.maintenance as i128 {
            return Err(ClearingError::Healthy {
                account: target,
                equity: risk.equity,
                maintenance: risk.margin.maintenance,
            });
        }
        let held = victim.size(market_id);
        if size == 0 || !size.is_multiple_of(lot) || size > held.unsigned_abs() {
            return Err(ClearingError::NoSuchPosition {
                account: target,
                market: market_id,
                held,
                requested: size,
            });
        }
        let (mut taker, taker_remainder) = self.normalized(&self.portfolio(&liquidator))?;
        let taker_before = self.risk_of_normalized(&taker)?;
        let MovedAtMark {
            moved,
            value_femto,
            target_receives,
            other_pays: liquidator_pays,
        } = move_at_mark(
            &mut victim,
            &mut taker,
            market_id,
            held,
            size,
            mark_nano,
            funding_index,
        );
        if taker.positions.len() > POSITIONS_PER_ACCOUNT_MAX {
            return Err(MarginError::TooManyPositions(taker.positions.len()).into());
        }
        // Penalty, never beyond the target's remaining equity.
        let nominal = ceil_div(
            value_femto.abs() * i128::from(params.penalty_ppm),
            1_000_000 * FEMTO_PER_MICRO,
        );
        let equity_after = self.risk_of_normalized(&victim)?.equity;
        let penalty = nominal.min(equity_after.max(0));
        let reward = penalty * i128::from(params.liquidator_share_ppm) / 1_000_000;
        victim.cash -= penalty;
        taker.cash += reward;
        let taker_after = self.risk_of_normalized(&taker)?;
        if taker_after.margin.maintenance > taker_before.margin.maintenance
            && taker_after.equity < taker_after.margin.initial as i128
        {
            return Err(ClearingError::InsufficientMargin {
                account: liquidator,
                equity: taker_after.equity,
                initial: taker_after.margin.initial,
            });
        }
        let mut insurance =
            self.insurance_fund + (penalty - reward) + (liquidator_pays - target_receives);
        // Bankruptcy: no positions left and negative cash.
        let mut covered = 0;
        let mut bad_debt = 0;
        if victim.positions.is_empty() && victim.cash < 0 {
            let deficit = -victim.cash;
            covered = deficit.min(insurance.max(0));
            bad_debt = deficit - covered;
            insurance -= covered;
            victim.cash += covered;
            // What the fund cannot cover stays as the account's negative cash (bad debt)
            // until auto-deleveraging or later deposits absorb it.
        }
        self.insurance_fund = insurance;
        self.keep_remainder(victim_remainder + taker_remainder);
        let long_before = held.max(0) + (taker.size(market_id) - moved).max(0);
        let long_after = (held - moved).max(0) + taker.size(market_id).max(0);
        if let Some(market) = self.markets.get_mut(&market_id) {
            market.open_interest = (market.open_interest as i64 + long_after - long_before) as u64;
        }
        self.portfolios.insert(target, victim);
        self.portfolios.insert(liquidator, taker);
        Ok(LiquidationOutcome {
            penalty,
            liquidator_reward: reward,
            insurance_covered: covered,
            bad_debt,
        })
    }

    /// Auto-deleveraging (§8.2): when `target` is bankrupt and the insurance fund cannot
    /// cover its deficit, `size` of its position in `market` closes against
    /// `counterparty`'s opposite position at the mark, and the counterparty also pays the
    /// target the deficit's share of this size (`deficit · size / |held|`, capped at the
    /// counterparty's remaining equity): the winning side absorbs the loss instead of the
    /// system. The counterparty's position must be in profit at the mark; the sequencer
    /// picks among those by rank (profit, then leverage).
    pub fn auto_deleverage(
        &mut self,
        target: Address,
        market_id: MarketId,
        counterparty: Address,
        size: u64,
    ) -> Result<AdlOutcome, ClearingError> {
        let (mark_nano, lot, funding_index) = self.priced_market(market_id)?;
        if target == counterparty {
            return Err(ClearingError::SelfTrade);
        }
        let (mut victim, victim_remainder) = self.normalized(&self.portfolio(&target))?;
        let equity = self.risk_of_normalized(&victim)?.equity;
        if equity >= 0 {
            return Err(ClearingError::NotBankrupt {
                account: target,
                equity,
            });
        }
        let deficit = -equity;
        if self.insurance_fund >= deficit {
            return Err(ClearingError::InsuranceCovers {
                fund: self.insurance_fund,
                deficit,
            });
        }
        let held = victim.size(market_id);
        let (mut winner, winner_remainder) = self.normalized(&self.portfolio(&counterparty))?;
        let opposite = winner.size(market_id);
        let eligible = size > 0
            && size.is_multiple_of(lot)
            && size <= held.unsigned_abs()
            && size <= opposite.unsigned_abs()
            && (held > 0) != (opposite > 0)
            && opposite != 0;
        if !eligible {
            return Err(ClearingError::NoSuchPosition {
                account: if size > held.unsigned_abs() {
                    target
                } else {
                    counterparty
                },
                market: market_id,
                held: if size > held.unsigned_abs() {
                    held
                } else {
                    opposite
                },
                requested: size,
            });
        }
        let MovedAtMark {
            target_receives,
            other_pays: winner_pays,
            ..
        } = move_at_mark(
            &mut victim,
            &mut winner,
            market_id,
            held,
            size,
            mark_nano,
            funding_index,
        );
        let share = ceil_div(deficit * i128::from(size), i128::from(held.unsigned_abs()));
        let winner_equity = self.risk_of_normalized(&winner)?.equity;
        let absorbed = share.min(deficit).min(winner_equity.max(0));
        winner.cash -= absorbed;
        victim.cash += absorbed;
        let target_equity = self.risk_of_normalized(&victim)?.equity;
        self.insurance_fund += winner_pays - target_receives;
        self.keep_remainder(victim_remainder + winner_remainder);
        // Both positions shrink: open interest falls by the size.
        if let Some(market) = self.markets.get_mut(&market_id) {
            market.open_interest = market.open_interest.saturating_sub(size);
        }
        self.portfolios.insert(target, victim);
        self.portfolios.insert(counterparty, winner);
        Ok(AdlOutcome {
            absorbed,
            target_equity,
        })
    }
}
