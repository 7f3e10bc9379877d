//! Fetch: reading records, with long polling (`max_wait_ms`, `min_bytes`).
//!
//! One node is its own only replica, so the high watermark is the log end offset. Every
//! partition is read in request order; the response stops growing at the request's
//! `max_bytes`, but the first non-empty partition always returns at least one whole batch, so
//! a consumer makes progress past a batch larger than its limits (KIP-74). When fewer than
//! `min_bytes` are ready, the request waits for appends until `max_wait_ms` has passed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
};
use std::collections::BTreeSet;

use runnel_core::acl::{AclOperation, ResourceType};
use runnel_core::batch::BatchHeader;
use runnel_core::error_code;

use super::Context;
use crate::broker::Broker;

/// The longest a fetch waits, whatever it asks (Kafka's clients ask for 500 ms or less).
const MAX_WAIT_CAP_MS: u64 = 30_000;

/// Fetch, waiting up to `max_wait_ms` for `min_bytes`.
///
/// ACLs (Kafka's `handleFetchRequest`): a consumer needs READ on each topic, a follower
/// (`replica_id` ≥ 0) CLUSTER_ACTION on the cluster; the partitions of a topic it may not
/// read are answered TOPIC_AUTHORIZATION_FAILED.
pub(super) async fn fetch(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: FetchRequest,
) -> FetchResponse {
    let version = ctx.header.request_api_version;
    let follower_allowed =
        request.replica_id.0 < 0 || ctx.may_cluster(broker, AclOperation::ClusterAction);
    let refused: BTreeSet<String> = request
        .topics
        .iter()
        .map(|t| topic_name(broker, t))
        .filter(|name| {
            !follower_allowed
                || (request.replica_id.0 < 0
                    && !ctx.may(broker, AclOperation::Read, ResourceType::Topic, name))
        })
        .collect();
    let all_refused = !refused.is_empty()
        && request
            .topics
            .iter()
            .all(|t| refused.contains(&topic_name(broker, t)));
    let wait = Duration::from_millis(
        u64::try_from(request.max_wait_ms)
            .unwrap_or(0)
            .min(MAX_WAIT_CAP_MS),
    );
    let deadline = tokio::time::Instant::now() + wait;
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    loop {
        // Registered before reading, so an append between the read and the wait still wakes us.
        let appended = broker.appended.notified();
        tokio::pin!(appended);
        appended.as_mut().enable();
        let (response, bytes, records, errors) = read_once(broker, version, &request, &refused);
        let now = tokio::time::Instant::now();
        if bytes >= min_bytes.max(1) || errors || all_refused || now >= deadline {
            broker
                .metrics
                .bytes_out
                .fetch_add(bytes as u64, std::sync::atomic::Ordering::Relaxed);
            broker
                .metrics
                .records_out
                .fetch_add(records, std::sync::atomic::Ordering::Relaxed);
            return response;
        }
        // Woken by an append or by the deadline; either way read again.
        let _ = tokio::time::timeout_at(deadline, appended).await;
    }
}

