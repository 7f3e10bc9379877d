//! Plugin pipelines: a deployed WASM plugin reads an input topic and writes an output topic.
//!
//! - transform: each input record becomes zero or more output records (redaction, filtering,
//!   enrichment), written to the output partition with the input's index (modulo the output's
//!   partition count), so per-partition order is kept.
//! - partition: each input record goes unchanged to the output partition the plugin chooses.
//!
//! One thread runs every deployment: per input partition it reads up to [`BATCH_RECORDS`]
//! records from its position, calls the plugin once for the batch, appends the results, then
//! saves the position. A failing batch is retried [`ATTEMPTS`] times (each on a fresh plugin
//! instance); then its records go to the dead-letter topic `<plugin>-dlq` with the headers
//! `runnel.error`, `runnel.plugin`, `runnel.attempts`, `runnel.source` (topic-partition@offset)
//! beside their own, and the pipeline goes on. A redeploy swaps the plugin between batches,
//! so no record is skipped or processed twice. Deployments live in `<log.dirs>/__plugins/`
//! (`<name>.wasm`, `<name>.toml` with the position of every input partition); compiled code is
//! cached in `__plugins/cache/` by content hash.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use runnel_core::batch::{BatchBuilder, Header, batches};
use runnel_core::plugin::{PartitionRequest, PluginRecord};
use runnel_core::txn::ReadCommitted;
use runnel_plugin_host::{Limits, Plugin, PluginHost};
use serde::{Deserialize, Serialize};

use crate::broker::{Broker, now_ms};
use crate::codec::NodeCodec;

/// Records per plugin call.
pub const BATCH_RECORDS: usize = 1000;
/// Tries per batch before it goes to the dead-letter topic.
pub const ATTEMPTS: u32 = 3;
/// How long the runner sleeps when no pipeline had work.
const IDLE: Duration = Duration::from_millis(20);
/// The largest plugin module accepted.
pub const MAX_MODULE_BYTES: usize = 32 << 20;

/// What a plugin does in a pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Records in, records out (`runnel_transform`).
    Transform,
    /// Records routed to output partitions (`runnel_partition`).
    Partition,
}

/// A deployment as saved and listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The plugin's name.
    pub name: String,
    /// Transform or partition.
    pub kind: Kind,
    /// The topic read.
    pub input: String,
    /// The topic written.
    pub output: String,
    /// Bumped by every deploy of this name.
    pub version: u64,
    /// Next offset to process, per input partition.
    #[serde(default)]
    pub positions: BTreeMap<String, i64>,
    /// Input records processed (including those sent to the dead-letter topic).
    #[serde(default)]
    pub processed: u64,
    /// Input records sent to the dead-letter topic.
    #[serde(default)]
    pub failed: u64,
}

/// A deployment and its loaded plugin.
struct Running {
    deployment: Deployment,
    plugin: Plugin,
}

/// Every deployment, the plugin host and where they are saved.
pub struct Pipelines {
    broker: Arc<Broker>,
    host: PluginHost,
    dir: PathBuf,
    running: Mutex<BTreeMap<String, Running>>,
}

