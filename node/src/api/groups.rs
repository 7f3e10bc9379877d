//! Consumer-group membership: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! ListGroups, DescribeGroups, DeleteGroups. The decisions are `runnel_core::group`'s; held
//! JoinGroup and SyncGroup replies wait here on a channel until the coordinator releases them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    BrokerId, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest,
    DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse, GroupId,
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse, OffsetDeleteResponse,
    SyncGroupRequest, SyncGroupResponse,
};
use runnel_core::acl::{AclOperation, ResourceType};
use runnel_core::error_code;
use runnel_core::group::{GroupError, GroupOutput, GroupState, JoinRequest, SyncRequest};

use kafka_protocol::messages::{RequestKind, ResponseKind};

use super::{Context, s};
use crate::broker::{Broker, now_ms};

/// A request about one group that this node cannot serve now, answered with core's reason
/// ([`Broker::coordinator_refusal`]: NOT_COORDINATOR, so the client finds the coordinator
/// again; COORDINATOR_LOAD_IN_PROGRESS, which it retries). `None` when it can, or for other
/// requests (the coordinator is not asked about those).
pub(super) fn not_served_here(
    broker: &Broker,
    request: &RequestKind,
    version: i16,
) -> Option<ResponseKind> {
    // Only requests about one group (the list matches `group_request_failed`'s).
    let about_one_group = matches!(
        request,
        RequestKind::JoinGroup(_)
            | RequestKind::SyncGroup(_)
            | RequestKind::Heartbeat(_)
            | RequestKind::LeaveGroup(_)
            | RequestKind::OffsetCommit(_)
            | RequestKind::OffsetFetch(_)
            | RequestKind::OffsetDelete(_)
    );
    if !about_one_group {
        return None;
    }
    group_request_failed(request, version, broker.coordinator_refusal()?)
}

/// ACLs on a request about one group (Kafka's `KafkaApis`): JoinGroup, SyncGroup, Heartbeat,
/// LeaveGroup and OffsetCommit need READ on the group, OffsetFetch (v0–7, one group)
/// DESCRIBE, OffsetDelete DELETE; a refusal answers GROUP_AUTHORIZATION_FAILED and changes
/// nothing. `None` when allowed, or for other requests.
pub(super) fn group_refused(
    broker: &Broker,
    ctx: &Context,
    request: &RequestKind,
) -> Option<ResponseKind> {
    let (operation, group) = match request {
        RequestKind::JoinGroup(r) => (AclOperation::Read, r.group_id.0.as_str()),
        RequestKind::SyncGroup(r) => (AclOperation::Read, r.group_id.0.as_str()),
        RequestKind::Heartbeat(r) => (AclOperation::Read, r.group_id.0.as_str()),
        RequestKind::LeaveGroup(r) => (AclOperation::Read, r.group_id.0.as_str()),
        RequestKind::OffsetCommit(r) => (AclOperation::Read, r.group_id.0.as_str()),
        RequestKind::OffsetFetch(r) => (AclOperation::Describe, r.group_id.0.as_str()),
        RequestKind::OffsetDelete(r) => (AclOperation::Delete, r.group_id.0.as_str()),
        _ => return None,
    };
    if ctx.may(broker, operation, ResourceType::Group, group) {
        return None;
    }
    group_request_failed(
        request,
        ctx.header.request_api_version,
        error_code::GROUP_AUTHORIZATION_FAILED,
    )
}

