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

use runnel_core::acl::{AclOperation, ResourceType};

use super::{Context, SUPPORTED, s};
use crate::broker::{ApiError, Broker, Topic, code};

/// The ApiVersions answer: every API and advertised range.
pub fn api_versions_response() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        SUPPORTED
            .iter()
            .map(|(key, min, max)| {
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
    for (key, min, max) in SUPPORTED {
        body.put_i16(*key as i16);
        body.put_i16(*min);
        body.put_i16(*max);
    }
    body
}

/// Metadata: the one broker, and the requested topics (all when none are named), creating
/// unknown ones when auto-creation is on and the client allows it. In a cluster: every live
/// broker and each partition's leader, replicas, ISR and leader epoch from the metadata log.
///
/// Authorized operations (KIP-430), when asked for: the operations the principal may do on
/// each topic (v8+) and on the cluster (v8–v10); every one the resource supports without an
/// authorizer.
///
/// ACLs (Kafka's `handleTopicMetadataRequest`, single node): "every topic" lists only the
/// topics the principal may DESCRIBE; a named topic it may not describe is answered
/// TOPIC_AUTHORIZATION_FAILED, and one that does not exist is auto-created only for a
/// principal that may CREATE it (else TOPIC_AUTHORIZATION_FAILED).
pub(super) async fn metadata(
    broker: &Arc<Broker>,
    ctx: &Context,
    version: i16,
    request: MetadataRequest,
) -> MetadataResponse {
    let listener = ctx.listener;
    let topic_operations = version >= 8 && request.include_topic_authorized_operations;
    let cluster_operations =
        (8..=10).contains(&version) && request.include_cluster_authorized_operations;
    let mut response = match broker.cluster() {
        Some(cluster) => cluster_metadata(broker, ctx, cluster, version, request).await,
        None => node_metadata(broker, ctx, version, request, listener),
    };
    if topic_operations {
        for topic in response.topics.iter_mut().filter(|t| t.error_code == 0) {
            let name = topic
                .name
                .as_ref()
                .map(|n| n.0.to_string())
                .unwrap_or_default();
            topic.topic_authorized_operations =
                ctx.authorized_operations(broker, ResourceType::Topic, &name);
        }
    }
    if cluster_operations {
        response.cluster_authorized_operations = ctx.cluster_authorized_operations(broker);
    }
    response
}

/// Metadata on a single node.
fn node_metadata(
    broker: &Arc<Broker>,
    ctx: &Context,
    version: i16,
    request: MetadataRequest,
    listener: usize,
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
            .filter(|t| {
                ctx.may_quietly(broker, AclOperation::Describe, ResourceType::Topic, &t.name)
            })
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
                // A topic asked for by id is refused without its name (Kafka does not tell it).
                let by_name = requested.name.is_some();
                let refused = |operation| {
                    let e = super::topics::topic_refused(operation, &name);
                    MetadataResponseTopic::default()
                        .with_error_code(e.code)
                        .with_name(by_name.then(|| TopicName(s(name.clone()))))
                        .with_topic_id(requested.topic_id)
                };
                if !ctx.may(broker, AclOperation::Describe, ResourceType::Topic, &name) {
                    return refused(AclOperation::Describe);
                }
                let create = allow_create && broker.config.auto_create_topics;
                // Asked only when the topic would be created; and created only if allowed, even
                // when it disappears between this check and the creation.
                let may_create = create
                    && (broker.topic(&name).is_some() || ctx.may_create_topic(broker, &name));
                if create && !may_create {
                    return refused(AclOperation::Create);
                }
                match broker.topic_or_create(&name, may_create) {
                    Ok(topic) => describe(broker, version, &topic),
                    Err(ApiError { code, .. }) => MetadataResponseTopic::default()
                        .with_error_code(code)
                        .with_name(Some(TopicName(s(name)))),
                }
            })
            .collect()
    };
    let (host, port) = broker.advertised_endpoint(listener);
    MetadataResponse::default()
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(node)
                .with_host(s(host))
                .with_port(i32::from(port)),
        ])
        .with_cluster_id((version >= 2).then(|| s(broker.data_dir.cluster_id.clone())))
        .with_controller_id(if version >= 1 { node } else { BrokerId(-1) })
        .with_topics(topics)
}