impl Pipelines {
    /// Loads the saved deployments from `<log.dirs>/__plugins/`.
    pub fn open(broker: Arc<Broker>) -> Result<Arc<Self>, String> {
        let dir = broker.config.data_dir.join("__plugins");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let host = PluginHost::new(Limits::default(), Some(dir.join("cache")))
            .map_err(|e| e.to_string())?;
        let pipelines = Arc::new(Self {
            broker,
            host,
            dir,
            running: Mutex::new(BTreeMap::new()),
        });
        let entries = std::fs::read_dir(&pipelines.dir).map_err(|e| e.to_string())?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let loaded = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| toml::from_str::<Deployment>(&t).map_err(|e| e.to_string()))
                .and_then(|d| {
                    let wasm =
                        std::fs::read(path.with_extension("wasm")).map_err(|e| e.to_string())?;
                    let plugin = pipelines
                        .host
                        .load(&d.name, &wasm)
                        .map_err(|e| e.to_string())?;
                    Ok(Running {
                        deployment: d,
                        plugin,
                    })
                });
            match loaded {
                Ok(r) => {
                    tracing::info!(
                        "plugin {} v{} resumed: {} → {}",
                        r.deployment.name,
                        r.deployment.version,
                        r.deployment.input,
                        r.deployment.output
                    );
                    pipelines.lock().insert(r.deployment.name.clone(), r);
                }
                Err(e) => tracing::warn!("plugin {}: not resumed: {e}", path.display()),
            }
        }
        Ok(pipelines)
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Deploys (or replaces, keeping its positions) plugin `name`. The module is checked
    /// before anything changes; both topics must exist.
    pub fn deploy(
        &self,
        name: &str,
        kind: Kind,
        input: &str,
        output: &str,
        wasm: &[u8],
    ) -> Result<Deployment, String> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "plugin name {name:?}: use letters, digits, '-' and '_'"
            ));
        }
        for topic in [input, output] {
            if self.broker.topic(topic).is_none() {
                return Err(format!("topic {topic} does not exist"));
            }
        }
        if input == output {
            return Err("input and output must be different topics".into());
        }
        let plugin = self.host.load(name, wasm).map_err(|e| e.to_string())?;
        let has = match kind {
            Kind::Transform => plugin.is_transform(),
            Kind::Partition => plugin.is_partitioner(),
        };
        if !has {
            return Err(format!(
                "plugin {name} has no runnel_{} export",
                match kind {
                    Kind::Transform => "transform",
                    Kind::Partition => "partition",
                }
            ));
        }
        let mut running = self.lock();
        let previous = running.get(name).map(|r| r.deployment.clone());
        let same_pipeline = previous
            .as_ref()
            .is_some_and(|p| p.input == input && p.output == output);
        let deployment = Deployment {
            name: name.to_string(),
            kind,
            input: input.to_string(),
            output: output.to_string(),
            version: previous.as_ref().map_or(1, |p| p.version + 1),
            positions: if same_pipeline {
                previous
                    .as_ref()
                    .map(|p| p.positions.clone())
                    .unwrap_or_default()
            } else {
                BTreeMap::new()
            },
            processed: previous.as_ref().map_or(0, |p| p.processed),
            failed: previous.as_ref().map_or(0, |p| p.failed),
        };
        let wasm_path = self.dir.join(format!("{name}.wasm"));
        write_atomically(&wasm_path, wasm)?;
        self.save(&deployment)?;
        tracing::info!(
            "plugin {name} v{} deployed: {input} → {output}",
            deployment.version
        );
        running.insert(
            name.to_string(),
            Running {
                deployment: deployment.clone(),
                plugin,
            },
        );
        Ok(deployment)
    }

    /// Stops and forgets plugin `name`.
    pub fn remove(&self, name: &str) -> Result<(), String> {
        let mut running = self.lock();
        running
            .remove(name)
            .ok_or_else(|| format!("no plugin named {name}"))?;
        for ext in ["toml", "wasm"] {
            let _ = std::fs::remove_file(self.dir.join(format!("{name}.{ext}")));
        }
        tracing::info!("plugin {name} removed");
        Ok(())
    }

    /// Every deployment, by name.
    pub fn list(&self) -> Vec<Deployment> {
        self.lock().values().map(|r| r.deployment.clone()).collect()
    }

    fn save(&self, deployment: &Deployment) -> Result<(), String> {
        let text = toml::to_string(deployment).map_err(|e| e.to_string())?;
        write_atomically(
            &self.dir.join(format!("{}.toml", deployment.name)),
            text.as_bytes(),
        )
    }

    /// Runs every pipeline until the process ends (call on a thread of its own).
    pub fn run(self: Arc<Self>) {
        loop {
            let names: Vec<String> = self.lock().keys().cloned().collect();
            let mut worked = false;
            for name in names {
                match self.step(&name) {
                    Ok(did) => worked |= did,
                    Err(e) => tracing::warn!("plugin {name}: {e}"),
                }
            }
            if !worked {
                std::thread::sleep(IDLE);
            }
        }
    }

    /// One batch per input partition of pipeline `name`; whether any records were processed.
    /// The deployment stays locked for the whole batch, so a redeploy waits for its end.
    fn step(&self, name: &str) -> Result<bool, String> {
        let mut running = self.lock();
        let Some(r) = running.get_mut(name) else {
            return Ok(false);
        };
        let (Some(input), Some(output)) = (
            self.broker.topic(&r.deployment.input),
            self.broker.topic(&r.deployment.output),
        ) else {
            return Ok(false);
        };
        let mut worked = false;
        for partition in input.partitions() {
            let key = partition.index.to_string();
            let start = r.deployment.positions.get(&key).copied().unwrap_or(0);
            let (records, next) = read_batch(&partition, start)?;
            if next == start {
                continue;
            }
            worked = true;
            let source = format!("{}-{}", r.deployment.input, partition.index);
            let mut last_error = String::new();
            let mut outcome = None;
            for _ in 0..ATTEMPTS {
                match process(
                    &mut r.plugin,
                    r.deployment.kind,
                    &records,
                    &output,
                    partition.index,
                ) {
                    Ok(batches) => {
                        outcome = Some(batches);
                        break;
                    }
                    Err(e) => last_error = e,
                }
            }
            let failed = match outcome {
                Some(batches) => {
                    for (p, bytes) in batches {
                        let target = output.partition(p).ok_or_else(|| {
                            format!("no partition {p} in {}", r.deployment.output)
                        })?;
                        self.broker
                            .produce(&target, &bytes)
                            .map_err(|e| e.message)?;
                    }
                    0
                }
                None => {
                    tracing::warn!(
                        "plugin {name}: {} records of {source} from offset {start} to the dead-letter topic after {ATTEMPTS} attempts: {last_error}",
                        records.len()
                    );
                    self.dead_letter(name, &records, &last_error, &source)?;
                    records.len() as u64
                }
            };
            let appended = records.len() as u64;
            r.deployment.positions.insert(key, next);
            r.deployment.processed += appended;
            r.deployment.failed += failed;
            for line in r.plugin.take_logs() {
                tracing::info!("plugin {name}: {line}");
            }
            self.save(&r.deployment)?;
        }
        Ok(worked)
    }

    /// Appends `records` to `<plugin>-dlq` (created with one partition on first use) with the
    /// failure in headers.
    fn dead_letter(
        &self,
        plugin: &str,
        records: &[(i64, PluginRecord)],
        error: &str,
        source: &str,
    ) -> Result<(), String> {
        let name = format!("{plugin}-dlq");
        let topic = match self.broker.topic(&name) {
            Some(t) => t,
            None => self
                .broker
                .create_topic(&name, 1, BTreeMap::new())
                .or_else(|e| self.broker.topic(&name).ok_or(e))
                .map_err(|e| e.message)?,
        };
        let partition = topic
            .partition(0)
            .ok_or_else(|| format!("{name} has no partition 0"))?;
        let attempts = ATTEMPTS.to_string();
        let sources: Vec<String> = records
            .iter()
            .map(|(o, _)| format!("{source}@{o}"))
            .collect();
        let mut builder = BatchBuilder::new(0);
        for ((_, r), src) in records.iter().zip(&sources) {
            let mut headers = batch_headers(r);
            for (k, v) in [
                ("runnel.error", error),
                ("runnel.plugin", plugin),
                ("runnel.attempts", attempts.as_str()),
                ("runnel.source", src.as_str()),
            ] {
                headers.push(Header {
                    key: k.as_bytes(),
                    value: Some(v.as_bytes()),
                });
            }
            builder.push(r.timestamp, r.key.as_deref(), r.value.as_deref(), headers);
        }
        let bytes = builder.build(&NodeCodec).map_err(|e| e.to_string())?;
        self.broker
            .produce(&partition, &bytes)
            .map(|_| ())
            .map_err(|e| e.message)
    }
}

