//! The admin APIs tools call when they start or look around (kafka-ui, Kafdrop, Conduktor,
//! `kafka-log-dirs.sh`, `kafka-leader-election.sh`): DescribeCluster, DescribeLogDirs,
//! DescribeProducers, DescribeClientQuotas, ElectLeaders and ListPartitionReassignments.
//! Each reads what the broker and core already know; ElectLeaders in a cluster goes through
//! the metadata quorum like the controller's own preferred election.

use std::sync::Arc;

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::DeleteAclsFilterResult;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{
    AlterUserScramCredentialsResponse, CreateAclsResponse, DeleteAclsResponse,
    DescribeAclsResponse, DescribeUserScramCredentialsResponse, RequestKind, ResponseKind,
};
use kafka_protocol::messages::{
    BrokerId, DescribeClientQuotasRequest, DescribeClientQuotasResponse, DescribeClusterRequest,
    DescribeClusterResponse, DescribeLogDirsRequest, DescribeLogDirsResponse,
    DescribeProducersRequest, DescribeProducersResponse, DescribeQuorumRequest,
    DescribeQuorumResponse, ElectLeadersRequest, ElectLeadersResponse,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, MetadataRequest,
    ProducerId, TopicName,
};
use runnel_core::acl::{self, AclOperation};
use runnel_core::error_code;

use super::{Context, s};
use crate::broker::Broker;
use crate::cluster::Entry;

/// DescribeCluster `endpoint_type` of brokers (KIP-919); 2 (controllers) is refused.
const BROKER_ENDPOINTS: i8 = 1;
/// UNSUPPORTED_ENDPOINT_TYPE: DescribeCluster asked for controller endpoints.
const UNSUPPORTED_ENDPOINT_TYPE: i16 = 120;
/// ElectLeaders: the partition already has the leader the election would pick.
const ELECTION_NOT_NEEDED: i16 = 84;
/// ElectLeaders: the preferred replica is not live or not in sync.
const PREFERRED_LEADER_NOT_AVAILABLE: i16 = 80;
/// ElectLeaders: no replica may lead.
const ELIGIBLE_LEADERS_NOT_AVAILABLE: i16 = 83;
/// Kafka's "the volume's size is unknown" in DescribeLogDirs v4.
const UNKNOWN_VOLUME_BYTES: i64 = -1;

