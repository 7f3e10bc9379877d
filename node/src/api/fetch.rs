//! Fetch: reading records, with long polling (`max_wait_ms`, `min_bytes`).
//!
//! One node is its own only replica, so the high watermark is the log end offset. Every
//! partition is read in request order (in a fetch session, KIP-227, in the session's order:
//! partitions just answered go last); the response stops growing at the request's
//! `max_bytes`, but the first non-empty partition always returns at least one whole batch, so
//! a consumer makes progress past a batch larger than its limits (KIP-74). When fewer than
//! `min_bytes` are ready, the request waits until `max_wait_ms` has passed for more: a consumer
//! for a high watermark to rise, a follower for appends.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse, ProducerId, TopicName,
};
use std::collections::BTreeSet;

use runnel_core::acl::{AclOperation, ResourceType};
use runnel_core::error_code;
use runnel_core::fetch_session::{
    FetchContext, FetchSessions, INVALID_SESSION_ID, PartitionAnswer, SessionError,
};
use runnel_core::log::{Log, LogError, ReadRange};
use runnel_core::replica::ReplicaError;

use super::Context;
use crate::broker::{Broker, Topic};
use crate::response::FileRange;
use crate::storage::{FileSegmentStore, StoreError};

/// The longest a fetch waits, whatever it asks (Kafka's clients ask for 500 ms or less).
const MAX_WAIT_CAP_MS: u64 = 30_000;

/// Fetch v7 is the first with fetch sessions (KIP-227).
const FIRST_SESSION_VERSION: i16 = 7;

/// One partition a fetch reads, keyed by (topic name, partition): what its request asked
/// (or, in an incremental fetch session, what the session holds for it). The follower's
/// fetcher keeps the same value for what its session holds.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionPartition {
    /// The topic as the request named it (empty from Fetch v13, which names topics by id).
    pub topic: TopicName,
    /// The topic's id as the request gave it (nil before Fetch v13).
    pub topic_id: uuid::Uuid,
    /// Where to read from.
    pub fetch_offset: i64,
    /// Bytes to return at most for this partition (`partition_max_bytes`).
    pub partition_max_bytes: i32,
    /// The fetcher's leader epoch (KIP-320; -1: unchecked).
    pub current_leader_epoch: i32,
}

/// A broker's incremental fetch sessions (KIP-227), whose rules are core's.
pub type FetchSessionCache = FetchSessions<(Arc<str>, i32), SessionPartition>;

