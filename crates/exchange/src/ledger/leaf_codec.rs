//! The ledger's own leaves in their stored form (`docs/spec/state.md`): accounts (free
//! collateral and the nonce window), withdrawal records and the supply totals.

use super::*;

/// `collateral (u128) ‖ count (u8) ‖ nonces (u64 each, ascending)`.
pub(super) fn encode_account(account: &Account) -> Vec<u8> {
    let mut w = Writer::with_capacity(17 + 8 * account.nonces.len());
    w.u128(account.collateral.0).u8(account.nonces.len() as u8);
    for nonce in &account.nonces {
        w.u64(*nonce);
    }
    w.bytes
}

/// Decodes an account leaf value.
pub fn decode_account(bytes: &[u8]) -> Result<Account, DecodeError> {
    let mut r = Reader::new(bytes);
    let collateral = Amount(r.u128()?);
    let count = r.u8()? as usize;
    if count > NONCE_WINDOW_LEN {
        return Err(DecodeError::Invalid(
            "nonce window longer than NONCE_WINDOW_LEN",
        ));
    }
    let nonces = (0..count).map(|_| r.u64()).collect::<Result<Vec<_>, _>>()?;
    r.finish()?;
    Ok(Account { collateral, nonces })
}

/// `account ‖ recipient ‖ amount (u128) ‖ block number (u64)`.
pub(super) fn encode_withdrawal(w: &Withdrawal) -> Vec<u8> {
    let mut out = Writer::with_capacity(64);
    out.address(&w.account)
        .address(&w.recipient)
        .u128(w.amount.0)
        .u64(w.block_number);
    out.bytes
}

pub(super) fn decode_withdrawal(bytes: &[u8]) -> Result<Withdrawal, DecodeError> {
    let mut r = Reader::new(bytes);
    let w = Withdrawal {
        account: r.address()?,
        recipient: r.address()?,
        amount: Amount(r.u128()?),
        block_number: r.u64()?,
    };
    r.finish()?;
    Ok(w)
}

/// `genesis supply ‖ minted ‖ withdrawn (u128 each) ‖ withdrawal count (u64) ‖
/// deposited (u128) ‖ deposit count (u64) ‖ deposit accumulator (32)`.
pub fn encode_totals(t: &Totals) -> Vec<u8> {
    let mut w = Writer::with_capacity(112);
    w.u128(t.genesis_supply.0)
        .u128(t.minted.0)
        .u128(t.withdrawn.0)
        .u64(t.withdrawal_count)
        .u128(t.deposited.0)
        .u64(t.deposit_count)
        .b256(&t.deposit_accumulator);
    w.bytes
}

pub(super) fn decode_totals(bytes: &[u8]) -> Result<Totals, DecodeError> {
    let mut r = Reader::new(bytes);
    let t = Totals {
        genesis_supply: Amount(r.u128()?),
        minted: Amount(r.u128()?),
        withdrawn: Amount(r.u128()?),
        withdrawal_count: r.u64()?,
        deposited: Amount(r.u128()?),
        deposit_count: r.u64()?,
        deposit_accumulator: r.b256()?,
    };
    r.finish()?;
    Ok(t)
}