/// ACLs on the cluster-wide APIs (Kafka's `KafkaApis`): DescribeLogDirs,
/// ListPartitionReassignments, DescribeUserScramCredentials and DescribeAcls need DESCRIBE on
/// the cluster (DescribeCluster needs nothing: only its authorized operations depend on it); ElectLeaders, AlterUserScramCredentials, CreateAcls and DeleteAcls ALTER;
/// DescribeClientQuotas DESCRIBE_CONFIGS. A refusal answers CLUSTER_AUTHORIZATION_FAILED
/// everywhere the response has room for it and changes nothing. `None` when allowed, or for
/// other requests.
pub(super) fn cluster_refused(
    broker: &Broker,
    ctx: &Context,
    request: &RequestKind,
) -> Option<ResponseKind> {
    use AclOperation::{Alter, Describe, DescribeConfigs};
    let operation = match request {
        RequestKind::DescribeLogDirs(_)
        | RequestKind::ListPartitionReassignments(_)
        | RequestKind::DescribeUserScramCredentials(_)
        | RequestKind::DescribeAcls(_)
        | RequestKind::DescribeQuorum(_) => Describe,
        RequestKind::ElectLeaders(_)
        | RequestKind::AlterUserScramCredentials(_)
        | RequestKind::CreateAcls(_)
        | RequestKind::DeleteAcls(_) => Alter,
        RequestKind::DescribeClientQuotas(_) => DescribeConfigs,
        _ => return None,
    };
    if ctx.may_cluster(broker, operation) {
        return None;
    }
    let error = error_code::CLUSTER_AUTHORIZATION_FAILED;
    let message = || Some(s("not authorized on the cluster"));
    Some(match request {
        // v0–2 have no error field: an empty answer, as Kafka gives.
        RequestKind::DescribeLogDirs(_) => {
            ResponseKind::DescribeLogDirs(DescribeLogDirsResponse::default().with_error_code(error))
        }
        RequestKind::ListPartitionReassignments(_) => ResponseKind::ListPartitionReassignments(
            ListPartitionReassignmentsResponse::default()
                .with_error_code(error)
                .with_error_message(message()),
        ),
        RequestKind::DescribeUserScramCredentials(_) => ResponseKind::DescribeUserScramCredentials(
            DescribeUserScramCredentialsResponse::default()
                .with_error_code(error)
                .with_error_message(message()),
        ),
        RequestKind::DescribeAcls(_) => ResponseKind::DescribeAcls(
            DescribeAclsResponse::default()
                .with_error_code(error)
                .with_error_message(message()),
        ),
        RequestKind::DescribeQuorum(_) => ResponseKind::DescribeQuorum(
            DescribeQuorumResponse::default()
                .with_error_code(error)
                .with_error_message(message()),
        ),
        RequestKind::ElectLeaders(r) => ResponseKind::ElectLeaders(
            ElectLeadersResponse::default()
                .with_error_code(error)
                .with_replica_election_results(
                    r.topic_partitions
                        .iter()
                        .flatten()
                        .map(|t| {
                            ReplicaElectionResult::default()
                                .with_topic(t.topic.clone())
                                .with_partition_result(
                                    t.partitions
                                        .iter()
                                        .map(|p| {
                                            PartitionResult::default()
                                                .with_partition_id(*p)
                                                .with_error_code(error)
                                                .with_error_message(message())
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                ),
        ),
        RequestKind::AlterUserScramCredentials(r) => {
            // One entry per user, sorted (Kafka's `getErrorResponse`).
            let users: std::collections::BTreeSet<_> = r
                .deletions
                .iter()
                .map(|d| d.name.clone())
                .chain(r.upsertions.iter().map(|u| u.name.clone()))
                .collect();
            ResponseKind::AlterUserScramCredentials(
                AlterUserScramCredentialsResponse::default().with_results(
                    users
                        .into_iter()
                        .map(|user| {
                            AlterUserScramCredentialsResult::default()
                                .with_user(user)
                                .with_error_code(error)
                                .with_error_message(message())
                        })
                        .collect(),
                ),
            )
        }
        RequestKind::CreateAcls(r) => ResponseKind::CreateAcls(
            CreateAclsResponse::default().with_results(
                r.creations
                    .iter()
                    .map(|_| {
                        AclCreationResult::default()
                            .with_error_code(error)
                            .with_error_message(message())
                    })
                    .collect(),
            ),
        ),
        RequestKind::DeleteAcls(r) => ResponseKind::DeleteAcls(
            DeleteAclsResponse::default().with_filter_results(
                r.filters
                    .iter()
                    .map(|_| {
                        DeleteAclsFilterResult::default()
                            .with_error_code(error)
                            .with_error_message(message())
                    })
                    .collect(),
            ),
        ),
        RequestKind::DescribeClientQuotas(_) => ResponseKind::DescribeClientQuotas(
            DescribeClientQuotasResponse::default()
                .with_error_code(error)
                .with_error_message(message()),
        ),
        _ => return None,
    })
}

/// DescribeQuorum (KIP-595, v0–v2; KIP-836's timestamps are -1; v2's nodes are the voters
/// with their Raft address as a `CONTROLLER` listener, KIP-853): the metadata quorum as this
/// node's Raft peer knows it: the leader, which is the active controller (-1: none known), its
/// term as the leader epoch, the commit index as the high watermark, and each voter with the
/// log end offset the leader has for it (-1 where this node does not know it: on a follower,
/// every voter's but its own). Kafka forwards the request to the active controller; here each
/// node answers from its own peer, which names the same leader once the quorum has one. Needs
/// DESCRIBE on the cluster (CLUSTER_AUTHORIZATION_FAILED). Another topic or partition than
/// `__cluster_metadata`-0 is UNKNOWN_TOPIC_OR_PARTITION; a node without a quorum (single-node
/// mode) answers INVALID_REQUEST.
pub(super) fn describe_quorum(
    broker: &Broker,
    version: i16,
    request: &DescribeQuorumRequest,
) -> DescribeQuorumResponse {
    use kafka_protocol::messages::describe_quorum_response::{
        Listener, Node, PartitionData, ReplicaState, TopicData,
    };
    let Some(cluster) = broker.cluster() else {
        return DescribeQuorumResponse::default()
            .with_error_code(error_code::INVALID_REQUEST)
            .with_error_message(Some(s(
                "this node runs alone, without a metadata quorum (it is its own controller)",
            )));
    };
    let status = cluster.quorum_status();
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let answer = PartitionData::default().with_partition_index(p.partition_index);
                    if topic.topic_name.0.as_str() != crate::cluster::METADATA_TOPIC
                        || p.partition_index != 0
                    {
                        return answer
                            .with_error_code(error_code::UNKNOWN_TOPIC_OR_PARTITION)
                            .with_leader_id(BrokerId(-1))
                            .with_leader_epoch(-1)
                            .with_high_watermark(-1);
                    }
                    let voters = status
                        .voters
                        .iter()
                        .map(|(id, log_end)| {
                            ReplicaState::default()
                                .with_replica_id(BrokerId(*id as i32))
                                .with_log_end_offset(log_end.map_or(-1, |o| o as i64))
                                .with_last_fetch_timestamp(-1)
                                .with_last_caught_up_timestamp(-1)
                        })
                        .collect();
                    answer
                        .with_leader_id(BrokerId(status.leader.map_or(-1, |l| l as i32)))
                        .with_leader_epoch(i32::try_from(status.term).unwrap_or(i32::MAX))
                        .with_high_watermark(status.commit as i64)
                        .with_current_voters(voters)
                })
                .collect();
            TopicData::default()
                .with_topic_name(topic.topic_name.clone())
                .with_partitions(partitions)
        })
        .collect();
    let nodes = if version >= 2 {
        cluster
            .voters
            .iter()
            .map(|v| {
                Node::default()
                    .with_node_id(BrokerId(v.id))
                    .with_listeners(vec![
                        Listener::default()
                            .with_name(s("CONTROLLER"))
                            .with_host(s(v.addr.ip().to_string()))
                            .with_port(v.addr.port()),
                    ])
            })
            .collect()
    } else {
        Vec::new()
    };
    DescribeQuorumResponse::default()
        .with_topics(topics)
        .with_nodes(nodes)
}

/// DescribeCluster (KIP-700): the brokers, controller and cluster id Metadata gives, and the
/// cluster's authorized operations when asked (KIP-430). Controller endpoints (KIP-919,
/// `endpoint_type` 2) are refused with UNSUPPORTED_ENDPOINT_TYPE, as a Kafka broker does.
pub(super) async fn describe_cluster(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    if request.endpoint_type != BROKER_ENDPOINTS {
        return DescribeClusterResponse::default()
            .with_error_code(UNSUPPORTED_ENDPOINT_TYPE)
            .with_error_message(Some(s("only broker endpoints are described")))
            .with_endpoint_type(request.endpoint_type);
    }
    // Metadata v12 with no topics: the same brokers, cluster id and controller.
    let metadata = super::metadata::metadata(
        broker,
        ctx,
        12,
        MetadataRequest::default().with_topics(Some(vec![])),
    )
    .await;
    DescribeClusterResponse::default()
        .with_endpoint_type(BROKER_ENDPOINTS)
        .with_cluster_id(metadata.cluster_id.unwrap_or_default())
        .with_controller_id(metadata.controller_id)
        .with_brokers(
            metadata
                .brokers
                .into_iter()
                .map(|b| {
                    DescribeClusterBroker::default()
                        .with_broker_id(b.node_id)
                        .with_host(b.host)
                        .with_port(b.port)
                        .with_rack(b.rack)
                })
                .collect(),
        )
        .with_cluster_authorized_operations(if request.include_cluster_authorized_operations {
            ctx.cluster_authorized_operations(broker)
        } else {
            acl::AUTHORIZED_OPERATIONS_OMITTED
        })
}

/// DescribeLogDirs: runnel's one log directory (`log.dirs`) with the size in bytes of every
/// partition replica it holds (all, or the ones asked for; others are left out as Kafka
/// does), no future replicas (offset lag 0), and the volume's total and usable bytes (v4,
/// KIP-827) from statvfs(3).
pub(super) fn describe_log_dirs(
    broker: &Arc<Broker>,
    request: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    let wanted = |topic: &str, partition: i32| {
        request.topics.as_ref().is_none_or(|topics| {
            topics
                .iter()
                .any(|t| t.topic.0.as_str() == topic && t.partitions.contains(&partition))
        })
    };
    let topics = broker
        .topics()
        .into_iter()
        .filter_map(|topic| {
            let partitions: Vec<DescribeLogDirsPartition> = topic
                .partitions()
                .into_iter()
                .filter(|p| wanted(&topic.name, p.index))
                .map(|p| {
                    let size = p.lock().log().size_bytes();
                    DescribeLogDirsPartition::default()
                        .with_partition_index(p.index)
                        .with_partition_size(i64::try_from(size).unwrap_or(i64::MAX))
                        .with_offset_lag(0)
                })
                .collect();
            (!partitions.is_empty()).then(|| {
                DescribeLogDirsTopic::default()
                    .with_name(TopicName(s(topic.name.clone())))
                    .with_partitions(partitions)
            })
        })
        .collect();
    let (total_bytes, usable_bytes) = volume_bytes(&broker.data_dir.path);
    DescribeLogDirsResponse::default().with_results(vec![
        DescribeLogDirsResult::default()
            .with_log_dir(s(broker.data_dir.path.display().to_string()))
            .with_topics(topics)
            .with_total_bytes(total_bytes)
            .with_usable_bytes(usable_bytes),
    ])
}

/// (total, usable) bytes of the file system holding `path`, or Kafka's -1 when unknown.
fn volume_bytes(path: &std::path::Path) -> (i64, i64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return (UNKNOWN_VOLUME_BYTES, UNKNOWN_VOLUME_BYTES);
    };
    // SAFETY: statvfs(3) writes only into `stat`, a plain struct we own; `c_path` is a valid
    // NUL-terminated string for the call's duration.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return (UNKNOWN_VOLUME_BYTES, UNKNOWN_VOLUME_BYTES);
    }
    let block = stat.f_frsize as u128;
    let bytes = |blocks: u64| i64::try_from(u128::from(blocks) * block).unwrap_or(i64::MAX);
    (bytes(stat.f_blocks), bytes(stat.f_bavail))
}

