//! Topic commands (list, describe, create, alter-config, add-partitions, delete) and
//! `cluster info`, each one request and one [`Report`].

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{Cell, CliError, Client, Report, check};

/// `runnel topic list`: names, partition counts and whether internal; internal topics last.
pub fn topic_list(client: &mut Client) -> Result<Report, CliError> {
    let metadata = client.metadata(None)?;
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

/// `runnel topic describe NAME`: every partition's leader, replicas and ISR.
pub fn topic_describe(client: &mut Client, name: &str) -> Result<Report, CliError> {
    let metadata = client.metadata(Some(&[name.to_string()]))?;
    let topic = metadata
        .topics
        .first()
        .ok_or_else(|| CliError::Protocol("no topic in answer".into()))?;
    check(&format!("topic {name}"), topic.error_code)?;
    let ids = |v: &[BrokerId]| Cell::Ints(v.iter().map(|b| i64::from(b.0)).collect());
    let mut partitions: Vec<_> = topic.partitions.iter().collect();
    partitions.sort_by_key(|p| p.partition_index);
    Ok(Report {
        title: Some(format!("topic {name}: {} partitions", partitions.len())),
        fields: vec![
            ("topic", name.into()),
            ("partitions", Cell::Int(partitions.len() as i64)),
        ],
        columns: vec!["PARTITION", "LEADER", "REPLICAS", "ISR"],
        rows: partitions
            .iter()
            .map(|p| {
                vec![
                    p.partition_index.into(),
                    p.leader_id.0.into(),
                    ids(&p.replica_nodes),
                    ids(&p.isr_nodes),
                ]
            })
            .collect(),
        rows_key: "partition_list",
        ..Report::default()
    })
}

/// `runnel topic create NAME`.
pub fn topic_create(
    client: &mut Client,
    name: &str,
    partitions: i32,
    replication_factor: i16,
    configs: &[String],
) -> Result<Report, CliError> {
    let mut config_entries = Vec::new();
    for c in configs {
        let (k, v) = c
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--config {c}: expected KEY=VALUE")))?;
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
    let response: CreateTopicsResponse = client.call(ApiKey::CreateTopics, 2, &request)?;
    for t in &response.topics {
        check(&format!("create topic {name}"), t.error_code)?;
    }
    Ok(Report::message(
        format!("created topic {name} with {partitions} partitions"),
        vec![("created", name.into()), ("partitions", partitions.into())],
    ))
}

/// `runnel topic alter-config NAME --set k=v --delete k`: IncrementalAlterConfigs, all or
/// nothing.
pub fn topic_alter_config(
    client: &mut Client,
    name: &str,
    set: &[String],
    delete: &[String],
) -> Result<Report, CliError> {
    use kafka_protocol::messages::IncrementalAlterConfigsRequest;
    use kafka_protocol::messages::IncrementalAlterConfigsResponse;
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    let mut configs = Vec::new();
    for s in set {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--set {s}: expected KEY=VALUE")))?;
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
        return Err(CliError::Usage(
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
        client.call(ApiKey::IncrementalAlterConfigs, 0, &request)?;
    for r in &response.responses {
        check(&format!("alter config of {name}"), r.error_code)?;
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
    client: &mut Client,
    name: &str,
    total: i32,
) -> Result<Report, CliError> {
    use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
    use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
    let request = CreatePartitionsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![
            CreatePartitionsTopic::default()
                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                .with_count(total),
        ]);
    let response: CreatePartitionsResponse = client.call(ApiKey::CreatePartitions, 0, &request)?;
    for r in &response.results {
        check(&format!("add partitions to {name}"), r.error_code)?;
    }
    Ok(Report::message(
        format!("topic {name} now has {total} partitions"),
        vec![("topic", name.into()), ("partitions", total.into())],
    ))
}

/// `runnel topic delete NAME`.
pub fn topic_delete(client: &mut Client, name: &str) -> Result<Report, CliError> {
    let request = DeleteTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topic_names(vec![TopicName(StrBytes::from_string(name.to_string()))]);
    let response: DeleteTopicsResponse = client.call(ApiKey::DeleteTopics, 1, &request)?;
    for t in &response.responses {
        check(&format!("delete topic {name}"), t.error_code)?;
    }
    Ok(Report::message(
        format!("deleted topic {name}"),
        vec![("deleted", name.into())],
    ))
}

/// `runnel cluster info`: brokers, the controller, topic and partition counts.
pub fn cluster_info(client: &mut Client) -> Result<Report, CliError> {
    let metadata = client.metadata(None)?;
    let mut brokers: Vec<_> = metadata.brokers.iter().collect();
    brokers.sort_by_key(|b| b.node_id.0);
    let partitions: usize = metadata.topics.iter().map(|t| t.partitions.len()).sum();
    Ok(Report {
        fields: vec![
            ("controller", metadata.controller_id.0.into()),
            ("topics", Cell::Int(metadata.topics.len() as i64)),
            ("partitions", Cell::Int(partitions as i64)),
        ],
        columns: vec!["BROKER", "HOST", "PORT", "ROLE"],
        rows: brokers
            .iter()
            .map(|b| {
                let role = if b.node_id == metadata.controller_id {
                    "controller"
                } else {
                    ""
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
            "{} topics, {partitions} partitions",
            metadata.topics.len()
        )),
        ..Report::default()
    })
}
