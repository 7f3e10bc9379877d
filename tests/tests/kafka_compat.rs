//! Kafka compatibility from the field: inputs that real users and tools sent, which runnel
//! once answered differently from Apache Kafka. Each test cites the Kafka source of the right
//! answer.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use runnel_tests::{Runnel, free_port, runnel_binary, runnel_cli as runnel};

/// Kafka locks each log directory (`<dir>/.lock`, `LogManager.lockLogDirs`) and refuses to
/// start when another process holds it, and refuses a `meta.properties` whose `node.id` is not
/// its own. Before: two runnel processes on one directory both took writes at the same
/// offsets.
#[test]
fn a_data_directory_belongs_to_one_process_and_one_node() {
    let mut broker = Runnel::start("compat-lock", &[]);
    let b = broker.bootstrap();
    let data_dir = broker.data_dir.clone();
    runnel(&["topic", "create", "shared", "-b", &b], b"");
    runnel(&["produce", "shared", "-b", &b], b"first\n");
    let second = |settings: &[&str]| {
        let mut command = Command::new(runnel_binary());
        command
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .args(["--admin", &format!("127.0.0.1:{}", free_port())])
            .arg("--data-dir")
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for s in settings {
            command.args(["--set", s]);
        }
        let mut child = command.spawn().expect("start a second broker");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                let out = child.wait_with_output().expect("output");
                return (status, String::from_utf8_lossy(&out.stderr).into_owned());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("a second broker on the same data directory kept running");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let (status, stderr) = second(&[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "runnel: {} is in use by another runnel process (it holds {}/.lock): a data directory belongs to one broker\n",
            broker.data_dir.display(),
            broker.data_dir.display()
        )),
        "{stderr}"
    );
    // The first broker is untouched and goes on.
    runnel(&["produce", "shared", "-b", &b], b"second\n");
    assert_eq!(
        runnel(&["consume", "shared", "-f", "%o %s\\n", "-b", &b], b""),
        "0 first\n1 second\n"
    );
    // Stopped, its directory refuses to serve as another node.
    assert!(broker.terminate(), "a clean stop");
    let (status, stderr) = second(&["node.id=7"]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/meta.properties belongs to node.id=0, but this broker is node.id=7"),
        "{stderr}"
    );
    broker.restart();
    assert_eq!(
        runnel(&["consume", "shared", "-b", &broker.bootstrap()], b""),
        "first\nsecond\n",
        "its own node starts on it again"
    );
}

