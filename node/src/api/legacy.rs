//! Request versions Kafka 3.x still serves but `kafka-protocol` 0.18 does not encode: it follows
//! Kafka 4.0, whose minimums KIP-896 raised. Clients set for Kafka 2.x send them (Go's sarama
//! with `V2_0_0_0`, kafka-python on old settings), so each is read and written here by hand,
//! from the Kafka protocol guide's layout of that version, and answered by the same handler as
//! the versions the crate knows: nothing is decided here.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ApiKey, DescribeConfigsRequest, DescribeLogDirsRequest, GroupId, OffsetCommitRequest, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable};

use super::{cluster_admin, configs, offsets, s};
use crate::broker::Broker;

/// The response body (after the response header) for a request version kafka-protocol does
/// not encode; `None` when the crate handles this version. Errors: a malformed body.
pub async fn response(
    broker: &Arc<Broker>,
    key: ApiKey,
    version: i16,
    body: &[u8],
) -> Option<Result<Vec<u8>, String>> {
    Some(match (key, version) {
        (ApiKey::DescribeConfigs, 0) => describe_configs_v0(broker, body),
        (ApiKey::DescribeLogDirs, 0) => describe_log_dirs_v0(broker, body),
        (ApiKey::OffsetCommit, 0 | 1) => offset_commit_v0_v1(broker, version, body).await,
        _ => return None,
    })
}

/// DescribeConfigs v0. Its request is v1's without the trailing `include_synonyms`; its
/// response is v1's with the one-byte `is_default` (true when the source is DEFAULT_CONFIG)
/// where v1 has the one-byte `config_source`, and without synonyms (KIP-226).
fn describe_configs_v0(broker: &Arc<Broker>, body: &[u8]) -> Result<Vec<u8>, String> {
    let mut v1 = BytesMut::with_capacity(body.len() + 1);
    v1.extend_from_slice(body);
    v1.put_u8(0); // include_synonyms = false
    let request = DescribeConfigsRequest::decode(&mut v1.freeze(), 1).map_err(|e| e.to_string())?;
    let response = configs::describe_configs(broker, request);
    let mut out = BytesMut::new();
    out.put_i32(response.throttle_time_ms);
    out.put_i32(len(response.results.len()));
    for result in &response.results {
        out.put_i16(result.error_code);
        put_string(&mut out, result.error_message.as_deref());
        out.put_i8(result.resource_type);
        put_string(&mut out, Some(&result.resource_name));
        out.put_i32(len(result.configs.len()));
        for config in &result.configs {
            put_string(&mut out, Some(&config.name));
            put_string(&mut out, config.value.as_deref());
            out.put_u8(u8::from(config.read_only));
            out.put_u8(u8::from(config.config_source == configs::DEFAULT_CONFIG));
            out.put_u8(u8::from(config.is_sensitive));
        }
    }
    Ok(out.to_vec())
}

/// DescribeLogDirs v0: the same bytes as v1 (v1 only changed how throttling is applied).
fn describe_log_dirs_v0(broker: &Arc<Broker>, body: &[u8]) -> Result<Vec<u8>, String> {
    let request = DescribeLogDirsRequest::decode(&mut Bytes::copy_from_slice(body), 1)
        .map_err(|e| e.to_string())?;
    let mut out = BytesMut::new();
    cluster_admin::describe_log_dirs(broker, request)
        .encode(&mut out, 1)
        .map_err(|e| e.to_string())?;
    Ok(out.to_vec())
}

/// OffsetCommit v0 and v1. v0: group id, then topics of (partition, offset, metadata); v1 adds
/// the generation and member id after the group id and a per-partition commit timestamp
/// (ignored: Kafka 2.1+ expires commits by group, KIP-211). The response is v2's, which is
/// the same bytes. A v0 commit carries no generation: it is a "simple" commit (generation -1,
/// no member id), as Kafka reads it.
async fn offset_commit_v0_v1(
    broker: &Arc<Broker>,
    version: i16,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    let mut buf = body;
    let group_id = get_string(&mut buf)?;
    let (generation, member_id) = if version >= 1 {
        (get_i32(&mut buf)?, get_string(&mut buf)?)
    } else {
        (-1, String::new())
    };
    let mut topics = Vec::new();
    for _ in 0..get_count(&mut buf)? {
        let name = get_string(&mut buf)?;
        let mut partitions = Vec::new();
        for _ in 0..get_count(&mut buf)? {
            let partition_index = get_i32(&mut buf)?;
            let committed_offset = get_i64(&mut buf)?;
            if version >= 1 {
                let _commit_timestamp = get_i64(&mut buf)?;
            }
            let committed_metadata = get_nullable_string(&mut buf)?;
            partitions.push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(partition_index)
                    .with_committed_offset(committed_offset)
                    .with_committed_metadata(committed_metadata.map(s)),
            );
        }
        topics.push(
            OffsetCommitRequestTopic::default()
                .with_name(TopicName(s(name)))
                .with_partitions(partitions),
        );
    }
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group_id)))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member_id))
        .with_retention_time_ms(-1)
        .with_topics(topics);
    let mut out = BytesMut::new();
    offsets::offset_commit(broker, request)
        .await
        .encode(&mut out, 2)
        .map_err(|e| e.to_string())?;
    Ok(out.to_vec())
}

/// An array length for the wire.
fn len(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A nullable `i16`-length string.
fn put_string(out: &mut BytesMut, value: Option<&str>) {
    match value {
        Some(v) => {
            let bytes = &v.as_bytes()[..v.len().min(i16::MAX as usize)];
            out.put_i16(bytes.len() as i16);
            out.extend_from_slice(bytes);
        }
        None => out.put_i16(-1),
    }
}

fn need(buf: &[u8], n: usize) -> Result<(), String> {
    if buf.remaining() < n {
        return Err(format!("truncated: {n} bytes needed, {} left", buf.len()));
    }
    Ok(())
}

fn get_i32(buf: &mut &[u8]) -> Result<i32, String> {
    need(buf, 4)?;
    Ok(buf.get_i32())
}

fn get_i64(buf: &mut &[u8]) -> Result<i64, String> {
    need(buf, 8)?;
    Ok(buf.get_i64())
}

/// An array count; a negative one (null) is an empty array.
fn get_count(buf: &mut &[u8]) -> Result<usize, String> {
    let n = get_i32(buf)?;
    let n = usize::try_from(n).unwrap_or(0);
    // Every element takes at least 4 bytes: a count beyond that is malformed.
    if n > buf.len() / 4 + 1 {
        return Err(format!("array of {n} elements in {} bytes", buf.len()));
    }
    Ok(n)
}

fn get_nullable_string(buf: &mut &[u8]) -> Result<Option<String>, String> {
    need(buf, 2)?;
    let n = buf.get_i16();
    let Ok(n) = usize::try_from(n) else {
        return Ok(None);
    };
    need(buf, n)?;
    let text = std::str::from_utf8(&buf[..n])
        .map_err(|e| format!("string is not UTF-8: {e}"))?
        .to_string();
    buf.advance(n);
    Ok(Some(text))
}

fn get_string(buf: &mut &[u8]) -> Result<String, String> {
    get_nullable_string(buf)?.ok_or_else(|| "null where a string is required".to_string())
}
