//! The transaction section: each transaction's compact form (`docs/spec/batches.md` §3).

use crate::varint::{read_delta, read_small, read_varint, write_delta, write_varint};
use crate::{BatchError, L1Records};
use alloy_primitives::{Address, B256, Signature, U256};
use std::collections::HashMap;
use straddle_primitives::codec::Writer;
use straddle_primitives::order::{BulkCancel, BulkOrders, Cancel};
use straddle_primitives::transaction::write_order_body;
use straddle_primitives::transaction::{
    KIND_BULK_CANCEL, KIND_CANCEL, KIND_DEPOSIT, KIND_MATCH, KIND_MATCH_PLACED, KIND_PLACE_ORDER,
    KIND_PLACE_ORDERS, KIND_RETIRE_ORDER, TRANSACTION_BYTES_MAX,
};
use straddle_primitives::{
    Action, DepositMargin, Domain, Mint, Order, RetireOrder, SignedAction, SignedCancel,
    SignedOrder, Transaction, Transfer, Withdraw, WithdrawMargin,
};

/// Kind byte of a transaction carried as its canonical bytes.
pub const KIND_CANONICAL: u8 = 0xFF;
/// Order item tags: a body alone, a body with its signature; larger tags refer back.
const ORDER_BODY: u128 = 0;
const ORDER_SIGNED: u128 = 1;
const ORDER_REFERENCE_BASE: u128 = 2;
/// Hash item tag of a literal 32-byte hash; larger tags name an order's literal.
const HASH_LITERAL: u128 = 0;

/// Writes transactions, remembering addresses and where each order literal is.
pub struct SectionWriter<'a> {
    pub bytes: Vec<u8>,
    pub addresses: Vec<Address>,
    address_index: HashMap<Address, usize>,
    /// Canonical body ‖ signature of each signed order literal → its offset.
    orders: HashMap<Vec<u8>, usize>,
    /// Canonical body of each order literal → the first literal's offset.
    bodies: HashMap<Vec<u8>, usize>,
    hashes: HashMap<B256, usize>,
    domain: &'a Domain,
    /// The batch's base time: every expiry is a delta from it.
    base_ms: u64,
}

