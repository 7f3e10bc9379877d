//! The host against real plugins: the Rust examples built for wasm32-unknown-unknown (the test
//! command builds them), the hand-written WAT round-robin partitioner, and misbehaving WAT
//! modules that must be stopped or rejected with a clear error while the host keeps serving.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use runnel_core::plugin::{PartitionRequest, PluginRecord};
use runnel_plugin_host::{Limits, Plugin, PluginError, PluginHost};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> Vec<u8> {
    let path = root()
        .join("target/wasm32-unknown-unknown/release")
        .join(format!("runnel_example_{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (build it: cargo build --release --target wasm32-unknown-unknown -p runnel-example-{})",
            path.display(),
            name.replace('_', "-")
        )
    })
}

fn wat(name: &str) -> Vec<u8> {
    std::fs::read(
        root()
            .join("plugins/host/tests/wat")
            .join(format!("{name}.wat")),
    )
    .expect("wat file")
}

fn host() -> PluginHost {
    PluginHost::new(Limits::default(), None).expect("host")
}

fn record(value: &str, headers: &[(&str, &str)]) -> PluginRecord {
    PluginRecord {
        key: None,
        value: Some(value.as_bytes().to_vec()),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.as_bytes().to_vec())))
            .collect(),
        timestamp: 1,
    }
}

/// A healthy plugin for checking the host still serves after a bad one.
fn healthy(host: &PluginHost) -> Plugin {
    host.load("region", &example("region_partitioner"))
        .expect("region partitioner")
}

fn still_serves(plugin: &mut Plugin) {
    let request = PartitionRequest {
        partitions: 4,
        records: vec![record("{}", &[("region", "us")])],
    };
    assert_eq!(plugin.partition(&request).expect("healthy call"), vec![1]);
}

#[test]
fn the_region_partitioner_routes_by_header_and_json_field() {
    // The 5 ms default call limit is wall-clock time (an epoch deadline): a 1000-record call
    // that a busy machine deschedules can pass it. This test is about routing and bounded
    // memory over many calls; the limit itself is `an_endless_loop_is_stopped_within_its_limit`'s.
    let host = PluginHost::new(
        Limits {
            max_call: Duration::from_secs(1),
            ..Limits::default()
        },
        None,
    )
    .expect("host");
    let mut plugin = healthy(&host);
    assert!(plugin.is_partitioner() && !plugin.is_transform());
    let request = PartitionRequest {
        partitions: 3,
        records: vec![
            record(r#"{"region":"ap"}"#, &[]),
            record("{}", &[("region", "eu")]),
            record(r#"{"region":"us"}"#, &[]),
            record("plain text", &[]),
        ],
    };
    assert_eq!(plugin.partition(&request).expect("call"), vec![2, 0, 1, 2]);
    // Many calls on one instance: the SDK frees each response, memory stays bounded.
    let big = PartitionRequest {
        partitions: 3,
        records: (0..1000)
            .map(|i| {
                record(
                    &format!("{{\"region\":\"{}\"}}", ["eu", "us", "ap"][i % 3]),
                    &[],
                )
            })
            .collect(),
    };
    for _ in 0..200 {
        let chosen = plugin.partition(&big).expect("call");
        assert_eq!(chosen.len(), 1000);
        assert!(chosen.iter().enumerate().all(|(i, p)| *p as usize == i % 3));
    }
}

#[test]
fn the_transforms_redact_and_filter() {
    let host = host();
    let mut redact = host.load("redact", &example("redact_email")).expect("load");
    let out = redact
        .transform(&[
            record("contact ann@example.com today", &[("h", "1")]),
            record("nothing here", &[]),
        ])
        .expect("call");
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[0][0].value.as_deref(),
        Some(&b"contact [redacted] today"[..])
    );
    assert_eq!(out[0][0].header("h"), Some(&b"1"[..]), "headers kept");
    assert_eq!(out[1][0].value.as_deref(), Some(&b"nothing here"[..]));

    let mut filter = host.load("filter", &example("drop_filter")).expect("load");
    let out = filter
        .transform(&[
            record("a", &[("level", "info")]),
            record("b", &[("level", "debug")]),
            record("", &[]),
            record("d", &[]),
        ])
        .expect("call");
    let kept: Vec<usize> = out.iter().map(Vec::len).collect();
    assert_eq!(kept, [1, 0, 0, 1]);
}

#[test]
fn a_plugin_written_in_wat_speaks_the_same_abi() {
    let host = host();
    let mut rr = host.load("round-robin", &wat_example()).expect("load");
    let batch = |n: usize| PartitionRequest {
        partitions: 3,
        records: (0..n).map(|i| record(&i.to_string(), &[])).collect(),
    };
    assert_eq!(rr.partition(&batch(4)).expect("call"), vec![0, 1, 2, 0]);
    assert_eq!(
        rr.partition(&batch(5)).expect("call"),
        vec![1, 2, 0, 1, 2],
        "continues across batches"
    );
    let big = rr.partition(&batch(1000)).expect("call");
    assert_eq!(big.len(), 1000);
}

fn wat_example() -> Vec<u8> {
    std::fs::read(root().join("plugins/examples/round-robin-wat/round_robin.wat")).expect("wat")
}

#[test]
fn an_endless_loop_is_stopped_within_its_limit() {
    let host = host();
    let mut spin = host.load("spin", &wat("infinite_loop")).expect("load");
    let request = PartitionRequest {
        partitions: 2,
        records: vec![record("x", &[])],
    };
    let mut took = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let err = spin.partition(&request).expect_err("must be stopped");
        took.push(start.elapsed());
        assert!(matches!(err, PluginError::Timeout(..)), "{err}");
    }
    took.sort();
    // The default limit is 5 ms; the epoch ticks every 1 ms. Scheduling on a loaded 2-core
    // machine can delay the ticker, so the bound is on the median, with a loose maximum.
    assert!(took[2] < Duration::from_millis(10), "median stop {took:?}");
    assert!(
        took[4] < Duration::from_millis(100),
        "slowest stop {took:?}"
    );
    still_serves(&mut healthy(&host));
}

