//! The Kafka APIs: one module per group of requests, each with the same shape — read the
//! decoded request, ask the broker (and so core), build the response.
//!
//! [`SUPPORTED`] is what ApiVersions advertises. The ranges are chosen for the clients people
//! use (see `shared/kafka-client-notes.md`): minimums low enough that librdkafka before 2.11.1
//! turns on record format v2, consumer groups and idempotence, which it decides by checking
//! that a range *includes* an old version; maximums at the last version before topic ids
//! replace topic names, which keeps every request keyed by name.

mod acls;
mod cluster_admin;
mod configs;
mod fetch;
mod groups;
mod legacy;
mod metadata;
mod offsets;
mod produce;
mod scram;
mod topics;
mod txn;

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use runnel_core::acl::{self, AclOperation, ResourceType};

use crate::broker::Broker;
use crate::response::FileRange;

pub use fetch::{FetchSessionCache, SessionPartition};
pub use legacy::{is_legacy, response as legacy_response};
pub use metadata::{api_versions_error_body, api_versions_response};

/// (API, lowest version, highest version): what ApiVersions advertises and what is decoded
/// (by `kafka-protocol`, or by hand in `legacy.rs` for the old versions it dropped). Any other
/// version closes the connection, as Kafka does for versions it does not know.
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 0, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 0, 8),
    (ApiKey::OffsetFetch, 0, 7),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 0, 7),
    (ApiKey::DeleteTopics, 0, 5),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::AddPartitionsToTxn, 0, 4),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 3),
    (ApiKey::TxnOffsetCommit, 0, 3),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 1),
    (ApiKey::WriteTxnMarkers, 1, 1),
    (ApiKey::DescribeConfigs, 0, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::DescribeLogDirs, 0, 4),
    (ApiKey::ElectLeaders, 0, 2),
    (ApiKey::ListPartitionReassignments, 0, 0),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::DescribeClientQuotas, 0, 1),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::DescribeQuorum, 0, 2),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    // SECURITY_DISABLED without `authorizer.class.name`, as Kafka (`acls.rs`).
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    // Handled by the listener with core's SASL session (`server.rs`). SaslHandshake v0 is
    // advertised because librdkafka before 2.1 requires it for SASL; clients pick v1 and
    // SaslAuthenticate (KIP-152). v0's raw tokens (clients before Kafka 1.0) are not read.
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
];

/// Whether `version` of `key` can be decoded and answered.
pub fn decodable(key: ApiKey, version: i16) -> bool {
    SUPPORTED
        .iter()
        .any(|(k, min, max)| *k == key && (*min..=*max).contains(&version))
}

