//! The invariants that protect money, checked in release builds at every block close
//! (`docs/spec/clearinghouse.md` §5.5): collateral is conserved to the micro-USDC, and
//! every active market's positions net to zero with its open interest equal to the long
//! total (a settled market's positions leave one by one, as their accounts are next
//! touched, so they need not net out).
//! A violation means the STF has a bug: the caller must not seal the block.
//!
//! The check reads running sums that every write keeps (`Ledger::set_collateral`,
//! `clearinghouse::Portfolios`), so it costs O(markets), not O(accounts); debug builds
//! also recompute the sums from every account and compare.

use crate::Ledger;
use crate::clearinghouse::FEMTO_PER_MICRO;
use crate::clearinghouse::market::{MarketId, MarketStatus};

/// A broken invariant, with the figures that show it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvariantViolation {
    /// Balances, what the clearinghouse holds and what was withdrawn do not add up to
    /// what was issued (genesis, mints, deposits). `None`: the sum overflowed or the
    /// clearinghouse holds a fraction of a micro-USDC or a negative total.
    #[error(
        "collateral not conserved: held {held:?} micro-USDC (balances + clearinghouse + withdrawn), issued {issued:?}"
    )]
    CollateralNotConserved {
        /// Balances + clearinghouse value + withdrawn.
        held: Option<u128>,
        /// Genesis + minted + deposited.
        issued: Option<u128>,
    },
    /// A market's positions do not net to zero.
    #[error("market {market}: positions net to {net} micro-contracts, not zero")]
    PositionsNotNet {
        /// The market.
        market: MarketId,
        /// The sum of every account's signed size.
        net: i128,
    },
    /// A market's recorded open interest is not its long total.
    #[error("market {market}: open interest {recorded} differs from the long total {long}")]
    OpenInterestMismatch {
        /// The market.
        market: MarketId,
        /// What the market records.
        recorded: u64,
        /// The sum of every long position.
        long: i128,
    },
}

impl Ledger {
    /// Checks every invariant of [`InvariantViolation`], in O(markets).
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        #[cfg(debug_assertions)]
        self.assert_running_sums();
        let clearinghouse = self.clearinghouse();
        let sums = clearinghouse.portfolio_sums();
        // A settled market's positions are paid out lazily, one account at a time, and its
        // open interest stays as it was at settlement: only active markets must net out.
        for market in clearinghouse
            .markets()
            .filter(|market| market.status == MarketStatus::Active)
        {
            let id = market.spec.id;
            let (net, long) = sums.sizes(id);
            if net != 0 {
                return Err(InvariantViolation::PositionsNotNet { market: id, net });
            }
            if i128::from(market.open_interest) != long {
                return Err(InvariantViolation::OpenInterestMismatch {
                    market: id,
                    recorded: market.open_interest,
                    long,
                });
            }
        }
        // Positions in a market that does not exist.
        if let Some((market, (net, long))) = sums
            .markets_held()
            .find(|(id, _)| clearinghouse.market(*id).is_none())
        {
            return Err(if net != 0 {
                InvariantViolation::PositionsNotNet { market, net }
            } else {
                InvariantViolation::OpenInterestMismatch {
                    market,
                    recorded: 0,
                    long,
                }
            });
        }
        let clearing = clearinghouse
            .total_value_femto_from_sums()
            .filter(|femto| *femto >= 0 && femto % FEMTO_PER_MICRO == 0)
            .map(|femto| (femto / FEMTO_PER_MICRO) as u128);
        let held = clearing.and_then(|clearing| {
            self.balances_micro()
                .checked_add(self.totals().withdrawn.0)?
                .checked_add(clearing)
        });
        let issued = self.totals().issued().map(|supply| supply.0);
        if held.is_none() || held != issued {
            return Err(InvariantViolation::CollateralNotConserved { held, issued });
        }
        Ok(())
    }

    /// The running sums equal a full recount (debug builds: a write that bypassed them is
    /// a bug in the bookkeeping, not in the STF's rules).
    #[cfg(debug_assertions)]
    fn assert_running_sums(&self) {
        assert_eq!(
            self.balances_recount(),
            self.balances_micro(),
            "the running sum of balances differs from a recount"
        );
        let clearinghouse = self.clearinghouse();
        if let Ok(full) = clearinghouse.total_value_femto() {
            assert_eq!(
                Some(full),
                clearinghouse.total_value_femto_from_sums(),
                "the clearinghouse's running sums differ from a recount"
            );
        }
    }
}
