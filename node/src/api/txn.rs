//! Transactions (KIP-98, KIP-447, KIP-664): InitProducerId with a transactional id,
//! AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit, DescribeTransactions,
//! ListTransactions, and WriteTxnMarkers between nodes. Each request goes to core's coordinator (`runnel_core::broker::
//! transactions`); what it decides is carried out by the broker (`broker/txn.rs`).
//!
//! ACLs, as Kafka's `KafkaApis`: WRITE on the transactional id for every request that
//! changes a transaction (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); AddPartitionsToTxn also
//! WRITE on each topic (TOPIC_AUTHORIZATION_FAILED), AddOffsetsToTxn and TxnOffsetCommit
//! READ on the group (GROUP_AUTHORIZATION_FAILED); DescribeTransactions DESCRIBE on each id.

use std::sync::Arc;

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::describe_transactions_response::{
    TopicData, TransactionState as DescribedState,
};
use kafka_protocol::messages::list_transactions_response::TransactionState as ListedState;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, DescribeTransactionsRequest, DescribeTransactionsResponse,
    EndTxnRequest, EndTxnResponse, InitProducerIdRequest, InitProducerIdResponse,
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TopicName,
    TxnOffsetCommitRequest, TxnOffsetCommitResponse, WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
};

use runnel_core::acl::{AclOperation, ResourceType};
use runnel_core::broker::{MarkerJob, TxnState};
use runnel_core::error_code;
use runnel_core::txn::ControlType;

use super::{Context, s};
use crate::broker::{Broker, OFFSETS_TOPIC, now_ms};

/// The code to answer a fenced producer with: PRODUCER_FENCED from the versions that know it
/// (KIP-588: InitProducerId v4, AddPartitionsToTxn v2, AddOffsetsToTxn v2, EndTxn v2,
/// TxnOffsetCommit v3), INVALID_PRODUCER_EPOCH before.
fn fenced_for(code: i16, version: i16, first_version: i16) -> i16 {
    if code == error_code::PRODUCER_FENCED && version < first_version {
        error_code::INVALID_PRODUCER_EPOCH
    } else {
        code
    }
}

/// The error before a request to the transaction coordinator is looked at: the principal
/// may not WRITE the transactional id, or this node is not the coordinator (or still loads).
fn refused(broker: &Broker, ctx: &Context, transactional_id: &str) -> Option<i16> {
    write_refused(broker, ctx, transactional_id).or_else(|| broker.txn_coordinator_refusal())
}

/// TRANSACTIONAL_ID_AUTHORIZATION_FAILED unless the principal may WRITE the transactional id.
fn write_refused(broker: &Broker, ctx: &Context, transactional_id: &str) -> Option<i16> {
    (!ctx.may(
        broker,
        AclOperation::Write,
        ResourceType::TransactionalId,
        transactional_id,
    ))
    .then_some(error_code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
}

/// InitProducerId with a transactional id (Kafka's `handleInitProducerId` with a
/// `TransactionCoordinator`): the id's producer id at a bumped epoch, fencing older instances;
/// CONCURRENT_TRANSACTIONS while an open transaction of an older instance is aborted.
pub(super) async fn init_producer_id(
    broker: &Arc<Broker>,
    ctx: &Context,
    transactional_id: &str,
    request: &InitProducerIdRequest,
) -> InitProducerIdResponse {
    let version = ctx.header.request_api_version;
    let answer = |code: i16, id: i64, epoch: i16| {
        InitProducerIdResponse::default()
            .with_error_code(fenced_for(code, version, 4))
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch)
    };
    broker.ensure_txn_state_topic();
    if let Some(code) = refused(broker, ctx, transactional_id) {
        return answer(code, -1, -1);
    }
    let expected = (request.producer_id.0 >= 0 && request.producer_epoch >= 0)
        .then_some((request.producer_id.0, request.producer_epoch));
    // Taken before the coordinator's lock (a new block may take a quorum round); unused
    // when the transactional id keeps its producer id.
    let fresh = match broker.allocate_producer_id().await {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!("InitProducerId for {transactional_id}: {}", e.message);
            return answer(e.code, -1, -1);
        }
    };
    let plan = broker.lock_txns().prepare_init_producer_id(
        transactional_id,
        request.transaction_timeout_ms,
        expected,
        now_ms() as i64,
        &mut || fresh,
    );
    let code = broker.run_txn_plan(plan).await;
    if code != error_code::NONE {
        return answer(code, -1, -1);
    }
    match broker.lock_txns().describe(transactional_id) {
        Some(txn) => answer(error_code::NONE, txn.producer_id, txn.producer_epoch),
        None => answer(error_code::COORDINATOR_NOT_AVAILABLE, -1, -1),
    }
}

