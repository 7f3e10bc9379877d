//! Topic administration and offsets by time: CreateTopics, DeleteTopics, CreatePartitions,
//! DeleteRecords, ListOffsets.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteRecordsRequest, DeleteRecordsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    ListOffsetsRequest, ListOffsetsResponse, TopicName,
};

use runnel_core::acl::{AclOperation, ResourceType};
use runnel_core::error_code;

use super::{Context, s};
use crate::broker::{ApiError, Broker, code};

/// The refusal of `operation` on topic `name` (TOPIC_AUTHORIZATION_FAILED).
pub(super) fn topic_refused(operation: AclOperation, name: &str) -> ApiError {
    ApiError::new(
        error_code::TOPIC_AUTHORIZATION_FAILED,
        format!(
            "not authorized to {} topic {name}",
            operation.name().to_ascii_lowercase().replace('_', " ")
        ),
    )
}

/// `Ok` when this request's principal may do `operation` on topic `name`.
pub(super) fn check_topic(
    broker: &Broker,
    ctx: &Context,
    operation: AclOperation,
    name: &str,
) -> Result<(), ApiError> {
    if ctx.may(broker, operation, ResourceType::Topic, name) {
        Ok(())
    } else {
        Err(topic_refused(operation, name))
    }
}

/// ListOffsets timestamp meaning "the log start offset".
const EARLIEST: i64 = -2;
/// ListOffsets timestamp meaning "the log end offset".
const LATEST: i64 = -1;
/// ListOffsets timestamp meaning "the record with the largest timestamp" (KIP-734).
const MAX_TIMESTAMP: i64 = -3;
/// ListOffsets timestamp meaning "the first offset on local storage" (KIP-405): the log start
/// without tiered storage.
const EARLIEST_LOCAL: i64 = -4;
/// ListOffsets timestamp meaning "the last offset in tiered storage" (KIP-1005): none here,
/// so -1, as Kafka answers when remote storage is off.
const LATEST_TIERED: i64 = -5;

