//! Bad input and bad luck against a real `runnel`: random and mutated requests, an oversized
//! frame, an unknown ApiVersions version (KIP-511), a damaged segment tail at restart, and the
//! admin endpoints.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, BrokerId, FetchRequest, FetchResponse, JoinGroupRequest,
    MetadataRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use runnel_core::batch::{BatchBuilder, NoCodec, batches};
use runnel_core::rng::Rng;
use runnel_tests::wire::frame;
use runnel_tests::{Runnel, run_client, runnel_cli};

const LIMIT: Duration = Duration::from_secs(60);
/// Requests sent by the malformed-request test (bounded, seeded).
const MUTATIONS: usize = 400;

fn connect(broker: &Runnel) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", broker.port))
        .unwrap_or_else(|e| panic!("connect: {e}; broker log:\n{}", broker.log()));
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    stream
}

/// What became of one request.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// A response frame (its body).
    Answered(Vec<u8>),
    /// The broker closed the connection.
    Closed,
    /// Nothing within the read timeout: legitimate for a mutated request that became valid
    /// and asks for no answer (acks=0) or a long wait (a fetch's max_wait, a held join).
    Silent,
}

/// Sends raw bytes and reads one response frame.
fn send(stream: &mut TcpStream, bytes: &[u8]) -> Outcome {
    if stream.write_all(bytes).is_err() {
        return Outcome::Closed;
    }
    let mut size = [0u8; 4];
    match stream.read_exact(&mut size) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            return Outcome::Silent;
        }
        Err(_) => return Outcome::Closed,
    }
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    match stream.read_exact(&mut body) {
        Ok(()) => Outcome::Answered(body),
        Err(_) => Outcome::Closed,
    }
}

/// Sends raw bytes and reads one response frame; `None` when the broker closed the connection.
fn exchange(stream: &mut TcpStream, bytes: &[u8]) -> Option<Vec<u8>> {
    match send(stream, bytes) {
        Outcome::Answered(body) => Some(body),
        Outcome::Closed => None,
        Outcome::Silent => panic!("no response and no close"),
    }
}

fn produce_request(topic: &str, value: &[u8]) -> ProduceRequest {
    produce_batch(topic, BatchBuilder::new(0), value)
}

fn produce_batch<'a>(topic: &str, mut b: BatchBuilder<'a>, value: &'a [u8]) -> ProduceRequest {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    b.push(1_700_000_000_000, Some(b"k"), Some(value), Vec::new());
    let records = b.build(&NoCodec).expect("batch");
    ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records.into())),
                ]),
        ])
}

fn consume_all(broker: &Runnel, topic: &str) -> Vec<String> {
    let out = run_client(
        "kcat",
        &[
            "-b",
            &broker.bootstrap(),
            "-t",
            topic,
            "-C",
            "-e",
            "-q",
            "-f",
            "%s\n",
        ],
        b"",
        LIMIT,
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn malformed_requests_get_an_error_or_a_closed_connection_and_nothing_else_changes() {
    let broker = Runnel::start("malformed", &[]);
    let mut stream = connect(&broker);
    for i in 0..5 {
        let reply = exchange(
            &mut stream,
            &frame(
                ApiKey::Produce,
                7,
                i,
                &produce_request("safe", format!("v{i}").as_bytes()),
            ),
        );
        assert!(reply.is_some(), "a valid produce is answered");
    }
    let valid: Vec<Vec<u8>> = vec![
        frame(ApiKey::ApiVersions, 3, 1, &ApiVersionsRequest::default()),
        frame(ApiKey::Metadata, 4, 2, &MetadataRequest::default()),
        frame(ApiKey::Produce, 7, 3, &produce_request("safe", b"mutant")),
        frame(
            ApiKey::Fetch,
            11,
            4,
            &FetchRequest::default().with_max_wait_ms(0),
        ),
        frame(
            ApiKey::JoinGroup,
            5,
            5,
            &JoinGroupRequest::default().with_session_timeout_ms(1),
        ),
    ];
    let mut rng = Rng::new(0x5eed);
    let (mut answered, mut closed, mut silent) = (0, 0, 0);
    for n in 0..MUTATIONS {
        let mut bytes = valid[n % valid.len()].clone();
        match rng.below(4) {
            // Flip some bytes after the length prefix.
            0 | 1 => {
                for _ in 0..=rng.below(4) {
                    let at = 4 + rng.below(bytes.len() as u64 - 4) as usize;
                    bytes[at] = rng.next_u64() as u8;
                }
            }
            // Cut the body short, keeping the length prefix honest.
            2 => {
                let keep = 4 + rng.below(bytes.len() as u64 - 4) as usize;
                bytes.truncate(keep);
                let len = (keep - 4) as i32;
                bytes[..4].copy_from_slice(&len.to_be_bytes());
            }
            // Pure noise of a plausible size.
            _ => {
                let len = 10 + rng.below(200) as usize;
                bytes = (len as i32).to_be_bytes().to_vec();
                bytes.extend((0..len).map(|_| rng.next_u64() as u8));
            }
        }
        match send(&mut stream, &bytes) {
            Outcome::Answered(_) => answered += 1,
            outcome => {
                if outcome == Outcome::Silent {
                    silent += 1;
                } else {
                    closed += 1;
                }
                stream = connect(&broker);
            }
        }
    }
    assert!(
        answered > 0 && closed > 0,
        "answered {answered}, closed {closed}"
    );
    assert!(
        silent * 20 < MUTATIONS,
        "{silent} of {MUTATIONS} requests got neither answer nor close"
    );
    // The broker still serves everyone, and the records written before are intact.
    let records = consume_all(&broker, "safe");
    assert_eq!(&records[..5], &["v0", "v1", "v2", "v3", "v4"]);
    assert!(
        records[5..].iter().all(|r| r == "mutant"),
        "only whole valid produces were appended: {records:?}"
    );
    assert!(broker.log().contains("closing the connection"));
}

#[test]
fn an_oversized_frame_closes_only_that_connection() {
    let broker = Runnel::start("oversized", &[]);
    let mut stream = connect(&broker);
    let mut bytes = (200i32 << 20).to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0; 64]);
    assert!(
        exchange(&mut stream, &bytes).is_none(),
        "a 200 MiB frame is refused"
    );
    let mut other = connect(&broker);
    let reply = exchange(
        &mut other,
        &frame(ApiKey::ApiVersions, 3, 9, &ApiVersionsRequest::default()),
    );
    assert!(reply.is_some_and(|r| r[..4] == 9i32.to_be_bytes()));
}

