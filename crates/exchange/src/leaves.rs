//! Canonical byte encodings of the clearinghouse's state leaves: margin accounts, markets
//! (with their risk vectors), order records, oracle states and the clearinghouse totals.
//! Big-endian, fixed width; signed integers in two's complement of their width. These
//! bytes are what the state tree commits to (`valueHash = keccak256(bytes)`) and what the
//! L1 verifier will decode. Spec: `docs/spec/state.md`.

use crate::clearinghouse::market::{Instrument, Market, MarketSpec, MarketStatus};
use crate::clearinghouse::{Portfolio, Position};
use crate::oracle::{OracleState, SETTLEMENT_WINDOW_LEN, SMILES_MAX};
use crate::orders::{OrderRecord, Placement};
use crate::risk::margin::POSITIONS_PER_ACCOUNT_MAX;
use crate::risk::{OptionKind, RiskVector, SCENARIO_COUNT, VolSmile};
use straddle_primitives::codec::{DecodeError, Reader, Writer};

fn i128_field(w: &mut Writer, v: i128) {
    w.u128(v as u128);
}

fn read_i128(r: &mut Reader<'_>) -> Result<i128, DecodeError> {
    Ok(r.u128()? as i128)
}

fn read_i64(r: &mut Reader<'_>) -> Result<i64, DecodeError> {
    Ok(r.u64()? as i64)
}

/// `cash i128 ‖ count u8 ‖ (market u32 ‖ size i64 ‖ fundingSnapshot i128 ‖ cost i128) ×
/// count`.
pub fn encode_portfolio(p: &Portfolio) -> Vec<u8> {
    let mut w = Writer::with_capacity(17 + 44 * p.positions.len());
    i128_field(&mut w, p.cash);
    w.u8(p.positions.len() as u8);
    for position in &p.positions {
        w.u32(position.market).u64(position.size as u64);
        i128_field(&mut w, position.funding_snapshot);
        i128_field(&mut w, position.cost);
    }
    w.bytes
}

/// Inverse of [`encode_portfolio`]; refuses more than 32 positions, zero sizes and
/// unsorted markets.
pub fn decode_portfolio(bytes: &[u8]) -> Result<Portfolio, DecodeError> {
    let mut r = Reader::new(bytes);
    let cash = read_i128(&mut r)?;
    let count = r.u8()? as usize;
    if count > POSITIONS_PER_ACCOUNT_MAX {
        return Err(DecodeError::Invalid("more positions than allowed"));
    }
    let mut positions = Vec::with_capacity(count);
    for _ in 0..count {
        let position = Position {
            market: r.u32()?,
            size: read_i64(&mut r)?,
            funding_snapshot: read_i128(&mut r)?,
            cost: read_i128(&mut r)?,
        };
        if position.size == 0 {
            return Err(DecodeError::Invalid("zero-sized position"));
        }
        if positions
            .last()
            .is_some_and(|last: &Position| last.market >= position.market)
        {
            return Err(DecodeError::Invalid("positions not sorted by market"));
        }
        positions.push(position);
    }
    r.finish()?;
    Ok(Portfolio { cash, positions })
}

/// `filled u64 ‖ cancelled u8 ‖ placed u8 ‖ [seq u64 ‖ order body (47 bytes)]` (flags 0
/// or 1; the bracket only when placed; the key holds owner and hash).
pub fn encode_order_record(record: &OrderRecord) -> Vec<u8> {
    let mut w = Writer::with_capacity(65);
    w.u64(record.filled)
        .u8(u8::from(record.cancelled))
        .u8(u8::from(record.placed.is_some()));
    if let Some(placement) = &record.placed {
        w.u64(placement.seq);
        straddle_primitives::transaction::write_order_body(&mut w, &placement.order);
    }
    w.bytes
}

/// Inverse of [`encode_order_record`].
pub fn decode_order_record(bytes: &[u8]) -> Result<OrderRecord, DecodeError> {
    let mut r = Reader::new(bytes);
    let filled = r.u64()?;
    let cancelled = match r.u8()? {
        0 => false,
        1 => true,
        _ => return Err(DecodeError::Invalid("cancelled flag")),
    };
    let placed = match r.u8()? {
        0 => None,
        1 => Some(Placement {
            seq: r.u64()?,
            order: straddle_primitives::transaction::read_order_body(&mut r)?,
        }),
        _ => return Err(DecodeError::Invalid("placed flag")),
    };
    r.finish()?;
    Ok(OrderRecord {
        filled,
        cancelled,
        placed,
    })
}

