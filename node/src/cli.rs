//! `runnel topic|produce|consume`: the command line as a Kafka client.
//!
//! A small blocking client over one TCP connection; requests and responses are encoded with the
//! `kafka-protocol` crate at versions every Kafka ≥ 2.x and runnel accept (Metadata 4,
//! CreateTopics 2, DeleteTopics 1, Produce 3, Fetch 4, ListOffsets 1), so the commands work
//! against any Kafka-compatible broker that still speaks them. Every failure is one line on
//! stderr and a non-zero exit status.

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse, RequestHeader,
    ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use runnel_core::batch::{BatchBuilder, NoCodec, batches};
use runnel_core::partitioner::{Partitioner, PartitionerKind};

use crate::codec::NodeCodec;

/// How long a connection or a response may take.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Records per produce request.
const PRODUCE_BATCH_RECORDS: usize = 500;

/// A failure the user sees as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The broker could not be reached or the connection broke.
    #[error("broker {0}: {1}")]
    Connection(String, String),
    /// The broker answered with a Kafka error code.
    #[error("{0}: {words} (Kafka error {1})", words = error_name(*.1))]
    Kafka(String, i16),
    /// The broker's answer could not be decoded.
    #[error("malformed response: {0}")]
    Protocol(String),
    /// A bad argument.
    #[error("{0}")]
    Usage(String),
}

/// One connection to a broker.
pub struct Client {
    address: String,
    stream: TcpStream,
    correlation: i32,
}

impl Client {
    /// Connects to `address` (host:port).
    pub fn connect(address: &str) -> Result<Self, CliError> {
        let failed =
            |e: &dyn std::fmt::Display| CliError::Connection(address.to_string(), e.to_string());
        let addr = address
            .to_socket_addrs()
            .map_err(|e| failed(&e))?
            .next()
            .ok_or_else(|| failed(&"no address"))?;
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| failed(&e))?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .map_err(|e| failed(&e))?;
        Ok(Self {
            address: address.to_string(),
            stream,
            correlation: 0,
        })
    }

    fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        request: &Req,
    ) -> Result<Resp, CliError> {
        self.correlation += 1;
        let mut body = BytesMut::new();
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("runnel-cli")));
        header
            .encode(&mut body, key.request_header_version(version))
            .map_err(|e| CliError::Protocol(e.to_string()))?;
        request
            .encode(&mut body, version)
            .map_err(|e| CliError::Protocol(e.to_string()))?;
        let conn = |e: std::io::Error| CliError::Connection(self.address.clone(), e.to_string());
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame).map_err(conn)?;
        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .map_err(|e| CliError::Connection(self.address.clone(), e.to_string()))?;
        let len = usize::try_from(i32::from_be_bytes(size))
            .map_err(|_| CliError::Protocol("negative frame".into()))?;
        let mut buf = vec![0u8; len];
        self.stream
            .read_exact(&mut buf)
            .map_err(|e| CliError::Connection(self.address.clone(), e.to_string()))?;
        let mut bytes = Bytes::from(buf);
        ResponseHeader::decode(&mut bytes, key.response_header_version(version))
            .map_err(|e| CliError::Protocol(e.to_string()))?;
        Resp::decode(&mut bytes, version).map_err(|e| CliError::Protocol(e.to_string()))
    }

    /// Metadata for `topics` (all when `None`); never creates a topic.
    pub fn metadata(&mut self, topics: Option<&[String]>) -> Result<MetadataResponse, CliError> {
        let request = MetadataRequest::default()
            .with_allow_auto_topic_creation(false)
            .with_topics(topics.map(|t| {
                t.iter()
                    .map(|name| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
                    })
                    .collect()
            }));
        self.call(ApiKey::Metadata, 4, &request)
    }
}

/// Words for the error codes people meet most.
fn error_name(code: i16) -> &'static str {
    match code {
        1 => "offset out of range",
        3 => "unknown topic or partition",
        10 => "message too large",
        17 => "invalid topic name",
        19 => "not enough replicas",
        29 => "not allowed on this topic",
        36 => "topic already exists",
        37 => "invalid number of partitions",
        38 => "invalid replication factor",
        40 => "invalid config",
        _ => "refused",
    }
}

fn check(what: &str, code: i16) -> Result<(), CliError> {
    if code == 0 {
        Ok(())
    } else {
        Err(CliError::Kafka(what.to_string(), code))
    }
}