/// ListOffsets: earliest, latest, or the first offset at or after a timestamp. ACLs: DESCRIBE
/// on each topic (Kafka's `handleListOffsetRequest`), else TOPIC_AUTHORIZATION_FAILED.
pub(super) fn list_offsets(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let version = ctx.header.request_api_version;
    let read_committed = request.isolation_level == 1;
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let name = topic.name.0.to_string();
            let allowed = check_topic(broker, ctx, AclOperation::Describe, &name);
            let partitions = topic
                .partitions
                .into_iter()
                .map(|p| {
                    let response = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1);
                    let found = allowed.clone().and_then(|()| {
                        offset_for(
                            broker,
                            &name,
                            p.partition_index,
                            p.current_leader_epoch,
                            p.timestamp,
                            read_committed,
                        )
                    });
                    match found {
                        Ok((offset, timestamp, epoch)) => response
                            .with_offset(offset)
                            .with_timestamp(timestamp)
                            // v4+ (KIP-320): the epoch the offset was written in.
                            .with_leader_epoch(if version >= 4 { epoch } else { -1 }),
                        Err(e) => response.with_error_code(e.code),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// (offset, timestamp, leader epoch) for a ListOffsets timestamp or special value, from a
/// client that knows `current_leader_epoch` (v4+, KIP-320: checked as core's
/// `Replica::check_current_leader_epoch`; -1 is not).
fn offset_for(
    broker: &Broker,
    topic: &str,
    index: i32,
    current_leader_epoch: i32,
    timestamp: i64,
    read_committed: bool,
) -> Result<(i64, i64, i32), ApiError> {
    let partition = broker.led_partition(topic, index)?;
    let state = partition.lock();
    state
        .replica()
        .check_current_leader_epoch(current_leader_epoch)
        .map_err(|e| ApiError::new(e.kafka_error_code(), e.to_string()))?;
    let (offset, found_timestamp) =
        offset_and_timestamp(broker, &state, timestamp, read_committed)?;
    let epoch = match offset {
        -1 => -1,
        o => state.replica().epoch_for_offset(o),
    };
    Ok((offset, found_timestamp, epoch))
}

fn offset_and_timestamp(
    broker: &Broker,
    state: &crate::broker::PartitionState,
    timestamp: i64,
    read_committed: bool,
) -> Result<(i64, i64), ApiError> {
    let fetchable = if read_committed {
        state.replica().last_stable_offset()
    } else {
        state.high_watermark()
    };
    match timestamp {
        EARLIEST | EARLIEST_LOCAL => Ok((state.log().log_start_offset(), -1)),
        LATEST_TIERED => Ok((-1, -1)),
        // The end a consumer can read to: the high watermark (the log end on one node), or
        // under read_committed the last stable offset (Kafka's `fetchOffsetForTimestamp`
        // with `IsolationLevel.READ_COMMITTED`).
        LATEST if read_committed => Ok((state.replica().last_stable_offset(), -1)),
        LATEST => Ok((state.high_watermark(), -1)),
        // Only an offset a reader of this isolation level may fetch (Kafka's
        // `Partition.fetchOffsetForTimestamp`: below the LSO or the HW), else none.
        MAX_TIMESTAMP => Ok(state
            .log()
            .offset_of_max_timestamp(&broker.codec)?
            .filter(|(o, _)| *o < fetchable)
            .unwrap_or((-1, -1))),
        ts if ts >= 0 => Ok(state
            .log()
            .offset_for_timestamp(ts, &broker.codec)?
            .filter(|(o, _)| *o < fetchable)
            .unwrap_or((-1, -1))),
        _ => Err(ApiError::new(
            code::INVALID_REQUEST,
            format!("invalid timestamp {timestamp}"),
        )),
    }
}

/// CreateTopics: here on a single node (where a replication factor above 1 is refused),
/// through the metadata quorum in a cluster. ACLs: CREATE on the cluster or on the topic
/// (Kafka's `handleCreateTopicsRequest`), else TOPIC_AUTHORIZATION_FAILED.
pub(super) async fn create_topics(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let version = ctx.header.request_api_version;
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.0.to_string();
        if !ctx.may_create_topic(broker, &name) {
            let e = topic_refused(AclOperation::Create, &name);
            results.push(
                CreatableTopicResult::default()
                    .with_name(topic.name)
                    .with_error_code(e.code)
                    .with_error_message(Some(s(e.message))),
            );
            continue;
        }
        let partitions = if !topic.assignments.is_empty() {
            topic.assignments.len() as i32
        } else if topic.num_partitions == -1 {
            broker.config.num_partitions
        } else {
            topic.num_partitions
        };
        let replication_factor = match (topic.replication_factor, broker.cluster()) {
            (-1, Some(_)) => broker.config.default_replication_factor,
            (-1, None) => 1,
            (rf, _) => rf,
        };
        let configs: BTreeMap<String, String> = topic
            .configs
            .iter()
            .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
            .collect();
        let result = broker
            .create_topic_anywhere(
                &name,
                partitions,
                replication_factor,
                configs,
                request.validate_only,
            )
            .await;
        // Fields by version: error_message v1+, counts and configs v5+, topic id v7+.
        let mut response = CreatableTopicResult::default().with_name(topic.name);
        if version >= 5 {
            response = response.with_configs(Some(Vec::new()));
        }
        results.push(match result {
            Ok(()) => {
                if version >= 5 {
                    response = response
                        .with_num_partitions(partitions)
                        .with_replication_factor(replication_factor);
                }
                if version >= 7 {
                    response = response
                        .with_topic_id(broker.topic(&name).map(|t| t.id).unwrap_or_default());
                }
                response
            }
            Err(e) => response
                .with_error_code(e.code)
                .with_error_message(Some(s(e.message))),
        });
    }
    CreateTopicsResponse::default().with_topics(results)
}

/// DeleteTopics' ACLs (Kafka's `ControllerApis.deleteTopics`): DELETE on the cluster allows
/// every topic; else DELETE on the topic. A topic that does not exist is
/// UNKNOWN_TOPIC_OR_PARTITION for a principal that may DESCRIBE it, else
/// TOPIC_AUTHORIZATION_FAILED (its existence is not told).
fn deletable(broker: &Broker, ctx: &Context, name: &str) -> Result<(), ApiError> {
    if ctx.may_cluster_quietly(broker, AclOperation::Delete) {
        return Ok(());
    }
    let quietly = |operation| ctx.may_quietly(broker, operation, ResourceType::Topic, name);
    if broker.topic(name).is_none()
        && quietly(AclOperation::Describe)
        && !quietly(AclOperation::Delete)
    {
        return Err(ApiError::unknown_topic(name));
    }
    check_topic(broker, ctx, AclOperation::Delete, name)
}

/// DeleteTopics, by name (v0–5) or by name or id (v6+). ACLs: [`deletable`].
pub(super) async fn delete_topics(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let version = ctx.header.request_api_version;
    let mut names: Vec<(Option<String>, uuid::Uuid)> = request
        .topic_names
        .iter()
        .map(|n| (Some(n.0.to_string()), uuid::Uuid::nil()))
        .collect();
    names.extend(
        request
            .topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.0.to_string()), t.topic_id)),
    );
    let mut responses = Vec::with_capacity(names.len());
    for (name, id) in names {
        let name = name.or_else(|| broker.topic_by_id(id).map(|t| t.name.clone()));
        let response = DeletableTopicResult::default()
            .with_name(name.clone().map(|n| TopicName(s(n))))
            .with_topic_id(id);
        let result = match &name {
            Some(name) => match deletable(broker, ctx, name) {
                Ok(()) => broker.delete_topic_anywhere(name).await,
                Err(e) => Err(e),
            },
            None => Err(ApiError::new(
                runnel_core::error_code::UNKNOWN_TOPIC_OR_PARTITION,
                "unknown topic id",
            )),
        };
        responses.push(match result {
            Ok(()) => response,
            Err(e) => response
                .with_error_code(e.code)
                .with_error_message((version >= 5).then(|| s(e.message))),
        });
    }
    DeleteTopicsResponse::default().with_responses(responses)
}

