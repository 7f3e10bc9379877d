//! Transactions in the simulator (KIP-98): a transactional producer, the transaction
//! coordinator each broker hosts while it leads `__transaction_state`, markers written by the
//! data partitions' leaders, and a `read_committed` checker — over the same simulated network,
//! replication, crashes and coordinator moves as everything else.
//!
//! The brokers run core's [`HostedTransactions`] as a node does (`node/src/broker/txn.rs`):
//! a request is planned ([`TxnPlan`]), its transition written to `__transaction_state` with
//! acks=all and applied once the ISR has it ([`HostedTransactions::handle_written`]); markers
//! go to each partition's leader (WriteTxnMarkers), retried until written, then the
//! transition to CompleteCommit or CompleteAbort. Expired transactions are aborted on the
//! broker's tick; a new leader of `__transaction_state` loads it and finishes what was
//! prepared ([`HostedTransactions::handle_elected`]).
//!
//! The producer ([`TxnProducerConfig`]) runs transactions of a few records across the data
//! partitions one after another, commits most and aborts some; a fatal answer (fenced, an
//! invalid state) makes it start over as a new instance with the same `transactional.id`, and
//! [`Fault::ProducerCrash`] kills it mid-transaction. The checker consumer reads
//! `read_committed` (up to the last stable offset, dropping the aborted transactions the
//! fetch lists, as Kafka's consumer does).
//!
//! Invariants ([`Sim::report`]): a transaction's records all end the same way (all committed
//! or all aborted); one the producer was told committed is committed wherever its records
//! are, one it was told aborted nowhere; `read_committed` never reads a record that is not
//! committed; the last stable offset never passes the high watermark. Liveness
//! ([`Sim::transactions_settled`]): no data partition is left with an open transaction, and
//! every committed record was read.

use super::*;
use crate::broker::{HostedTransactions, MarkerJob, TxnPlan, TxnState, TxnTransition};
use crate::producer_id::{ProducerIdCounter, ProducerIds};
use crate::txn::{AbortedTxn, ControlType, ReadCommitted};

/// The producer's `transactional.id`.
const TRANSACTIONAL_ID: &str = "sim-tx";
/// The data topic's name in transaction metadata.
const TOPIC: &str = "sim";
/// Marker writes on data partitions use request ids with this bit, apart from produce
/// requests (whose answers go to the producer).
pub(super) const MARKER_REQUEST: u64 = 1 << 62;
/// How long a coordinator waits for a marker's answer before sending it again.
const MARKER_RETRY_MS: u64 = 200;

/// The transactional producer's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnProducerConfig {
    /// Records per transaction, sent to the data partitions in turn.
    pub records_per_txn: u32,
    /// One transaction in this many is aborted by the producer (0: none).
    pub abort_one_in: u32,
    /// `transaction.timeout.ms`: the coordinator aborts a transaction open longer.
    pub timeout_ms: u64,
}

/// What the producer asks the transaction coordinator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ask {
    /// InitProducerId.
    Init,
    /// AddPartitionsToTxn with one partition.
    Add(PartitionId),
    /// EndTxn: commit (`true`) or abort.
    End(bool),
}

/// Where the transactional producer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Needs a producer id: at start, after a crash, after a fatal answer.
    Init,
    /// Between transactions.
    Idle,
    /// Sending the open transaction's records.
    Writing,
    /// Ending the open transaction: commit (`true`) or abort.
    Ending(bool),
}

/// The transactional producer's state and what the checker learnt.
pub(super) struct SimTxn {
    step: Step,
    /// Producer id and epoch of this instance, once initialized.
    producer: Option<(i64, i16)>,
    /// The next sequence per partition.
    sequences: BTreeMap<PartitionId, i32>,
    /// Partitions added to the open transaction.
    added: BTreeSet<PartitionId>,
    /// The request in flight to the coordinator.
    asking: Option<(u64, Ask)>,
    /// No request before this time (retry backoff).
    retry_at_ms: u64,
    /// The open transaction's ordinal (1, 2, ...).
    txn: u64,
    /// Records of the open transaction still to send.
    to_send: u32,
    /// The producer means to commit the open transaction.
    commit: bool,
    /// A write of the open transaction failed for good: it can only abort.
    must_abort: bool,
    /// Record id → its transaction's ordinal.
    txn_of: BTreeMap<u64, u64>,
    /// Transactions the producer was told ended: ordinal → committed.
    ended: BTreeMap<u64, bool>,
    /// Record ids the `read_committed` checker read.
    read: BTreeSet<u64>,
    /// The simulated quorum's producer id counter, and the block each broker hands ids out
    /// of (KIP-730, [`crate::producer_id`]).
    producer_id_counter: ProducerIdCounter,
    producer_ids: BTreeMap<BrokerId, ProducerIds>,
    /// Crashes and restarts of the producer.
    pub(super) instances: u32,
}