/// `runnel topic list`: names and partition counts, internal topics last.
pub fn topic_list(client: &mut Client, json: bool) -> Result<String, CliError> {
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
    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|(n, p, i)| {
                format!(
                    "{{\"topic\":{},\"partitions\":{p},\"internal\":{i}}}",
                    json_string(n)
                )
            })
            .collect();
        return Ok(format!("[{}]\n", items.join(",")));
    }
    let mut table_rows = vec![vec!["TOPIC".to_string(), "PARTITIONS".to_string()]];
    table_rows.extend(
        rows.into_iter()
            .map(|(name, partitions, _)| vec![name, partitions.to_string()]),
    );
    Ok(table(&table_rows))
}

/// `runnel topic describe NAME`: every partition's leader, replicas and ISR.
pub fn topic_describe(client: &mut Client, name: &str) -> Result<String, CliError> {
    let metadata = client.metadata(Some(&[name.to_string()]))?;
    let topic = metadata
        .topics
        .first()
        .ok_or_else(|| CliError::Protocol("no topic in answer".into()))?;
    check(&format!("topic {name}"), topic.error_code)?;
    let ids = |v: &[BrokerId]| {
        v.iter()
            .map(|b| b.0.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut out = format!(
        "topic {name}: {} partitions\nPARTITION  LEADER  REPLICAS  ISR\n",
        topic.partitions.len()
    );
    let mut partitions: Vec<_> = topic.partitions.iter().collect();
    partitions.sort_by_key(|p| p.partition_index);
    for p in partitions {
        out.push_str(&format!(
            "{:9}  {:6}  {:8}  {}\n",
            p.partition_index,
            p.leader_id.0,
            ids(&p.replica_nodes),
            ids(&p.isr_nodes)
        ));
    }
    Ok(out)
}

/// `runnel topic create NAME`.
pub fn topic_create(
    client: &mut Client,
    name: &str,
    partitions: i32,
    configs: &[String],
) -> Result<String, CliError> {
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
                .with_replication_factor(-1)
                .with_configs(config_entries),
        ]);
    let response: CreateTopicsResponse = client.call(ApiKey::CreateTopics, 2, &request)?;
    for t in &response.topics {
        check(&format!("create topic {name}"), t.error_code)?;
    }
    Ok(format!(
        "created topic {name} with {partitions} partitions\n"
    ))
}

/// `runnel topic alter-config NAME --set k=v --delete k`: IncrementalAlterConfigs, all or
/// nothing.
pub fn topic_alter_config(
    client: &mut Client,
    name: &str,
    set: &[String],
    delete: &[String],
) -> Result<String, CliError> {
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
    Ok(format!(
        "altered {} config(s) of topic {name}\n",
        set.len() + delete.len()
    ))
}

/// `runnel topic add-partitions NAME --to N`: CreatePartitions.
pub fn topic_add_partitions(
    client: &mut Client,
    name: &str,
    total: i32,
) -> Result<String, CliError> {
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
    Ok(format!("topic {name} now has {total} partitions\n"))
}

/// `runnel topic delete NAME`.
pub fn topic_delete(client: &mut Client, name: &str) -> Result<String, CliError> {
    let request = DeleteTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topic_names(vec![TopicName(StrBytes::from_string(name.to_string()))]);
    let response: DeleteTopicsResponse = client.call(ApiKey::DeleteTopics, 1, &request)?;
    for t in &response.responses {
        check(&format!("delete topic {name}"), t.error_code)?;
    }
    Ok(format!("deleted topic {name}\n"))
}

fn partition_count(client: &mut Client, topic: &str) -> Result<u32, CliError> {
    let metadata = client.metadata(Some(&[topic.to_string()]))?;
    let t = metadata
        .topics
        .first()
        .ok_or_else(|| CliError::Protocol("no topic in answer".into()))?;
    check(&format!("topic {topic}"), t.error_code)?;
    Ok(t.partitions.len() as u32)
}

