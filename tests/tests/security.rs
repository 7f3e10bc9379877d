//! SSL and SASL listeners against librdkafka (OpenSSL, Cyrus SASL), through confluent-kafka and
//! kcat. A broker with a PLAINTEXT and an SSL listener answers each listener's clients with
//! that listener's address (Kafka's rule), carries records and a consumer group over TLS,
//! refuses a client that does not speak TLS on the SSL port, and with `ssl.client.auth=required`
//! takes only clients whose certificate its truststore signed. SASL/PLAIN (KIP-43, KIP-152)
//! lets in the users of `sasl.jaas.config` and nobody else, on SASL_PLAINTEXT and SASL_SSL.
//! Certificates are made by the openssl command for each test.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use runnel_tests::{
    Certificates, Runnel, client_command, free_port, run_client, runnel_cli, temp_dir,
};

/// A broker with `PLAINTEXT` on one port and `SSL` on another; returns it and the SSL port.
fn broker_with_ssl(name: &str, certs: &Certificates, extra: &[&str]) -> (Runnel, u16) {
    let plain = free_port();
    let ssl = free_port();
    let mut settings = vec![
        format!("listeners=PLAINTEXT://127.0.0.1:{plain},SSL://127.0.0.1:{ssl}"),
        format!("ssl.keystore.location={}", certs.path("broker.pem")),
        "num.partitions=1".to_string(),
    ];
    settings.extend(extra.iter().map(|s| s.to_string()));
    (Runnel::start_on(name, plain, free_port(), &settings), ssl)
}

/// Produces and consumes three records with the client `settings` (librdkafka names).
fn roundtrip(bootstrap: &str, topic: &str, settings: serde_json::Value) -> serde_json::Value {
    let settings = settings.to_string();
    let all = [
        "tests/clients/security.py",
        "roundtrip",
        bootstrap,
        topic,
        &settings,
    ];
    let out = run_client("python3", &all, b"", Duration::from_secs(90));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "security.py printed no JSON: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Client settings for TLS with the test CA (and a client certificate).
fn ssl_settings(certs: &Certificates, client_certificate: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "security.protocol": "SSL",
        "ssl.ca.location": certs.path("ca.pem"),
    });
    if client_certificate {
        v["ssl.certificate.location"] = certs.path("client.crt").into();
        v["ssl.key.location"] = certs.path("client.key").into();
    }
    v
}