#[test]
fn a_memory_hog_is_stopped_at_its_cap() {
    let host = PluginHost::new(
        Limits {
            max_call: Duration::from_secs(5),
            max_memory: 16 << 20,
        },
        None,
    )
    .expect("host");
    let mut hog = host.load("hog", &wat("memory_hog")).expect("load");
    let err = hog
        .transform(&[record("x", &[])])
        .expect_err("must be stopped");
    assert!(matches!(err, PluginError::Memory(_, 16_777_216)), "{err}");
    assert!(
        err.to_string().contains("memory limit of 16777216 bytes"),
        "{err}"
    );
    // A fresh instance next time, stopped again.
    assert!(matches!(
        hog.transform(&[record("x", &[])]),
        Err(PluginError::Memory(..))
    ));
    still_serves(&mut healthy(&host));
}

#[test]
fn garbage_and_wrong_modules_are_rejected_with_a_clear_error() {
    let host = host();
    let request = PartitionRequest {
        partitions: 2,
        records: vec![record("x", &[])],
    };
    let mut garbage = host.load("garbage", &wat("garbage")).expect("load");
    let err = garbage.partition(&request).expect_err("garbage");
    assert!(
        err.to_string()
            .starts_with("plugin garbage: bad response: response does not decode"),
        "{err}"
    );
    let mut oob = host.load("oob", &wat("out_of_bounds")).expect("load");
    let err = oob.partition(&request).expect_err("out of bounds");
    assert!(
        err.to_string()
            .contains("lie outside its 65536 bytes of memory"),
        "{err}"
    );
    let mut logger = host.load("logger", &wat("logger")).expect("load");
    let err = logger.partition(&request).expect_err("count");
    assert!(err.to_string().contains("0 results for 1 records"), "{err}");
    assert_eq!(logger.take_logs(), ["hello from wat"]);

    let wasi = host.load("wasi", &wat("wasi")).err().expect("refused");
    assert!(
        wasi.to_string().contains(
            "imports wasi_snapshot_preview1.fd_write; a plugin may import only runnel.log"
        ),
        "{wasi}"
    );
    let v2 = host.load("v2", &wat("version_2")).err().expect("refused");
    assert!(v2.to_string().contains("speaks ABI version 2"), "{v2}");
    let junk = host
        .load("junk", b"\0asm\x01\0\0\0\x05junk")
        .err()
        .expect("refused");
    assert!(matches!(junk, PluginError::Invalid(..)), "{junk}");
    // Neither binary nor text wasm: one plain line, no WAT parser excerpt.
    for not_wasm in [&b"hello"[..], b"\xff\xd8\xff\xe0JFIF", b"{\"json\": 1}"] {
        let e = host.load("bad", not_wasm).err().expect("refused");
        assert_eq!(
            e.to_string(),
            "plugin bad: not a WebAssembly module: expected binary .wasm (starting with \\0asm) or WebAssembly text (.wat)"
        );
    }
    // Text that starts like WAT (after comments) still gets the parser's words.
    let typo = host
        .load("typo", b";; a comment\n(modul)")
        .err()
        .expect("refused");
    assert!(
        !typo.to_string().contains("not a WebAssembly module"),
        "{typo}"
    );
    let transform_only = host.load("filter", &example("drop_filter")).expect("load");
    let mut transform_only = transform_only;
    assert!(matches!(
        transform_only.partition(&request),
        Err(PluginError::Missing(_, "runnel_partition"))
    ));
    still_serves(&mut healthy(&host));
}

#[test]
fn compiled_modules_are_cached_by_content() {
    let dir = std::env::temp_dir().join(format!("runnel-plugin-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let wasm = example("region_partitioner");
    let first = PluginHost::new(Limits::default(), Some(dir.clone())).expect("host");
    first.load("region", &wasm).expect("load");
    let cached: Vec<_> = std::fs::read_dir(&dir).expect("cache dir").collect();
    assert_eq!(cached.len(), 1, "one compiled module");
    // A new host (a restart) loads it from the cache; it still works.
    let second = PluginHost::new(Limits::default(), Some(dir.clone())).expect("host");
    still_serves(&mut second.load("region", &wasm).expect("load"));
    // Another module gets its own entry.
    second
        .load("filter", &example("drop_filter"))
        .expect("load");
    assert_eq!(std::fs::read_dir(&dir).expect("cache dir").count(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
