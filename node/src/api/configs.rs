//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics (Kafka's config names:
//! `retention.ms`, `cleanup.policy`, `segment.bytes`, ...) and brokers: a broker resource is
//! described with the broker's own settings, and the broker-level defaults of topic configs
//! (`log.retention.ms`, ...) can be changed at run time (dynamic broker configs, KIP-226).

use std::sync::Arc;

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse as IncrementalResult;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};

use super::{Context, s};
use runnel_core::acl::{AclOperation, ResourceType};
use runnel_core::dynamic_config;
use runnel_core::error_code;
use runnel_core::topic_config::{self, ListOp};

use crate::broker::{ApiError, Broker, ConfigSource, DescribedConfig, code};

/// ConfigResource type of a topic.
const TOPIC: i8 = 2;
/// ConfigResource type of a broker.
const BROKER: i8 = 4;
/// ConfigSource: set on the topic.
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
/// ConfigSource: set at run time for one broker (KIP-226).
const DYNAMIC_BROKER_CONFIG: i8 = 2;
/// ConfigSource: set at run time as the cluster-wide default (KIP-226).
const DYNAMIC_DEFAULT_BROKER_CONFIG: i8 = 3;
/// ConfigSource: the broker's static configuration.
const STATIC_BROKER_CONFIG: i8 = 4;
/// ConfigSource: the default.
pub(super) const DEFAULT_CONFIG: i8 = 5;

/// ACLs on a config resource (Kafka's `ConfigAdminManager`/`AuthHelper`): `operation`
/// (DESCRIBE_CONFIGS or ALTER_CONFIGS) on the topic (else TOPIC_AUTHORIZATION_FAILED) or,
/// for a broker, on the cluster (else CLUSTER_AUTHORIZATION_FAILED).
fn check_resource(
    broker: &Broker,
    ctx: &Context,
    operation: AclOperation,
    resource_type: i8,
    name: &str,
) -> Result<(), ApiError> {
    let refused = |code: i16, what: &str| {
        Err(ApiError::new(
            code,
            format!(
                "not authorized to {} of {what}",
                operation.name().to_ascii_lowercase().replace('_', " ")
            ),
        ))
    };
    match resource_type {
        TOPIC if !ctx.may(broker, operation, ResourceType::Topic, name) => refused(
            error_code::TOPIC_AUTHORIZATION_FAILED,
            &format!("topic {name}"),
        ),
        BROKER if !ctx.may_cluster(broker, operation) => {
            refused(error_code::CLUSTER_AUTHORIZATION_FAILED, "the cluster")
        }
        _ => Ok(()),
    }
}