#[test]
fn an_unknown_api_versions_version_gets_the_v0_error_with_the_api_list() {
    let broker = Runnel::start("kip511", &[]);
    let mut stream = connect(&broker);
    let mut body = BytesMut::new();
    body.put_i16(ApiKey::ApiVersions as i16);
    body.put_i16(99);
    body.put_i32(77);
    body.put_i16(-1); // null client id
    let mut bytes = (body.len() as i32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    let reply = exchange(&mut stream, &bytes).expect("an answer, not a close");
    assert_eq!(&reply[..4], &77i32.to_be_bytes(), "correlation id");
    assert_eq!(&reply[4..6], &35i16.to_be_bytes(), "UNSUPPORTED_VERSION");
    let count = i32::from_be_bytes([reply[6], reply[7], reply[8], reply[9]]) as usize;
    assert!(count >= 20);
    assert_eq!(
        reply.len(),
        10 + count * 6,
        "v0 format: key, min, max per API"
    );
    let apis: Vec<i16> = reply[10..]
        .chunks(6)
        .map(|c| i16::from_be_bytes([c[0], c[1]]))
        .collect();
    assert!(
        apis.contains(&(ApiKey::ApiVersions as i16)) && apis.contains(&(ApiKey::Produce as i16))
    );
}

#[test]
fn a_damaged_segment_tail_is_cut_at_restart_and_everything_before_is_served() {
    let mut broker = Runnel::start("damaged", &[]);
    let input: String = (0..300).map(|i| format!("record-{i}\n")).collect();
    // Small batches, so the damage takes only the last few records.
    run_client(
        "kcat",
        &[
            "-b",
            &broker.bootstrap(),
            "-t",
            "fragile",
            "-P",
            "-X",
            "batch.num.messages=10",
        ],
        input.as_bytes(),
        LIMIT,
    );
    assert!(broker.terminate());
    let segment = broker
        .data_dir
        .join("fragile-0")
        .join("00000000000000000000.log");
    let bytes = std::fs::read(&segment).expect("segment file");
    let parsed: Vec<_> = batches(&bytes)
        .map(|b| b.expect("valid before the damage"))
        .collect();
    let last = parsed.last().expect("batches").header().record_count as usize;
    let total: usize = parsed
        .iter()
        .map(|b| b.header().record_count as usize)
        .sum();
    assert_eq!(total, 300);
    // Tear the last batch: drop its final 7 bytes and flip one byte inside it.
    let mut damaged = bytes[..bytes.len() - 7].to_vec();
    let n = damaged.len();
    damaged[n - 20] ^= 0xff;
    std::fs::write(&segment, &damaged).expect("write damage");

    broker.restart();
    let records = consume_all(&broker, "fragile");
    let expected: Vec<String> = (0..300 - last).map(|i| format!("record-{i}")).collect();
    assert_eq!(
        records, expected,
        "every record before the damaged batch, in order"
    );
    assert!(
        broker.log().contains("truncated"),
        "the truncation is logged:\n{}",
        broker.log()
    );
    // And the log continues from there.
    run_client(
        "kcat",
        &["-b", &broker.bootstrap(), "-t", "fragile", "-P"],
        b"after\n",
        LIMIT,
    );
    assert_eq!(
        consume_all(&broker, "fragile").last().map(String::as_str),
        Some("after")
    );
}

#[test]
fn admin_endpoints_report_health_and_metrics() {
    let broker = Runnel::start("admin", &[]);
    assert_eq!(broker.admin_get("/healthz"), "ok\n");
    let input: String = (0..25).map(|i| format!("m{i}\n")).collect();
    run_client(
        "kcat",
        &["-b", &broker.bootstrap(), "-t", "metered", "-P"],
        input.as_bytes(),
        LIMIT,
    );
    let metrics = broker.admin_get("/metrics");
    assert!(
        metrics.lines().any(|l| l == "runnel_records_in_total 25"),
        "{metrics}"
    );
    assert!(metrics.contains("runnel_request_duration_seconds_count{api=\"Produce\"}"));
    let _ = run_client(
        "kcat",
        &["-b", &broker.bootstrap(), "-t", "metered", "-C", "-e", "-q"],
        b"",
        LIMIT,
    );
    let metrics = broker.admin_get("/metrics");
    assert!(
        metrics.lines().any(|l| l == "runnel_records_out_total 25"),
        "{metrics}"
    );
    assert!(
        metrics.contains("runnel_partitions 2"),
        "metered-0 and __consumer_offsets-0: {metrics}"
    );
}

/// The (error code, base offset) of the single partition in a Produce v7 response body.
fn produce_result(body: &[u8]) -> (i16, i64) {
    use kafka_protocol::messages::ProduceResponse;
    use kafka_protocol::protocol::Decodable;
    let mut bytes = bytes::Bytes::copy_from_slice(&body[4..]); // after the correlation id
    let response = ProduceResponse::decode(&mut bytes, 7).expect("produce response");
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

#[test]
fn describe_configs_on_a_broker_answers_by_name_and_only_for_this_node() {
    // Issue 15, item 4: DescribeConfigs for a BROKER resource asking `message.max.bytes` by
    // name returned no entry, and another node's id answered NONE; Kafka answers the entry,
    // and INVALID_REQUEST for a broker resource that is not the receiving broker.
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
    use kafka_protocol::protocol::Decodable;
    let broker = Runnel::start("robust-broker-configs", &[]);
    let mut stream = connect(&broker);
    let ask = |name: &str| {
        DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(4)
                .with_resource_name(StrBytes::from_string(name.to_string()))
                .with_configuration_keys(Some(vec![StrBytes::from_static_str(
                    "message.max.bytes",
                )])),
        ])
    };
    let mut answer = |name: &str| {
        let body = exchange(
            &mut stream,
            &frame(ApiKey::DescribeConfigs, 1, 1, &ask(name)),
        )
        .expect("an answer");
        let mut bytes = bytes::Bytes::copy_from_slice(&body[4..]);
        DescribeConfigsResponse::decode(&mut bytes, 1).expect("describe configs response")
    };
    let mine = answer("0");
    let result = &mine.results[0];
    assert_eq!(result.error_code, 0);
    let entries: Vec<(String, Option<String>, bool)> = result
        .configs
        .iter()
        .map(|c| {
            (
                c.name.to_string(),
                c.value.as_ref().map(|v| v.to_string()),
                c.read_only,
            )
        })
        .collect();
    // Writable: message.max.bytes is a dynamic broker config in Kafka (cluster-wide, KIP-226).
    assert_eq!(
        entries,
        [(
            "message.max.bytes".to_string(),
            Some("1048588".to_string()),
            false
        )]
    );
    assert_eq!(answer("7").results[0].error_code, 42, "INVALID_REQUEST");
    // v3+ (KIP-569): each config's type, Kafka's ConfigType (INT 3 for message.max.bytes).
    let mut v3 = |name: &str| {
        let body = exchange(
            &mut stream,
            &frame(ApiKey::DescribeConfigs, 3, 2, &ask(name)),
        )
        .expect("an answer");
        let mut bytes = bytes::Bytes::copy_from_slice(&body[4..]);
        DescribeConfigsResponse::decode(&mut bytes, 3).expect("describe configs response")
    };
    assert_eq!(v3("0").results[0].configs[0].config_type, 3);
}

