//! The collateral ledger: the first slice of the STF.

use crate::clearinghouse::Clearinghouse;
use crate::genesis::UnderlyingConfig;
use crate::genesis::{Genesis, GenesisError};
use crate::leaves::{
    decode_market, decode_oracle_state, decode_order_record, decode_portfolio, encode_market,
    encode_oracle_state, encode_order_record, encode_portfolio,
};
use crate::oracle::OracleState;
use crate::orders::OrderRegistry;
use crate::risk::{RiskParams, ScenarioGrid};
use crate::state_key::StateKey;
use alloy_primitives::{Address, B256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use straddle_primitives::codec::{DecodeError, Reader, Writer};
use straddle_primitives::deposit::accumulate;
use straddle_primitives::{Action, Amount, Deposit, ForcedTransaction, VerifiedAction};
use straddle_state::LeafChange;

/// How many of an account's highest used nonces are remembered. A nonce is accepted when
/// it is unused and, once the window is full, above the window's lowest entry.
pub const NONCE_WINDOW_LEN: usize = 32;

/// Largest total collateral supply, micro-USDC (10^14 USDC). Bounding the supply keeps
/// every sum of balances, margin cash and sub-micro remainders inside 128 bits.
pub const COLLATERAL_SUPPLY_MAX: u128 = 100_000_000_000_000_000_000;

/// The block an action executes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockContext {
    /// Block height.
    pub number: u64,
    /// Block time, unix milliseconds.
    pub timestamp_ms: u64,
}

/// One account's leaf.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    /// Free collateral.
    pub collateral: Amount,
    /// The highest used nonces, ascending, at most [`NONCE_WINDOW_LEN`].
    pub nonces: Vec<u64>,
}

/// One withdrawal request, to be proven on L1 by a later bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withdrawal {
    /// L2 account debited.
    pub account: Address,
    /// L1 recipient.
    pub recipient: Address,
    /// Micro-units.
    pub amount: Amount,
    /// L2 block that recorded it.
    pub block_number: u64,
}

/// Supply bookkeeping; makes conservation of collateral checkable from the state alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Sum of genesis allocations.
    pub genesis_supply: Amount,
    /// Sum of faucet mints.
    pub minted: Amount,
    /// Sum of withdrawal requests.
    pub withdrawn: Amount,
    /// Number of withdrawal requests (the next withdrawal's index).
    pub withdrawal_count: u64,
    /// Sum of L1 deposits credited.
    pub deposited: Amount,
    /// L1 deposits credited (the next deposit's index).
    pub deposit_count: u64,
    /// The Portal's hash chain after the last credited deposit (zero before the first).
    pub deposit_accumulator: B256,
}

impl Totals {
    /// Everything ever issued: genesis, faucet mints and L1 deposits.
    pub fn issued(&self) -> Option<Amount> {
        self.genesis_supply
            .checked_add(self.minted)?
            .checked_add(self.deposited)
    }

    /// Total supply must fit [`COLLATERAL_SUPPLY_MAX`], so that no sum of balances can
    /// ever overflow.
    fn check_supply(&self) -> Result<(), TxError> {
        self.issued()
            .filter(|supply| supply.0 <= COLLATERAL_SUPPLY_MAX)
            .map(|_| ())
            .ok_or(TxError::Overflow)
    }
}