/// Issue 15, item 1 (Kafka's `LogConfig` definition; DescribeConfigs sources from KIP-226):
/// a topic created with Kafka's standard configs, as provisioning tools send them, is accepted;
/// DescribeConfigs lists every topic config Kafka defines, each with its source: the topic's
/// own (DYNAMIC_TOPIC_CONFIG), the broker's setting (STATIC_BROKER_CONFIG) or Kafka's default
/// (DEFAULT_CONFIG), with synonyms; invalid values and unknown names are refused with
/// INVALID_CONFIG.
#[test]
fn standard_topic_configs_are_accepted_and_described_with_their_source() {
    let broker = Runnel::start("compat-configs", &["log.retention.ms=1000"]);
    let r = runnel_tests::python_json(
        &["tests/clients/topic_configs.py", &broker.bootstrap()],
        Duration::from_secs(60),
    );
    assert!(r["created"].is_null(), "{}", r["created"]);
    let source = |topic: &str, key: &str| -> (String, String) {
        let entry = &r[topic][key];
        (
            entry[0].as_str().unwrap_or("<none>").to_string(),
            entry[1].as_str().unwrap_or("<none>").to_string(),
        )
    };
    for (key, value) in [
        ("unclean.leader.election.enable", "false"),
        ("message.timestamp.type", "CreateTime"),
        ("retention.ms", "86400000"),
        ("segment.bytes", "104857600"),
        ("message.format.version", "3.0-IV1"),
    ] {
        assert_eq!(
            source("provisioned", key),
            (value.to_string(), "DYNAMIC_TOPIC_CONFIG".to_string()),
            "{key}"
        );
    }
    assert_eq!(
        source("plain", "retention.ms"),
        ("1000".to_string(), "STATIC_BROKER_CONFIG".to_string()),
        "the broker's log.retention.ms"
    );
    assert_eq!(
        source("plain", "segment.ms"),
        ("604800000".to_string(), "DEFAULT_CONFIG".to_string())
    );
    assert_eq!(
        source("plain", "flush.messages"),
        (
            "9223372036854775807".to_string(),
            "DEFAULT_CONFIG".to_string()
        ),
        "Kafka shows no limit as Long.MAX_VALUE"
    );
    // Issue 15, item 12 (KIP-339): APPEND and SUBTRACT on a list config, refused on others.
    assert_eq!(r["appended"][0], "delete,compact", "{r}");
    assert_eq!(r["appended"][1], "DYNAMIC_TOPIC_CONFIG", "{r}");
    assert_eq!(r["subtracted"][0], "compact", "{r}");
    let refused = r["append_to_long"].as_str().unwrap_or("accepted");
    assert!(
        refused.contains("INVALID_CONFIG") && refused.contains("append is not allowed"),
        "{refused}"
    );
    // Issue 15, item 4: a BROKER resource lists the broker's configs (kafka-ui, Kafdrop and
    // ksqlDB read them at start) with their source; the broker-level defaults of topic configs
    // are writable (dynamic broker configs, KIP-226), the rest read-only, as in Kafka; another
    // node's id is INVALID_REQUEST, as Kafka answers a broker resource only on that broker.
    let broker_entry = |key: &str| r["broker"][key].clone();
    assert_eq!(
        broker_entry("log.retention.ms"),
        serde_json::json!(["1000", "STATIC_BROKER_CONFIG", false]),
        "{r}"
    );
    assert_eq!(
        broker_entry("message.max.bytes"),
        serde_json::json!(["1048588", "DEFAULT_CONFIG", false])
    );
    assert_eq!(broker_entry("node.id")[2], true, "{r}");
    assert_eq!(broker_entry("node.id")[0], "0");
    assert_eq!(broker_entry("num.partitions")[0], "1");
    // Kafka's LogConfig.validateValues: the compaction lags may not cross.
    let conflict = r["lag_conflict"].as_str().unwrap_or("accepted");
    assert!(
        conflict.contains("INVALID_CONFIG")
            && conflict.contains("min.compaction.lag.ms (100) > max.compaction.lag.ms (50)"),
        "{conflict}"
    );
    let names = r["plain"].as_object().map_or(0, |o| o.len());
    assert!(names >= 36, "every topic config Kafka defines: {names}");
    // Synonyms (KIP-226; Kafka's ConfigHelper lists every level that sets a config, the one in
    // effect first, one per name): the topic's override, then the broker's own setting under
    // its broker name, or Kafka's default under that name.
    assert_eq!(
        r["synonyms"],
        serde_json::json!({
            "provisioned retention.ms": [
                ["retention.ms", "86400000", "DYNAMIC_TOPIC_CONFIG"],
                ["log.retention.ms", "1000", "STATIC_BROKER_CONFIG"]
            ],
            "plain retention.ms": [["log.retention.ms", "1000", "STATIC_BROKER_CONFIG"]],
            "plain segment.ms": [["log.roll.ms", "604800000", "DEFAULT_CONFIG"]]
        }),
        "{r}"
    );
    for (key, words) in [
        (
            "message.timestamp.type",
            "must be one of CreateTime, LogAppendTime",
        ),
        ("retention.ms", "must be at least -1"),
        ("segment.bytes", "expected a 32-bit integer"),
        ("no.such.config", "unknown topic config no.such.config"),
        // Kafka's MetadataVersionValidator.
        ("message.format.version", "expected a Kafka version"),
    ] {
        let error = r["invalid"][key].as_str().unwrap_or("accepted");
        assert!(
            error.contains("INVALID_CONFIG") && error.contains(words),
            "{key}: {error}"
        );
    }
}