/// Issue 15, item 4: dynamic broker configs (KIP-226), as `kafka-configs.sh --alter
/// --entity-type brokers [--entity-default]` sends them: IncrementalAlterConfigs on the BROKER
/// resource "" (the cluster-wide default, DYNAMIC_DEFAULT_BROKER_CONFIG) or on a broker id (that
/// broker's own, DYNAMIC_BROKER_CONFIG, winning over the default). Topics without their own
/// value take it at once (a cluster-wide `log.cleanup.policy=compact` makes a keyless record
/// INVALID_RECORD), it survives a restart, and DELETE restores the static value. A config Kafka
/// cannot change at run time is INVALID_CONFIG ("Cannot update these configs dynamically"),
/// a bad value INVALID_CONFIG, an unknown broker INVALID_REQUEST; none changes anything.
#[test]
fn dynamic_broker_configs_change_the_defaults_of_every_topic() {
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    use kafka_protocol::messages::{
        IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
    };
    use kafka_protocol::protocol::Decodable;
    let mut broker = Runnel::start("robust-dynamic-configs", &[]);
    // (broker resource, [(config, operation, value)]) → (error code, message).
    let alter_all = |broker: &Runnel, name: &str, ops: &[(&str, i8, Option<&str>)]| {
        let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(4)
                .with_resource_name(StrBytes::from_string(name.to_string()))
                .with_configs(
                    ops.iter()
                        .map(|(key, op, value)| {
                            AlterableConfig::default()
                                .with_name(StrBytes::from_string(key.to_string()))
                                .with_config_operation(*op)
                                .with_value(value.map(|v| StrBytes::from_string(v.to_string())))
                        })
                        .collect(),
                ),
        ]);
        let mut stream = connect(broker);
        let body = exchange(
            &mut stream,
            &frame(ApiKey::IncrementalAlterConfigs, 1, 1, &request),
        )
        .expect("an answer");
        // Response header v1 (flexible): correlation id and an empty tag buffer.
        let mut bytes = bytes::Bytes::copy_from_slice(&body[5..]);
        let response = IncrementalAlterConfigsResponse::decode(&mut bytes, 1).expect("response");
        let r = &response.responses[0];
        (
            r.error_code,
            r.error_message
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default(),
        )
    };
    let alter = |broker: &Runnel, name: &str, key: &str, value: Option<&str>| {
        alter_all(
            broker,
            name,
            &[(key, if value.is_some() { 0 } else { 1 }, value)],
        )
    };
    let seen = |broker: &Runnel| {
        runnel_tests::python_json(
            &[
                "tests/clients/dynamic_configs.py",
                &broker.bootstrap(),
                "dyn",
            ],
            LIMIT,
        )
    };
    let r = seen(&broker);
    assert_eq!(
        r["retention.ms"],
        serde_json::json!(["604800000", "DEFAULT_CONFIG", false])
    );
    assert_eq!(r["keyless"], serde_json::Value::Null, "{r}");
    assert_eq!(r["broker node.id"][2], true, "node.id is read-only: {r}");

    assert_eq!(alter(&broker, "", "log.retention.ms", Some("3600000")).0, 0);
    assert_eq!(
        alter(&broker, "", "log.cleanup.policy", Some("compact")).0,
        0
    );
    let r = seen(&broker);
    assert_eq!(
        r["retention.ms"],
        serde_json::json!(["3600000", "DYNAMIC_DEFAULT_BROKER_CONFIG", false]),
        "{r}"
    );
    assert_eq!(
        r["broker log.retention.ms"],
        serde_json::json!(["3600000", "DYNAMIC_DEFAULT_BROKER_CONFIG", false]),
        "{r}"
    );
    assert_eq!(
        r["keyless"], "INVALID_RECORD",
        "the topic is compacted now: {r}"
    );

    assert_eq!(
        alter(&broker, "0", "log.retention.ms", Some("7200000")).0,
        0
    );
    assert_eq!(alter(&broker, "", "log.cleanup.policy", None).0, 0);
    assert!(broker.terminate(), "a clean stop");
    broker.restart();
    let r = seen(&broker);
    assert_eq!(
        r["retention.ms"],
        serde_json::json!(["7200000", "DYNAMIC_BROKER_CONFIG", false]),
        "the broker's own wins, and survives a restart: {r}"
    );
    assert_eq!(r["cleanup.policy"][0], "delete", "{r}");
    assert_eq!(r["keyless"], serde_json::Value::Null, "{r}");

    let (code, message) = alter(&broker, "", "node.id", Some("7"));
    assert_eq!(
        (code, message.as_str()),
        (40, "Cannot update these configs dynamically: node.id")
    );
    let (code, message) = alter(&broker, "", "log.retention.ms", Some("-7"));
    assert_eq!(code, 40, "{message}");
    assert!(message.contains("must be at least -1"), "{message}");
    assert_eq!(alter(&broker, "5", "log.retention.ms", Some("1")).0, 42);
    // Kafka's ConfigAdminManager: one operation per config in a resource.
    assert_eq!(
        alter_all(
            &broker,
            "",
            &[
                ("log.retention.ms", 0, Some("1")),
                ("log.retention.ms", 0, Some("2"))
            ]
        ),
        (42, "Error due to duplicate config keys".to_string())
    );
    // APPEND (KIP-339) on a broker list config: over this broker's value in effect.
    assert_eq!(
        alter_all(&broker, "0", &[("log.cleanup.policy", 2, Some("compact"))]).0,
        0
    );
    let r = seen(&broker);
    assert_eq!(
        r["cleanup.policy"],
        serde_json::json!(["delete,compact", "DYNAMIC_BROKER_CONFIG", false]),
        "{r}"
    );
    assert_eq!(alter(&broker, "0", "log.cleanup.policy", None).0, 0);
    let r = seen(&broker);
    assert_eq!(
        r["retention.ms"],
        serde_json::json!(["7200000", "DYNAMIC_BROKER_CONFIG", false]),
        "refusals change nothing: {r}"
    );
}

