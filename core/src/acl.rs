//! Kafka's ACL model: resource types, operations, which operations each resource type has,
//! ACL bindings and their filters, and the authorizer's decision.
//!
//! Clients ask for a resource's *authorized operations* (KIP-430: Metadata v8+,
//! DescribeGroups v3+, DescribeCluster) as a bit field, bit `n` set for the operation with
//! code `n`. Kafka without an authorizer answers every operation the resource type supports
//! (`AclEntry.supportedOperations`), and so does runnel while no authorizer is configured.
//!
//! [`Authorizer::authorize`] is Kafka's `StandardAuthorizer` as a pure function: super users
//! may do anything; otherwise the ACLs that match the resource (its literal name, the
//! literal `*`, or a prefix of its name) decide: a matching DENY for the operation (or ALL)
//! wins; else a matching ALLOW does (READ, WRITE, DELETE or ALTER also allow DESCRIBE;
//! ALTER_CONFIGS allows DESCRIBE_CONFIGS); else no. A resource no ACL matches at all gets
//! `allow.everyone.if.no.acl.found` (default false). A binding's principal matches the
//! session's or is `User:*`; its host matches the client's address or is `*`. The node does
//! not call it yet: ACLs are the security issue's next step.

use alloc::string::String;
use alloc::vec::Vec;

/// A resource type of Kafka's ACL model, with its wire code (`ResourceType`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
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
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum AclOperation {
    /// Every operation, in an ACL (code 2).
    All = 2,
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

/// How an ACL's resource name matches (`PatternType`, wire codes 3 and 4).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum PatternType {
    /// The name itself; `*` is every resource of the type (code 3).
    Literal = 3,
    /// Every resource whose name starts with it (code 4).
    Prefixed = 4,
}

/// Whether an ACL allows or denies (`AclPermissionType`, wire codes 2 and 3).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum AclPermission {
    /// Refuses the operation (code 2); a matching DENY wins over any ALLOW.
    Deny = 2,
    /// Permits the operation (code 3).
    Allow = 3,
}

/// One ACL (Kafka's `AclBinding`): who (`principal`, e.g. `User:alice` or `User:*`, from
/// `host` or `*`) may or may not do `operation` on the resources `resource_name` and
/// `pattern_type` select.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct AclBinding {
    /// The resource type.
    pub resource_type: ResourceType,
    /// The name, `*` (literal: every resource of the type), or a prefix.
    pub resource_name: String,
    /// How the name matches.
    pub pattern_type: PatternType,
    /// `Type:name`; `User:*` is every principal.
    pub principal: String,
    /// The client's IP address, or `*`.
    pub host: String,
    /// The operation; ALL is every one.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermission,
}

impl AclBinding {
    /// Whether this ACL is about the resource `resource_type`/`name`.
    fn covers(&self, resource_type: ResourceType, name: &str) -> bool {
        self.resource_type == resource_type
            && match self.pattern_type {
                PatternType::Literal => self.resource_name == name || self.resource_name == "*",
                PatternType::Prefixed => name.starts_with(self.resource_name.as_str()),
            }
    }
}

/// How a filter matches bindings' resource patterns (`PatternTypeFilter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternFilter {
    /// Any pattern type (code 1).
    Any,
    /// The patterns that would apply to the filter's name: its literal, the literal `*`, and
    /// prefixes of it (code 2).
    Match,
    /// Exactly this pattern type (codes 3, 4).
    Exactly(PatternType),
}

/// What DescribeAcls and DeleteAcls select (Kafka's `AclBindingFilter`); `None` is ANY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclBindingFilter {
    /// The resource type.
    pub resource_type: Option<ResourceType>,
    /// The resource name.
    pub resource_name: Option<String>,
    /// How the resource name is compared.
    pub pattern: PatternFilter,
    /// The principal.
    pub principal: Option<String>,
    /// The host.
    pub host: Option<String>,
    /// The operation.
    pub operation: Option<AclOperation>,
    /// The permission.
    pub permission: Option<AclPermission>,
}