/// Why a valid-looking, correctly signed action cannot execute. Nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The block time is past the action's expiry.
    #[error("action expired at {expiry_ms} ms, block time is {block_ms} ms")]
    Expired {
        /// The action's expiry.
        expiry_ms: u64,
        /// The block time.
        block_ms: u64,
    },
    /// The nonce was used before.
    #[error("nonce {0} was already used")]
    NonceReplayed(u64),
    /// The nonce is below the account's full nonce window.
    #[error(
        "nonce {nonce} is stale: it must exceed {lowest}, the lowest of the last {NONCE_WINDOW_LEN} nonces"
    )]
    NonceStale {
        /// The nonce given.
        nonce: u64,
        /// The window's lowest entry.
        lowest: u64,
    },
    /// Amounts must be positive.
    #[error("amount must be greater than zero")]
    ZeroAmount,
    /// Not enough free collateral.
    #[error("insufficient balance: {available} available, {needed} needed")]
    InsufficientBalance {
        /// The account's collateral.
        available: Amount,
        /// The amount asked for.
        needed: Amount,
    },
    /// An operator request (mint, market listing or close) not signed by the operator,
    /// or a mint on a chain without a faucet.
    #[error("only the operator may mint (with the faucet enabled), list or close markets")]
    Unauthorized,
    /// A credit would pass 2^128 micro-units.
    #[error("balance or supply would overflow")]
    Overflow,
    /// The margin account refused (for example: initial margin not covered after a
    /// margin withdrawal).
    #[error("margin: {0}")]
    Margin(crate::clearinghouse::ClearingError),
    /// An oracle update was refused.
    #[error("oracle: {0}")]
    Oracle(crate::oracle::OracleError),
    /// A match was refused.
    #[error("match: {0}")]
    Match(crate::orders::MatchError),
    /// An order placement was refused.
    #[error("placement: {0}")]
    Placement(PlacementError),
    /// An operator listing was refused.
    #[error("listing: {0}")]
    Listing(ListingError),
    /// An operator close was refused.
    #[error("close: {0}")]
    Close(crate::clearinghouse::ClearingError),
    /// Deposits are credited in the Portal's order, each once.
    #[error("deposit {got} is out of order: the next deposit to credit is {expected}")]
    DepositOutOfOrder {
        /// The next index.
        expected: u64,
        /// The index given.
        got: u64,
    },
    /// Forced transactions are included in the Portal's order, each once.
    #[error("forced transaction {got} out of order: the next is {expected}")]
    ForcedOutOfOrder {
        /// The next index.
        expected: u64,
        /// The index given.
        got: u64,
    },
}

impl TxError {
    /// A short, stable name of the refusal (a metrics label).
    pub fn name(&self) -> &'static str {
        match self {
            TxError::Expired { .. } => "expired",
            TxError::NonceReplayed(_) => "nonce_replayed",
            TxError::NonceStale { .. } => "nonce_stale",
            TxError::ZeroAmount => "invalid_amount",
            TxError::InsufficientBalance { .. } => "insufficient_balance",
            TxError::Unauthorized => "unauthorized",
            TxError::Overflow => "overflow",
            TxError::Margin(_) => "margin_refused",
            TxError::Oracle(_) => "oracle_refused",
            TxError::Match(_) => "match_refused",
            TxError::Placement(_) => "placement_refused",
            TxError::Listing(_) => "listing_refused",
            TxError::Close(_) => "close_refused",
            TxError::DepositOutOfOrder { .. } => "deposit_out_of_order",
            TxError::ForcedOutOfOrder { .. } => "forced_out_of_order",
        }
    }
}

/// The forced transactions included so far (the `0x09` leaf).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForcedQueue {
    /// Forced transactions included (the next one's index).
    pub count: u64,
    /// The Portal's hash chain after the last included (zero before the first).
    pub accumulator: B256,
}

/// Why an order could not be placed (registered as resting).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// Immediate-or-cancel and fill-or-kill orders never rest; unknown values neither.
    #[error("time in force {0} cannot rest")]
    CannotRest(u8),
    /// Past its expiry at block time.
    #[error("order expired")]
    Expired,
    /// Cancelled by its owner.
    #[error("order is cancelled")]
    Cancelled,
    /// Nothing left to fill.
    #[error("order is completely filled")]
    Filled,
    /// Placed before (a placement keeps its first sequence number).
    #[error("order is already placed")]
    AlreadyPlaced,
    /// Unknown or closed market, or price/size off the market's tick/lot.
    #[error("{0}")]
    Market(crate::clearinghouse::ClearingError),
    /// Retirement of an order that is not resting (never placed, cancelled, filled).
    #[error("order is not resting")]
    NotResting,
    /// Retirement of an order that can still trade: unexpired, on an active market, and
    /// its owner can afford it.
    #[error("order can still trade")]
    StillTradeable,
}

