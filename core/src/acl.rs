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
//! session's or is `User:*`; its host matches the client's address or is `*`.
//!
//! The node asks it for every request when `authorizer.class.name` is set ([`AUTHORIZER_CLASS_NAMES`]);
//! which operation each API needs is Kafka's (`KafkaApis`), written down where each API is
//! handled.

use alloc::string::String;
use alloc::vec::Vec;

/// The principal of a client that did not authenticate (Kafka's `KafkaPrincipal.ANONYMOUS`).
pub const ANONYMOUS: &str = "User:ANONYMOUS";

/// The name of the cluster resource every CLUSTER check is made on (`kafka-cluster`).
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// The `authorizer.class.name` values that turn the authorizer on: Kafka's KRaft
/// `StandardAuthorizer` and its ZooKeeper-era `AclAuthorizer`, whose rules are the same.
pub const AUTHORIZER_CLASS_NAMES: &[&str] = &[
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "kafka.security.authorizer.AclAuthorizer",
];

/// A client's address as ACL hosts name it: Java's `InetAddress.getHostAddress`, which Kafka
/// matches ACL hosts against. An IPv4 client of a dual-stack listener (`::ffff:10.0.0.7`) is
/// `10.0.0.7`; an IPv6 address is written in full, without `::` (`0:0:0:0:0:0:0:1`).
pub fn acl_host(ip: core::net::IpAddr) -> String {
    match ip.to_canonical() {
        core::net::IpAddr::V4(v4) => alloc::format!("{v4}"),
        core::net::IpAddr::V6(v6) => {
            let parts: Vec<String> = v6
                .segments()
                .iter()
                .map(|s| alloc::format!("{s:x}"))
                .collect();
            parts.join(":")
        }
    }
}

/// `super.users` as Kafka writes it: principals separated by `;` (`User:admin;User:ops`).
/// Errors: an entry that is not `Type:name`.
pub fn parse_super_users(text: &str) -> Result<Vec<String>, String> {
    text.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once(':') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => Ok(String::from(p)),
            _ => Err(alloc::format!(
                "super.users: {p:?} is not a principal (Type:name, e.g. User:admin)"
            )),
        })
        .collect()
}

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

    /// Kafka's `authorizeByResourceType`: whether `principal` from `host` may do `operation`
    /// on at least one resource of `resource_type` (InitProducerId for an idempotent producer
    /// asks for WRITE on any topic, KIP-679). Super users, and anyone when a resource no ACL
    /// covers would be allowed, may; a matching literal `*` DENY refuses; otherwise an ALLOW
    /// (for exactly this operation or ALL) whose pattern no matching DENY dominates (the same
    /// literal, or a prefix of its name) allows.
    pub fn authorize_by_resource_type(
        &self,
        principal: &str,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> bool {
        // Kafka checks a made-up name first, so super users (and allow-everyone) pass.
        if self.authorize(principal, host, operation, resource_type, "hardcode") {
            return true;
        }
        let applies = |a: &&AclBinding| {
            a.resource_type == resource_type
                && (a.host == host || a.host == "*")
                && (a.principal == principal || a.principal == "User:*")
                && (a.operation == operation || a.operation == AclOperation::All)
        };
        let mut denied_literal: Vec<&str> = Vec::new();
        let mut denied_prefix: Vec<&str> = Vec::new();
        for acl in self
            .acls
            .iter()
            .filter(applies)
            .filter(|a| a.permission == AclPermission::Deny)
        {
            match acl.pattern_type {
                PatternType::Literal if acl.resource_name == "*" => return false,
                PatternType::Literal => denied_literal.push(&acl.resource_name),
                PatternType::Prefixed => denied_prefix.push(&acl.resource_name),
            }
        }
        self.acls
            .iter()
            .filter(applies)
            .filter(|a| a.permission == AclPermission::Allow)
            .any(|a| {
                let name = a.resource_name.as_str();
                if a.pattern_type == PatternType::Literal && name == "*" {
                    return true;
                }
                if a.pattern_type == PatternType::Literal && denied_literal.contains(&name) {
                    return false;
                }
                !denied_prefix.iter().any(|d| name.starts_with(d))
            })
    }

    /// The authorized-operations bit field (KIP-430) of `resource_type`/`name` for
    /// `principal` from `host`: bit `code` set for each operation the type supports that
    /// [`Authorizer::authorize`] allows.
    pub fn authorized_operations(
        &self,
        principal: &str,
        host: &str,
        resource_type: ResourceType,
        name: &str,
    ) -> i32 {
        supported_operations(resource_type)
            .iter()
            .filter(|op| self.authorize(principal, host, **op, resource_type, name))
            .fold(0, |bits, op| bits | 1 << (*op as i32))
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

    /// Removes exactly `binding`; `false` if it was not there (a cluster's metadata log
    /// removes bindings one by one, as Kafka's `RemoveAccessControlEntryRecord`).
    pub fn remove(&mut self, binding: &AclBinding) -> bool {
        self.acls.remove(binding)
    }
}

/// Names and wire codes, as Kafka's enums spell them (`TOPIC`, `READ`, `LITERAL`, `ALLOW`).
macro_rules! named_codes {
    ($ty:ident { $($variant:ident = $name:literal),* $(,)? }) => {
        impl $ty {
            /// Every value, in code order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),*];

            /// The wire code.
            pub fn code(self) -> i8 {
                self as i8
            }

            /// The value with wire code `code`, if it is one.
            pub fn from_code(code: i8) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.code() == code)
            }

            /// Kafka's name (upper case, underscores).
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),*
                }
            }

            /// The value named `name`, in any case, `-` or `_` alike (`read`, `describe-configs`).
            pub fn from_name(name: &str) -> Option<Self> {
                let wanted = name.replace('-', "_").to_ascii_uppercase();
                Self::ALL.iter().copied().find(|v| v.name() == wanted)
            }
        }
    };
}

