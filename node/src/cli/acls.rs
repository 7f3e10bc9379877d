//! `runnel acl`: Kafka ACLs as `kafka-acls --add|--list|--remove` manages them, through
//! CreateAcls, DescribeAcls and DeleteAcls (v1, Kafka 2.0+), so it works against any broker
//! with an authorizer. The bindings and filters are core's (`runnel_core::acl`); a broker
//! without `authorizer.class.name` answers SECURITY_DISABLED.

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{
    ApiKey, CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;
use runnel_core::acl::{
    ANY_CODE, AclBinding, AclBindingFilter, AclOperation, AclPermission, PatternFilter,
    ResourceType,
};

use super::{Brokers, Cell, ClientError, Report};
use crate::client::check_with;

/// The version of the ACL APIs sent (v1: pattern types, KIP-290; Kafka 2.0+).
const ACL_API_VERSION: i16 = 1;

/// An operation by Kafka's name (`read`, `describe-configs`, `ALL`, any case).
///
/// # Errors
/// [`ClientError::Usage`] for a name Kafka does not have.
pub fn acl_operation(name: &str) -> Result<AclOperation, ClientError> {
    AclOperation::from_name(name).ok_or_else(|| {
        let names: Vec<String> = AclOperation::ALL
            .iter()
            .map(|o| o.name().to_ascii_lowercase().replace('_', "-"))
            .collect();
        ClientError::Usage(format!(
            "--operation {name}: give one of {}",
            names.join(", ")
        ))
    })
}

/// Adds `bindings` (CreateAcls); adding one that exists succeeds.
///
/// # Errors
/// The broker's refusal of any binding (INVALID_REQUEST with its reason,
/// CLUSTER_AUTHORIZATION_FAILED, SECURITY_DISABLED), or a network error.
pub fn acl_create(brokers: &mut Brokers, bindings: &[AclBinding]) -> Result<Report, ClientError> {
    let request = CreateAclsRequest::default().with_creations(
        bindings
            .iter()
            .map(|b| {
                AclCreation::default()
                    .with_resource_type(b.resource_type.code())
                    .with_resource_name(text(&b.resource_name))
                    .with_resource_pattern_type(b.pattern_type.code())
                    .with_principal(text(&b.principal))
                    .with_host(text(&b.host))
                    .with_operation(b.operation.code())
                    .with_permission_type(b.permission.code())
            })
            .collect(),
    );
    let response: CreateAclsResponse =
        brokers
            .any()
            .call(ApiKey::CreateAcls, ACL_API_VERSION, &request)?;
    for result in &response.results {
        check_with(
            "create the ACLs",
            result.error_code,
            result.error_message.as_ref(),
        )?;
    }
    Ok(table(bindings.to_vec()))
}

/// The ACLs `filter` selects (DescribeAcls).
///
/// # Errors
/// The broker's refusal (SECURITY_DISABLED, CLUSTER_AUTHORIZATION_FAILED), or a network error.
pub fn acl_list(brokers: &mut Brokers, filter: &AclBindingFilter) -> Result<Report, ClientError> {
    let (resource_type, name, pattern, principal, host, operation, permission) = wire(filter);
    let request = DescribeAclsRequest::default()
        .with_resource_type_filter(resource_type)
        .with_resource_name_filter(name)
        .with_pattern_type_filter(pattern)
        .with_principal_filter(principal)
        .with_host_filter(host)
        .with_operation(operation)
        .with_permission_type(permission);
    let response: DescribeAclsResponse =
        brokers
            .any()
            .call(ApiKey::DescribeAcls, ACL_API_VERSION, &request)?;
    check_with(
        "list the ACLs",
        response.error_code,
        response.error_message.as_ref(),
    )?;
    let rows = response.resources.iter().flat_map(|r| {
        r.acls.iter().map(move |acl| {
            (
                r.resource_type,
                r.resource_name.as_str(),
                r.pattern_type,
                acl.principal.as_str(),
                acl.host.as_str(),
                acl.operation,
                acl.permission_type,
            )
        })
    });
    Ok(table(bindings(rows)))
}

/// Removes the ACLs `filter` selects (DeleteAcls) and lists them.
///
/// # Errors
/// The broker's refusal, or a network error.
pub fn acl_delete(brokers: &mut Brokers, filter: &AclBindingFilter) -> Result<Report, ClientError> {
    let (resource_type, name, pattern, principal, host, operation, permission) = wire(filter);
    let request = DeleteAclsRequest::default().with_filters(vec![
        DeleteAclsFilter::default()
            .with_resource_type_filter(resource_type)
            .with_resource_name_filter(name)
            .with_pattern_type_filter(pattern)
            .with_principal_filter(principal)
            .with_host_filter(host)
            .with_operation(operation)
            .with_permission_type(permission),
    ]);
    let response: DeleteAclsResponse =
        brokers
            .any()
            .call(ApiKey::DeleteAcls, ACL_API_VERSION, &request)?;
    for result in &response.filter_results {
        check_with(
            "delete the ACLs",
            result.error_code,
            result.error_message.as_ref(),
        )?;
    }
    let rows = response
        .filter_results
        .iter()
        .flat_map(|r| &r.matching_acls)
        .map(|m| {
            (
                m.resource_type,
                m.resource_name.as_str(),
                m.pattern_type,
                m.principal.as_str(),
                m.host.as_str(),
                m.operation,
                m.permission_type,
            )
        });
    let count: usize = response
        .filter_results
        .iter()
        .map(|r| r.matching_acls.len())
        .sum();
    let mut report = table(bindings(rows));
    report.title = Some(format!("{count} ACL(s) removed"));
    Ok(report)
}

/// A binding's wire fields: (resource type, name, pattern type, principal, host, operation,
/// permission).
type WireBinding<'a> = (i8, &'a str, i8, &'a str, &'a str, i8, i8);