/// `runnel produce TOPIC`: one record per input line; with `key_separator`, the text before
/// the first separator is the key. Keys go where the Java client puts them (murmur2).
pub fn produce(
    client: &mut Client,
    topic: &str,
    input: impl BufRead,
    key_separator: Option<&str>,
) -> Result<String, CliError> {
    let partitions = partition_count(client, topic)?;
    let mut partitioner = Partitioner::new(PartitionerKind::Murmur2, std::process::id().into());
    let mut pending: Pending = BTreeMap::new();
    let mut count = 0usize;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    for line in input.lines() {
        let line = line.map_err(|e| CliError::Usage(format!("reading input: {e}")))?;
        let (key, value) = match key_separator.and_then(|s| line.split_once(s)) {
            Some((k, v)) => (Some(k.as_bytes().to_vec()), v.as_bytes().to_vec()),
            None => (None, line.into_bytes()),
        };
        let p = partitioner.partition(key.as_deref(), partitions);
        pending.entry(p).or_default().push((key, value));
        count += 1;
        if pending.values().map(Vec::len).sum::<usize>() >= PRODUCE_BATCH_RECORDS {
            send_batches(client, topic, &mut pending, now)?;
            partitioner.on_new_batch(partitions);
            progress(count);
        }
    }
    send_batches(client, topic, &mut pending, now)?;
    progress_done();
    Ok(format!("produced {count} records to {topic}\n"))
}

fn send_batches(
    client: &mut Client,
    topic: &str,
    pending: &mut Pending,
    now: i64,
) -> Result<(), CliError> {
    if pending.is_empty() {
        return Ok(());
    }
    let mut data = Vec::new();
    for (p, records) in std::mem::take(pending) {
        let mut builder = BatchBuilder::new(0);
        for (key, value) in &records {
            builder.push(now, key.as_deref(), Some(value), Vec::new());
        }
        let batch = builder
            .build(&NoCodec)
            .map_err(|e| CliError::Protocol(e.to_string()))?;
        data.push(
            PartitionProduceData::default()
                .with_index(p as i32)
                .with_records(Some(Bytes::from(batch))),
        );
    }
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_data(data),
        ]);
    let response: ProduceResponse = client.call(ApiKey::Produce, 3, &request)?;
    for t in &response.responses {
        for p in &t.partition_responses {
            check(&format!("produce to {topic}-{}", p.index), p.error_code)?;
        }
    }
    Ok(())
}

/// Records waiting to be sent, per partition: (key, value).
type Pending = BTreeMap<u32, Vec<(Option<Vec<u8>>, Vec<u8>)>>;

/// The coordinator of `group`, connected (FindCoordinator v0); the same client when it is the
/// bootstrap broker.
fn coordinator(client: Client, group: &str) -> Result<Client, CliError> {
    use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
    let mut client = client;
    let request =
        FindCoordinatorRequest::default().with_key(StrBytes::from_string(group.to_string()));
    let response: FindCoordinatorResponse = client.call(ApiKey::FindCoordinator, 0, &request)?;
    check(&format!("find coordinator of {group}"), response.error_code)?;
    let address = format!("{}:{}", response.host, response.port);
    if address == client.address {
        Ok(client)
    } else {
        Client::connect(&address)
    }
}

