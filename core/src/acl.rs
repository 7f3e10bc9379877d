//! Kafka's ACL vocabulary: resource types, operations, and which operations each resource
//! type has.
//!
//! Clients ask for a resource's *authorized operations* (KIP-430: Metadata v8+,
//! DescribeGroups v3+, DescribeCluster) as a bit field, bit `n` set for the operation with
//! code `n`. Kafka without an authorizer answers every operation the resource type supports
//! (`AclEntry.supportedOperations`), and so does runnel, which has no authorizer yet.

/// A resource type of Kafka's ACL model, with its wire code (`ResourceType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceType {
    /// A topic (code 2).
    Topic = 2,
    /// A consumer group (code 3).
    Group = 3,
    /// The cluster (code 4).
    Cluster = 4,
    /// A transactional id (code 5).
    TransactionalId = 5,
    /// A delegation token (code 6).
    DelegationToken = 6,
    /// A user, for delegation tokens (code 7).
    User = 7,
}

/// An operation of Kafka's ACL model, with its wire code (`AclOperation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclOperation {
    /// Read records or a group's offsets (code 3).
    Read = 3,
    /// Write records (code 4).
    Write = 4,
    /// Create topics (code 5).
    Create = 5,
    /// Delete topics, records or groups (code 6).
    Delete = 6,
    /// Change partitions, elect leaders (code 7).
    Alter = 7,
    /// Describe the resource (code 8).
    Describe = 8,
    /// Broker-to-broker requests (code 9).
    ClusterAction = 9,
    /// Read configs (code 10).
    DescribeConfigs = 10,
    /// Change configs (code 11).
    AlterConfigs = 11,
    /// Idempotent produce (code 12).
    IdempotentWrite = 12,
    /// Create delegation tokens (code 13).
    CreateTokens = 13,
    /// Describe delegation tokens (code 14).
    DescribeTokens = 14,
}

/// The operations a resource type supports, as Kafka's `AclEntry.supportedOperations` lists
/// them (Kafka 3.9, `core/src/main/scala/kafka/security/authorizer/AclEntry.scala`).
pub fn supported_operations(resource: ResourceType) -> &'static [AclOperation] {
    use AclOperation::*;
    match resource {
        ResourceType::Topic => &[
            Read,
            Write,
            Create,
            Describe,
            Delete,
            Alter,
            DescribeConfigs,
            AlterConfigs,
        ],
        ResourceType::Group => &[Read, Describe, Delete],
        ResourceType::Cluster => &[
            Create,
            ClusterAction,
            DescribeConfigs,
            AlterConfigs,
            IdempotentWrite,
            Alter,
            Describe,
        ],
        ResourceType::TransactionalId => &[Describe, Write],
        ResourceType::DelegationToken => &[Describe],
        ResourceType::User => &[CreateTokens, DescribeTokens],
    }
}

/// The authorized-operations bit field (KIP-430) for a resource without an authorizer: bit
/// `code` set for every operation the type supports. The shape clients decode: an `i32` whose
/// bit 3 is READ, bit 4 WRITE, and so on.
pub fn authorized_operations(resource: ResourceType) -> i32 {
    supported_operations(resource)
        .iter()
        .fold(0, |bits, op| bits | 1 << (*op as i32))
}

/// Kafka's value for "authorized operations not asked for" (`Integer.MIN_VALUE`).
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_fields_match_kafkas_for_each_resource() {
        // Kafka 3.9 without an authorizer: a topic's set is READ, WRITE, CREATE, DELETE,
        // ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS (bits 3–8, 10, 11).
        assert_eq!(authorized_operations(ResourceType::Topic), 0b1101_1111_1000);
        // A group: READ, DELETE, DESCRIBE (bits 3, 6, 8).
        assert_eq!(authorized_operations(ResourceType::Group), 0b1_0100_1000);
        // The cluster: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
        // ALTER_CONFIGS, IDEMPOTENT_WRITE (bits 5, 7–12).
        assert_eq!(
            authorized_operations(ResourceType::Cluster),
            0b1_1111_1010_0000
        );
    }
}
