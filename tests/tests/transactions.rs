//! Transactions (KIP-98, KIP-447) with stock clients against a real `runnel`: exactly-once
//! consume-transform-produce through application and broker crashes, what read_committed and
//! read_uncommitted readers see of aborted, expired and fenced transactions, and kafkajs's
//! transaction API. Issue 20.

use std::time::Duration;

use runnel_tests::{
    Runnel, assert_exactly_once, python_json, run_client, runnel_cli, supervise_eos_app,
};

const RECORDS: usize = 300;

/// Issue 20, "must show": a confluent-kafka consume-transform-produce loop
/// (send_offsets_to_transaction, read_committed input and output) over 3 input partitions,
/// SIGKILLed twice while a transaction is open and restarted with the same transactional.id.
/// The new instance's InitProducerId fences the old one and aborts what it left open, so the
/// aborted outputs (seen by read_uncommitted) are never read_committed, and the records are
/// processed again from the committed offsets. Before: init_transactions() was refused.
#[test]
fn a_consume_transform_produce_loop_is_exactly_once_through_application_crashes() {
    let broker = Runnel::start("txn-eos-app", &[]);
    let r = python_json(
        &[
            "tests/clients/txn_eos.py",
            "run",
            &broker.bootstrap(),
            &RECORDS.to_string(),
            "2",
        ],
        Duration::from_secs(300),
    );
    assert_eq!(
        (r["kills"].as_u64(), r["runs"].as_u64()),
        (Some(2), Some(3)),
        "{r}"
    );
    assert_exactly_once(&r, RECORDS);
    assert!(
        r["uncommitted"]
            .as_u64()
            .is_some_and(|n| n > RECORDS as u64),
        "the killed transactions' outputs were written, then aborted: {r}"
    );
}

/// Issue 20, "must show": the same loop with the broker SIGKILLed while a transaction is open,
/// in fsync-before-ack mode, and restarted. The coordinator reloads `__transaction_state` and
/// the group offsets from the log and the run finishes exactly once. The application is
/// restarted when it stalls, as a supervisor would ([`supervise_eos_app`]).
#[test]
fn a_consume_transform_produce_loop_is_exactly_once_through_a_broker_crash() {
    let mut broker = Runnel::start("txn-eos-broker", &["log.flush.before.ack=true"]);
    let bootstrap = broker.bootstrap();
    let script = "tests/clients/txn_eos.py";
    run_client(
        "python3",
        &[script, "setup", &bootstrap, &RECORDS.to_string()],
        b"",
        Duration::from_secs(60),
    );
    let mut broker_killed = false;
    supervise_eos_app(
        &bootstrap,
        |open| {
            if !broker_killed && open >= RECORDS / 2 {
                broker.kill();
                broker.restart();
                broker_killed = true;
            }
        },
        Duration::from_secs(240),
    );
    assert!(broker_killed, "the broker was killed mid-run");
    let r = python_json(&[script, "check", &bootstrap], Duration::from_secs(120));
    assert_exactly_once(&r, RECORDS);
}