#[test]
fn idempotent_retries_are_written_once_and_gaps_are_refused() {
    let broker = Runnel::start("idempotence", &[]);
    let mut stream = connect(&broker);
    let send = |stream: &mut TcpStream, correlation: i32, sequence: i32, value: &[u8]| {
        let batch = BatchBuilder::new(0).producer(4242, 0, sequence);
        let request = produce_batch("dedup", batch, value);
        produce_result(
            &exchange(stream, &frame(ApiKey::Produce, 7, correlation, &request)).expect("answer"),
        )
    };
    assert_eq!(send(&mut stream, 1, 0, b"first"), (0, 0));
    assert_eq!(send(&mut stream, 2, 1, b"second"), (0, 1));
    // The client did not hear back and retries sequence 1: same offset, nothing appended.
    assert_eq!(send(&mut stream, 3, 1, b"second"), (0, 1));
    // A gap (sequence 5 after 1): OUT_OF_ORDER_SEQUENCE_NUMBER.
    assert_eq!(send(&mut stream, 4, 5, b"lost"), (45, -1));
    assert_eq!(consume_all(&broker, "dedup"), ["first", "second"]);
}

/// Issue 19 (restart cost): a SIGTERM leaves Kafka's clean-shutdown marker
/// (`.kafka_cleanshutdown`) and a snapshot of each partition's state at its end
/// (`<offset>.snapshot`, as Kafka's `LogManager.shutdown` leaves producer snapshots); the next
/// start removes the marker before serving, and an idempotent producer's retry is still
/// answered with its original offset. After a SIGKILL there is no marker, and the producer
/// state comes from the snapshot and the batches after it.
#[test]
fn a_restart_keeps_idempotent_producers_whether_it_was_clean_or_a_crash() {
    let mut broker = Runnel::start("snapshots", &[]);
    let send = |broker: &Runnel, correlation: i32, sequence: i32, value: &[u8]| {
        let mut stream = connect(broker);
        let batch = BatchBuilder::new(0).producer(4343, 0, sequence);
        let request = produce_batch("kept", batch, value);
        produce_result(
            &exchange(
                &mut stream,
                &frame(ApiKey::Produce, 7, correlation, &request),
            )
            .expect("answer"),
        )
    };
    assert_eq!(send(&broker, 1, 0, b"first"), (0, 0));
    assert_eq!(send(&broker, 2, 1, b"second"), (0, 1));
    assert!(broker.terminate());
    let marker = broker.data_dir.join(".kafka_cleanshutdown");
    assert!(marker.exists(), "a clean stop leaves the marker");
    let snapshot = broker
        .data_dir
        .join("kept-0")
        .join("00000000000000000002.snapshot");
    assert!(snapshot.exists(), "a snapshot at the log end (2)");

    broker.restart();
    assert!(!marker.exists(), "removed at start");
    assert_eq!(
        send(&broker, 3, 1, b"second"),
        (0, 1),
        "a retry, answered once"
    );
    assert_eq!(send(&broker, 4, 2, b"third"), (0, 2));
    assert_eq!(
        send(&broker, 5, 7, b"gap"),
        (45, -1),
        "the sequence is known"
    );

    broker.kill();
    assert!(!marker.exists(), "a crash leaves no marker");
    broker.restart();
    assert_eq!(
        send(&broker, 6, 2, b"third"),
        (0, 2),
        "a retry after a crash"
    );
    assert_eq!(send(&broker, 7, 3, b"fourth"), (0, 3));
    assert_eq!(
        consume_all(&broker, "kept"),
        ["first", "second", "third", "fourth"]
    );
}