/// AddPartitionsToTxn (v0–3, the client's form): every partition gets the same code, as in
/// Kafka, except those refused on their own (TOPIC_AUTHORIZATION_FAILED,
/// UNKNOWN_TOPIC_OR_PARTITION), which make the others OPERATION_NOT_ATTEMPTED.
pub(super) async fn add_partitions_to_txn(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let version = ctx.header.request_api_version;
    if version >= 4 {
        return verify_partitions(broker, ctx, request);
    }
    let id = request.v3_and_below_transactional_id.0.to_string();
    let mut own: Vec<((TopicName, i32), i16)> = Vec::new();
    let mut wanted = Vec::new();
    for topic in &request.v3_and_below_topics {
        let name = topic.name.0.to_string();
        let code = if !ctx.may(broker, AclOperation::Write, ResourceType::Topic, &name) {
            error_code::TOPIC_AUTHORIZATION_FAILED
        } else if broker.topic(&name).is_none() {
            error_code::UNKNOWN_TOPIC_OR_PARTITION
        } else {
            error_code::NONE
        };
        for &p in &topic.partitions {
            let code = if code == error_code::NONE
                && broker.topic(&name).and_then(|t| t.partition(p)).is_none()
            {
                error_code::UNKNOWN_TOPIC_OR_PARTITION
            } else {
                code
            };
            own.push(((topic.name.clone(), p), code));
            wanted.push((name.clone(), p));
        }
    }
    let code = if let Some(code) = refused(broker, ctx, &id) {
        code
    } else if own.iter().any(|(_, c)| *c != error_code::NONE) {
        // Kafka's answer for the partitions that were fine.
        error_code::OPERATION_NOT_ATTEMPTED
    } else {
        let plan = broker.lock_txns().prepare_add_partitions(
            &id,
            request.v3_and_below_producer_id.0,
            request.v3_and_below_producer_epoch,
            &wanted,
            now_ms() as i64,
        );
        broker.run_txn_plan(plan).await
    };
    let code = fenced_for(code, version, 2);
    let mut results: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for ((topic, partition), own_code) in own {
        let partition_code = if own_code != error_code::NONE {
            own_code
        } else {
            code
        };
        let result = AddPartitionsToTxnPartitionResult::default()
            .with_partition_index(partition)
            .with_partition_error_code(partition_code);
        match results.iter_mut().find(|r| r.name == topic) {
            Some(r) => r.results_by_partition.push(result),
            None => results.push(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(topic)
                    .with_results_by_partition(vec![result]),
            ),
        }
    }
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}

