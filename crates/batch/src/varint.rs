//! LEB128 unsigned varints and zigzag signed deltas: the packed integers of the batch
//! format. Decoding refuses over-long and non-minimal encodings, so every value has one
//! encoding and re-encoding a decoded batch gives the same bytes.

use crate::BatchError;

/// Appends `value` as an unsigned LEB128 varint (7 bits per byte, low bits first).
pub fn write_varint(out: &mut Vec<u8>, mut value: u128) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads an unsigned LEB128 varint at `*at`, advancing it.
pub fn read_varint(bytes: &[u8], at: &mut usize) -> Result<u128, BatchError> {
    let mut value: u128 = 0;
    for shift in (0..).step_by(7).take(19) {
        let byte = *bytes.get(*at).ok_or(BatchError::Truncated)?;
        *at += 1;
        let bits = u128::from(byte & 0x7f);
        if shift == 126 && bits > 0b11 {
            return Err(BatchError::Invalid("varint above 128 bits"));
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            if byte == 0 && shift > 0 {
                return Err(BatchError::Invalid("non-minimal varint"));
            }
            return Ok(value);
        }
    }
    Err(BatchError::Invalid("varint longer than 19 bytes"))
}

/// `value − base` as a zigzag varint (small either side of `base`).
pub fn write_delta(out: &mut Vec<u8>, value: u64, base: u64) {
    let delta = i128::from(value) - i128::from(base);
    write_varint(out, ((delta << 1) ^ (delta >> 127)) as u128);
}

/// Inverse of [`write_delta`].
pub fn read_delta(bytes: &[u8], at: &mut usize, base: u64) -> Result<u64, BatchError> {
    let zigzag = read_varint(bytes, at)?;
    let delta = (zigzag >> 1) as i128 ^ -((zigzag & 1) as i128);
    u64::try_from(i128::from(base) + delta).map_err(|_| BatchError::Invalid("delta out of range"))
}

/// Reads a varint that must fit `T`.
pub fn read_small<T: TryFrom<u128>>(bytes: &[u8], at: &mut usize) -> Result<T, BatchError> {
    T::try_from(read_varint(bytes, at)?).map_err(|_| BatchError::Invalid("varint too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_and_deltas_round_trip(value in any::<u128>(), a in any::<u64>(), b in any::<u64>()) {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            write_delta(&mut out, a, b);
            let mut at = 0;
            prop_assert_eq!(read_varint(&out, &mut at).unwrap(), value);
            prop_assert_eq!(read_delta(&out, &mut at, b).unwrap(), a);
            prop_assert_eq!(at, out.len());
        }
    }

    #[test]
    fn non_minimal_and_overlong_varints_are_refused() {
        assert!(read_varint(&[0x80, 0x00], &mut 0).is_err());
        assert!(read_varint(&[0xff; 20], &mut 0).is_err());
        assert!(read_varint(&[0x80], &mut 0).is_err());
        let mut max = Vec::new();
        write_varint(&mut max, u128::MAX);
        assert_eq!(read_varint(&max, &mut 0).unwrap(), u128::MAX);
    }
}
