//! Kafka's record batch v2 (magic 2), byte for byte as Kafka writes it.
//!
//! A batch is a 61-byte header followed by its records, which may be compressed as one block:
//!
//! ```text
//! offset  size  field                 covered by CRC
//!      0     8  baseOffset            no   (the broker assigns it)
//!      8     4  batchLength           no   (bytes after this field)
//!     12     4  partitionLeaderEpoch  no   (the broker assigns it)
//!     16     1  magic (= 2)           no
//!     17     4  crc (CRC-32C)         no
//!     21     2  attributes            yes  (compression, timestamp type, txn, control, horizon)
//!     23     4  lastOffsetDelta       yes
//!     27     8  baseTimestamp         yes
//!     35     8  maxTimestamp          yes
//!     43     8  producerId            yes
//!     51     2  producerEpoch         yes
//!     53     4  baseSequence          yes
//!     57     4  records count         yes
//!     61     …  records               yes
//! ```
//!
//! Each record is `length varint, attributes i8, timestampDelta varlong, offsetDelta varint,
//! keyLength varint, key, valueLength varint, value, headerCount varint, headers` (a length of
//! -1 is null). The two fields the broker fills in on append, base offset and leader epoch, sit
//! outside the CRC, so [`assign_offsets`] sets them without re-encoding anything.
//!
//! Core handles uncompressed batches itself; compressed ones go through the [`Codec`] trait,
//! which the node implements for gzip, snappy, lz4 and zstd.

use alloc::string::String;
use alloc::vec::Vec;

use crate::checksum::crc32c;
use crate::error_code;
use crate::varint::{VarintError, get_varint, get_varlong, put_varint, put_varlong};

/// The only record format version core reads and writes.
pub const MAGIC: i8 = 2;
/// Bytes in a batch header, up to the first record.
pub const HEADER_LEN: usize = 61;
/// Bytes before the region `batchLength` counts: baseOffset and batchLength themselves.
pub const LOG_OVERHEAD: usize = 12;

const BASE_OFFSET_AT: usize = 0;
const BATCH_LENGTH_AT: usize = 8;
const LEADER_EPOCH_AT: usize = 12;
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const LAST_OFFSET_DELTA_AT: usize = 23;
const BASE_TIMESTAMP_AT: usize = 27;
const MAX_TIMESTAMP_AT: usize = 35;
const PRODUCER_ID_AT: usize = 43;
const PRODUCER_EPOCH_AT: usize = 51;
const BASE_SEQUENCE_AT: usize = 53;
const RECORD_COUNT_AT: usize = 57;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;
const DELETE_HORIZON_BIT: i16 = 0x40;

/// The compression codec named in a batch's attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Records stored as they are.
    None,
    /// gzip (deflate with gzip framing).
    Gzip,
    /// snappy with Kafka's xerial framing.
    Snappy,
    /// LZ4 frame format.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// The codec for attribute bits 0–2.
    pub fn from_id(id: u8) -> Result<Self, BatchError> {
        match id {
            0 => Ok(Self::None),
            1 => Ok(Self::Gzip),
            2 => Ok(Self::Snappy),
            3 => Ok(Self::Lz4),
            4 => Ok(Self::Zstd),
            other => Err(BatchError::UnknownCompression(other)),
        }
    }

    /// The value of attribute bits 0–2 for this codec.
    pub fn id(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }
}

/// Why a compression codec failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// This codec is not available in this body (core alone only has `none`).
    #[error("compression {0:?} is not supported here")]
    Unsupported(Compression),
    /// The compressed bytes could not be decoded.
    #[error("{compression:?} data is corrupt: {reason}")]
    Corrupt {
        /// Which codec failed.
        compression: Compression,
        /// The codec's own words.
        reason: String,
    },
}