/// A request about one group answered with `error` everywhere; `None` for other requests.
fn group_request_failed(request: &RequestKind, version: i16, error: i16) -> Option<ResponseKind> {
    Some(match request {
        RequestKind::JoinGroup(_) => ResponseKind::JoinGroup(
            JoinGroupResponse::default()
                .with_error_code(error)
                .with_generation_id(-1),
        ),
        RequestKind::SyncGroup(_) => {
            ResponseKind::SyncGroup(SyncGroupResponse::default().with_error_code(error))
        }
        RequestKind::Heartbeat(_) => {
            ResponseKind::Heartbeat(HeartbeatResponse::default().with_error_code(error))
        }
        RequestKind::LeaveGroup(_) => {
            ResponseKind::LeaveGroup(LeaveGroupResponse::default().with_error_code(error))
        }
        RequestKind::OffsetCommit(r) => {
            ResponseKind::OffsetCommit(super::offsets::all_partitions_failed(r, error))
        }
        RequestKind::OffsetFetch(r) => {
            ResponseKind::OffsetFetch(super::offsets::fetch_failed(r, version, error))
        }
        RequestKind::OffsetDelete(_) => {
            ResponseKind::OffsetDelete(OffsetDeleteResponse::default().with_error_code(error))
        }
        _ => return None,
    })
}

/// How long past its rebalance timeout a held JoinGroup may wait before it is answered with
/// REBALANCE_IN_PROGRESS (the coordinator's own deadline should always answer first).
const HELD_REPLY_SLACK: Duration = Duration::from_secs(5);

/// Kafka's message for GROUP_AUTHORIZATION_FAILED (`Errors.java`), which FindCoordinator
/// sends as its error message.
const GROUP_AUTHORIZATION_FAILED_MESSAGE: &str = "Group authorization failed.";
/// Kafka's message for TRANSACTIONAL_ID_AUTHORIZATION_FAILED (`Errors.java`).
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED_MESSAGE: &str =
    "Transactional Id authorization failed.";
/// Kafka's message for COORDINATOR_NOT_AVAILABLE (`Errors.java`).
const COORDINATOR_NOT_AVAILABLE_MESSAGE: &str = "The coordinator is not available.";