/// DescribeConfigs.
/// v3+ carries each config's type (KIP-569); documentation is not kept, so it stays null.
/// ACLs: DESCRIBE_CONFIGS ([`check_resource`]).
pub(super) fn describe_configs(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let version = ctx.header.request_api_version;
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let name = resource.resource_name.to_string();
            let wanted = |key: &str| {
                resource
                    .configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k.as_str() == key))
            };
            let allowed = check_resource(
                broker,
                ctx,
                AclOperation::DescribeConfigs,
                resource.resource_type,
                &name,
            );
            let entries: Result<Vec<DescribedConfig>, ApiError> = match resource.resource_type {
                _ if allowed.is_err() => allowed.map(|()| Vec::new()),
                TOPIC => broker.describe_topic_config(&name),
                BROKER => broker.describe_broker_config(&name),
                other => Err(ApiError::new(
                    code::INVALID_REQUEST,
                    format!("resource type {other} is not supported"),
                )),
            };
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            match entries {
                Ok(entries) => result.with_configs(
                    entries
                        .into_iter()
                        .filter(|c| wanted(&c.name))
                        .map(|c| {
                            // v1+ with include_synonyms (KIP-226): every level, in effect first.
                            let synonyms = if request.include_synonyms {
                                c.synonyms
                                    .into_iter()
                                    .map(|(name, value, source)| {
                                        DescribeConfigsSynonym::default()
                                            .with_name(s(name))
                                            .with_value(Some(s(value)))
                                            .with_source(source_code(source))
                                    })
                                    .collect()
                            } else {
                                Vec::new()
                            };
                            DescribeConfigsResourceResult::default()
                                .with_name(s(c.name))
                                .with_value(Some(s(c.value)))
                                .with_config_source(source_code(c.source))
                                .with_read_only(c.read_only)
                                .with_config_type(if version >= 3 { c.config_type } else { 0 })
                                .with_synonyms(synonyms)
                        })
                        .collect(),
                ),
                Err(e) => result
                    .with_error_code(e.code)
                    .with_error_message(Some(s(e.message))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// Kafka's ConfigSource code of a config's source.
fn source_code(source: ConfigSource) -> i8 {
    match source {
        ConfigSource::Topic => DYNAMIC_TOPIC_CONFIG,
        ConfigSource::DynamicBroker => DYNAMIC_BROKER_CONFIG,
        ConfigSource::DynamicDefault => DYNAMIC_DEFAULT_BROKER_CONFIG,
        ConfigSource::Broker => STATIC_BROKER_CONFIG,
        ConfigSource::Default => DEFAULT_CONFIG,
    }
}

/// AlterConfigs: replaces a topic's whole set of overrides. ACLs: ALTER_CONFIGS
/// ([`check_resource`]).
pub(super) async fn alter_configs(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let changes: Vec<(String, Option<String>)> = resource
            .configs
            .iter()
            .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
            .collect();
        let result = match check_resource(
            broker,
            ctx,
            AclOperation::AlterConfigs,
            resource.resource_type,
            &resource.resource_name,
        ) {
            Ok(()) => {
                alter(
                    broker,
                    resource.resource_type,
                    &resource.resource_name,
                    &changes,
                    true,
                    request.validate_only,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let (error, message) = outcome(result);
        responses.push(
            AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name)
                .with_error_code(error)
                .with_error_message(message),
        );
    }
    AlterConfigsResponse::default().with_responses(responses)
}

/// IncrementalAlterConfigs: SET (0), DELETE (1), and APPEND (2) / SUBTRACT (3) on list
/// configs (KIP-339: over the current value, the topic's own or else the default; core's
/// `topic_config::apply_list_op`). ACLs: ALTER_CONFIGS ([`check_resource`]).
pub(super) async fn incremental_alter_configs(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        if let Err(e) = check_resource(
            broker,
            ctx,
            AclOperation::AlterConfigs,
            resource.resource_type,
            &resource.resource_name,
        ) {
            responses.push(
                IncrementalResult::default()
                    .with_resource_type(resource.resource_type)
                    .with_resource_name(resource.resource_name)
                    .with_error_code(e.code)
                    .with_error_message(Some(s(e.message))),
            );
            continue;
        }
        // The value a list operation starts from: the topic's, or this broker's in effect.
        let current = || match resource.resource_type {
            TOPIC => broker
                .describe_topic_config(&resource.resource_name)
                .unwrap_or_default(),
            BROKER => broker
                .describe_broker_config(&broker.config.node_id.to_string())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut names: Vec<&str> = resource.configs.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            // Kafka's ConfigAdminManager: one operation per config and resource.
            responses.push(
                IncrementalResult::default()
                    .with_resource_type(resource.resource_type)
                    .with_resource_name(resource.resource_name)
                    .with_error_code(code::INVALID_REQUEST)
                    .with_error_message(Some(s("Error due to duplicate config keys"))),
            );
            continue;
        }
        let changes: Result<Vec<(String, Option<String>)>, ApiError> = resource
            .configs
            .iter()
            .map(|c| {
                let name = c.name.to_string();
                let op = match c.config_operation {
                    0 => return Ok((name, c.value.as_ref().map(|v| v.to_string()))),
                    1 => return Ok((name, None)),
                    2 => ListOp::Append,
                    3 => ListOp::Subtract,
                    op => {
                        return Err(ApiError::new(
                            code::INVALID_REQUEST,
                            format!("unknown config operation {op} for {name}"),
                        ));
                    }
                };
                let now = current()
                    .into_iter()
                    .find(|c| c.name == name)
                    .map(|c| c.value)
                    .unwrap_or_default();
                let items = c.value.as_ref().map_or(String::new(), |v| v.to_string());
                // A broker list config is a topic config's default: its list rule.
                let list_name = match resource.resource_type {
                    BROKER => dynamic_config::topic_config_name(&name).unwrap_or(&name),
                    _ => &name,
                };
                topic_config::apply_list_op(list_name, &now, op, &items)
                    .map(|value| (name.clone(), Some(value)))
                    .map_err(|e| ApiError::new(e.kafka_error_code(), e.to_string()))
            })
            .collect();
        let result = match changes {
            Ok(changes) => {
                alter(
                    broker,
                    resource.resource_type,
                    &resource.resource_name,
                    &changes,
                    false,
                    request.validate_only,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let (error, message) = outcome(result);
        responses.push(
            IncrementalResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name)
                .with_error_code(error)
                .with_error_message(message),
        );
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// A resource's error code and message in an (Incremental)AlterConfigs response: 0 and none
/// on success.
fn outcome(result: Result<(), ApiError>) -> (i16, Option<kafka_protocol::protocol::StrBytes>) {
    match result {
        Ok(()) => (0, None),
        Err(e) => (e.code, Some(s(e.message))),
    }
}

async fn alter(
    broker: &Arc<Broker>,
    resource_type: i8,
    name: &str,
    changes: &[(String, Option<String>)],
    replace_all: bool,
    validate_only: bool,
) -> Result<(), ApiError> {
    match resource_type {
        TOPIC => {
            broker
                .alter_topic_config(name, changes, replace_all, validate_only)
                .await
        }
        BROKER => {
            broker
                .alter_broker_config(name, changes, replace_all, validate_only)
                .await
        }
        other => Err(ApiError::new(
            code::INVALID_REQUEST,
            format!("resource type {other}: only topic and broker configs can be altered"),
        )),
    }
}