/// Compression for record batches: core calls it, bodies implement it.
///
/// `compress` and `decompress` append to `out`. Only the records section (after the 61-byte
/// header) is ever compressed, as one block.
pub trait Codec {
    /// Compresses `input` with `compression`, appending to `out`.
    fn compress(
        &self,
        compression: Compression,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError>;
    /// Decompresses `input` written with `compression`, appending to `out`.
    fn decompress(
        &self,
        compression: Compression,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError>;
}

/// The codec core ships: `none` only; every other codec is [`CodecError::Unsupported`].
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCodec;

impl Codec for NoCodec {
    fn compress(&self, c: Compression, input: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        match c {
            Compression::None => {
                out.extend_from_slice(input);
                Ok(())
            }
            other => Err(CodecError::Unsupported(other)),
        }
    }

    fn decompress(
        &self,
        c: Compression,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        self.compress(c, input, out)
    }
}

/// Why bytes are not a valid record batch. Nothing is changed when one of these is returned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The input ends before the batch does.
    #[error("batch truncated: needs {needed} bytes, {available} available")]
    Truncated {
        /// Bytes the batch claims (or the header needs).
        needed: usize,
        /// Bytes actually there.
        available: usize,
    },
    /// `batchLength` is smaller than a header or larger than the caller allows.
    #[error("invalid batch length {0}")]
    InvalidLength(i64),
    /// The magic byte is not 2.
    #[error("unsupported record format magic {0}")]
    UnsupportedMagic(i8),
    /// The stored CRC-32C does not match the bytes.
    #[error("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CorruptCrc {
        /// The CRC in the header.
        stored: u32,
        /// The CRC of attributes..end.
        computed: u32,
    },
    /// Attribute bits 0–2 name no codec.
    #[error("unknown compression codec id {0}")]
    UnknownCompression(u8),
    /// A record inside the batch is malformed.
    #[error("invalid record: {0}")]
    InvalidRecord(&'static str),
    /// The header's record count or offset delta disagrees with the records.
    #[error("batch header disagrees with its records: {0}")]
    InconsistentHeader(&'static str),
    /// The codec could not (de)compress the records.
    #[error(transparent)]
    Codec(#[from] CodecError),
}

impl BatchError {
    /// The Kafka error code a broker answers this with.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            Self::Truncated { .. } | Self::InvalidLength(_) | Self::CorruptCrc { .. } => {
                error_code::CORRUPT_MESSAGE
            }
            Self::UnsupportedMagic(_) => error_code::UNSUPPORTED_FOR_MESSAGE_FORMAT,
            Self::UnknownCompression(_) | Self::Codec(CodecError::Unsupported(_)) => {
                error_code::UNSUPPORTED_COMPRESSION_TYPE
            }
            Self::InvalidRecord(_) | Self::InconsistentHeader(_) => error_code::INVALID_RECORD,
            Self::Codec(_) => error_code::CORRUPT_MESSAGE,
        }
    }
}

impl From<VarintError> for BatchError {
    fn from(_: VarintError) -> Self {
        Self::InvalidRecord("malformed varint")
    }
}

/// The decoded 61-byte header of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record (assigned by the broker).
    pub base_offset: i64,
    /// Bytes after the `batchLength` field.
    pub batch_length: i32,
    /// Leader epoch of the leader that appended the batch (assigned by the broker).
    pub partition_leader_epoch: i32,
    /// Record format version; always 2 here.
    pub magic: i8,
    /// CRC-32C of attributes..end.
    pub crc: u32,
    /// Compression, timestamp type, transactional, control and delete-horizon bits.
    pub attributes: i16,
    /// Offset of the last record minus `base_offset` (kept even when compaction drops records).
    pub last_offset_delta: i32,
    /// Timestamp the record deltas are relative to (the delete horizon when that bit is set).
    pub base_timestamp: i64,
    /// Largest record timestamp in the batch.
    pub max_timestamp: i64,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Idempotent producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the first record for idempotence, or -1.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub record_count: i32,
}

impl BatchHeader {
    /// Decodes the header at the front of `bytes` without checking CRC or magic.
    pub fn decode(bytes: &[u8]) -> Result<Self, BatchError> {
        if bytes.len() < HEADER_LEN {
            return Err(BatchError::Truncated {
                needed: HEADER_LEN,
                available: bytes.len(),
            });
        }
        Ok(Self {
            base_offset: read_i64(bytes, BASE_OFFSET_AT),
            batch_length: read_i32(bytes, BATCH_LENGTH_AT),
            partition_leader_epoch: read_i32(bytes, LEADER_EPOCH_AT),
            magic: bytes[MAGIC_AT] as i8,
            crc: read_i32(bytes, CRC_AT) as u32,
            attributes: read_i16(bytes, ATTRIBUTES_AT),
            last_offset_delta: read_i32(bytes, LAST_OFFSET_DELTA_AT),
            base_timestamp: read_i64(bytes, BASE_TIMESTAMP_AT),
            max_timestamp: read_i64(bytes, MAX_TIMESTAMP_AT),
            producer_id: read_i64(bytes, PRODUCER_ID_AT),
            producer_epoch: read_i16(bytes, PRODUCER_EPOCH_AT),
            base_sequence: read_i32(bytes, BASE_SEQUENCE_AT),
            record_count: read_i32(bytes, RECORD_COUNT_AT),
        })
    }

