//! What the matching engine reports: book snapshots and updates, order acknowledgements,
//! trades and order updates (`docs/spec/matching.md` §6, `docs/spec/feeds.md`).

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

/// Changed price levels of one market's book, as absolute quantities (0: the level is
/// gone), in the market's units: micro-USDC prices, micro-contract sizes. `seq` counts
/// the updates of that market from 1 since the node started; a client that sees any
/// other number than its last plus one has missed an update and must take a new
/// snapshot (`docs/spec/feeds.md`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookUpdate {
    /// Market.
    pub market: u32,
    /// Update number.
    pub seq: u64,
    /// `(price, size)` per changed bid level, best first.
    pub bids: Vec<(u64, u64)>,
    /// `(price, size)` per changed ask level, best first.
    pub asks: Vec<(u64, u64)>,
}

/// A whole book at update `seq`: applying every later update in order reproduces the
/// sequencer's book exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookSnapshot {
    /// Market.
    pub market: u32,
    /// The last update this snapshot includes.
    pub seq: u64,
    /// `(price, size, orders)` per bid level, best first.
    pub bids: Vec<(u64, u64, u32)>,
    /// `(price, size, orders)` per ask level, best first.
    pub asks: Vec<(u64, u64, u32)>,
}

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrderStatus {
    /// On the book (possibly after some fills).
    Resting,
    /// Completely filled.
    Filled,
    /// Done without filling completely and not resting: an immediate-or-cancel
    /// remainder, or matching stopped (see the reason).
    Unfilled,
    /// Cancelled by its owner.
    Cancelled,
    /// Past its expiry, or its market closed.
    Expired,
    /// Taken off the book because the STF refused a fill against it (see the reason).
    Removed,
}

/// One fill of a taker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FillReport {
    /// Maker.
    pub maker: Address,
    /// Maker's order hash.
    pub maker_order: B256,
    /// Price, micro-USDC per contract (the maker's).
    pub price: u64,
    /// Size, micro-contracts.
    pub size: u64,
}

/// What became of a placed order once everything it caused is durable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderAck {
    /// Order hash.
    pub order_hash: B256,
    /// Owner.
    pub owner: Address,
    /// Market.
    pub market: u32,
    /// Status after this request.
    pub status: OrderStatus,
    /// Micro-contracts filled by this request.
    pub filled: u64,
    /// Micro-contracts left resting.
    pub resting: u64,
    /// The fills, in book order.
    pub fills: Vec<FillReport>,
    /// Transactions made for it (matches, then the placement), in block order.
    pub transactions: Vec<B256>,
    /// The block they execute in (`None` when nothing was written: an
    /// immediate-or-cancel order that met nothing).
    pub block_number: Option<u64>,
    /// Why matching stopped early or the remainder did not rest.
    pub reason: Option<String>,
}

/// An executed trade.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trade {
    /// Market.
    pub market: u32,
    /// Price, micro-USDC per contract.
    pub price: u64,
    /// Size, micro-contracts.
    pub size: u64,
    /// The taker bought.
    pub taker_is_buy: bool,
    /// Taker.
    pub taker: Address,
    /// Taker's order hash.
    pub taker_order: B256,
    /// Maker.
    pub maker: Address,
    /// Maker's order hash.
    pub maker_order: B256,
    /// The match transaction.
    pub tx_hash: B256,
    /// Its block.
    pub block_number: u64,
}

/// A change of one order, for its owner's stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderUpdate {
    /// Owner.
    pub owner: Address,
    /// Order hash.
    pub order_hash: B256,
    /// Market.
    pub market: u32,
    /// Buy side.
    pub is_buy: bool,
    /// Limit price, micro-USDC.
    pub price: u64,
    /// Order size, micro-contracts.
    pub size: u64,
    /// Filled so far (all requests), micro-contracts.
    pub filled: u64,
    /// Resting on the book now, micro-contracts.
    pub resting: u64,
    /// The owner's client order id.
    pub client_order_id: u64,
    /// Status.
    pub status: OrderStatus,
    /// Why, for `unfilled`, `expired` and `removed`.
    pub reason: Option<String>,
}

/// One market-data event. Events are published in groups, after the log holds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum MarketEvent {
    /// Changed levels of a book.
    Book(BookUpdate),
    /// A trade.
    Trade(Trade),
    /// An order changed.
    Order(OrderUpdate),
}