/// CreatePartitions: grows topics ([`Broker::create_partitions_anywhere`]: through the
/// metadata quorum in a cluster). ACLs: ALTER on each topic, else TOPIC_AUTHORIZATION_FAILED.
/// Manual replica assignments are refused with INVALID_REQUEST (the controller places the
/// new partitions).
pub(super) async fn create_partitions(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.0.to_string();
        let result = match check_topic(broker, ctx, AclOperation::Alter, &name) {
            Err(e) => Err(e),
            // An empty list counts as none, as runnel's own CLI once sent it.
            Ok(()) if topic.assignments.as_ref().is_some_and(|a| !a.is_empty()) => {
                Err(ApiError::new(
                    runnel_core::error_code::INVALID_REQUEST,
                    "manual replica assignments are not supported: the controller places the new partitions",
                ))
            }
            Ok(()) => {
                broker
                    .create_partitions_anywhere(&name, topic.count, request.validate_only)
                    .await
            }
        };
        let response = CreatePartitionsTopicResult::default().with_name(topic.name);
        results.push(match result {
            Ok(()) => response,
            Err(e) => response
                .with_error_code(e.code)
                .with_error_message(Some(s(e.message))),
        });
    }
    CreatePartitionsResponse::default().with_results(results)
}

/// DeleteRecords: moves each partition's log start offset (-1: to the high watermark).
/// ACLs: DELETE on each topic, else TOPIC_AUTHORIZATION_FAILED; `__consumer_offsets` is
/// refused with INVALID_TOPIC_EXCEPTION, as Kafka refuses internal topics.
pub(super) fn delete_records(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let name = topic.name.0.to_string();
            let allowed = if crate::broker::is_internal_topic(&name) {
                // Kafka's ReplicaManager: "Cannot delete records of internal topic".
                Err(ApiError::new(
                    error_code::INVALID_TOPIC_EXCEPTION,
                    format!("Cannot delete records of internal topic {name}"),
                ))
            } else {
                check_topic(broker, ctx, AclOperation::Delete, &name)
            };
            let partitions = topic
                .partitions
                .into_iter()
                .map(|p| {
                    let response = DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index)
                        .with_low_watermark(-1);
                    // Only the leader moves the log start (followers follow it), as Kafka.
                    let result = allowed
                        .clone()
                        .and_then(|()| broker.led_partition(&name, p.partition_index))
                        .and_then(|partition| {
                            let dir = broker.partition_dir(&name, p.partition_index);
                            broker.delete_records(&partition, &dir, p.offset)
                        });
                    match result {
                        Ok(start) => response.with_low_watermark(start),
                        Err(e) => response.with_error_code(e.code),
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}