    /// Total bytes of the batch, header included.
    pub fn size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }

    /// Offset of the last record (by `last_offset_delta`).
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// The offset after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// The compression codec of the records section.
    pub fn compression(&self) -> Result<Compression, BatchError> {
        Compression::from_id((self.attributes & COMPRESSION_MASK) as u8)
    }

    /// Whether timestamps are the broker's append time rather than the producer's create time.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Whether the batch holds a control record (transaction marker).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// The delete horizon compaction set (KIP-534): tombstones may go once `now` passes it.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        (self.attributes & DELETE_HORIZON_BIT != 0).then_some(self.base_timestamp)
    }
}

/// The headers of the batches in `bytes`, in order, without checking CRCs (a cheap look at
/// flags and offsets); stops at the first one that is cut short or malformed.
pub fn headers(bytes: &[u8]) -> impl Iterator<Item = BatchHeader> + '_ {
    let mut rest = bytes;
    core::iter::from_fn(move || {
        let header = BatchHeader::decode(rest).ok()?;
        let size = header.size();
        if header.batch_length < 0 || size > rest.len() {
            return None;
        }
        rest = &rest[size..];
        Some(header)
    })
}

/// Kafka's `ProduceRequest.validateRecords` (Produce v3+; runnel up-converts v0–v2 message
/// sets to one batch first): a partition's records in a produce request are exactly one record
/// batch, of magic 2. Errors: either rule broken, INVALID_RECORD (as `InvalidRecordException`
/// is answered in `KafkaApis.handleProduceRequest`). Bytes that do not frame a batch are left
/// to the batch checks (CORRUPT_MESSAGE).
pub fn check_produce_records(records: &[u8]) -> Result<(), BatchError> {
    let Ok(first) = BatchHeader::decode(records) else {
        return Ok(());
    };
    if first.magic != MAGIC {
        return Err(BatchError::InvalidRecord(
            "produce requests may only carry record batches with magic 2",
        ));
    }
    let rest = records.get(first.size().max(1)..).unwrap_or_default();
    if BatchHeader::decode(rest).is_ok() {
        return Err(BatchError::InvalidRecord(
            "produce requests carry exactly one record batch per partition",
        ));
    }
    Ok(())
}

/// A validated batch: magic 2, length within bounds, CRC correct. Borrowed from the input.
#[derive(Clone, Copy, Debug)]
pub struct BatchRef<'a> {
    header: BatchHeader,
    bytes: &'a [u8],
}

impl<'a> BatchRef<'a> {
    /// Parses and validates the batch at the front of `bytes` (which may hold more after it).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BatchError> {
        let header = BatchHeader::decode(bytes)?;
        let length = i64::from(header.batch_length);
        if length < (HEADER_LEN - LOG_OVERHEAD) as i64 {
            return Err(BatchError::InvalidLength(length));
        }
        if header.magic != MAGIC {
            return Err(BatchError::UnsupportedMagic(header.magic));
        }
        let size = header.size();
        if bytes.len() < size {
            return Err(BatchError::Truncated {
                needed: size,
                available: bytes.len(),
            });
        }
        let bytes = &bytes[..size];
        let computed = crc32c(&bytes[ATTRIBUTES_AT..]);
        if computed != header.crc {
            return Err(BatchError::CorruptCrc {
                stored: header.crc,
                computed,
            });
        }
        if header.last_offset_delta < 0 || header.record_count < 0 {
            return Err(BatchError::InconsistentHeader(
                "negative count or offset delta",
            ));
        }
        header.compression()?;
        Ok(Self { header, bytes })
    }

    /// The decoded header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The whole batch, header included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The records section as stored (compressed or not).
    pub fn records_section(&self) -> &'a [u8] {
        &self.bytes[HEADER_LEN..]
    }

    /// Iterates the records, decompressing into `scratch` first if the batch is compressed.
    pub fn records<'b>(
        &self,
        codec: &dyn Codec,
        scratch: &'b mut Vec<u8>,
    ) -> Result<Records<'b>, BatchError>
    where
        'a: 'b,
    {
        let compression = self.header.compression()?;
        let data: &'b [u8] = if compression == Compression::None {
            self.records_section()
        } else {
            scratch.clear();
            codec.decompress(compression, self.records_section(), scratch)?;
            scratch.as_slice()
        };
        Ok(Records {
            data,
            remaining: self.header.record_count as usize,
            base_offset: self.header.base_offset,
            base_timestamp: self.header.base_timestamp,
            log_append_time: self
                .header
                .is_log_append_time()
                .then_some(self.header.max_timestamp),
            failed: false,
        })
    }

    /// Decodes every record and checks them against the header: the count matches, offset
    /// deltas rise strictly and stay within `lastOffsetDelta`, no bytes are left over.
    /// This is what a broker runs on produce before it accepts a batch.
    ///
    /// `visit` sees each record with its index in the batch (0-based), in order, as it is
    /// decoded: the caller's per-record rules ride on this one pass (Kafka's
    /// `LogValidator.validateRecord` runs inside the same loop over the batch), so a
    /// compressed batch is decompressed once. A record after a framing error is not visited.
    pub fn validate_records(
        &self,
        codec: &dyn Codec,
        mut visit: impl FnMut(u32, &Record<'_>),
    ) -> Result<(), BatchError> {
        let mut scratch = Vec::new();
        let mut previous_delta: Option<i64> = None;
        let mut count = 0usize;
        for record in self.records(codec, &mut scratch)? {
            let record = record?;
            visit(u32::try_from(count).unwrap_or(u32::MAX), &record);
            let delta = record.offset - self.header.base_offset;
            if previous_delta.is_some_and(|p| delta <= p) {
                return Err(BatchError::InconsistentHeader("offset deltas do not rise"));
            }
            if delta > i64::from(self.header.last_offset_delta) {
                return Err(BatchError::InconsistentHeader(
                    "record offset beyond lastOffsetDelta",
                ));
            }
            previous_delta = Some(delta);
            count += 1;
        }
        if count != self.header.record_count as usize {
            return Err(BatchError::InconsistentHeader("record count"));
        }
        Ok(())
    }
}