/// Why an operator's market listing was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    /// The instrument byte is not 0 (perpetual), 1 (call) or 2 (put).
    #[error("unknown instrument {0}")]
    UnknownInstrument(u8),
    /// A perpetual with a strike or an option expiry.
    #[error("a perpetual takes no strike or option expiry")]
    PerpetualWithOptionTerms,
    /// An option whose expiry is not after the block time.
    #[error("option expiry {expiry_ms} is not after the block time {block_ms}")]
    OptionExpiryPassed {
        /// The listing's expiry.
        expiry_ms: u64,
        /// The block time.
        block_ms: u64,
    },
    /// No such underlying.
    #[error("unknown underlying {0}")]
    UnknownUnderlying(u32),
    /// The underlying already has the most active markets allowed.
    #[error("underlying {0} already has {max} active markets", max = crate::genesis::MARKETS_PER_UNDERLYING_MAX)]
    TooManyMarkets(u32),
    /// Invalid parameters or a market id already used.
    #[error("{0}")]
    Market(crate::clearinghouse::ClearingError),
}

/// Errors loading a ledger from stored leaves or a genesis.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A stored leaf did not decode.
    #[error("state leaf does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// The genesis is invalid.
    #[error("invalid genesis: {0}")]
    Genesis(#[from] GenesisError),
}

/// What a successful action produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Index of the withdrawal a [`straddle_primitives::Withdraw`] recorded.
    pub withdrawal_index: Option<u64>,
}

/// The ledger state with the set of keys touched since the last [`Ledger::take_changes`].
#[derive(Clone, Debug)]
pub struct Ledger {
    operator: Option<Address>,
    faucet_enabled: bool,
    accounts: HashMap<Address, Account>,
    /// Σ collateral over `accounts`, micro-USDC (wrapping; kept by [`Ledger::set_collateral`]
    /// so that conservation is checked without reading every account).
    balances_micro: u128,
    withdrawals: BTreeMap<u64, Withdrawal>,
    totals: Totals,
    clearinghouse: Clearinghouse,
    underlyings: BTreeMap<u32, Underlying>,
    orders: OrderRegistry,
    forced: ForcedQueue,
    touched: BTreeSet<StateKey>,
}

/// An underlying's configuration, its precomputed scenario grid and its oracle state.
#[derive(Clone, Debug)]
pub struct Underlying {
    /// From the genesis.
    pub config: UnderlyingConfig,
    /// The scenario grid of `config.risk`.
    pub grid: ScenarioGrid,
    /// The accepted oracle state.
    pub oracle: OracleState,
}

impl Ledger {
    /// The state at block 0. Every genesis leaf is in [`Ledger::take_changes`].
    pub fn genesis(genesis: &Genesis) -> Result<Ledger, LedgerError> {
        if genesis.allocations.len() > crate::genesis::GENESIS_ALLOCATIONS_MAX {
            return Err(GenesisError::TooManyAllocations(genesis.allocations.len()).into());
        }
        if genesis.faucet_enabled && genesis.operator.is_none() {
            return Err(GenesisError::FaucetWithoutOperator.into());
        }
        let mut ledger = Ledger::empty(genesis);
        for allocation in &genesis.allocations {
            if ledger.accounts.contains_key(&allocation.address) {
                return Err(GenesisError::DuplicateAllocation(allocation.address).into());
            }
            ledger.totals.genesis_supply = ledger
                .totals
                .genesis_supply
                .checked_add(allocation.amount)
                .filter(|supply| supply.0 <= COLLATERAL_SUPPLY_MAX)
                .ok_or(GenesisError::SupplyOverflow)?;
            ledger.set_collateral(allocation.address, allocation.amount);
            ledger.touched.insert(StateKey::Account(allocation.address));
        }
        ledger.touched.insert(StateKey::Totals);
        ledger.list_genesis_markets(genesis)?;
        for id in ledger.underlyings.keys() {
            ledger.touched.insert(StateKey::Oracle(*id));
        }
        for market in ledger.clearinghouse.markets() {
            ledger.touched.insert(StateKey::Market(market.spec.id));
        }
        Ok(ledger)
    }