impl SimTxn {
    pub(super) fn new() -> Self {
        Self {
            step: Step::Init,
            producer: None,
            sequences: BTreeMap::new(),
            added: BTreeSet::new(),
            asking: None,
            retry_at_ms: 0,
            txn: 0,
            to_send: 0,
            commit: true,
            must_abort: false,
            txn_of: BTreeMap::new(),
            ended: BTreeMap::new(),
            read: BTreeSet::new(),
            producer_id_counter: ProducerIdCounter::default(),
            producer_ids: BTreeMap::new(),
            instances: 1,
        }
    }
}

/// What a broker keeps for the transaction coordinator it hosts and the markers it writes.
pub(super) struct BrokerTxn {
    /// Core's coordinator (serving only while this broker leads `__transaction_state`).
    pub(super) coordinator: HostedTransactions,
    /// Transitions written to `__transaction_state` and waiting for the ISR, by write
    /// request: the transition and the client request to answer (with
    /// CONCURRENT_TRANSACTIONS when `retry`).
    writes: BTreeMap<u64, (TxnTransition, Option<(u64, bool)>)>,
    /// Marker jobs this coordinator runs: key → the job and its markers still to write.
    jobs: BTreeMap<u64, MarkerRun>,
    /// Markers this broker writes as a leader, waiting for the ISR: request → (coordinator,
    /// job key, partition).
    markers: BTreeMap<u64, (BrokerId, u64, PartitionId)>,
    next_request: u64,
}

impl BrokerTxn {
    pub(super) fn new() -> Self {
        Self {
            coordinator: HostedTransactions::new(
                crate::broker::transactions::TRANSACTION_MAX_TIMEOUT_MS,
            ),
            writes: BTreeMap::new(),
            jobs: BTreeMap::new(),
            markers: BTreeMap::new(),
            next_request: 0,
        }
    }
}

/// One marker job as a coordinator runs it.
struct MarkerRun {
    job: MarkerJob,
    /// Partitions whose marker is not written yet → when it was last sent (`None`: not
    /// sent, or refused: send it again). A marker in flight is not sent again before the
    /// request timeout: a copy arriving after the transaction completed would end the
    /// producer's next transaction there (as Kafka's marker channel sends one request per
    /// broker at a time, and resends only on an answer or a lost connection).
    left: BTreeMap<PartitionId, Option<u64>>,
}

/// Whether a produce error leaves the transaction able to commit once retried (Kafka's
/// retriable errors); any other fails the transaction.
fn retriable(code: i16) -> bool {
    [
        error_code::NOT_LEADER_OR_FOLLOWER,
        error_code::REQUEST_TIMED_OUT,
        error_code::NOT_ENOUGH_REPLICAS,
        error_code::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        error_code::UNKNOWN_TOPIC_OR_PARTITION,
    ]
    .contains(&code)
}

/// Whether a coordinator answer asks to try again (the coordinator moved, loads, or is busy
/// with this id's markers).
fn coordinator_retriable(code: i16) -> bool {
    [
        error_code::NOT_COORDINATOR,
        error_code::COORDINATOR_NOT_AVAILABLE,
        error_code::COORDINATOR_LOAD_IN_PROGRESS,
        error_code::CONCURRENT_TRANSACTIONS,
        error_code::REQUEST_TIMED_OUT,
    ]
    .contains(&code)
}