/// Issue 20, "must show" (Kafka's `read_committed` semantics, KIP-98): an aborted
/// transaction's records are returned to read_uncommitted and never to read_committed; a
/// transaction left open past its `transaction.timeout.ms` holds the last stable offset (a
/// record written after it is not read_committed) until the broker aborts it (Kafka's
/// `abortTimedOutTransactions`), and the expired producer is fenced; of two producers with
/// one transactional.id the older is fenced (PRODUCER_FENCED, fatal) and its next record is
/// not written at all; a consumer asking for its group's commit while a transaction holds one
/// waits for it (KIP-447's `require_stable`, UNSTABLE_OFFSET_COMMIT).
#[test]
fn aborted_expired_and_fenced_transactions_are_never_read_committed() {
    let broker = Runnel::start("txn-cases", &["log.cleaner.backoff.ms=200"]);
    let r = python_json(
        &["tests/clients/txn_cases.py", &broker.bootstrap()],
        Duration::from_secs(120),
    );
    let values = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .expect("values")
            .iter()
            .map(|x| x.as_str().expect("value").to_string())
            .collect()
    };
    let abort = &r["abort"];
    assert_eq!(values(&abort["committed"]), ["c0", "c1", "c2"], "{r}");
    assert_eq!(
        values(&abort["uncommitted"]),
        ["a0", "a1", "a2", "a3", "a4", "c0", "c1", "c2"],
        "{r}"
    );
    let timeout = &r["timeout"];
    assert_eq!(values(&timeout["committed"]), ["after"], "{r}");
    assert_eq!(values(&timeout["uncommitted"]), ["t0", "after"], "{r}");
    assert_eq!(
        timeout["lso_while_open"], 0,
        "held at the open transaction: {r}"
    );
    assert_eq!(
        timeout["lso_after"], 3,
        "t0, after and the abort marker: {r}"
    );
    let visible = timeout["visible_after_s"].as_f64().expect("became visible");
    assert!((2.0..10.0).contains(&visible), "after the 2 s timeout: {r}");
    assert_eq!(timeout["late_commit"], "_FENCED", "{r}");
    let fence = &r["fence"];
    assert_eq!(values(&fence["committed"]), ["y1"], "{r}");
    assert_eq!(
        values(&fence["uncommitted"]),
        ["z1", "y1"],
        "z2 never written: {r}"
    );
    assert_eq!(
        (&fence["old_error"], &fence["old_fatal"]),
        (&serde_json::json!("_FENCED"), &serde_json::json!(true)),
        "{r}"
    );
    // KIP-447's require_stable: the consumer waited for the transaction, then read its commit.
    let unstable = &r["unstable"];
    assert_eq!(unstable["committed"], 42, "{r}");
    assert!(
        unstable["waited_s"].as_f64().is_some_and(|s| s >= 1.5),
        "answered UNSTABLE_OFFSET_COMMIT until the commit: {r}"
    );
    // Compaction as Kafka's LogCleaner does it: the aborted k=v2 is dropped and does not
    // shadow the committed k=v1; committed records stay, in offset order, for both readers.
    let compact = &r["compact"];
    assert!(
        compact["cleaned_after_s"].is_number(),
        "the cleaner dropped the aborted record within 20 s: {r}"
    );
    for level in ["committed", "uncommitted"] {
        let read = values(&compact[level]);
        let transactional: Vec<&str> = read
            .iter()
            .map(String::as_str)
            .filter(|v| !v.starts_with('f'))
            .collect();
        assert_eq!(transactional, ["v1", "j1", "m1"], "{level}: {r}");
        assert!(
            read.last().is_some_and(|v| v.starts_with('f')),
            "{level}: {r}"
        );
    }
    // The CLI consumer never prints markers; under --read-committed it skips the aborted
    // transaction too, and stops at the last stable offset (tx-fence's open transaction).
    let b = broker.bootstrap();
    assert_eq!(
        runnel_cli(&["consume", "tx-abort", "-b", &b], b""),
        "a0\na1\na2\na3\na4\nc0\nc1\nc2\n"
    );
    assert_eq!(
        runnel_cli(&["consume", "tx-abort", "--read-committed", "-b", &b], b""),
        "c0\nc1\nc2\n"
    );
    assert_eq!(
        runnel_cli(
            &[
                "consume",
                "tx-fence",
                "--read-committed",
                "-G",
                "lso-readers",
                "-b",
                &b
            ],
            b""
        ),
        "y1\n"
    );
    // Lag counts to the last stable offset: the open transaction's record is not lag.
    let group: serde_json::Value = serde_json::from_str(&runnel_cli(
        &["group", "describe", "lso-readers", "-o", "json", "-b", &b],
        b"",
    ))
    .expect("JSON");
    let p = &group["partitions"][0];
    assert_eq!(
        (&p["committed"], &p["end"], &p["stable"], &p["lag"]),
        (
            &serde_json::json!(4),
            &serde_json::json!(5),
            &serde_json::json!(4),
            &serde_json::json!(0)
        ),
        "z1, its abort marker, y1, its commit marker, then the open record: {group}"
    );
    // The CLI (kafka-transactions.sh's list and describe, KIP-664).
    let list: serde_json::Value =
        serde_json::from_str(&runnel_cli(&["txn", "list", "-o", "json", "-b", &b], b""))
            .expect("JSON");
    let states: Vec<(String, String)> = list
        .as_array()
        .expect("rows")
        .iter()
        .map(|t| {
            let text = |k: &str| t[k].as_str().expect("text").to_string();
            (text("transactional_id"), text("state"))
        })
        .collect();
    let expected = [
        ("tx-abort", "CompleteCommit"),
        ("tx-compact", "CompleteCommit"),
        ("tx-fence", "CompleteCommit"),
        ("tx-open", "Ongoing"),
        ("tx-timeout", "CompleteAbort"),
        ("tx-unstable", "CompleteCommit"),
    ];
    assert_eq!(
        states,
        expected.map(|(i, s)| (i.to_string(), s.to_string())),
        "{list}"
    );
    let open: serde_json::Value = serde_json::from_str(&runnel_cli(
        &["txn", "describe", "tx-open", "-o", "json", "-b", &b],
        b"",
    ))
    .expect("JSON");
    assert_eq!(open["state"], "Ongoing", "{open}");
    assert_eq!(open["producer_epoch"], 0, "{open}");
    assert_eq!(
        open["transaction_timeout_ms"], 60000,
        "librdkafka's default: {open}"
    );
    assert!(
        open["transaction_start_time_ms"]
            .as_i64()
            .is_some_and(|t| t > 0),
        "{open}"
    );
    assert_eq!(
        open["partitions"],
        serde_json::json!([{"topic": "tx-fence", "partition": 0}]),
        "{open}"
    );
    let fenced: serde_json::Value = serde_json::from_str(&runnel_cli(
        &["txn", "describe", "tx-fence", "-o", "json", "-b", &b],
        b"",
    ))
    .expect("JSON");
    assert_eq!(
        (&fenced["state"], &fenced["producer_epoch"]),
        (&serde_json::json!("CompleteCommit"), &serde_json::json!(2)),
        "fenced at epoch 1, bumped to 2 for the new producer (Kafka's InitProducerId): {fenced}"
    );
}