    fn empty(genesis: &Genesis) -> Ledger {
        Ledger {
            operator: genesis.operator,
            faucet_enabled: genesis.faucet_enabled,
            accounts: HashMap::new(),
            balances_micro: 0,
            withdrawals: BTreeMap::new(),
            totals: Totals::default(),
            clearinghouse: Clearinghouse::new(RiskParams::default().initial_margin_factor_ppm),
            underlyings: BTreeMap::new(),
            orders: OrderRegistry::default(),
            forced: ForcedQueue::default(),
            touched: BTreeSet::new(),
        }
    }

    /// Rebuilds the ledger from stored `(key, value)` leaves.
    pub fn from_leaves(
        genesis: &Genesis,
        leaves: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    ) -> Result<Ledger, LedgerError> {
        let mut ledger = Ledger::empty(genesis);
        ledger.list_genesis_markets(genesis)?;
        for (key, value) in leaves {
            match StateKey::decode(&key)? {
                StateKey::Account(address) => {
                    let account = decode_account(&value)?;
                    ledger.set_collateral(address, account.collateral);
                    ledger.accounts.insert(address, account);
                }
                StateKey::Withdrawal(index) => {
                    ledger.withdrawals.insert(index, decode_withdrawal(&value)?);
                }
                StateKey::Totals => ledger.totals = decode_totals(&value)?,
                StateKey::Portfolio(address) => ledger
                    .clearinghouse
                    .load_portfolio(address, decode_portfolio(&value)?),
                StateKey::Market(_) => ledger.clearinghouse.load_market(decode_market(&value)?),
                StateKey::Oracle(id) => {
                    // The active markets follow from the markets.
                    let (state, _) = decode_oracle_state(&value)?;
                    if let Some(underlying) = ledger.underlyings.get_mut(&id) {
                        underlying.oracle = state;
                    }
                }
                StateKey::Order(owner, hash) => {
                    ledger
                        .orders
                        .load(owner, hash, decode_order_record(&value)?)
                }
                StateKey::ClearingTotals => {
                    let mut r = Reader::new(&value);
                    ledger.clearinghouse.fee_pool = r.u128()? as i128;
                    ledger.clearinghouse.insurance_fund = r.u128()? as i128;
                    ledger.clearinghouse.rounding_reserve_femto = r.u128()? as i128;
                    ledger.orders.placements = r.u64()?;
                    r.finish()?;
                }
                StateKey::ForcedQueue => {
                    let mut r = Reader::new(&value);
                    ledger.forced = ForcedQueue {
                        count: r.u64()?,
                        accumulator: r.b256()?,
                    };
                    r.finish()?;
                }
            }
        }
        Ok(ledger)
    }

    /// An account, if it was ever credited or used.
    pub fn account(&self, address: &Address) -> Option<&Account> {
        self.accounts.get(address)
    }

    /// A withdrawal request by index.
    pub fn withdrawal(&self, index: u64) -> Option<&Withdrawal> {
        self.withdrawals.get(&index)
    }

    /// Supply totals.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// The clearinghouse (margin accounts, markets, pools).
    pub fn clearinghouse(&self) -> &Clearinghouse {
        &self.clearinghouse
    }

    /// Sets `address`'s free collateral: the one place it is written, so that the running
    /// sum of balances stays exact.
    fn set_collateral(&mut self, address: Address, collateral: Amount) {
        let account = self.accounts.entry(address).or_default();
        self.balances_micro = self
            .balances_micro
            .wrapping_sub(account.collateral.0)
            .wrapping_add(collateral.0);
        account.collateral = collateral;
    }

