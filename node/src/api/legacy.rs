//! Request versions Kafka 3.x still serves but `kafka-protocol` 0.18 does not encode: it follows
//! Kafka 4.0, whose minimums KIP-896 raised. Clients set for Kafka 2.x send them (Go's sarama
//! with `V2_0_0_0`, kafka-python on old settings), so each is read and written here by hand,
//! from the Kafka protocol guide's layout of that version, and answered through the same
//! dispatcher ([`super::handle`]) as the versions the crate knows, ACL checks included:
//! nothing is decided here but whether an old message set reads (CORRUPT_MESSAGE).

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    DescribeLogDirsRequest, GroupId, OffsetCommitRequest, OffsetFetchRequest, ProduceRequest,
    RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable};

use super::{Context, configs, s};
use crate::broker::Broker;

/// `request` answered by the dispatcher as the version `version` the crate knows.
async fn handle_as(
    broker: &Arc<Broker>,
    ctx: &Context,
    version: i16,
    request: RequestKind,
) -> Option<ResponseKind> {
    let mut ctx = ctx.clone();
    ctx.header.request_api_version = version;
    let answer = super::handle(broker, &ctx, request).await?;
    // Only a Fetch has file ranges, and no Fetch version is read here.
    debug_assert!(answer.files.is_empty());
    Some(answer.message)
}

/// The error for a dispatcher answer of another kind than asked (never expected).
fn unexpected(api: &str) -> String {
    format!("{api}: the handler gave another kind of answer")
}

/// Whether `version` of `key` is read and written here rather than by `kafka-protocol`.
pub fn is_legacy(key: ApiKey, version: i16) -> bool {
    matches!(
        (key, version),
        (ApiKey::Produce, 0..=2)
            | (ApiKey::DescribeConfigs, 0)
            | (ApiKey::DescribeLogDirs, 0)
            | (ApiKey::OffsetCommit, 0 | 1)
            | (ApiKey::OffsetFetch, 0)
            | (ApiKey::CreateTopics, 0 | 1)
            | (ApiKey::DeleteTopics, 0)
    )
}

/// The response body (after the response header) for a request version kafka-protocol does
/// not encode (`Ok(None)`: no response, Produce with acks=0); `None` when the crate handles
/// this version. Errors: a malformed body.
pub async fn response(
    broker: &Arc<Broker>,
    ctx: &Context,
    key: ApiKey,
    version: i16,
    body: &[u8],
) -> Option<Result<Option<Vec<u8>>, String>> {
    Some(match (key, version) {
        (ApiKey::Produce, 0..=2) => produce_v0_v2(broker, ctx, version, body).await,
        (ApiKey::DescribeConfigs, 0) => describe_configs_v0(broker, ctx, body).await.map(Some),
        (ApiKey::DescribeLogDirs, 0) => describe_log_dirs_v0(broker, ctx, body).await.map(Some),
        (ApiKey::OffsetCommit, 0 | 1) => offset_commit_v0_v1(broker, ctx, version, body)
            .await
            .map(Some),
        (ApiKey::OffsetFetch, 0) => offset_fetch_v0(broker, ctx, body).await.map(Some),
        (ApiKey::CreateTopics, 0 | 1) => create_topics_v0_v1(broker, ctx, version, body)
            .await
            .map(Some),
        (ApiKey::DeleteTopics, 0) => delete_topics_v0(broker, ctx, body).await.map(Some),
        _ => return None,
    })
}