/// Metadata in cluster mode, from the replicated image: the brokers' endpoints on the
/// listener the client came through, the topics it may describe (auto-created only when it
/// may create them), as on a single node.
async fn cluster_metadata(
    broker: &Arc<Broker>,
    ctx: &Context,
    cluster: &Arc<crate::cluster::Cluster>,
    version: i16,
    request: MetadataRequest,
) -> MetadataResponse {
    let allow_create = version < 4 || request.allow_auto_topic_creation;
    let requested: Option<Vec<String>> = match &request.topics {
        None => None,
        Some(topics) if version == 0 && topics.is_empty() => None,
        Some(topics) => Some(
            topics
                .iter()
                .filter_map(|t| match (&t.name, t.topic_id.is_nil()) {
                    (Some(name), _) => Some(name.0.to_string()),
                    (None, false) => broker.topic_by_id(t.topic_id).map(|t| t.name.clone()),
                    (None, true) => None,
                })
                .collect(),
        ),
    };
    let mut errors: Vec<(String, i16)> = Vec::new();
    if let Some(names) = &requested {
        for name in names {
            if !ctx.may(broker, AclOperation::Describe, ResourceType::Topic, name) {
                let refused = super::topics::topic_refused(AclOperation::Describe, name);
                errors.push((name.clone(), refused.code));
                continue;
            }
            let known = cluster.image().topics.contains_key(name);
            if known {
                continue;
            }
            if !(allow_create && broker.config.auto_create_topics) {
                errors.push((
                    name.clone(),
                    runnel_core::error_code::UNKNOWN_TOPIC_OR_PARTITION,
                ));
                continue;
            }
            if !ctx.may_create_topic(broker, name) {
                let refused = super::topics::topic_refused(AclOperation::Create, name);
                errors.push((name.clone(), refused.code));
                continue;
            }
            let created = broker
                .create_topic_anywhere(
                    name,
                    broker.config.num_partitions,
                    -1,
                    Default::default(),
                    false,
                )
                .await;
            match created {
                Ok(()) => {}
                Err(e) if e.code == code::TOPIC_ALREADY_EXISTS => {}
                Err(e) => errors.push((name.clone(), e.code)),
            }
        }
    }
    let image = cluster.image();
    let brokers = image
        .live_brokers(broker.listener_name(ctx.listener))
        .into_iter()
        .map(|(id, host, port)| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(id as i32))
                .with_host(s(host))
                .with_port(i32::from(port))
        })
        .collect();
    let names: Vec<String> = match requested {
        None => image
            .topics
            .keys()
            .filter(|t| ctx.may_quietly(broker, AclOperation::Describe, ResourceType::Topic, t))
            .cloned()
            .collect(),
        Some(names) => names,
    };
    let ids = |v: &[u32]| v.iter().map(|b| BrokerId(*b as i32)).collect::<Vec<_>>();
    let topics = names
        .into_iter()
        .map(|name| {
            if let Some((_, code)) = errors.iter().find(|(n, _)| *n == name) {
                return MetadataResponseTopic::default()
                    .with_error_code(*code)
                    .with_name(Some(TopicName(s(name))));
            }
            let Some(topic) = image.topics.get(&name) else {
                return MetadataResponseTopic::default()
                    .with_error_code(runnel_core::error_code::UNKNOWN_TOPIC_OR_PARTITION)
                    .with_name(Some(TopicName(s(name))));
            };
            let partitions = (0..topic.partitions.len())
                .filter_map(|i| {
                    let state = image.controller.partition(topic.partitions[i])?;
                    let (leader, error) = match state.leader {
                        Some(l) => (l as i32, 0),
                        None => (-1, code::LEADER_NOT_AVAILABLE),
                    };
                    Some(
                        MetadataResponsePartition::default()
                            .with_error_code(error)
                            .with_partition_index(i as i32)
                            .with_leader_id(BrokerId(leader))
                            .with_leader_epoch(if version >= 7 { state.leader_epoch } else { -1 })
                            .with_replica_nodes(ids(&state.replicas))
                            .with_isr_nodes(ids(&state.isr)),
                    )
                })
                .collect();
            MetadataResponseTopic::default()
                .with_is_internal(version >= 1 && crate::broker::is_internal_topic(name.as_str()))
                .with_name(Some(TopicName(s(name))))
                .with_topic_id(if version >= 10 {
                    topic.id
                } else {
                    uuid::Uuid::nil()
                })
                .with_partitions(partitions)
        })
        .collect();
    // Clients send controller requests (CreateTopics, ...) to this id; any node takes them
    // and proposes through the quorum (KIP-590). Kafka names a random live broker
    // (`getRandomAliveBrokerId`), never -1 while one lives: librdkafka's admin client waits
    // for a controller until its request times out. Here: this node while it is a live
    // broker, which the client has just reached, else the quorum leader while it is one, else
    // the first live broker. Naming the quorum leader sent clients to a killed controller for
    // the second or so before a new one was elected, and librdkafka did not ask again.
    // DescribeQuorum names the active controller.
    let live = image.controller.live_brokers();
    let controller = Some(cluster.node_id)
        .filter(|me| live.contains(me))
        .or_else(|| cluster.controller_id().filter(|c| live.contains(c)))
        .or_else(|| live.first().copied())
        .map_or(-1, |c| c as i32);
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id((version >= 2).then(|| s(broker.data_dir.cluster_id.clone())))
        .with_controller_id(BrokerId(if version >= 1 { controller } else { -1 }))
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
                        // The replica's own epoch (0 unless its log came from a cluster),
                        // which consumers' Fetch and ListOffsets are checked against.
                        .with_leader_epoch(if version >= 7 {
                            p.lock().replica().leader_epoch()
                        } else {
                            -1
                        })
                        .with_replica_nodes(vec![node])
                        .with_isr_nodes(vec![node])
                })
                .collect(),
        )
}