/// FindCoordinator: one node coordinates every group — the node itself, or in a cluster the
/// leader of `__consumer_offsets`, whose commits are replicated like any partition's — and
/// one every transactional id (key type 1): the leader of `__transaction_state`.
///
/// ACLs: DESCRIBE on the group (each key, v4+), else GROUP_AUTHORIZATION_FAILED. Errors carry
/// Kafka's messages (v1+), as its `createFindCoordinatorResponse` sets `error.message()`.
pub(super) fn find_coordinator(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let version = ctx.header.request_api_version;
    let coordinator = if request.key_type == 1 {
        broker.ensure_txn_state_topic();
        broker.txn_coordinator_endpoint(ctx.listener)
    } else {
        broker.coordinator_endpoint(ctx.listener)
    };
    // DESCRIBE on the group (key type 0) or the transactional id (key type 1).
    let refused = |key: &str| match request.key_type {
        0 if !ctx.may(broker, AclOperation::Describe, ResourceType::Group, key) => Some((
            error_code::GROUP_AUTHORIZATION_FAILED,
            GROUP_AUTHORIZATION_FAILED_MESSAGE,
        )),
        1 if !ctx.may(
            broker,
            AclOperation::Describe,
            ResourceType::TransactionalId,
            key,
        ) =>
        {
            Some((
                error_code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                TRANSACTIONAL_ID_AUTHORIZATION_FAILED_MESSAGE,
            ))
        }
        _ => None,
    };
    let (node, host, port) = match &coordinator {
        Some((id, host, port)) => (BrokerId(*id), s(host.clone()), i32::from(*port)),
        None => (BrokerId(-1), s(String::new()), -1),
    };
    let (error, message) = if !matches!(request.key_type, 0 | 1) {
        (
            error_code::INVALID_REQUEST,
            Some(s(format!(
                "unknown coordinator key type {}",
                request.key_type
            ))),
        )
    } else if coordinator.is_none() {
        (
            error_code::COORDINATOR_NOT_AVAILABLE,
            Some(s(COORDINATOR_NOT_AVAILABLE_MESSAGE)),
        )
    } else {
        (0, None)
    };
    if version >= 4 {
        let coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let coordinator = Coordinator::default().with_key(key.clone());
                if let Some((code, why)) = refused(key.as_str()) {
                    return coordinator
                        .with_node_id(BrokerId(-1))
                        .with_host(s(String::new()))
                        .with_port(-1)
                        .with_error_code(code)
                        .with_error_message(Some(s(why)));
                }
                coordinator
                    .with_node_id(node)
                    .with_host(host.clone())
                    .with_port(port)
                    .with_error_code(error)
                    .with_error_message(message.clone())
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    if let Some((code, why)) = refused(request.key.as_str()) {
        return FindCoordinatorResponse::default()
            .with_error_code(code)
            .with_error_message((version >= 1).then(|| s(why)))
            .with_node_id(BrokerId(-1))
            .with_port(-1);
    }
    FindCoordinatorResponse::default()
        .with_error_code(error)
        // FindCoordinator v0 has no error message.
        .with_error_message(if version >= 1 { message } else { None })
        .with_node_id(node)
        .with_host(host)
        .with_port(port)
}

/// JoinGroup: held until the group's rebalance completes.
pub(super) async fn join_group(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: JoinGroupRequest,
) -> JoinGroupResponse {
    let rebalance_timeout_ms = if request.rebalance_timeout_ms > 0 {
        request.rebalance_timeout_ms as u64
    } else {
        request.session_timeout_ms.max(0) as u64 // v0 has no rebalance timeout
    };
    let join = JoinRequest {
        group_id: request.group_id.0.to_string(),
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|i| i.to_string()),
        session_timeout_ms: request.session_timeout_ms.max(0) as u64,
        rebalance_timeout_ms,
        client_id: ctx
            .header
            .client_id
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        client_host: ctx.client_host.clone(),
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.to_vec()))
            .collect(),
    };
    let (token, reply) = broker.reply_slot();
    let outputs = {
        let mut groups = broker.lock_groups();
        // Asked again under the lock: a node that resigned since the first check must not
        // start a group the real coordinator never hears of.
        if let Err(e) = groups.check_ready() {
            return JoinGroupResponse::default()
                .with_error_code(e.kafka_error_code())
                .with_generation_id(-1)
                .with_member_id(request.member_id);
        }
        groups.coordinator.handle_join(now_ms(), join, token)
    };
    broker.deliver(outputs);
    let wait = Duration::from_millis(rebalance_timeout_ms) + HELD_REPLY_SLACK;
    match tokio::time::timeout(wait, reply).await {
        Ok(Ok(GroupOutput::Join(_, r))) => {
            let members = r
                .members
                .into_iter()
                .map(|(id, instance, metadata)| {
                    JoinGroupResponseMember::default()
                        .with_member_id(s(id))
                        // v5+ (KIP-345): the leader sees which members are static.
                        .with_group_instance_id(if ctx.header.request_api_version >= 5 {
                            instance.map(s)
                        } else {
                            None
                        })
                        .with_metadata(Bytes::from(metadata))
                })
                .collect();
            JoinGroupResponse::default()
                .with_error_code(r.error.map_or(0, GroupError::kafka_error_code))
                .with_generation_id(r.generation_id)
                .with_protocol_type(
                    (ctx.header.request_api_version >= 7).then(|| s(r.protocol_type)),
                )
                .with_protocol_name(Some(s(r.protocol_name)))
                .with_leader(s(r.leader))
                .with_member_id(s(r.member_id))
                .with_members(members)
        }
        _ => JoinGroupResponse::default()
            .with_error_code(error_code::REBALANCE_IN_PROGRESS)
            .with_generation_id(-1)
            .with_member_id(request.member_id),
    }
}