/// Kafka's name for an API, for logs and metrics.
pub fn api_name(key: ApiKey) -> &'static str {
    match key {
        ApiKey::Produce => "Produce",
        ApiKey::Fetch => "Fetch",
        ApiKey::ListOffsets => "ListOffsets",
        ApiKey::Metadata => "Metadata",
        ApiKey::OffsetCommit => "OffsetCommit",
        ApiKey::OffsetFetch => "OffsetFetch",
        ApiKey::FindCoordinator => "FindCoordinator",
        ApiKey::JoinGroup => "JoinGroup",
        ApiKey::Heartbeat => "Heartbeat",
        ApiKey::LeaveGroup => "LeaveGroup",
        ApiKey::SyncGroup => "SyncGroup",
        ApiKey::DescribeGroups => "DescribeGroups",
        ApiKey::ListGroups => "ListGroups",
        ApiKey::ApiVersions => "ApiVersions",
        ApiKey::CreateTopics => "CreateTopics",
        ApiKey::DeleteTopics => "DeleteTopics",
        ApiKey::DeleteRecords => "DeleteRecords",
        ApiKey::InitProducerId => "InitProducerId",
        ApiKey::AddPartitionsToTxn => "AddPartitionsToTxn",
        ApiKey::AddOffsetsToTxn => "AddOffsetsToTxn",
        ApiKey::EndTxn => "EndTxn",
        ApiKey::TxnOffsetCommit => "TxnOffsetCommit",
        ApiKey::DescribeTransactions => "DescribeTransactions",
        ApiKey::ListTransactions => "ListTransactions",
        ApiKey::WriteTxnMarkers => "WriteTxnMarkers",
        ApiKey::DescribeConfigs => "DescribeConfigs",
        ApiKey::AlterConfigs => "AlterConfigs",
        ApiKey::CreatePartitions => "CreatePartitions",
        ApiKey::DeleteGroups => "DeleteGroups",
        ApiKey::IncrementalAlterConfigs => "IncrementalAlterConfigs",
        ApiKey::OffsetForLeaderEpoch => "OffsetForLeaderEpoch",
        ApiKey::DescribeLogDirs => "DescribeLogDirs",
        ApiKey::ElectLeaders => "ElectLeaders",
        ApiKey::ListPartitionReassignments => "ListPartitionReassignments",
        ApiKey::OffsetDelete => "OffsetDelete",
        ApiKey::DescribeClientQuotas => "DescribeClientQuotas",
        ApiKey::DescribeCluster => "DescribeCluster",
        ApiKey::DescribeQuorum => "DescribeQuorum",
        ApiKey::DescribeProducers => "DescribeProducers",
        ApiKey::DescribeUserScramCredentials => "DescribeUserScramCredentials",
        ApiKey::DescribeAcls => "DescribeAcls",
        ApiKey::CreateAcls => "CreateAcls",
        ApiKey::DeleteAcls => "DeleteAcls",
        ApiKey::AlterUserScramCredentials => "AlterUserScramCredentials",
        ApiKey::SaslHandshake => "SaslHandshake",
        ApiKey::SaslAuthenticate => "SaslAuthenticate",
        _ => "Other",
    }
}

/// Who sent a request: what handlers need besides the request itself.
#[derive(Clone, Debug)]
pub struct Context {
    /// The request header (version, client id).
    pub header: RequestHeader,
    /// The client's address, for DescribeGroups.
    pub client_host: String,
    /// Which of `listeners` the request came through: Metadata and FindCoordinator answer
    /// with that listener's address, as Kafka does.
    pub listener: usize,
    /// Who the client is for ACLs: `User:<name>` once SASL authenticated it, else
    /// `User:ANONYMOUS` (Kafka's principals).
    pub principal: String,
    /// The client's IP address, as ACL hosts name it.
    pub host: String,
}

impl Context {
    /// Whether this request's principal may do `operation` on `resource_type`/`name`
    /// ([`Broker::authorize`]: always without an authorizer).
    pub fn may(
        &self,
        broker: &Broker,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        broker.authorize(&self.principal, &self.host, operation, resource_type, name)
    }

    /// [`Context::may`] without logging a refusal (for checks that decide how much to show,
    /// as Kafka's `logIfDenied = false`).
    pub fn may_quietly(
        &self,
        broker: &Broker,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        broker.authorize_quietly(&self.principal, &self.host, operation, resource_type, name)
    }

    /// Whether this request's principal may do `operation` on the cluster.
    pub fn may_cluster(&self, broker: &Broker, operation: AclOperation) -> bool {
        self.may(broker, operation, ResourceType::Cluster, acl::CLUSTER_NAME)
    }

    /// Whether this request's principal may create topic `name`: CREATE on the cluster or on
    /// the topic (Kafka's CreateTopics and auto-creation).
    pub fn may_create_topic(&self, broker: &Broker, name: &str) -> bool {
        // Asked quietly first: CREATE on the topic is enough.
        self.may_cluster_quietly(broker, AclOperation::Create)
            || self.may(broker, AclOperation::Create, ResourceType::Topic, name)
    }

    /// [`Context::may_cluster`] without logging a refusal.
    pub fn may_cluster_quietly(&self, broker: &Broker, operation: AclOperation) -> bool {
        self.may_quietly(broker, operation, ResourceType::Cluster, acl::CLUSTER_NAME)
    }

    /// The KIP-430 authorized-operations bits of the cluster for this request's principal (0
    /// without DESCRIBE on the cluster, as Kafka's Metadata and DescribeCluster answer).
    pub fn cluster_authorized_operations(&self, broker: &Broker) -> i32 {
        if self.may_cluster_quietly(broker, AclOperation::Describe) {
            self.authorized_operations(broker, ResourceType::Cluster, acl::CLUSTER_NAME)
        } else {
            0
        }
    }