/// Committed offsets of `group` for every partition it has committed: (topic, partition, offset).
fn committed(client: &mut Client, group: &str) -> Result<Vec<(String, i32, i64)>, CliError> {
    use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse};
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_topics(None);
    let response: OffsetFetchResponse = client.call(ApiKey::OffsetFetch, 2, &request)?;
    check(&format!("offsets of {group}"), response.error_code)?;
    let mut out = Vec::new();
    for t in &response.topics {
        for p in &t.partitions {
            check(
                &format!("offsets of {group} on {}-{}", t.name.0, p.partition_index),
                p.error_code,
            )?;
            if p.committed_offset >= 0 {
                out.push((t.name.0.to_string(), p.partition_index, p.committed_offset));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Earliest (-2) or latest (-1) offsets of a topic's partitions, or the first at a timestamp.
fn list_offsets(
    client: &mut Client,
    topic: &str,
    partitions: u32,
    timestamp: i64,
) -> Result<Vec<i64>, CliError> {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(
                    (0..partitions as i32)
                        .map(|p| {
                            ListOffsetsPartition::default()
                                .with_partition_index(p)
                                .with_timestamp(timestamp)
                        })
                        .collect(),
                ),
        ]);
    let response: ListOffsetsResponse = client.call(ApiKey::ListOffsets, 1, &request)?;
    let mut result = vec![0; partitions as usize];
    for t in &response.topics {
        for p in &t.partitions {
            check(
                &format!("list offsets {topic}-{}", p.partition_index),
                p.error_code,
            )?;
            if let Some(slot) = result.get_mut(p.partition_index as usize) {
                *slot = p.offset;
            }
        }
    }
    Ok(result)
}

/// `runnel group list`.
pub fn group_list(client: &mut Client) -> Result<String, CliError> {
    use kafka_protocol::messages::{ListGroupsRequest, ListGroupsResponse};
    let response: ListGroupsResponse =
        client.call(ApiKey::ListGroups, 0, &ListGroupsRequest::default())?;
    check("list groups", response.error_code)?;
    let mut names: Vec<String> = response
        .groups
        .iter()
        .map(|g| g.group_id.0.to_string())
        .collect();
    names.sort();
    let mut out = String::from("GROUP\n");
    for n in names {
        out.push_str(&n);
        out.push('\n');
    }
    Ok(out)
}

/// `runnel group describe GROUP`: state, members, and per partition committed offset, log end
/// offset and lag.
pub fn group_describe(client: Client, group: &str) -> Result<String, CliError> {
    use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse, GroupId};
    let mut client = coordinator(client, group)?;
    let request = DescribeGroupsRequest::default()
        .with_groups(vec![GroupId(StrBytes::from_string(group.to_string()))]);
    let response: DescribeGroupsResponse = client.call(ApiKey::DescribeGroups, 0, &request)?;
    let described = response
        .groups
        .first()
        .ok_or_else(|| CliError::Protocol("no group in answer".into()))?;
    check(&format!("group {group}"), described.error_code)?;
    let mut out = format!(
        "group {group}: {}, {} members\n",
        described.group_state,
        described.members.len()
    );
    let offsets = committed(&mut client, group)?;
    let mut ends: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut rows = vec![vec![
        "TOPIC".into(),
        "PARTITION".into(),
        "COMMITTED".into(),
        "END".into(),
        "LAG".into(),
    ]];
    for (topic, partition, offset) in offsets {
        if !ends.contains_key(&topic) {
            let n = partition_count(&mut client, &topic)?;
            let latest = list_offsets(&mut client, &topic, n, -1)?;
            ends.insert(topic.clone(), latest);
        }
        let end = ends
            .get(&topic)
            .and_then(|e| e.get(partition as usize))
            .copied()
            .unwrap_or(offset);
        let lag = (end - offset).max(0);
        rows.push(vec![
            topic,
            partition.to_string(),
            offset.to_string(),
            end.to_string(),
            lag.to_string(),
        ]);
    }
    out.push_str(&table(&rows));
    Ok(out)
}

/// Where `group reset-offsets` moves a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reset {
    /// The log start offset.
    Earliest,
    /// The log end offset.
    Latest,
    /// This offset (clamped to the log).
    Offset(i64),
    /// The current commit plus this many (may be negative; clamped to the log).
    Shift(i64),
}

/// `runnel group reset-offsets GROUP --topic T --to-…`: prints the plan (TOPIC PARTITION
/// CURRENT NEW) and, with `execute`, commits it. Kafka refuses the commit while the group has
/// members.
pub fn group_reset_offsets(
    client: Client,
    group: &str,
    topic: &str,
    reset: Reset,
    execute: bool,
) -> Result<String, CliError> {
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::{GroupId, OffsetCommitRequest, OffsetCommitResponse};
    let mut client = coordinator(client, group)?;
    let partitions = partition_count(&mut client, topic)?;
    let earliest = list_offsets(&mut client, topic, partitions, -2)?;
    let latest = list_offsets(&mut client, topic, partitions, -1)?;
    let current: BTreeMap<i32, i64> = committed(&mut client, group)?
        .into_iter()
        .filter(|(t, _, _)| t == topic)
        .map(|(_, p, o)| (p, o))
        .collect();
    let mut plan = Vec::new();
    for p in 0..partitions as usize {
        let now = current.get(&(p as i32)).copied();
        let target = match reset {
            Reset::Earliest => earliest[p],
            Reset::Latest => latest[p],
            Reset::Offset(o) => o,
            Reset::Shift(n) => now.unwrap_or(earliest[p]) + n,
        }
        .clamp(earliest[p], latest[p]);
        plan.push((p as i32, now, target));
    }
    let mut rows = vec![vec![
        "TOPIC".into(),
        "PARTITION".into(),
        "CURRENT".into(),
        "NEW".into(),
    ]];
    for (p, now, target) in &plan {
        let now = now.map_or("-".to_string(), |o| o.to_string());
        rows.push(vec![
            topic.to_string(),
            p.to_string(),
            now,
            target.to_string(),
        ]);
    }
    let mut out = table(&rows);
    if !execute {
        out.push_str("(dry run: add --execute to commit)\n");
        return Ok(out);
    }
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_generation_id_or_member_epoch(-1)
        .with_retention_time_ms(-1)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(
                    plan.iter()
                        .map(|(p, _, target)| {
                            OffsetCommitRequestPartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(*target)
                        })
                        .collect(),
                ),
        ]);
    let response: OffsetCommitResponse = client.call(ApiKey::OffsetCommit, 2, &request)?;
    for t in &response.topics {
        for p in &t.partitions {
            check(
                &format!("commit {group} on {topic}-{}", p.partition_index),
                p.error_code,
            )?;
        }
    }
    out.push_str("committed\n");
    Ok(out)
}

