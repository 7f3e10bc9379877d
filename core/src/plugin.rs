//! The plugin ABI's data: what a host (wasmtime in the node, the browser's WebAssembly engine
//! in the playground) and a plugin (built with runnel-plugin-sdk, or written by hand in any
//! language) pass each other, postcard-encoded, one whole batch per call.
//!
//! The ABI, version [`ABI_VERSION`]; a plugin is a core wasm module that exports:
//!
//! | export | signature | job |
//! |---|---|---|
//! | `memory` | memory | the plugin's linear memory |
//! | `runnel_abi_version` | `() -> i32` | returns [`ABI_VERSION`] |
//! | `runnel_alloc` | `(len: i32) -> i32` | reserves `len` bytes and returns their address |
//! | `runnel_partition` | `(ptr: i32, len: i32) -> i64` | a [`PartitionRequest`] in, a [`PartitionResponse`] out |
//! | `runnel_transform` | `(ptr: i32, len: i32) -> i64` | a [`TransformRequest`] in, a [`TransformResponse`] out |
//!
//! A plugin has `runnel_partition`, `runnel_transform` or both. The host writes the request
//! into memory from `runnel_alloc` and calls the function, which returns where its response
//! lies as `(ptr << 32) | len`. The only import a plugin may have is
//! `runnel.log(ptr: i32, len: i32)`, a UTF-8 line for the broker's log. A response that does
//! not decode, or that does not fit the request (a partition out of range, a count that
//! differs), is an error for that batch.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

/// The ABI version this core speaks; a plugin's `runnel_abi_version` must return it.
pub const ABI_VERSION: i32 = 1;

/// One record as a plugin sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PluginRecord {
    /// The key; `None` is a null key.
    pub key: Option<Vec<u8>>,
    /// The value; `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers in order, values `None` when null.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// The record's timestamp (ms since the epoch).
    pub timestamp: i64,
}

impl PluginRecord {
    /// The first header named `name`, if it has a value.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// A record borrowed from the request bytes: the same encoding as [`PluginRecord`], decoded
/// without copying, which is what a partitioner needs (it only looks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RecordRef<'a> {
    /// The key; `None` is a null key.
    #[serde(borrow)]
    pub key: Option<&'a [u8]>,
    /// The value; `None` is a tombstone.
    #[serde(borrow)]
    pub value: Option<&'a [u8]>,
    /// Headers in order, values `None` when null.
    #[serde(borrow)]
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
    /// The record's timestamp (ms since the epoch).
    pub timestamp: i64,
}

impl RecordRef<'_> {
    /// The first header named `name`, if it has a value.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| *v)
    }
}

/// [`PartitionRequest`] decoded without copying the records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRequestRef<'a> {
    /// The output topic's partition count.
    pub partitions: u32,
    /// The records, in order.
    #[serde(borrow)]
    pub records: Vec<RecordRef<'a>>,
}

/// `runnel_partition`'s input: a batch bound for a topic with `partitions` partitions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRequest {
    /// The output topic's partition count.
    pub partitions: u32,
    /// The records, in order.
    pub records: Vec<PluginRecord>,
}

/// `runnel_partition`'s output: one partition per record, in the same order.
pub type PartitionResponse = Vec<u32>;

/// `runnel_transform`'s input: a batch of records in order.
pub type TransformRequest = Vec<PluginRecord>;

/// `runnel_transform`'s output: for each input record, the records it becomes (none drops it,
/// several split it), in input order.
pub type TransformResponse = Vec<Vec<PluginRecord>>;

/// Why a plugin's response cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The bytes are not a postcard encoding of the response type.
    #[error("response does not decode: {0}")]
    Malformed(String),
    /// A response for another number of records than the request had.
    #[error("{got} results for {expected} records")]
    Count {
        /// Records in the request.
        expected: usize,
        /// Results in the response.
        got: usize,
    },
    /// A partition outside `0..partitions`.
    #[error("partition {partition} of a topic with {partitions}")]
    Partition {
        /// What the plugin chose.
        partition: u32,
        /// The topic's partition count.
        partitions: u32,
    },
}

/// Encodes any ABI value (a request or a response).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // postcard into a Vec cannot fail for these types (no maps with non-string keys, no
    // unsupported types); an empty encoding would be rejected by the other side anyway.
    postcard::to_allocvec(value).unwrap_or_default()
}

/// Decodes a request (the plugin side).
pub fn decode_request<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ResponseError> {
    postcard::from_bytes(bytes).map_err(|e| ResponseError::Malformed(alloc::format!("{e}")))
}

/// Checks and decodes a `runnel_partition` response for `request`.
pub fn decode_partitions(
    request: &PartitionRequest,
    bytes: &[u8],
) -> Result<PartitionResponse, ResponseError> {
    let chosen: PartitionResponse = decode_request(bytes)?;
    if chosen.len() != request.records.len() {
        return Err(ResponseError::Count {
            expected: request.records.len(),
            got: chosen.len(),
        });
    }
    if let Some(&partition) = chosen.iter().find(|p| **p >= request.partitions) {
        return Err(ResponseError::Partition {
            partition,
            partitions: request.partitions,
        });
    }
    Ok(chosen)
}

/// Checks and decodes a `runnel_transform` response for a request of `records` records.
pub fn decode_transformed(
    records: usize,
    bytes: &[u8],
) -> Result<TransformResponse, ResponseError> {
    let out: TransformResponse = decode_request(bytes)?;
    if out.len() != records {
        return Err(ResponseError::Count {
            expected: records,
            got: out.len(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn record(key: &str) -> PluginRecord {
        PluginRecord {
            key: Some(key.as_bytes().to_vec()),
            value: Some(b"v".to_vec()),
            headers: vec![("region".into(), Some(b"eu".to_vec()))],
            timestamp: 7,
        }
    }

    #[test]
    fn requests_round_trip_and_responses_are_checked() {
        let request = PartitionRequest {
            partitions: 3,
            records: vec![record("a"), record("b")],
        };
        let bytes = encode(&request);
        assert_eq!(
            decode_request::<PartitionRequest>(&bytes),
            Ok(request.clone())
        );
        assert_eq!(request.records[0].header("region"), Some(&b"eu"[..]));
        assert_eq!(
            decode_partitions(&request, &encode(&vec![2u32, 0])),
            Ok(vec![2, 0])
        );
        assert_eq!(
            decode_partitions(&request, &encode(&vec![3u32, 0])),
            Err(ResponseError::Partition {
                partition: 3,
                partitions: 3
            })
        );
        assert!(matches!(
            decode_partitions(&request, &encode(&vec![1u32])),
            Err(ResponseError::Count {
                expected: 2,
                got: 1
            })
        ));
        assert!(matches!(
            decode_partitions(&request, &[0xff, 0xff, 0xff]),
            Err(ResponseError::Malformed(_))
        ));
        let out: TransformResponse = vec![vec![], vec![record("x"), record("y")]];
        assert_eq!(decode_transformed(2, &encode(&out)), Ok(out));
        assert!(decode_transformed(3, &encode(&Vec::<Vec<PluginRecord>>::new())).is_err());
    }
}