/// The records a `read_committed` consumer takes from `bytes` read from `from`, as Kafka's
/// `Fetcher` filters them: a batch of a producer with an aborted transaction that began at
/// or before it is skipped until that producer's abort marker; markers are never returned.
/// Returns (next offset, (offset, record id) taken).
fn read_committed(bytes: &[u8], from: i64, aborted: &[AbortedTxn]) -> (i64, Vec<(i64, u64)>) {
    let mut filter = ReadCommitted::new(aborted);
    let (mut next, mut taken) = (from, Vec::new());
    let mut scratch = Vec::new();
    for batch in batches(bytes).flatten() {
        next = next.max(batch.header().next_offset());
        if !filter.keep(&batch, &NoCodec) {
            continue;
        }
        let Ok(records) = batch.records(&NoCodec, &mut scratch) else {
            continue;
        };
        for record in records.flatten() {
            if record.offset >= from {
                taken.extend(record_id(&record).map(|id| (record.offset, id)));
            }
        }
    }
    (next, taken)
}

/// How each transactional record in a log ended: record id → `Some(true)` committed,
/// `Some(false)` aborted, `None` still open (no marker of its producer after it).
fn outcomes(bytes: &[u8]) -> BTreeMap<u64, Option<bool>> {
    let mut open: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    let mut scratch = Vec::new();
    for batch in batches(bytes).flatten() {
        let header = *batch.header();
        if header.is_control() {
            let commit = crate::txn::control_type(&batch, &NoCodec) == Some(ControlType::Commit);
            for id in open.remove(&header.producer_id).unwrap_or_default() {
                out.insert(id, Some(commit));
            }
            continue;
        }
        if !header.is_transactional() {
            continue;
        }
        let Ok(records) = batch.records(&NoCodec, &mut scratch) else {
            continue;
        };
        let ids = open.entry(header.producer_id).or_default();
        ids.extend(records.flatten().filter_map(|r| record_id(&r)));
    }
    for id in open.into_values().flatten() {
        out.insert(id, None);
    }
    out
}

impl Sim {
    /// Whether the producer is transactional.
    pub(super) fn transactional(&self) -> bool {
        self.config.producer.transactions.is_some()
    }

    // ---- the producer ----

    /// One tick of the transactional producer (every [`ProducerConfig::interval_ms`]).
    pub(super) fn txn_producer_tick(&mut self) {
        let Some(config) = self.config.producer.transactions else {
            return;
        };
        let now = self.now_ms;
        let asking = self.txn.asking.is_some() || now < self.txn.retry_at_ms;
        match self.txn.step {
            Step::Init if !asking => self.txn_ask(Ask::Init),
            Step::Idle if now < self.config.producer.stop_ms => {
                let txn = &mut self.txn;
                txn.txn += 1;
                txn.to_send = config.records_per_txn.max(1);
                txn.added.clear();
                txn.must_abort = false;
                txn.commit =
                    config.abort_one_in == 0 || self.rng.below(u64::from(config.abort_one_in)) != 0;
                txn.step = Step::Writing;
            }
            Step::Writing => {
                if !self.producer.inflight.is_empty() {
                    return; // one write at a time: sequences arrive in order
                }
                if self.txn.to_send == 0 || self.txn.must_abort {
                    if !asking {
                        let commit = self.txn.commit && !self.txn.must_abort;
                        self.txn.step = Step::Ending(commit);
                        self.txn_ask(Ask::End(commit));
                    }
                    return;
                }
                let partition =
                    (self.producer.next_id % u64::from(self.config.partitions)) as PartitionId;
                if !self.txn.added.contains(&partition) {
                    if !asking {
                        self.txn_ask(Ask::Add(partition));
                    }
                    return;
                }
                let Some((producer_id, epoch)) = self.txn.producer else {
                    return;
                };
                let sequence = self.txn.sequences.entry(partition).or_insert(0);
                let txn_fields = (producer_id, epoch, *sequence);
                *sequence += 1;
                self.txn.to_send -= 1;
                let id = self.producer.next_id;
                self.producer.next_id += 1;
                self.txn.txn_of.insert(id, self.txn.txn);
                self.producer.sent.insert(id);
                self.producer.next_request += 1;
                let request = self.producer.next_request;
                self.producer.inflight.insert(
                    request,
                    InFlight {
                        id,
                        partition,
                        created_ms: self.now_ms,
                        attempts: 0,
                        key: None,
                        tombstone: false,
                        txn: Some(txn_fields),
                    },
                );
                self.producer_resend(request);
            }
            Step::Ending(commit) if !asking => self.txn_ask(Ask::End(commit)),
            _ => {}
        }
    }

