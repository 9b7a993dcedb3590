//! The margin accounts, with running sums over them that make the clearinghouse's
//! invariants a check over markets instead of accounts (`docs/spec/clearinghouse.md`
//! §5.5): the total cash, the positions' funding snapshots weighted by size, and each
//! market's net and long size. Every write goes through [`Portfolios::insert`] or
//! [`Portfolios::remove`], which take the old account's share out and put the new one in.
//!
//! The sums use wrapping arithmetic: they are exact modulo 2^128, so a check against them
//! can only miss an error that is a multiple of 2^128 micro-units.

use super::market::MarketId;
use super::{FEMTO_PER_MICRO, Portfolio};
use alloy_primitives::Address;
use std::collections::{BTreeMap, HashMap};

/// Every margin account, by owner, with running sums.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Portfolios {
    accounts: HashMap<Address, Portfolio>,
    /// Σ cash, micro-USDC.
    cash_micro: i128,
    /// Σ size × funding snapshot over every position, femto-USDC.
    snapshot_femto: i128,
    /// Per market with positions: (Σ size, Σ long size), micro-contracts.
    sizes: BTreeMap<MarketId, (i128, i128)>,
}

impl Portfolios {
    /// The account's portfolio, if it has one.
    pub fn get(&self, account: &Address) -> Option<&Portfolio> {
        self.accounts.get(account)
    }

    /// Every account with its portfolio.
    pub fn iter(&self) -> impl Iterator<Item = (&Address, &Portfolio)> {
        self.accounts.iter()
    }

    /// Every portfolio.
    pub fn values(&self) -> impl Iterator<Item = &Portfolio> {
        self.accounts.values()
    }

    /// Sets `account`'s portfolio; returns the one it replaced.
    pub fn insert(&mut self, account: Address, portfolio: Portfolio) -> Option<Portfolio> {
        self.count(&portfolio, 1);
        let old = self.accounts.insert(account, portfolio);
        if let Some(old) = &old {
            self.count(old, -1);
        }
        old
    }

    /// Removes `account`'s portfolio.
    pub fn remove(&mut self, account: &Address) -> Option<Portfolio> {
        let old = self.accounts.remove(account);
        if let Some(old) = &old {
            self.count(old, -1);
        }
        old
    }

    /// Σ cash over every account, micro-USDC.
    pub fn cash_micro(&self) -> i128 {
        self.cash_micro
    }

    /// Σ size × funding snapshot over every position, femto-USDC.
    pub fn snapshot_femto(&self) -> i128 {
        self.snapshot_femto
    }

    /// `(Σ size, Σ long size)` in `market`, micro-contracts.
    pub fn sizes(&self, market: MarketId) -> (i128, i128) {
        self.sizes.get(&market).copied().unwrap_or_default()
    }

    /// Every market some position is in, with its sizes.
    pub fn markets_held(&self) -> impl Iterator<Item = (MarketId, (i128, i128))> + '_ {
        self.sizes.iter().map(|(id, sizes)| (*id, *sizes))
    }

    /// Adds (`sign` 1) or takes out (`sign` −1) one portfolio's share of the sums.
    fn count(&mut self, portfolio: &Portfolio, sign: i128) {
        self.cash_micro = self
            .cash_micro
            .wrapping_add(sign.wrapping_mul(portfolio.cash));
        for position in &portfolio.positions {
            let size = i128::from(position.size);
            self.snapshot_femto = self
                .snapshot_femto
                .wrapping_add(sign.wrapping_mul(size.wrapping_mul(position.funding_snapshot)));
            let entry = self.sizes.entry(position.market).or_default();
            entry.0 = entry.0.wrapping_add(sign * size);
            entry.1 = entry.1.wrapping_add(sign * size.max(0));
            if *entry == (0, 0) {
                self.sizes.remove(&position.market);
            }
        }
    }

    /// Σ cash in femto-USDC (for the clearinghouse's total value).
    pub(super) fn cash_femto(&self) -> i128 {
        self.cash_micro.wrapping_mul(FEMTO_PER_MICRO)
    }
}