/// Spec, then state:
/// `id u32 ‖ underlying u32 ‖ kind u8 (0 perp, 1 call, 2 put) ‖ strike u64 ‖ expiry u64 ‖
/// tick u64 ‖ lot u64 ‖ makerFeePpm u32 ‖ takerFeePpm u32 ‖ status u8 (0 active,
/// 1 settled) ‖ settlementValue u64 ‖ openInterest u64 ‖ fundingIndex i128 ‖ lastPrice u64
/// ‖ hasVector u8 ‖ [mark, delta, gamma, vega, theta, sigmaPpm, shortCharge i64 ‖
/// scenarioPnl i64 × 29]`. Perpetuals carry strike = expiry = 0.
pub fn encode_market(m: &Market) -> Vec<u8> {
    let mut w = Writer::with_capacity(330);
    let (kind, strike, expiry) = match m.spec.instrument {
        Instrument::Perpetual => (0u8, 0, 0),
        Instrument::Option {
            kind,
            strike_micro_usdc,
            expiry_ms,
        } => (
            match kind {
                OptionKind::Call => 1,
                OptionKind::Put => 2,
            },
            strike_micro_usdc,
            expiry_ms,
        ),
    };
    let (status, value) = match m.status {
        MarketStatus::Active => (0u8, 0),
        MarketStatus::Settled { value_micro_usdc } => (1, value_micro_usdc),
    };
    w.u32(m.spec.id)
        .u32(m.spec.underlying)
        .u8(kind)
        .u64(strike)
        .u64(expiry)
        .u64(m.spec.tick_micro_usdc)
        .u64(m.spec.lot)
        .u32(m.spec.maker_fee_ppm)
        .u32(m.spec.taker_fee_ppm)
        .u8(status)
        .u64(value)
        .u64(m.open_interest);
    i128_field(&mut w, m.funding_index);
    w.u64(m.last_price_micro_usdc);
    match &m.vector {
        None => {
            w.u8(0);
        }
        Some(v) => {
            w.u8(1);
            for field in [
                v.mark_nano,
                v.delta_nano,
                v.gamma_nano,
                v.vega_nano,
                v.theta_nano,
                v.sigma_ppm,
                v.short_charge_nano,
            ] {
                w.u64(field as u64);
            }
            for pnl in v.scenario_pnl_nano {
                w.u64(pnl as u64);
            }
        }
    }
    w.bytes
}

/// Inverse of [`encode_market`].
pub fn decode_market(bytes: &[u8]) -> Result<Market, DecodeError> {
    let mut r = Reader::new(bytes);
    let (id, underlying, kind, strike, expiry) = (r.u32()?, r.u32()?, r.u8()?, r.u64()?, r.u64()?);
    let instrument = match kind {
        0 => Instrument::Perpetual,
        1 | 2 => Instrument::Option {
            kind: if kind == 1 {
                OptionKind::Call
            } else {
                OptionKind::Put
            },
            strike_micro_usdc: strike,
            expiry_ms: expiry,
        },
        other => return Err(DecodeError::UnknownTag(other)),
    };
    let spec = MarketSpec {
        id,
        underlying,
        instrument,
        tick_micro_usdc: r.u64()?,
        lot: r.u64()?,
        maker_fee_ppm: r.u32()?,
        taker_fee_ppm: r.u32()?,
    };
    let status = match (r.u8()?, r.u64()?) {
        (0, _) => MarketStatus::Active,
        (1, value_micro_usdc) => MarketStatus::Settled { value_micro_usdc },
        (other, _) => return Err(DecodeError::UnknownTag(other)),
    };
    let open_interest = r.u64()?;
    let funding_index = read_i128(&mut r)?;
    let last_price_micro_usdc = r.u64()?;
    let vector = match r.u8()? {
        0 => None,
        1 => {
            let mut head = [0i64; 7];
            for field in &mut head {
                *field = read_i64(&mut r)?;
            }
            let mut scenario_pnl_nano = [0i64; SCENARIO_COUNT];
            for pnl in &mut scenario_pnl_nano {
                *pnl = read_i64(&mut r)?;
            }
            Some(RiskVector {
                mark_nano: head[0],
                delta_nano: head[1],
                gamma_nano: head[2],
                vega_nano: head[3],
                theta_nano: head[4],
                sigma_ppm: head[5],
                short_charge_nano: head[6],
                scenario_pnl_nano,
            })
        }
        other => return Err(DecodeError::UnknownTag(other)),
    };
    r.finish()?;
    Ok(Market {
        spec,
        status,
        open_interest,
        vector,
        funding_index,
        last_price_micro_usdc,
    })
}

