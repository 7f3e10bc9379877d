//! A follower's fetcher: one thread per followed partition, talking the Kafka protocol to the
//! leader like any Kafka follower — OffsetsForLeaderEpoch to find where to truncate after a
//! leader change (KIP-101), then Fetch with its replica id, handing every answer to the core's
//! replica. It stops when the replica is no longer a follower.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use runnel_core::error_code;
use runnel_core::replica::FetchAnswer;

use crate::broker::{Broker, now_ms};
use crate::cli::Client;

/// Fetch version used between nodes (replica id in the request, leader epochs per partition).
const FETCH_VERSION: i16 = 11;
/// OffsetsForLeaderEpoch version used between nodes (replica id in the request).
const EPOCH_VERSION: i16 = 3;
/// How long the leader holds an empty fetch.
const MAX_WAIT_MS: i32 = 200;
/// Pause after an error (leader unknown, connection refused, stale epoch).
const BACKOFF: Duration = Duration::from_millis(100);
/// How long a fetch or epoch request may go unanswered before the fetcher gives up on the
/// connection and looks at the metadata again (Kafka's `replica.socket.timeout.ms`, 30 s
/// there). A leader's answer takes at most `MAX_WAIT_MS` plus a round trip; anything longer
/// means the leader is stopped or cut off, and the fetcher must not sit on it past a leader
/// change, or the new leader's ISR stays short (acks=all refused) for the whole wait.
const SOCKET_TIMEOUT: Duration = Duration::from_millis(MAX_WAIT_MS as u64 + 800);

/// What the replica needs next.
enum Job {
    /// Where does this epoch end on the leader?
    EpochEnd(i32),
    /// Records from this offset, as a follower of this epoch.
    Fetch(i64, i32),
}

/// Runs until the partition's replica stops following.
pub fn follow(broker: Arc<Broker>, topic: String, index: i32) {
    let mut connection: Option<(u32, Client)> = None;
    let overrides = super::parse_voters(&broker.config.inter_broker_endpoints).unwrap_or_default();
    loop {
        let Ok(partition) = broker.partition(&topic, index) else {
            break;
        };
        let (leader, job) = {
            let state = partition.lock();
            if let Some((leader, epoch)) = state.replica.pending_epoch_request() {
                (leader, Job::EpochEnd(epoch))
            } else if let Some((leader, offset)) = state.replica.fetch_offset() {
                (leader, Job::Fetch(offset, state.replica.leader_epoch()))
            } else {
                break;
            }
        };
        if connection.as_ref().is_none_or(|(l, _)| *l != leader) {
            connection = None;
            let endpoint = overrides
                .iter()
                .find(|v| v.id as u32 == leader)
                .map(|v| v.addr.to_string())
                .or_else(|| {
                    broker
                        .cluster()
                        .and_then(|c| c.image().endpoints.get(&leader).cloned())
                        .map(|(host, port)| format!("{host}:{port}"))
                });
            let Some(endpoint) = endpoint else {
                std::thread::sleep(BACKOFF);
                continue;
            };
            match Client::connect_with_read_timeout(&endpoint, SOCKET_TIMEOUT) {
                Ok(client) => connection = Some((leader, client)),
                Err(_) => {
                    std::thread::sleep(BACKOFF);
                    continue;
                }
            }
        }
        let Some((_, client)) = connection.as_mut() else {
            continue;
        };
        let me = broker.config.node_id;
        let ok = match job {
            Job::EpochEnd(epoch) => ask_epoch_end(&broker, client, me, &topic, index, epoch),
            Job::Fetch(offset, epoch) => fetch(&broker, client, me, &topic, index, offset, epoch),
        };
        match ok {
            Ok(true) => {}
            Ok(false) => std::thread::sleep(BACKOFF),
            Err(()) => {
                connection = None;
                std::thread::sleep(BACKOFF);
            }
        }
    }
    broker.fetcher_stopped(&topic, index);
}

/// OffsetsForLeaderEpoch; true when the replica truncated and may fetch.
fn ask_epoch_end(
    broker: &Broker,
    client: &mut Client,
    me: i32,
    topic: &str,
    index: i32,
    epoch: i32,
) -> Result<bool, ()> {
    let Ok(partition) = broker.partition(topic, index) else {
        return Ok(false);
    };
    let current = partition.lock().replica.leader_epoch();
    let request = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(me))
        .with_topics(vec![
            OffsetForLeaderTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(vec![
                    OffsetForLeaderPartition::default()
                        .with_partition(index)
                        .with_current_leader_epoch(current)
                        .with_leader_epoch(epoch),
                ]),
        ]);
    let response: OffsetForLeaderEpochResponse = client
        .call(ApiKey::OffsetForLeaderEpoch, EPOCH_VERSION, &request)
        .map_err(drop)?;
    let Some(answer) = response.topics.first().and_then(|t| t.partitions.first()) else {
        return Ok(false);
    };
    if answer.error_code != 0 {
        return Ok(false);
    }
    let mut state = partition.lock();
    let before = state.log().log_end_offset();
    state
        .replica
        .handle_epoch_end(current, answer.leader_epoch, answer.end_offset);
    let after = state.log().log_end_offset();
    if after < before {
        tracing::info!(
            "{topic}-{index}: truncated from {before} to {after} (leader epoch {epoch} ends at {})",
            answer.end_offset
        );
    }
    Ok(true)
}

/// One Fetch as a follower; true when it brought records or advanced anything.
fn fetch(
    broker: &Broker,
    client: &mut Client,
    me: i32,
    topic: &str,
    index: i32,
    offset: i64,
    epoch: i32,
) -> Result<bool, ()> {
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(me))
        .with_max_wait_ms(MAX_WAIT_MS)
        .with_min_bytes(1)
        .with_max_bytes(8 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(index)
                        .with_current_leader_epoch(epoch)
                        .with_fetch_offset(offset)
                        .with_log_start_offset(-1)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let response: FetchResponse = client
        .call(ApiKey::Fetch, FETCH_VERSION, &request)
        .map_err(drop)?;
    let Some(data) = response
        .responses
        .first()
        .and_then(|t| t.partitions.first())
    else {
        return Ok(false);
    };
    let Ok(partition) = broker.partition(topic, index) else {
        return Ok(false);
    };
    let mut state = partition.lock();
    if state.replica.fetch_offset() != Some((state.replica.leader().unwrap_or(u32::MAX), offset)) {
        return Ok(true); // the role or position changed while the fetch was out
    }
    match data.error_code {
        0 => {
            let records = data.records.clone().unwrap_or_default().to_vec();
            let answer = FetchAnswer {
                records,
                high_watermark: data.high_watermark,
                leader_epoch: epoch,
            };
            if state
                .replica
                .handle_fetch_answer(&answer, &broker.codec, now_ms())
                .is_err()
            {
                return Ok(false);
            }
            Ok(!answer.records.is_empty())
        }
        error_code::OFFSET_OUT_OF_RANGE => {
            // last_stable_offset carries the leader's log end between runnel nodes.
            state
                .replica
                .handle_out_of_range(data.log_start_offset, data.last_stable_offset);
            Ok(true)
        }
        _ => Ok(false),
    }
}