fn kcat_brokers(args: &[&str]) -> (bool, String) {
    let mut all = vec!["-L", "-J", "-m", "5"];
    all.extend(args);
    // kcat bounds itself (-m 5); a refusal is an expected outcome here, not a panic.
    let out = client_command("kcat")
        .args(&all)
        .stdin(Stdio::null())
        .output()
        .expect("kcat (the test command installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn ssl_listener_carries_records_and_groups_and_advertises_itself() {
    let certs = Certificates::make("tls-certs");
    let (broker, ssl) = broker_with_ssl("tls-basic", &certs, &[]);
    let ssl_bootstrap = format!("127.0.0.1:{ssl}");
    let got = roundtrip(&ssl_bootstrap, "secure", ssl_settings(&certs, false));
    assert_eq!(
        got["values"],
        serde_json::json!(["one", "two", "three"]),
        "{got}"
    );
    // A client of the SSL listener is told the SSL port, one of the PLAINTEXT listener the
    // PLAINTEXT port (Kafka: Metadata answers with the listener the request came through).
    assert_eq!(
        got["brokers"],
        serde_json::json!([[0, "127.0.0.1", ssl]]),
        "{got}"
    );
    let (ok, json) = kcat_brokers(&["-b", &broker.bootstrap()]);
    assert!(ok, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("kcat JSON");
    assert_eq!(
        v["brokers"][0]["name"],
        format!("127.0.0.1:{}", broker.port)
    );
    let (ok, json) = kcat_brokers(&[
        "-b",
        &ssl_bootstrap,
        "-X",
        "security.protocol=ssl",
        "-X",
        &format!("ssl.ca.location={}", certs.path("ca.pem")),
    ]);
    assert!(ok, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("kcat JSON");
    assert_eq!(v["brokers"][0]["name"], format!("127.0.0.1:{ssl}"));
    // A plaintext client on the SSL port gets no answer it can read; the broker goes on.
    let (ok, _) = kcat_brokers(&["-b", &ssl_bootstrap]);
    assert!(!ok, "plaintext Kafka on the SSL port must fail");
    let again = roundtrip(&ssl_bootstrap, "secure2", ssl_settings(&certs, false));
    assert_eq!(again["values"], serde_json::json!(["one", "two", "three"]));
    drop(broker);
}

#[test]
fn required_client_auth_takes_only_signed_clients() {
    let certs = Certificates::make("tls-certs-mtls");
    let truststore = format!("ssl.truststore.location={}", certs.path("ca.pem"));
    let (_broker, ssl) = broker_with_ssl(
        "tls-mtls",
        &certs,
        &["ssl.client.auth=required", &truststore],
    );
    let bootstrap = format!("127.0.0.1:{ssl}");
    let without = roundtrip(&bootstrap, "m", ssl_settings(&certs, false));
    assert!(
        without["error"].is_string(),
        "no client certificate: {without}"
    );
    let with = roundtrip(&bootstrap, "m", ssl_settings(&certs, true));
    assert_eq!(
        with["values"],
        serde_json::json!(["one", "two", "three"]),
        "{with}"
    );
}

/// With mutual TLS the client's certificate names its principal, as Kafka's default principal
/// builder does (`User:` and the subject, `CN=client-1`): ACLs for that principal let it
/// produce and consume as a group on the SSL listener and nowhere else; the loopback
/// PLAINTEXT listener's ANONYMOUS is the super user that made them.
#[test]
fn a_client_certificate_is_the_principal_acls_name() {
    let certs = Certificates::make("tls-certs-acl");
    let truststore = format!("ssl.truststore.location={}", certs.path("ca.pem"));
    let (broker, ssl) = broker_with_ssl(
        "tls-acl",
        &certs,
        &[
            "ssl.client.auth=required",
            &truststore,
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users=User:ANONYMOUS",
        ],
    );
    let admin = broker.bootstrap();
    for topic in ["granted", "other"] {
        runnel_cli(&["topic", "create", topic, "-b", &admin], b"");
    }
    for args in [
        &[
            "--operation",
            "write",
            "--operation",
            "read",
            "--topic",
            "granted",
        ][..],
        &["--operation", "read", "--group", "tls-group"][..],
    ] {
        let mut all = vec![
            "acl",
            "create",
            "--principal",
            "User:CN=client-1",
            "-b",
            &admin,
        ];
        all.extend_from_slice(args);
        runnel_cli(&all, b"");
    }
    let bootstrap = format!("127.0.0.1:{ssl}");
    let granted = roundtrip(&bootstrap, "granted", ssl_settings(&certs, true));
    assert_eq!(
        granted["values"],
        serde_json::json!(["one", "two", "three"]),
        "{granted}\n{}",
        broker.log()
    );
    let other = roundtrip(&bootstrap, "other", ssl_settings(&certs, true));
    assert!(
        other["error"]
            .as_str()
            .is_some_and(|e| e.contains("TOPIC_AUTHORIZATION_FAILED")),
        "{other}"
    );
    let log = broker.log();
    assert!(
        log.contains("principal User:CN=client-1 from 127.0.0.1 denied DESCRIBE on TOPIC other"),
        "{log}"
    );
}

/// kafkajs over SASL_SSL with PLAIN (the issue's "kafkajs over SASL_SSL"): its whole round
/// trip (admin, produce with headers, a two-member group that rebalances) against the test CA;
/// a wrong password is refused.
#[test]
fn kafkajs_speaks_sasl_ssl_with_plain() {
    let certs = Certificates::make("tls-certs-kafkajs");
    let port = free_port();
    let broker = Runnel::start_on(
        "kafkajs-sasl-ssl",
        port,
        free_port(),
        &[
            format!("listeners=SASL_SSL://127.0.0.1:{port}"),
            format!("ssl.keystore.location={}", certs.path("broker.pem")),
            JAAS.to_string(),
        ],
    );
    let run = |password: &str| {
        let security = serde_json::json!({
            "ca": certs.path("ca.pem"), "username": "alice", "password": password, "retries": 0,
        });
        client_command("node")
            .args([
                "tests/clients/kafkajs_roundtrip.js",
                &broker.bootstrap(),
                &security.to_string(),
            ])
            .current_dir(runnel_tests::workspace_root())
            .stdin(Stdio::null())
            .output()
            .expect("node runs")
    };
    let out = run("alice-secret");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(text.lines().last().unwrap_or_default()).expect("JSON summary");
    assert_eq!(
        (&result["records"], &result["duplicates"]),
        (&serde_json::json!(60), &serde_json::json!(0)),
        "{text}"
    );
    let refused = run("wrong");
    assert!(
        !refused.status.success(),
        "a wrong password must be refused"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("SASL PLAIN authentication failed"),
        "{stderr}"
    );
}

/// Settings that cannot work are refused at start, by name.
#[test]
fn bad_tls_settings_stop_the_start_with_a_line() {
    let dir = temp_dir("tls-bad");
    let missing = Path::new("/nonexistent/broker.pem");
    let out = Command::new(runnel_tests::runnel_binary())
        .args([
            "--data-dir",
            &dir.to_string_lossy(),
            "--admin",
            &format!("127.0.0.1:{}", free_port()),
            "--set",
            &format!("listeners=SSL://127.0.0.1:{}", free_port()),
            "--set",
            &format!("ssl.keystore.location={}", missing.display()),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("runnel");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ssl.keystore.location /nonexistent/broker.pem"),
        "{err}"
    );
}

const JAAS: &str = r#"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";"#;

fn plain(protocol: &str, user: &str, password: &str) -> serde_json::Value {
    serde_json::json!({
        "security.protocol": protocol,
        "sasl.mechanism": "PLAIN",
        "sasl.username": user,
        "sasl.password": password,
    })
}

/// SASL/PLAIN on SASL_PLAINTEXT (KIP-43, KIP-152): a user of `sasl.jaas.config` produces and
/// consumes; a wrong password or an unknown user is refused with Kafka's "Authentication
/// failed: Invalid username or password"; a client that skips SASL is cut off at its first
/// request; the PLAINTEXT listener beside it is open as before.
#[test]
fn sasl_plain_lets_in_only_known_users() {
    let plain_port = free_port();
    let sasl_port = free_port();
    let broker = Runnel::start_on(
        "sasl-plain",
        plain_port,
        free_port(),
        &[
            format!(
                "listeners=PLAINTEXT://127.0.0.1:{plain_port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
            ),
            JAAS.to_string(),
        ],
    );
    let bootstrap = format!("127.0.0.1:{sasl_port}");
    let alice = roundtrip(
        &bootstrap,
        "s",
        plain("SASL_PLAINTEXT", "alice", "alice-secret"),
    );
    assert_eq!(
        alice["values"],
        serde_json::json!(["one", "two", "three"]),
        "{alice}"
    );
    assert_eq!(
        alice["brokers"],
        serde_json::json!([[0, "127.0.0.1", sasl_port]])
    );
    for (user, password) in [
        ("alice", "wrong"),
        ("mallory", "alice-secret"),
        ("username", "admin"),
    ] {
        let refused = roundtrip(&bootstrap, "s", plain("SASL_PLAINTEXT", user, password));
        assert!(refused["error"].is_string(), "{user}/{password}: {refused}");
    }
    assert!(
        broker
            .log()
            .contains("Authentication failed: Invalid username or password"),
        "{}",
        broker.log()
    );
    let (ok, _) = kcat_brokers(&["-b", &bootstrap]);
    assert!(!ok, "a client without SASL must not get Metadata");
    assert!(broker.log().contains("before SASL authentication; closing"));
    let (ok, json) = kcat_brokers(&[
        "-b",
        &bootstrap,
        "-X",
        "security.protocol=sasl_plaintext",
        "-X",
        "sasl.mechanism=PLAIN",
        "-X",
        "sasl.username=admin",
        "-X",
        "sasl.password=admin-secret",
    ]);
    assert!(ok, "{json}");
    let (ok, _) = kcat_brokers(&["-b", &broker.bootstrap()]);
    assert!(ok, "the PLAINTEXT listener needs no SASL");
}

/// [`roundtrip`] that must carry the three records.
fn assert_scram_roundtrip(bootstrap: &str, topic: &str, settings: serde_json::Value) {
    let got = roundtrip(bootstrap, topic, settings.clone());
    assert_eq!(
        got["values"],
        serde_json::json!(["one", "two", "three"]),
        "{settings}: {got}"
    );
}

fn scram(mechanism: &str, user: &str, password: &str, certs: &Certificates) -> serde_json::Value {
    serde_json::json!({
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.username": user,
        "sasl.password": password,
        "ssl.ca.location": certs.path("ca.pem"),
    })
}

/// SASL_SSL with SCRAM (RFC 5802/7677, KIP-554), issue 21's must-show: users made with
/// `runnel user create` on the PLAINTEXT listener produce and consume as a group through
/// confluent-kafka, and kcat reads metadata; a wrong password, a mechanism the user has no
/// credential for, a deleted user and a certificate from another CA are refused.
/// confluent-kafka's admin client manages credentials with Kafka's codes (too few or too many
/// iterations UNACCEPTABLE_CREDENTIAL, deleting what is not there RESOURCE_NOT_FOUND). The
/// broker keeps salted keys, never a password, and keeps them across a restart.
#[test]
fn sasl_ssl_scram_lets_in_only_users_made_with_kip_554() {
    let certs = Certificates::make("scram-certs");
    let plain_port = free_port();
    let port = free_port();
    let mut broker = Runnel::start_on(
        "sasl-scram",
        plain_port,
        free_port(),
        &[
            format!("listeners=PLAINTEXT://127.0.0.1:{plain_port},SASL_SSL://127.0.0.1:{port}"),
            format!("ssl.keystore.location={}", certs.path("broker.pem")),
            "sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256".to_string(),
        ],
    );
    let admin = broker.bootstrap();
    let created = runnel_tests::runnel_cli(
        &[
            "user",
            "create",
            "alice",
            "--password",
            "alice-secret",
            "-b",
            &admin,
        ],
        b"",
    );
    assert_eq!(
        created,
        "user alice: SCRAM-SHA-512 credential set (4096 iterations)\n"
    );
    let bootstrap = format!("127.0.0.1:{port}");
    assert_scram_roundtrip(
        &bootstrap,
        "sc",
        scram("SCRAM-SHA-512", "alice", "alice-secret", &certs),
    );
    for (mechanism, user, password, why) in [
        ("SCRAM-SHA-512", "alice", "wrong", "a wrong password"),
        (
            "SCRAM-SHA-256",
            "alice",
            "alice-secret",
            "no SCRAM-SHA-256 credential",
        ),
        (
            "SCRAM-SHA-512",
            "mallory",
            "alice-secret",
            "an unknown user",
        ),
    ] {
        let refused = roundtrip(&bootstrap, "sc", scram(mechanism, user, password, &certs));
        assert!(refused["error"].is_string(), "{why}: {refused}");
    }
    assert!(
        broker.log().contains(
            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
        ),
        "{}",
        broker.log()
    );
    let mut other_ca = scram("SCRAM-SHA-512", "alice", "alice-secret", &certs);
    other_ca["ssl.ca.location"] = certs.path("client.crt").into();
    let untrusted = roundtrip(&bootstrap, "sc", other_ca);
    assert!(untrusted["error"].is_string(), "another CA: {untrusted}");
    // kcat's -X properties for alice over SASL_SSL with SCRAM-SHA-512 (the CLI takes them too).
    let alice_properties = |password: &str| -> Vec<String> {
        vec![
            "-b".into(),
            bootstrap.clone(),
            "-X".into(),
            "security.protocol=sasl_ssl".into(),
            "-X".into(),
            "sasl.mechanism=SCRAM-SHA-512".into(),
            "-X".into(),
            "sasl.username=alice".into(),
            "-X".into(),
            format!("sasl.password={password}"),
            "-X".into(),
            format!("ssl.ca.location={}", certs.path("ca.pem")),
        ]
    };
    let kcat = |password: &str| {
        let properties = alice_properties(password);
        let args: Vec<&str> = properties.iter().map(String::as_str).collect();
        kcat_brokers(&args).0
    };
    assert!(
        kcat("alice-secret"),
        "kcat over SASL_SSL with SCRAM-SHA-512"
    );
    assert!(!kcat("wrong"), "kcat with a wrong password");
    // The command line as a SCRAM client (kcat's -X names).
    let cli = |password: &str, args: &[&str]| {
        Command::new(runnel_tests::runnel_binary())
            .args(args)
            .args(alice_properties(password))
            .env_remove("RUNNEL_BROKERS")
            .stdin(Stdio::null())
            .output()
            .expect("runnel")
    };
    let consumed = cli("alice-secret", &["consume", "sc"]);
    assert_eq!(
        String::from_utf8_lossy(&consumed.stdout),
        "one\ntwo\nthree\n",
        "{consumed:?}"
    );
    let wrong = cli("wrong", &["topic", "list"]);
    assert_eq!(
        String::from_utf8_lossy(&wrong.stderr),
        format!(
            "runnel: broker {bootstrap}: SASL authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512\n"
        )
    );

    // KIP-554 from a stock admin client.
    let out = run_client(
        "python3",
        &[
            "tests/clients/security.py",
            "scram-admin",
            &admin,
            "bob",
            "bob-secret",
        ],
        b"",
        Duration::from_secs(60),
    );
    let admin_result: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(
        admin_result,
        serde_json::json!({
            "set": null,
            "refused": {
                "too-few": "UNACCEPTABLE_CREDENTIAL",
                "too-many": "UNACCEPTABLE_CREDENTIAL",
                "not-there": "RESOURCE_NOT_FOUND",
            },
            "described": {
                "bob": [["SCRAM_SHA_256", 8192]],
                "nobody": "RESOURCE_NOT_FOUND",
            },
        })
    );
    assert_scram_roundtrip(
        &bootstrap,
        "sc2",
        scram("SCRAM-SHA-256", "bob", "bob-secret", &certs),
    );
    let listed = runnel_tests::runnel_cli(&["user", "list", "-b", &admin], b"");
    assert_eq!(
        listed
            .lines()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>)
            .collect::<Vec<_>>(),
        vec![
            vec!["USER", "MECHANISM", "ITERATIONS"],
            vec!["alice", "SCRAM-SHA-512", "4096"],
            vec!["bob", "SCRAM-SHA-256", "8192"],
        ]
    );
    let saved = std::fs::read_to_string(broker.data_dir.join("scram-credentials.json"))
        .expect("saved credentials");
    assert!(
        !saved.contains("secret") && saved.contains("stored_key"),
        "salted keys only: {saved}"
    );

    // Deleted: alice is refused; bob's credential survives a restart.
    runnel_tests::runnel_cli(&["user", "delete", "alice", "-b", &admin], b"");
    let gone = roundtrip(
        &bootstrap,
        "sc",
        scram("SCRAM-SHA-512", "alice", "alice-secret", &certs),
    );
    assert!(gone["error"].is_string(), "a deleted user: {gone}");
    assert!(broker.terminate(), "a clean stop");
    broker.restart();
    assert_scram_roundtrip(
        &bootstrap,
        "sc3",
        scram("SCRAM-SHA-256", "bob", "bob-secret", &certs),
    );
}

/// SASL_SSL: PLAIN inside TLS, the way PLAIN is meant to be used.
#[test]
fn sasl_ssl_combines_tls_and_plain() {
    let certs = Certificates::make("sasl-ssl-certs");
    let plain_port = free_port();
    let port = free_port();
    let _broker = Runnel::start_on(
        "sasl-ssl",
        plain_port,
        free_port(),
        &[
            format!("listeners=PLAINTEXT://127.0.0.1:{plain_port},SASL_SSL://127.0.0.1:{port}"),
            format!("ssl.keystore.location={}", certs.path("broker.pem")),
            JAAS.to_string(),
        ],
    );
    let mut settings = plain("SASL_SSL", "alice", "alice-secret");
    settings["ssl.ca.location"] = certs.path("ca.pem").into();
    let got = roundtrip(&format!("127.0.0.1:{port}"), "ss", settings.clone());
    assert_eq!(
        got["values"],
        serde_json::json!(["one", "two", "three"]),
        "{got}"
    );
    settings["sasl.password"] = "wrong".into();
    let refused = roundtrip(&format!("127.0.0.1:{port}"), "ss", settings);
    assert!(refused["error"].is_string(), "{refused}");

    // The command line, with kcat's -X properties.
    let bootstrap = format!("127.0.0.1:{port}");
    let ca = format!("ssl.ca.location={}", certs.path("ca.pem"));
    let cli = |password: &str, ca: &str, args: &[&str], stdin: &[u8]| {
        let password = format!("sasl.password={password}");
        let mut all: Vec<&str> = args.to_vec();
        all.extend([
            "-b",
            &bootstrap,
            "-X",
            "security.protocol=sasl_ssl",
            "-X",
            ca,
            "-X",
            "sasl.username=alice",
            "-X",
            &password,
        ]);
        let mut child = Command::new(runnel_tests::runnel_binary())
            .args(&all)
            .env_remove("RUNNEL_BROKERS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runnel");
        use std::io::Write;
        let _ = child.stdin.take().expect("stdin").write_all(stdin);
        child.wait_with_output().expect("runnel output")
    };
    let created = cli("alice-secret", &ca, &["topic", "create", "c"], b"");
    assert!(created.status.success(), "{created:?}");
    let produced = cli("alice-secret", &ca, &["produce", "c"], b"over tls\n");
    assert!(produced.status.success(), "{produced:?}");
    let consumed = cli("alice-secret", &ca, &["consume", "c"], b"");
    assert_eq!(String::from_utf8_lossy(&consumed.stdout), "over tls\n");
    let wrong = cli("nope", &ca, &["topic", "list"], b"");
    assert_eq!(
        String::from_utf8_lossy(&wrong.stderr),
        format!(
            "runnel: broker {bootstrap}: SASL authentication failed: Authentication failed: Invalid username or password\n"
        )
    );
    let other_ca = format!("ssl.ca.location={}", certs.path("client.crt"));
    let untrusted = cli("alice-secret", &other_ca, &["topic", "list"], b"");
    let err = String::from_utf8_lossy(&untrusted.stderr);
    assert!(err.contains("TLS: invalid peer certificate"), "{err}");
}

/// Each listener advertises its own address unless `advertised.host` is set (a second
/// listener on another IP was told the first one's), and `--listen` moves the first listener
/// without dropping its protocol (it used to turn a SASL listener into an open one).
#[test]
fn listeners_advertise_their_own_address_and_listen_keeps_the_protocol() {
    let first = free_port();
    let second = free_port();
    let broker = Runnel::start_on(
        "listeners-own-address",
        first,
        free_port(),
        &[
            format!("listeners=PLAINTEXT://127.0.0.1:{first},OTHER://127.0.0.2:{second}"),
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT".to_string(),
        ],
    );
    let (ok, json) = kcat_brokers(&["-b", &format!("127.0.0.2:{second}")]);
    assert!(ok, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("kcat JSON");
    assert_eq!(v["brokers"][0]["name"], format!("127.0.0.2:{second}"));
    drop(broker);

    let moved = free_port();
    let dir = temp_dir("listen-keeps-sasl");
    let mut child = Command::new(runnel_tests::runnel_binary())
        .args([
            "--data-dir",
            &dir.to_string_lossy(),
            "--admin",
            &format!("127.0.0.1:{}", free_port()),
            "--listen",
            &format!("127.0.0.1:{moved}"),
            "--set",
            &format!("listeners=SASL_PLAINTEXT://127.0.0.1:{}", free_port()),
            "--set",
            JAAS,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("runnel");
    std::thread::sleep(Duration::from_millis(1500));
    let (open, _) = kcat_brokers(&["-b", &format!("127.0.0.1:{moved}")]);
    let alice = roundtrip(
        &format!("127.0.0.1:{moved}"),
        "l",
        plain("SASL_PLAINTEXT", "alice", "alice-secret"),
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!open, "the moved listener still asks for SASL");
    assert_eq!(
        alice["values"],
        serde_json::json!(["one", "two", "three"]),
        "{alice}"
    );
}

/// The first request after SaslAuthenticate is held to the authenticated limits, not to the
/// 512 KiB allowed before it (Kafka's `sasl.server.max.receive.size` applies until the
/// authentication completes): a 600 KiB produce sent right after logging in is answered.
#[test]
fn the_first_request_after_sasl_may_be_large() {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{
        ApiKey, ProduceRequest, ProduceResponse, SaslAuthenticateRequest, SaslAuthenticateResponse,
        SaslHandshakeRequest, TopicName,
    };
    use kafka_protocol::protocol::{Decodable, StrBytes};
    use runnel_core::batch::{BatchBuilder, NoCodec};
    use runnel_tests::wire;

    let plain_port = free_port();
    let sasl_port = free_port();
    let broker = Runnel::start_on(
        "sasl-large-first",
        plain_port,
        free_port(),
        &[
            format!(
                "listeners=PLAINTEXT://127.0.0.1:{plain_port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
            ),
            JAAS.to_string(),
            "num.partitions=1".to_string(),
        ],
    );
    runnel_tests::runnel_cli(&["topic", "create", "big", "-b", &broker.bootstrap()], b"");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", sasl_port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN"));
    wire::round_trip(
        &mut stream,
        &wire::frame(ApiKey::SaslHandshake, 1, 1, &handshake),
    )
    .expect("handshake answered");
    let login = SaslAuthenticateRequest::default()
        .with_auth_bytes(bytes::Bytes::from_static(b"\0alice\0alice-secret"));
    let body = wire::round_trip(
        &mut stream,
        &wire::frame(ApiKey::SaslAuthenticate, 2, 2, &login),
    )
    .expect("authenticate answered");
    // SaslAuthenticate v2 has a flexible response header: the correlation id, then tags.
    let mut bytes = bytes::Bytes::copy_from_slice(&body[5..]);
    let answer = SaslAuthenticateResponse::decode(&mut bytes, 2).expect("authenticate response");
    assert_eq!(answer.error_code, 0, "{answer:?}");
    let value = vec![b'x'; 600 * 1024];
    let mut batch = BatchBuilder::new(0);
    batch.push(1_700_000_000_000, None, Some(&value), Vec::new());
    let records = batch.build(&NoCodec).expect("batch");
    let produce = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("big")))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records.into())),
                ]),
        ]);
    let body = wire::round_trip(&mut stream, &wire::frame(ApiKey::Produce, 7, 3, &produce))
        .unwrap_or_else(|| panic!("the connection was closed:\n{}", broker.log()));
    let mut bytes = bytes::Bytes::copy_from_slice(&body[4..]);
    let response = ProduceResponse::decode(&mut bytes, 7).expect("produce response");
    let p = &response.responses[0].partition_responses[0];
    assert_eq!((p.error_code, p.base_offset), (0, 0));
}

