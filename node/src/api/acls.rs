//! CreateAcls, DescribeAcls and DeleteAcls: Kafka's ACL administration (`kafka-acls`,
//! confluent-kafka's `create_acls`/`describe_acls`/`delete_acls`, `runnel acl`). The bindings,
//! filters and their checks are core's (`runnel_core::acl`); the broker keeps the ACLs and
//! saves them. The cluster ALTER/DESCRIBE these need is checked before
//! (`cluster_admin::cluster_refused`).
//!
//! Without `authorizer.class.name` each is answered as Kafka answers it without an authorizer
//! (`KafkaApis`): SECURITY_DISABLED, "No Authorizer is configured.", for every creation and
//! every filter, so admin tools say so instead of failing on an unknown API.

use std::sync::Arc;

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use runnel_core::acl::{AclBinding, AclBindingFilter, InvalidAcl};
use runnel_core::error_code;

use super::s;
use crate::broker::{ApiError, Broker};

/// A filter from the fields DescribeAcls' request and DeleteAcls' filters share.
macro_rules! wire_filter {
    ($f:expr) => {
        AclBindingFilter::from_wire(
            $f.resource_type_filter,
            $f.resource_name_filter.as_deref(),
            $f.pattern_type_filter,
            $f.principal_filter.as_deref(),
            $f.host_filter.as_deref(),
            $f.operation,
            $f.permission_type,
        )
    };
}

/// Kafka's words without an authorizer.
const NO_AUTHORIZER: &str = "No Authorizer is configured.";

/// CreateAcls: each creation is checked (an invalid one answers INVALID_REQUEST and is not
/// added); the valid ones are added together and saved. Adding an ACL that exists succeeds.
pub(super) async fn create_acls(
    broker: &Arc<Broker>,
    request: CreateAclsRequest,
) -> CreateAclsResponse {
    let checked: Vec<Result<AclBinding, InvalidAcl>> = request
        .creations
        .iter()
        .map(|c| {
            AclBinding::from_wire(
                c.resource_type,
                c.resource_name.as_str(),
                c.resource_pattern_type,
                c.principal.as_str(),
                c.host.as_str(),
                c.operation,
                c.permission_type,
            )
        })
        .collect();
    let valid: Vec<AclBinding> = checked.iter().filter_map(|c| c.clone().ok()).collect();
    let saved = if broker.has_authorizer() {
        broker.change_acls(&valid, &[]).await.map(|_| ())
    } else {
        Err(no_authorizer())
    };
    let results = checked
        .into_iter()
        .map(|c| {
            let error = match (&saved, c) {
                (_, Err(invalid)) => Some((error_code::INVALID_REQUEST, invalid.0)),
                (Err(e), Ok(_)) => Some((e.code, e.message.clone())),
                (Ok(()), Ok(_)) => None,
            };
            match error {
                None => AclCreationResult::default(),
                Some((code, message)) => AclCreationResult::default()
                    .with_error_code(code)
                    .with_error_message(Some(s(message))),
            }
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

/// DescribeAcls: the bindings the filter selects, grouped by resource pattern. An invalid
/// filter answers INVALID_REQUEST.
pub(super) fn describe_acls(
    broker: &Arc<Broker>,
    _version: i16,
    request: DescribeAclsRequest,
) -> DescribeAclsResponse {
    let filter = wire_filter!(request);
    let refused = |code: i16, message: String| {
        DescribeAclsResponse::default()
            .with_error_code(code)
            .with_error_message(Some(s(message)))
    };
    let filter = match filter {
        Ok(f) => f,
        Err(e) => return refused(error_code::INVALID_REQUEST, e.0),
    };
    let Some(bindings) = broker.acls(&filter) else {
        return refused(error_code::SECURITY_DISABLED, NO_AUTHORIZER.into());
    };
    let mut resources: Vec<DescribeAclsResource> = Vec::new();
    for b in bindings {
        let acl = AclDescription::default()
            .with_principal(s(b.principal.clone()))
            .with_host(s(b.host.clone()))
            .with_operation(b.operation.code())
            .with_permission_type(b.permission.code());
        let same = |r: &DescribeAclsResource| {
            r.resource_type == b.resource_type.code()
                && r.resource_name.as_str() == b.resource_name
                && r.pattern_type == b.pattern_type.code()
        };
        match resources.iter_mut().find(|r| same(r)) {
            Some(r) => r.acls.push(acl),
            None => resources.push(
                DescribeAclsResource::default()
                    .with_resource_type(b.resource_type.code())
                    .with_resource_name(s(b.resource_name.clone()))
                    .with_pattern_type(b.pattern_type.code())
                    .with_acls(vec![acl]),
            ),
        }
    }
    DescribeAclsResponse::default().with_resources(resources)
}

/// DeleteAcls: every binding any filter selects is removed (saved together); each filter
/// answers every binding it selected. An invalid filter answers
/// INVALID_REQUEST and removes nothing.
pub(super) async fn delete_acls(
    broker: &Arc<Broker>,
    _version: i16,
    request: DeleteAclsRequest,
) -> DeleteAclsResponse {
    let checked: Vec<Result<AclBindingFilter, InvalidAcl>> =
        request.filters.iter().map(|f| wire_filter!(f)).collect();
    let valid: Vec<AclBindingFilter> = checked.iter().filter_map(|f| f.clone().ok()).collect();
    let removed = if broker.has_authorizer() {
        broker.change_acls(&[], &valid).await
    } else {
        Err(no_authorizer())
    };
    let mut removed_per_valid = match &removed {
        Ok(r) => r.clone().into_iter(),
        Err(_) => Vec::new().into_iter(),
    };
    let results = checked
        .into_iter()
        .map(|f| {
            let failed = |code: i16, message: String| {
                DeleteAclsFilterResult::default()
                    .with_error_code(code)
                    .with_error_message(Some(s(message)))
            };
            match (&removed, f) {
                (_, Err(invalid)) => failed(error_code::INVALID_REQUEST, invalid.0),
                (Err(e), Ok(_)) => failed(e.code, e.message.clone()),
                (Ok(_), Ok(_)) => DeleteAclsFilterResult::default().with_matching_acls(
                    removed_per_valid
                        .next()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|b| {
                            DeleteAclsMatchingAcl::default()
                                .with_resource_type(b.resource_type.code())
                                .with_resource_name(s(b.resource_name))
                                .with_pattern_type(b.pattern_type.code())
                                .with_principal(s(b.principal))
                                .with_host(s(b.host))
                                .with_operation(b.operation.code())
                                .with_permission_type(b.permission.code())
                        })
                        .collect(),
                ),
            }
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}

/// SECURITY_DISABLED with Kafka's words.
fn no_authorizer() -> ApiError {
    ApiError::new(error_code::SECURITY_DISABLED, NO_AUTHORIZER)
}