    /// Σ free collateral over every account, micro-USDC, from the running sum (wrapping).
    pub(crate) fn balances_micro(&self) -> u128 {
        self.balances_micro
    }

    /// Σ free collateral recounted from every account (wrapping; debug cross-checks).
    #[cfg(debug_assertions)]
    pub(crate) fn balances_recount(&self) -> u128 {
        self.accounts
            .values()
            .fold(0u128, |sum, a| sum.wrapping_add(a.collateral.0))
    }

    /// Conservation of collateral: balances, plus everything held by the clearinghouse,
    /// plus withdrawn, equal genesis plus minted.
    pub fn is_conserved(&self) -> bool {
        let (held, issued) = self.conservation();
        held.is_some() && held == issued
    }

    /// `(held, issued)` in micro-USDC: balances + clearinghouse value + withdrawn, and
    /// genesis + minted + deposited. `None` where a sum overflows or the clearinghouse's
    /// value is negative or not a whole micro-USDC.
    pub(crate) fn conservation(&self) -> (Option<u128>, Option<u128>) {
        let balances = self
            .accounts
            .values()
            .try_fold(0u128, |sum, a| sum.checked_add(a.collateral.0));
        let clearing = self
            .clearinghouse
            .total_value_femto()
            .ok()
            .and_then(|femto| {
                (femto >= 0 && femto % 1_000_000_000 == 0)
                    .then_some((femto / 1_000_000_000) as u128)
            });
        let held = balances
            .and_then(|b| b.checked_add(self.totals.withdrawn.0))
            .and_then(|b| Some(b.checked_add(clearing?)))
            .flatten();
        let issued = self.totals.issued().map(|supply| supply.0);
        (held, issued)
    }

    /// Executes one verified action in `block`. On error nothing changes.
    pub fn apply(&mut self, tx: &VerifiedAction, block: &BlockContext) -> Result<Outcome, TxError> {
        let action = &tx.signed.action;
        if block.timestamp_ms > action.expiry_ms() {
            return Err(TxError::Expired {
                expiry_ms: action.expiry_ms(),
                block_ms: block.timestamp_ms,
            });
        }
        let sender = self.accounts.get(&tx.sender);
        let nonces = sender.map(|a| a.nonces.as_slice()).unwrap_or_default();
        let nonce_slot = check_nonce(nonces, action.nonce())?;
        let available = sender.map(|a| a.collateral).unwrap_or_default();

        // Validate fully, then mutate: every branch below only computes.
        let mut outcome = Outcome::default();
        let mut totals = self.totals;
        let (debit, credit) = match action {
            Action::Transfer(t) => {
                let amount = positive(t.amount)?;
                let debit = debit(available, amount)?;
                (Some(debit), Some((t.to, amount)))
            }
            Action::Withdraw(w) => {
                let amount = positive(w.amount)?;
                let debit = debit(available, amount)?;
                totals.withdrawn = totals
                    .withdrawn
                    .checked_add(amount)
                    .ok_or(TxError::Overflow)?;
                outcome.withdrawal_index = Some(totals.withdrawal_count);
                totals.withdrawal_count += 1;
                (Some(debit), None)
            }
            Action::Mint(m) => {
                if !self.faucet_enabled || self.operator != Some(tx.sender) {
                    return Err(TxError::Unauthorized);
                }
                let amount = positive(m.amount)?;
                totals.minted = totals.minted.checked_add(amount).ok_or(TxError::Overflow)?;
                totals.check_supply()?;
                (None, Some((m.to, amount)))
            }
            Action::DepositMargin(d) => {
                let amount = positive(d.amount)?;
                let debit = debit(available, amount)?;
                // Cash is signed 128-bit: refuse a deposit it could not hold.
                let cash = self.clearinghouse.portfolio(&tx.sender).cash;
                i128::try_from(amount.0)
                    .ok()
                    .and_then(|a| cash.checked_add(a))
                    .ok_or(TxError::Overflow)?;
                (Some(debit), None)
            }
            Action::WithdrawMargin(w) => {
                let amount = positive(w.amount)?;
                let credited = available.checked_add(amount).ok_or(TxError::Overflow)?;
                // The last fallible step (nothing after this arm can fail for a margin
                // withdrawal), and it changes nothing unless it succeeds.
                self.clearinghouse
                    .withdraw(tx.sender, amount.0)
                    .map_err(TxError::Margin)?;
                (Some(credited), None)
            }
        };
        let credited = match credit {
            Some((to, amount)) => {
                let base = if to == tx.sender {
                    debit.unwrap_or(available)
                } else {
                    self.accounts
                        .get(&to)
                        .map(|a| a.collateral)
                        .unwrap_or_default()
                };
                Some((to, base.checked_add(amount).ok_or(TxError::Overflow)?))
            }
            None => None,
        };

        let account = self.accounts.entry(tx.sender).or_default();
        insert_nonce(&mut account.nonces, nonce_slot, action.nonce());
        if let Some(debit) = debit {
            self.set_collateral(tx.sender, debit);
        }
        self.touched.insert(StateKey::Account(tx.sender));
        if let Some((to, balance)) = credited {
            self.set_collateral(to, balance);
            self.touched.insert(StateKey::Account(to));
        }
        match action {
            Action::DepositMargin(d) => {
                // Validated above: cannot fail.
                let _ = self.clearinghouse.deposit(tx.sender, d.amount);
                self.touched.insert(StateKey::Portfolio(tx.sender));
            }
            Action::WithdrawMargin(_) => {
                self.touched.insert(StateKey::Portfolio(tx.sender));
                self.touched.insert(StateKey::ClearingTotals);
            }
            _ => {}
        }
        if let (Action::Withdraw(w), Some(index)) = (action, outcome.withdrawal_index) {
            self.withdrawals.insert(
                index,
                Withdrawal {
                    account: tx.sender,
                    recipient: w.recipient,
                    amount: Amount(w.amount),
                    block_number: block.number,
                },
            );
            self.touched.insert(StateKey::Withdrawal(index));
        }
        if totals != self.totals {
            self.totals = totals;
            self.touched.insert(StateKey::Totals);
        }
        debug_assert!(
            self.is_conserved(),
            "collateral not conserved after {action:?}"
        );
        Ok(outcome)
    }