    /// Sends `ask` to the transaction coordinator the metadata names (FindCoordinator with
    /// key type 1); it is sent again if no answer comes within the request timeout.
    fn txn_ask(&mut self, ask: Ask) {
        self.producer.next_request += 1;
        let request = self.producer.next_request;
        self.txn.asking = Some((request, ask));
        self.timer(
            Party::Producer,
            self.config.producer.request_timeout_ms,
            Timer::TxnAskTimeout(request),
        );
        let Some(coordinator) = self
            .txn_partition
            .and_then(|p| self.controller.partition(p))
            .and_then(|s| s.leader)
        else {
            return;
        };
        let producer = self.txn.producer.unwrap_or((-1, -1));
        let msg = match ask {
            Ask::Init => Msg::InitProducerId { request },
            Ask::Add(partition) => Msg::AddPartitionsToTxn {
                request,
                producer,
                partition,
            },
            Ask::End(commit) => Msg::EndTxn {
                request,
                producer,
                commit,
            },
        };
        self.send(Party::Producer, Party::Broker(coordinator), msg);
    }

    /// No answer to coordinator request `request` in time: ask again.
    pub(super) fn txn_ask_timed_out(&mut self, request: u64) {
        if let Some((asked, ask)) = self.txn.asking
            && asked == request
        {
            self.txn.asking = None;
            let still_wanted = match ask {
                Ask::Init => self.txn.step == Step::Init,
                Ask::Add(_) => self.txn.step == Step::Writing,
                Ask::End(commit) => self.txn.step == Step::Ending(commit),
            };
            if still_wanted {
                self.txn_ask(ask);
            }
        }
    }

    /// The coordinator answered request `request`.
    pub(super) fn txn_answered(&mut self, request: u64, result: Result<(i64, i16), i16>) {
        let Some((asked, ask)) = self.txn.asking else {
            return;
        };
        if asked != request {
            return; // a stale answer
        }
        self.txn.asking = None;
        match (ask, result) {
            (Ask::Init, Ok(producer)) => {
                self.txn.producer = Some(producer);
                self.txn.sequences.clear();
                self.txn.step = Step::Idle;
            }
            (Ask::Add(partition), Ok(_)) => {
                self.txn.added.insert(partition);
            }
            (Ask::End(commit), Ok(_)) => {
                self.txn.ended.insert(self.txn.txn, commit);
                self.txn.step = Step::Idle;
            }
            (_, Err(code)) if coordinator_retriable(code) => {
                self.txn.retry_at_ms = self.now_ms + RETRY_BACKOFF_MS;
            }
            // Fenced, or the transaction is not what the producer thinks (the coordinator
            // aborted it): a fatal error; the application starts a new producer.
            (_, Err(_)) => self.txn_producer_restart(),
        }
    }

    /// A transactional write failed with `error`: retried while retriable, else the
    /// transaction can only abort. Returns whether it is retried.
    pub(super) fn txn_write_failed(&mut self, error: i16) -> bool {
        if retriable(error) {
            return true;
        }
        self.txn.must_abort = true;
        false
    }

    /// [`Fault::ProducerCrash`], or a fatal answer: the producer process is gone (what it had
    /// in flight is never answered to it) and a new one starts with the same
    /// `transactional.id`, fencing it (InitProducerId bumps the epoch and aborts what it left
    /// open).
    pub(super) fn txn_producer_restart(&mut self) {
        if !self.transactional() {
            return;
        }
        for inflight in core::mem::take(&mut self.producer.inflight).into_values() {
            self.producer.failed.insert(inflight.id);
        }
        let txn = &mut self.txn;
        txn.step = Step::Init;
        txn.producer = None;
        txn.asking = None;
        txn.added.clear();
        txn.instances += 1;
    }

    // ---- the coordinator ----

    /// Whether broker `b` serves a transactional request now, by core's rules: it leads
    /// `__transaction_state` and its coordinator is not loading.
    fn txn_gate(&mut self, b: BrokerId) -> Result<(), i16> {
        let (leads, high_watermark) = self.internal_leadership(b, self.txn_partition);
        self.brokers[b as usize]
            .txn
            .coordinator
            .check_coordinator(leads, high_watermark)
    }

