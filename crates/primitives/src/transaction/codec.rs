//! The canonical binary encoding of a transaction (`docs/spec/transactions.md`): the
//! first byte is the kind, integers are big-endian, every length is bounded, and decoding
//! refuses trailing bytes.

use super::*;

fn write_signature(w: &mut Writer, signature: &Signature) {
    w.raw(&signature.as_bytes());
}

fn read_signature(r: &mut Reader<'_>) -> Result<Signature, DecodeError> {
    parse_signature(r.take(SIGNATURE_BYTES)?)
        .map_err(|_| DecodeError::Invalid("signature recovery byte"))
}

fn read_bool(r: &mut Reader<'_>) -> Result<bool, DecodeError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::Invalid("boolean byte")),
    }
}

fn write_order(w: &mut Writer, signed: &SignedOrder) {
    write_order_body(w, &signed.order);
    write_signature(w, &signed.signature);
}

/// The 47-byte order body (`transactions.md`).
pub fn write_order_body(w: &mut Writer, o: &Order) {
    w.u32(o.market)
        .u8(u8::from(o.isBuy))
        .u64(o.limitPrice)
        .u64(o.size)
        .u8(o.timeInForce)
        .u8(u8::from(o.reduceOnly))
        .u64(o.expiryMs)
        .u64(o.clientOrderId)
        .u64(o.nonce);
}

/// Inverse of [`write_order_body`].
pub fn read_order_body(r: &mut Reader<'_>) -> Result<Order, DecodeError> {
    Ok(Order {
        market: r.u32()?,
        isBuy: read_bool(r)?,
        limitPrice: r.u64()?,
        size: r.u64()?,
        timeInForce: r.u8()?,
        reduceOnly: read_bool(r)?,
        expiryMs: r.u64()?,
        clientOrderId: r.u64()?,
        nonce: r.u64()?,
    })
}

fn read_order(r: &mut Reader<'_>) -> Result<SignedOrder, DecodeError> {
    Ok(SignedOrder {
        order: read_order_body(r)?,
        signature: read_signature(r)?,
    })
}

fn write_report(w: &mut Writer, signed: &SignedPriceReport) {
    let report = &signed.report;
    w.u32(report.underlying)
        .u64(report.timestampMs)
        .u64(report.indexPrice)
        .u8(report.expiriesMs.len() as u8);
    for i in 0..report.expiriesMs.len() {
        w.u64(report.expiriesMs[i])
            .u32(report.atmVolsPpm[i])
            .u32(report.skewsPpm[i] as u32)
            .u32(report.curvaturesPpm[i]);
    }
    write_signature(w, &signed.signature);
}

fn read_report(r: &mut Reader<'_>) -> Result<SignedPriceReport, DecodeError> {
    let (underlying, timestamp_ms, index) = (r.u32()?, r.u64()?, r.u64()?);
    let count = r.u8()? as usize;
    if count > REPORT_EXPIRIES_MAX {
        return Err(DecodeError::Invalid("too many expiries in a report"));
    }
    let mut report = PriceReport {
        underlying,
        timestampMs: timestamp_ms,
        indexPrice: index,
        expiriesMs: Vec::with_capacity(count),
        atmVolsPpm: Vec::with_capacity(count),
        skewsPpm: Vec::with_capacity(count),
        curvaturesPpm: Vec::with_capacity(count),
    };
    for _ in 0..count {
        report.expiriesMs.push(r.u64()?);
        report.atmVolsPpm.push(r.u32()?);
        report.skewsPpm.push(r.u32()? as i32);
        report.curvaturesPpm.push(r.u32()?);
    }
    Ok(SignedPriceReport {
        report,
        signature: read_signature(r)?,
    })
}