/// Produce v0–v2, the versions of clients set for Kafka 0.9 and 0.10 (KIP-896 removed them in
/// 4.0): the same layout as v3 without the transactional id, carrying magic 0/1 message sets,
/// which core's `message_set` up-converts to record batch v2 as Kafka 3.x does; then the same
/// handler as every version. A message set that does not read is CORRUPT_MESSAGE (2) for its
/// partition. The response is v0's (partition, error, base offset), plus the throttle time
/// (v1) and each partition's LogAppendTime (v2).
async fn produce_v0_v2(
    broker: &Arc<Broker>,
    ctx: &Context,
    version: i16,
    body: &[u8],
) -> Result<Option<Vec<u8>>, String> {
    let mut buf = body;
    need(buf, 2)?;
    let acks = buf.get_i16();
    let timeout_ms = get_i32(&mut buf)?;
    // Each topic's partitions: the converted batch, or the error it got.
    type Converted = Result<Option<Bytes>, i16>;
    let mut asked: Vec<(String, Vec<(i32, Converted)>)> = Vec::new();
    for _ in 0..get_count(&mut buf)? {
        let topic = get_string(&mut buf)?;
        let mut partitions = Vec::new();
        for _ in 0..get_count(&mut buf)? {
            let index = get_i32(&mut buf)?;
            let size = get_i32(&mut buf)?;
            let set = match usize::try_from(size) {
                Ok(n) => {
                    need(buf, n)?;
                    let set = &buf[..n];
                    buf.advance(n);
                    set
                }
                Err(_) => &[][..],
            };
            let converted = runnel_core::message_set::to_batch(set, &broker.codec)
                .map(|b| b.map(Bytes::from))
                .map_err(|e| {
                    tracing::debug!("produce v{version} to {topic}-{index}: {e}");
                    runnel_core::error_code::CORRUPT_MESSAGE
                });
            partitions.push((index, converted));
        }
        asked.push((topic, partitions));
    }
    let request = ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(timeout_ms)
        .with_topic_data(
            asked
                .iter()
                .map(|(topic, partitions)| {
                    TopicProduceData::default()
                        .with_name(TopicName(s(topic.clone())))
                        .with_partition_data(
                            partitions
                                .iter()
                                .filter_map(|(index, converted)| {
                                    let batch = converted.as_ref().ok()?.clone();
                                    Some(
                                        PartitionProduceData::default()
                                            .with_index(*index)
                                            .with_records(batch),
                                    )
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    let response = match handle_as(broker, ctx, 3, RequestKind::Produce(request)).await {
        Some(ResponseKind::Produce(response)) => response,
        None => return Ok(None), // acks=0
        Some(_) => return Err(unexpected("Produce")),
    };
    let answer = |topic: &str, index: i32| {
        response
            .responses
            .iter()
            .filter(|t| t.name.0.as_str() == topic)
            .flat_map(|t| t.partition_responses.iter())
            .find(|p| p.index == index)
    };
    let mut out = BytesMut::new();
    out.put_i32(len(asked.len()));
    for (topic, partitions) in &asked {
        put_string(&mut out, Some(topic));
        out.put_i32(len(partitions.len()));
        for (index, converted) in partitions {
            let (error, base_offset, append_time) = match (converted, answer(topic, *index)) {
                (Err(code), _) => (*code, -1, -1),
                (Ok(_), Some(p)) => (p.error_code, p.base_offset, p.log_append_time_ms),
                (Ok(_), None) => (runnel_core::error_code::UNKNOWN_SERVER_ERROR, -1, -1),
            };
            out.put_i32(*index);
            out.put_i16(error);
            out.put_i64(base_offset);
            if version >= 2 {
                out.put_i64(append_time);
            }
        }
    }
    if version >= 1 {
        out.put_i32(response.throttle_time_ms);
    }
    Ok(Some(out.to_vec()))
}

/// DescribeConfigs v0. Its request is v1's without the trailing `include_synonyms`; its
/// response is v1's with the one-byte `is_default` (true when the source is DEFAULT_CONFIG)
/// where v1 has the one-byte `config_source`, and without synonyms (KIP-226).
async fn describe_configs_v0(
    broker: &Arc<Broker>,
    ctx: &Context,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    let mut v1 = BytesMut::with_capacity(body.len() + 1);
    v1.extend_from_slice(body);
    v1.put_u8(0); // include_synonyms = false
    let request = DescribeConfigsRequest::decode(&mut v1.freeze(), 1).map_err(|e| e.to_string())?;
    let response = match handle_as(broker, ctx, 0, RequestKind::DescribeConfigs(request)).await {
        Some(ResponseKind::DescribeConfigs(response)) => response,
        _ => return Err(unexpected("DescribeConfigs")),
    };
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
async fn describe_log_dirs_v0(
    broker: &Arc<Broker>,
    ctx: &Context,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    let request = DescribeLogDirsRequest::decode(&mut Bytes::copy_from_slice(body), 1)
        .map_err(|e| e.to_string())?;
    let response = match handle_as(broker, ctx, 1, RequestKind::DescribeLogDirs(request)).await {
        Some(ResponseKind::DescribeLogDirs(response)) => response,
        _ => return Err(unexpected("DescribeLogDirs")),
    };
    let mut out = BytesMut::new();
    response.encode(&mut out, 1).map_err(|e| e.to_string())?;
    Ok(out.to_vec())
}

/// OffsetCommit v0 and v1. v0: group id, then topics of (partition, offset, metadata); v1 adds
/// the generation and member id after the group id and a per-partition commit timestamp
/// (ignored: Kafka 2.1+ expires commits by group, KIP-211). The response is v2's, which is
/// the same bytes. A v0 commit carries no generation: it is a "simple" commit (generation -1,
/// no member id), as Kafka reads it.
async fn offset_commit_v0_v1(
    broker: &Arc<Broker>,
    ctx: &Context,
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
    let response = match handle_as(broker, ctx, 2, RequestKind::OffsetCommit(request)).await {
        Some(ResponseKind::OffsetCommit(response)) => response,
        _ => return Err(unexpected("OffsetCommit")),
    };
    let mut out = BytesMut::new();
    response.encode(&mut out, 2).map_err(|e| e.to_string())?;
    Ok(out.to_vec())
}

/// OffsetFetch v0: the same bytes as v1 both ways (v0 read ZooKeeper's commits, v1 Kafka's).
async fn offset_fetch_v0(
    broker: &Arc<Broker>,
    ctx: &Context,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    let request = OffsetFetchRequest::decode(&mut Bytes::copy_from_slice(body), 1)
        .map_err(|e| e.to_string())?;
    let response = match handle_as(broker, ctx, 1, RequestKind::OffsetFetch(request)).await {
        Some(ResponseKind::OffsetFetch(response)) => response,
        _ => return Err(unexpected("OffsetFetch")),
    };
    let mut out = BytesMut::new();
    response.encode(&mut out, 1).map_err(|e| e.to_string())?;
    Ok(out.to_vec())
}

/// CreateTopics v0 and v1: v1's request is v2's, v0's lacks the trailing `validate_only`;
/// the answer is each topic's name and error code, plus its message from v1 (v2 adds the
/// throttle time in front).
async fn create_topics_v0_v1(
    broker: &Arc<Broker>,
    ctx: &Context,
    version: i16,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    let mut v2 = BytesMut::from(body);
    if version == 0 {
        v2.put_u8(0); // validate_only = false
    }
    let request = CreateTopicsRequest::decode(&mut v2.freeze(), 2).map_err(|e| e.to_string())?;
    let response = match handle_as(broker, ctx, 2, RequestKind::CreateTopics(request)).await {
        Some(ResponseKind::CreateTopics(response)) => response,
        _ => return Err(unexpected("CreateTopics")),
    };
    let mut out = BytesMut::new();
    out.put_i32(len(response.topics.len()));
    for topic in &response.topics {
        put_string(&mut out, Some(&topic.name));
        out.put_i16(topic.error_code);
        if version >= 1 {
            put_string(&mut out, topic.error_message.as_deref());
        }
    }
    Ok(out.to_vec())
}

/// DeleteTopics v0: v1's request; the answer is v1's without the throttle time in front.
async fn delete_topics_v0(
    broker: &Arc<Broker>,
    ctx: &Context,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    let request = DeleteTopicsRequest::decode(&mut Bytes::copy_from_slice(body), 1)
        .map_err(|e| e.to_string())?;
    let response = match handle_as(broker, ctx, 1, RequestKind::DeleteTopics(request)).await {
        Some(ResponseKind::DeleteTopics(response)) => response,
        _ => return Err(unexpected("DeleteTopics")),
    };
    let mut out = BytesMut::new();
    out.put_i32(len(response.responses.len()));
    for topic in &response.responses {
        put_string(&mut out, topic.name.as_ref().map(|n| n.as_str()));
        out.put_i16(topic.error_code);
    }
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
