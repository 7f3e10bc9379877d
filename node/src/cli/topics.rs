//! Topic commands (list, describe, create, alter-config, add-partitions, delete), `cluster
//! info` and `plugin list`, each one [`Report`]. Refusals carry the broker's own message.

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{Brokers, Cell, ClientError, Report, check, check_with, log_bounds_where_led, plural};

/// `runnel topic list`: names, partition counts and whether internal; internal topics last.
pub fn topic_list(brokers: &mut Brokers) -> Result<Report, ClientError> {
    let metadata = brokers.metadata(None)?;
    let mut rows: Vec<(String, usize, bool)> = metadata
        .topics
        .iter()
        .filter_map(|t| {
            Some((
                t.name.as_ref()?.0.to_string(),
                t.partitions.len(),
                t.is_internal,
            ))
        })
        .collect();
    rows.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
    Ok(Report {
        columns: vec!["TOPIC", "PARTITIONS", "INTERNAL"],
        rows: rows
            .into_iter()
            .map(|(name, partitions, internal)| {
                vec![
                    name.into(),
                    Cell::Int(partitions as i64),
                    Cell::Bool(internal),
                ]
            })
            .collect(),
        ..Report::default()
    })
}

/// `runnel topic describe NAME`: the topic's configs that differ from the default (with their
/// source, from DescribeConfigs) and every partition's leader, replicas, ISR, log start offset
/// and high watermark (from ListOffsets at the leader), like kafka-topics.sh --describe plus
/// kafka-get-offsets.sh.
pub fn topic_describe(brokers: &mut Brokers, name: &str) -> Result<Report, ClientError> {
    let metadata = brokers.metadata(Some(&[name.to_string()]))?;
    let topic = metadata
        .topics
        .first()
        .ok_or_else(|| ClientError::Protocol("no topic in answer".into()))?;
    check(&format!("topic {name}"), topic.error_code)?;
    let ids = |v: &[BrokerId]| Cell::Ints(v.iter().map(|b| i64::from(b.0)).collect());
    let mut partitions: Vec<_> = topic.partitions.iter().collect();
    partitions.sort_by_key(|p| p.partition_index);
    let bounds = log_bounds_where_led(brokers, name, partitions.len() as u32);
    let configs = topic_configs(brokers, name)?;
    let overrides: Vec<String> = configs
        .iter()
        .filter(|(_, _, source)| source != "DEFAULT_CONFIG")
        .map(|(k, v, source)| format!("{k}={v} ({source})"))
        .collect();
    let config_report = Report {
        columns: vec!["CONFIG", "VALUE", "SOURCE"],
        rows: configs
            .iter()
            .map(|(k, v, source)| {
                vec![k.as_str().into(), v.as_str().into(), source.as_str().into()]
            })
            .collect(),
        rows_key: "configs",
        ..Report::default()
    };
    Ok(Report {
        title: Some(format!(
            "topic {name}: {}, configs: {}",
            plural(partitions.len(), "partition"),
            if overrides.is_empty() {
                "all defaults".to_string()
            } else {
                overrides.join(", ")
            }
        )),
        fields: vec![
            ("topic", name.into()),
            ("partitions", Cell::Int(partitions.len() as i64)),
        ],
        columns: vec![
            "PARTITION",
            "LEADER",
            "REPLICAS",
            "ISR",
            "LOG START",
            "HIGH WATERMARK",
        ],
        rows: partitions
            .iter()
            .map(|p| {
                // Offline, or its leader did not answer: no offsets to show.
                let bounds = bounds.get(&p.partition_index);
                vec![
                    p.partition_index.into(),
                    p.leader_id.0.into(),
                    ids(&p.replica_nodes),
                    ids(&p.isr_nodes),
                    bounds.map(|b| b.0).into(),
                    bounds.map(|b| b.1).into(),
                ]
            })
            .collect(),
        rows_key: "partition_list",
        sections: vec![config_report],
        ..Report::default()
    })
}

/// A topic's configs (name, value, Kafka's source name) from DescribeConfigs v1, sorted.
fn topic_configs(
    brokers: &mut Brokers,
    name: &str,
) -> Result<Vec<(String, String, String)>, ClientError> {
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
    let request = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_string(name.to_string()))
            .with_configuration_keys(None),
    ]);
    let response: DescribeConfigsResponse =
        brokers.any().call(ApiKey::DescribeConfigs, 1, &request)?;
    let mut out = Vec::new();
    for r in &response.results {
        check_with(
            &format!("configs of {name}"),
            r.error_code,
            r.error_message.as_ref(),
        )?;
        for c in &r.configs {
            let source = match c.config_source {
                1 => "DYNAMIC_TOPIC_CONFIG",
                2 => "DYNAMIC_BROKER_CONFIG",
                3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
                4 => "STATIC_BROKER_CONFIG",
                5 => "DEFAULT_CONFIG",
                6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
                _ => "UNKNOWN",
            };
            let value = if c.is_sensitive {
                "(sensitive)".to_string()
            } else {
                c.value
                    .as_ref()
                    .map_or_else(|| "-".to_string(), |v| v.to_string())
            };
            out.push((c.name.to_string(), value, source.to_string()));
        }
    }
    out.sort();
    Ok(out)
}

