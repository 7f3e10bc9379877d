//! Zigzag variable-length integers, as Kafka's record format v2 writes them (the protobuf
//! encoding): `varint` for 32-bit values (at most 5 bytes) and `varlong` for 64-bit values (at
//! most 10 bytes). Decoding rejects over-long encodings and input that ends mid-number.

use alloc::vec::Vec;

/// Why a varint could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VarintError {
    /// The input ended before the last byte of the number.
    #[error("input ends inside a varint")]
    Truncated,
    /// More continuation bytes than the type allows.
    #[error("varint is longer than {max_bytes} bytes")]
    TooLong {
        /// The most bytes an encoding of this width may take.
        max_bytes: usize,
    },
}

/// Appends `value` as a zigzag varint (32-bit).
pub fn put_varint(out: &mut Vec<u8>, value: i32) {
    put_unsigned(out, u64::from(((value << 1) ^ (value >> 31)) as u32));
}

/// Appends `value` as a zigzag varlong (64-bit).
pub fn put_varlong(out: &mut Vec<u8>, value: i64) {
    put_unsigned(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// The number of bytes [`put_varint`] writes for `value`.
pub fn varint_len(value: i32) -> usize {
    unsigned_len(u64::from(((value << 1) ^ (value >> 31)) as u32))
}

/// The number of bytes [`put_varlong`] writes for `value`.
pub fn varlong_len(value: i64) -> usize {
    unsigned_len(((value << 1) ^ (value >> 63)) as u64)
}

/// Reads a zigzag varint from the front of `input`; returns it and the bytes it took.
#[inline(always)]
pub fn get_varint(input: &[u8]) -> Result<(i32, usize), VarintError> {
    let (raw, used) = get_unsigned(input, 5)?;
    if raw > u64::from(u32::MAX) {
        return Err(VarintError::TooLong { max_bytes: 5 });
    }
    let raw = raw as u32;
    Ok((((raw >> 1) as i32) ^ -((raw & 1) as i32), used))
}

/// Reads a zigzag varlong from the front of `input`; returns it and the bytes it took.
#[inline(always)]
pub fn get_varlong(input: &[u8]) -> Result<(i64, usize), VarintError> {
    let (raw, used) = get_unsigned(input, 10)?;
    Ok((((raw >> 1) as i64) ^ -((raw & 1) as i64), used))
}

fn put_unsigned(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn unsigned_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[inline(always)]
fn get_unsigned(input: &[u8], max_bytes: usize) -> Result<(u64, usize), VarintError> {
    // Most varints in a batch (lengths, deltas, counts) fit one or two bytes: those cases are
    // inlined into the per-record loops, the rest is a call.
    match *input {
        [b0, ..] if b0 & 0x80 == 0 => Ok((u64::from(b0), 1)),
        [b0, b1, ..] if b1 & 0x80 == 0 => Ok((u64::from(b0 & 0x7f) | (u64::from(b1) << 7), 2)),
        _ => get_unsigned_long(input, max_bytes),
    }
}

#[inline(never)]
fn get_unsigned_long(input: &[u8], max_bytes: usize) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    for (i, &byte) in input.iter().enumerate() {
        if i == max_bytes {
            return Err(VarintError::TooLong { max_bytes });
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    if input.len() >= max_bytes {
        Err(VarintError::TooLong { max_bytes })
    } else {
        Err(VarintError::Truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        // Zigzag: 0 → 0, -1 → 1, 1 → 2, -64 → 127, 64 → 128 (two bytes).
        let cases: [(i32, &[u8]); 5] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
        ];
        for (value, bytes) in cases {
            let mut out = vec![];
            put_varint(&mut out, value);
            assert_eq!(out, bytes, "encoding {value}");
            assert_eq!(get_varint(bytes), Ok((value, bytes.len())));
            assert_eq!(varint_len(value), bytes.len());
        }
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        assert_eq!(get_varint(&[0x80]), Err(VarintError::Truncated));
        assert_eq!(get_varint(&[]), Err(VarintError::Truncated));
        assert_eq!(
            get_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(VarintError::TooLong { max_bytes: 5 })
        );
        assert_eq!(
            get_varint(&[0xff, 0xff, 0xff, 0xff, 0x7f]),
            Err(VarintError::TooLong { max_bytes: 5 })
        );
        assert_eq!(
            get_varlong(&[0xff; 11]),
            Err(VarintError::TooLong { max_bytes: 10 })
        );
    }

    proptest! {
        #[test]
        fn varint_round_trips(value: i32) {
            let mut out = vec![];
            put_varint(&mut out, value);
            prop_assert_eq!(out.len(), varint_len(value));
            prop_assert_eq!(get_varint(&out), Ok((value, out.len())));
        }

        #[test]
        fn varlong_round_trips(value: i64) {
            let mut out = vec![];
            put_varlong(&mut out, value);
            prop_assert_eq!(out.len(), varlong_len(value));
            prop_assert_eq!(get_varlong(&out), Ok((value, out.len())));
        }
    }
}
