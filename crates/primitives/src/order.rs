//! Signed orders and cancels: EIP-712 messages under the chain's `Straddle` domain. The
//! order hash (the EIP-712 digest) identifies an order everywhere: in the book, in the
//! on-chain order registry, and in cancels.

use crate::action::Domain;
use alloy_primitives::{B256, U256, keccak256};
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
/// Most resting orders one bulk placement may cancel: a full ladder of
/// [`BULK_ORDERS_MAX`] quotes replaced under one signature. (A bulk cancel names up to
/// [`BULK_CANCEL_MAX`]; a placement's step also writes its orders' records, and 64
/// cancels with 32 orders took 3.9 M gas on L1 at a million leaves, over one step's
/// budget.)
pub const BULK_ORDERS_CANCELS_MAX: usize = 32;

impl BulkOrders {
    /// The EIP-712 digest under `domain`.
    pub fn signing_hash(&self, domain: &Domain) -> B256 {
        self.signing_hash_and_order_hashes(domain).0
    }

    /// The EIP-712 digest under `domain` and each order's own digest, hashing every
    /// order's struct once (the bulk digest commits to the orders' struct hashes).
    pub fn signing_hash_and_order_hashes(&self, domain: &Domain) -> (B256, Vec<B256>) {
        static TYPE_HASH: std::sync::LazyLock<B256> =
            std::sync::LazyLock::new(|| keccak256(BulkOrders::eip712_encode_type().as_bytes()));
        let order_structs: Vec<B256> = self.orders.iter().map(Order::struct_hash).collect();
        let mut encoded = Vec::with_capacity(5 * 32);
        encoded.extend_from_slice(TYPE_HASH.as_slice());
        encoded.extend_from_slice(keccak256(self.cancels.concat()).as_slice());
        encoded.extend_from_slice(keccak256(order_structs.concat()).as_slice());
        encoded.extend_from_slice(&U256::from(self.nonce).to_be_bytes::<32>());
        encoded.extend_from_slice(&U256::from(self.expiryMs).to_be_bytes::<32>());
        let digest = domain.digest(&keccak256(encoded));
        let orders = order_structs.iter().map(|s| domain.digest(s)).collect();
        (digest, orders)
    }
}

/// Most orders one bulk cancel may name.
pub const BULK_CANCEL_MAX: usize = 64;

impl BulkCancel {
    /// The EIP-712 digest under `domain`.
    pub fn signing_hash(&self, domain: &Domain) -> B256 {
        domain.digest(&self.eip712_hash_struct())
    }
}

impl Liquidate {
    /// The EIP-712 digest under `domain`.
    pub fn signing_hash(&self, domain: &Domain) -> B256 {
        domain.digest(&self.eip712_hash_struct())
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

    /// The wire value (the inverse of [`TimeInForce::from_u8`]).
    pub const fn wire(self) -> u8 {
        match self {
            TimeInForce::GoodTillCancelled => 0,
            TimeInForce::ImmediateOrCancel => 1,
            TimeInForce::FillOrKill => 2,
            TimeInForce::PostOnly => 3,
        }
    }
}

impl Order {
    /// The order hash: its EIP-712 digest under `domain`.
    pub fn hash(&self, domain: &Domain) -> B256 {
        domain.digest(&self.struct_hash())
    }

    /// `hashStruct(order)` of EIP-712, with the type hash computed once per process.
    pub fn struct_hash(&self) -> B256 {
        static TYPE_HASH: std::sync::LazyLock<B256> =
            std::sync::LazyLock::new(|| keccak256(Order::eip712_encode_type().as_bytes()));
        let mut encoded = Vec::with_capacity(10 * 32);
        encoded.extend_from_slice(TYPE_HASH.as_slice());
        encoded.extend_from_slice(&self.eip712_encode_data());
        keccak256(encoded)
    }
}

impl Cancel {
    /// The EIP-712 digest under `domain`.
    pub fn signing_hash(&self, domain: &Domain) -> B256 {
        domain.digest(&self.eip712_hash_struct())
    }
}

#[cfg(test)]
mod tests {
    use super::TimeInForce;

    #[test]
    fn time_in_force_wire_values_round_trip() {
        for value in 0..=u8::MAX {
            match TimeInForce::from_u8(value) {
                Some(tif) => assert_eq!(tif.wire(), value),
                None => assert!(value > 3, "0 to 3 are the defined values"),
            }
        }
    }
}
