//! runnel-tests: tests that cross crate and process boundaries.
//!
//! This is where real Kafka clients (kcat, confluent-kafka, kafka-python, kafkajs) meet a real
//! `runnel` process, a real browser meets the playground, and the simulator drives the core
//! through thousands of seeded fault schedules; the benchmark harness lives here too. Each later
//! issue adds its suites under `tests/`.