/// Issue 19: a segment roll's fsync moved off the broker's thread (a 1 GiB segment's took
/// 0.33 s and stalled every partition); a background thread syncs the rolled segment and only
/// then publishes the roll's snapshot, which is the log's recovery point. With a segment every
/// two batches, rolls and snapshot publications are always in flight: after a SIGKILL the
/// restart recovers from the newest published snapshot, every acknowledged record is read back
/// in order and the idempotent producer's sequence goes on; no unpublished snapshot is left
/// behind, and after a clean stop the snapshot at the log end is published.
#[test]
fn rolls_every_few_batches_survive_a_crash_and_a_clean_stop() {
    let mut broker = Runnel::start("rolling", &["log.segment.bytes=300"]);
    let partition = broker.data_dir.join("rolling-0");
    let send = |broker: &Runnel, sequence: i32| {
        let mut stream = connect(broker);
        let batch = BatchBuilder::new(0).producer(5151, 0, sequence);
        let value = format!("record-{sequence:03}-{}", "x".repeat(100));
        let request = produce_batch("rolling", batch, value.as_bytes());
        produce_result(
            &exchange(&mut stream, &frame(ApiKey::Produce, 7, sequence, &request)).expect("answer"),
        )
    };
    let expected = |n: i32| -> Vec<String> {
        (0..n)
            .map(|i| format!("record-{i:03}-{}", "x".repeat(100)))
            .collect()
    };
    let files = |suffix: &str| -> Vec<String> {
        std::fs::read_dir(&partition)
            .expect("partition directory")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(suffix))
            .collect()
    };
    for sequence in 0..120 {
        assert_eq!(send(&broker, sequence), (0, i64::from(sequence)));
    }
    assert!(files(".log").len() >= 40, "{:?}", files(".log"));
    broker.kill();
    broker.restart();
    assert_eq!(send(&broker, 119), (0, 119), "a retry after the crash");
    assert_eq!(send(&broker, 120), (0, 120));
    assert_eq!(consume_all(&broker, "rolling"), expected(121));
    assert!(files(".tmp").is_empty(), "{:?}", files(".tmp"));

    assert!(broker.terminate());
    assert!(files(".tmp").is_empty(), "{:?}", files(".tmp"));
    assert!(
        files(".snapshot").contains(&"00000000000000000121.snapshot".to_string()),
        "the snapshot at the log end is published: {:?}",
        files(".snapshot")
    );
    broker.restart();
    assert_eq!(send(&broker, 121), (0, 121));
    assert_eq!(consume_all(&broker, "rolling"), expected(122));
}

#[test]
fn acks_zero_gets_no_response_and_the_next_answer_keeps_request_order() {
    let broker = Runnel::start("acks0", &[]);
    let mut stream = connect(&broker);
    let fire_and_forget = produce_request("quiet", b"unanswered").with_acks(0);
    stream
        .write_all(&frame(ApiKey::Produce, 7, 100, &fire_and_forget))
        .expect("write");
    let reply = exchange(
        &mut stream,
        &frame(ApiKey::Metadata, 4, 101, &MetadataRequest::default()),
    )
    .expect("metadata answer");
    assert_eq!(
        &reply[..4],
        &101i32.to_be_bytes(),
        "the next response is the metadata one"
    );
    assert_eq!(consume_all(&broker, "quiet"), ["unanswered"]);
}

