//! A follower's fetchers, as Kafka's replica fetcher threads (`num.replica.fetchers` = 1): one
//! thread per leader broker this node follows partitions of, not one per partition. Each round
//! it asks the broker which partitions it follows from that leader need what
//! ([`Broker::fetch_jobs`]): one OffsetsForLeaderEpoch request for those that must first learn
//! where to truncate after a leader change (KIP-101), then one Fetch with its replica id for
//! all the others, each answer handed to that partition's core replica. The Fetches are in an
//! incremental fetch session (KIP-227): after the first, a Fetch names only the partitions
//! whose offset or epoch moved, and the leader answers only those with something new. It stops
//! when this node follows nothing from that leader any more.
//!
//! It talks the Kafka protocol over the blocking client it shares with the CLI
//! (`crate::client`), to the leader's inter-broker listener (`inter.broker.listener.name`)
//! with that listener's TLS and SASL, and with a short socket timeout ([`SOCKET_TIMEOUT`]) so
//! a stopped leader does not hold it past a leader change.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use runnel_core::broker::FollowerTask;
use runnel_core::error_code;
use runnel_core::fetch_session::FetchSessionHandler;
use runnel_core::replica::{FetchAnswer, ReplicaError};

use crate::api::SessionPartition;
use crate::broker::{Broker, Partition, now_ms};
use crate::client::Client;

/// Fetch version used between nodes (replica id in the request, leader epochs per partition).
const FETCH_VERSION: i16 = 11;
/// OffsetsForLeaderEpoch version used between nodes (replica id in the request).
const EPOCH_VERSION: i16 = 3;
/// How long the leader holds an empty fetch.
const MAX_WAIT_MS: i32 = 200;
/// Bytes one fetch brings at most, over all its partitions (Kafka's
/// `replica.fetch.response.max.bytes` is 10 MiB), and per partition
/// (`replica.fetch.max.bytes`, 1 MiB).
const FETCH_MAX_BYTES: i32 = 8 << 20;
const PARTITION_MAX_BYTES: i32 = 1 << 20;
/// Pause after an error (leader unknown, connection refused, stale epoch).
const BACKOFF: Duration = Duration::from_millis(100);
/// How long a fetch or epoch request may go unanswered before the fetcher gives up on the
/// connection and looks at the metadata again (Kafka's `replica.socket.timeout.ms`, 30 s
/// there). A leader's answer takes at most `MAX_WAIT_MS` plus a round trip; anything longer
/// means the leader is stopped or cut off, and the fetcher must not sit on it past a leader
/// change, or the new leader's ISR stays short (acks=all refused) for the whole wait.
const SOCKET_TIMEOUT: Duration = Duration::from_millis(MAX_WAIT_MS as u64 + 800);

/// What one followed partition needs from its leader next: core's [`FollowerTask`] for it.
#[derive(Clone, Debug)]
pub struct Job {
    /// The partition.
    pub partition: Arc<Partition>,
    /// What it asks its leader next.
    pub task: FollowerTask,
}

/// Deregisters the fetcher for a leader if its thread ends any other way than by finding
/// nothing to do (a panic), so `apply_roles` starts a new one.
struct Registered<'a> {
    broker: &'a Broker,
    leader: u32,
    done: bool,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.broker.fetcher_gone(self.leader);
        }
    }
}

/// Runs until this node follows no partition from `leader`.
pub fn follow(broker: Arc<Broker>, leader: u32) {
    let mut registered = Registered {
        broker: &broker,
        leader,
        done: false,
    };
    let mut client: Option<Client> = None;
    // The fetch session (KIP-227) lives as long as the connection.
    let mut session = Session::new();
    let overrides = super::parse_voters(&broker.config.inter_broker_endpoints).unwrap_or_default();
    let me = broker.config.node_id;
    let mut round: usize = 0;
    loop {
        let Some(mut jobs) = broker.fetch_jobs(leader) else {
            registered.done = true; // fetch_jobs deregistered it
            break;
        };
        // A different partition first each round: a full response (max_bytes) must not starve
        // the partitions at the end of the list.
        round = round.wrapping_add(1);
        let len = jobs.len();
        jobs.rotate_left(round % len.max(1));
        if client.is_none() {
            let endpoint = overrides
                .iter()
                .find(|v| v.id as u32 == leader)
                .map(|v| v.addr.to_string())
                .or_else(|| {
                    let listener = broker.config.inter_broker_listener().ok()?;
                    broker
                        .cluster()
                        .and_then(|c| c.image().endpoint(leader, &listener.name))
                        .map(|(host, port)| format!("{host}:{port}"))
                });
            client = endpoint.and_then(|e| {
                Client::connect_secured(&e, SOCKET_TIMEOUT, broker.inter_broker_security())
                    .map_err(|why| tracing::debug!("cannot reach leader {leader} at {e}: {why}"))
                    .ok()
            });
            if client.is_none() {
                std::thread::sleep(BACKOFF);
                continue;
            }
        }
        let Some(connection) = client.as_mut() else {
            continue;
        };
        let (epochs, fetches): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .partition(|j| matches!(j.task, FollowerTask::EpochEnd { .. }));
        let outcome = ask_epoch_ends(&broker, connection, me, &epochs).and_then(|truncated| {
            fetch(&broker, connection, &mut session, me, &fetches).map(|f| (truncated, f))
        });
        match outcome {
            // Something moved, or the leader held the fetch until its deadline: go on.
            Ok((truncated, fetched)) if truncated || fetched.moved || fetched.waited => {}
            // Only refusals (a stale epoch, metadata behind on one side): let it catch up
            // rather than ask again at once.
            Ok(_) => std::thread::sleep(BACKOFF),
            Err(()) => {
                client = None;
                session.reset();
                std::thread::sleep(BACKOFF);
            }
        }
    }
}

