//! Funding and final settlement (`docs/spec/clearinghouse.md` §7): perpetual funding
//! accrues into each market's index (accounts pay or receive it when next touched), an
//! option settles at its expiry from the oracle's recent index values, and the operator
//! closes a perpetual at the same kind of mean.

use super::*;

/// Truncated mean of the oracle's recent accepted index values whose timestamps pass
/// `in_window`; `None` when there is none.
fn settlement_price(
    oracle: &crate::oracle::OracleState,
    in_window: impl Fn(u64) -> bool,
) -> Option<u64> {
    let window: Vec<u64> = oracle
        .recent
        .iter()
        .filter(|(t, _)| in_window(*t))
        .map(|(_, price)| *price)
        .collect();
    let sum: u128 = window.iter().map(|p| u128::from(*p)).sum();
    (!window.is_empty()).then(|| (sum / window.len() as u128) as u64)
}

impl Clearinghouse {
    /// Accrues perpetual funding: the index rises by `premium_nano · elapsed_ms /
    /// FUNDING_PERIOD_MS` (floored), where the premium (mark − index, per contract) comes
    /// from [`funding_premium`]. Accounts pay or receive it when next touched.
    pub fn accrue_funding(
        &mut self,
        id: MarketId,
        premium_nano: i64,
        elapsed_ms: u64,
    ) -> Result<i128, ClearingError> {
        let market = self.active_market_mut(id)?;
        if market.spec.instrument != market::Instrument::Perpetual {
            return Err(ClearingError::NotPerpetual(id));
        }
        let accrued =
            (i128::from(premium_nano) * i128::from(elapsed_ms)).div_euclid(FUNDING_PERIOD_MS);
        market.funding_index += accrued;
        Ok(accrued)
    }

    /// Settles an expired option market at the oracle's settlement price (§7): the mean
    /// of the accepted index values observed at or before expiry and no more than
    /// [`SETTLEMENT_LOOKBACK_MS`] before it. Positions are paid out lazily.
    pub fn settle_expiry(
        &mut self,
        id: MarketId,
        oracle: &crate::oracle::OracleState,
        now_ms: u64,
    ) -> Result<u64, ClearingError> {
        let market = self.active_market_mut(id)?;
        let market::Instrument::Option {
            kind,
            strike_micro_usdc,
            expiry_ms,
        } = market.spec.instrument
        else {
            return Err(ClearingError::NotAnOption(id));
        };
        if now_ms < expiry_ms {
            return Err(ClearingError::NotExpired { expiry_ms, now_ms });
        }
        let settlement = settlement_price(oracle, |t| {
            t <= expiry_ms && t + SETTLEMENT_LOOKBACK_MS >= expiry_ms
        })
        .ok_or(ClearingError::NoSettlementPrice(id))?;
        let value = match kind {
            crate::risk::OptionKind::Call => settlement.saturating_sub(strike_micro_usdc),
            crate::risk::OptionKind::Put => strike_micro_usdc.saturating_sub(settlement),
        };
        market.status = MarketStatus::Settled {
            value_micro_usdc: value,
        };
        market.vector = None;
        Ok(settlement)
    }

    /// Closes a perpetual market (operator delisting, §7.4): the settlement price is the
    /// truncated mean of the oracle's accepted index values no older than
    /// [`SETTLEMENT_LOOKBACK_MS`] at `now_ms` (a value stamped slightly after the block
    /// time, within the oracle's tolerance, counts); every position is paid `q · price` lazily,
    /// after its funding up to the last accrual. Returns the settlement price.
    pub fn close_perpetual(
        &mut self,
        id: MarketId,
        oracle: &crate::oracle::OracleState,
        now_ms: u64,
    ) -> Result<u64, ClearingError> {
        let market = self.active_market_mut(id)?;
        if market.spec.instrument != market::Instrument::Perpetual {
            return Err(ClearingError::NotPerpetual(id));
        }
        let settlement = settlement_price(oracle, |t| t + SETTLEMENT_LOOKBACK_MS >= now_ms)
            .ok_or(ClearingError::NoSettlementPrice(id))?;
        market.status = MarketStatus::Settled {
            value_micro_usdc: settlement,
        };
        market.vector = None;
        Ok(settlement)
    }
}