/// Fetch, waiting up to `max_wait_ms` for `min_bytes`.
///
/// From v7 a fetch may be in an incremental fetch session (KIP-227, [`FetchSessions`]): it
/// names only the partitions whose request changed, reads every partition of its session,
/// and the response names only those with records, errors, or a moved high watermark or log
/// start. A session error answers FETCH_SESSION_ID_NOT_FOUND or INVALID_FETCH_SESSION_EPOCH
/// with no partitions.
///
/// ACLs (Kafka's `handleFetchRequest`): a consumer needs READ on each topic, a follower
/// (`replica_id` ≥ 0) CLUSTER_ACTION on the cluster; the partitions of a topic it may not
/// read are answered TOPIC_AUTHORIZATION_FAILED.
///
/// Records are not read, a consumer's nor a follower's: each partition's answer stands as a
/// [placeholder](crate::response::placeholder), and the second value lists, per placeholder
/// in response order, the segment file ranges to send in its place (Kafka's zero-copy
/// `FileRecords`).
pub(super) async fn fetch(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: FetchRequest,
) -> (FetchResponse, Vec<Vec<FileRange>>) {
    let version = ctx.header.request_api_version;
    let follower = request.replica_id.0 >= 0;
    let updates: Vec<((Arc<str>, i32), SessionPartition)> = request
        .topics
        .iter()
        .flat_map(|t| {
            let name = topic_name(broker, &t.topic, t.topic_id);
            t.partitions.iter().map(move |p| {
                let read = SessionPartition {
                    topic: t.topic.clone(),
                    topic_id: t.topic_id,
                    fetch_offset: p.fetch_offset,
                    partition_max_bytes: p.partition_max_bytes,
                    current_leader_epoch: p.current_leader_epoch,
                };
                ((name.clone(), p.partition), read)
            })
        })
        .collect();
    let opened = if version >= FIRST_SESSION_VERSION {
        let forgotten: Vec<(Arc<str>, i32)> = request
            .forgotten_topics_data
            .iter()
            .flat_map(|t| {
                let name = topic_name(broker, &t.topic, t.topic_id);
                t.partitions.iter().map(move |p| (name.clone(), *p))
            })
            .collect();
        broker.fetch_sessions().begin(
            crate::broker::now_ms(),
            request.session_id,
            request.session_epoch,
            updates,
            &forgotten,
        )
    } else {
        Ok((FetchContext::Sessionless, updates))
    };
    let (context, reads) = match opened {
        Ok(opened) => opened,
        Err(e) => return (session_error(e), Vec::new()),
    };
    let follower_allowed = !follower || ctx.may_cluster(broker, AclOperation::ClusterAction);
    let refused: BTreeSet<&str> = reads
        .iter()
        .map(|((name, _), _)| &**name)
        .filter(|name| {
            !follower_allowed
                || (!follower && !ctx.may(broker, AclOperation::Read, ResourceType::Topic, name))
        })
        .collect();
    let all_refused =
        !refused.is_empty() && reads.iter().all(|((name, _), _)| refused.contains(&**name));
    let wait = Duration::from_millis(
        u64::try_from(request.max_wait_ms)
            .unwrap_or(0)
            .min(MAX_WAIT_CAP_MS),
    );
    let deadline = tokio::time::Instant::now() + wait;
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let max_bytes = usize::try_from(request.max_bytes).unwrap_or(0);
    let asker = Asker {
        version,
        replica_id: request.replica_id.0,
        max_bytes,
        read_committed: request.isolation_level == 1,
    };
    loop {
        // Registered before reading, so an append between the read and the wait still wakes us.
        // A follower reads to the log end and waits for appends; a consumer reads to the high
        // watermark and waits for it to rise.
        let woken = if follower {
            broker.appended.notified()
        } else {
            broker.high_watermark_rose.notified()
        };
        tokio::pin!(woken);
        woken.as_mut().enable();
        let read = read_once(broker, &asker, &reads, &refused);
        let now = tokio::time::Instant::now();
        // Nothing to read (a request closing its session, or one that forgot every partition)
        // answers at once, as in Kafka.
        let nothing = reads.is_empty();
        if read.bytes >= min_bytes.max(1)
            || read.errors
            || all_refused
            || nothing
            || now >= deadline
        {
            broker
                .metrics
                .bytes_out
                .fetch_add(read.bytes as u64, std::sync::atomic::Ordering::Relaxed);
            broker
                .metrics
                .records_out
                .fetch_add(read.records, std::sync::atomic::Ordering::Relaxed);
            let closed = broker.fetch_sessions().finish(
                crate::broker::now_ms(),
                context,
                follower,
                &reads,
                &read.answers,
            );
            return match closed {
                Ok((session_id, named)) => {
                    respond(&reads, read.partitions, read.files, &named, session_id)
                }
                Err(e) => (session_error(e), Vec::new()),
            };
        }
        // Woken by an append (a high watermark's rise) or by the deadline: read again.
        let _ = tokio::time::timeout_at(deadline, woken).await;
    }
}

/// A session error: the code, no partitions, no session (Kafka's `SessionErrorContext`).
fn session_error(e: SessionError) -> FetchResponse {
    FetchResponse::default()
        .with_error_code(e.kafka_error_code())
        .with_session_id(INVALID_SESSION_ID)
}

/// The response: the partitions `named`, grouped by topic in reading order, and the file
/// ranges of their placeholders in the same order.
fn respond(
    reads: &[((Arc<str>, i32), SessionPartition)],
    partitions: Vec<PartitionData>,
    files: Vec<Vec<FileRange>>,
    named: &[bool],
    session_id: i32,
) -> (FetchResponse, Vec<Vec<FileRange>>) {
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    let mut placeholders = Vec::new();
    let mut last: Option<&str> = None;
    let answers = reads.iter().zip(partitions).zip(files).zip(named);
    for (((((name, _), read), data), files), named) in answers {
        if !named {
            continue;
        }
        if !files.is_empty() {
            placeholders.push(files);
        }
        match topics.last_mut() {
            Some(topic) if last == Some(&**name) => topic.partitions.push(data),
            _ => {
                last = Some(&**name);
                topics.push(
                    FetchableTopicResponse::default()
                        .with_topic(read.topic.clone())
                        .with_topic_id(read.topic_id)
                        .with_partitions(vec![data]),
                );
            }
        }
    }
    let response = FetchResponse::default()
        .with_session_id(session_id)
        .with_responses(topics);
    (response, placeholders)
}

/// Who asks, as far as reading goes.
struct Asker {
    version: i16,
    /// The follower's id, or -1 for a consumer.
    replica_id: i32,
    /// The request's `max_bytes`.
    max_bytes: usize,
    /// `isolation_level` 1 (`read_committed`, KIP-98): records up to the last stable offset,
    /// with the aborted transactions among them.
    read_committed: bool,
}

