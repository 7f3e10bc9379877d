//! Kafka's message sets of magic 0 and 1, the record format before KIP-98's record batch v2:
//! what clients set for Kafka 0.9 and 0.10 still send with Produce v0–v2. Kafka 3.x takes them
//! and stores record batch v2 (its `LogValidator` up-converts them on append); runnel does the
//! same here, so everything after the Produce handler sees only v2.
//!
//! A message set is a run of entries `offset: i64, size: i32, crc: u32, magic: i8,
//! attributes: i8, [timestamp: i64 if magic 1], key: bytes, value: bytes` (the CRC is CRC-32
//! over magic to the end). A compressed entry (attributes bits 0–2) holds, as its value, the
//! compressed message set of its inner messages. Magic 0 has no timestamps: the records get -1
//! (Kafka's NO_TIMESTAMP), unless the topic stamps LogAppendTime.

use alloc::vec::Vec;

use crate::batch::{BatchBuilder, BatchError, Codec, Compression};
use crate::checksum::crc32;

/// One message of a magic 0/1 message set, decompressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyMessage {
    /// The message's timestamp in ms (-1 for magic 0).
    pub timestamp: i64,
    /// Key; `None` is null.
    pub key: Option<Vec<u8>>,
    /// Value; `None` is null.
    pub value: Option<Vec<u8>>,
}

/// The messages of a magic 0/1 message set, inner messages of compressed entries in place,
/// and the codec the producer used (the first compressed entry's; `None` when none was).
///
/// # Errors
/// [`BatchError::Truncated`] for a cut entry, [`BatchError::CorruptCrc`] for a damaged one,
/// [`BatchError::UnsupportedMagic`] for magic 2 or above inside a message set,
/// [`BatchError::InvalidRecord`] for a compressed entry inside a compressed entry, and the
/// codec's errors.
pub fn read(
    message_set: &[u8],
    codec: &dyn Codec,
) -> Result<(Vec<LegacyMessage>, Compression), BatchError> {
    let mut messages = Vec::new();
    let mut compression = Compression::None;
    read_into(message_set, codec, false, &mut messages, &mut compression)?;
    Ok((messages, compression))
}

/// A magic 0/1 message set as one record batch v2 (base offset 0, no producer id), compressed
/// with the producer's codec, as Kafka up-converts it. `None` for an empty message set.
///
/// # Errors
/// As [`read`].
pub fn to_batch(message_set: &[u8], codec: &dyn Codec) -> Result<Option<Vec<u8>>, BatchError> {
    let (messages, compression) = read(message_set, codec)?;
    if messages.is_empty() {
        return Ok(None);
    }
    let mut builder = BatchBuilder::new(0).compression(compression);
    for m in &messages {
        builder.push(
            m.timestamp,
            m.key.as_deref(),
            m.value.as_deref(),
            Vec::new(),
        );
    }
    builder.build(codec).map(Some)
}

fn read_into(
    mut rest: &[u8],
    codec: &dyn Codec,
    inner: bool,
    out: &mut Vec<LegacyMessage>,
    compression: &mut Compression,
) -> Result<(), BatchError> {
    const ENTRY_HEADER: usize = 8 + 4;
    while !rest.is_empty() {
        // A producer may cut the last entry at its size limit: Kafka ignores a partial one
        // only at the end of a fetch, never in a produce request.
        let header = rest.get(..ENTRY_HEADER).ok_or(BatchError::Truncated {
            needed: ENTRY_HEADER,
            available: rest.len(),
        })?;
        let size = i32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        let size = usize::try_from(size)
            .map_err(|_| BatchError::InvalidRecord("negative message size"))?;
        let body = rest
            .get(ENTRY_HEADER..ENTRY_HEADER + size)
            .ok_or(BatchError::Truncated {
                needed: ENTRY_HEADER + size,
                available: rest.len(),
            })?;
        rest = &rest[ENTRY_HEADER + size..];
        let message = parse_message(body)?;
        let codec_id = message.attributes & 0x07;
        if codec_id == 0 {
            out.push(LegacyMessage {
                timestamp: message.timestamp,
                key: message.key.map(<[u8]>::to_vec),
                value: message.value.map(<[u8]>::to_vec),
            });
            continue;
        }
        if inner {
            return Err(BatchError::InvalidRecord(
                "a compressed message inside a compressed message",
            ));
        }
        let entry_compression = Compression::from_id(codec_id)?;
        if *compression == Compression::None {
            *compression = entry_compression;
        }
        let mut plain = Vec::new();
        codec.decompress(
            entry_compression,
            message.value.unwrap_or_default(),
            &mut plain,
        )?;
        read_into(&plain, codec, true, out, compression)?;
    }
    Ok(())
}