/// Produce v0–v2 with magic 0/1 message sets, what clients set for Kafka 0.9/0.10 send
/// (librdkafka with `broker.version.fallback=0.9.0.0`, Go's sarama before V0_11): Kafka 3.9
/// serves them and stores record batch v2 (its `LogValidator` up-converts), so a consumer of
/// today reads them. v2's answer carries the partition, error, base offset and LogAppendTime
/// (-1 on a CreateTime topic), then the throttle time; a damaged message set is
/// CORRUPT_MESSAGE (2) and nothing of it is written.
#[test]
fn produce_v2_with_a_magic_1_message_set_is_stored_as_record_batch_v2() {
    use bytes::Buf;
    /// One magic 1 message (CRC-32 over magic..end) as an entry of a message set.
    fn message(timestamp: i64, value: &[u8]) -> Vec<u8> {
        let mut body = vec![1u8, 0];
        body.extend_from_slice(&timestamp.to_be_bytes());
        body.extend_from_slice(&(-1i32).to_be_bytes()); // null key
        body.extend_from_slice(&(value.len() as i32).to_be_bytes());
        body.extend_from_slice(value);
        let mut entry = 0i64.to_be_bytes().to_vec();
        entry.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        entry.extend_from_slice(&runnel_core::checksum::crc32(&body).to_be_bytes());
        entry.extend_from_slice(&body);
        entry
    }
    /// A Produce v2 body (acks=1) with one partition's message set.
    fn produce_v2(topic: &str, set: &[u8]) -> Vec<u8> {
        let mut header = BytesMut::new();
        header.put_i16(ApiKey::Produce as i16);
        header.put_i16(2);
        header.put_i32(7);
        header.put_i16(6);
        header.extend_from_slice(b"legacy");
        header.put_i16(1); // acks
        header.put_i32(5000);
        header.put_i32(1);
        header.put_i16(topic.len() as i16);
        header.extend_from_slice(topic.as_bytes());
        header.put_i32(1);
        header.put_i32(0); // partition
        header.put_i32(set.len() as i32);
        header.extend_from_slice(set);
        let mut out = Vec::new();
        out.put_i32(header.len() as i32);
        out.extend_from_slice(&header);
        out
    }
    let broker = Runnel::start("robust-legacy-produce", &[]);
    runnel_tests::runnel_cli(&["topic", "create", "old", "-b", &broker.bootstrap()], b"");
    let mut stream = connect(&broker);
    let mut set = message(1_000, b"first");
    set.extend(message(2_000, b"second"));
    let answer = exchange(&mut stream, &produce_v2("old", &set)).expect("an answer");
    // correlation id; one topic "old" with one partition: index, error, base offset,
    // LogAppendTime; the throttle time.
    let mut body = &answer[..];
    assert_eq!(body.get_i32(), 7);
    assert_eq!(body.get_i32(), 1);
    let name_len = body.get_i16() as usize;
    assert_eq!(&body[..name_len], b"old");
    body.advance(name_len);
    assert_eq!(body.get_i32(), 1);
    assert_eq!(
        (
            body.get_i32(),
            body.get_i16(),
            body.get_i64(),
            body.get_i64()
        ),
        (0, 0, 0, -1)
    );
    assert_eq!(body.get_i32(), 0, "throttle time");
    assert!(body.is_empty());

    let mut damaged = message(3_000, b"third");
    let last = damaged.len() - 1;
    damaged[last] ^= 0x20;
    let answer = exchange(&mut stream, &produce_v2("old", &damaged)).expect("an answer");
    let error_at = 4 + 4 + 2 + 3 + 4 + 4;
    assert_eq!(
        i16::from_be_bytes([answer[error_at], answer[error_at + 1]]),
        2,
        "CORRUPT_MESSAGE"
    );
    assert_eq!(consume_all(&broker, "old"), ["first", "second"]);
}

/// On a LogAppendTime topic, an idempotent producer's retry of a stored batch is answered with
/// the original batch's offset and append time, not the retry's clock (Kafka's
/// `LogAppendInfo` for a duplicate carries the stored batch's timestamp).
#[test]
fn a_retried_batch_gets_its_original_log_append_time() {
    use kafka_protocol::messages::ProduceResponse;
    use kafka_protocol::protocol::Decodable;
    let broker = Runnel::start("dup-append-time", &[]);
    runnel_tests::runnel_cli(
        &[
            "topic",
            "create",
            "stamped",
            "-c",
            "message.timestamp.type=LogAppendTime",
            "-b",
            &broker.bootstrap(),
        ],
        b"",
    );
    let mut stream = connect(&broker);
    let mut send = |correlation: i32| {
        let batch = BatchBuilder::new(0).producer(77, 0, 0);
        let request = produce_batch("stamped", batch, b"once");
        let body = exchange(
            &mut stream,
            &frame(ApiKey::Produce, 7, correlation, &request),
        )
        .expect("answer");
        let mut bytes = bytes::Bytes::copy_from_slice(&body[4..]);
        let response = ProduceResponse::decode(&mut bytes, 7).expect("produce response");
        let p = &response.responses[0].partition_responses[0];
        (p.error_code, p.base_offset, p.log_append_time_ms)
    };
    let first = send(1);
    assert_eq!((first.0, first.1), (0, 0));
    assert!(first.2 > 0, "stamped with the broker's clock: {first:?}");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(send(2), first, "the retry: same offset, same append time");
    assert_eq!(consume_all(&broker, "stamped"), ["once"]);
}

/// Issue 19: a node with many partitions ran out of file descriptors (every file of every
/// segment stayed open: 10,000 partitions failed at about 6,600 under `ulimit -n` 20,000 with
/// "Too many open files"). Under a limit of 1,024, 1,000 partitions (3,000 segment files) are
/// created, each written once and read back: the node keeps at most half its limit open.
#[test]
fn a_thousand_partitions_fit_in_an_open_file_limit_of_1024() {
    let broker = Runnel::start_with_open_file_limit("nofile", &[], 1_024);
    let bootstrap = broker.bootstrap();
    let partitions = 1_000u32;
    runnel_cli(
        &[
            "topic",
            "create",
            "many",
            "-p",
            &partitions.to_string(),
            "-b",
            &bootstrap,
        ],
        b"",
    );
    // One key per partition, by the producer's own partitioner (murmur2, as Kafka's).
    let mut keys = vec![None; partitions as usize];
    let mut i = 0u64;
    while keys.iter().any(Option::is_none) {
        let key = format!("k{i}");
        let p = runnel_core::partitioner::murmur2_partition(key.as_bytes(), partitions) as usize;
        keys[p].get_or_insert(key);
        i += 1;
    }
    let input: String = keys
        .iter()
        .enumerate()
        .map(|(p, k)| format!("{}:v{p}\n", k.as_deref().unwrap_or_default()))
        .collect();
    runnel_cli(
        &["produce", "many", "-K", ":", "-b", &bootstrap],
        input.as_bytes(),
    );
    let out = runnel_cli(
        &["consume", "many", "-f", "%p %s\\n", "-b", &bootstrap],
        b"",
    );
    let mut seen: Vec<String> = out.lines().map(str::to_string).collect();
    seen.sort();
    let mut expected: Vec<String> = (0..partitions).map(|p| format!("{p} v{p}")).collect();
    expected.sort();
    assert_eq!(seen, expected, "each partition holds its one record");
    assert!(
        broker
            .log()
            .contains("open-file limit 1024: at most 512 segment files open at once"),
        "{}",
        broker.log()
    );
}