/// One pass over the partitions a fetch reads.
struct Read {
    /// Each partition's answer, in reading order.
    partitions: Vec<PartitionData>,
    /// The file ranges of each partition's placeholder (empty: its records, if any, are in
    /// its answer).
    files: Vec<Vec<FileRange>>,
    /// What decides whether an incremental response names each one.
    answers: Vec<PartitionAnswer>,
    /// Record bytes in the answers.
    bytes: usize,
    /// Records in their batches.
    records: u64,
    /// Some partition answered with an error (which ends the wait, as in Kafka).
    errors: bool,
}

/// One pass over the partitions `reads`.
fn read_once(
    broker: &Broker,
    asker: &Asker,
    reads: &[((Arc<str>, i32), SessionPartition)],
    refused: &BTreeSet<&str>,
) -> Read {
    let mut remaining = asker.max_bytes;
    let mut read = Read {
        partitions: Vec::with_capacity(reads.len()),
        files: Vec::with_capacity(reads.len()),
        answers: Vec::with_capacity(reads.len()),
        bytes: 0,
        records: 0,
        errors: false,
    };
    let replica_fetch = asker.replica_id >= 0 && broker.cluster().is_some();
    let now_ms = crate::broker::now_ms();
    // Reads come grouped by topic: one lookup serves a topic's partitions.
    let mut topic: Option<Arc<Topic>> = None;
    for ((name, index), p) in reads {
        let PartitionRead {
            data,
            error,
            files,
            records,
        } = read_partition(
            broker,
            &mut topic,
            asker,
            now_ms,
            replica_fetch,
            name,
            *index,
            p,
            refused.contains(&**name),
            &mut remaining,
            read.bytes,
        );
        let len = data.records.as_ref().map_or(0, |r| r.len());
        if error {
            read.errors = true;
        }
        read.records += records;
        read.bytes += len;
        read.answers.push(PartitionAnswer {
            has_records: len > 0,
            error: data.error_code != error_code::NONE,
            high_watermark: data.high_watermark,
            log_start_offset: data.log_start_offset,
        });
        read.partitions.push(data);
        read.files.push(files);
    }
    read
}

/// One partition's part of a fetch.
struct PartitionRead {
    /// Its answer (its records as a placeholder for `files`).
    data: PartitionData,
    /// An error that ends the wait.
    error: bool,
    /// The segment file ranges of its records (empty when they are in `data`, or none).
    files: Vec<FileRange>,
    /// Records read, for the metrics (a consumer's only: a follower's copy is not served).
    records: u64,
}

impl PartitionRead {
    /// An answer with no file ranges and no records counted.
    fn answer(data: PartitionData, error: bool) -> Self {
        Self {
            data,
            error,
            files: Vec::new(),
            records: 0,
        }
    }
}