/// Without an authorizer Kafka answers the ACL APIs with SECURITY_DISABLED ("No Authorizer is
/// configured.", `KafkaApis`); so does runnel without `authorizer.class.name`, and an
/// admin client says so instead of failing on an unknown API (librdkafka reports it for
/// CreateAcls and DeleteAcls; for DescribeAcls it drops the top-level error and lists nothing,
/// as it does against Kafka).
#[test]
fn acl_apis_say_that_no_authorizer_is_configured() {
    let broker = Runnel::start("acl-apis", &[]);
    let out = run_client(
        "python3",
        &["tests/clients/security.py", "acls", &broker.bootstrap()],
        b"",
        Duration::from_secs(60),
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(
        got,
        serde_json::json!({
            "describe": [],
            "create": "SECURITY_DISABLED",
            "delete": "SECURITY_DISABLED",
        })
    );
}

/// Kafka's ACLs with `authorizer.class.name` (Kafka's StandardAuthorizer rules, core's
/// `acl::Authorizer`), driven as a user would with confluent-kafka over SASL_PLAINTEXT, in the
/// issue's words: alice may write topics prefixed `orders.` and read them with group
/// `billing`, and does exactly that; everything else she tries (another topic, another group,
/// creating a topic or an ACL) is refused with Kafka's code, is logged with the principal and
/// the resource, and leaves the logs and the groups as they were; Metadata lists only the
/// topics she may describe. bob's DENY on a topic wins over his ALLOW on `*`. A deleted ACL
/// stops applying at once; the ACLs outlive a restart, and `runnel acl` lists, adds and
/// removes them.
#[test]
fn acls_decide_who_may_do_what() {
    let sasl_port = free_port();
    let mut broker = Runnel::start_on(
        "acl-enforce",
        sasl_port,
        free_port(),
        &[
            format!("listeners=SASL_PLAINTEXT://127.0.0.1:{sasl_port}"),
            r#"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret" user_bob="bob-secret";"#.to_string(),
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer".into(),
            "super.users=User:admin".into(),
        ],
    );
    let bootstrap = format!("127.0.0.1:{sasl_port}");
    let out = run_client(
        "python3",
        &["tests/clients/security.py", "acl-enforce", &bootstrap],
        b"",
        Duration::from_secs(240),
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}\n{}", String::from_utf8_lossy(&out.stderr), broker.log()));
    let expected = serde_json::json!({
        "admin_create_topics": [null, null, null, null],
        "alice_create_topic": "TOPIC_AUTHORIZATION_FAILED",
        "create_acls": [null, null, null, null, null],
        "described": [
            ["GROUP", "billing", "LITERAL", "User:alice", "*", "READ", "ALLOW"],
            ["TOPIC", "*", "LITERAL", "User:bob", "*", "READ", "ALLOW"],
            ["TOPIC", "orders.", "PREFIXED", "User:alice", "*", "READ", "ALLOW"],
            ["TOPIC", "orders.", "PREFIXED", "User:alice", "*", "WRITE", "ALLOW"],
            ["TOPIC", "orders.eu", "LITERAL", "User:bob", "*", "ALL", "DENY"],
        ],
        // Metadata lists only what the principal may DESCRIBE (READ and WRITE imply it).
        "alice_topics": ["orders.eu", "orders.us"],
        "bob_topics": ["__consumer_offsets", "orders", "orders.us", "secret"],
        "alice_produce": {
            "orders.eu": null,
            "orders.us": null,
            "orders": "TOPIC_AUTHORIZATION_FAILED",
            "secret": "TOPIC_AUTHORIZATION_FAILED",
        },
        "bob_produce_orders_eu": "TOPIC_AUTHORIZATION_FAILED",
        "alice_billing": {"values": ["orders.eu-1", "orders.eu-2"]},
        "alice_other_group": {"error": "GROUP_AUTHORIZATION_FAILED"},
        // With Kafka's message (Errors.java), which librdkafka shows.
        "alice_other_group_text": "FindCoordinator response error: Group authorization failed.",
        "alice_read_secret": {"error": "TOPIC_AUTHORIZATION_FAILED"},
        // The refused writes left nothing; only billing exists, with her one commit.
        "log_end_offsets": {"orders.eu": 2, "orders.us": 2, "orders": 0, "secret": 0},
        "groups": ["billing"],
        "billing_commits": [["orders.eu", 0, 2]],
        "alice_create_acls": "CLUSTER_AUTHORIZATION_FAILED",
        "deleted": [["orders.", "User:alice", "WRITE"]],
        "alice_produce_after_delete": "TOPIC_AUTHORIZATION_FAILED",
        "admin_produce_offsets": "TOPIC_EXCEPTION",
        "alice_describe_cluster": [1, []],
        "admin_describe_cluster": [1, [
            "ALTER", "ALTER_CONFIGS", "CLUSTER_ACTION", "CREATE", "DESCRIBE",
            "DESCRIBE_CONFIGS", "IDEMPOTENT_WRITE",
        ]],
        // bob may describe secret (READ on *) but not delete it; nope does not exist.
        "bob_delete_topics": ["TOPIC_AUTHORIZATION_FAILED", "UNKNOWN_TOPIC_OR_PART"],
    });
    assert_eq!(got, expected, "{}", broker.log());
    let log = broker.log();
    for line in [
        // Her producer asked for metadata first (Metadata needs DESCRIBE).
        "principal User:alice from 127.0.0.1 denied DESCRIBE on TOPIC secret",
        "principal User:alice from 127.0.0.1 denied CREATE on TOPIC orders.new",
        "principal User:bob from 127.0.0.1 denied DESCRIBE on TOPIC orders.eu",
        // FindCoordinator needs DESCRIBE on the group.
        "principal User:alice from 127.0.0.1 denied DESCRIBE on GROUP other",
        "principal User:alice from 127.0.0.1 denied ALTER on CLUSTER kafka-cluster",
        "principal User:alice from 127.0.0.1 denied WRITE on TOPIC orders.eu",
        "ACL removed: User:alice ALLOW WRITE from * on TOPIC PREFIXED orders.",
    ] {
        assert!(log.contains(line), "no {line:?} in the log:\n{log}");
    }
    assert!(
        !log.contains("denied CREATE on TOPIC orders.eu"),
        "CREATE is asked only when a topic would be created:\n{log}"
    );
    assert!(broker.terminate(), "a clean stop");
    broker.restart();
    let admin = [
        "-b",
        &bootstrap,
        "-X",
        "security.protocol=SASL_PLAINTEXT",
        "-X",
        "sasl.mechanism=PLAIN",
        "-X",
        "sasl.username=admin",
        "-X",
        "sasl.password=admin-secret",
    ];
    let cli = |args: &[&str]| {
        let mut all: Vec<&str> = vec!["acl"];
        all.extend_from_slice(args);
        all.extend_from_slice(&admin);
        all.extend_from_slice(&["-o", "json"]);
        let out = runnel_cli(&all, b"");
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap_or_else(|e| panic!("runnel {all:?}: {e}: {out:?}"))
    };
    let listed = cli(&["list", "--topic", "orders.eu"]);
    assert_eq!(
        listed,
        serde_json::json!([{
            "principal": "User:bob", "permission": "DENY", "operation": "ALL", "host": "*",
            "resource": "TOPIC", "pattern": "LITERAL", "name": "orders.eu",
        }]),
        "after the restart the saved ACLs apply, without the deleted one"
    );
    cli(&[
        "create",
        "--principal",
        "User:bob",
        "--operation",
        "describe",
        "--operation",
        "write",
        "--topic",
        "logs-",
        "--prefixed",
    ]);
    let listed = cli(&["list", "--principal", "User:bob"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(4), "{listed}");
    let removed = cli(&["delete", "--topic", "logs-", "--prefixed"]);
    let operations: Vec<&str> = removed
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["operation"].as_str())
        .collect();
    assert_eq!(operations, ["WRITE", "DESCRIBE"], "{removed}");
    // A refused creation changes nothing and says why.
    let refused = client_command(runnel_tests::runnel_binary())
        .args([
            "acl",
            "create",
            "--principal",
            "alice",
            "--operation",
            "read",
            "--topic",
            "t",
        ])
        .args(admin)
        .stdin(Stdio::null())
        .output()
        .expect("runnel runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("INVALID_REQUEST") && stderr.contains("principal"),
        "{stderr}"
    );
    let listed = cli(&["list", "--principal", "User:bob"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
}
