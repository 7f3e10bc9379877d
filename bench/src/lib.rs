//! runnel-bench: runnel next to the brokers users would pick instead, on this machine's
//! loopback, next to the machine's own ceilings. `./scripts/bench` builds the release binaries,
//! installs the peers and runs the `runnel-bench` binary.
//!
//! For each system it starts a fresh server, produces for `--seconds` as fast as the producer
//! is acknowledged, reads everything back with one consumer, then offers a fixed rate (half of
//! that system's own produce-and-consume capacity just measured) and measures each record's
//! end-to-end latency from its due time, so a stalled producer cannot hide the wait of the
//! records behind it (no coordinated omission). Kafka-protocol systems are driven by
//! librdkafka; Redis Streams and NATS JetStream by their own Rust clients. Every phase also
//! measures what the server processes themselves spent: CPU seconds (user + system, all
//! threads, from `/proc`) per record and per megabyte, and peak resident memory — figures
//! that do not depend on how fast the load generator is.
//!
//! - `systems`: start/stop each server on a free loopback port.
//! - `kafka`, `redis_streams`, `nats`: the workload on each kind of system.
//! - `ceilings`: loopback TCP and disk write bandwidth, measured in the same run.
//! - `cpu`: the servers' CPU time and memory, and the floor: copying and CRC-checking a
//!   record in memory, and writing it into the page cache.
//! - `stats`, `report`: percentiles, the schedule, the rows; Markdown, JSON and SVG.

pub mod ceilings;
pub mod cpu;
pub mod kafka;
pub mod nats;
pub mod redis_streams;
pub mod report;
pub mod stats;
pub mod systems;