/// Iterates the validated batches laid back to back in `bytes` (a segment, a fetch response, a
/// produce request's record set). Stops at the first error, which it yields once.
pub fn batches(bytes: &[u8]) -> Batches<'_> {
    Batches {
        rest: bytes,
        failed: false,
    }
}

/// The iterator [`batches`] returns.
#[derive(Clone, Debug)]
pub struct Batches<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Batches<'a> {
    type Item = Result<BatchRef<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        match BatchRef::parse(self.rest) {
            Ok(batch) => {
                self.rest = &self.rest[batch.as_bytes().len()..];
                Some(Ok(batch))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Sets the two broker-assigned header fields of the batch at the front of `bytes`: its base
/// offset and partition leader epoch. Neither is covered by the CRC, so nothing is re-encoded.
pub fn assign_offsets(
    bytes: &mut [u8],
    base_offset: i64,
    leader_epoch: i32,
) -> Result<(), BatchError> {
    if bytes.len() < HEADER_LEN {
        return Err(BatchError::Truncated {
            needed: HEADER_LEN,
            available: bytes.len(),
        });
    }
    bytes[BASE_OFFSET_AT..BASE_OFFSET_AT + 8].copy_from_slice(&base_offset.to_be_bytes());
    bytes[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].copy_from_slice(&leader_epoch.to_be_bytes());
    Ok(())
}

/// Stamps the batch at the front of `bytes` with the broker's clock, as a topic with
/// `message.timestamp.type=LogAppendTime` has it (Kafka's `LogValidator`): the timestamp-type
/// attribute bit is set and the max timestamp becomes `append_time_ms`, which readers then give
/// every record of the batch; the CRC, which covers both, is recomputed. Record bytes are not
/// touched.
pub fn set_log_append_time(bytes: &mut [u8], append_time_ms: i64) -> Result<(), BatchError> {
    if bytes.len() < HEADER_LEN {
        return Err(BatchError::Truncated {
            needed: HEADER_LEN,
            available: bytes.len(),
        });
    }
    let attributes = read_i16(bytes, ATTRIBUTES_AT) | TIMESTAMP_TYPE_BIT;
    bytes[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    bytes[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&append_time_ms.to_be_bytes());
    let crc = crc32c(&bytes[ATTRIBUTES_AT..]);
    bytes[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// One header of a record: a string key (not validated as UTF-8) and a nullable value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// Header key.
    pub key: &'a [u8],
    /// Header value; `None` is null.
    pub value: Option<&'a [u8]>,
}

/// One record, with its absolute offset and timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The record's offset in the partition.
    pub offset: i64,
    /// The record's timestamp (base timestamp + delta).
    pub timestamp: i64,
    /// Key; `None` is null (no key).
    pub key: Option<&'a [u8]>,
    /// Value; `None` is null (a tombstone in a compacted topic).
    pub value: Option<&'a [u8]>,
    /// Headers in order.
    pub headers: Vec<Header<'a>>,
}

/// The iterator [`BatchRef::records`] returns; yields an error once and then stops.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    data: &'a [u8],
    remaining: usize,
    base_offset: i64,
    base_timestamp: i64,
    /// A LogAppendTime batch's max timestamp: every record's timestamp (Kafka's
    /// `DefaultRecord.readFrom` with `logAppendTime`).
    log_append_time: Option<i64>,
    failed: bool,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, BatchError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.remaining == 0 {
            if self.data.is_empty() {
                return None;
            }
            self.failed = true;
            return Some(Err(BatchError::InconsistentHeader(
                "bytes left after the last record",
            )));
        }
        match decode_record(self.data, self.base_offset, self.base_timestamp) {
            Ok((mut record, used)) => {
                self.data = &self.data[used..];
                self.remaining -= 1;
                if let Some(append_time) = self.log_append_time {
                    record.timestamp = append_time;
                }
                Some(Ok(record))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Why a record's bytes cannot be read: the text of [`BatchError::InvalidRecord`]. Two
/// words, so a field's result comes back in registers on the per-record path.
type Field<T> = Result<T, &'static str>;

/// A cursor over one record's bytes; every read checks bounds.
struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    #[inline(always)]
    fn varint(&mut self) -> Field<i32> {
        let (v, used) = get_varint(self.data).map_err(|_| "malformed varint")?;
        self.data = &self.data[used..];
        Ok(v)
    }

    #[inline(always)]
    fn varlong(&mut self) -> Field<i64> {
        let (v, used) = get_varlong(self.data).map_err(|_| "malformed varint")?;
        self.data = &self.data[used..];
        Ok(v)
    }

    #[inline(always)]
    fn take(&mut self, len: usize) -> Field<&'a [u8]> {
        if self.data.len() < len {
            return Err("field runs past the record");
        }
        let (head, tail) = self.data.split_at(len);
        self.data = tail;
        Ok(head)
    }

    /// A length-prefixed byte field; -1 is null.
    #[inline(always)]
    fn nullable_bytes(&mut self) -> Field<Option<&'a [u8]>> {
        match self.varint()? {
            -1 => Ok(None),
            len if len < -1 => Err("negative length"),
            len => self.take(len as usize).map(Some),
        }
    }
}

#[inline]
fn decode_record(
    data: &[u8],
    base_offset: i64,
    base_timestamp: i64,
) -> Result<(Record<'_>, usize), BatchError> {
    decode_fields(data, base_offset, base_timestamp).map_err(BatchError::InvalidRecord)
}

#[inline(always)]
fn decode_fields(data: &[u8], base_offset: i64, base_timestamp: i64) -> Field<(Record<'_>, usize)> {
    let mut c = Cursor { data };
    let length = c.varint()?;
    if length < 0 {
        return Err("negative record length");
    }
    let prefix = data.len() - c.data.len();
    let end = prefix + length as usize;
    if data.len() < end {
        return Err("record runs past the batch");
    }
    let mut c = Cursor {
        data: &data[prefix..end],
    };
    let _attributes = c.take(1)?;
    let timestamp_delta = c.varlong()?;
    let offset_delta = c.varint()?;
    if offset_delta < 0 {
        return Err("negative offset delta");
    }
    let key = c.nullable_bytes()?;
    let value = c.nullable_bytes()?;
    let header_count = c.varint()?;
    if header_count < 0 {
        return Err("negative header count");
    }
    // Each header takes at least two bytes, so a count larger than that is a lie: refuse it
    // before reserving memory for it.
    if header_count as usize > c.data.len() / 2 {
        return Err("header count exceeds record");
    }
    // Most records carry no headers; `Vec::new` costs nothing for them.
    let mut headers = if header_count == 0 {
        Vec::new()
    } else {
        Vec::with_capacity(header_count as usize)
    };
    for _ in 0..header_count {
        let key = c.nullable_bytes()?.ok_or("null header key")?;
        let value = c.nullable_bytes()?;
        headers.push(Header { key, value });
    }
    if !c.data.is_empty() {
        return Err("bytes left inside the record");
    }
    let record = Record {
        offset: base_offset + i64::from(offset_delta),
        timestamp: base_timestamp.wrapping_add(timestamp_delta),
        key,
        value,
        headers,
    };
    Ok((record, end))
}

/// Builds a batch from records, Kafka's way: base timestamp is the first record's (or the
/// delete horizon), deltas are relative to it, the CRC is computed last.
#[derive(Clone, Debug)]
pub struct BatchBuilder<'a> {
    base_offset: i64,
    compression: Compression,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    partition_leader_epoch: i32,
    transactional: bool,
    control: bool,
    log_append_time: bool,
    delete_horizon_ms: Option<i64>,
    last_offset_delta: Option<i32>,
    /// Both timestamps of a batch built with no records ([`BatchBuilder::emptied`]).
    empty_timestamp_ms: i64,
    records: Vec<Record<'a>>,
}

impl<'a> BatchBuilder<'a> {
    /// An empty builder for a batch starting at `base_offset`, uncompressed, no producer id.
    pub fn new(base_offset: i64) -> Self {
        Self {
            base_offset,
            compression: Compression::None,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            partition_leader_epoch: -1,
            transactional: false,
            control: false,
            log_append_time: false,
            delete_horizon_ms: None,
            last_offset_delta: None,
            empty_timestamp_ms: -1,
            records: Vec::new(),
        }
    }

    /// Starts from another batch's header: same base offset, producer, epoch, flags and
    /// `lastOffsetDelta` (compaction keeps these when it drops records). No records yet.
    pub fn like(header: &BatchHeader) -> Result<Self, BatchError> {
        let mut builder = Self::new(header.base_offset);
        builder.compression = header.compression()?;
        builder.producer_id = header.producer_id;
        builder.producer_epoch = header.producer_epoch;
        builder.base_sequence = header.base_sequence;
        builder.partition_leader_epoch = header.partition_leader_epoch;
        builder.transactional = header.is_transactional();
        builder.control = header.is_control();
        builder.log_append_time = header.is_log_append_time();
        builder.delete_horizon_ms = header.delete_horizon_ms();
        builder.last_offset_delta = Some(header.last_offset_delta);
        Ok(builder)
    }

    /// Compresses the records section with `compression` at build time.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Marks the batch as from an idempotent producer.
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch as part of a transaction (attribute bit 4, KIP-98).
    pub fn transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    /// Marks the batch as holding control records (transaction markers, attribute bit 5).
    pub fn control(mut self, control: bool) -> Self {
        self.control = control;
        self
    }

    /// Makes this a batch with no records, as compaction keeps a producer's last batch
    /// (Kafka's `DefaultRecordBatch.writeEmptyHeader`): uncompressed, no delete horizon, both
    /// timestamps `timestamp_ms`. Records pushed afterwards are still written.
    pub fn emptied(mut self, timestamp_ms: i64) -> Self {
        self.compression = Compression::None;
        self.delete_horizon_ms = None;
        self.empty_timestamp_ms = timestamp_ms;
        self.records.clear();
        self
    }

    /// Sets the delete horizon (KIP-534): written as the base timestamp with attribute bit 6.
    pub fn delete_horizon_ms(mut self, horizon_ms: i64) -> Self {
        self.delete_horizon_ms = Some(horizon_ms);
        self
    }

    /// Adds a record at the next offset (base offset + records so far).
    pub fn push(
        &mut self,
        timestamp: i64,
        key: Option<&'a [u8]>,
        value: Option<&'a [u8]>,
        headers: Vec<Header<'a>>,
    ) {
        let offset = self.base_offset + self.records.len() as i64;
        self.records.push(Record {
            offset,
            timestamp,
            key,
            value,
            headers,
        });
    }

    /// Adds a record at its own offset, which must be above the previous record's.
    pub fn push_record(&mut self, record: Record<'a>) {
        assert!(
            self.records.last().is_none_or(|r| r.offset < record.offset)
                && record.offset >= self.base_offset,
            "BatchBuilder::push_record: offsets must rise from the base offset"
        );
        self.records.push(record);
    }

    /// How many records have been added.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record has been added.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Encodes the batch.
    pub fn build(&self, codec: &dyn Codec) -> Result<Vec<u8>, BatchError> {
        let first_timestamp = self
            .records
            .first()
            .map_or(self.empty_timestamp_ms, |r| r.timestamp);
        let base_timestamp = self.delete_horizon_ms.unwrap_or(first_timestamp);
        let max_timestamp = self
            .records
            .iter()
            .map(|r| r.timestamp)
            .max()
            .unwrap_or(self.empty_timestamp_ms);
        let last_offset_delta = self.last_offset_delta.unwrap_or_else(|| {
            self.records
                .last()
                .map_or(0, |r| (r.offset - self.base_offset) as i32)
        });

        let mut plain = Vec::new();
        for record in &self.records {
            encode_record(&mut plain, record, self.base_offset, base_timestamp);
        }
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len());
        out.resize(HEADER_LEN, 0);
        if self.compression == Compression::None {
            out.extend_from_slice(&plain);
        } else {
            codec.compress(self.compression, &plain, &mut out)?;
        }

        let mut attributes = i16::from(self.compression.id());
        if self.log_append_time {
            attributes |= TIMESTAMP_TYPE_BIT;
        }
        if self.transactional {
            attributes |= TRANSACTIONAL_BIT;
        }
        if self.control {
            attributes |= CONTROL_BIT;
        }
        if self.delete_horizon_ms.is_some() {
            attributes |= DELETE_HORIZON_BIT;
        }
        let batch_length = (out.len() - LOG_OVERHEAD) as i32;
        out[BASE_OFFSET_AT..8].copy_from_slice(&self.base_offset.to_be_bytes());
        out[BATCH_LENGTH_AT..12].copy_from_slice(&batch_length.to_be_bytes());
        out[LEADER_EPOCH_AT..16].copy_from_slice(&self.partition_leader_epoch.to_be_bytes());
        out[MAGIC_AT] = MAGIC as u8;
        out[ATTRIBUTES_AT..23].copy_from_slice(&attributes.to_be_bytes());
        out[LAST_OFFSET_DELTA_AT..27].copy_from_slice(&last_offset_delta.to_be_bytes());
        out[BASE_TIMESTAMP_AT..35].copy_from_slice(&base_timestamp.to_be_bytes());
        out[MAX_TIMESTAMP_AT..43].copy_from_slice(&max_timestamp.to_be_bytes());
        out[PRODUCER_ID_AT..51].copy_from_slice(&self.producer_id.to_be_bytes());
        out[PRODUCER_EPOCH_AT..53].copy_from_slice(&self.producer_epoch.to_be_bytes());
        out[BASE_SEQUENCE_AT..57].copy_from_slice(&self.base_sequence.to_be_bytes());
        out[RECORD_COUNT_AT..61].copy_from_slice(&(self.records.len() as i32).to_be_bytes());
        let crc = crc32c(&out[ATTRIBUTES_AT..]);
        out[CRC_AT..21].copy_from_slice(&crc.to_be_bytes());
        Ok(out)
    }
}

