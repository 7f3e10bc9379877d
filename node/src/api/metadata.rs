//! ApiVersions and Metadata: what the broker speaks, and where every partition lives.

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiVersionsResponse, BrokerId, MetadataRequest, MetadataResponse, TopicName,
};

use super::{SUPPORTED, s};
use crate::broker::{ApiError, Broker, Topic, code};

/// The ApiVersions answer: every API and advertised range.
pub fn api_versions_response() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        SUPPORTED
            .iter()
            .map(|(key, min, max, _)| {
                ApiVersion::default()
                    .with_api_key(*key as i16)
                    .with_min_version(*min)
                    .with_max_version(*max)
            })
            .collect(),
    )
}

/// The body Kafka sends for an ApiVersions version it does not know (KIP-511): always in the
/// v0 format, error UNSUPPORTED_VERSION, and the API list, so the client can pick a version.
pub fn api_versions_error_body() -> BytesMut {
    let mut body = BytesMut::new();
    body.put_i16(code::UNSUPPORTED_VERSION);
    body.put_i32(SUPPORTED.len() as i32);
    for (key, min, max, _) in SUPPORTED {
        body.put_i16(*key as i16);
        body.put_i16(*min);
        body.put_i16(*max);
    }
    body
}

/// Metadata: the one broker, and the requested topics (all when none are named), creating
/// unknown ones when auto-creation is on and the client allows it.
pub(super) fn metadata(
    broker: &Arc<Broker>,
    version: i16,
    request: MetadataRequest,
) -> MetadataResponse {
    let node = BrokerId(broker.config.node_id);
    let all_topics = match &request.topics {
        None => true,
        Some(topics) => version == 0 && topics.is_empty(),
    };
    // Before v4 the request has no flag: those clients always allow auto-creation.
    let allow_create = version < 4 || request.allow_auto_topic_creation;
    let topics: Vec<MetadataResponseTopic> = if all_topics {
        broker
            .topics()
            .iter()
            .map(|t| describe(broker, version, t))
            .collect()
    } else {
        request
            .topics
            .unwrap_or_default()
            .into_iter()
            .map(|requested| {
                let name = match (&requested.name, requested.topic_id.is_nil()) {
                    (Some(name), _) => Some(name.0.to_string()),
                    (None, false) => broker
                        .topic_by_id(requested.topic_id)
                        .map(|t| t.name.clone()),
                    (None, true) => None,
                };
                let Some(name) = name else {
                    return MetadataResponseTopic::default()
                        .with_error_code(runnel_core::error_code::UNKNOWN_TOPIC_OR_PARTITION)
                        .with_topic_id(requested.topic_id);
                };
                match broker.topic_or_create(&name, allow_create) {
                    Ok(topic) => describe(broker, version, &topic),
                    Err(ApiError { code, .. }) => MetadataResponseTopic::default()
                        .with_error_code(code)
                        .with_name(Some(TopicName(s(name)))),
                }
            })
            .collect()
    };
    MetadataResponse::default()
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(node)
                .with_host(s(broker.config.advertised_host.clone()))
                .with_port(i32::from(broker.config.listener.port())),
        ])
        .with_cluster_id((version >= 2).then(|| s("runnel")))
        .with_controller_id(if version >= 1 { node } else { BrokerId(-1) })
        .with_topics(topics)
}

/// One topic's metadata; fields by version: is_internal v1+, leader epoch v7+, topic id v10+.
fn describe(broker: &Broker, version: i16, topic: &Topic) -> MetadataResponseTopic {
    let node = BrokerId(broker.config.node_id);
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(s(topic.name.clone()))))
        .with_topic_id(if version >= 10 {
            topic.id
        } else {
            uuid::Uuid::nil()
        })
        .with_is_internal(version >= 1 && topic.is_internal())
        .with_partitions(
            topic
                .partitions()
                .iter()
                .map(|p| {
                    MetadataResponsePartition::default()
                        .with_partition_index(p.index)
                        .with_leader_id(node)
                        .with_leader_epoch(if version >= 7 { 0 } else { -1 })
                        .with_replica_nodes(vec![node])
                        .with_isr_nodes(vec![node])
                })
                .collect(),
        )
}
