//! Signed orders and cancels: EIP-712 messages under the chain's `Straddle` domain. The
//! order hash (the EIP-712 digest) identifies an order everywhere: in the book, in the
//! on-chain order registry, and in cancels.

use crate::action::Domain;
use alloy_primitives::B256;
use alloy_sol_types::{SolStruct, sol};

sol! {
    /// An order. `timeInForce`: 0 good-till-cancelled, 1 immediate-or-cancel,
    /// 2 fill-or-kill, 3 post-only. Prices in micro-USDC per contract, sizes in
    /// micro-contracts.
    #[derive(Debug, PartialEq, Eq)]
    struct Order {
        uint32 market;
        bool isBuy;
        uint64 limitPrice;
        uint64 size;
        uint8 timeInForce;
        bool reduceOnly;
        uint64 expiryMs;
        uint64 clientOrderId;
        uint64 nonce;
    }

    /// Marks an order dead: it can never be filled again, whatever the sequencer does.
    #[derive(Debug, PartialEq, Eq)]
    struct Cancel {
        bytes32 orderHash;
        uint64 nonce;
        uint64 expiryMs;
    }

    /// Replaces quotes under one signature (market makers moving a ladder): cancels the
    /// signer's orders `cancels`, then registers each order to the signer, so matches can
    /// use it without its own signature. All or nothing.
    #[derive(Debug, PartialEq, Eq)]
    struct BulkOrders {
        bytes32[] cancels;
        Order[] orders;
        uint64 nonce;
        uint64 expiryMs;
    }

    /// Cancels many orders under one signature (market makers pulling a ladder).
    #[derive(Debug, PartialEq, Eq)]
    struct BulkCancel {
        bytes32[] orderHashes;
        uint64 nonce;
        uint64 expiryMs;
    }

    /// The signer takes over `size` of `target`'s position in `market` at the mark, if the
    /// target is below maintenance margin (`docs/spec/clearinghouse.md` §8).
    #[derive(Debug, PartialEq, Eq)]
    struct Liquidate {
        address target;
        uint32 market;
        uint64 size;
        uint64 nonce;
        uint64 expiryMs;
    }
}

/// Most orders one bulk placement may carry.
pub const BULK_ORDERS_MAX: usize = 32;

impl BulkOrders {
    /// The EIP-712 digest under `domain`.
    pub fn signing_hash(&self, domain: &Domain) -> B256 {
        self.eip712_signing_hash(&domain.eip712())
    }
}

/// Most orders one bulk cancel may name.
pub const BULK_CANCEL_MAX: usize = 64;

impl BulkCancel {
    /// The EIP-712 digest under `domain`.
    pub fn signing_hash(&self, domain: &Domain) -> B256 {
        self.eip712_signing_hash(&domain.eip712())
    }
}

impl Liquidate {
    /// The EIP-712 digest under `domain`.
    pub fn signing_hash(&self, domain: &Domain) -> B256 {
        self.eip712_signing_hash(&domain.eip712())
    }
}

/// How long an order may rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeInForce {
    /// Rests until filled, cancelled or expired.
    GoodTillCancelled,
    /// Fills what it can now; the rest is dropped. Never a maker.
    ImmediateOrCancel,
    /// Fills entirely now or not at all. Never a maker.
    FillOrKill,
    /// Only ever a maker: refused if it would take.
    PostOnly,
}

impl TimeInForce {
    /// From the wire value; `None` for unknown values.
    pub fn from_u8(value: u8) -> Option<TimeInForce> {
        match value {
            0 => Some(TimeInForce::GoodTillCancelled),
            1 => Some(TimeInForce::ImmediateOrCancel),
            2 => Some(TimeInForce::FillOrKill),
            3 => Some(TimeInForce::PostOnly),
            _ => None,
        }
    }
}

impl Order {
    /// The order hash: its EIP-712 digest under `domain`.
    pub fn hash(&self, domain: &Domain) -> B256 {
        self.eip712_signing_hash(&domain.eip712())
    }
}

impl Cancel {
    /// The EIP-712 digest under `domain`.
    pub fn signing_hash(&self, domain: &Domain) -> B256 {
        self.eip712_signing_hash(&domain.eip712())
    }
}