fn encode_record(out: &mut Vec<u8>, record: &Record<'_>, base_offset: i64, base_timestamp: i64) {
    let mut body = Vec::with_capacity(
        16 + record.key.map_or(0, <[u8]>::len) + record.value.map_or(0, <[u8]>::len),
    );
    body.push(0); // record attributes: unused in v2
    put_varlong(&mut body, record.timestamp.wrapping_sub(base_timestamp));
    put_varint(&mut body, (record.offset - base_offset) as i32);
    put_nullable(&mut body, record.key);
    put_nullable(&mut body, record.value);
    put_varint(&mut body, record.headers.len() as i32);
    for header in &record.headers {
        put_nullable(&mut body, Some(header.key));
        put_nullable(&mut body, header.value);
    }
    put_varint(out, body.len() as i32);
    out.extend_from_slice(&body);
}

fn put_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}

fn read_i16(bytes: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([bytes[at], bytes[at + 1]])
}

fn read_i32(bytes: &[u8], at: usize) -> i32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    i32::from_be_bytes(b)
}

fn read_i64(bytes: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    i64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// Batches written by an independent implementation: kafka-python 2.x's pure-Python
    /// `DefaultRecordBatchBuilder` (which writes partitionLeaderEpoch 0). Regenerate with
    /// `B(magic=2, compression_type=0, is_transactional=0, producer_id=-1, producer_epoch=-1,
    /// base_sequence=-1, batch_size=1<<20)`, `append(...)`, `build().hex()`.
    ///
    /// One record: offset 0, timestamp 1000, key "k", value "v", header ("h", "x").
    const KAFKA_PYTHON_ONE: &str = "00000000000000000000003e000000000285d4936f00000000000000000000000003e800000000000003e8ffffffffffffffffffffffffffff0000000118000000026b02760202680278";
    /// Three records: the one above; (ts 1005, null key, null value); (ts 990, empty key,
    /// value "hello", headers ("a", null), ("bb", "")).
    const KAFKA_PYTHON_THREE: &str = "000000000000000000000058000000000226291d7100000000000200000000000003e800000000000003edffffffffffffffffffffffffffff0000000318000000026b027602026802780c000a0201010024001304000a68656c6c6f0402610104626200";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn java_batch() -> Vec<u8> {
        hex(KAFKA_PYTHON_ONE)
    }

    /// (timestamp, key, value, headers) of one record to build.
    type TestRecord = (
        i64,
        Option<&'static [u8]>,
        Option<&'static [u8]>,
        Vec<Header<'static>>,
    );

    fn build_like_kafka_python(records: &[TestRecord]) -> Vec<u8> {
        let mut b = BatchBuilder::new(0);
        for (ts, key, value, headers) in records {
            b.push(*ts, *key, *value, headers.clone());
        }
        let mut built = b.build(&NoCodec).unwrap();
        assign_offsets(&mut built, 0, 0).unwrap();
        built
    }

    #[test]
    fn builder_writes_the_bytes_another_client_writes() {
        let h = |key: &'static [u8], value| Header { key, value };
        let one = (
            1000,
            Some(&b"k"[..]),
            Some(&b"v"[..]),
            vec![h(b"h", Some(&b"x"[..]))],
        );
        assert_eq!(
            build_like_kafka_python(core::slice::from_ref(&one)),
            hex(KAFKA_PYTHON_ONE)
        );
        let three = [
            one,
            (1005, None, None, vec![]),
            (
                990,
                Some(&b""[..]),
                Some(&b"hello"[..]),
                vec![h(b"a", None), h(b"bb", Some(&b""[..]))],
            ),
        ];
        let built = build_like_kafka_python(&three);
        assert_eq!(built, hex(KAFKA_PYTHON_THREE));
        let batch = BatchRef::parse(&built).unwrap();
        assert_eq!(batch.header().max_timestamp, 1005);
        let mut scratch = vec![];
        let decoded: Vec<_> = batch
            .records(&NoCodec, &mut scratch)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(decoded.len(), 3);
        for (record, (ts, key, value, headers)) in decoded.iter().zip(three.iter()) {
            assert_eq!(
                (record.timestamp, record.key, record.value, &record.headers),
                (*ts, *key, *value, headers)
            );
        }
        assert_eq!(
            decoded.iter().map(|r| r.offset).collect::<Vec<_>>(),
            [0, 1, 2]
        );
    }

    #[test]
    fn parse_iterates_records_with_absolute_offsets_and_timestamps() {
        let mut bytes = java_batch();
        assign_offsets(&mut bytes, 42, 7).unwrap();
        let batch = BatchRef::parse(&bytes).unwrap();
        assert_eq!(batch.header().base_offset, 42);
        assert_eq!(batch.header().partition_leader_epoch, 7);
        batch.validate_records(&NoCodec, |_, _| {}).unwrap();
        let mut scratch = vec![];
        let records: Vec<_> = batch
            .records(&NoCodec, &mut scratch)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].offset, 42);
        assert_eq!(records[0].timestamp, 1000);
        assert_eq!(records[0].key, Some(&b"k"[..]));
        assert_eq!(records[0].value, Some(&b"v"[..]));
        assert_eq!(records[0].headers[0].key, b"h");
    }

    #[test]
    fn typed_errors_for_bad_input() {
        let good = java_batch();
        let mut bad_crc = good.clone();
        let last = bad_crc.len() - 1;
        bad_crc[last] ^= 1;
        assert!(matches!(
            BatchRef::parse(&bad_crc),
            Err(BatchError::CorruptCrc { .. })
        ));
        let mut bad_magic = good.clone();
        bad_magic[MAGIC_AT] = 1;
        assert_eq!(
            BatchRef::parse(&bad_magic).unwrap_err(),
            BatchError::UnsupportedMagic(1)
        );
        let mut bad_len = good.clone();
        bad_len[BATCH_LENGTH_AT..12].copy_from_slice(&10i32.to_be_bytes());
        assert_eq!(
            BatchRef::parse(&bad_len).unwrap_err(),
            BatchError::InvalidLength(10)
        );
        assert!(matches!(
            BatchRef::parse(&good[..good.len() - 1]),
            Err(BatchError::Truncated { .. })
        ));
        assert!(matches!(
            BatchRef::parse(&good[..20]),
            Err(BatchError::Truncated { needed: 61, .. })
        ));
        for e in [
            BatchRef::parse(&bad_crc).unwrap_err(),
            BatchRef::parse(&bad_magic).unwrap_err(),
        ] {
            assert_ne!(e.kafka_error_code(), error_code::NONE);
        }
    }

    #[test]
    fn compressed_batches_need_a_codec() {
        let mut b = BatchBuilder::new(0).compression(Compression::Gzip);
        b.push(1, None, Some(b"v"), vec![]);
        assert_eq!(
            b.build(&NoCodec).unwrap_err(),
            BatchError::Codec(CodecError::Unsupported(Compression::Gzip))
        );
    }

    #[test]
    fn batches_iterates_back_to_back_and_stops_at_damage() {
        let mut two = java_batch();
        two.extend_from_slice(&java_batch());
        assert_eq!(batches(&two).filter(Result::is_ok).count(), 2);
        two.truncate(two.len() - 3);
        let results: Vec<_> = batches(&two).collect();
        assert_eq!(results.len(), 2);
        assert!(results[1].is_err());
    }
}