/// The bindings a broker answered with (one it sent that does not read is left out).
fn bindings<'a>(rows: impl Iterator<Item = WireBinding<'a>>) -> Vec<AclBinding> {
    rows.filter_map(|(rt, name, pt, principal, host, op, perm)| {
        AclBinding::from_wire(rt, name, pt, principal, host, op, perm).ok()
    })
    .collect()
}

/// A filter's wire fields: (resource type, name, pattern type, principal, host, operation,
/// permission), ANY as code 1 and null.
type WireFilter = (
    i8,
    Option<StrBytes>,
    i8,
    Option<StrBytes>,
    Option<StrBytes>,
    i8,
    i8,
);

fn wire(filter: &AclBindingFilter) -> WireFilter {
    let pattern = match filter.pattern {
        PatternFilter::Any => ANY_CODE,
        PatternFilter::Match => runnel_core::acl::MATCH_CODE,
        PatternFilter::Exactly(p) => p.code(),
    };
    (
        filter.resource_type.map_or(ANY_CODE, ResourceType::code),
        filter.resource_name.as_deref().map(text),
        pattern,
        filter.principal.as_deref().map(text),
        filter.host.as_deref().map(text),
        filter.operation.map_or(ANY_CODE, AclOperation::code),
        filter.permission.map_or(ANY_CODE, AclPermission::code),
    )
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Bindings as a table, one per row, in a stable order.
fn table(mut bindings: Vec<AclBinding>) -> Report {
    bindings.sort();
    let rows = bindings
        .into_iter()
        .map(|b| {
            vec![
                Cell::Text(b.principal),
                Cell::Text(b.permission.name().to_string()),
                Cell::Text(b.operation.name().to_string()),
                Cell::Text(b.host),
                Cell::Text(b.resource_type.name().to_string()),
                Cell::Text(b.pattern_type.name().to_string()),
                Cell::Text(b.resource_name),
            ]
        })
        .collect();
    Report {
        columns: vec![
            "PRINCIPAL",
            "PERMISSION",
            "OPERATION",
            "HOST",
            "RESOURCE",
            "PATTERN",
            "NAME",
        ],
        rows,
        ..Report::default()
    }
}
