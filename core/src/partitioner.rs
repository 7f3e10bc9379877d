//! Choosing a partition for a record, exactly as the clients people use would.
//!
//! - [`Partitioner::Murmur2`]: the Java client's default. A keyed record goes to
//!   `toPositive(murmur2(key)) % partitions`; a record without a key sticks to one partition
//!   until the producer starts a new batch, then moves to another (KIP-480, sticky).
//! - [`Partitioner::ConsistentRandom`]: librdkafka's default `consistent_random` (kcat,
//!   confluent-kafka). A keyed record goes to `crc32(key) % partitions`; a record with a null
//!   or empty key goes to a random partition.
//! - [`Partitioner::RoundRobin`]: every record to the next partition in turn, key or not.
//!
//! Randomness comes from a seeded [`Rng`], so a simulated producer is replayable.

use crate::checksum::crc32;
use crate::rng::Rng;

/// The Java client's murmur2 hash (`org.apache.kafka.common.utils.Utils.murmur2`).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h: u32 = SEED ^ (length as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The Java client's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows).
pub fn to_positive(value: i32) -> i32 {
    value & 0x7fff_ffff
}

/// The partition the Java client's default partitioner picks for a keyed record.
pub fn murmur2_partition(key: &[u8], partition_count: u32) -> u32 {
    assert!(partition_count > 0, "a topic has at least one partition");
    to_positive(murmur2(key)) as u32 % partition_count
}

/// The partition librdkafka's `consistent` / `consistent_random` partitioner picks for a key.
pub fn crc32_partition(key: &[u8], partition_count: u32) -> u32 {
    assert!(partition_count > 0, "a topic has at least one partition");
    crc32(key) % partition_count
}

/// Which client's partitioning to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartitionerKind {
    /// Java client default: murmur2 for keys, sticky for null keys.
    Murmur2,
    /// librdkafka default: CRC-32 for keys, random for null keys.
    ConsistentRandom,
    /// Every record to the next partition.
    RoundRobin,
}

/// A producer's partitioner with its state (sticky partition, round-robin cursor, random
/// generator). One per producer and topic.
#[derive(Clone, Debug)]
pub struct Partitioner {
    kind: PartitionerKind,
    rng: Rng,
    sticky: Option<u32>,
    next: u32,
}

impl Partitioner {
    /// A partitioner of `kind` whose random choices follow `seed`.
    pub fn new(kind: PartitionerKind, seed: u64) -> Self {
        Self {
            kind,
            rng: Rng::new(seed),
            sticky: None,
            next: 0,
        }
    }

    /// Which client this imitates.
    pub fn kind(&self) -> PartitionerKind {
        self.kind
    }

    /// The partition for a record with `key` in a topic of `partition_count` partitions.
    pub fn partition(&mut self, key: Option<&[u8]>, partition_count: u32) -> u32 {
        assert!(partition_count > 0, "a topic has at least one partition");
        match (self.kind, key) {
            (PartitionerKind::Murmur2, Some(key)) => murmur2_partition(key, partition_count),
            (PartitionerKind::ConsistentRandom, Some(key)) if !key.is_empty() => {
                crc32_partition(key, partition_count)
            }
            (PartitionerKind::Murmur2, None) => match self.sticky {
                Some(p) if p < partition_count => p,
                _ => {
                    let p = self.rng.below(u64::from(partition_count)) as u32;
                    self.sticky = Some(p);
                    p
                }
            },
            (PartitionerKind::ConsistentRandom, _) => {
                self.rng.below(u64::from(partition_count)) as u32
            }
            (PartitionerKind::RoundRobin, _) => {
                let p = self.next % partition_count;
                self.next = self.next.wrapping_add(1);
                p
            }
        }
    }

    /// Tells a sticky partitioner its batch is complete: the next null-key record moves to a
    /// different partition (when there is more than one).
    pub fn on_new_batch(&mut self, partition_count: u32) {
        if let Some(current) = self.sticky
            && partition_count > 1
        {
            let step = 1 + self.rng.below(u64::from(partition_count - 1)) as u32;
            self.sticky = Some((current + step) % partition_count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// (key, murmur2, Java partition of 6, zlib CRC-32, librdkafka partition of 6). murmur2
    /// values from Kafka's own `UtilsTest.testMurmur2` and kafka-python's
    /// `kafka.partitioner.default.murmur2`; CRC-32 from Python's `zlib.crc32`.
    const VECTORS: [(&[u8], i32, u32, u32, u32); 10] = [
        (b"", 275_646_681, 3, 0, 0),
        (b"a", -1_563_381_124, 4, 3_904_355_907, 3),
        (b"21", -973_932_308, 0, 4_252_452_532, 4),
        (b"foobar", -790_332_482, 0, 2_666_930_069, 5),
        (b"abc", 479_470_107, 3, 891_568_578, 0),
        (
            b"a-little-bit-long-string",
            -985_981_536,
            2,
            4_000_435_554,
            0,
        ),
        (
            b"a-little-bit-longer-string",
            -1_486_304_829,
            5,
            2_277_486_890,
            2,
        ),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
            5,
            3_769_350_433,
            1,
        ),
        (b"user-42", 1_459_644_460, 4, 2_097_592_435, 1),
        (b"\xff\xfe\x00\x80", 1_904_227_184, 2, 2_913_141_783, 3),
    ];

    #[test]
    fn keys_land_where_their_client_puts_them() {
        let mut java = Partitioner::new(PartitionerKind::Murmur2, 1);
        let mut rdkafka = Partitioner::new(PartitionerKind::ConsistentRandom, 1);
        for (key, hash, java_partition, crc, rdkafka_partition) in VECTORS {
            assert_eq!(murmur2(key), hash, "murmur2 of {key:?}");
            assert_eq!(crc32(key), crc, "crc32 of {key:?}");
            assert_eq!(java.partition(Some(key), 6), java_partition);
            assert_eq!(crc32_partition(key, 6), rdkafka_partition);
            if !key.is_empty() {
                assert_eq!(rdkafka.partition(Some(key), 6), rdkafka_partition);
            }
        }
    }

    #[test]
    fn null_keys_stick_until_a_new_batch_then_move() {
        let mut p = Partitioner::new(PartitionerKind::Murmur2, 7);
        let first = p.partition(None, 4);
        assert!((0..10).all(|_| p.partition(None, 4) == first));
        p.on_new_batch(4);
        let second = p.partition(None, 4);
        assert_ne!(first, second);
        assert!(second < 4);
    }

    #[test]
    fn round_robin_cycles_and_random_is_seeded() {
        let mut rr = Partitioner::new(PartitionerKind::RoundRobin, 0);
        let got: Vec<u32> = (0..7).map(|_| rr.partition(Some(b"k"), 3)).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
        let draw = |seed| {
            let mut p = Partitioner::new(PartitionerKind::ConsistentRandom, seed);
            (0..32).map(|_| p.partition(None, 8)).collect::<Vec<_>>()
        };
        assert_eq!(draw(5), draw(5));
        assert!(draw(5).iter().all(|&p| p < 8));
        assert_ne!(draw(5), draw(6));
    }
}