    /// Credits an L1 deposit: only the next index, once; the recipient's free collateral
    /// grows by the amount and the deposit joins the hash chain (which must then equal
    /// the Portal's accumulator after the same index). On error nothing changes.
    pub fn apply_deposit(&mut self, deposit: &Deposit) -> Result<Outcome, TxError> {
        let mut totals = self.totals;
        if deposit.index != totals.deposit_count {
            return Err(TxError::DepositOutOfOrder {
                expected: totals.deposit_count,
                got: deposit.index,
            });
        }
        let amount = positive(deposit.amount)?;
        totals.deposited = totals
            .deposited
            .checked_add(amount)
            .ok_or(TxError::Overflow)?;
        totals.check_supply()?;
        let balance = self
            .accounts
            .get(&deposit.recipient)
            .map(|a| a.collateral)
            .unwrap_or_default()
            .checked_add(amount)
            .ok_or(TxError::Overflow)?;
        totals.deposit_count += 1;
        totals.deposit_accumulator = accumulate(&totals.deposit_accumulator, &deposit.l1_hash());
        self.set_collateral(deposit.recipient, balance);
        self.touched.insert(StateKey::Account(deposit.recipient));
        self.totals = totals;
        self.touched.insert(StateKey::Totals);
        debug_assert!(
            self.is_conserved(),
            "collateral not conserved after {deposit:?}"
        );
        Ok(Outcome::default())
    }