/// Up to [`BATCH_RECORDS`] records of `partition` from `start`, read as a `read_committed`
/// consumer reads them (below the last stable offset, without the records of aborted
/// transactions or the markers: core's [`ReadCommitted`]), with their offsets, and the
/// offset after the last one read.
fn read_batch(
    partition: &crate::broker::Partition,
    start: i64,
) -> Result<(Vec<(i64, PluginRecord)>, i64), String> {
    let (bytes, aborted) = {
        let state = partition.lock();
        // Pipelines read committed records only, as a read_committed consumer does: above the
        // HW a record may still be truncated away after a leader change, and an open
        // transaction may still abort.
        let end = state.replica().last_stable_offset();
        if start >= end {
            return Ok((Vec::new(), start));
        }
        let from = start.max(state.log().log_start_offset());
        let bytes = state
            .log()
            .read(from, 1 << 20, end)
            .map_err(|e| e.to_string())?;
        (bytes, state.replica().aborted_txns(from, end))
    };
    let mut committed = ReadCommitted::new(&aborted);
    let mut records = Vec::new();
    let mut next = start;
    let mut scratch = Vec::new();
    'batches: for batch in batches(&bytes) {
        let batch = batch.map_err(|e| e.to_string())?;
        if !committed.keep(&batch, &NodeCodec) {
            // A marker, or an aborted transaction's batch: passed over whole.
            if records.len() == BATCH_RECORDS {
                break;
            }
            next = next.max(batch.header().next_offset());
            continue;
        }
        for record in batch
            .records(&NodeCodec, &mut scratch)
            .map_err(|e| e.to_string())?
        {
            let record = record.map_err(|e| e.to_string())?;
            if record.offset < next {
                continue;
            }
            if records.len() == BATCH_RECORDS {
                break 'batches;
            }
            next = record.offset + 1;
            records.push((
                record.offset,
                PluginRecord {
                    key: record.key.map(<[u8]>::to_vec),
                    value: record.value.map(<[u8]>::to_vec),
                    headers: record
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                String::from_utf8_lossy(h.key).into_owned(),
                                h.value.map(<[u8]>::to_vec),
                            )
                        })
                        .collect(),
                    timestamp: record.timestamp,
                },
            ));
        }
        if records.len() < BATCH_RECORDS {
            // Past a batch whose tail was compacted away.
            next = next.max(batch.header().next_offset());
        }
    }
    Ok((records, next))
}