    /// A producer's request to broker `b`'s coordinator: planned by core, its transition
    /// written, the answer sent once written ([`Sim::txn_written`]).
    fn txn_request(&mut self, b: BrokerId, request: u64, ask: Ask, producer: (i64, i16)) {
        let now = self.now_ms as i64;
        let answer = |sim: &mut Self, result| {
            sim.send(
                Party::Broker(b),
                Party::Producer,
                Msg::TxnResult { request, result },
            );
        };
        if let Err(code) = self.txn_gate(b) {
            answer(self, Err(code));
            return;
        }
        let timeout_ms = self
            .config
            .producer
            .transactions
            .map_or(60_000, |t| t.timeout_ms) as i32;
        // A fresh id from the coordinator's block, as the node takes one before it asks its
        // coordinator (unused when the transactional id keeps its producer id).
        let mut fresh = -1;
        if matches!(ask, Ask::Init) {
            let txn = &mut self.txn;
            let ids = txn.producer_ids.entry(b).or_default();
            fresh = match ids.next_id() {
                Some(id) => id,
                None => {
                    let Some(block) = txn.producer_id_counter.allocate() else {
                        answer(self, Err(error_code::UNKNOWN_SERVER_ERROR));
                        return;
                    };
                    ids.handle_block(block);
                    ids.next_id().unwrap_or(block.first)
                }
            };
        }
        let coordinator = &mut self.brokers[b as usize].txn.coordinator;
        let plan = match ask {
            Ask::Init => coordinator.prepare_init_producer_id(
                TRANSACTIONAL_ID,
                timeout_ms,
                None,
                now,
                &mut || fresh,
            ),
            Ask::Add(partition) => coordinator.prepare_add_partitions(
                TRANSACTIONAL_ID,
                producer.0,
                producer.1,
                &[(String::from(TOPIC), partition as i32)],
                now,
            ),
            Ask::End(commit) => {
                coordinator.prepare_end_txn(TRANSACTIONAL_ID, producer.0, producer.1, commit, now)
            }
        };
        match plan {
            Err(code) => answer(self, Err(code)),
            Ok(TxnPlan::Done) => answer(self, Ok(producer)),
            Ok(TxnPlan::Write(t)) => self.txn_write(b, t, Some((request, false))),
            Ok(TxnPlan::WriteThenRetry(t)) => self.txn_write(b, t, Some((request, true))),
        }
    }

    /// Appends `transition`'s record to broker `b`'s `__transaction_state` as an acks=all
    /// batch; it ends in [`Sim::txn_written`].
    fn txn_write(&mut self, b: BrokerId, transition: TxnTransition, answer: Option<(u64, bool)>) {
        let Some(p) = self.txn_partition else {
            return;
        };
        let now = self.now_ms;
        let mut builder = BatchBuilder::new(0);
        let (key, value) = &transition.record;
        builder.push(now as i64, Some(key), value.as_deref(), Vec::new());
        // An uncompressed batch always builds.
        let mut batch = builder.build(&NoCodec).unwrap_or_default();
        let txn = &mut self.brokers[b as usize].txn;
        txn.next_request += 1;
        let request = txn.next_request;
        txn.writes.insert(request, (transition, answer));
        match self.append_internal(b, p, &mut batch, request) {
            Ok(None) => {} // waits for the ISR: `carry_out` ends it
            Ok(Some(base)) => self.txn_written(b, request, Ok(base)),
            Err(e) => self.txn_written(b, request, Err(e)),
        }
    }

    /// A write to `__transaction_state` ended: applied and answered once the ISR has it (its
    /// markers start), or forgotten and answered NOT_COORDINATOR.
    pub(super) fn txn_written(
        &mut self,
        b: BrokerId,
        request: u64,
        result: Result<i64, ReplicaError>,
    ) {
        let txn = &mut self.brokers[b as usize].txn;
        let Some((transition, answer)) = txn.writes.remove(&request) else {
            return;
        };
        let reply = match result {
            Ok(_) => {
                let job = txn.coordinator.handle_written(&transition);
                if let Some(job) = job {
                    self.txn_start_markers(b, job);
                }
                let after = &transition.after;
                Ok((after.producer_id, after.producer_epoch))
            }
            Err(_) => {
                txn.coordinator.handle_write_failed(&transition);
                Err(error_code::NOT_COORDINATOR)
            }
        };
        if let Some((client_request, retry)) = answer {
            let result = match reply {
                Ok(_) if retry => Err(error_code::CONCURRENT_TRANSACTIONS),
                other => other,
            };
            self.send(
                Party::Broker(b),
                Party::Producer,
                Msg::TxnResult {
                    request: client_request,
                    result,
                },
            );
        }
    }