/// `index u64 ‖ timestamp u64 ‖ smileCount u8 ‖ (expiry u64 ‖ atmVolPpm u32 ‖ skewPpm i32
/// ‖ curvaturePpm u32) × smileCount (ascending expiry) ‖ recentCount u8 ‖ (timestamp u64 ‖
/// index u64) × recentCount (oldest first) ‖ activeCount u32 ‖ marketId u32 × activeCount`
/// (the underlying's active markets, ascending: a listing is checked against their number
/// on L1 without reading every market, and an oracle update's proof walks them one by
/// one).
pub fn encode_oracle_state(s: &OracleState, active_markets: &[u32]) -> Vec<u8> {
    let mut w = Writer::with_capacity(
        22 + 20 * s.smiles.len() + 16 * s.recent.len() + 4 * active_markets.len(),
    );
    w.u64(s.index_micro_usdc)
        .u64(s.timestamp_ms)
        .u8(s.smiles.len() as u8);
    for (expiry, smile) in &s.smiles {
        w.u64(*expiry)
            .u32(smile.atm_vol_ppm)
            .u32(smile.skew_ppm as u32)
            .u32(smile.curvature_ppm);
    }
    w.u8(s.recent.len() as u8);
    for (timestamp, index) in &s.recent {
        w.u64(*timestamp).u64(*index);
    }
    w.u32(active_markets.len() as u32);
    for id in active_markets {
        w.u32(*id);
    }
    w.bytes
}

