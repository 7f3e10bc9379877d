//! runnel-core: the deterministic brain of the runnel broker.
//!
//! Every decision runnel makes about records lives here: how a record batch is laid out and
//! validated, which offset a record gets, what a read returns, which segments retention deletes,
//! what compaction keeps, which partition a key lands in, which offsets a group has committed.
//! The crate performs **no I/O and reads no clock**: time comes in as `now_ms` arguments,
//! randomness from a seed, and storage through the [`log::SegmentStore`] trait. It is
//! `#![no_std]` with `alloc`, so the same code runs in the native broker (`runnel-node`), in the
//! browser playground (`runnel-web`) and in the simulator; it builds for `wasm32v1-none`.
//!
//! # Layout
//! Where each broker rule lives, and which bodies drive it: `docs/architecture.md`.
//! - [`batch`]: Kafka's record batch v2 (magic 2): parse, validate (CRC-32C), build, iterate
//!   records, assign offsets; the [`batch::Codec`] trait for compression.
//! - [`message_set`]: magic 0/1 message sets (Produce v0–v2) up-converted to record batch v2.
//! - [`log`]: a partition log over a [`log::SegmentStore`]: append, read, offset and time
//!   indexes, truncation, segment rolling; [`log::MemorySegmentStore`] keeps it all in memory.
//! - [`producer`]: idempotent-producer sequence checks (duplicates answered, gaps refused).
//! - [`retention`]: deleting whole segments by `retention.ms` and `retention.bytes`.
//! - [`compaction`]: `cleanup.policy=compact`: the latest record per key, tombstones, offsets kept.
//! - [`partitioner`]: the Java client's murmur2, librdkafka's `consistent_random`, round robin.
//! - [`plugin`]: the plugin ABI: the postcard-encoded records and responses host and plugin share.
//! - [`group`]: the consumer-group coordinator (JoinGroup, SyncGroup, Heartbeat, LeaveGroup).
//! - [`replica`]: one replica of a partition on one node: its role from the controller's
//!   metadata (`apply_metadata`, the rule the node and the simulator share), leader (ISR, HW,
//!   acks, `min.insync.replicas`, idempotent producers' sequences) and follower (fetch,
//!   truncation by leader epoch, KIP-101).
//! - [`snapshot`]: a replica's leader epochs, producers and transactions at an offset, so a
//!   restart reads only the batches after it (Kafka's producer snapshots and checkpoints).
//! - [`broker`]: one partition as a node hosts it, around its replica: the role from the
//!   metadata, the ISR proposal's life, when appends are fsynced, what a follower asks next;
//!   one `Ready` value per input, the contract the node and the simulator both drive.
//! - [`controller`]: cluster metadata: brokers, sessions, elections, ISR changes.
//! - [`scenario`]: the articles' failover cases as named simulations.
//! - [`sim`]: a deterministic cluster simulator (virtual time, seeded faults, trace).
//! - [`sweep`]: the seeded fault sweep (safety phase, then liveness) over the simulator.
//! - [`topic_name`]: Kafka's legal topic names and the `.`/`_` collision rule.
//! - [`dynamic_config`]: dynamic broker configs (KIP-226): run-time broker-level topic defaults.
//! - [`topic_config`]: every Kafka topic config: type, default, validation, what runnel does.
//! - [`offsets`]: committed offsets per (group, topic, partition) and their on-log encoding.
//! - [`acl`]: Kafka's ACL resource types and operations; authorized operations (KIP-430).
//! - [`sasl`]: SASL authentication of a connection (KIP-43, KIP-152): PLAIN (RFC 4616).
//! - [`error_code`]: the Kafka error codes every module's errors map onto.
//! - [`fetch_session`]: incremental fetch sessions (KIP-227), the broker's cache and the
//!   fetcher's half.
//! - [`rng`]: the seeded pseudo-random generator behind every random choice.
//! - [`checksum`], [`varint`]: the CRCs and the zigzag varints of the wire format.

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

extern crate alloc;

pub mod acl;
pub mod batch;
pub mod broker;
pub mod checksum;
pub mod compaction;
pub mod controller;
pub mod dynamic_config;
pub mod error_code;
pub mod fetch_session;
pub mod group;
pub mod log;
pub mod message_set;
pub mod offsets;
pub mod partitioner;
pub mod plugin;
pub mod producer;
pub mod producer_id;
pub mod replica;
pub mod retention;
pub mod rng;
pub mod sasl;
pub mod scenario;
pub mod scram;
pub mod sim;
pub mod snapshot;
pub mod sweep;
pub mod topic_config;
pub mod topic_name;
pub mod txn;
pub mod txn_sweep;
pub mod varint;