impl AclBindingFilter {
    /// Whether `binding` is selected.
    pub fn matches(&self, binding: &AclBinding) -> bool {
        let same = |want: &Option<String>, got: &str| want.as_deref().is_none_or(|w| w == got);
        let resource = match (&self.pattern, &self.resource_name) {
            (PatternFilter::Any, name) => same(name, &binding.resource_name),
            (PatternFilter::Exactly(p), name) => {
                *p == binding.pattern_type && same(name, &binding.resource_name)
            }
            (PatternFilter::Match, None) => true,
            (PatternFilter::Match, Some(name)) => match binding.pattern_type {
                PatternType::Literal => {
                    binding.resource_name == *name || binding.resource_name == "*"
                }
                PatternType::Prefixed => name.starts_with(binding.resource_name.as_str()),
            },
        };
        resource
            && self
                .resource_type
                .is_none_or(|t| t == binding.resource_type)
            && same(&self.principal, &binding.principal)
            && same(&self.host, &binding.host)
            && self.operation.is_none_or(|o| o == binding.operation)
            && self.permission.is_none_or(|p| p == binding.permission)
    }
}

/// Every ACL, with the settings that decide when none applies: Kafka's `StandardAuthorizer`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Authorizer {
    acls: alloc::collections::BTreeSet<AclBinding>,
    /// `super.users`: principals allowed everything (`User:admin`).
    pub super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found`: the answer for a resource no ACL covers.
    pub allow_everyone_if_no_acl_found: bool,
}

impl Authorizer {
    /// Whether `principal` (`User:alice`) connecting from `host` (an IP address) may do
    /// `operation` on `resource_type`/`name` (Kafka's rules; see the module doc).
    pub fn authorize(
        &self,
        principal: &str,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        if self.super_users.iter().any(|s| s == principal) {
            return true;
        }
        let mut covered = false;
        let mut allowed = false;
        for acl in self.acls.iter().filter(|a| a.covers(resource_type, name)) {
            covered = true;
            if acl.principal != principal && acl.principal != "User:*" {
                continue;
            }
            if acl.host != host && acl.host != "*" {
                continue;
            }
            match acl.permission {
                AclPermission::Deny => {
                    if acl.operation == operation || acl.operation == AclOperation::All {
                        return false;
                    }
                }
                AclPermission::Allow => allowed |= implies(acl.operation, operation),
            }
        }
        if covered {
            allowed
        } else {
            self.allow_everyone_if_no_acl_found
        }
    }

    /// Adds `binding`; `false` if it was there already (Kafka's CreateAcls succeeds either
    /// way).
    pub fn add(&mut self, binding: AclBinding) -> bool {
        self.acls.insert(binding)
    }

    /// The bindings `filter` selects, in a stable order (DescribeAcls).
    pub fn matching<'a>(
        &'a self,
        filter: &'a AclBindingFilter,
    ) -> impl Iterator<Item = &'a AclBinding> + 'a {
        self.acls.iter().filter(move |b| filter.matches(b))
    }

    /// Removes and returns the bindings `filter` selects (DeleteAcls).
    pub fn remove_matching(&mut self, filter: &AclBindingFilter) -> Vec<AclBinding> {
        let gone: Vec<AclBinding> = self.matching(filter).cloned().collect();
        for binding in &gone {
            self.acls.remove(binding);
        }
        gone
    }

    /// Every binding.
    pub fn acls(&self) -> impl Iterator<Item = &AclBinding> {
        self.acls.iter()
    }
}

/// Whether an ALLOW for `granted` allows `wanted`: the same operation, ALL, or DESCRIBE by
/// READ/WRITE/DELETE/ALTER, DESCRIBE_CONFIGS by ALTER_CONFIGS (Kafka's `IMPLIES_DESCRIBE`,
/// `IMPLIES_DESCRIBE_CONFIGS`).
fn implies(granted: AclOperation, wanted: AclOperation) -> bool {
    use AclOperation::*;
    granted == wanted
        || granted == All
        || (wanted == Describe && matches!(granted, Read | Write | Delete | Alter))
        || (wanted == DescribeConfigs && granted == AlterConfigs)
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

    fn acl(
        resource_type: ResourceType,
        name: &str,
        pattern_type: PatternType,
        principal: &str,
        host: &str,
        operation: AclOperation,
        permission: AclPermission,
    ) -> AclBinding {
        AclBinding {
            resource_type,
            resource_name: name.into(),
            pattern_type,
            principal: principal.into(),
            host: host.into(),
            operation,
            permission,
        }
    }

    /// Kafka's documented cases (the "Authorization and ACLs" section of Kafka's security
    /// docs, and `StandardAuthorizerTest`).
    #[test]
    fn kafkas_rules_decide() {
        use AclOperation::*;
        use AclPermission::*;
        use PatternType::*;
        use ResourceType::*;
        let mut a = Authorizer::default();
        let no_acl = a.authorize("User:alice", "10.0.0.1", Read, Topic, "orders");
        assert!(
            !no_acl,
            "no ACL and allow.everyone.if.no.acl.found=false: denied"
        );
        a.allow_everyone_if_no_acl_found = true;
        assert!(a.authorize("User:alice", "10.0.0.1", Read, Topic, "orders"));
        a.add(acl(
            Topic,
            "orders",
            Literal,
            "User:alice",
            "*",
            Read,
            Allow,
        ));
        assert!(a.authorize("User:alice", "10.0.0.1", Read, Topic, "orders"));
        assert!(
            !a.authorize("User:bob", "10.0.0.1", Read, Topic, "orders"),
            "an ACL exists for the topic: the default no longer applies"
        );
        assert!(
            a.authorize("User:alice", "10.0.0.1", Describe, Topic, "orders"),
            "READ implies DESCRIBE"
        );
        assert!(!a.authorize("User:alice", "10.0.0.1", Write, Topic, "orders"));
        a.add(acl(
            Topic, "ord", Prefixed, "User:*", "10.0.0.9", Read, Deny,
        ));
        assert!(
            !a.authorize("User:alice", "10.0.0.9", Read, Topic, "orders"),
            "a DENY from that host wins"
        );
        assert!(a.authorize("User:alice", "10.0.0.1", Read, Topic, "orders"));
        assert!(
            a.authorize("User:alice", "10.0.0.9", Describe, Topic, "orders"),
            "a DENY of READ does not deny DESCRIBE"
        );
        a.add(acl(Topic, "*", Literal, "User:bob", "*", All, Allow));
        assert!(a.authorize("User:bob", "10.0.0.1", Write, Topic, "anything"));
        a.add(acl(
            Cluster,
            "kafka-cluster",
            Literal,
            "User:carol",
            "*",
            AlterConfigs,
            Allow,
        ));
        assert!(a.authorize("User:carol", "h", DescribeConfigs, Cluster, "kafka-cluster"));
        assert!(!a.authorize("User:carol", "h", Describe, Cluster, "kafka-cluster"));
        a.super_users.push("User:admin".into());
        assert!(a.authorize("User:admin", "10.0.0.9", Read, Topic, "orders"));
    }

    #[test]
    fn filters_select_as_kafkas_do() {
        use AclOperation::*;
        use AclPermission::*;
        use PatternType::*;
        use ResourceType::*;
        let mut a = Authorizer::default();
        a.add(acl(
            Topic,
            "orders",
            Literal,
            "User:alice",
            "*",
            Read,
            Allow,
        ));
        a.add(acl(Topic, "*", Literal, "User:bob", "*", Read, Allow));
        a.add(acl(Topic, "ord", Prefixed, "User:bob", "*", Write, Allow));
        a.add(acl(
            Group,
            "orders",
            Literal,
            "User:alice",
            "*",
            Read,
            Allow,
        ));
        let any = AclBindingFilter {
            resource_type: None,
            resource_name: None,
            pattern: PatternFilter::Any,
            principal: None,
            host: None,
            operation: None,
            permission: None,
        };
        assert_eq!(a.matching(&any).count(), 4);
        let matching_orders = AclBindingFilter {
            resource_type: Some(Topic),
            resource_name: Some("orders".into()),
            pattern: PatternFilter::Match,
            ..any.clone()
        };
        assert_eq!(
            a.matching(&matching_orders).count(),
            3,
            "literal, *, and the prefix"
        );
        let literal_orders = AclBindingFilter {
            pattern: PatternFilter::Exactly(Literal),
            ..matching_orders.clone()
        };
        assert_eq!(a.matching(&literal_orders).count(), 1);
        let bobs = AclBindingFilter {
            principal: Some("User:bob".into()),
            ..any
        };
        assert_eq!(a.remove_matching(&bobs).len(), 2);
        assert_eq!(a.acls().count(), 2);
    }

    /// A reference model written as Kafka's older `AclAuthorizer` states it (sets of
    /// operations that allow, a deny check, the default when no ACL covers the resource),
    /// against the authorizer on random ACL sets over a small universe.
    fn reference(
        acls: &[AclBinding],
        super_users: &[String],
        allow_default: bool,
        (principal, host, operation, resource_type, name): (
            &str,
            &str,
            AclOperation,
            ResourceType,
            &str,
        ),
    ) -> bool {
        use AclOperation::*;
        if super_users.iter().any(|s| s == principal) {
            return true;
        }
        let relevant: Vec<&AclBinding> = acls
            .iter()
            .filter(|a| {
                a.resource_type == resource_type
                    && match a.pattern_type {
                        PatternType::Literal => a.resource_name == name || a.resource_name == "*",
                        PatternType::Prefixed => name.starts_with(&a.resource_name),
                    }
            })
            .collect();
        if relevant.is_empty() {
            return allow_default;
        }
        let applies = |a: &&&AclBinding| {
            (a.principal == principal || a.principal == "User:*")
                && (a.host == host || a.host == "*")
        };
        let denied = relevant.iter().filter(applies).any(|a| {
            a.permission == AclPermission::Deny && (a.operation == operation || a.operation == All)
        });
        if denied {
            return false;
        }
        let allowing: Vec<AclOperation> = match operation {
            Describe => alloc::vec![Describe, Read, Write, Delete, Alter, All],
            DescribeConfigs => alloc::vec![DescribeConfigs, AlterConfigs, All],
            other => alloc::vec![other, All],
        };
        relevant
            .iter()
            .filter(applies)
            .any(|a| a.permission == AclPermission::Allow && allowing.contains(&a.operation))
    }

    mod model {
        use super::*;
        use proptest::prelude::*;

        const NAMES: [&str; 5] = ["orders", "ord", "o", "payments", "*"];
        const PRINCIPALS: [&str; 3] = ["User:alice", "User:bob", "User:*"];
        const HOSTS: [&str; 3] = ["10.0.0.1", "10.0.0.2", "*"];
        const OPERATIONS: [AclOperation; 7] = [
            AclOperation::All,
            AclOperation::Read,
            AclOperation::Write,
            AclOperation::Describe,
            AclOperation::Alter,
            AclOperation::DescribeConfigs,
            AclOperation::AlterConfigs,
        ];

        fn binding() -> impl Strategy<Value = AclBinding> {
            (
                prop::bool::ANY,
                0..NAMES.len(),
                prop::bool::ANY,
                0..PRINCIPALS.len(),
                0..HOSTS.len(),
                0..OPERATIONS.len(),
                prop::bool::ANY,
            )
                .prop_map(|(topic, n, prefixed, p, h, o, allow)| AclBinding {
                    resource_type: if topic {
                        ResourceType::Topic
                    } else {
                        ResourceType::Group
                    },
                    resource_name: NAMES[n].into(),
                    pattern_type: if prefixed {
                        PatternType::Prefixed
                    } else {
                        PatternType::Literal
                    },
                    principal: PRINCIPALS[p].into(),
                    host: HOSTS[h].into(),
                    operation: OPERATIONS[o],
                    permission: if allow {
                        AclPermission::Allow
                    } else {
                        AclPermission::Deny
                    },
                })
        }

        proptest! {
            #[test]
            fn the_authorizer_agrees_with_the_reference(
                acls in prop::collection::vec(binding(), 0..8),
                admin in prop::bool::ANY,
                allow_default in prop::bool::ANY,
            ) {
                let mut authorizer = Authorizer {
                    allow_everyone_if_no_acl_found: allow_default,
                    ..Authorizer::default()
                };
                if admin {
                    authorizer.super_users.push("User:bob".into());
                }
                for a in &acls {
                    authorizer.add(a.clone());
                }
                let supers = authorizer.super_users.clone();
                for principal in ["User:alice", "User:bob"] {
                    for host in ["10.0.0.1", "10.0.0.2"] {
                        for &operation in &OPERATIONS[1..] {
                            for resource_type in [ResourceType::Topic, ResourceType::Group] {
                                for name in ["orders", "payments", "o"] {
                                    let request = (principal, host, operation, resource_type, name);
                                    prop_assert_eq!(
                                        authorizer.authorize(principal, host, operation, resource_type, name),
                                        reference(&acls, &supers, allow_default, request),
                                        "{:?}", request
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