/// DescribeProducers (KIP-664): the idempotent producers core's replica tracks on each
/// partition this node leads (id, epoch, last sequence, last timestamp); no transactions, so
/// coordinator epoch and transaction start are -1. Errors per partition:
/// UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER; TOPIC_AUTHORIZATION_FAILED without
/// READ on the topic (Kafka's `handleDescribeProducersRequest`).
pub(super) fn describe_producers(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let allowed =
                super::topics::check_topic(broker, ctx, AclOperation::Read, topic.name.0.as_str());
            let partitions = topic
                .partition_indexes
                .iter()
                .map(|&index| {
                    let result = PartitionResponse::default().with_partition_index(index);
                    let led = allowed
                        .clone()
                        .and_then(|()| broker.led_partition(&topic.name, index));
                    match led {
                        Err(e) => result
                            .with_error_code(e.code)
                            .with_error_message(Some(s(e.message))),
                        Ok(partition) => {
                            let state = partition.lock();
                            let replica = state.replica();
                            // The first offset of each producer's open transaction here
                            // (what `kafka-transactions.sh find-hanging` looks for).
                            let open: std::collections::BTreeMap<i64, i64> =
                                replica.txns().ongoing().collect();
                            result.with_active_producers(
                                replica
                                    .producers()
                                    .active()
                                    .map(|p| {
                                        ProducerState::default()
                                            .with_producer_id(ProducerId(p.producer_id))
                                            .with_producer_epoch(i32::from(p.producer_epoch))
                                            .with_last_sequence(p.last_sequence)
                                            .with_last_timestamp(p.last_timestamp_ms)
                                            .with_coordinator_epoch(-1)
                                            .with_current_txn_start_offset(
                                                open.get(&p.producer_id).copied().unwrap_or(-1),
                                            )
                                    })
                                    .collect(),
                            )
                        }
                    }
                })
                .collect();
            TopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}