/// `runnel topic create NAME`.
pub fn topic_create(
    brokers: &mut Brokers,
    name: &str,
    partitions: i32,
    replication_factor: i16,
    configs: &[String],
) -> Result<Report, ClientError> {
    let mut config_entries = Vec::new();
    for c in configs {
        let (k, v) = c
            .split_once('=')
            .ok_or_else(|| ClientError::Usage(format!("--config {c}: expected KEY=VALUE")))?;
        config_entries.push(
            CreatableTopicConfig::default()
                .with_name(StrBytes::from_string(k.to_string()))
                .with_value(Some(StrBytes::from_string(v.to_string()))),
        );
    }
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![
            CreatableTopic::default()
                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                .with_num_partitions(partitions)
                .with_replication_factor(replication_factor)
                .with_configs(config_entries),
        ]);
    let response: CreateTopicsResponse = brokers.any().call(ApiKey::CreateTopics, 2, &request)?;
    for t in &response.topics {
        check_with(
            &format!("create topic {name}"),
            t.error_code,
            t.error_message.as_ref(),
        )?;
    }
    // -1 asks for the broker's num.partitions: report what it made.
    let made = if partitions > 0 {
        partitions
    } else {
        brokers
            .partition_count(name)
            .map_or(partitions, |n| n as i32)
    };
    Ok(Report::message(
        format!(
            "created topic {name} with {}",
            plural(made as usize, "partition")
        ),
        vec![("created", name.into()), ("partitions", made.into())],
    ))
}

/// `runnel topic alter-config NAME --set k=v --delete k`: IncrementalAlterConfigs, all or
/// nothing.
pub fn topic_alter_config(
    brokers: &mut Brokers,
    name: &str,
    set: &[String],
    delete: &[String],
) -> Result<Report, ClientError> {
    use kafka_protocol::messages::IncrementalAlterConfigsRequest;
    use kafka_protocol::messages::IncrementalAlterConfigsResponse;
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    let mut configs = Vec::new();
    for s in set {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| ClientError::Usage(format!("--set {s}: expected KEY=VALUE")))?;
        configs.push(
            AlterableConfig::default()
                .with_name(StrBytes::from_string(k.to_string()))
                .with_config_operation(0)
                .with_value(Some(StrBytes::from_string(v.to_string()))),
        );
    }
    for k in delete {
        configs.push(
            AlterableConfig::default()
                .with_name(StrBytes::from_string(k.clone()))
                .with_config_operation(1),
        );
    }
    if configs.is_empty() {
        return Err(ClientError::Usage(
            "nothing to change: give --set KEY=VALUE or --delete KEY".into(),
        ));
    }
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_string(name.to_string()))
            .with_configs(configs),
    ]);
    let response: IncrementalAlterConfigsResponse =
        brokers
            .any()
            .call(ApiKey::IncrementalAlterConfigs, 0, &request)?;
    for r in &response.responses {
        check_with(
            &format!("alter config of {name}"),
            r.error_code,
            r.error_message.as_ref(),
        )?;
    }
    Ok(Report::message(
        format!(
            "altered {} config(s) of topic {name}",
            set.len() + delete.len()
        ),
        vec![
            ("topic", name.into()),
            ("altered", Cell::Int((set.len() + delete.len()) as i64)),
        ],
    ))
}

/// `runnel topic add-partitions NAME --to N`: CreatePartitions.
pub fn topic_add_partitions(
    brokers: &mut Brokers,
    name: &str,
    total: i32,
) -> Result<Report, ClientError> {
    use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
    use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
    let request = CreatePartitionsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![
            CreatePartitionsTopic::default()
                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                .with_count(total)
                // Null: the controller places them (an empty list is Kafka's error 39).
                .with_assignments(None),
        ]);
    let response: CreatePartitionsResponse =
        brokers.any().call(ApiKey::CreatePartitions, 0, &request)?;
    for r in &response.results {
        check_with(
            &format!("add partitions to {name}"),
            r.error_code,
            r.error_message.as_ref(),
        )?;
    }
    Ok(Report::message(
        format!(
            "topic {name} now has {}",
            plural(total.max(0) as usize, "partition")
        ),
        vec![("topic", name.into()), ("partitions", total.into())],
    ))
}