/// Issue 20, "must show": kafkajs's transactions (send, sendOffsets, commit, abort): the
/// committed transactions' records and offsets are visible, the aborted one's are not.
#[test]
fn kafkajs_transactions_send_offsets_commit_and_abort() {
    let broker = Runnel::start("txn-kafkajs", &[]);
    let out = run_client(
        "node",
        &["tests/clients/kafkajs_txn.js", &broker.bootstrap()],
        b"",
        Duration::from_secs(120),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let r: serde_json::Value =
        serde_json::from_str(text.lines().last().unwrap_or_default()).expect("JSON summary");
    assert_eq!(
        r["committed"],
        serde_json::json!(["c0", "c1", "c2", "c3"]),
        "{r}"
    );
    assert_eq!(
        r["uncommitted"],
        serde_json::json!(["c0", "c1", "c2", "a0", "a1", "c3"]),
        "{r}"
    );
    assert_eq!(
        r["offset"], "7",
        "the aborted transaction's offset 9 is not shown: {r}"
    );
}

/// Kafka's `KafkaApis.handleProduceRequest`: a Produce carrying transactional records without
/// a transactional id is refused whole with TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53), and
/// writes nothing, so no transaction unknown to any coordinator can hold a partition's last
/// stable offset. Found by a review helper (before: accepted, and the LSO stayed behind it).
#[test]
fn transactional_records_without_a_transactional_id_are_refused() {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
    use kafka_protocol::protocol::{Decodable, StrBytes};
    use runnel_core::batch::{BatchBuilder, NoCodec};
    use runnel_tests::wire;

    let broker = Runnel::start("txn-no-id", &[]);
    let b = broker.bootstrap();
    runnel_cli(&["topic", "create", "plain", "-p", "1", "-b", &b], b"");
    let mut builder = BatchBuilder::new(0).producer(777, 0, 0).transactional(true);
    builder.push(1_700_000_000_000, None, Some(b"orphan"), Vec::new());
    let records = builder.build(&NoCodec).expect("batch");
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(1_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("plain")))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records.into())),
                ]),
        ]);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", broker.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let body = wire::round_trip(&mut stream, &wire::frame(ApiKey::Produce, 9, 1, &request))
        .expect("a produce response");
    let mut bytes = bytes::Bytes::copy_from_slice(&body[5..]);
    let response = ProduceResponse::decode(&mut bytes, 9).expect("produce response");
    let partition = &response.responses[0].partition_responses[0];
    assert_eq!(partition.error_code, 53, "{response:?}");
    assert_eq!(
        runnel_cli(&["consume", "plain", "-b", &b], b""),
        "",
        "nothing written"
    );
}