/// Issue 15, item 3 (KIP-734): ListOffsets with MAX_TIMESTAMP (-3) answers the first record
/// carrying the largest timestamp, inside a compressed batch too (KAFKA-16310), and -1/-1 on
/// an empty partition; the other specs as before. Asked through confluent-kafka's
/// AdminClient.list_offsets (OffsetSpec.max_timestamp()).
#[test]
fn list_offsets_answers_kafkas_max_timestamp() {
    let broker = Runnel::start("compat-max-timestamp", &[]);
    let r = runnel_tests::python_json(
        &[
            "tests/clients/list_offsets.py",
            &broker.bootstrap(),
            "stamped",
            "10,40,20,90,30,90,50",
        ],
        Duration::from_secs(60),
    );
    let pairs = |key: &str| -> Vec<(i64, i64)> {
        r[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| (p[0].as_i64().unwrap_or(-9), p[1].as_i64().unwrap_or(-9)))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(pairs("max_timestamp"), [(3, 90), (-1, -1)], "{r}");
    assert_eq!(pairs("earliest")[0].0, 0);
    assert_eq!(pairs("latest")[0].0, 7);
    assert_eq!(
        pairs("at_25")[0],
        (1, 40),
        "the first record at or after 25"
    );
    // v4+ (KIP-320): the leader epoch each offset was written in; a single node leads in 0.
    assert_eq!(r["epochs"], serde_json::json!([0, 0, 0]), "{r}");
}

/// Issue 15, item 5 (Kafka's `Topic.validate` and `Topic.hasCollision`): every name Kafka
/// accepts works end to end, the longest (249 characters) included, through creation, kcat's
/// produce and consume, deletion and recreation; and a name that differs from an existing one
/// only by '.' against '_' is refused with INVALID_TOPIC_EXCEPTION, as Kafka refuses it.
#[test]
fn every_legal_topic_name_works_and_colliding_names_are_refused() {
    let broker = Runnel::start("compat-names", &[]);
    let b = broker.bootstrap();
    let longest = "n".repeat(248) + "9";
    for name in [longest.as_str(), "a.b", "...", "-_-"] {
        for round in 0..2 {
            // `--`: "-_-" is a name, not a flag.
            runnel(&["topic", "create", "-p", "12", "-b", &b, "--", name], b"");
            runnel_tests::run_client(
                "kcat",
                &["-b", &b, "-P", "-t", name, "-p", "11"],
                format!("{name}-{round}\n").as_bytes(),
                Duration::from_secs(30),
            );
            let out = runnel_tests::run_client(
                "kcat",
                &[
                    "-b", &b, "-C", "-t", name, "-p", "11", "-e", "-q", "-f", "%s\\n",
                ],
                b"",
                Duration::from_secs(30),
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("{name}-{round}\n"),
                "round {round}: a recreated topic starts empty"
            );
            runnel(&["topic", "delete", "-b", &b, "--", name], b"");
        }
    }
    runnel(&["topic", "create", "metrics.cpu", "-b", &b], b"");
    let refused = Command::new(runnel_binary())
        .args(["topic", "create", "metrics_cpu", "-b", &b])
        .output()
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        "runnel: create topic metrics_cpu: topic metrics_cpu collides with existing topic metrics.cpu ('.' and '_' collide) (INVALID_TOPIC_EXCEPTION, Kafka error 17)\n"
    );
    let too_long = "n".repeat(250);
    let refused = Command::new(runnel_binary())
        .args(["topic", "create", &too_long, "-b", &b])
        .output()
        .expect("run");
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("(INVALID_TOPIC_EXCEPTION, Kafka error 17)"),
        "{refused:?}"
    );
}

