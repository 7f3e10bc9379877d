//! runnel-node: the native broker behind the binary `runnel`.
//!
//! A thin tokio driver around `runnel-core`: it speaks the Kafka wire protocol on TCP (the
//! `kafka-protocol` crate decodes and encodes every request; record batches stay bytes and go
//! to core), keeps partitions on disk in Kafka's segment layout, and serves `/metrics` and
//! `/healthz` on the admin port. Decisions — offsets, reads, retention, compaction, group
//! membership, idempotence — are core's.
//!
//! # Layout
//! - `config`: defaults, the TOML file (Kafka's config names) and flags.
//! - `broker`: topics, partitions, groups; the operations handlers call.
//! - `server`: the Kafka listeners (framing, dispatch, ordering).
//! - `response`: responses in chunks; a Fetch's records sent from the segment files
//!   (`sendfile`).
//! - `tls`: TLS for SSL listeners (rustls).
//! - `api`: one module per group of Kafka APIs.
//! - `storage`: core's `SegmentStore` over files.
//! - `data_dir`: one process and one node per data directory (`.lock`, `meta.properties`).
//! - `codec`: gzip, snappy, lz4, zstd.
//! - `admin`, `metrics`: the admin HTTP listener.
//! - `cli`: the `topic`, `produce` and `consume` subcommands, as a Kafka client.
//! - `alloc`: the global allocator that survives decoders' speculative huge reservations.
//! - `cluster`: cluster mode: the Raft metadata quorum and the image every node applies.

pub mod admin;
pub mod alloc;
pub mod api;
pub mod broker;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod codec;
pub mod config;
pub mod data_dir;
pub mod deadlines;
pub mod metrics;
pub mod plugins;
pub mod response;
pub mod server;
pub mod storage;
pub mod tls;