/// AddPartitionsToTxn v4, the brokers' form (KIP-890 part 1): a partition's leader asks
/// whether each partition is in the producer's open transaction before it writes the
/// transaction's first batch there (`verify_only`; core's
/// [`runnel_core::broker::HostedTransactions::verify_partition`], Kafka's
/// `handleVerifyPartitionsInTransaction`). Needs CLUSTER_ACTION
/// (CLUSTER_AUTHORIZATION_FAILED); a coordinator that cannot answer gives its code for every
/// partition; adding partitions through v4 (`verify_only` false), which Kafka's brokers do
/// not use, is refused with INVALID_REQUEST.
fn verify_partitions(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    if !ctx.may_cluster(broker, AclOperation::ClusterAction) {
        return AddPartitionsToTxnResponse::default()
            .with_error_code(error_code::CLUSTER_AUTHORIZATION_FAILED);
    }
    let refusal = broker.txn_coordinator_refusal();
    let results = request
        .transactions
        .into_iter()
        .map(|txn| {
            let topic_results = txn
                .topics
                .into_iter()
                .map(|topic| {
                    let partitions = topic
                        .partitions
                        .iter()
                        .map(|&index| {
                            let code = if !txn.verify_only {
                                error_code::INVALID_REQUEST
                            } else if let Some(code) = refusal {
                                code
                            } else {
                                broker
                                    .lock_txns()
                                    .verify_partition(
                                        txn.producer_id.0,
                                        txn.producer_epoch,
                                        (topic.name.0.as_str(), index),
                                    )
                                    .err()
                                    .unwrap_or(error_code::NONE)
                            };
                            AddPartitionsToTxnPartitionResult::default()
                                .with_partition_index(index)
                                .with_partition_error_code(code)
                        })
                        .collect();
                    AddPartitionsToTxnTopicResult::default()
                        .with_name(topic.name)
                        .with_results_by_partition(partitions)
                })
                .collect();
            AddPartitionsToTxnResult::default()
                .with_transactional_id(txn.transactional_id)
                .with_topic_results(topic_results)
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

/// AddOffsetsToTxn: the group's offsets partition (`__consumer_offsets`-0, runnel's only one)
/// joins the transaction, so its TxnOffsetCommits end with the transaction's marker.
pub(super) async fn add_offsets_to_txn(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let version = ctx.header.request_api_version;
    let id = request.transactional_id.0.to_string();
    let group = request.group_id.0.as_str();
    let code = if let Some(code) = refused(broker, ctx, &id) {
        code
    } else if !ctx.may(broker, AclOperation::Read, ResourceType::Group, group) {
        error_code::GROUP_AUTHORIZATION_FAILED
    } else {
        let plan = broker.lock_txns().prepare_add_partitions(
            &id,
            request.producer_id.0,
            request.producer_epoch,
            &[(OFFSETS_TOPIC.to_string(), 0)],
            now_ms() as i64,
        );
        broker.run_txn_plan(plan).await
    };
    AddOffsetsToTxnResponse::default().with_error_code(fenced_for(code, version, 2))
}

/// EndTxn: commit or abort. Answered once PrepareCommit or PrepareAbort is written; the
/// markers follow (Kafka answers at the same point).
pub(super) async fn end_txn(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: EndTxnRequest,
) -> EndTxnResponse {
    let version = ctx.header.request_api_version;
    let id = request.transactional_id.0.to_string();
    let code = if let Some(code) = refused(broker, ctx, &id) {
        code
    } else {
        let plan = broker.lock_txns().prepare_end_txn(
            &id,
            request.producer_id.0,
            request.producer_epoch,
            request.committed,
            now_ms() as i64,
        );
        broker.run_txn_plan(plan).await
    };
    EndTxnResponse::default().with_error_code(fenced_for(code, version, 2))
}

/// TxnOffsetCommit: the group's commits inside the producer's transaction, shown only once
/// it commits (KIP-98; KIP-447's member and generation checked from v3).
pub(super) async fn txn_offset_commit(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let version = ctx.header.request_api_version;
    let id = request.transactional_id.0.to_string();
    let group = request.group_id.0.to_string();
    let mut entries = Vec::new();
    for topic in &request.topics {
        for p in &topic.partitions {
            entries.push(super::offsets::commit_entry(
                &topic.name,
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch,
                p.committed_metadata.as_ref(),
            ));
        }
    }
    let count = entries.len();
    // Sent to the group's coordinator, not the transaction's.
    let refusal = write_refused(broker, ctx, &id)
        .or_else(|| {
            (!ctx.may(broker, AclOperation::Read, ResourceType::Group, &group))
                .then_some(error_code::GROUP_AUTHORIZATION_FAILED)
        })
        .or_else(|| broker.coordinator_refusal());
    let codes = if let Some(code) = refusal {
        vec![code; count]
    } else {
        let committed = broker.txn_commit_offsets(
            &group,
            request.producer_id.0,
            request.producer_epoch,
            request.generation_id,
            request.member_id.as_str(),
            entries,
        );
        match committed {
            Err(e) => vec![e.code; count],
            Ok(commit) => {
                super::offsets::commit_codes(commit, |base, commit| {
                    broker.txn_commit_replicated(request.producer_id.0, base, commit)
                })
                .await
            }
        }
    };
    let mut codes = codes.into_iter().map(|c| fenced_for(c, version, 3));
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(codes.next().unwrap_or(error_code::NONE))
                })
                .collect();
            TxnOffsetCommitResponseTopic::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

/// DescribeTransactions (KIP-664): each id's state, timeout, start, producer and partitions;
/// TRANSACTIONAL_ID_NOT_FOUND for an id the coordinator does not know.
pub(super) fn describe_transactions(
    broker: &Broker,
    ctx: &Context,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let refusal = broker.txn_coordinator_refusal();
    let txns = broker.lock_txns();
    let states = request
        .transactional_ids
        .into_iter()
        .map(|id| {
            let described = DescribedState::default()
                .with_transactional_id(id.clone())
                .with_transaction_state(s(String::new()))
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
                .with_transaction_start_time_ms(-1);
            if let Some(code) = refusal {
                return described.with_error_code(code);
            }
            if !ctx.may(
                broker,
                AclOperation::Describe,
                ResourceType::TransactionalId,
                id.0.as_str(),
            ) {
                return described
                    .with_error_code(error_code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
            }
            let Some(txn) = txns.describe(id.0.as_str()) else {
                return described.with_error_code(error_code::TRANSACTIONAL_ID_NOT_FOUND);
            };
            let mut topics: Vec<TopicData> = Vec::new();
            for (topic, partition) in &txn.partitions {
                match topics.iter_mut().find(|t| t.topic.0.as_str() == topic) {
                    Some(t) => t.partitions.push(*partition),
                    None => topics.push(
                        TopicData::default()
                            .with_topic(TopicName(s(topic.clone())))
                            .with_partitions(vec![*partition]),
                    ),
                }
            }
            described
                .with_transaction_state(s(txn.state.name().to_string()))
                .with_transaction_timeout_ms(txn.timeout_ms)
                .with_transaction_start_time_ms(txn.start_ms)
                .with_producer_id(ProducerId(txn.producer_id))
                .with_producer_epoch(txn.producer_epoch)
                .with_topics(topics)
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

/// ListTransactions (KIP-664): the ids this coordinator knows that the principal may
/// DESCRIBE, filtered by state names, producer ids and (v1) open for at least
/// `duration_filter` ms. Unknown state names are echoed in `unknown_state_filters`.
pub(super) fn list_transactions(
    broker: &Broker,
    ctx: &Context,
    request: ListTransactionsRequest,
) -> ListTransactionsResponse {
    const STATES: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];
    let unknown: Vec<_> = request
        .state_filters
        .iter()
        .filter(|f| !STATES.iter().any(|st| st.name() == f.as_str()))
        .cloned()
        .collect();
    let now = now_ms() as i64;
    let txns = broker.lock_txns();
    let states = txns
        .list()
        .filter(|t| {
            request.state_filters.is_empty()
                || request
                    .state_filters
                    .iter()
                    .any(|f| f.as_str() == t.state.name())
        })
        .filter(|t| {
            request.producer_id_filters.is_empty()
                || request
                    .producer_id_filters
                    .iter()
                    .any(|p| p.0 == t.producer_id)
        })
        .filter(|t| {
            request.duration_filter < 0
                || (t.start_ms >= 0 && now - t.start_ms >= request.duration_filter)
        })
        .filter(|t| {
            ctx.may_quietly(
                broker,
                AclOperation::Describe,
                ResourceType::TransactionalId,
                &t.transactional_id,
            )
        })
        .map(|t| {
            ListedState::default()
                .with_transactional_id(s(t.transactional_id.clone()).into())
                .with_producer_id(ProducerId(t.producer_id))
                .with_transaction_state(s(t.state.name().to_string()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(states)
}

/// WriteTxnMarkers (v1, between nodes): the transaction coordinator asks this node, the
/// leader of each named partition, to write a producer's commit or abort marker there
/// (Kafka's `handleWriteTxnMarkersRequest`); each partition is answered once its marker is
/// replicated, or with why not (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, ...), and the
/// coordinator retries those. ACLs: CLUSTER_ACTION on the cluster, else
/// CLUSTER_AUTHORIZATION_FAILED for every partition.
pub(super) async fn write_txn_markers(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    let allowed = ctx.may_cluster(broker, AclOperation::ClusterAction);
    let mut results = Vec::with_capacity(request.markers.len());
    for marker in request.markers {
        let job = MarkerJob {
            transactional_id: String::new(),
            producer_id: marker.producer_id.0,
            producer_epoch: marker.producer_epoch,
            control: ControlType::of(marker.transaction_result),
            coordinator_epoch: marker.coordinator_epoch,
            partitions: Vec::new(),
        };
        let mut topics = Vec::with_capacity(marker.topics.len());
        for topic in marker.topics {
            let mut partitions = Vec::with_capacity(topic.partition_indexes.len());
            for index in topic.partition_indexes {
                let code = if !allowed {
                    error_code::CLUSTER_AUTHORIZATION_FAILED
                } else {
                    match broker
                        .write_marker_here(&job, topic.name.0.as_str(), index)
                        .await
                    {
                        Ok(()) => error_code::NONE,
                        Err(e) => e.code,
                    }
                };
                partitions.push(
                    WritableTxnMarkerPartitionResult::default()
                        .with_partition_index(index)
                        .with_error_code(code),
                );
            }
            topics.push(
                WritableTxnMarkerTopicResult::default()
                    .with_name(topic.name)
                    .with_partitions(partitions),
            );
        }
        results.push(
            WritableTxnMarkerResult::default()
                .with_producer_id(marker.producer_id)
                .with_topics(topics),
        );
    }
    WriteTxnMarkersResponse::default().with_markers(results)
}