/// `runnel topic delete NAME`.
pub fn topic_delete(brokers: &mut Brokers, name: &str) -> Result<Report, ClientError> {
    let request = DeleteTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topic_names(vec![TopicName(StrBytes::from_string(name.to_string()))]);
    let response: DeleteTopicsResponse = brokers.any().call(ApiKey::DeleteTopics, 1, &request)?;
    for t in &response.responses {
        check(&format!("delete topic {name}"), t.error_code)?;
    }
    Ok(Report::message(
        format!("deleted topic {name}"),
        vec![("deleted", name.into())],
    ))
}

/// `runnel cluster info`: the cluster id, brokers, the controller, topic and partition counts.
/// (Kafka's protocol carries no broker software version, so none is shown.)
///
/// The controller is the metadata quorum's leader as DescribeQuorum names it (Kafka's
/// `kafka-metadata-quorum describe --status`), else the id Metadata gives: any node takes
/// controller requests, so Metadata names the node that answers (KIP-590).
pub fn cluster_info(brokers: &mut Brokers) -> Result<Report, ClientError> {
    let metadata = brokers.metadata(None)?;
    let controller = brokers
        .any()
        .quorum_leader()
        .map_or(metadata.controller_id, BrokerId);
    let cluster_id = metadata.cluster_id.as_ref().map(|c| c.to_string());
    let mut brokers: Vec<_> = metadata.brokers.iter().collect();
    brokers.sort_by_key(|b| b.node_id.0);
    let partitions: usize = metadata.topics.iter().map(|t| t.partitions.len()).sum();
    Ok(Report {
        title: Some(format!(
            "cluster {}, controller {}",
            cluster_id.as_deref().unwrap_or("-"),
            controller.0
        )),
        fields: vec![
            (
                "cluster_id",
                cluster_id.clone().map_or(Cell::None, Cell::Text),
            ),
            ("controller", controller.0.into()),
            ("topics", Cell::Int(metadata.topics.len() as i64)),
            ("partitions", Cell::Int(partitions as i64)),
        ],
        columns: vec!["BROKER", "HOST", "PORT", "ROLE"],
        rows: brokers
            .iter()
            .map(|b| {
                // Every node is a broker; the quorum's leader is also the active controller.
                let role = if b.node_id == controller {
                    "controller"
                } else {
                    "broker"
                };
                vec![
                    b.node_id.0.into(),
                    b.host.to_string().into(),
                    b.port.into(),
                    role.into(),
                ]
            })
            .collect(),
        rows_key: "brokers",
        footer: Some(format!(
            "{}, {}",
            plural(metadata.topics.len(), "topic"),
            plural(partitions, "partition")
        )),
        ..Report::default()
    })
}

/// One deployed plugin as `GET /plugins` on the admin port lists it.
#[derive(Debug, serde::Deserialize)]
struct Deployed {
    name: String,
    kind: String,
    input: String,
    output: String,
    version: u64,
    processed: u64,
    failed: u64,
}

/// `runnel plugin list`: the deployed plugins (from the admin port's JSON), as a table.
///
/// # Errors
/// [`ClientError::Protocol`] when the answer is not the admin port's plugin list.
pub fn plugin_list(admin_json: &str) -> Result<Report, ClientError> {
    let deployed: Vec<Deployed> = serde_json::from_str(admin_json)
        .map_err(|e| ClientError::Protocol(format!("plugin list: {e}")))?;
    Ok(Report {
        columns: vec![
            "NAME",
            "KIND",
            "INPUT",
            "OUTPUT",
            "VERSION",
            "PROCESSED",
            "FAILED",
        ],
        rows: deployed
            .into_iter()
            .map(|d| {
                vec![
                    d.name.into(),
                    d.kind.into(),
                    d.input.into(),
                    d.output.into(),
                    Cell::Int(d.version as i64),
                    Cell::Int(d.processed as i64),
                    Cell::Int(d.failed as i64),
                ]
            })
            .collect(),
        ..Report::default()
    })
}

/// `runnel plugin deploy`: the deployment the admin port answered with, as one line.
///
/// # Errors
/// [`ClientError::Protocol`] when the answer is not a deployment.
pub fn plugin_deployed(admin_json: &str) -> Result<Report, ClientError> {
    let d: Deployed = serde_json::from_str(admin_json)
        .map_err(|e| ClientError::Protocol(format!("plugin deploy: {e}")))?;
    Ok(Report::message(
        format!(
            "deployed plugin {} version {}: {} → {} ({})",
            d.name, d.version, d.input, d.output, d.kind
        ),
        vec![
            ("name", d.name.into()),
            ("version", Cell::Int(d.version as i64)),
        ],
    ))
}