/// One partition's answer, and whether it is an error that ends the wait.
/// `remaining` is what is left of the request's `max_bytes`, `total` the record bytes already
/// in the response; `topic` the topic the pass looked up last (looked up again for another).
#[allow(clippy::too_many_arguments)]
fn read_partition(
    broker: &Broker,
    topic: &mut Option<Arc<Topic>>,
    asker: &Asker,
    now_ms: u64,
    replica_fetch: bool,
    name: &str,
    index: i32,
    p: &SessionPartition,
    refused: bool,
    remaining: &mut usize,
    total: usize,
) -> PartitionRead {
    let data = PartitionData::default()
        .with_partition_index(index)
        .with_preferred_read_replica(BrokerId(-1))
        .with_aborted_transactions(Some(Vec::new()));
    if refused {
        // Not an error that ends the wait: the others still long-poll (Kafka merges the
        // refused partitions into the answer of the authorized ones).
        let data = data
            .with_error_code(error_code::TOPIC_AUTHORIZATION_FAILED)
            .with_high_watermark(-1)
            .with_records(Some(Bytes::new()));
        return PartitionRead::answer(data, false);
    }
    // One lookup; whether this node leads it is read under the partition's lock (core's
    // replica refuses a follower's fetch itself).
    let partition = match broker.partition_via(topic, name, index) {
        Ok(partition) => partition,
        Err(e) => {
            let data = data.with_error_code(e.code).with_high_watermark(-1);
            return PartitionRead::answer(data, true);
        }
    };
    let mut state = partition.lock();
    let limit = usize::try_from(p.partition_max_bytes)
        .unwrap_or(0)
        .min(*remaining);
    if replica_fetch {
        // A follower's fetch (cluster mode): the core's leader counts its offset toward the HW
        // and its ISR membership. last_stable_offset carries the leader's LEO.
        // Its records go from the segment files to the socket, as a consumer's (Kafka's leader
        // answers its followers from `FileRecords` too).
        let leo = state.log().log_end_offset();
        let (mut read, ready) = state.host.handle_replica_fetch_ranges(
            now_ms,
            asker.replica_id as u32,
            p.fetch_offset,
            p.current_leader_epoch,
            limit.max(1),
        );
        // Once the response is full (`max_bytes`), later partitions still count the
        // follower's offset toward the HW and the ISR, but bring no records (it asks again
        // from there).
        if let Ok(r) = &mut read {
            if past_limit(total, limit, r.len()) {
                r.ranges.clear();
            }
            *remaining = remaining.saturating_sub(r.len());
        }
        let start = state.log().log_start_offset();
        let _ = broker.carry_out(&partition, &mut state, ready);
        let data = data
            .with_log_start_offset(start)
            .with_last_stable_offset(leo);
        let records = read.map_err(|e| e.kafka_error_code()).and_then(|r| {
            let records =
                records_of(state.log(), &r.ranges, r.len()).map_err(|e| e.kafka_error_code())?;
            Ok((r.high_watermark, records))
        });
        return match records {
            Ok((high_watermark, (bytes, files))) => PartitionRead {
                data: data
                    .with_high_watermark(high_watermark)
                    .with_records(Some(bytes)),
                error: false,
                files,
                // A follower's copy is not counted as served.
                records: 0,
            },
            // Kafka's `FetchResponse.partitionResponse(partition, error)`: no offsets.
            Err(code) => PartitionRead::answer(
                data.with_error_code(code)
                    .with_high_watermark(-1)
                    .with_last_stable_offset(-1)
                    .with_log_start_offset(-1)
                    .with_records(Some(Bytes::new())),
                true,
            ),
        };
    }
    // A consumer's read is core's (leader only, KIP-320's epoch check, up to the high
    // watermark or under read_committed the last stable offset, KIP-74's first batch); the
    // first partition with records in the response may exceed its limit.
    let read = state
        .replica()
        .handle_consumer_fetch(
            p.fetch_offset,
            p.current_leader_epoch,
            asker.read_committed,
            limit,
            total == 0,
        )
        .and_then(|read| {
            let (bytes, files) = records_of(state.log(), &read.ranges, read.len())
                .map_err(|e| ReplicaError::Storage(e.to_string()))?;
            Ok((read, bytes, files))
        });
    match read {
        Ok((read, bytes, files)) => {
            *remaining = remaining.saturating_sub(read.len());
            let aborted = read
                .aborted
                .iter()
                .map(|t| {
                    AbortedTransaction::default()
                        .with_producer_id(ProducerId(t.producer_id))
                        .with_first_offset(t.first_offset)
                })
                .collect();
            let data = data
                .with_high_watermark(read.high_watermark)
                .with_last_stable_offset(read.last_stable_offset)
                .with_log_start_offset(if asker.version >= 5 {
                    read.log_start_offset
                } else {
                    -1
                })
                .with_aborted_transactions(Some(aborted))
                .with_records(Some(bytes));
            PartitionRead {
                data,
                error: false,
                files,
                records: read.records(),
            }
        }
        Err(e) => {
            let code = e.kafka_error_code();
            if code == error_code::KAFKA_STORAGE_ERROR {
                tracing::warn!("fetch {name}-{index} at {}: {e}", p.fetch_offset);
            }
            // Kafka's `FetchResponse.partitionResponse(partition, error)`: no high watermark,
            // last stable offset or log start (-1, the fields' defaults).
            let data = data
                .with_error_code(code)
                .with_high_watermark(-1)
                .with_records(Some(Bytes::new()));
            PartitionRead::answer(data, true)
        }
    }
}

/// The records of `ranges` (`len` bytes of `log`): a placeholder, with the segment file ranges
/// to send in its place; or, when there are none or more than a placeholder stands for, the
/// bytes themselves ([`Log::read_bytes`]).
fn records_of(
    log: &Log<FileSegmentStore>,
    ranges: &[ReadRange],
    len: usize,
) -> Result<(Bytes, Vec<FileRange>), LogError<StoreError>> {
    if let Some(placeholder) = crate::response::placeholder(len).filter(|_| len > 0) {
        let files = ranges
            .iter()
            .map(|r| {
                Ok(FileRange {
                    file: log.store().log_file(r.base_offset)?,
                    position: r.position,
                    len: r.len,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(LogError::Store)?;
        return Ok((placeholder, files));
    }
    Ok((Bytes::from(log.read_bytes(ranges)?), Vec::new()))
}

/// A fetched topic's name, as a session key: as asked, or from its id (Fetch v13+ names
/// topics by id).
fn topic_name(broker: &Broker, topic: &TopicName, topic_id: uuid::Uuid) -> Arc<str> {
    if topic.0.is_empty() {
        broker
            .topic_by_id(topic_id)
            .map(|t| Arc::from(t.name.as_str()))
            .unwrap_or_else(|| Arc::from(""))
    } else {
        Arc::from(topic.0.as_str())
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