/// A fetch waiting on a topic that is then deleted answers at once with
/// UNKNOWN_TOPIC_OR_PARTITION, not at its max wait (Kafka's `ReplicaManager.stopPartitions`
/// completes the deleted partitions' delayed fetches).
#[test]
fn records_of_every_internal_topic_cannot_be_deleted() {
    // Kafka's ReplicaManager.deleteRecordsOnLocalLog refuses "Cannot delete records of
    // internal topic" (INVALID_TOPIC_EXCEPTION, 17) for each internal topic
    // (Topic.isInternal: __consumer_offsets and __transaction_state); deleting the
    // transaction log's records would lose open transactions' state.
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
    let broker = Runnel::start("internal-delete-records", &[]);
    for topic in ["__consumer_offsets", "__transaction_state"] {
        let request = DeleteRecordsRequest::default()
            .with_timeout_ms(5_000)
            .with_topics(vec![
                DeleteRecordsTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str(topic)))
                    .with_partitions(vec![
                        DeleteRecordsPartition::default()
                            .with_partition_index(0)
                            .with_offset(-1),
                    ]),
            ]);
        let response: DeleteRecordsResponse = runnel_tests::wire::call(
            &broker.bootstrap(),
            ApiKey::DeleteRecords,
            1,
            &request,
            Duration::from_secs(20),
        );
        let codes: Vec<i16> = response
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect();
        assert_eq!(codes, vec![17], "{topic}: INVALID_TOPIC_EXCEPTION");
    }
}

#[test]
fn a_single_nodes_producer_ids_are_never_handed_out_again_after_a_crash() {
    // KIP-730's blocks of 1,000 producer ids, the counter kept in the data directory: a
    // restart (here after SIGKILL) takes the next block, so no id is handed out twice
    // whatever the clock says (it was the clock: a step back re-issued ids).
    use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
    let mut broker = Runnel::start("producer-ids", &[]);
    let init = |broker: &Runnel| -> (i16, i64, i16) {
        let request = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60_000);
        let response: InitProducerIdResponse = runnel_tests::wire::call(
            &broker.bootstrap(),
            ApiKey::InitProducerId,
            1,
            &request,
            Duration::from_secs(20),
        );
        (
            response.error_code,
            response.producer_id.0,
            response.producer_epoch,
        )
    };
    assert_eq!(init(&broker), (0, 0, 0), "the first block starts at 0");
    assert_eq!(init(&broker), (0, 1, 0));
    broker.kill();
    broker.restart();
    assert_eq!(
        init(&broker),
        (0, 1_000, 0),
        "a fresh block after the crash"
    );
    assert_eq!(init(&broker), (0, 1_001, 0));
    // Producer 1,001 writes; then the counter file is lost. The next id must still not be one
    // a partition's producer state holds, or that producer's next batch (sequence 0 at epoch
    // 0) would be taken for a duplicate of 1,001's: acknowledged and never written.
    let mut stream = connect(&broker);
    let written = exchange(
        &mut stream,
        &frame(
            ApiKey::Produce,
            7,
            1,
            &produce_batch("ids", BatchBuilder::new(0).producer(1_001, 0, 0), b"v"),
        ),
    )
    .expect("a produce is answered");
    assert_eq!(produce_result(&written), (0, 0));
    assert!(broker.terminate(), "a clean stop");
    std::fs::remove_file(broker.data_dir.join("producer-ids.json")).expect("the counter file");
    broker.restart();
    let (code, id, _) = init(&broker);
    assert_eq!(code, 0);
    assert!(id > 1_001, "above every id a partition holds: {id}");
    // An idempotent producer asking to bump its own id and epoch (KIP-360, InitProducerId v3+)
    // gets a new id at epoch 0, as from Kafka's `handleInitProducerId` without a
    // transactional id ("always ... return a new producerId"): its epoch never runs out,
    // even at the last one.
    for epoch in [0, i16::MAX] {
        let request = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch);
        let bumped: InitProducerIdResponse = runnel_tests::wire::call(
            &broker.bootstrap(),
            ApiKey::InitProducerId,
            4,
            &request,
            Duration::from_secs(20),
        );
        assert_eq!(bumped.error_code, 0, "bump from epoch {epoch}");
        assert!(
            bumped.producer_id.0 > id && bumped.producer_epoch == 0,
            "bump of {id} at epoch {epoch}: a new id at epoch 0, got {} at {}",
            bumped.producer_id.0,
            bumped.producer_epoch
        );
    }
}