/// Issue 15, item 11 (Kafka's LogValidator, "Compacted topic cannot accept message without
/// key"): a record without a key sent to a compacted topic is refused with INVALID_RECORD
/// (87) and nothing is written; keyed records and tombstones are taken.
#[test]
fn a_compacted_topic_refuses_records_without_a_key() {
    let broker = Runnel::start("compat-keyless", &[]);
    let b = broker.bootstrap();
    runnel(
        &[
            "topic",
            "create",
            "state",
            "-c",
            "cleanup.policy=compact",
            "-b",
            &b,
        ],
        b"",
    );
    let once = runnel_tests::python_json(
        &[
            "tests/clients/cluster_failover.py",
            "once",
            &b,
            "state",
            "1",
            "no-key",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(once["error_name"], "INVALID_RECORD", "{once}");
    assert_eq!(once["error"], 87, "{once}");
    runnel(
        &["produce", "state", "-K", ":", "-Z", "-b", &b],
        b"k1:v1\nk1:\n",
    );
    assert_eq!(
        runnel(&["consume", "state", "-f", "%o %k %S\\n", "-b", &b], b""),
        "0 k1 2\n1 k1 -1\n",
        "the keyed record and the tombstone, nothing of the refused one"
    );
}

/// Issue 15, item 10 (KIP-74, found by librdkafka's own test suite): a Fetch response stays
/// within the request's max_bytes except for the first batch of its first non-empty
/// partition. Before, two 900 KiB batches of two partitions came back together (1.8 MB for
/// fetch.max.bytes=1000000) and librdkafka refused the response.
#[test]
fn a_fetch_response_stays_within_fetch_max_bytes() {
    let broker = Runnel::start("compat-fetch-max", &[]);
    let r = runnel_tests::python_json(
        &["tests/clients/fetch_limits.py", &broker.bootstrap(), "wide"],
        Duration::from_secs(90),
    );
    assert_eq!(r["errors"], serde_json::json!([]), "{r}");
    assert_eq!(
        r["received"],
        serde_json::json!([[0, 921_600], [1, 921_600]]),
        "{r}"
    );
}

/// Issue 19 (KIP-227, incremental fetch sessions): kafka-python 3 reads in a fetch session by
/// default. Its first Fetch makes a session; each later one names only the partitions whose
/// offset moved, and each response only the partitions with records or a moved high
/// watermark. Every record still arrives once, in order per partition, while writes land in
/// one or two of the four partitions at a time. Before, runnel answered every Fetch with
/// session id 0 (no session), so every request carried every partition.
#[test]
fn kafka_python_reads_in_an_incremental_fetch_session() {
    let broker = Runnel::start("compat-fetch-session", &[]);
    let r = runnel_tests::python_json(
        &[
            "tests/clients/fetch_sessions.py",
            &broker.bootstrap(),
            "sessions",
        ],
        Duration::from_secs(90),
    );
    assert_eq!(r["errors"], serde_json::json!([]), "{r}");
    let plan: [&[i64]; 7] = [&[0], &[0], &[2], &[2, 3], &[1], &[3], &[0, 1]];
    let mut expected = Vec::new();
    let mut next = [0i64; 4];
    for (round, targets) in plan.iter().enumerate() {
        for &p in *targets {
            for i in 0..3 {
                expected.push((p, next[p as usize], format!("r{round}-p{p}-{i}")));
                next[p as usize] += 1;
            }
        }
    }
    let mut received = runnel_tests::triples(&r["received"]);
    // Per partition in offset order as received; then the whole set, exactly once each.
    for p in 0..4 {
        let offsets: Vec<i64> = received.iter().filter(|t| t.0 == p).map(|t| t.1).collect();
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "partition {p}: {offsets:?}"
        );
    }
    received.sort();
    expected.sort();
    assert_eq!(received, expected);
    assert!(
        r["session_id"].as_i64().is_some_and(|id| id > 0),
        "no session: {r}"
    );
    assert!(
        r["epoch"].as_i64().is_some_and(|e| e > 5),
        "the session carried many incremental fetches: {r}"
    );
}

/// Issue 15, item 6 (KIP-345, static membership): a member rejoining with the same
/// `group.instance.id` takes over its partitions without a rebalance (the other member sees no
/// revoke or assign), and the old process is fenced with FENCED_INSTANCE_ID. Before, the
/// rejoin bumped the generation and rebalanced everyone.
#[test]
fn a_static_member_takes_its_place_back_without_a_rebalance() {
    let broker = Runnel::start("compat-static", &[]);
    let r = runnel_tests::python_json(
        &["tests/clients/static_members.py", &broker.bootstrap(), "st"],
        Duration::from_secs(120),
    );
    assert_eq!(
        r["a_events_before"], r["a_events_after"],
        "no rebalance: {r}"
    );
    assert!(
        r["b"].as_array().is_some_and(|p| !p.is_empty()),
        "b had partitions: {r}"
    );
    assert_eq!(r["b2"], r["b"], "the new process has b's partitions: {r}");
    // librdkafka's words for FENCED_INSTANCE_ID (82), raised as a fatal error.
    assert!(
        r["b_error"]
            .as_str()
            .is_some_and(|e| e.contains("fenced by other consumer with same group.instance.id")),
        "{r}"
    );
}

/// Issue 15, item 14 (KIP-848, ListGroups v5): clients for Kafka 3.9 filter groups by type;
/// every group here is "classic", listed with that type, and a filter for "consumer" groups
/// lists none. Asked through confluent-kafka's AdminClient.list_consumer_groups(types=...).
#[test]
fn list_groups_filters_by_group_type() {
    let broker = Runnel::start("compat-group-types", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "typed", "-b", &b], b"");
    runnel(&["produce", "typed", "-b", &b], b"x\n");
    runnel(
        &["consume", "typed", "-G", "classic-readers", "-b", &b],
        b"",
    );
    let script = format!(
        "import json\n\
         from confluent_kafka import ConsumerGroupType\n\
         from confluent_kafka.admin import AdminClient\n\
         a = AdminClient({{'bootstrap.servers': '{b}'}})\n\
         def ls(types):\n    r = a.list_consumer_groups(types=types).result(10)\n    \
         return sorted([g.group_id, g.type.name] for g in r.valid)\n\
         print(json.dumps({{'classic': ls({{ConsumerGroupType.CLASSIC}}), \
         'consumer': ls({{ConsumerGroupType.CONSUMER}}), 'all': ls(set())}}))\n"
    );
    let r = runnel_tests::python_json(&["-c", &script], Duration::from_secs(60));
    assert_eq!(
        r["classic"],
        serde_json::json!([["classic-readers", "CLASSIC"]]),
        "{r}"
    );
    assert_eq!(r["consumer"], serde_json::json!([]), "{r}");
    assert_eq!(r["all"], r["classic"], "{r}");
}