    /// Broker `b`'s coordinator starts writing `job`'s markers.
    fn txn_start_markers(&mut self, b: BrokerId, job: MarkerJob) {
        let partitions = job
            .partitions
            .iter()
            .filter(|(topic, p)| topic == TOPIC && *p >= 0 && (*p as u32) < self.config.partitions)
            .map(|(_, p)| (*p as PartitionId, None))
            .collect();
        let txn = &mut self.brokers[b as usize].txn;
        txn.next_request += 1;
        let key = txn.next_request;
        let left = partitions;
        txn.jobs.insert(key, MarkerRun { job, left });
        self.txn_send_markers(b, key);
    }

    /// Sends the markers of job `key` not yet written to the partitions' leaders (as broker
    /// `b` knows them), and looks again after [`MARKER_RETRY_MS`].
    pub(super) fn txn_send_markers(&mut self, b: BrokerId, key: u64) {
        let now = self.now_ms;
        let timeout = self.config.producer.request_timeout_ms;
        let broker = &mut self.brokers[b as usize];
        let Some(run) = broker.txn.jobs.get_mut(&key) else {
            return;
        };
        if run.left.is_empty() {
            self.txn_markers_done(b, key);
            return;
        }
        let job = &run.job;
        let metadata = &broker.metadata;
        let sends: Vec<(BrokerId, Msg)> = run
            .left
            .iter_mut()
            .filter(|(_, sent)| sent.is_none_or(|at| now >= at + timeout))
            .filter_map(|(p, sent)| {
                let leader = metadata.get(p).and_then(|s| s.leader)?;
                *sent = Some(now);
                let msg = Msg::WriteTxnMarker {
                    job: key,
                    partition: *p,
                    producer: (job.producer_id, job.producer_epoch),
                    coordinator_epoch: job.coordinator_epoch,
                    commit: job.control == ControlType::Commit,
                };
                Some((leader, msg))
            })
            .collect();
        for (leader, msg) in sends {
            self.send(Party::Broker(b), Party::Broker(leader), msg);
        }
        self.timer(
            Party::Broker(b),
            MARKER_RETRY_MS,
            Timer::TxnMarkerRetry(key),
        );
    }

    /// Broker `b` (a data partition's leader) writes a marker for coordinator `from`.
    #[allow(clippy::too_many_arguments)]
    fn txn_write_marker(
        &mut self,
        b: BrokerId,
        from: BrokerId,
        job: u64,
        partition: PartitionId,
        producer: (i64, i16),
        coordinator_epoch: i32,
        commit: bool,
    ) {
        let txn = &mut self.brokers[b as usize].txn;
        txn.next_request += 1;
        let request = MARKER_REQUEST | txn.next_request;
        txn.markers.insert(request, (from, job, partition));
        let timeout = self.config.producer.request_timeout_ms;
        let mut result = Err(ReplicaError::NotLeaderOrFollower);
        self.host(b, partition, |h, now| {
            let (r, ready) = h.handle_marker(
                now,
                producer.0,
                producer.1,
                coordinator_epoch,
                ControlType::of(commit),
                request,
                timeout,
                &NoCodec,
            );
            result = r;
            ready
        });
        match result {
            Ok(None) => {} // waits for the ISR
            Ok(Some(offset)) => self.txn_marker_written(b, request, Ok(offset)),
            Err(e) => self.txn_marker_written(b, request, Err(e)),
        }
    }

    /// A marker broker `b` wrote as leader ended: its coordinator is told.
    pub(super) fn txn_marker_written(
        &mut self,
        b: BrokerId,
        request: u64,
        result: Result<i64, ReplicaError>,
    ) {
        let Some((coordinator, job, partition)) =
            self.brokers[b as usize].txn.markers.remove(&request)
        else {
            return;
        };
        let error = result.map_or_else(|e| e.kafka_error_code(), |_| error_code::NONE);
        self.send(
            Party::Broker(b),
            Party::Broker(coordinator),
            Msg::WriteTxnMarkerResult {
                job,
                partition,
                error,
            },
        );
    }

    /// Every marker of job `key` is written: the transition to CompleteCommit or
    /// CompleteAbort is written (a failure leaves it prepared; the next coordinator finishes
    /// it).
    fn txn_markers_done(&mut self, b: BrokerId, key: u64) {
        let now = self.now_ms as i64;
        let txn = &mut self.brokers[b as usize].txn;
        let Some(run) = txn.jobs.remove(&key) else {
            return;
        };
        if let Some(transition) = txn.coordinator.handle_markers_written(&run.job, now) {
            self.txn_write(b, transition, None);
        }
    }