/// `runnel cluster info`: brokers, the controller, topic and partition counts.
pub fn cluster_info(client: &mut Client) -> Result<String, CliError> {
    let metadata = client.metadata(None)?;
    let mut rows = vec![vec![
        "BROKER".to_string(),
        "HOST".to_string(),
        "PORT".to_string(),
        "ROLE".to_string(),
    ]];
    let mut brokers: Vec<_> = metadata.brokers.iter().collect();
    brokers.sort_by_key(|b| b.node_id.0);
    for b in brokers {
        let role = if b.node_id == metadata.controller_id {
            "controller"
        } else {
            ""
        };
        rows.push(vec![
            b.node_id.0.to_string(),
            b.host.to_string(),
            b.port.to_string(),
            role.to_string(),
        ]);
    }
    let partitions: usize = metadata.topics.iter().map(|t| t.partitions.len()).sum();
    Ok(format!(
        "{}{} topics, {partitions} partitions\n",
        table(&rows),
        metadata.topics.len()
    ))
}

/// `runnel records delete TOPIC --before OFFSET`: DeleteRecords on every partition (an offset
/// of -1 means each partition's high watermark). Prints each new log start offset.
pub fn records_delete(client: &mut Client, topic: &str, before: i64) -> Result<String, CliError> {
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
    let partitions = partition_count(client, topic)?;
    let request = DeleteRecordsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![
            DeleteRecordsTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(
                    (0..partitions as i32)
                        .map(|p| {
                            DeleteRecordsPartition::default()
                                .with_partition_index(p)
                                .with_offset(before)
                        })
                        .collect(),
                ),
        ]);
    let response: DeleteRecordsResponse = client.call(ApiKey::DeleteRecords, 0, &request)?;
    let mut rows = vec![vec![
        "TOPIC".to_string(),
        "PARTITION".to_string(),
        "LOG START".to_string(),
    ]];
    for t in &response.topics {
        let mut parts: Vec<_> = t.partitions.iter().collect();
        parts.sort_by_key(|p| p.partition_index);
        for p in parts {
            check(
                &format!("delete records of {topic}-{}", p.partition_index),
                p.error_code,
            )?;
            rows.push(vec![
                topic.to_string(),
                p.partition_index.to_string(),
                p.low_watermark.to_string(),
            ]);
        }
    }
    Ok(table(&rows))
}

/// Where `consume` starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The log start offset of each partition.
    Earliest,
    /// The log end offset (only records written from now on; with `--exit-at-end`, none).
    Latest,
    /// This offset in every partition.
    Offset(i64),
}