/// Runs one batch through the plugin; returns the output batches by output partition.
fn process(
    plugin: &mut Plugin,
    kind: Kind,
    records: &[(i64, PluginRecord)],
    output: &crate::broker::Topic,
    input_partition: i32,
) -> Result<Vec<(i32, Vec<u8>)>, String> {
    let partitions = output.partitions().len() as u32;
    let mut routed: BTreeMap<i32, Vec<PluginRecord>> = BTreeMap::new();
    match kind {
        Kind::Transform => {
            let plain: Vec<PluginRecord> = records.iter().map(|(_, r)| r.clone()).collect();
            let out = plugin.transform(&plain).map_err(|e| e.to_string())?;
            let target = (input_partition as u32 % partitions.max(1)) as i32;
            routed
                .entry(target)
                .or_default()
                .extend(out.into_iter().flatten());
        }
        Kind::Partition => {
            let request = PartitionRequest {
                partitions,
                records: records.iter().map(|(_, r)| r.clone()).collect(),
            };
            let chosen = plugin.partition(&request).map_err(|e| e.to_string())?;
            for (p, r) in chosen.into_iter().zip(request.records) {
                routed.entry(p as i32).or_default().push(r);
            }
        }
    }
    let now = now_ms() as i64;
    let mut out = Vec::new();
    for (p, records) in routed {
        if records.is_empty() {
            continue;
        }
        let mut builder = BatchBuilder::new(0);
        for r in &records {
            let headers = batch_headers(r);
            let timestamp = if r.timestamp > 0 { r.timestamp } else { now };
            builder.push(timestamp, r.key.as_deref(), r.value.as_deref(), headers);
        }
        out.push((p, builder.build(&NodeCodec).map_err(|e| e.to_string())?));
    }
    Ok(out)
}

/// A plugin record's headers as a batch builder takes them.
fn batch_headers(record: &PluginRecord) -> Vec<Header<'_>> {
    record
        .headers
        .iter()
        .map(|(k, v)| Header {
            key: k.as_bytes(),
            value: v.as_deref(),
        })
        .collect()
}

/// Writes `bytes` to `path` via a temporary file and a rename.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}