    /// Broker `b`'s role for `__transaction_state` changed: core's coordinator loads the
    /// partition's log (and finishes the transactions it finds prepared) or resigns.
    pub(super) fn txn_coordinator_moved(&mut self, b: BrokerId, moved: CoordinatorMove) {
        let Some(p) = self.txn_partition else {
            return;
        };
        let broker = &mut self.brokers[b as usize];
        broker.txn.jobs.clear();
        match moved {
            CoordinatorMove::Elected => {
                let Some(hosted) = broker.replicas.get(&p) else {
                    return;
                };
                // A memory store cannot fail, and the simulator writes only valid batches.
                let records = hosted.keyed_records(&NoCodec).unwrap_or_default().records;
                let replica = hosted.replica();
                let (epoch, end, hw) = (
                    replica.leader_epoch(),
                    replica.log_end_offset(),
                    replica.high_watermark(),
                );
                let (jobs, _skipped) = broker.txn.coordinator.handle_elected(
                    epoch,
                    records.into_iter().map(|(_, key, value)| (key, value)),
                    end,
                    hw,
                );
                for job in jobs {
                    self.txn_start_markers(b, job);
                }
            }
            CoordinatorMove::Resigned => broker.txn.coordinator.handle_resigned(),
        }
    }

    /// Broker `b`'s tick: its coordinator aborts expired transactions.
    pub(super) fn txn_tick(&mut self, b: BrokerId) {
        if self.txn_partition.is_none() || self.txn_gate(b).is_err() {
            return;
        }
        let now = self.now_ms as i64;
        let expired = self.brokers[b as usize].txn.coordinator.handle_timeout(now);
        for transition in expired {
            self.txn_write(b, transition, None);
        }
    }

    /// A transactional message reached broker `b`.
    pub(super) fn txn_broker_receive(&mut self, b: BrokerId, from: Party, msg: Msg) {
        match msg {
            Msg::InitProducerId { request } => self.txn_request(b, request, Ask::Init, (-1, -1)),
            Msg::AddPartitionsToTxn {
                request,
                producer,
                partition,
            } => self.txn_request(b, request, Ask::Add(partition), producer),
            Msg::EndTxn {
                request,
                producer,
                commit,
            } => self.txn_request(b, request, Ask::End(commit), producer),
            Msg::WriteTxnMarker {
                job,
                partition,
                producer,
                coordinator_epoch,
                commit,
            } => {
                if let Party::Broker(coordinator) = from {
                    self.txn_write_marker(
                        b,
                        coordinator,
                        job,
                        partition,
                        producer,
                        coordinator_epoch,
                        commit,
                    );
                }
            }
            Msg::WriteTxnMarkerResult {
                job,
                partition,
                error,
            } => {
                let txn = &mut self.brokers[b as usize].txn;
                let Some(run) = txn.jobs.get_mut(&job) else {
                    return;
                };
                if error != error_code::NONE {
                    // Refused: the retry timer sends it again.
                    if let Some(sent) = run.left.get_mut(&partition) {
                        *sent = None;
                    }
                    return;
                }
                run.left.remove(&partition);
                let done = run.left.is_empty();
                if done {
                    self.txn_markers_done(b, job);
                }
            }
            _ => {}
        }
    }

    // ---- the read_committed checker ----

    /// The checker consumer's answer from a `read_committed` fetch of `partition` from
    /// `offset`: the records it takes, and the next offset. Checks the last stable offset is
    /// not above the high watermark.
    pub(super) fn txn_consumer_read(
        &mut self,
        partition: PartitionId,
        bytes: &[u8],
        offset: i64,
        high_watermark: i64,
        stable: &(i64, Vec<AbortedTxn>),
    ) -> (i64, u64) {
        let (last_stable_offset, aborted) = stable;
        if *last_stable_offset > high_watermark {
            self.violated(Violation::StableAboveHighWatermark {
                partition,
                last_stable_offset: *last_stable_offset,
            });
        }
        let (next, taken) = read_committed(bytes, offset, aborted);
        for (record_offset, id) in &taken {
            if *record_offset >= *last_stable_offset {
                self.violations.push(Violation::ReadAboveHighWatermark {
                    partition,
                    offset: *record_offset,
                });
            }
            self.txn.read.insert(*id);
        }
        (next, taken.len() as u64)
    }