/// One message's fields, borrowed.
struct Message<'a> {
    attributes: u8,
    timestamp: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
}

fn parse_message(body: &[u8]) -> Result<Message<'_>, BatchError> {
    let truncated = |needed: usize| BatchError::Truncated {
        needed,
        available: body.len(),
    };
    if body.len() < 6 {
        return Err(truncated(6));
    }
    let stored = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
    let computed = crc32(&body[4..]);
    if stored != computed {
        return Err(BatchError::CorruptCrc { stored, computed });
    }
    let magic = body[4];
    let attributes = body[5];
    let mut at = 6;
    let timestamp = match magic {
        0 => -1,
        1 => {
            let bytes = body.get(at..at + 8).ok_or_else(|| truncated(at + 8))?;
            at += 8;
            i64::from_be_bytes(bytes.try_into().map_err(|_| truncated(at))?)
        }
        other => return Err(BatchError::UnsupportedMagic(other as i8)),
    };
    let mut bytes = || -> Result<Option<&[u8]>, BatchError> {
        let len = body.get(at..at + 4).ok_or_else(|| truncated(at + 4))?;
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        at += 4;
        let Ok(len) = usize::try_from(len) else {
            return Ok(None);
        };
        let data = body.get(at..at + len).ok_or_else(|| truncated(at + len))?;
        at += len;
        Ok(Some(data))
    };
    let key = bytes()?;
    let value = bytes()?;
    Ok(Message {
        attributes,
        timestamp,
        key,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{BatchRef, NoCodec};
    use alloc::vec;

    /// One uncompressed message of `magic`, as librdkafka writes it for Kafka 0.9 (magic 0)
    /// or 0.10 (magic 1).
    fn message(magic: u8, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
        let mut body = vec![magic, 0];
        if magic == 1 {
            body.extend_from_slice(&timestamp.to_be_bytes());
        }
        for field in [key, value] {
            match field {
                Some(b) => {
                    body.extend_from_slice(&(b.len() as i32).to_be_bytes());
                    body.extend_from_slice(b);
                }
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        let mut entry = 0i64.to_be_bytes().to_vec();
        entry.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        entry.extend_from_slice(&crc32(&body).to_be_bytes());
        entry.extend_from_slice(&body);
        entry
    }

    #[test]
    fn magic_0_and_1_messages_become_one_v2_batch() {
        let mut set = message(0, 0, Some(b"k"), Some(b"v0"));
        set.extend(message(1, 1_234, None, Some(b"v1")));
        set.extend(message(1, 1_235, Some(b"t"), None));
        let batch = to_batch(&set, &NoCodec).expect("valid").expect("not empty");
        let batch = BatchRef::parse(&batch).expect("a v2 batch");
        let mut scratch = Vec::new();
        type Row<'a> = (i64, i64, Option<&'a [u8]>, Option<&'a [u8]>);
        let records: Vec<Row<'_>> = batch
            .records(&NoCodec, &mut scratch)
            .expect("records")
            .map(|r| r.expect("record"))
            .map(|r| (r.offset, r.timestamp, r.key, r.value))
            .collect();
        assert_eq!(
            records,
            [
                (0, -1, Some(&b"k"[..]), Some(&b"v0"[..])),
                (1, 1_234, None, Some(&b"v1"[..])),
                (2, 1_235, Some(&b"t"[..]), None),
            ]
        );
        assert_eq!(batch.header().producer_id, -1);
    }

    #[test]
    fn damaged_or_cut_message_sets_are_refused() {
        let mut set = message(1, 1, None, Some(b"value"));
        let last = set.len() - 1;
        set[last] ^= 1;
        assert!(matches!(
            read(&set, &NoCodec),
            Err(BatchError::CorruptCrc { .. })
        ));
        let set = message(1, 1, None, Some(b"value"));
        assert!(matches!(
            read(&set[..set.len() - 2], &NoCodec),
            Err(BatchError::Truncated { .. })
        ));
        assert_eq!(to_batch(&[], &NoCodec).expect("empty"), None);
    }
}