impl<'a> SectionWriter<'a> {
    pub fn new(domain: &'a Domain, base_ms: u64) -> SectionWriter<'a> {
        SectionWriter {
            bytes: Vec::new(),
            addresses: Vec::new(),
            address_index: HashMap::new(),
            orders: HashMap::new(),
            bodies: HashMap::new(),
            hashes: HashMap::new(),
            domain,
            base_ms,
        }
    }

    pub fn transaction(&mut self, tx: &Transaction) {
        let base_ms = self.base_ms;
        if !compactable(tx) {
            let canonical = tx.encode();
            self.bytes.push(KIND_CANONICAL);
            write_varint(&mut self.bytes, canonical.len() as u128);
            self.bytes.extend_from_slice(&canonical);
            return;
        }
        match tx {
            Transaction::Action(signed) => {
                self.bytes.push(signed.action.kind() as u8);
                let (to, amount, nonce, expiry) = action_fields(&signed.action);
                if let Some(to) = to {
                    self.address(to);
                }
                write_varint(&mut self.bytes, amount);
                write_varint(&mut self.bytes, u128::from(nonce));
                write_delta(&mut self.bytes, expiry, base_ms);
                self.signature(&signed.signature);
            }
            Transaction::Match { taker, makers } => {
                self.bytes.push(KIND_MATCH);
                self.order(&taker.order, Some(&taker.signature), base_ms);
                self.bytes.push(makers.len() as u8);
                for (maker, size) in makers {
                    self.order(&maker.order, Some(&maker.signature), base_ms);
                    write_varint(&mut self.bytes, u128::from(*size));
                }
            }
            Transaction::MatchPlaced { taker, makers } => {
                self.bytes.push(KIND_MATCH_PLACED);
                self.order(&taker.order, Some(&taker.signature), base_ms);
                self.bytes.push(makers.len() as u8);
                for (order, owner, size) in makers {
                    self.order(order, None, base_ms);
                    self.address(*owner);
                    write_varint(&mut self.bytes, u128::from(*size));
                }
            }
            Transaction::PlaceOrder(signed) => {
                self.bytes.push(KIND_PLACE_ORDER);
                self.order(&signed.order, Some(&signed.signature), base_ms);
            }
            Transaction::PlaceOrders { bulk, signature } => {
                self.bytes.push(KIND_PLACE_ORDERS);
                self.bytes.push(bulk.cancels.len() as u8);
                for hash in &bulk.cancels {
                    self.hash(hash);
                }
                self.bytes.push(bulk.orders.len() as u8);
                for order in &bulk.orders {
                    self.order(order, None, base_ms);
                }
                write_varint(&mut self.bytes, u128::from(bulk.nonce));
                write_delta(&mut self.bytes, bulk.expiryMs, base_ms);
                self.signature(signature);
            }
            Transaction::Cancel(signed) => {
                self.bytes.push(KIND_CANCEL);
                self.hash(&signed.cancel.orderHash);
                write_varint(&mut self.bytes, u128::from(signed.cancel.nonce));
                write_delta(&mut self.bytes, signed.cancel.expiryMs, base_ms);
                self.signature(&signed.signature);
            }
            Transaction::BulkCancel { cancel, signature } => {
                self.bytes.push(KIND_BULK_CANCEL);
                self.bytes.push(cancel.orderHashes.len() as u8);
                for hash in &cancel.orderHashes {
                    self.hash(hash);
                }
                write_varint(&mut self.bytes, u128::from(cancel.nonce));
                write_delta(&mut self.bytes, cancel.expiryMs, base_ms);
                self.signature(signature);
            }
            Transaction::RetireOrder(retire) => {
                self.bytes.push(KIND_RETIRE_ORDER);
                self.address(retire.owner);
                self.hash(&retire.order_hash);
            }
            Transaction::Deposit(deposit) => {
                self.bytes.push(KIND_DEPOSIT);
                write_varint(&mut self.bytes, u128::from(deposit.index));
            }
            _ => unreachable!("compactable() admits only the kinds above"),
        }
    }

    fn address(&mut self, address: Address) {
        let next = self.addresses.len();
        let index = *self.address_index.entry(address).or_insert(next);
        if index == next {
            self.addresses.push(address);
        }
        write_varint(&mut self.bytes, index as u128);
    }

    fn signature(&mut self, signature: &Signature) {
        self.bytes.extend_from_slice(&compact_signature(signature));
    }

    /// An order item: a reference to an earlier literal if one fits, else a literal.
    fn order(&mut self, order: &Order, signature: Option<&Signature>, base_ms: u64) {
        let mut body = Writer::with_capacity(47);
        write_order_body(&mut body, order);
        let body = body.bytes;
        let signed_key = signature.map(|s| [body.as_slice(), &s.as_bytes()].concat());
        let earlier = match &signed_key {
            Some(key) => self.orders.get(key),
            None => self.bodies.get(&body),
        };
        if let Some(offset) = earlier {
            write_varint(&mut self.bytes, ORDER_REFERENCE_BASE + *offset as u128);
            return;
        }
        let offset = self.bytes.len();
        write_varint(
            &mut self.bytes,
            if signature.is_some() {
                ORDER_SIGNED
            } else {
                ORDER_BODY
            },
        );
        write_varint(&mut self.bytes, u128::from(order.market));
        self.bytes.push(
            u8::from(order.isBuy) | (u8::from(order.reduceOnly) << 1) | (order.timeInForce << 2),
        );
        write_varint(&mut self.bytes, u128::from(order.limitPrice));
        write_varint(&mut self.bytes, u128::from(order.size));
        write_delta(&mut self.bytes, order.expiryMs, base_ms);
        write_varint(&mut self.bytes, u128::from(order.clientOrderId));
        write_varint(&mut self.bytes, u128::from(order.nonce));
        if let (Some(signature), Some(key)) = (signature, signed_key) {
            self.signature(signature);
            self.orders.insert(key, offset);
        }
        self.bodies.entry(body).or_insert(offset);
        self.hashes.entry(order.hash(self.domain)).or_insert(offset);
    }

    /// A hash item: the order literal it is the hash of, or the 32 bytes.
    fn hash(&mut self, hash: &B256) {
        match self.hashes.get(hash) {
            Some(offset) => write_varint(&mut self.bytes, 1 + *offset as u128),
            None => {
                write_varint(&mut self.bytes, HASH_LITERAL);
                self.bytes.extend_from_slice(hash.as_slice());
            }
        }
    }
}

/// `(recipient, amount, nonce, expiry)` of an action.
fn action_fields(action: &Action) -> (Option<Address>, u128, u64, u64) {
    match action {
        Action::Transfer(a) => (Some(a.to), a.amount, a.nonce, a.expiryMs),
        Action::Withdraw(a) => (Some(a.recipient), a.amount, a.nonce, a.expiryMs),
        Action::Mint(a) => (Some(a.to), a.amount, a.nonce, a.expiryMs),
        Action::DepositMargin(a) => (None, a.amount, a.nonce, a.expiryMs),
        Action::WithdrawMargin(a) => (None, a.amount, a.nonce, a.expiryMs),
    }
}

/// r ‖ s with the y parity in the top bit of s (EIP-2098); `None` if s uses that bit.
fn try_compact_signature(signature: &Signature) -> Option<[u8; 64]> {
    let s = signature.s();
    if s.bit(255) {
        return None;
    }
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&signature.r().to_be_bytes::<32>());
    let folded = if signature.v() {
        s | (U256::from(1u8) << 255usize)
    } else {
        s
    };
    out[32..].copy_from_slice(&folded.to_be_bytes::<32>());
    Some(out)
}

