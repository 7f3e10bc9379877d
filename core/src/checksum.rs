//! The two CRCs Kafka uses: CRC-32C (Castagnoli) guards every record batch; CRC-32 (IEEE, as
//! zlib computes it) is what librdkafka's `consistent_random` partitioner hashes keys with.
//!
//! Both are table-driven (slice-by-16) software implementations from the `crc` crate, so they
//! run identically on every target, the browser included. With the `std` feature, CRC-32C
//! uses the `crc32c` crate instead, which picks the CPU's CRC instruction at run time (about
//! ten times faster; the same function, as a test checks).

use crc::{CRC_32_ISCSI, CRC_32_ISO_HDLC, Crc, Table};

const CASTAGNOLI: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);
const IEEE: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);

/// CRC-32C of `bytes`, as stored in a record batch header.
pub fn crc32c(bytes: &[u8]) -> u32 {
    #[cfg(feature = "std")]
    {
        ::crc32c::crc32c(bytes)
    }
    #[cfg(not(feature = "std"))]
    {
        crc32c_portable(bytes)
    }
}

/// CRC-32C from the portable tables, whatever the features (what `no_std` builds use).
pub fn crc32c_portable(bytes: &[u8]) -> u32 {
    CASTAGNOLI.checksum(bytes)
}

/// CRC-32 (IEEE 802.3, zlib's `crc32`) of `bytes`, as librdkafka hashes keys.
pub fn crc32(bytes: &[u8]) -> u32 {
    IEEE.checksum(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values_from_the_crc_catalogue() {
        // The "check" value of each algorithm: the CRC of the ASCII digits 1..9.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32c_portable(b"123456789"), 0xe306_9283);
    }

    proptest::proptest! {
        #[test]
        fn accelerated_and_portable_crc32c_agree(bytes: alloc::vec::Vec<u8>, skip in 0usize..8) {
            // Unaligned starts too: hardware paths treat the head and tail specially.
            let bytes = &bytes[skip.min(bytes.len())..];
            proptest::prop_assert_eq!(crc32c(bytes), crc32c_portable(bytes));
        }
    }
}
