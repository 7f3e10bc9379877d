//! SSL listeners (rustls) against librdkafka's OpenSSL, through confluent-kafka and kcat: a
//! broker with a PLAINTEXT and an SSL listener answers each listener's clients with that
//! listener's address (Kafka's rule), carries records and a consumer group over TLS, refuses a
//! client that does not speak TLS on the SSL port, and with `ssl.client.auth=required` takes
//! only clients whose certificate its truststore signed. Certificates are made by the openssl
//! command for each test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use runnel_tests::{Runnel, client_command, free_port, run_client, temp_dir};

/// A test CA, a broker certificate for 127.0.0.1 and a client certificate, as PEM files.
struct Certificates {
    dir: PathBuf,
}

impl Certificates {
    fn make(name: &str) -> Self {
        let dir = temp_dir(name);
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .expect("openssl (Debian's openssl package)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=runnel-test-ca",
        ]);
        std::fs::write(
            dir.join("broker.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .expect("ext");
        std::fs::write(dir.join("client.ext"), "basicConstraints=CA:FALSE\n").expect("ext");
        for (who, subject) in [("broker", "/CN=localhost"), ("client", "/CN=client-1")] {
            openssl(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{who}.key"),
                "-out",
                &format!("{who}.csr"),
                "-subj",
                subject,
            ]);
            openssl(&[
                "x509",
                "-req",
                "-in",
                &format!("{who}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{who}.crt"),
                "-days",
                "2",
                "-extfile",
                &format!("{who}.ext"),
            ]);
        }
        // Kafka's PEM keystore: the private key and the certificate chain in one file.
        let key = std::fs::read_to_string(dir.join("broker.key")).expect("key");
        let crt = std::fs::read_to_string(dir.join("broker.crt")).expect("crt");
        std::fs::write(dir.join("broker.pem"), key + &crt).expect("keystore");
        Self { dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).to_string_lossy().into_owned()
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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

fn roundtrip(bootstrap: &str, topic: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["tests/clients/tls.py", "roundtrip", bootstrap, topic];
    all.extend(args);
    let out = run_client("python3", &all, b"", Duration::from_secs(90));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "tls.py printed no JSON: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
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
    let got = roundtrip(&ssl_bootstrap, "secure", &[&certs.path("ca.pem")]);
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
    let again = roundtrip(&ssl_bootstrap, "secure2", &[&certs.path("ca.pem")]);
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
    let without = roundtrip(&bootstrap, "m", &[&certs.path("ca.pem")]);
    assert!(
        without["error"].is_string(),
        "no client certificate: {without}"
    );
    let with = roundtrip(
        &bootstrap,
        "m",
        &[
            &certs.path("ca.pem"),
            &certs.path("client.crt"),
            &certs.path("client.key"),
        ],
    );
    assert_eq!(
        with["values"],
        serde_json::json!(["one", "two", "three"]),
        "{with}"
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