fn compact_signature(signature: &Signature) -> [u8; 64] {
    try_compact_signature(signature).unwrap_or([0; 64])
}

fn order_compactable(order: &Order, signature: Option<&Signature>) -> bool {
    order.timeInForce < 64 && signature.is_none_or(|s| try_compact_signature(s).is_some())
}

/// Whether `tx` has a compact form here (every signature fits 64 bytes, every time in
/// force fits its 6 bits); the rest is carried canonically.
fn compactable(tx: &Transaction) -> bool {
    let fits = |s: &Signature| try_compact_signature(s).is_some();
    match tx {
        Transaction::Action(signed) => fits(&signed.signature),
        Transaction::Match { taker, makers } => {
            order_compactable(&taker.order, Some(&taker.signature))
                && makers
                    .iter()
                    .all(|(m, _)| order_compactable(&m.order, Some(&m.signature)))
        }
        Transaction::MatchPlaced { taker, makers } => {
            order_compactable(&taker.order, Some(&taker.signature))
                && makers.iter().all(|(o, _, _)| order_compactable(o, None))
        }
        Transaction::PlaceOrder(signed) => {
            order_compactable(&signed.order, Some(&signed.signature))
        }
        Transaction::PlaceOrders { bulk, signature } => {
            fits(signature) && bulk.orders.iter().all(|o| order_compactable(o, None))
        }
        Transaction::Cancel(signed) => fits(&signed.signature),
        Transaction::BulkCancel { signature, .. } => fits(signature),
        Transaction::RetireOrder(_) | Transaction::Deposit(_) => true,
        _ => false,
    }
}

/// Reads transactions of one batch's section, each alone: a reference to an order
/// literal is followed to the bytes it names (`docs/spec/batches.md` §2), so one slot
/// decodes the same whether or not the rest of the batch does.
pub struct SectionReader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Reads of the item's own bytes stop here (its slot's end); a literal followed by
    /// reference may run to the section's end.
    limit: usize,
    addresses: &'a [Address],
    domain: &'a Domain,
    records: L1Records<'a>,
    /// The batch's base time: every expiry is a delta from it.
    base_ms: u64,
    /// Address-table indices read, and every section range read (the item's own bytes
    /// and the literals it follows), up to the end or the first fault: what an on-chain
    /// decoding of this item reads.
    addresses_read: Vec<usize>,
    touched: Vec<std::ops::Range<usize>>,
}