/// Kafka's `transactional.id.expiration.ms` (`TransactionStateManager.
/// removeExpiredTransactionalIds`, KIP-98): a transactional id with no transaction open and no
/// change for that long is forgotten — a tombstone in `__transaction_state`, so a restarted
/// coordinator does not bring it back — and the next producer with that id gets a new
/// producer id at epoch 0 (before: ids were kept for ever).
#[test]
fn an_idle_transactional_id_expires_and_stays_expired_across_a_restart() {
    const ONE_TRANSACTION: &str = "import sys\n\
from confluent_kafka import Producer\n\
p = Producer({'bootstrap.servers': sys.argv[1], 'transactional.id': 'tx-idle'})\n\
p.init_transactions(10)\n\
p.begin_transaction()\n\
p.produce('idle', b'v')\n\
p.commit_transaction(10)\n";
    let mut broker = Runnel::start("txn-expire", &["transactional.id.expiration.ms=2000"]);
    let b = broker.bootstrap();
    runnel_cli(&["topic", "create", "idle", "-p", "1", "-b", &b], b"");
    let transaction = |b: &str| {
        let out = run_client(
            "python3",
            &["-c", ONE_TRANSACTION, b],
            b"",
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "{out:?}");
    };
    let listed = |b: &str| -> Vec<String> {
        let list: serde_json::Value =
            serde_json::from_str(&runnel_cli(&["txn", "list", "-o", "json", "-b", b], b""))
                .expect("JSON");
        list.as_array()
            .expect("rows")
            .iter()
            .map(|t| t["transactional_id"].as_str().expect("id").to_string())
            .collect()
    };
    let describe = |b: &str| -> serde_json::Value {
        serde_json::from_str(&runnel_cli(
            &["txn", "describe", "tx-idle", "-o", "json", "-b", b],
            b"",
        ))
        .expect("JSON")
    };
    transaction(&b);
    let first = describe(&b);
    assert_eq!(first["state"], "CompleteCommit", "{first}");
    assert_eq!(listed(&b), ["tx-idle"]);
    let began = std::time::Instant::now();
    while listed(&b).contains(&"tx-idle".to_string()) {
        assert!(
            began.elapsed() < Duration::from_secs(15),
            "still listed 15 s after a 2 s expiration"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    broker.kill();
    broker.restart();
    let b = broker.bootstrap();
    assert!(
        listed(&b).is_empty(),
        "the tombstone keeps it expired after a restart"
    );
    transaction(&b);
    let second = describe(&b);
    assert_eq!(second["state"], "CompleteCommit", "{second}");
    assert_eq!(second["producer_epoch"], 0, "a new producer: {second}");
    assert_ne!(
        second["producer_id"], first["producer_id"],
        "a new producer id: {first} then {second}"
    );
    assert_eq!(
        runnel_cli(&["consume", "idle", "--read-committed", "-b", &b], b""),
        "v\nv\n"
    );
}