#[test]
fn a_fetch_waiting_on_a_deleted_topic_answers_at_once() {
    let broker = Runnel::start("deleted-wait", &[]);
    let mut producer = connect(&broker);
    let produced = exchange(
        &mut producer,
        &frame(ApiKey::Produce, 7, 1, &produce_request("gone", b"v0")),
    )
    .expect("a produce is answered");
    assert_eq!(produce_result(&produced), (0, 0), "one record at offset 0");

    let mut fetcher = connect(&broker);
    fetcher
        .set_read_timeout(Some(Duration::from_secs(40)))
        .expect("timeout");
    let wait_ms = 30_000;
    let fetch = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str("gone")))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(1)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    fetcher
        .write_all(&frame(ApiKey::Fetch, 11, 2, &fetch))
        .expect("fetch sent");
    // Caught up at offset 1: the broker holds it.
    std::thread::sleep(Duration::from_millis(500));

    let deleted_at = std::time::Instant::now();
    let out = runnel_cli(&["topic", "delete", "gone", "-b", &broker.bootstrap()], b"");
    assert_eq!(out, "deleted topic gone\n");
    let Outcome::Answered(body) = send(&mut fetcher, &[]) else {
        panic!(
            "the waiting fetch is answered; broker log:\n{}",
            broker.log()
        );
    };
    let waited = deleted_at.elapsed();
    assert!(
        waited < Duration::from_millis(wait_ms as u64 / 2),
        "answered {waited:?} after the delete, as if at its max wait"
    );
    use kafka_protocol::protocol::Decodable;
    let mut buf = bytes::Bytes::copy_from_slice(&body[4..]); // after the correlation id
    let response = FetchResponse::decode(&mut buf, 11).expect("fetch response");
    let codes: Vec<i16> = response
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect();
    assert_eq!(
        codes,
        vec![3],
        "UNKNOWN_TOPIC_OR_PARTITION for the deleted partition"
    );
}

#[test]
fn a_fetch_answers_an_erring_partition_without_offsets_and_a_readable_one_with_them() {
    // Kafka's `FetchResponse.partitionResponse(partition, error)` answers an erring partition
    // with high watermark, last stable offset and log start all -1 (INVALID_*); a readable one
    // carries all three (KIP-98's last stable offset, KIP-107's log start from v5).
    let broker = Runnel::start("fetch-offsets", &[]);
    let mut stream = connect(&broker);
    for i in 0..3 {
        let produced = exchange(
            &mut stream,
            &frame(ApiKey::Produce, 7, i, &produce_request("bounds", b"v")),
        )
        .expect("a produce is answered");
        assert_eq!(produce_result(&produced), (0, i64::from(i)));
    }
    use kafka_protocol::protocol::Decodable;
    let fetch_at = |stream: &mut TcpStream, offset: i64, isolation_level: i8| {
        let fetch = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_max_bytes(1 << 20)
            .with_isolation_level(isolation_level)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_static_str("bounds")))
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(0)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(1 << 20),
                    ]),
            ]);
        let body = exchange(stream, &frame(ApiKey::Fetch, 11, 9, &fetch)).expect("answered");
        let mut buf = bytes::Bytes::copy_from_slice(&body[4..]);
        let response = FetchResponse::decode(&mut buf, 11).expect("fetch response");
        let p = &response.responses[0].partitions[0];
        let records = p.records.as_ref().map_or(0, |r| {
            batches(r)
                .flatten()
                .map(|b| b.header().record_count as usize)
                .sum::<usize>()
        });
        (
            p.error_code,
            p.high_watermark,
            p.last_stable_offset,
            p.log_start_offset,
            records,
        )
    };
    for isolation_level in [0, 1] {
        assert_eq!(
            fetch_at(&mut stream, 0, isolation_level),
            (0, 3, 3, 0, 3),
            "isolation level {isolation_level}: the records and the partition's offsets"
        );
        assert_eq!(
            fetch_at(&mut stream, 3, isolation_level),
            (0, 3, 3, 0, 0),
            "caught up"
        );
        assert_eq!(
            fetch_at(&mut stream, 99, isolation_level),
            (1, -1, -1, -1, 0),
            "OFFSET_OUT_OF_RANGE, no offsets"
        );
    }
}

#[test]
fn an_idle_idempotent_producer_is_forgotten_after_producer_id_expiration_ms() {
    // Kafka's `producer.id.expiration.ms` (`ProducerStateManager.removeExpiredProducers`):
    // a producer not seen for that long, with no transaction open, is forgotten, and its next
    // batch is taken at any sequence, as from a producer the broker never knew. Before, every
    // producer stayed in every partition's state (and its snapshots) for good.
    let broker = Runnel::start(
        "producer-expiry",
        &[
            "producer.id.expiration.ms=3000",
            "log.cleaner.backoff.ms=200",
        ],
    );
    let mut stream = connect(&broker);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let send = |stream: &mut TcpStream, correlation: i32, sequence: i32, value: &[u8]| {
        // A first record stamped now: the batch's max timestamp, which the expiry counts from.
        let mut batch = BatchBuilder::new(0).producer(77, 0, sequence);
        batch.push(now_ms, None, Some(b"now"), Vec::new());
        let request = produce_batch("expiring", batch, value);
        produce_result(
            &exchange(stream, &frame(ApiKey::Produce, 7, correlation, &request)).expect("answer"),
        )
    };
    assert_eq!(send(&mut stream, 1, 0, b"first"), (0, 0));
    assert_eq!(
        send(&mut stream, 2, 0, b"first"),
        (0, 0),
        "a retry: a duplicate"
    );
    assert_eq!(
        send(&mut stream, 3, 5, b"gap"),
        (45, -1),
        "a gap while known"
    );
    std::thread::sleep(Duration::from_millis(4_500));
    assert_eq!(
        send(&mut stream, 4, 5, b"later"),
        (0, 2),
        "forgotten: taken at any sequence"
    );
    assert_eq!(
        consume_all(&broker, "expiring"),
        ["now", "first", "now", "later"]
    );
}
