//! Replica-state snapshots: what a restarted replica would otherwise rebuild by reading every
//! batch header of its log.
//!
//! Kafka keeps three files for it: `leader-epoch-checkpoint` (each leader epoch and its start
//! offset), producer-state snapshots (`<offset>.snapshot`, taken at every segment roll and at
//! a clean shutdown, `ProducerStateManager.takeSnapshot`) and a `.txnindex` per segment. A
//! replica here keeps the same state in one snapshot per offset, taken by the same rules
//! ([`crate::replica::Replica`] takes one whenever its log rolls a segment, and a body takes
//! one for every partition at a clean shutdown): its leader epochs, its idempotent producers
//! (the last five batches of each, which Kafka's own format cannot hold) and its open and
//! ended transactions. At start the newest snapshot at or below the log end is loaded and only
//! the batches after its offset are read (Kafka's `loadProducerState` from the latest
//! snapshot); with none, or a damaged one, the whole log's headers are.
//!
//! The format (big-endian, like Kafka's files): `version: i16` (1), `crc: u32` (CRC-32C of
//! everything after it), `offset: i64` (the log end offset the state is at), then the leader
//! epochs, the producers and the transactions as counted arrays. A snapshot that does not
//! decode, or whose CRC does not match, is ignored.

use alloc::vec::Vec;

use crate::checksum::crc32c;
use crate::producer::ProducerStateTable;
use crate::txn::TxnIndex;

/// The snapshot format's version.
const VERSION: i16 = 1;

/// The state of one replica at a log offset, as a snapshot holds it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplicaState {
    /// The log end offset the state is at: batches from here on are not in it.
    pub offset: i64,
    /// Each leader epoch and its first offset, ascending (Kafka's `leader-epoch-checkpoint`).
    pub epoch_starts: Vec<(i32, i64)>,
    /// The idempotent producers (Kafka's producer-state snapshot).
    pub producers: ProducerStateTable,
    /// The open and ended transactions (Kafka's `.txnindex`).
    pub txns: TxnIndex,
}

impl ReplicaState {
    /// The snapshot file's bytes (see the module documentation for the layout).
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        put_i64(&mut body, self.offset);
        put_u32(&mut body, self.epoch_starts.len() as u32);
        for &(epoch, start) in &self.epoch_starts {
            put_i32(&mut body, epoch);
            put_i64(&mut body, start);
        }
        self.producers.encode(&mut body);
        self.txns.encode(&mut body);
        let mut out = Vec::with_capacity(body.len() + 6);
        out.extend_from_slice(&VERSION.to_be_bytes());
        put_u32(&mut out, crc32c(&body));
        out.extend_from_slice(&body);
        out
    }

    /// Reads a snapshot back; `None` when it is damaged, of another version, or not one.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader(bytes);
        if r.i16()? != VERSION {
            return None;
        }
        let crc = r.u32()?;
        if crc32c(r.0) != crc {
            return None;
        }
        let offset = r.i64()?;
        let epochs = r.count(12)?;
        let mut epoch_starts = Vec::with_capacity(epochs);
        for _ in 0..epochs {
            epoch_starts.push((r.i32()?, r.i64()?));
        }
        let producers = ProducerStateTable::decode(&mut r)?;
        let txns = TxnIndex::decode(&mut r)?;
        r.0.is_empty().then_some(Self {
            offset,
            epoch_starts,
            producers,
            txns,
        })
    }
}

/// Appends a big-endian `u32`.
pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `i32`.
pub(crate) fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `i64`.
pub(crate) fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Reads big-endian fields off the front of a snapshot; each returns `None` past its end.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[b]| b)
    }

    /// A big-endian `i16`.
    pub(crate) fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }

    /// A big-endian `u32`.
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }

    /// A big-endian `i32`.
    pub(crate) fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }

    /// A big-endian `i64`.
    pub(crate) fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }

    /// An array's count, refused when `entry_bytes`-sized entries could not fit in what is
    /// left (so a damaged count allocates nothing large).
    pub(crate) fn count(&mut self, entry_bytes: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.checked_mul(entry_bytes)? <= self.0.len()).then_some(n)
    }
}