/// Inverse of [`encode_oracle_state`]: the oracle state and the active markets' ids.
pub fn decode_oracle_state(bytes: &[u8]) -> Result<(OracleState, Vec<u32>), DecodeError> {
    let mut r = Reader::new(bytes);
    let mut state = OracleState {
        index_micro_usdc: r.u64()?,
        timestamp_ms: r.u64()?,
        ..OracleState::default()
    };
    let smiles = r.u8()? as usize;
    if smiles > SMILES_MAX {
        return Err(DecodeError::Invalid("too many smiles"));
    }
    for _ in 0..smiles {
        let expiry = r.u64()?;
        let smile = VolSmile {
            atm_vol_ppm: r.u32()?,
            skew_ppm: r.u32()? as i32,
            curvature_ppm: r.u32()?,
        };
        if state
            .smiles
            .last_key_value()
            .is_some_and(|(last, _)| *last >= expiry)
        {
            return Err(DecodeError::Invalid("smiles not sorted by expiry"));
        }
        state.smiles.insert(expiry, smile);
    }
    let recent = r.u8()? as usize;
    if recent > SETTLEMENT_WINDOW_LEN {
        return Err(DecodeError::Invalid("settlement window too long"));
    }
    for _ in 0..recent {
        state.recent.push((r.u64()?, r.u64()?));
    }
    let count = r.u32()? as usize;
    if count > crate::genesis::MARKETS_PER_UNDERLYING_MAX {
        return Err(DecodeError::Invalid("too many active markets"));
    }
    let mut active_markets = Vec::with_capacity(count);
    for _ in 0..count {
        let id = r.u32()?;
        if active_markets.last().is_some_and(|last| *last >= id) {
            return Err(DecodeError::Invalid("active markets not ascending"));
        }
        active_markets.push(id);
    }
    r.finish()?;
    Ok((state, active_markets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn position() -> impl Strategy<Value = (i64, i128, i128)> {
        (
            any::<i64>().prop_filter("non-zero", |s| *s != 0),
            any::<i128>(),
            any::<i128>(),
        )
    }

    proptest! {
        #[test]
        fn portfolios_round_trip(cash in any::<i128>(), positions in prop::collection::btree_map(any::<u32>(), position(), 0..=32)) {
            let portfolio = Portfolio {
                cash,
                positions: positions.into_iter().map(|(market, (size, funding_snapshot, cost))| Position { market, size, funding_snapshot, cost }).collect(),
            };
            let bytes = encode_portfolio(&portfolio);
            prop_assert_eq!(bytes.len(), 17 + 44 * portfolio.positions.len());
            prop_assert_eq!(decode_portfolio(&bytes).unwrap(), portfolio);
            prop_assert!(decode_portfolio(&bytes[..bytes.len() - 1]).is_err());
        }

        #[test]
        fn markets_round_trip(
            id in any::<u32>(), kind in 0u8..3, strike in any::<u64>(), expiry in any::<u64>(),
            settled in prop::option::of(any::<u64>()), oi in any::<u64>(), funding in any::<i128>(),
            last in any::<u64>(), vector in prop::option::of(prop::collection::vec(any::<i64>(), 36)),
        ) {
            let instrument = match kind {
                0 => Instrument::Perpetual,
                k => Instrument::Option { kind: if k == 1 { OptionKind::Call } else { OptionKind::Put }, strike_micro_usdc: strike, expiry_ms: expiry },
            };
            let market = Market {
                spec: MarketSpec { id, underlying: 7, instrument, tick_micro_usdc: 100, lot: 1_000, maker_fee_ppm: 1, taker_fee_ppm: 2 },
                status: settled.map_or(MarketStatus::Active, |value_micro_usdc| MarketStatus::Settled { value_micro_usdc }),
                open_interest: oi,
                vector: vector.map(|v| RiskVector {
                    mark_nano: v[0], delta_nano: v[1], gamma_nano: v[2], vega_nano: v[3], theta_nano: v[4], sigma_ppm: v[5], short_charge_nano: v[6],
                    scenario_pnl_nano: v[7..].try_into().unwrap(),
                }),
                funding_index: funding,
                last_price_micro_usdc: last,
            };
            prop_assert_eq!(decode_market(&encode_market(&market)).unwrap(), market);
        }

        #[test]
        fn oracle_states_and_order_records_round_trip(
            index in any::<u64>(), timestamp in any::<u64>(),
            smiles in prop::collection::btree_map(any::<u64>(), (any::<u32>(), any::<i32>(), any::<u32>()), 0..=16),
            recent in prop::collection::vec((any::<u64>(), any::<u64>()), 0..=8),
            filled in any::<u64>(), cancelled in any::<bool>(),
        ) {
            let state = OracleState {
                index_micro_usdc: index,
                timestamp_ms: timestamp,
                smiles: smiles.into_iter().map(|(e, (a, s, c))| (e, VolSmile { atm_vol_ppm: a, skew_ppm: s, curvature_ppm: c })).collect(),
                recent,
            };
            let active: Vec<u32> = (0..(index % 40) as u32).map(|i| 3 * i + 1).collect();
            prop_assert_eq!(decode_oracle_state(&encode_oracle_state(&state, &active)).unwrap(), (state, active));
            let placed = (!cancelled).then_some(Placement {
                seq: timestamp,
                order: straddle_primitives::Order {
                    market: 7,
                    isBuy: index % 2 == 0,
                    limitPrice: index,
                    size: filled,
                    timeInForce: 3,
                    reduceOnly: true,
                    expiryMs: timestamp,
                    clientOrderId: index ^ filled,
                    nonce: filled,
                },
            });
            let record = OrderRecord { filled, cancelled, placed };
            prop_assert_eq!(decode_order_record(&encode_order_record(&record)).unwrap(), record);
        }
    }

    #[test]
    fn malformed_leaves_are_refused() {
        let mut unsorted = encode_portfolio(&Portfolio {
            cash: 0,
            positions: vec![
                Position {
                    market: 2,
                    size: 1,
                    funding_snapshot: 0,
                    cost: 0,
                },
                Position {
                    market: 1,
                    size: 1,
                    funding_snapshot: 0,
                    cost: 0,
                },
            ],
        });
        assert_eq!(
            decode_portfolio(&unsorted),
            Err(DecodeError::Invalid("positions not sorted by market"))
        );
        unsorted[16] = 33;
        assert_eq!(
            decode_portfolio(&unsorted),
            Err(DecodeError::Invalid("more positions than allowed"))
        );
        let mut record = encode_order_record(&OrderRecord::default());
        record[8] = 2;
        assert_eq!(
            decode_order_record(&record),
            Err(DecodeError::Invalid("cancelled flag"))
        );
    }
}