/// SyncGroup: a follower's reply is held until the leader sends the assignment.
pub(super) async fn sync_group(
    broker: &Arc<Broker>,
    version: i16,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    // KIP-345: a static member's old incarnation is fenced.
    if let Some(instance) = &request.group_instance_id
        && let Err(e) = broker.lock_groups().coordinator.check_static_member(
            request.group_id.0.as_str(),
            instance.as_str(),
            request.member_id.as_str(),
        )
    {
        return SyncGroupResponse::default().with_error_code(e.kafka_error_code());
    }
    let sync = SyncRequest {
        group_id: request.group_id.0.to_string(),
        generation_id: request.generation_id,
        member_id: request.member_id.to_string(),
        assignments: request
            .assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.to_vec()))
            .collect(),
    };
    let (token, reply) = broker.reply_slot();
    let (outputs, protocol) = {
        let mut groups = broker.lock_groups();
        if let Err(e) = groups.check_ready() {
            return SyncGroupResponse::default().with_error_code(e.kafka_error_code());
        }
        let outputs = groups.coordinator.handle_sync(now_ms(), sync, token);
        let protocol = groups
            .coordinator
            .describe(request.group_id.0.as_str())
            .map(|d| (d.protocol_type, d.protocol_name))
            .unwrap_or_default();
        (outputs, protocol)
    };
    broker.deliver(outputs);
    let response = if version >= 5 {
        SyncGroupResponse::default()
            .with_protocol_type(Some(s(protocol.0)))
            .with_protocol_name(Some(s(protocol.1)))
    } else {
        SyncGroupResponse::default()
    };
    // The leader's session timeout bounds the wait: if it never syncs it is expelled, and the
    // coordinator answers this reply then.
    match tokio::time::timeout(Duration::from_secs(1800), reply).await {
        Ok(Ok(GroupOutput::Sync(_, Ok(assignment)))) => {
            response.with_assignment(Bytes::from(assignment))
        }
        Ok(Ok(GroupOutput::Sync(_, Err(e)))) => response.with_error_code(e.kafka_error_code()),
        _ => response.with_error_code(error_code::REBALANCE_IN_PROGRESS),
    }
}

/// Heartbeat.
pub(super) fn heartbeat(broker: &Arc<Broker>, request: HeartbeatRequest) -> HeartbeatResponse {
    let mut groups = broker.lock_groups();
    let group = request.group_id.0.as_str();
    let member = request.member_id.as_str();
    // KIP-345: a static member's old incarnation is fenced.
    let result = groups
        .check_ready()
        .and_then(|()| match &request.group_instance_id {
            Some(instance) => {
                groups
                    .coordinator
                    .check_static_member(group, instance.as_str(), member)
            }
            None => Ok(()),
        })
        .and_then(|()| {
            groups
                .coordinator
                .handle_heartbeat(now_ms(), group, request.generation_id, member)
        });
    HeartbeatResponse::default()
        .with_error_code(result.err().map_or(0, GroupError::kafka_error_code))
}

/// LeaveGroup: one member (v0–2) or a list (v3+).
pub(super) fn leave_group(
    broker: &Arc<Broker>,
    version: i16,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let group = request.group_id.0.to_string();
    // (member id, group.instance.id): v3+ names members by either (KIP-345).
    let ids: Vec<(String, Option<String>)> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|i| i.to_string()),
                )
            })
            .collect()
    } else {
        vec![(request.member_id.to_string(), None)]
    };
    let mut members = Vec::new();
    let mut first_error = 0;
    for (id, instance) in ids {
        let mut groups = broker.lock_groups();
        let resolved = match &instance {
            // By instance id alone: whoever holds it now.
            Some(i) if id.is_empty() => groups
                .coordinator
                .static_member(&group, i)
                .ok_or(GroupError::UnknownMemberId),
            Some(i) => groups
                .coordinator
                .check_static_member(&group, i, &id)
                .map(|()| id.clone()),
            None => Ok(id.clone()),
        };
        let (result, outputs) = match resolved {
            Ok(member) => groups.coordinator.handle_leave(now_ms(), &group, &member),
            Err(e) => (Err(e), Vec::new()),
        };
        drop(groups);
        broker.deliver(outputs);
        let code = result.err().map_or(0, GroupError::kafka_error_code);
        if first_error == 0 {
            first_error = code;
        }
        members.push(
            MemberResponse::default()
                .with_member_id(s(id))
                .with_group_instance_id(instance.map(s))
                .with_error_code(code),
        );
    }
    if version >= 3 {
        LeaveGroupResponse::default().with_members(members)
    } else {
        LeaveGroupResponse::default().with_error_code(first_error)
    }
}