named_codes!(ResourceType {
    Topic = "TOPIC",
    Group = "GROUP",
    Cluster = "CLUSTER",
    TransactionalId = "TRANSACTIONAL_ID",
    DelegationToken = "DELEGATION_TOKEN",
    User = "USER",
});
named_codes!(AclOperation {
    All = "ALL",
    Read = "READ",
    Write = "WRITE",
    Create = "CREATE",
    Delete = "DELETE",
    Alter = "ALTER",
    Describe = "DESCRIBE",
    ClusterAction = "CLUSTER_ACTION",
    DescribeConfigs = "DESCRIBE_CONFIGS",
    AlterConfigs = "ALTER_CONFIGS",
    IdempotentWrite = "IDEMPOTENT_WRITE",
    CreateTokens = "CREATE_TOKENS",
    DescribeTokens = "DESCRIBE_TOKENS",
});
named_codes!(PatternType {
    Literal = "LITERAL",
    Prefixed = "PREFIXED",
});
named_codes!(AclPermission {
    Deny = "DENY",
    Allow = "ALLOW",
});

/// The wire code of "any" in a filter's resource type, pattern type, operation and
/// permission (`ResourceType.ANY`, `PatternType.ANY`, ...).
pub const ANY_CODE: i8 = 1;
/// The wire code of `PatternType.MATCH` in a filter.
pub const MATCH_CODE: i8 = 2;

/// Why a CreateAcls binding or a DescribeAcls/DeleteAcls filter was refused (Kafka answers
/// INVALID_REQUEST, code 42, with these words).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidAcl(pub String);

impl AclBinding {
    /// A binding from CreateAcls' wire fields, checked as Kafka's controller checks a new ACL
    /// (`AclControlManager.validateNewAcl`): known resource type, pattern type (LITERAL or
    /// PREFIXED), operation and permission (not ANY or UNKNOWN); a non-empty resource name,
    /// `kafka-cluster` for the CLUSTER. Stricter than Kafka, which stores them: a principal
    /// must be `Type:name` with both parts, and the host non-empty.
    pub fn from_wire(
        resource_type: i8,
        resource_name: &str,
        pattern_type: i8,
        principal: &str,
        host: &str,
        operation: i8,
        permission: i8,
    ) -> Result<Self, InvalidAcl> {
        let bad = |what: &str, code: i8| InvalidAcl(alloc::format!("invalid {what} code {code}"));
        let resource_type = ResourceType::from_code(resource_type)
            .ok_or_else(|| bad("resource type", resource_type))?;
        let pattern_type = PatternType::from_code(pattern_type)
            .ok_or_else(|| bad("pattern type", pattern_type))?;
        let operation =
            AclOperation::from_code(operation).ok_or_else(|| bad("operation", operation))?;
        let permission = AclPermission::from_code(permission)
            .ok_or_else(|| bad("permission type", permission))?;
        if resource_name.is_empty() {
            return Err(InvalidAcl("the resource name is empty".into()));
        }
        if resource_type == ResourceType::Cluster && resource_name != CLUSTER_NAME {
            return Err(InvalidAcl(alloc::format!(
                "the only valid name for the CLUSTER resource is {CLUSTER_NAME}"
            )));
        }
        if !principal
            .split_once(':')
            .is_some_and(|(kind, name)| !kind.is_empty() && !name.is_empty())
        {
            return Err(InvalidAcl(alloc::format!(
                "could not parse principal {principal:?} (Type:name, e.g. User:alice)"
            )));
        }
        if host.is_empty() {
            return Err(InvalidAcl("the host is empty (an IP address or *)".into()));
        }
        Ok(Self {
            resource_type,
            resource_name: resource_name.into(),
            pattern_type,
            principal: principal.into(),
            host: host.into(),
            operation,
            permission,
        })
    }
}