impl Transaction {
    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Transaction::Action(signed) => signed.encode(),
            Transaction::OracleUpdate {
                underlying,
                reports,
            } => {
                let mut w = Writer::with_capacity(6 + reports.len() * 250);
                w.u8(KIND_ORACLE_UPDATE)
                    .u32(*underlying)
                    .u8(reports.len() as u8);
                for report in reports {
                    write_report(&mut w, report);
                }
                w.bytes
            }
            Transaction::Match { taker, makers } => {
                let mut w = Writer::with_capacity(114 + makers.len() * 120);
                w.u8(KIND_MATCH);
                write_order(&mut w, taker);
                w.u8(makers.len() as u8);
                for (maker, size) in makers {
                    write_order(&mut w, maker);
                    w.u64(*size);
                }
                w.bytes
            }
            Transaction::Liquidate(signed) => {
                let l = &signed.liquidate;
                let mut w = Writer::with_capacity(114);
                w.u8(KIND_LIQUIDATE)
                    .address(&l.target)
                    .u32(l.market)
                    .u64(l.size)
                    .u64(l.nonce)
                    .u64(l.expiryMs);
                write_signature(&mut w, &signed.signature);
                w.bytes
            }
            Transaction::PlaceOrders { bulk, signature } => {
                let mut w =
                    Writer::with_capacity(85 + 32 * bulk.cancels.len() + 47 * bulk.orders.len());
                w.u8(KIND_PLACE_ORDERS).u8(bulk.cancels.len() as u8);
                for hash in &bulk.cancels {
                    w.b256(hash);
                }
                w.u8(bulk.orders.len() as u8);
                for order in &bulk.orders {
                    write_order_body(&mut w, order);
                }
                w.u64(bulk.nonce).u64(bulk.expiryMs);
                write_signature(&mut w, signature);
                w.bytes
            }
            Transaction::MatchPlaced { taker, makers } => {
                let mut w = Writer::with_capacity(114 + makers.len() * 75);
                w.u8(KIND_MATCH_PLACED);
                write_order(&mut w, taker);
                w.u8(makers.len() as u8);
                for (order, owner, size) in makers {
                    write_order_body(&mut w, order);
                    w.address(owner).u64(*size);
                }
                w.bytes
            }
            Transaction::BulkCancel { cancel, signature } => {
                let mut w = Writer::with_capacity(84 + 32 * cancel.orderHashes.len());
                w.u8(KIND_BULK_CANCEL).u8(cancel.orderHashes.len() as u8);
                for hash in &cancel.orderHashes {
                    w.b256(hash);
                }
                w.u64(cancel.nonce).u64(cancel.expiryMs);
                write_signature(&mut w, signature);
                w.bytes
            }
            Transaction::AutoDeleverage(adl) => {
                let mut w = Writer::with_capacity(53);
                w.u8(KIND_AUTO_DELEVERAGE)
                    .address(&adl.target)
                    .u32(adl.market)
                    .address(&adl.counterparty)
                    .u64(adl.size);
                w.bytes
            }
            Transaction::RetireOrder(retire) => {
                let mut w = Writer::with_capacity(53);
                w.u8(KIND_RETIRE_ORDER)
                    .address(&retire.owner)
                    .b256(&retire.order_hash);
                w.bytes
            }
            Transaction::PlaceOrder(signed) => {
                let mut w = Writer::with_capacity(113);
                w.u8(KIND_PLACE_ORDER);
                write_order(&mut w, signed);
                w.bytes
            }
            Transaction::ListMarket { listing, signature } => {
                let l = listing;
                let mut w = Writer::with_capacity(131);
                w.u8(KIND_LIST_MARKET)
                    .u32(l.market)
                    .u32(l.underlying)
                    .u8(l.instrument)
                    .u64(l.strike)
                    .u64(l.optionExpiryMs)
                    .u64(l.tick)
                    .u64(l.lot)
                    .u32(l.makerFeePpm)
                    .u32(l.takerFeePpm)
                    .u64(l.nonce)
                    .u64(l.expiryMs);
                write_signature(&mut w, signature);
                w.bytes
            }
            Transaction::CloseMarket { close, signature } => {
                let mut w = Writer::with_capacity(86);
                w.u8(KIND_CLOSE_MARKET)
                    .u32(close.market)
                    .u64(close.nonce)
                    .u64(close.expiryMs);
                write_signature(&mut w, signature);
                w.bytes
            }
            Transaction::Undecodable => vec![KIND_UNDECODABLE],
            Transaction::Forced(forced) => {
                let mut w = Writer::with_capacity(33 + forced.bytes.len());
                w.u8(KIND_FORCED)
                    .u64(forced.index)
                    .address(&forced.sender)
                    .u32(forced.bytes.len() as u32)
                    .raw(&forced.bytes);
                w.bytes
            }
            Transaction::Deposit(d) => {
                let mut w = Writer::with_capacity(65);
                w.u8(KIND_DEPOSIT)
                    .u64(d.index)
                    .address(&d.from)
                    .address(&d.recipient)
                    .u128(d.amount);
                w.bytes
            }
            Transaction::Cancel(signed) => {
                let mut w = Writer::with_capacity(114);
                w.u8(KIND_CANCEL)
                    .b256(&signed.cancel.orderHash)
                    .u64(signed.cancel.nonce)
                    .u64(signed.cancel.expiryMs);
                write_signature(&mut w, &signed.signature);
                w.bytes
            }
        }
    }

    /// Inverse of [`Transaction::encode`]; refuses unknown kinds, bounds exceeded and
    /// trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Transaction, DecodeError> {
        if bytes.len() > TRANSACTION_BYTES_MAX {
            return Err(DecodeError::Invalid("transaction too large"));
        }
        let kind = *bytes.first().ok_or(DecodeError::Truncated { needed: 1 })?;
        if (1..=5).contains(&kind) {
            return SignedAction::decode(bytes).map(Transaction::Action);
        }
        let mut r = Reader::new(&bytes[1..]);
        let transaction = match kind {
            KIND_ORACLE_UPDATE => {
                let underlying = r.u32()?;
                let count = r.u8()? as usize;
                if count > REPORTS_PER_UPDATE_MAX {
                    return Err(DecodeError::Invalid("too many reports"));
                }
                let reports = (0..count)
                    .map(|_| read_report(&mut r))
                    .collect::<Result<Vec<_>, _>>()?;
                Transaction::OracleUpdate {
                    underlying,
                    reports,
                }
            }
            KIND_MATCH => {
                let taker = read_order(&mut r)?;
                let count = r.u8()? as usize;
                if count > MAKERS_PER_MATCH_MAX {
                    return Err(DecodeError::Invalid("too many makers"));
                }
                let makers = (0..count)
                    .map(|_| Ok((read_order(&mut r)?, r.u64()?)))
                    .collect::<Result<Vec<_>, DecodeError>>()?;
                Transaction::Match { taker, makers }
            }
            KIND_CANCEL => {
                let cancel = Cancel {
                    orderHash: r.b256()?,
                    nonce: r.u64()?,
                    expiryMs: r.u64()?,
                };
                Transaction::Cancel(SignedCancel {
                    cancel,
                    signature: read_signature(&mut r)?,
                })
            }
            KIND_LIQUIDATE => {
                let liquidate = Liquidate {
                    target: r.address()?,
                    market: r.u32()?,
                    size: r.u64()?,
                    nonce: r.u64()?,
                    expiryMs: r.u64()?,
                };
                Transaction::Liquidate(SignedLiquidate {
                    liquidate,
                    signature: read_signature(&mut r)?,
                })
            }
            KIND_PLACE_ORDERS => {
                let cancel_count = r.u8()? as usize;
                if cancel_count > BULK_ORDERS_CANCELS_MAX {
                    return Err(DecodeError::Invalid("too many cancels in a bulk placement"));
                }
                let cancels = (0..cancel_count)
                    .map(|_| r.b256())
                    .collect::<Result<Vec<_>, _>>()?;
                let count = r.u8()? as usize;
                if count > BULK_ORDERS_MAX {
                    return Err(DecodeError::Invalid("too many orders in a bulk placement"));
                }
                let orders = (0..count)
                    .map(|_| read_order_body(&mut r))
                    .collect::<Result<Vec<_>, _>>()?;
                let bulk = BulkOrders {
                    cancels,
                    orders,
                    nonce: r.u64()?,
                    expiryMs: r.u64()?,
                };
                Transaction::PlaceOrders {
                    bulk,
                    signature: read_signature(&mut r)?,
                }
            }
            KIND_MATCH_PLACED => {
                let taker = read_order(&mut r)?;
                let count = r.u8()? as usize;
                if count > MAKERS_PER_MATCH_MAX {
                    return Err(DecodeError::Invalid("too many makers"));
                }
                let makers = (0..count)
                    .map(|_| Ok((read_order_body(&mut r)?, r.address()?, r.u64()?)))
                    .collect::<Result<Vec<_>, DecodeError>>()?;
                Transaction::MatchPlaced { taker, makers }
            }
            KIND_BULK_CANCEL => {
                let count = r.u8()? as usize;
                if count > BULK_CANCEL_MAX {
                    return Err(DecodeError::Invalid("too many orders in a bulk cancel"));
                }
                let order_hashes = (0..count)
                    .map(|_| r.b256())
                    .collect::<Result<Vec<_>, _>>()?;
                let cancel = BulkCancel {
                    orderHashes: order_hashes,
                    nonce: r.u64()?,
                    expiryMs: r.u64()?,
                };
                Transaction::BulkCancel {
                    cancel,
                    signature: read_signature(&mut r)?,
                }
            }
            KIND_AUTO_DELEVERAGE => Transaction::AutoDeleverage(AutoDeleverage {
                target: r.address()?,
                market: r.u32()?,
                counterparty: r.address()?,
                size: r.u64()?,
            }),
            KIND_PLACE_ORDER => Transaction::PlaceOrder(read_order(&mut r)?),
            KIND_RETIRE_ORDER => Transaction::RetireOrder(RetireOrder {
                owner: r.address()?,
                order_hash: r.b256()?,
            }),
            KIND_FORCED => {
                let index = r.u64()?;
                let sender = r.address()?;
                let length = r.u32()? as usize;
                if length == 0 || length > FORCED_TRANSACTION_BYTES_MAX {
                    return Err(DecodeError::Invalid("forced transaction size out of range"));
                }
                Transaction::Forced(ForcedTransaction {
                    index,
                    sender,
                    bytes: r.take(length)?.to_vec(),
                })
            }
            KIND_UNDECODABLE => Transaction::Undecodable,
            KIND_DEPOSIT => Transaction::Deposit(Deposit {
                index: r.u64()?,
                from: r.address()?,
                recipient: r.address()?,
                amount: r.u128()?,
            }),
            KIND_LIST_MARKET => {
                let listing = ListMarket {
                    market: r.u32()?,
                    underlying: r.u32()?,
                    instrument: r.u8()?,
                    strike: r.u64()?,
                    optionExpiryMs: r.u64()?,
                    tick: r.u64()?,
                    lot: r.u64()?,
                    makerFeePpm: r.u32()?,
                    takerFeePpm: r.u32()?,
                    nonce: r.u64()?,
                    expiryMs: r.u64()?,
                };
                Transaction::ListMarket {
                    listing,
                    signature: read_signature(&mut r)?,
                }
            }
            KIND_CLOSE_MARKET => {
                let close = CloseMarket {
                    market: r.u32()?,
                    nonce: r.u64()?,
                    expiryMs: r.u64()?,
                };
                Transaction::CloseMarket {
                    close,
                    signature: read_signature(&mut r)?,
                }
            }
            other => return Err(DecodeError::UnknownTag(other)),
        };
        r.finish()?;
        Ok(transaction)
    }
}