    /// Records the inclusion of an L1 forced transaction: only the next index, once; it
    /// joins the hash chain (which must then equal the Portal's after the same index).
    /// What the transaction itself does is executed separately, and may be refused;
    /// the inclusion stands either way. On error nothing changes.
    pub fn apply_forced(&mut self, forced: &ForcedTransaction) -> Result<(), TxError> {
        if forced.index != self.forced.count {
            return Err(TxError::ForcedOutOfOrder {
                expected: self.forced.count,
                got: forced.index,
            });
        }
        self.forced = ForcedQueue {
            count: self.forced.count + 1,
            accumulator: accumulate(&self.forced.accumulator, &forced.l1_hash()),
        };
        self.touched.insert(StateKey::ForcedQueue);
        Ok(())
    }

    /// The forced transactions included so far.
    pub fn forced_queue(&self) -> ForcedQueue {
        self.forced
    }

    /// The canonical value of a leaf, or `None` if absent.
    pub fn leaf_value(&self, key: &StateKey) -> Option<Vec<u8>> {
        match key {
            StateKey::ForcedQueue => (self.forced.count > 0).then(|| {
                let mut w = Writer::with_capacity(40);
                w.u64(self.forced.count).b256(&self.forced.accumulator);
                w.bytes
            }),
            StateKey::Account(address) => self.accounts.get(address).map(encode_account),
            StateKey::Withdrawal(index) => self.withdrawals.get(index).map(encode_withdrawal),
            StateKey::Totals => Some(encode_totals(&self.totals)),
            StateKey::Portfolio(address) => {
                let portfolio = self.clearinghouse.portfolio(address);
                (portfolio.cash != 0 || !portfolio.positions.is_empty())
                    .then(|| encode_portfolio(&portfolio))
            }
            StateKey::Market(id) => self.clearinghouse.market(*id).map(encode_market),
            StateKey::Oracle(id) => self
                .underlyings
                .get(id)
                .map(|u| encode_oracle_state(&u.oracle, &self.active_market_ids(*id))),
            StateKey::Order(owner, hash) => {
                self.orders.record(owner, hash).map(encode_order_record)
            }
            StateKey::ClearingTotals => {
                let mut w = Writer::with_capacity(56);
                w.u128(self.clearinghouse.fee_pool as u128)
                    .u128(self.clearinghouse.insurance_fund as u128)
                    .u128(self.clearinghouse.rounding_reserve_femto as u128)
                    .u64(self.orders.placements);
                Some(w.bytes)
            }
        }
    }

    /// The leaves changed since the last call, in key order.
    pub fn take_changes(&mut self) -> Vec<LeafChange> {
        std::mem::take(&mut self.touched)
            .into_iter()
            .map(|key| LeafChange {
                key: key.encode(),
                value: self.leaf_value(&key),
            })
            .collect()
    }
}

/// `available − amount`, or why not.
fn debit(available: Amount, amount: Amount) -> Result<Amount, TxError> {
    available
        .checked_sub(amount)
        .ok_or(TxError::InsufficientBalance {
            available,
            needed: amount,
        })
}

fn positive(amount: u128) -> Result<Amount, TxError> {
    if amount == 0 {
        Err(TxError::ZeroAmount)
    } else {
        Ok(Amount(amount))
    }
}

/// Where `nonce` goes in the ascending window, or why it is refused.
fn check_nonce(window: &[u64], nonce: u64) -> Result<usize, TxError> {
    match window.binary_search(&nonce) {
        Ok(_) => Err(TxError::NonceReplayed(nonce)),
        Err(0) if window.len() >= NONCE_WINDOW_LEN => Err(TxError::NonceStale {
            nonce,
            lowest: window[0],
        }),
        Err(slot) => Ok(slot),
    }
}

fn insert_nonce(window: &mut Vec<u64>, slot: usize, nonce: u64) {
    window.insert(slot, nonce);
    if window.len() > NONCE_WINDOW_LEN {
        window.remove(0);
    }
}

mod leaf_codec;
mod trading;

pub use leaf_codec::{decode_account, encode_totals};
use leaf_codec::{decode_totals, decode_withdrawal, encode_account, encode_withdrawal};
pub use trading::{OracleUpdatePlan, StrikeCache};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod trading_tests;