impl AclBindingFilter {
    /// A filter from DescribeAcls' or DeleteAcls' wire fields: code 1 (ANY) or a null string
    /// matches anything; pattern type 2 is MATCH. Errors: an unknown code (0, UNKNOWN,
    /// included), which Kafka refuses with INVALID_REQUEST.
    pub fn from_wire(
        resource_type: i8,
        resource_name: Option<&str>,
        pattern_type: i8,
        principal: Option<&str>,
        host: Option<&str>,
        operation: i8,
        permission: i8,
    ) -> Result<Self, InvalidAcl> {
        fn any_or<T>(
            code: i8,
            what: &str,
            f: fn(i8) -> Option<T>,
        ) -> Result<Option<T>, InvalidAcl> {
            if code == ANY_CODE {
                return Ok(None);
            }
            f(code)
                .map(Some)
                .ok_or_else(|| InvalidAcl(alloc::format!("invalid {what} code {code}")))
        }
        let pattern =
            match pattern_type {
                ANY_CODE => PatternFilter::Any,
                MATCH_CODE => PatternFilter::Match,
                code => PatternFilter::Exactly(PatternType::from_code(code).ok_or_else(|| {
                    InvalidAcl(alloc::format!("invalid pattern type code {code}"))
                })?),
            };
        Ok(Self {
            resource_type: any_or(resource_type, "resource type", ResourceType::from_code)?,
            resource_name: resource_name.map(String::from),
            pattern,
            principal: principal.map(String::from),
            host: host.map(String::from),
            operation: any_or(operation, "operation", AclOperation::from_code)?,
            permission: any_or(permission, "permission type", AclPermission::from_code)?,
        })
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
    fn hosts_are_written_as_java_writes_them() {
        let host = |text: &str| acl_host(text.parse().expect("an address"));
        assert_eq!(host("10.0.0.7"), "10.0.0.7");
        assert_eq!(
            host("::ffff:10.0.0.7"),
            "10.0.0.7",
            "an IPv4 client of [::]"
        );
        assert_eq!(host("::1"), "0:0:0:0:0:0:0:1");
        assert_eq!(host("fe80::1:AB"), "fe80:0:0:0:0:0:1:ab");
    }

    #[test]
    fn names_and_codes_are_kafkas() {
        // Kafka's enums (ResourceType, AclOperation, PatternType, AclPermissionType).
        assert_eq!(ResourceType::from_code(2), Some(ResourceType::Topic));
        assert_eq!(ResourceType::from_code(1), None, "ANY is not a resource");
        assert_eq!(
            AclOperation::from_code(10),
            Some(AclOperation::DescribeConfigs)
        );
        assert_eq!(
            AclOperation::from_name("describe-configs"),
            Some(AclOperation::DescribeConfigs)
        );
        assert_eq!(
            AclOperation::from_name("IDEMPOTENT_WRITE"),
            Some(AclOperation::IdempotentWrite)
        );
        assert_eq!(AclOperation::from_name("any"), None);
        assert_eq!(
            PatternType::from_code(4).map(PatternType::name),
            Some("PREFIXED")
        );
        assert_eq!(AclPermission::from_code(2), Some(AclPermission::Deny));
        for op in AclOperation::ALL {
            assert_eq!(AclOperation::from_code(op.code()), Some(*op));
            assert_eq!(AclOperation::from_name(op.name()), Some(*op));
        }
        assert_eq!(
            parse_super_users(" User:admin ; User:ops;"),
            Ok(alloc::vec![
                String::from("User:admin"),
                String::from("User:ops")
            ])
        );
        assert!(parse_super_users("admin").is_err());
    }

    #[test]
    fn a_new_acl_is_checked_as_kafkas_controller_checks_it() {
        let ok = AclBinding::from_wire(2, "t", 3, "User:alice", "*", 3, 3);
        assert_eq!(
            ok.map(|b| (b.resource_type, b.pattern_type, b.operation, b.permission)),
            Ok((
                ResourceType::Topic,
                PatternType::Literal,
                AclOperation::Read,
                AclPermission::Allow
            ))
        );
        for (case, fields) in [
            ("ANY resource type", (1, "t", 3, "User:a", "*", 3, 3)),
            ("UNKNOWN resource type", (0, "t", 3, "User:a", "*", 3, 3)),
            ("MATCH pattern", (2, "t", 2, "User:a", "*", 3, 3)),
            ("ANY operation", (2, "t", 3, "User:a", "*", 1, 3)),
            ("ANY permission", (2, "t", 3, "User:a", "*", 3, 1)),
            ("empty name", (2, "", 3, "User:a", "*", 3, 3)),
            ("cluster name", (4, "my-cluster", 3, "User:a", "*", 7, 3)),
            ("principal without type", (2, "t", 3, "alice", "*", 3, 3)),
            ("empty host", (2, "t", 3, "User:a", "", 3, 3)),
        ] {
            let (rt, name, pt, principal, host, op, perm) = fields;
            assert!(
                AclBinding::from_wire(rt, name, pt, principal, host, op, perm).is_err(),
                "{case} must be refused"
            );
        }
        assert!(AclBinding::from_wire(4, CLUSTER_NAME, 3, "User:a", "*", 7, 3).is_ok());
        let filter = AclBindingFilter::from_wire(1, None, 2, Some("User:a"), None, 1, 1);
        assert_eq!(
            filter.map(|f| (f.resource_type, f.pattern, f.operation, f.permission)),
            Ok((None, PatternFilter::Match, None, None))
        );
        assert!(AclBindingFilter::from_wire(0, None, 1, None, None, 1, 1).is_err());
    }

    #[test]
    fn authorize_by_resource_type_follows_kafkas_default_implementation() {
        // Kafka's Authorizer.authorizeByResourceType (KIP-679): whether some resource of the
        // type is allowed; a literal `*` DENY refuses, a DENY on the same literal or on a
        // prefix of an ALLOW's name dominates it.
        use AclOperation::*;
        use AclPermission::*;
        use PatternType::*;
        use ResourceType::*;
        let by_type =
            |a: &Authorizer, who: &str| a.authorize_by_resource_type(who, "10.0.0.1", Write, Topic);
        let mut a = Authorizer::default();
        assert!(!by_type(&a, "User:alice"));
        a.allow_everyone_if_no_acl_found = true;
        assert!(by_type(&a, "User:alice"), "no ACL at all, allow everyone");
        a.allow_everyone_if_no_acl_found = false;
        a.super_users.push("User:root".into());
        assert!(by_type(&a, "User:root"));
        a.add(acl(
            Topic,
            "foobar",
            Literal,
            "User:alice",
            "*",
            Write,
            Allow,
        ));
        assert!(by_type(&a, "User:alice"));
        assert!(!by_type(&a, "User:bob"));
        a.add(acl(
            Topic,
            "foobar",
            Literal,
            "User:alice",
            "*",
            Write,
            Deny,
        ));
        assert!(!by_type(&a, "User:alice"), "the same literal denied");
        a.add(acl(Topic, "foo", Prefixed, "User:alice", "*", Write, Allow));
        assert!(
            by_type(&a, "User:alice"),
            "a prefix allow no deny dominates"
        );
        a.add(acl(Topic, "foob", Prefixed, "User:alice", "*", Write, Deny));
        assert!(
            by_type(&a, "User:alice"),
            "a longer deny prefix does not dominate foo"
        );
        a.add(acl(Topic, "fo", Prefixed, "User:alice", "*", All, Deny));
        assert!(!by_type(&a, "User:alice"), "fo dominates foo and foobar");
        let mut b = Authorizer::default();
        b.add(acl(Topic, "t", Literal, "User:alice", "*", Read, Allow));
        assert!(!by_type(&b, "User:alice"), "READ does not imply WRITE here");
        b.add(acl(Topic, "*", Literal, "User:*", "*", Write, Allow));
        assert!(by_type(&b, "User:alice"));
        b.add(acl(Topic, "*", Literal, "User:alice", "*", Write, Deny));
        assert!(
            !by_type(&b, "User:alice"),
            "a literal * deny refuses at once"
        );
        // KIP-430 bits: WRITE and READ on a topic imply DESCRIBE.
        assert_eq!(
            b.authorized_operations("User:bob", "10.0.0.1", Topic, "t"),
            (1 << (Write as i32)) | (1 << (Describe as i32))
        );
        let mut c = Authorizer::default();
        c.add(acl(Topic, "t", Literal, "User:alice", "*", Read, Allow));
        assert_eq!(
            c.authorized_operations("User:alice", "10.0.0.1", Topic, "t"),
            (1 << (Read as i32)) | (1 << (Describe as i32))
        );
    }

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
