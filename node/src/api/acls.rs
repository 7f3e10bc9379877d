//! CreateAcls, DescribeAcls and DeleteAcls. runnel has no authorizer in the node yet (core's
//! `acl::Authorizer` is not wired in), so each is answered as Kafka answers it without one
//! (`KafkaApis`, no `authorizer.class.name`): SECURITY_DISABLED, "No Authorizer is
//! configured.", for every creation and every filter. Admin tools (`kafka-acls --list`,
//! confluent-kafka's `describe_acls`) then say so instead of failing on an unknown API.

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::DeleteAclsFilterResult;
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};

use super::s;

/// SECURITY_DISABLED (Kafka's code 54).
const SECURITY_DISABLED: i16 = 54;
/// Kafka's words.
const NO_AUTHORIZER: &str = "No Authorizer is configured.";

/// CreateAcls: every creation refused with SECURITY_DISABLED.
pub(super) fn create_acls(request: CreateAclsRequest) -> CreateAclsResponse {
    let results = request
        .creations
        .iter()
        .map(|_| {
            AclCreationResult::default()
                .with_error_code(SECURITY_DISABLED)
                .with_error_message(Some(s(NO_AUTHORIZER)))
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

/// DescribeAcls: SECURITY_DISABLED.
pub(super) fn describe_acls(_request: DescribeAclsRequest) -> DescribeAclsResponse {
    DescribeAclsResponse::default()
        .with_error_code(SECURITY_DISABLED)
        .with_error_message(Some(s(NO_AUTHORIZER)))
}

/// DeleteAcls: every filter answered SECURITY_DISABLED.
pub(super) fn delete_acls(request: DeleteAclsRequest) -> DeleteAclsResponse {
    let results = request
        .filters
        .iter()
        .map(|_| {
            DeleteAclsFilterResult::default()
                .with_error_code(SECURITY_DISABLED)
                .with_error_message(Some(s(NO_AUTHORIZER)))
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}