impl<'a> SectionReader<'a> {
    pub fn new(
        bytes: &'a [u8],
        addresses: &'a [Address],
        domain: &'a Domain,
        records: L1Records<'a>,
        base_ms: u64,
    ) -> SectionReader<'a> {
        SectionReader {
            bytes,
            at: 0,
            limit: bytes.len(),
            addresses,
            domain,
            records,
            base_ms,
            addresses_read: Vec::new(),
            touched: Vec::new(),
        }
    }

    /// The address-table indices and the section ranges read since the last
    /// [`SectionReader::item`].
    pub fn references(&self) -> (&[usize], &[std::ops::Range<usize>]) {
        (&self.addresses_read, &self.touched)
    }

    /// Reads with `read` from the current position, no further than the limit, and
    /// records the bytes it went through (also when it fails).
    fn read<T>(
        &mut self,
        read: impl FnOnce(&[u8], &mut usize) -> Result<T, BatchError>,
    ) -> Result<T, BatchError> {
        let start = self.at;
        let bounded = &self.bytes[..self.limit.min(self.bytes.len())];
        let result = read(bounded, &mut self.at);
        if self.at > start {
            match self.touched.last_mut() {
                Some(last) if last.end == start => last.end = self.at,
                _ => self.touched.push(start..self.at),
            }
        }
        result
    }

    fn byte(&mut self) -> Result<u8, BatchError> {
        self.read(|bytes, at| {
            let byte = *bytes.get(*at).ok_or(BatchError::Truncated)?;
            *at += 1;
            Ok(byte)
        })
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], BatchError> {
        let start = self.at;
        if start.checked_add(len).is_none_or(|end| end > self.limit) {
            return Err(BatchError::Truncated);
        }
        self.read(|_, at| {
            *at += len;
            Ok(())
        })?;
        Ok(&self.bytes[start..start + len])
    }

    fn tag(&mut self) -> Result<u128, BatchError> {
        self.read(read_varint)
    }

    fn varint<T: TryFrom<u128>>(&mut self) -> Result<T, BatchError> {
        self.read(read_small)
    }

    fn expiry(&mut self) -> Result<u64, BatchError> {
        let base = self.base_ms;
        self.read(|bytes, at| read_delta(bytes, at, base))
    }

    fn count(&mut self) -> Result<usize, BatchError> {
        Ok(usize::from(self.byte()?))
    }

    fn address(&mut self) -> Result<Address, BatchError> {
        let index: usize = self.varint()?;
        let address = self
            .addresses
            .get(index)
            .copied()
            .ok_or(BatchError::Invalid("address index out of the table"))?;
        self.addresses_read.push(index);
        Ok(address)
    }

    fn signature(&mut self) -> Result<Signature, BatchError> {
        let bytes = self.take(64)?;
        let r = U256::from_be_slice(&bytes[..32]);
        let folded = U256::from_be_slice(&bytes[32..]);
        let parity = folded.bit(255);
        let s = folded & !(U256::from(1u8) << 255usize);
        Ok(Signature::new(r, s, parity))
    }

    /// An order item; `signed`: the signature is required.
    fn order(&mut self, signed: bool) -> Result<(Order, Option<Signature>), BatchError> {
        let start = self.at;
        let tag = self.tag()?;
        let (order, signature) = if tag >= ORDER_REFERENCE_BASE {
            let offset = usize::try_from(tag - ORDER_REFERENCE_BASE)
                .ok()
                .filter(|offset| *offset < start)
                .ok_or(BatchError::Invalid("order reference points forward"))?;
            self.literal_at(offset)?
        } else {
            let market = self.varint()?;
            let flags = self.byte()?;
            let mut order = Order {
                market,
                isBuy: flags & 1 == 1,
                reduceOnly: flags & 2 == 2,
                timeInForce: flags >> 2,
                limitPrice: self.varint()?,
                size: self.varint()?,
                expiryMs: self.expiry()?,
                clientOrderId: 0,
                nonce: 0,
            };
            order.clientOrderId = self.varint()?;
            order.nonce = self.varint()?;
            let signature = if tag == ORDER_SIGNED {
                Some(self.signature()?)
            } else {
                None
            };
            (order, signature)
        };
        if signed && signature.is_none() {
            return Err(BatchError::Invalid("order needs its signature"));
        }
        Ok((order, signature))
    }

    /// The order literal at `offset`, which a reference names (it must be a literal;
    /// it may run to the section's end), the position and limit restored.
    fn literal_at(&mut self, offset: usize) -> Result<(Order, Option<Signature>), BatchError> {
        let (resume, limit) = (self.at, self.limit);
        self.at = offset;
        self.limit = self.bytes.len();
        let literal = self.tag().and_then(|tag| {
            if tag >= ORDER_REFERENCE_BASE {
                return Err(BatchError::Invalid("order reference to no literal"));
            }
            self.at = offset;
            self.order(false)
        });
        (self.at, self.limit) = (resume, limit);
        literal
    }

    fn signed_order(&mut self) -> Result<SignedOrder, BatchError> {
        let (order, signature) = self.order(true)?;
        Ok(SignedOrder {
            order,
            signature: signature.ok_or(BatchError::Invalid("order needs its signature"))?,
        })
    }

    fn hash(&mut self) -> Result<B256, BatchError> {
        let start = self.at;
        let tag = self.tag()?;
        if tag == HASH_LITERAL {
            return Ok(B256::from_slice(self.take(32)?));
        }
        let offset = usize::try_from(tag - 1)
            .ok()
            .filter(|offset| *offset < start)
            .ok_or(BatchError::Invalid("hash reference points forward"))?;
        let (order, _) = self.literal_at(offset)?;
        Ok(order.hash(self.domain))
    }

    /// The transaction in the slot `start..end` of the section (`docs/spec/batches.md`
    /// §5): its item must decode alone, reading nothing of its own past `end`, and end
    /// exactly there; otherwise the slot holds [`Transaction::Undecodable`], and the
    /// error says why. [`SectionReader::references`] then gives what was read.
    pub fn item(&mut self, start: usize, end: usize) -> (Transaction, Option<BatchError>) {
        self.addresses_read.clear();
        self.touched.clear();
        if start >= end || end > self.bytes.len() {
            return (
                Transaction::Undecodable,
                Some(BatchError::Invalid("transaction index")),
            );
        }
        self.at = start;
        self.limit = end;
        let decoded = self.transaction().and_then(|tx| {
            if self.at == end {
                Ok(tx)
            } else {
                Err(BatchError::Invalid("transaction length mismatch"))
            }
        });
        self.limit = self.bytes.len();
        match decoded {
            Ok(tx) => (tx, None),
            Err(error) => (Transaction::Undecodable, Some(error)),
        }
    }

    /// One transaction at the current position. A compact item whose lists are longer
    /// than the canonical form allows (its counts go to 255) has no canonical bytes, and
    /// does not decode.
    fn transaction(&mut self) -> Result<Transaction, BatchError> {
        let (tx, carried) = self.transaction_item()?;
        // Carried bytes are checked canonical where they are read.
        if !carried {
            Transaction::decode(&tx.encode()).map_err(BatchError::Transaction)?;
        }
        Ok(tx)
    }

    /// The item at the position, and whether it was carried as canonical bytes.
    fn transaction_item(&mut self) -> Result<(Transaction, bool), BatchError> {
        let kind = self.byte()?;
        let tx = match kind {
            KIND_CANONICAL => {
                let len: usize = self.varint()?;
                if len > TRANSACTION_BYTES_MAX {
                    return Err(BatchError::Invalid("canonical bytes too long"));
                }
                let canonical = self.take(len)?;
                let tx = Transaction::decode(canonical).map_err(BatchError::Transaction)?;
                if compactable(&tx) {
                    return Err(BatchError::Invalid("canonical form of a compactable kind"));
                }
                if tx.encode() != canonical {
                    return Err(BatchError::Invalid("bytes not in canonical form"));
                }
                if let Transaction::Forced(forced) = &tx
                    && (self.records.forced)(forced.index).as_ref() != Some(forced)
                {
                    return Err(BatchError::UnknownForced(forced.index));
                }
                tx
            }
            1..=5 => {
                let to = if kind <= 3 {
                    Some(self.address()?)
                } else {
                    None
                };
                let amount: u128 = self.varint()?;
                let nonce: u64 = self.varint()?;
                let expiry_ms = self.expiry()?;
                let action = match (kind, to) {
                    (1, Some(to)) => Action::Transfer(Transfer {
                        to,
                        amount,
                        nonce,
                        expiryMs: expiry_ms,
                    }),
                    (2, Some(recipient)) => Action::Withdraw(Withdraw {
                        recipient,
                        amount,
                        nonce,
                        expiryMs: expiry_ms,
                    }),
                    (3, Some(to)) => Action::Mint(Mint {
                        to,
                        amount,
                        nonce,
                        expiryMs: expiry_ms,
                    }),
                    (4, _) => Action::DepositMargin(DepositMargin {
                        amount,
                        nonce,
                        expiryMs: expiry_ms,
                    }),
                    _ => Action::WithdrawMargin(WithdrawMargin {
                        amount,
                        nonce,
                        expiryMs: expiry_ms,
                    }),
                };
                Transaction::Action(SignedAction {
                    action,
                    signature: self.signature()?,
                })
            }
            KIND_MATCH => {
                let taker = self.signed_order()?;
                let n = self.count()?;
                let mut makers = Vec::with_capacity(n);
                for _ in 0..n {
                    let maker = self.signed_order()?;
                    makers.push((maker, self.varint()?));
                }
                Transaction::Match { taker, makers }
            }
            KIND_MATCH_PLACED => {
                let taker = self.signed_order()?;
                let n = self.count()?;
                let mut makers = Vec::with_capacity(n);
                for _ in 0..n {
                    let (order, _) = self.order(false)?;
                    let owner = self.address()?;
                    makers.push((order, owner, self.varint()?));
                }
                Transaction::MatchPlaced { taker, makers }
            }
            KIND_PLACE_ORDER => Transaction::PlaceOrder(self.signed_order()?),
            KIND_PLACE_ORDERS => {
                let c = self.count()?;
                let cancels = (0..c).map(|_| self.hash()).collect::<Result<Vec<_>, _>>()?;
                let n = self.count()?;
                let orders = (0..n)
                    .map(|_| self.order(false).map(|(order, _)| order))
                    .collect::<Result<Vec<_>, _>>()?;
                let bulk = BulkOrders {
                    cancels,
                    orders,
                    nonce: self.varint()?,
                    expiryMs: self.expiry()?,
                };
                Transaction::PlaceOrders {
                    bulk,
                    signature: self.signature()?,
                }
            }
            KIND_CANCEL => {
                let cancel = Cancel {
                    orderHash: self.hash()?,
                    nonce: self.varint()?,
                    expiryMs: self.expiry()?,
                };
                Transaction::Cancel(SignedCancel {
                    cancel,
                    signature: self.signature()?,
                })
            }
            KIND_BULK_CANCEL => {
                let n = self.count()?;
                let order_hashes = (0..n).map(|_| self.hash()).collect::<Result<Vec<_>, _>>()?;
                let cancel = BulkCancel {
                    orderHashes: order_hashes,
                    nonce: self.varint()?,
                    expiryMs: self.expiry()?,
                };
                Transaction::BulkCancel {
                    cancel,
                    signature: self.signature()?,
                }
            }
            KIND_RETIRE_ORDER => Transaction::RetireOrder(RetireOrder {
                owner: self.address()?,
                order_hash: self.hash()?,
            }),
            KIND_DEPOSIT => {
                let index: u64 = self.varint()?;
                Transaction::Deposit(
                    (self.records.deposit)(index).ok_or(BatchError::UnknownDeposit(index))?,
                )
            }
            other => return Err(BatchError::UnknownKind(other)),
        };
        Ok((tx, kind == KIND_CANONICAL))
    }
}