/// Every group here is of KIP-848's type "classic" (the JoinGroup/SyncGroup protocol).
const CLASSIC: &str = "classic";

/// ListGroups, optionally filtered by state (v4+) and by group type (v5+, KIP-848: every group
/// here is "classic", so a filter without it lists none).
///
/// ACLs (Kafka's `handleListGroupsRequest`): DESCRIBE on the cluster lists every group;
/// otherwise only the groups the principal may DESCRIBE.
pub(super) fn list_groups(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
    let version = ctx.header.request_api_version;
    let every_group = ctx.may_cluster_quietly(broker, AclOperation::Describe);
    let type_wanted = request.types_filter.is_empty()
        || request
            .types_filter
            .iter()
            .any(|t| t.as_str().eq_ignore_ascii_case(CLASSIC));
    if !type_wanted {
        return ListGroupsResponse::default();
    }
    let guard = broker.lock_groups();
    let mut listed: Vec<(String, String, &'static str)> = guard
        .coordinator
        .list()
        .into_iter()
        .map(|(id, protocol_type, state)| (id, protocol_type, state.name()))
        .collect();
    // As in Kafka, a group that only committed offsets (a consumer using assign) exists too,
    // as an Empty group.
    for id in guard.offsets().groups() {
        if !listed.iter().any(|(listed_id, _, _)| listed_id == id) {
            listed.push((id.to_string(), String::new(), GroupState::Empty.name()));
        }
    }
    drop(guard);
    let groups = listed
        .into_iter()
        .filter(|(id, _, _)| {
            every_group || ctx.may_quietly(broker, AclOperation::Describe, ResourceType::Group, id)
        })
        .filter(|(_, _, state)| {
            request.states_filter.is_empty()
                || request
                    .states_filter
                    .iter()
                    .any(|f| f.as_str().eq_ignore_ascii_case(state))
        })
        .map(|(id, protocol_type, state)| {
            ListedGroup::default()
                .with_group_id(GroupId(s(id)))
                .with_protocol_type(s(protocol_type))
                .with_group_state(s(state))
                .with_group_type(s(if version >= 5 { CLASSIC } else { "" }))
        })
        .collect();
    // Kafka's `GroupCoordinator.handleListGroups` answers COORDINATOR_LOAD_IN_PROGRESS (with
    // what it has) while loading; a node that coordinates nothing lists nothing.
    let loading = broker.coordinator_refusal() == Some(error_code::COORDINATOR_LOAD_IN_PROGRESS);
    ListGroupsResponse::default()
        .with_error_code(if loading {
            error_code::COORDINATOR_LOAD_IN_PROGRESS
        } else {
            error_code::NONE
        })
        .with_groups(groups)
}

/// DescribeGroups. A group with only commits is Empty; an unknown one is Dead, as in Kafka.
/// v3+ with `include_authorized_operations` (KIP-430): the operations the principal may do on
/// each group (every one a group supports without an authorizer). ACLs: DESCRIBE on each
/// group, else GROUP_AUTHORIZATION_FAILED.
pub(super) fn describe_groups(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let version = ctx.header.request_api_version;
    let operations = |group: &str| {
        if version >= 3 && request.include_authorized_operations {
            ctx.authorized_operations(broker, ResourceType::Group, group)
        } else {
            runnel_core::acl::AUTHORIZED_OPERATIONS_OMITTED
        }
    };
    let allowed: Vec<bool> = request
        .groups
        .iter()
        .map(|id| {
            ctx.may(
                broker,
                AclOperation::Describe,
                ResourceType::Group,
                id.0.as_str(),
            )
        })
        .collect();
    // Only the coordinator answers about a group (Kafka's `GroupCoordinator.handleDescribeGroup`:
    // NOT_COORDINATOR elsewhere, COORDINATOR_LOAD_IN_PROGRESS while loading); another node's
    // empty store would call every group Dead.
    let refusal = broker.coordinator_refusal();
    let groups = broker.lock_groups();
    let described = request
        .groups
        .iter()
        .zip(allowed)
        .map(|(id, allowed)| {
            // Why this group is not described: no DESCRIBE on it, else not the coordinator.
            let refused = if allowed {
                refusal
            } else {
                Some(error_code::GROUP_AUTHORIZATION_FAILED)
            };
            (id.clone(), refused)
        })
        .map(
            |(id, refused)| match (refused, groups.coordinator.describe(id.0.as_str())) {
                (Some(code), _) => DescribedGroup::default()
                    .with_group_id(id)
                    .with_error_code(code),
                (None, Some(d)) => DescribedGroup::default()
                    .with_group_id(id)
                    .with_group_state(s(d.state.name()))
                    .with_protocol_type(s(d.protocol_type))
                    .with_protocol_data(s(d.protocol_name))
                    .with_members(
                        d.members
                            .into_iter()
                            .map(|m| {
                                DescribedGroupMember::default()
                                    .with_member_id(s(m.member_id))
                                    // v4+ (KIP-345): a static member's instance id.
                                    .with_group_instance_id(if version >= 4 {
                                        m.group_instance_id.map(s)
                                    } else {
                                        None
                                    })
                                    .with_client_id(s(m.client_id))
                                    .with_client_host(s(m.client_host))
                                    .with_member_metadata(Bytes::from(m.metadata))
                                    .with_member_assignment(Bytes::from(m.assignment))
                            })
                            .collect(),
                    ),
                (None, None) if groups.offsets().group(id.0.as_str()).next().is_some() => {
                    DescribedGroup::default()
                        .with_group_id(id)
                        .with_group_state(s(GroupState::Empty.name()))
                }
                (None, None) => DescribedGroup::default()
                    .with_group_id(id)
                    .with_group_state(s("Dead")),
            },
        )
        .map(|group| {
            // Kafka fills the bits only for a group answered without error.
            let bits = if group.error_code == 0 {
                operations(group.group_id.0.as_str())
            } else {
                runnel_core::acl::AUTHORIZED_OPERATIONS_OMITTED
            };
            group.with_authorized_operations(bits)
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(described)
}

/// DeleteGroups: removes empty groups and their committed offsets. ACLs: DELETE on each
/// group, else GROUP_AUTHORIZATION_FAILED.
pub(super) fn delete_groups(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let allowed: Vec<bool> = request
        .groups_names
        .iter()
        .map(|id| {
            ctx.may(
                broker,
                AclOperation::Delete,
                ResourceType::Group,
                id.0.as_str(),
            )
        })
        .collect();
    let mut allowed = allowed.into_iter();
    // As DescribeGroups: only the coordinator deletes (Kafka's `handleDeleteGroups`).
    let refusal = broker.coordinator_refusal();
    let mut guard = broker.lock_groups();
    let groups = &mut *guard;
    let results = request
        .groups_names
        .into_iter()
        .map(|id| {
            let name = id.0.to_string();
            if !allowed.next().unwrap_or(false) {
                return DeletableGroupResult::default()
                    .with_group_id(id)
                    .with_error_code(error_code::GROUP_AUTHORIZATION_FAILED);
            }
            if let Some(code) = refusal {
                return DeletableGroupResult::default()
                    .with_group_id(id)
                    .with_error_code(code);
            }
            let has_offsets = groups.offsets().group(&name).next().is_some();
            let code = match groups.coordinator.delete(&name) {
                Ok(()) => 0,
                // A group known only by its commits can be deleted too.
                Err(GroupError::GroupIdNotFound) if has_offsets => 0,
                Err(e) => e.kafka_error_code(),
            };
            let code = match code {
                0 => broker
                    .delete_group_offsets(groups, &name)
                    .map_or_else(|e| e.code, |_| 0),
                other => other,
            };
            DeletableGroupResult::default()
                .with_group_id(id)
                .with_error_code(code)
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}