    /// The transactional invariants over the current leaders' logs below their high
    /// watermarks (see the module documentation).
    pub(super) fn txn_check(&mut self) {
        if !self.transactional() {
            return;
        }
        let mut outcome: BTreeMap<u64, Option<bool>> = BTreeMap::new();
        for p in 0..self.config.partitions {
            let Some(leader) = self.controller.partition(p).and_then(|s| s.leader) else {
                continue;
            };
            if let Some(replica) = self.replica(leader, p) {
                outcome.extend(outcomes(&replica.read_all(replica.high_watermark())));
            }
        }
        // Per transaction: how its records found in the logs ended.
        let mut by_txn: BTreeMap<u64, BTreeSet<Option<bool>>> = BTreeMap::new();
        for (id, ended) in &outcome {
            if let Some(txn) = self.txn.txn_of.get(id) {
                by_txn.entry(*txn).or_default().insert(*ended);
            }
        }
        let mut broken = Vec::new();
        for (txn, ends) in &by_txn {
            let told = self.txn.ended.get(txn).copied();
            let decided: BTreeSet<bool> = ends.iter().flatten().copied().collect();
            let mixed = decided.len() > 1;
            let contradicts = told.is_some_and(|c| decided.iter().any(|d| *d != c));
            if mixed || contradicts {
                broken.push(Violation::TransactionNotAtomic { txn: *txn });
            }
        }
        // A transaction the producer was told committed has every acknowledged record in the
        // log (the lost-record check covers the rest of durability).
        for (id, (_, _)) in &self.producer.acked {
            let Some(txn) = self.txn.txn_of.get(id) else {
                continue;
            };
            if self.txn.ended.get(txn) == Some(&true)
                && outcome.get(id).is_some_and(|o| *o != Some(true))
            {
                broken.push(Violation::TransactionNotAtomic { txn: *txn });
            }
        }
        for id in &self.txn.read {
            if outcome.get(id).is_some_and(|o| *o != Some(true)) {
                broken.push(Violation::ReadUncommitted { id: *id });
            }
        }
        for v in broken {
            self.violated(v);
        }
    }

    /// Liveness of transactions: the producer ended its last transaction and is idle, the
    /// coordinator holds no transaction half-ended (prepared), no data partition's leader
    /// holds an open transaction below its high watermark (nothing stays blocked behind an
    /// expired one), and the checker read every committed record. True when the producer is
    /// not transactional.
    pub fn transactions_settled(&self) -> bool {
        if !self.transactional() {
            return true;
        }
        if self.txn.step != Step::Idle {
            return false;
        }
        let coordinator = self
            .txn_partition
            .and_then(|p| self.controller.partition(p))
            .and_then(|s| s.leader);
        let Some(coordinator) = coordinator else {
            return false;
        };
        let half_ended = self.brokers[coordinator as usize]
            .txn
            .coordinator
            .list()
            .any(|t| matches!(t.state, TxnState::PrepareCommit | TxnState::PrepareAbort));
        if half_ended {
            return false;
        }
        let mut committed = BTreeSet::new();
        for p in 0..self.config.partitions {
            let Some(leader) = self.controller.partition(p).and_then(|s| s.leader) else {
                return false;
            };
            let Some(replica) = self.replica(leader, p) else {
                return false;
            };
            if replica.last_stable_offset() != replica.high_watermark() {
                return false;
            }
            for (id, ended) in outcomes(&replica.read_all(replica.high_watermark())) {
                match ended {
                    None => return false,
                    Some(true) => {
                        committed.insert(id);
                    }
                    Some(false) => {}
                }
            }
        }
        committed.is_subset(&self.txn.read)
    }

    /// `__transaction_state`'s partition id, when the producer is transactional.
    pub fn transaction_state_partition(&self) -> Option<PartitionId> {
        self.txn_partition
    }

    /// Transactions the producer was told committed and aborted, and its instances.
    pub fn transaction_counts(&self) -> (u64, u64, u32) {
        let committed = self.txn.ended.values().filter(|c| **c).count() as u64;
        let aborted = self.txn.ended.len() as u64 - committed;
        (committed, aborted, self.txn.instances)
    }
}