/// One pass over the requested partitions: the response, its record bytes, the records in its
/// batches, and whether any partition answered with an error (which ends the wait, as Kafka).
fn read_once(
    broker: &Broker,
    version: i16,
    request: &FetchRequest,
    refused: &BTreeSet<String>,
) -> (FetchResponse, usize, u64, bool) {
    let mut remaining = usize::try_from(request.max_bytes).unwrap_or(0);
    let mut total = 0usize;
    let mut records = 0u64;
    let mut errors = false;
    let mut topics = Vec::with_capacity(request.topics.len());
    let replica_fetch = request.replica_id.0 >= 0 && broker.cluster().is_some();
    for fetch_topic in &request.topics {
        let name = topic_name(broker, fetch_topic);
        let mut partitions = Vec::with_capacity(fetch_topic.partitions.len());
        for p in &fetch_topic.partitions {
            let data = PartitionData::default()
                .with_partition_index(p.partition)
                .with_preferred_read_replica(BrokerId(-1))
                .with_aborted_transactions(Some(Vec::new()));
            if refused.contains(&name) {
                // Not an error that ends the wait: the others still long-poll (Kafka merges
                // the refused partitions into the answer of the authorized ones).
                partitions.push(
                    data.with_error_code(error_code::TOPIC_AUTHORIZATION_FAILED)
                        .with_high_watermark(-1)
                        .with_records(Some(Bytes::new())),
                );
                continue;
            }
            let partition = match broker.led_partition(&name, p.partition) {
                Ok(partition) => partition,
                Err(e) => {
                    errors = true;
                    partitions.push(data.with_error_code(e.code).with_high_watermark(-1));
                    continue;
                }
            };
            let mut state = partition.lock();
            let leo = state.log().log_end_offset();
            if replica_fetch {
                // A follower's fetch (cluster mode): the core's leader counts its offset toward
                // the HW and its ISR membership. last_stable_offset carries the leader's LEO.
                let limit = usize::try_from(p.partition_max_bytes)
                    .unwrap_or(0)
                    .min(remaining);
                let (mut answer, ready) = state.host.handle_replica_fetch(
                    crate::broker::now_ms(),
                    request.replica_id.0 as u32,
                    p.fetch_offset,
                    p.current_leader_epoch,
                    limit.max(1),
                );
                // One fetcher asks for every partition it follows here: once the response is
                // full (`max_bytes`), later partitions still count the follower's offset toward
                // the HW and the ISR, but bring no records (it asks again from there).
                if let Ok(a) = &mut answer {
                    if past_limit(total, limit, a.records.len()) {
                        a.records.clear();
                    }
                    remaining = remaining.saturating_sub(a.records.len());
                }
                let start = state.log().log_start_offset();
                let _ = broker.carry_out(&partition, &mut state, ready);
                let data = data
                    .with_log_start_offset(start)
                    .with_last_stable_offset(leo);
                partitions.push(match answer {
                    Ok(a) => {
                        total += a.records.len();
                        data.with_high_watermark(a.high_watermark)
                            .with_records(Some(Bytes::from(a.records)))
                    }
                    Err(e) => {
                        errors = true;
                        data.with_error_code(e.kafka_error_code())
                            .with_high_watermark(-1)
                            .with_records(Some(Bytes::new()))
                    }
                });
                continue;
            }
            // Consumers read up to the high watermark (on a single node, the log end).
            let leo = state.high_watermark();
            let data = data
                .with_high_watermark(leo)
                .with_last_stable_offset(leo)
                .with_log_start_offset(if version >= 5 {
                    state.log().log_start_offset()
                } else {
                    -1
                });
            // Once the response is full, later partitions answer empty; the first non-empty
            // one always gets a whole batch.
            let limit = usize::try_from(p.partition_max_bytes)
                .unwrap_or(0)
                .min(remaining);
            if total > 0 && limit == 0 {
                partitions.push(data.with_records(Some(Bytes::new())));
                continue;
            }
            match state.log().read(p.fetch_offset, limit.max(1), leo) {
                // The log returns a first batch whole even past the limit; a later partition
                // that does not fit answers empty and its batch comes in the next fetch.
                Ok(bytes) if past_limit(total, limit, bytes.len()) => {
                    partitions.push(data.with_records(Some(Bytes::new())));
                }
                Ok(bytes) => {
                    total += bytes.len();
                    records += record_count(&bytes);
                    remaining = remaining.saturating_sub(bytes.len());
                    partitions.push(data.with_records(Some(Bytes::from(bytes))));
                }
                Err(e) => {
                    errors = true;
                    let code = e.kafka_error_code();
                    if code != error_code::OFFSET_OUT_OF_RANGE {
                        tracing::warn!("fetch {name}-{} at {}: {e}", p.partition, p.fetch_offset);
                    }
                    partitions.push(data.with_error_code(code).with_records(Some(Bytes::new())));
                }
            }
        }
        topics.push(
            FetchableTopicResponse::default()
                .with_topic(fetch_topic.topic.clone())
                .with_topic_id(fetch_topic.topic_id)
                .with_partitions(partitions),
        );
    }
    (
        FetchResponse::default().with_responses(topics),
        total,
        records,
        errors,
    )
}

/// A fetched topic's name: as asked, or from its id (Fetch v13+ names topics by id).
fn topic_name(
    broker: &Broker,
    topic: &kafka_protocol::messages::fetch_request::FetchTopic,
) -> String {
    if topic.topic.0.is_empty() {
        broker
            .topic_by_id(topic.topic_id)
            .map(|t| t.name.clone())
            .unwrap_or_default()
    } else {
        topic.topic.0.to_string()
    }
}

/// KIP-74: only the response's first non-empty partition may exceed the byte limit (with its
/// first batch). A later partition's read of `len` bytes, with `total` bytes already in the
/// response and `limit` left for it, is dropped when it does not fit.
fn past_limit(total: usize, limit: usize, len: usize) -> bool {
    total > 0 && len > limit
}

/// OffsetsForLeaderEpoch: where each asked epoch ends in this node's log (KIP-101, KIP-279).
/// In a cluster only the leader answers (a follower's truncation point must be the leader's).
///
/// ACLs (Kafka's `handleOffsetForLeaderEpochRequest`): CLUSTER_ACTION on the cluster, or
/// DESCRIBE on each topic; else TOPIC_AUTHORIZATION_FAILED.
pub(super) fn offset_for_leader_epoch(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let cluster_action = ctx.may_cluster_quietly(broker, AclOperation::ClusterAction);
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let name = topic.topic.0.to_string();
            let allowed = cluster_action
                || ctx.may(broker, AclOperation::Describe, ResourceType::Topic, &name);
            let partitions = topic
                .partitions
                .into_iter()
                .map(|p| {
                    let answer = EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
                    if !allowed {
                        return answer.with_error_code(error_code::TOPIC_AUTHORIZATION_FAILED);
                    }
                    match broker.led_partition(&name, p.partition) {
                        Ok(partition) => {
                            let state = partition.lock();
                            match state
                                .replica()
                                .handle_epoch_end_request(p.leader_epoch, p.current_leader_epoch)
                            {
                                Ok((epoch, end)) => {
                                    answer.with_leader_epoch(epoch).with_end_offset(end)
                                }
                                Err(e) => answer.with_error_code(e.kafka_error_code()),
                            }
                        }
                        Err(e) => answer.with_error_code(e.code),
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

/// Records in a run of batches, from their headers alone.
fn record_count(mut bytes: &[u8]) -> u64 {
    let mut count = 0;
    while let Ok(header) = BatchHeader::decode(bytes) {
        count += header.record_count.max(0) as u64;
        bytes = bytes.get(header.size()..).unwrap_or_default();
    }
    count
}