/// One OffsetsForLeaderEpoch for every partition waiting to truncate; each answer goes to its
/// hosted partition (whose replica ignores one of another epoch). True when any partition's
/// answer was used.
fn ask_epoch_ends(broker: &Broker, client: &mut Client, me: i32, jobs: &[Job]) -> Result<bool, ()> {
    if jobs.is_empty() {
        return Ok(false);
    }
    let mut used = false;
    let mut asked: BTreeMap<(&str, i32), (&Job, i32)> = BTreeMap::new();
    let partitions = jobs.iter().filter_map(|job| match job.task {
        FollowerTask::EpochEnd {
            epoch,
            current_leader_epoch,
            ..
        } => {
            let (topic, index) = (&*job.partition.topic, job.partition.index);
            asked.insert((topic, index), (job, current_leader_epoch));
            let partition = OffsetForLeaderPartition::default()
                .with_partition(index)
                .with_current_leader_epoch(current_leader_epoch)
                .with_leader_epoch(epoch);
            Some((topic, partition))
        }
        FollowerTask::Fetch { .. } => None,
    });
    let topics = by_topic(partitions)
        .into_iter()
        .map(|(topic, partitions)| {
            OffsetForLeaderTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(partitions)
        })
        .collect();
    let request = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(me))
        .with_topics(topics);
    let response: OffsetForLeaderEpochResponse = client
        .call(ApiKey::OffsetForLeaderEpoch, EPOCH_VERSION, &request)
        .map_err(drop)?;
    for topic in &response.topics {
        let name = topic.topic.0.as_str();
        for answer in &topic.partitions {
            let Some((job, current)) = asked.get(&(name, answer.partition)) else {
                continue;
            };
            if answer.error_code != 0 {
                continue;
            }
            let partition = &job.partition;
            let mut state = partition.lock();
            let before = state.replica().pending_epoch_request();
            let ready =
                state
                    .host
                    .handle_epoch_end(*current, answer.leader_epoch, answer.end_offset);
            // Done, or a round of KIP-279's truncation that asks again about an older epoch.
            used |= before.is_some() && state.replica().pending_epoch_request() != before;
            let _ = broker.carry_out(partition, &mut state, ready);
        }
    }
    Ok(used)
}

/// What one Fetch round came to.
#[derive(Clone, Copy, Debug, Default)]
struct Fetched {
    /// Some partition got records, truncated, or changed role or position meanwhile.
    moved: bool,
    /// Every partition answered without error: the leader held the fetch until it had
    /// something or its `max_wait` passed, so asking again at once is no busy loop.
    waited: bool,
}

/// The fetcher's half of its fetch session with the leader (KIP-227): each Fetch names only
/// the partitions whose offset or epoch changed since the last, and the leader answers only
/// partitions with records or news, so a round costs what moved, not what is followed.
type Session = FetchSessionHandler<(Arc<str>, i32), SessionPartition>;

