//! OffsetCommit, OffsetFetch and OffsetDelete: where a group is in each partition.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse,
    OffsetFetchRequest, OffsetFetchResponse, TopicName,
};

use super::{Context, s};
use crate::broker::Broker;
use runnel_core::acl::{AclOperation, ResourceType};
use runnel_core::broker::CommitEntry;
use runnel_core::error_code;

/// Whether this request's principal may READ each of `topics` (OffsetCommit, OffsetDelete).
fn readable_topics<'a>(
    broker: &Broker,
    ctx: &Context,
    topics: impl Iterator<Item = &'a str>,
) -> Vec<bool> {
    topics
        .map(|name| ctx.may(broker, AclOperation::Read, ResourceType::Topic, name))
        .collect()
}

/// An OffsetCommit answer with `error` for every partition asked about.
pub(super) fn all_partitions_failed(
    request: &OffsetCommitRequest,
    error: i16,
) -> OffsetCommitResponse {
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            OffsetCommitResponseTopic::default()
                .with_name(topic.name.clone())
                .with_partitions(
                    topic
                        .partitions
                        .iter()
                        .map(|p| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(error)
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// An OffsetFetch answer with `error`: at the top (v2+), or on every partition asked (v1).
pub(super) fn fetch_failed(
    request: &OffsetFetchRequest,
    version: i16,
    error: i16,
) -> OffsetFetchResponse {
    if version >= 2 {
        return OffsetFetchResponse::default().with_error_code(error);
    }
    let topics = request
        .topics
        .iter()
        .flatten()
        .map(|t| {
            OffsetFetchResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partition_indexes
                        .iter()
                        .map(|p| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(-1)
                                .with_error_code(error)
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}

/// OffsetCommit: every partition of the request gets its own code; a refusal of the member
/// (unknown, wrong generation, rebalancing) applies to all of them. ACLs: READ on the group
/// (checked before, `groups::group_refused`) and on each topic, whose partitions are
/// otherwise answered TOPIC_AUTHORIZATION_FAILED and not committed.
pub(super) async fn offset_commit(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let group = request.group_id.0.to_string();
    let readable = readable_topics(
        broker,
        ctx,
        request.topics.iter().map(|t| t.name.0.as_str()),
    );
    let mut entries = Vec::new();
    for (topic, _) in request.topics.iter().zip(&readable).filter(|(_, r)| **r) {
        for p in &topic.partitions {
            entries.push(commit_entry(
                &topic.name,
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch,
                p.committed_metadata.as_ref(),
            ));
        }
    }
    let count = entries.len();
    // KIP-345: a static member's old incarnation may not commit.
    let fenced = request.group_instance_id.as_ref().and_then(|instance| {
        broker
            .lock_groups()
            .coordinator
            .check_static_member(&group, instance.as_str(), request.member_id.as_str())
            .err()
    });
    let codes = match fenced.map_or_else(
        || {
            broker.commit_offsets(
                &group,
                request.generation_id_or_member_epoch,
                request.member_id.as_str(),
                entries,
            )
        },
        |e| {
            Err(crate::broker::ApiError::new(
                e.kafka_error_code(),
                e.to_string(),
            ))
        },
    ) {
        Ok(commit) => {
            commit_codes(commit, |base_offset, commit| {
                broker.commit_replicated(base_offset, &commit.plan)
            })
            .await
        }
        Err(e) => vec![e.code; count],
    };
    let mut codes = codes.into_iter();
    let topics = request
        .topics
        .into_iter()
        .zip(readable)
        .map(|(topic, readable)| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let code = if readable {
                        codes.next().unwrap_or(0)
                    } else {
                        error_code::TOPIC_AUTHORIZATION_FAILED
                    };
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// The codes to answer a written commit with: at once when its write is done; in a cluster
/// once the offsets topic's ISR has it (`replicated(base offset, commit)` shows it first),
/// and a write that fails or times out answers Kafka's coordinator codes
/// ([`runnel_core::broker::CommitPlan::answer`]).
pub(super) async fn commit_codes(
    mut commit: crate::broker::Commit,
    replicated: impl FnOnce(i64, &crate::broker::Commit),
) -> Vec<i16> {
    let Some(waiting) = commit.replicated.take() else {
        return commit.plan.answer(error_code::NONE);
    };
    let wait = Duration::from_millis(crate::broker::OFFSETS_COMMIT_TIMEOUT_MS);
    match tokio::time::timeout(wait, waiting).await {
        Ok(Ok(Ok(base_offset))) => {
            replicated(base_offset, &commit);
            commit.plan.answer(error_code::NONE)
        }
        Ok(Ok(Err(e))) => commit.plan.answer(e.kafka_error_code()),
        _ => commit.plan.answer(error_code::REQUEST_TIMED_OUT),
    }
}

/// One partition of an OffsetCommit or TxnOffsetCommit as core's coordinator takes it.
pub(super) fn commit_entry(
    topic: &TopicName,
    partition: i32,
    offset: i64,
    leader_epoch: i32,
    metadata: Option<&kafka_protocol::protocol::StrBytes>,
) -> CommitEntry {
    CommitEntry {
        topic: topic.0.to_string(),
        partition,
        offset,
        leader_epoch,
        metadata: metadata.map(|m| m.to_string()).unwrap_or_default(),
    }
}

/// OffsetFetch (v0–7: one group): the committed offset of each asked partition, or of every
/// partition the group has committed when no topics are named. No commit is offset -1. With
/// `require_stable` (v7, KIP-447) a partition an open transaction holds a commit for is
/// answered UNSTABLE_OFFSET_COMMIT, which consumers retry.
/// ACLs: DESCRIBE on the group (checked before, `groups::group_refused`) and on each topic:
/// a named topic's partitions are otherwise answered TOPIC_AUTHORIZATION_FAILED, and "every
/// partition" leaves such topics out (Kafka's `handleOffsetFetchRequest`).
pub(super) fn offset_fetch(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let version = ctx.header.request_api_version;
    let group = request.group_id.0.to_string();
    let describable = |topic: &str, quietly: bool| {
        if quietly {
            ctx.may_quietly(broker, AclOperation::Describe, ResourceType::Topic, topic)
        } else {
            ctx.may(broker, AclOperation::Describe, ResourceType::Topic, topic)
        }
    };
    let groups = broker.lock_groups();
    // Asked again under the lock the offsets are read under: the node may have resigned
    // since the request's first check (its store is empty then, not the group's).
    if let Err(e) = groups.check_ready() {
        return fetch_failed(&request, version, e.kafka_error_code());
    }
    let asked: Vec<(String, Vec<i32>)> = match &request.topics {
        Some(topics) => topics
            .iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
            .collect(),
        None => {
            let mut all: Vec<(String, Vec<i32>)> = Vec::new();
            for ((topic, partition), _) in groups
                .offsets()
                .group(&group)
                .filter(|((topic, _), _)| describable(topic, true))
            {
                match all.last_mut() {
                    Some((t, ps)) if t == topic => ps.push(*partition),
                    _ => all.push((topic.clone(), vec![*partition])),
                }
            }
            all
        }
    };
    let topics = asked
        .into_iter()
        .map(|(topic, partitions)| {
            let allowed = request.topics.is_none() || describable(&topic, false);
            let partitions = partitions
                .into_iter()
                .map(|p| {
                    if !allowed {
                        return OffsetFetchResponsePartition::default()
                            .with_partition_index(p)
                            .with_committed_offset(-1)
                            .with_committed_leader_epoch(-1)
                            .with_metadata(Some(s("")))
                            .with_error_code(error_code::TOPIC_AUTHORIZATION_FAILED);
                    }
                    if request.require_stable && groups.has_pending_txn_commit(&group, &topic, p) {
                        return OffsetFetchResponsePartition::default()
                            .with_partition_index(p)
                            .with_committed_offset(-1)
                            .with_committed_leader_epoch(-1)
                            .with_metadata(Some(s("")))
                            .with_error_code(error_code::UNSTABLE_OFFSET_COMMIT);
                    }
                    let committed = groups.offsets().fetch(&group, &topic, p);
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(p)
                        .with_committed_offset(committed.map_or(-1, |c| c.offset))
                        .with_committed_leader_epoch(if version >= 5 {
                            committed.map_or(-1, |c| c.leader_epoch)
                        } else {
                            -1
                        })
                        .with_metadata(Some(s(committed
                            .map(|c| c.metadata.clone())
                            .unwrap_or_default())))
                })
                .collect();
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(s(topic)))
                .with_partitions(partitions)
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}

/// OffsetDelete (KIP-496): deletes a group's commits for some partitions. The group-level
/// rule is core's (`GroupCoordinator::offset_delete_protected`): an unknown group is
/// GROUP_ID_NOT_FOUND, a live non-consumer group NON_EMPTY_GROUP; partitions of topics a live
/// consumer group subscribes to answer GROUP_SUBSCRIBED_TO_TOPIC, unknown ones
/// UNKNOWN_TOPIC_OR_PARTITION, and the rest are deleted (NONE whether or not a commit existed).
/// ACLs: DELETE on the group (checked before, `groups::group_refused`) and READ on each topic,
/// whose partitions are otherwise answered TOPIC_AUTHORIZATION_FAILED.
pub(super) fn offset_delete(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let group = request.group_id.0.to_string();
    let readable = readable_topics(
        broker,
        ctx,
        request.topics.iter().map(|t| t.name.0.as_str()),
    );
    let mut guard = broker.lock_groups();
    let groups = &mut *guard;
    let has_offsets = groups.offsets().group(&group).next().is_some();
    let protected = match groups
        .coordinator
        .offset_delete_protected(&group, has_offsets)
    {
        Ok(protected) => protected,
        Err(e) => return OffsetDeleteResponse::default().with_error_code(e.kafka_error_code()),
    };
    let mut deletable = Vec::new();
    let mut topics = Vec::with_capacity(request.topics.len());
    for (topic, readable) in request.topics.iter().zip(readable) {
        let name = topic.name.0.to_string();
        let subscribed = protected.as_ref().is_none_or(|p| p.contains(&name));
        let partitions = topic
            .partitions
            .iter()
            .map(|p| {
                let index = p.partition_index;
                let error = if !readable {
                    error_code::TOPIC_AUTHORIZATION_FAILED
                } else if broker
                    .topic(&name)
                    .and_then(|t| t.partition(index))
                    .is_none()
                {
                    error_code::UNKNOWN_TOPIC_OR_PARTITION
                } else if subscribed {
                    error_code::GROUP_SUBSCRIBED_TO_TOPIC
                } else {
                    deletable.push((name.clone(), index));
                    error_code::NONE
                };
                (index, error)
            })
            .collect::<Vec<_>>();
        topics.push((topic.name.clone(), partitions));
    }
    if let Err(e) = broker.delete_offsets(groups, &group, &deletable) {
        return OffsetDeleteResponse::default().with_error_code(e.code);
    }
    OffsetDeleteResponse::default().with_topics(
        topics
            .into_iter()
            .map(|(name, partitions)| {
                OffsetDeleteResponseTopic::default()
                    .with_name(name)
                    .with_partitions(
                        partitions
                            .into_iter()
                            .map(|(index, error)| {
                                OffsetDeleteResponsePartition::default()
                                    .with_partition_index(index)
                                    .with_error_code(error)
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