/// `runnel consume TOPIC`: reads every partition from `start` to the end offsets found at the
/// start, or at most `limit` records, and prints each with `format` (`%t` topic, `%p`
/// partition, `%o` offset, `%k` key, `%s` value, `%T` timestamp, `\t`, `\n`).
pub fn consume(
    client: &mut Client,
    topic: &str,
    start: Start,
    limit: Option<usize>,
    format: &str,
    out: &mut impl Write,
) -> Result<usize, CliError> {
    let partitions = partition_count(client, topic)?;
    let ends = list_offsets(client, topic, partitions, -1)?;
    let mut positions = match start {
        Start::Earliest => list_offsets(client, topic, partitions, -2)?,
        Start::Latest => ends.clone(),
        Start::Offset(o) => vec![o; partitions as usize],
    };
    let mut printed = 0;
    while (0..partitions as usize).any(|p| positions[p] < ends[p])
        && limit.is_none_or(|l| printed < l)
    {
        let fetch = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(100)
            .with_min_bytes(1)
            .with_max_bytes(8 << 20)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                    .with_partitions(
                        (0..partitions as usize)
                            .filter(|p| positions[*p] < ends[*p])
                            .map(|p| {
                                FetchPartition::default()
                                    .with_partition(p as i32)
                                    .with_fetch_offset(positions[p])
                                    .with_partition_max_bytes(1 << 20)
                            })
                            .collect(),
                    ),
            ]);
        let response: FetchResponse = client.call(ApiKey::Fetch, 4, &fetch)?;
        for t in &response.responses {
            for p in &t.partitions {
                check(
                    &format!("fetch {topic}-{}", p.partition_index),
                    p.error_code,
                )?;
                let index = p.partition_index as usize;
                let bytes = p.records.clone().unwrap_or_default();
                let mut scratch = Vec::new();
                for batch in batches(&bytes) {
                    let batch = batch.map_err(|e| CliError::Protocol(e.to_string()))?;
                    for record in batch
                        .records(&NodeCodec, &mut scratch)
                        .map_err(|e| CliError::Protocol(e.to_string()))?
                    {
                        let record = record.map_err(|e| CliError::Protocol(e.to_string()))?;
                        if record.offset < positions[index]
                            || record.offset >= ends[index]
                            || limit.is_some_and(|l| printed >= l)
                        {
                            continue;
                        }
                        positions[index] = record.offset + 1;
                        let line = render(
                            format,
                            topic,
                            index,
                            record.offset,
                            record.timestamp,
                            record.key,
                            record.value,
                        );
                        out.write_all(line.as_bytes())
                            .map_err(|e| CliError::Usage(format!("writing output: {e}")))?;
                        printed += 1;
                    }
                }
            }
        }
    }
    Ok(printed)
}

fn render(
    format: &str,
    topic: &str,
    partition: usize,
    offset: i64,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> String {
    let text = |b: Option<&[u8]>| {
        b.map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('%', Some('t')) => out.push_str(topic),
            ('%', Some('p')) => out.push_str(&partition.to_string()),
            ('%', Some('o')) => out.push_str(&offset.to_string()),
            ('%', Some('T')) => out.push_str(&timestamp.to_string()),
            ('%', Some('k')) => out.push_str(&text(key)),
            ('%', Some('s')) => out.push_str(&text(value)),
            ('\\', Some('t')) => out.push('\t'),
            ('\\', Some('n')) => out.push('\n'),
            _ => {
                out.push(c);
                continue;
            }
        }
        chars.next();
    }
    out
}

/// On a terminal, a one-line progress counter on stderr (rewritten in place).
fn progress(records: usize) {
    use std::io::IsTerminal;
    let stderr = std::io::stderr();
    if stderr.is_terminal() {
        let mut e = stderr.lock();
        let _ = write!(e, "\r\x1b[2Kproduced {records} records…");
        let _ = e.flush();
    }
}

/// Clears the progress line.
fn progress_done() {
    use std::io::IsTerminal;
    let stderr = std::io::stderr();
    if stderr.is_terminal() {
        let _ = write!(stderr.lock(), "\r\x1b[2K");
    }
}

/// Rows as a left-aligned table, columns two spaces apart; the header row in bold on a terminal.
fn table(rows: &[Vec<String>]) -> String {
    use std::io::IsTerminal;
    let text = plain_table(rows);
    if !std::io::stdout().is_terminal() {
        return text;
    }
    match text.split_once('\n') {
        Some((header, rest)) => format!("\x1b[1m{header}\x1b[0m\n{rest}"),
        None => text,
    }
}

/// Rows as a left-aligned table, columns two spaces apart.
fn plain_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if c + 1 == row.len() {
                    s.clone()
                } else {
                    format!("{s:w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(&cells.join("  "));
        out.push('\n');
    }
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_kcat() {
        let line = render("%t/%p@%o %k=%s\\n", "t", 2, 7, 0, Some(b"k"), Some(b"v"));
        let t = plain_table(&[
            vec!["A".into(), "LONG".into()],
            vec!["wider".into(), "x".into()],
        ]);
        assert_eq!(t, "A      LONG\nwider  x\n");
        assert_eq!(line, "t/2@7 k=v\n");
        assert_eq!(json_string("a\"b"), "\"a\\\"b\"");
    }
}