/// One Fetch for every partition followed from `leader`, in `jobs`' order, in the fetch
/// session `session`.
fn fetch(
    broker: &Broker,
    client: &mut Client,
    session: &mut Session,
    me: i32,
    jobs: &[Job],
) -> Result<Fetched, ()> {
    if jobs.is_empty() {
        return Ok(Fetched::default());
    }
    let mut asked: BTreeMap<(&str, i32), &Job> = BTreeMap::new();
    let wanted: Vec<((Arc<str>, i32), SessionPartition)> = jobs
        .iter()
        .filter_map(|job| match job.task {
            FollowerTask::Fetch {
                offset,
                leader_epoch,
                ..
            } => {
                let (topic, index) = (&*job.partition.topic, job.partition.index);
                asked.insert((topic, index), job);
                let read = SessionPartition {
                    // Named by the key; the request is built from it.
                    topic: TopicName::default(),
                    topic_id: uuid::Uuid::nil(),
                    fetch_offset: offset,
                    partition_max_bytes: PARTITION_MAX_BYTES,
                    current_leader_epoch: leader_epoch,
                };
                Some(((job.partition.topic.clone(), index), read))
            }
            FollowerTask::EpochEnd { .. } => None,
        })
        .collect();
    let next = session.build(&wanted);
    let partitions = next.partitions.iter().map(|((topic, index), read)| {
        let partition = FetchPartition::default()
            .with_partition(*index)
            .with_current_leader_epoch(read.current_leader_epoch)
            .with_fetch_offset(read.fetch_offset)
            .with_log_start_offset(-1)
            .with_partition_max_bytes(read.partition_max_bytes);
        (&**topic, partition)
    });
    let topics = by_topic(partitions)
        .into_iter()
        .map(|(topic, partitions)| {
            FetchTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(partitions)
        })
        .collect();
    let forgotten = by_topic(next.forgotten.iter().map(|(t, p)| (&**t, *p)))
        .into_iter()
        .map(|(topic, partitions)| {
            ForgottenTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(partitions)
        })
        .collect();
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(me))
        .with_max_wait_ms(MAX_WAIT_MS)
        .with_min_bytes(1)
        .with_max_bytes(FETCH_MAX_BYTES)
        .with_session_id(next.session_id)
        .with_session_epoch(next.epoch)
        .with_topics(topics)
        .with_forgotten_topics_data(forgotten);
    let response: FetchResponse = client
        .call(ApiKey::Fetch, FETCH_VERSION, &request)
        .map_err(drop)?;
    session.handle_response(response.error_code, response.session_id);
    if response.error_code != error_code::NONE {
        // A session the leader lost (it restarted, or evicted it): the next round is full.
        tracing::debug!(
            "fetch session {} refused by the leader (error {}): starting a new one",
            next.session_id,
            response.error_code
        );
        return Ok(Fetched {
            moved: true,
            waited: false,
        });
    }
    let mut fetched = Fetched {
        moved: false,
        waited: true,
    };
    for topic in &response.responses {
        let name = topic.topic.0.as_str();
        for data in &topic.partitions {
            let Some(job) = asked.get(&(name, data.partition_index)) else {
                continue;
            };
            let FollowerTask::Fetch { leader_epoch, .. } = job.task else {
                continue;
            };
            let partition = &job.partition;
            let mut state = partition.lock();
            if !state.host.still_asks(&job.task) {
                // The role or position changed while the fetch was out: whatever the answer,
                // core would drop it; the next round asks what is needed now.
                fetched.moved = true;
                continue;
            }
            let ready = match data.error_code {
                0 => {
                    let answer = FetchAnswer {
                        // A slice of the response: copied once, into the segment file.
                        records: data.records.clone().unwrap_or_default(),
                        high_watermark: data.high_watermark,
                        leader_epoch,
                        log_start_offset: data.log_start_offset,
                    };
                    let records = !answer.records.is_empty();
                    let (copied, ready) =
                        state
                            .host
                            .handle_fetch_answer(now_ms(), &job.task, &answer, &broker.codec);
                    match copied {
                        Ok(()) if records => {
                            broker.storage_ok();
                            fetched.moved = true;
                        }
                        Ok(()) => {}
                        // A full disk: copied again after a pause, not in a busy loop.
                        Err(ReplicaError::Storage(why)) => {
                            broker.storage_failed(
                                &format!("copying {name}-{}", partition.index),
                                &why,
                            );
                            fetched.waited = false;
                        }
                        // The role or position changed while the fetch was out: core drops
                        // the answer, and the next round asks what is needed now.
                        Err(ReplicaError::NotLeaderOrFollower) => fetched.moved = true,
                        Err(_) => {}
                    }
                    ready
                }
                error_code::OFFSET_OUT_OF_RANGE => {
                    fetched.moved = true;
                    // last_stable_offset carries the leader's log end between runnel nodes.
                    state.host.handle_out_of_range(
                        &job.task,
                        data.log_start_offset,
                        data.last_stable_offset,
                    )
                }
                _ => {
                    fetched.waited = false;
                    continue;
                }
            };
            // With flush_before_ack, the copy is fsynced before the next fetch reports it.
            if broker.carry_out(partition, &mut state, ready).is_err() {
                fetched.waited = false;
            }
        }
    }
    Ok(fetched)
}

/// Groups `(topic, partition)` request entries by topic: topics in the order their first
/// partition comes (the leader reads in request order, and the fetcher rotates that order so
/// no partition starves past `max_bytes`), partitions in the order given.
fn by_topic<'a, T>(entries: impl Iterator<Item = (&'a str, T)>) -> Vec<(&'a str, Vec<T>)> {
    let mut topics: Vec<(&str, Vec<T>)> = Vec::new();
    for (topic, entry) in entries {
        match topics.iter_mut().find(|(t, _)| *t == topic) {
            Some((_, partitions)) => partitions.push(entry),
            None => topics.push((topic, vec![entry])),
        }
    }
    topics
}

/// A topic name as the protocol carries it.
fn topic_name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}