/// DescribeClientQuotas (KIP-546): runnel enforces no client quotas and stores none, so every
/// filter matches nothing: an empty list, as Kafka answers when no quota is set.
pub(super) fn describe_client_quotas(
    _request: DescribeClientQuotasRequest,
) -> DescribeClientQuotasResponse {
    DescribeClientQuotasResponse::default().with_entries(Some(Vec::new()))
}

/// ListPartitionReassignments (KIP-455): runnel never moves replicas between brokers, so no
/// reassignment is ever in progress: an empty list.
pub(super) fn list_partition_reassignments(
    _request: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    ListPartitionReassignmentsResponse::default()
}

/// ElectLeaders (KIP-460): election type 0 (preferred) moves a partition's leadership to its
/// first replica when that replica is live and in the ISR; type 1 (unclean) only answers for
/// partitions that have a leader. Per partition: ELECTION_NOT_NEEDED when the leader already
/// is the one the election would pick (always so on a single node, the only replica),
/// PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION.
/// With no partitions named, every partition is a candidate and, as in Kafka, only those an
/// election was run for are reported.
///
/// In a cluster a preferred election goes through the metadata quorum as the controller's own
/// periodic one does (`Entry::PreferredElection`), which also moves any other partition whose
/// preferred replica is eligible.
pub(super) async fn elect_leaders(
    broker: &Arc<Broker>,
    version: i16,
    request: ElectLeadersRequest,
) -> ElectLeadersResponse {
    let preferred = version == 0 || request.election_type == 0;
    let named = request.topic_partitions.is_some();
    let candidates: Vec<(String, i32)> = match request.topic_partitions {
        Some(topics) => topics
            .into_iter()
            .flat_map(|t| {
                let name = t.topic.0.to_string();
                t.partitions.into_iter().map(move |p| (name.clone(), p))
            })
            .collect(),
        None => broker
            .topics()
            .into_iter()
            .flat_map(|t| {
                t.partitions()
                    .into_iter()
                    .map(|p| (t.name.clone(), p.index))
                    .collect::<Vec<_>>()
            })
            .collect(),
    };
    // (topic, partition, error, message) per candidate, before any election.
    let judge = |broker: &Broker, topic: &str, partition: i32| -> (i16, Option<&'static str>) {
        let Some(cluster) = broker.cluster() else {
            return match broker.partition(topic, partition) {
                Ok(_) => (ELECTION_NOT_NEEDED, None),
                Err(e) => (e.code, None),
            };
        };
        let image = cluster.image();
        let Some(state) = image.partition(topic, partition) else {
            return (error_code::UNKNOWN_TOPIC_OR_PARTITION, None);
        };
        if !preferred {
            return match state.leader {
                Some(_) => (ELECTION_NOT_NEEDED, None),
                None => (
                    ELIGIBLE_LEADERS_NOT_AVAILABLE,
                    Some(
                        "runnel elects an out-of-sync leader only by unclean.leader.election.enable",
                    ),
                ),
            };
        }
        let first = state.replicas.first().copied();
        if first.is_some() && state.leader == first {
            return (ELECTION_NOT_NEEDED, None);
        }
        let live = image.controller.live_brokers();
        match first {
            Some(f) if live.contains(&f) && state.isr.contains(&f) => (error_code::NONE, None),
            _ => (
                PREFERRED_LEADER_NOT_AVAILABLE,
                Some("the preferred replica is not live or not in sync"),
            ),
        }
    };
    let mut results: Vec<(String, i32, i16, Option<&'static str>)> = candidates
        .into_iter()
        .map(|(topic, partition)| {
            let (error, message) = judge(broker, &topic, partition);
            (topic, partition, error, message)
        })
        .filter(|(_, _, error, _)| named || *error == error_code::NONE)
        .collect();
    if let Some(cluster) = broker.cluster()
        && results.iter().any(|r| r.2 == error_code::NONE)
    {
        let outcome = cluster.propose(Entry::PreferredElection).await;
        for result in results.iter_mut().filter(|r| r.2 == error_code::NONE) {
            let image = cluster.image();
            let elected = image
                .partition(&result.0, result.1)
                .is_some_and(|p| p.leader.is_some() && p.leader == p.replicas.first().copied());
            if outcome.is_err() || !elected {
                *result = (
                    result.0.clone(),
                    result.1,
                    PREFERRED_LEADER_NOT_AVAILABLE,
                    Some("the election did not complete; try again"),
                );
            }
        }
    }
    let mut by_topic: Vec<ReplicaElectionResult> = Vec::new();
    for (topic, partition, error, message) in results {
        let entry = PartitionResult::default()
            .with_partition_id(partition)
            .with_error_code(error)
            .with_error_message(message.map(s));
        match by_topic.iter_mut().find(|r| r.topic.0.as_str() == topic) {
            Some(r) => r.partition_result.push(entry),
            None => by_topic.push(
                ReplicaElectionResult::default()
                    .with_topic(TopicName(s(topic)))
                    .with_partition_result(vec![entry]),
            ),
        }
    }
    ElectLeadersResponse::default().with_replica_election_results(by_topic)
}