    /// The KIP-430 authorized-operations bits of a resource for this request's principal.
    pub fn authorized_operations(
        &self,
        broker: &Broker,
        resource_type: ResourceType,
        name: &str,
    ) -> i32 {
        broker.authorized_operations(&self.principal, &self.host, resource_type, name)
    }
}

/// A handler's answer: the response, and for a Fetch the segment file ranges its records are
/// (one list per partition whose records stand as a [`crate::response::placeholder`], in
/// the response's order), sent from the files without a copy.
#[derive(Debug)]
pub struct Answer {
    /// The response.
    pub message: ResponseKind,
    /// The file ranges of its placeholders (empty but for a Fetch).
    pub files: Vec<Vec<FileRange>>,
}

impl From<ResponseKind> for Answer {
    fn from(message: ResponseKind) -> Self {
        Self {
            message,
            files: Vec::new(),
        }
    }
}

/// Handles one decoded request. `None` means no response at all (Produce with acks=0).
pub async fn handle(broker: &Arc<Broker>, ctx: &Context, request: RequestKind) -> Option<Answer> {
    let version = ctx.header.request_api_version;
    if let Some(refusal) = groups::not_served_here(broker, &request, version) {
        return Some(refusal.into());
    }
    // ACLs of the requests about one group, and of the cluster-wide ones; the others check
    // theirs per topic or group as they go.
    if let Some(refusal) = groups::group_refused(broker, ctx, &request)
        .or_else(|| cluster_admin::cluster_refused(broker, ctx, &request))
    {
        return Some(refusal.into());
    }
    let message = match request {
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(api_versions_response()),
        RequestKind::Metadata(r) => {
            ResponseKind::Metadata(metadata::metadata(broker, ctx, version, r).await)
        }
        RequestKind::Produce(r) => {
            return produce::produce(broker, ctx, r)
                .await
                .map(|r| ResponseKind::Produce(r).into());
        }
        RequestKind::Fetch(r) => {
            let (response, files) = fetch::fetch(broker, ctx, r).await;
            return Some(Answer {
                message: ResponseKind::Fetch(response),
                files,
            });
        }
        RequestKind::ListOffsets(r) => {
            ResponseKind::ListOffsets(topics::list_offsets(broker, ctx, r))
        }
        RequestKind::OffsetForLeaderEpoch(r) => {
            ResponseKind::OffsetForLeaderEpoch(fetch::offset_for_leader_epoch(broker, ctx, r))
        }
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(topics::create_topics(broker, ctx, r).await)
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(topics::delete_topics(broker, ctx, r).await)
        }
        RequestKind::CreatePartitions(r) => {
            ResponseKind::CreatePartitions(topics::create_partitions(broker, ctx, r).await)
        }
        RequestKind::DeleteRecords(r) => {
            ResponseKind::DeleteRecords(topics::delete_records(broker, ctx, r))
        }
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(produce::init_producer_id(broker, ctx, r).await)
        }
        RequestKind::AddPartitionsToTxn(r) => {
            ResponseKind::AddPartitionsToTxn(txn::add_partitions_to_txn(broker, ctx, r).await)
        }
        RequestKind::AddOffsetsToTxn(r) => {
            ResponseKind::AddOffsetsToTxn(txn::add_offsets_to_txn(broker, ctx, r).await)
        }
        RequestKind::EndTxn(r) => ResponseKind::EndTxn(txn::end_txn(broker, ctx, r).await),
        RequestKind::TxnOffsetCommit(r) => {
            ResponseKind::TxnOffsetCommit(txn::txn_offset_commit(broker, ctx, r).await)
        }
        RequestKind::DescribeTransactions(r) => {
            ResponseKind::DescribeTransactions(txn::describe_transactions(broker, ctx, r))
        }
        RequestKind::ListTransactions(r) => {
            ResponseKind::ListTransactions(txn::list_transactions(broker, ctx, r))
        }
        RequestKind::WriteTxnMarkers(r) => {
            ResponseKind::WriteTxnMarkers(txn::write_txn_markers(broker, ctx, r).await)
        }
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(configs::describe_configs(broker, ctx, r))
        }
        RequestKind::AlterConfigs(r) => {
            ResponseKind::AlterConfigs(configs::alter_configs(broker, ctx, r).await)
        }
        RequestKind::IncrementalAlterConfigs(r) => ResponseKind::IncrementalAlterConfigs(
            configs::incremental_alter_configs(broker, ctx, r).await,
        ),
        RequestKind::FindCoordinator(r) => {
            ResponseKind::FindCoordinator(groups::find_coordinator(broker, ctx, r))
        }
        RequestKind::JoinGroup(r) => {
            ResponseKind::JoinGroup(groups::join_group(broker, ctx, r).await)
        }
        RequestKind::SyncGroup(r) => {
            ResponseKind::SyncGroup(groups::sync_group(broker, version, r).await)
        }
        RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(groups::heartbeat(broker, r)),
        RequestKind::LeaveGroup(r) => {
            ResponseKind::LeaveGroup(groups::leave_group(broker, version, r))
        }
        RequestKind::ListGroups(r) => ResponseKind::ListGroups(groups::list_groups(broker, ctx, r)),
        RequestKind::DescribeGroups(r) => {
            ResponseKind::DescribeGroups(groups::describe_groups(broker, ctx, r))
        }
        RequestKind::DeleteGroups(r) => {
            ResponseKind::DeleteGroups(groups::delete_groups(broker, ctx, r))
        }
        RequestKind::OffsetCommit(r) => {
            ResponseKind::OffsetCommit(offsets::offset_commit(broker, ctx, r).await)
        }
        RequestKind::OffsetFetch(r) => {
            ResponseKind::OffsetFetch(offsets::offset_fetch(broker, ctx, r))
        }
        RequestKind::OffsetDelete(r) => {
            ResponseKind::OffsetDelete(offsets::offset_delete(broker, ctx, r))
        }
        RequestKind::DescribeCluster(r) => {
            ResponseKind::DescribeCluster(cluster_admin::describe_cluster(broker, ctx, r).await)
        }
        RequestKind::DescribeQuorum(r) => {
            ResponseKind::DescribeQuorum(cluster_admin::describe_quorum(broker, version, &r))
        }
        RequestKind::DescribeLogDirs(r) => {
            ResponseKind::DescribeLogDirs(cluster_admin::describe_log_dirs(broker, r))
        }
        RequestKind::DescribeProducers(r) => {
            ResponseKind::DescribeProducers(cluster_admin::describe_producers(broker, ctx, r))
        }
        RequestKind::DescribeClientQuotas(r) => {
            ResponseKind::DescribeClientQuotas(cluster_admin::describe_client_quotas(r))
        }
        RequestKind::ListPartitionReassignments(r) => {
            ResponseKind::ListPartitionReassignments(cluster_admin::list_partition_reassignments(r))
        }
        RequestKind::DescribeAcls(r) => {
            ResponseKind::DescribeAcls(acls::describe_acls(broker, version, r))
        }
        RequestKind::CreateAcls(r) => ResponseKind::CreateAcls(acls::create_acls(broker, r).await),
        RequestKind::DeleteAcls(r) => {
            ResponseKind::DeleteAcls(acls::delete_acls(broker, version, r).await)
        }
        RequestKind::DescribeUserScramCredentials(r) => ResponseKind::DescribeUserScramCredentials(
            scram::describe_user_scram_credentials(broker, r),
        ),
        RequestKind::AlterUserScramCredentials(r) => ResponseKind::AlterUserScramCredentials(
            scram::alter_user_scram_credentials(broker, r).await,
        ),
        RequestKind::ElectLeaders(r) => {
            ResponseKind::ElectLeaders(cluster_admin::elect_leaders(broker, version, r).await)
        }
        other => {
            tracing::warn!("no handler for {other:?}");
            return None;
        }
    };
    Some(message.into())
}

/// A protocol string from a Rust one.
pub(crate) fn s(value: impl Into<String>) -> StrBytes {
    StrBytes::from_string(value.into())
}