/// Issue 15, item 7: an independent client from Debian, Go's sarama 1.22, set for Kafka 2.0
/// (`Version = V2_0_0_0`), so it sends what Kafka 2.0 clients send: Metadata v0 for every
/// topic, DescribeConfigs v0 (served by Kafka until 4.0 removed it, KIP-896), OffsetCommit
/// v2, OffsetFetch v1. Before, runnel closed the connection on DescribeConfigs v0, so
/// `ListTopics` failed with EOF. Cluster admin (create, list with configs, describe a config,
/// delete), a sync producer with snappy, a consumer group that reads everything and commits,
/// and `ListConsumerGroupOffsets` reading the commits back.
#[test]
fn go_sarama_for_kafka_2_0_administers_produces_and_consumes_in_a_group() {
    let root = runnel_tests::workspace_root();
    let binary = root.join("target").join("sarama-compat");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(".")
        .current_dir(root.join("tests/clients/sarama"))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOFLAGS", "")
        .output()
        .expect("go (golang-go; the test command installs it)");
    assert!(
        built.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let broker = Runnel::start("compat-sarama", &[]);
    let out = runnel_tests::run_client(
        binary.to_str().expect("path"),
        &[&broker.bootstrap(), "sarama-t", "sarama-g"],
        b"",
        Duration::from_secs(120),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let r: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(r["brokers"], 1, "{r}");
    assert_eq!(r["listed_partitions"], 3, "{r}");
    assert_eq!(r["listed_replication_factor"], 1, "{r}");
    // ListTopics keeps the configs DescribeConfigs v0 marks as not default: exactly the two
    // set at creation (v0's is_default is "the source is DEFAULT_CONFIG", KIP-226).
    assert_eq!(
        r["listed_configs"],
        serde_json::json!({"retention.ms": "86400000", "cleanup.policy": "delete"}),
        "{r}"
    );
    assert_eq!(
        r["described"],
        serde_json::json!({
            "retention.ms": {"value": "86400000", "default": false},
            "segment.bytes": {"value": "1073741824", "default": true},
        }),
        "{r}"
    );
    let produced = r["produced"].as_object().expect("produced");
    let total: i64 = produced.values().filter_map(|v| v.as_i64()).sum();
    assert_eq!(total, 100, "{r}");
    assert_eq!(
        (&r["consumed"], &r["consumed_wrong"]),
        (&100.into(), &0.into()),
        "{r}"
    );
    // Every partition's commit is its end offset (unwritten partitions read back -1, as
    // Kafka's OffsetFetch answers for no commit).
    for partition in ["0", "1", "2"] {
        let end = produced
            .get(partition)
            .and_then(|v| v.as_i64())
            .unwrap_or(-1);
        assert_eq!(r["committed"][partition].as_i64(), Some(end), "{r}");
    }
    assert_eq!(r["group_protocol_type"], "consumer", "{r}");
    let remaining = r["topics_after_delete"].as_array().expect("topics");
    assert!(
        !remaining.iter().any(|t| t == "sarama-t"),
        "the deleted topic is gone: {r}"
    );
}

/// Issue 15, items 7, 13 and 14: an admin tool's start-up and look-around, as kafka-ui does it
/// (DescribeCluster, the broker's configs, topics with configs, groups with offsets, end
/// offsets), then what Kafka's own tools send (DescribeLogDirs, DescribeProducers,
/// ListPartitionReassignments, ElectLeaders, OffsetDelete). Every call answers, with Kafka's
/// values: authorized operations without an authorizer are every operation the resource
/// supports (KIP-430, Kafka's `AclEntry.supportedOperations`); a preferred election on a
/// partition led by its only replica is ELECTION_NOT_NEEDED (KIP-460); OffsetDelete refuses a
/// topic the live group subscribes to with GROUP_SUBSCRIBED_TO_TOPIC and deletes it once the
/// group is empty (KIP-496).
#[test]
fn an_admin_tools_start_up_sequence_answers_as_kafka_does() {
    let broker = Runnel::start("compat-admin-startup", &[]);
    let r = runnel_tests::python_json(
        &[
            "tests/clients/admin_startup.py",
            &broker.bootstrap(),
            "ui-t",
            "ui-g",
        ],
        Duration::from_secs(120),
    );
    assert_eq!(
        r["cluster"]["nodes"].as_array().map(Vec::len),
        Some(1),
        "{r}"
    );
    assert_eq!(
        r["cluster"]["authorized_operations"],
        serde_json::json!([
            "ALTER",
            "ALTER_CONFIGS",
            "CLUSTER_ACTION",
            "CREATE",
            "DESCRIBE",
            "DESCRIBE_CONFIGS",
            "IDEMPOTENT_WRITE"
        ]),
        "{r}"
    );
    assert!(r["broker_config_count"].as_u64().unwrap_or(0) > 10, "{r}");
    assert_eq!(r["topic"]["partitions"], 3, "{r}");
    assert_eq!(
        r["topic"]["authorized_operations"],
        serde_json::json!([
            "ALTER",
            "ALTER_CONFIGS",
            "CREATE",
            "DELETE",
            "DESCRIBE",
            "DESCRIBE_CONFIGS",
            "READ",
            "WRITE"
        ]),
        "{r}"
    );
    assert_eq!(r["topic_cleanup_policy"], "delete", "{r}");
    assert_eq!(
        r["end_offsets"],
        serde_json::json!([[0, 10], [1, 10], [2, 10]]),
        "{r}"
    );
    assert!(
        r["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g == "ui-g")),
        "{r}"
    );
    assert_eq!(r["group"]["state"], "STABLE", "{r}");
    assert_eq!(
        r["group"]["authorized_operations"],
        serde_json::json!(["DELETE", "DESCRIBE", "READ"]),
        "{r}"
    );
    assert_eq!(
        r["committed"],
        serde_json::json!([[0, 10], [1, 10], [2, 10]]),
        "{r}"
    );
    assert_eq!(
        r["election"],
        serde_json::json!({"ui-t-0": "ELECTION_NOT_NEEDED"}),
        "{r}"
    );
    assert_eq!(r["broker_log_cleanup_policy"], "delete", "{r}");
    // DescribeLogDirs: the data directory, and each partition's size is its segment file's.
    let dirs = r["log_dirs"].as_array().expect("log dirs");
    assert_eq!(dirs.len(), 1, "{r}");
    assert_eq!(
        dirs[0]["partitions"].as_array().map(Vec::len),
        Some(3),
        "{r}"
    );
    assert_eq!(dirs[0]["error_code"], 0, "{r}");
    assert_eq!(dirs[0]["log_dir"].as_str(), broker.data_dir.to_str(), "{r}");
    for (partition, row) in dirs[0]["partitions"]
        .as_array()
        .expect("rows")
        .iter()
        .enumerate()
    {
        let file = broker
            .data_dir
            .join(format!("ui-t-{partition}"))
            .join("00000000000000000000.log");
        let size = std::fs::metadata(&file).expect("segment").len();
        assert_eq!(row, &serde_json::json!(["ui-t", partition, size]), "{r}");
    }
    let (total, usable) = (
        dirs[0]["total_bytes"].as_i64().unwrap_or(-1),
        dirs[0]["usable_bytes"].as_i64().unwrap_or(-1),
    );
    assert!(total > 0 && (0..=total).contains(&usable), "{r}");
    // DescribeProducers (KIP-664): the one idempotent producer, epoch 0, 10 records (sequences
    // 0–9) in each partition.
    let producers = r["producers"].as_array().expect("producers");
    assert_eq!(producers.len(), 3, "{r}");
    for (partition, row) in producers.iter().enumerate() {
        assert_eq!(row[0], partition, "{r}");
        assert!(row[1].as_i64().is_some_and(|id| id >= 0), "{r}");
        assert_eq!((&row[2], &row[3]), (&0.into(), &9.into()), "{r}");
    }
    assert_eq!(r["reassignments"], 0, "{r}");
    // OffsetDelete (KIP-496): refused while the member subscribes, done once it left; an
    // unknown group is GROUP_ID_NOT_FOUND (69).
    assert_eq!(
        r["delete_offsets_live"],
        serde_json::json!({"ui-t-0": "GroupSubscribedToTopicError"}),
        "{r}"
    );
    assert_eq!(
        r["delete_offsets_empty"],
        serde_json::json!({"ui-t-0": "NoError"}),
        "{r}"
    );
    assert_eq!(
        r["delete_offsets_unknown_group"], "GroupIdNotFoundError",
        "{r}"
    );
    assert_eq!(
        r["committed_after_delete"],
        serde_json::json!([[1, 10], [2, 10]]),
        "{r}"
    );
}

/// Issue 15, item 2: the broker's own rules on timestamps and compression, as Kafka's
/// `LogValidator` applies them.
/// - `message.timestamp.type=LogAppendTime`: the broker's clock replaces the producer's
///   timestamp; the Produce response carries it (`log_append_time_ms`), and consumers see it
///   with timestamp type LogAppendTime (Kafka doc, topic config `message.timestamp.type`).
/// - KIP-937 (`message.timestamp.before.max.ms` / `after.max.ms`): a record outside the bounds
///   is refused with INVALID_TIMESTAMP (32) and "One or more records have been rejected due to
///   invalid timestamp"; nothing of it is stored.
/// - `compression.type=gzip` on the topic: a snappy batch is stored recompressed with gzip
///   (attributes bits 0–2 = 1) and reads back unchanged.
///
/// Before, each of these configs was refused at topic creation.
#[test]
fn the_broker_applies_log_append_time_timestamp_bounds_and_compression_type() {
    let broker = Runnel::start("compat-timestamps", &[]);
    let b = broker.bootstrap();
    let r = runnel_tests::python_json(
        &["tests/clients/timestamps.py", &b],
        Duration::from_secs(60),
    );
    let (before, after) = (
        r["window"][0].as_i64().expect("window"),
        r["window"][1].as_i64().expect("window"),
    );
    let log_append_time = &r["log_append_time_type"];
    let report = &r["reports"]["appended"][0];
    assert_eq!(report["error"], serde_json::Value::Null, "{r}");
    assert_eq!(&report["timestamp_type"], log_append_time, "{r}");
    let stamped = report["timestamp"].as_i64().expect("timestamp");
    assert!(
        (before..=after).contains(&stamped),
        "the broker's clock, not the producer's 1000: {r}"
    );
    let read = &r["appended"][0];
    assert_eq!(&read["timestamp_type"], log_append_time, "{r}");
    assert_eq!(read["timestamp"].as_i64(), Some(stamped), "{r}");

    let bounded = r["reports"]["bounded"].as_array().expect("reports");
    let errors: Vec<&serde_json::Value> = bounded.iter().map(|x| &x["error"]).collect();
    assert_eq!(
        errors,
        [
            &serde_json::Value::Null,
            &serde_json::json!("INVALID_TIMESTAMP"),
            &serde_json::json!("INVALID_TIMESTAMP")
        ],
        "{r}"
    );
    assert_eq!(r["bounded"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["bounded"][0]["value"], "now", "{r}");
    // The CLI prints the broker's own words for the refusal.
    let mut cli = Command::new(runnel_binary())
        .args([
            "produce",
            "bounded",
            "--timestamp",
            "1970-01-01T00:00:01Z",
            "-b",
            &b,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runnel produce");
    use std::io::Write as _;
    cli.stdin
        .take()
        .expect("stdin")
        .write_all(b"old\n")
        .expect("write");
    let refused = cli.wait_with_output().expect("produce output");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("One or more records have been rejected due to invalid timestamp")
            && said.contains("INVALID_TIMESTAMP"),
        "{said}"
    );
    let squeezed = r["squeezed"].as_array().expect("records");
    assert_eq!(squeezed.len(), 20, "{r}");
    for (i, record) in squeezed.iter().enumerate() {
        assert_eq!(record["value"], format!("value {i} ").repeat(20), "{r}");
    }
    // The stored batches: every one gzip (codec id 1 in the attributes' low bits).
    let segment = broker
        .data_dir
        .join("squeezed-0")
        .join("00000000000000000000.log");
    let bytes = std::fs::read(&segment).expect("segment file");
    let mut at = 0;
    let mut codecs = Vec::new();
    while at + 61 <= bytes.len() {
        let length = i32::from_be_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        codecs.push(i16::from_be_bytes(bytes[at + 21..at + 23].try_into().expect("2 bytes")) & 7);
        at += 12 + length as usize;
    }
    assert!(
        !codecs.is_empty() && codecs.iter().all(|c| *c == 1),
        "{codecs:?}"
    );
}

/// CreateTopics with `validate_only` (KIP-108) checks everything a creation would and creates
/// nothing: an unknown config is INVALID_CONFIG, a replication factor above the brokers
/// INVALID_REPLICATION_FACTOR, an existing topic TOPIC_ALREADY_EXISTS, a valid one NONE.
/// Before, only the existing topic was checked (found by librdkafka's suite, 0081).
#[test]
fn create_topics_validate_only_checks_everything_and_creates_nothing() {
    let broker = Runnel::start("compat-validate-only", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "there", "-b", &b], b"");
    let script = format!(
        "import json\n\
         from confluent_kafka.admin import AdminClient, NewTopic\n\
         a = AdminClient({{'bootstrap.servers': '{b}'}})\n\
         topics = [NewTopic('bad-config', 1, 1, config={{'dummy.doesntexist': '1'}}),\n\
                   NewTopic('too-many-replicas', 1, 3), NewTopic('there', 1, 1),\n\
                   NewTopic('fine', 2, 1, config={{'cleanup.policy': 'compact'}})]\n\
         out = {{}}\n\
         for name, f in a.create_topics(topics, validate_only=True).items():\n    \
         try:\n        f.result(10); out[name] = None\n    \
         except Exception as e:\n        out[name] = e.args[0].name()\n\
         out['listed'] = sorted(t for t in a.list_topics(timeout=10).topics if not t.startswith('__'))\n\
         print(json.dumps(out))\n"
    );
    let r = runnel_tests::python_json(&["-c", &script], Duration::from_secs(60));
    assert_eq!(
        r,
        serde_json::json!({
            "bad-config": "INVALID_CONFIG",
            "too-many-replicas": "INVALID_REPLICATION_FACTOR",
            "there": "TOPIC_ALREADY_EXISTS",
            "fine": null,
            "listed": ["there"],
        })
    );
}

/// Issue 15, item 7, older members of the class: kafka-python set for Kafka 0.10.1 and 0.10.2
/// sends CreateTopics v0 and v1 and DeleteTopics v0, which Kafka 3.9 still serves (KIP-896
/// removed them in 4.0); before, runnel closed the connection. Topics are created and deleted
/// as asked.
#[test]
fn kafka_0_10_admin_clients_create_and_delete_topics() {
    let broker = Runnel::start("compat-old-admin", &[]);
    let b = broker.bootstrap();
    let script = format!(
        "import json\n\
         from kafka import KafkaAdminClient\n\
         from kafka.admin import NewTopic\n\
         out = {{}}\n\
         for v in [(0, 10, 1), (0, 10, 2)]:\n    \
         a = KafkaAdminClient(bootstrap_servers='{b}', api_version=v)\n    \
         name = 'old-%d-%d-%d' % v\n    \
         created = a.create_topics([NewTopic(name, 3, 1)])\n    \
         out[name] = [t['error_code'] for t in created['topics']]\n    \
         out[name + ' partitions'] = len(a.describe_topics([name])[0]['partitions'])\n    \
         deleted = a.delete_topics([name])\n    \
         out[name + ' deleted'] = [t['error_code'] for t in deleted['topics']]\n    \
         out[name + ' left'] = name in a.list_topics()\n\
         print(json.dumps(out))\n"
    );
    let r = runnel_tests::python_json(&["-c", &script], Duration::from_secs(60));
    assert_eq!(
        r,
        serde_json::json!({
            "old-0-10-1": [0], "old-0-10-1 partitions": 3, "old-0-10-1 deleted": [0],
            "old-0-10-1 left": false,
            "old-0-10-2": [0], "old-0-10-2 partitions": 3, "old-0-10-2 deleted": [0],
            "old-0-10-2 left": false,
        })
    );
}
