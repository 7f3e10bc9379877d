//! The node's side of transactions (KIP-98): carrying out what core's transaction coordinator
//! ([`HostedTransactions`]) decides — writing its records to `__transaction_state`, writing
//! markers to partitions, holding transactional offset commits — in the order of core's
//! contract (`runnel_core::broker::transactions`). Every rule is core's; here only the I/O.
//!
//! A single node coordinates every transactional id from its own `__transaction_state`. In a
//! cluster transactions are not served yet (FindCoordinator for a transactional id, and
//! InitProducerId with one, are refused at once; see `docs/cluster.md`).

use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use runnel_core::batch::BatchBuilder;
use runnel_core::broker::{CommitEntry, HostedTransactions, MarkerJob, TxnPlan, TxnTransition};
use runnel_core::error_code;
use runnel_core::replica::ReplicaError;
use runnel_core::txn::ControlType;
use tokio::sync::oneshot;

use super::{
    ApiError, Broker, Commit, OFFSETS_COMMIT_TIMEOUT_MS, OFFSETS_TOPIC, Produced, TXN_STATE_TOPIC,
    commit_failed, now_ms,
};

/// How long a write to `__transaction_state` or a marker may wait for the ISR.
const TXN_WRITE_TIMEOUT_MS: u64 = 5_000;
/// How long after a marker could not be written it is tried again (Kafka's marker channel
/// retries until the partition's leader takes it).
const MARKER_RETRY_MS: u64 = 100;

impl Broker {
    /// The transaction coordinator, locked.
    pub fn lock_txns(&self) -> MutexGuard<'_, HostedTransactions> {
        self.txns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this node serves transactions: a single node does; a cluster does not yet.
    pub fn serves_transactions(&self) -> bool {
        self.cluster().is_none()
    }

    /// Makes this node the transaction coordinator: core rebuilds every transactional id from
    /// `__transaction_state` ([`HostedTransactions::handle_elected`]) and the transactions it
    /// finds prepared are finished (their markers written).
    pub(super) fn elect_txn_coordinator(self: &Arc<Self>) -> Result<(), String> {
        let Ok(partition) = self.partition(TXN_STATE_TOPIC, 0) else {
            return Ok(());
        };
        let (entries, epoch) = {
            let state = partition.lock();
            let entries = state
                .host
                .keyed_records(&self.codec)
                .map_err(|e| format!("{TXN_STATE_TOPIC}: {e}"))?;
            (entries.records, state.replica().leader_epoch().max(0))
        };
        let records = entries.into_iter().map(|(_, key, value)| (key, value));
        let (jobs, skipped) = self.lock_txns().handle_elected(epoch, records);
        if skipped > 0 {
            tracing::warn!(
                "{TXN_STATE_TOPIC}: skipped {skipped} records that are not transactions"
            );
        }
        for job in jobs {
            tracing::info!(
                "finishing the {:?} of transactional id {} found prepared",
                job.control,
                job.transactional_id
            );
            self.spawn_markers(job);
        }
        Ok(())
    }

    /// Carries out `plan` from a `prepare_*` call of core's coordinator: writes its transition
    /// to `__transaction_state`, then tells core, and starts the markers core asks for. Returns
    /// the code to answer: NONE, or the write's error (a failed write changes nothing), or
    /// CONCURRENT_TRANSACTIONS for [`TxnPlan::WriteThenRetry`].
    pub async fn run_txn_plan(self: &Arc<Self>, plan: TxnPlan) -> i16 {
        let (transition, then_retry) = match plan {
            TxnPlan::Done => return error_code::NONE,
            TxnPlan::Write(t) => (t, false),
            TxnPlan::WriteThenRetry(t) => (t, true),
        };
        if let Err(e) = self.write_txn_transition(&transition).await {
            return e.code;
        }
        if then_retry {
            error_code::CONCURRENT_TRANSACTIONS
        } else {
            error_code::NONE
        }
    }

    /// Writes `transition` (acks=all) and, once written, applies it in core; a marker job it
    /// leads to starts in the background. Errors: the write's (COORDINATOR_NOT_AVAILABLE for
    /// a storage or replication failure, as Kafka's `appendTransactionToLog` maps them).
    async fn write_txn_transition(
        self: &Arc<Self>,
        transition: &TxnTransition,
    ) -> Result<(), ApiError> {
        let written = self.append_txn_state(transition).await;
        match written {
            Ok(()) => {
                let job = self.lock_txns().handle_written(transition);
                if let Some(job) = job {
                    self.spawn_markers(job);
                }
                Ok(())
            }
            Err(e) => {
                self.lock_txns().handle_write_failed(transition);
                tracing::warn!(
                    "transactional id {}: the state could not be written: {}",
                    transition.after.transactional_id,
                    e.message
                );
                Err(ApiError::new(
                    error_code::COORDINATOR_NOT_AVAILABLE,
                    format!("the transaction state could not be written: {}", e.message),
                ))
            }
        }
    }

    /// Appends `transition`'s record to `__transaction_state` and waits for the ISR.
    async fn append_txn_state(&self, transition: &TxnTransition) -> Result<(), ApiError> {
        let (key, value) = &transition.record;
        let mut builder = BatchBuilder::new(0);
        builder.push(now_ms() as i64, Some(key), Some(value), Vec::new());
        let batch = builder
            .build(&self.codec)
            .map_err(|e| ApiError::new(e.kafka_error_code(), e.to_string()))?;
        let partition = self.partition(TXN_STATE_TOPIC, 0)?;
        let produced = self.produce_acks(&partition, &batch, -1, TXN_WRITE_TIMEOUT_MS)?;
        wait_replicated(produced).await.map(|_| ())
    }

    /// Writes `job`'s markers in the background, each retried until written (or its
    /// partition is gone), then the transition to CompleteCommit or CompleteAbort.
    fn spawn_markers(self: &Arc<Self>, job: MarkerJob) {
        let broker = self.clone();
        let runtime = self
            .runtime
            .get()
            .cloned()
            .or_else(|| tokio::runtime::Handle::try_current().ok());
        let Some(runtime) = runtime else {
            tracing::error!(
                "no runtime to write the markers of {}",
                job.transactional_id
            );
            return;
        };
        runtime.spawn(async move {
            for (topic, index) in &job.partitions {
                broker.write_marker_until_done(&job, topic, *index).await;
            }
            let transition = broker
                .lock_txns()
                .handle_markers_written(&job, now_ms() as i64);
            if let Some(transition) = transition {
                // A failure leaves the transaction prepared; the next coordinator load (or
                // restart) finishes it again.
                let _ = broker.write_txn_transition(&transition).await;
            }
        });
    }

    /// Writes one marker of `job` to `topic`-`index`, retrying every [`MARKER_RETRY_MS`]
    /// while the partition refuses it; a partition that no longer exists is skipped, as
    /// Kafka's marker channel drops markers for deleted partitions.
    async fn write_marker_until_done(&self, job: &MarkerJob, topic: &str, index: i32) {
        let mut warned = false;
        loop {
            let written = match self.write_marker(job, topic, index) {
                Ok(produced) => wait_replicated(produced).await,
                Err(e) => Err(e),
            };
            match written {
                Ok(_) => {
                    if topic == OFFSETS_TOPIC {
                        let commit = job.control == ControlType::Commit;
                        self.lock_groups()
                            .handle_txn_marker(job.producer_id, commit);
                    }
                    return;
                }
                Err(e) if e.code == error_code::UNKNOWN_TOPIC_OR_PARTITION => return,
                Err(e) => {
                    if !warned {
                        tracing::warn!(
                            "{topic}-{index}: the {:?} marker of {} could not be written yet: {}",
                            job.control,
                            job.transactional_id,
                            e.message
                        );
                        warned = true;
                    }
                    tokio::time::sleep(Duration::from_millis(MARKER_RETRY_MS)).await;
                }
            }
        }
    }

    /// Appends one marker of `job` to `topic`-`index` as its leader (core's
    /// `HostedPartition::handle_marker`).
    fn write_marker(&self, job: &MarkerJob, topic: &str, index: i32) -> Result<Produced, ApiError> {
        let partition = self.led_partition(topic, index)?;
        let now = now_ms();
        let mut state = partition.lock();
        let state = &mut *state;
        state.next_request += 1;
        let request = state.next_request;
        let (written, ready) = state.host.handle_marker(
            now,
            job.producer_id,
            job.producer_epoch,
            job.coordinator_epoch,
            job.control,
            request,
            TXN_WRITE_TIMEOUT_MS,
            &self.codec,
        );
        self.carry_out(&partition, state, ready)?;
        let written = written.map_err(|e| match e {
            ReplicaError::Storage(why) => {
                self.storage_failed(&format!("marker to {topic}-{index}"), &why);
                ApiError::new(error_code::KAFKA_STORAGE_ERROR, why)
            }
            other => ApiError::new(other.kafka_error_code(), other.to_string()),
        })?;
        let start = state.log().log_start_offset();
        Ok(match written {
            Some(offset) => Produced::Done(offset, start, -1),
            None => {
                let (tx, rx) = oneshot::channel();
                state.waiters.insert(request, tx);
                Produced::Waiting(rx, start, -1)
            }
        })
    }

    /// Transactions open past their `transaction.timeout.ms` are aborted (core's
    /// [`HostedTransactions::handle_timeout`], Kafka's `abortTimedOutTransactions`). Called
    /// by a background task.
    pub async fn abort_timed_out_txns(self: &Arc<Self>) {
        let expired = self.lock_txns().handle_timeout(now_ms() as i64);
        for transition in expired {
            tracing::info!(
                "transactional id {}: aborting its transaction, open past its timeout of {} ms",
                transition.after.transactional_id,
                transition.after.timeout_ms
            );
            let _ = self.write_txn_transition(&transition).await;
        }
    }

    /// Checks a transactional write of `producer_id` at `producer_epoch` to `topic`-`index`
    /// with the coordinator: the partition must have been added to its transaction (KIP-890
    /// part 1, core's [`HostedTransactions::verify_partition`]). Errors:
    /// INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE.
    pub fn verify_txn_write(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        topic: &str,
        index: i32,
    ) -> Result<(), ApiError> {
        self.lock_txns()
            .verify_partition(producer_id, producer_epoch, (topic, index))
            .map_err(|code| {
                ApiError::new(
                    code,
                    format!(
                        "producer {producer_id} (epoch {producer_epoch}) has no open transaction \
                         holding {topic}-{index}"
                    ),
                )
            })
    }

    /// TxnOffsetCommit: core checks the member and generation (KIP-447) and plans the
    /// commits; they are written to `__consumer_offsets` as a transactional batch of the
    /// producer and shown only once its transaction commits. The caller awaits
    /// [`Commit::replicated`] and then calls [`Broker::txn_commit_replicated`].
    #[allow(clippy::too_many_arguments)]
    pub fn txn_commit_offsets(
        &self,
        group: &str,
        producer_id: i64,
        producer_epoch: i16,
        generation_id: i32,
        member_id: &str,
        entries: Vec<CommitEntry>,
    ) -> Result<Commit, ApiError> {
        let exists = |topic: &str, partition| {
            self.topic(topic)
                .and_then(|t| t.partition(partition))
                .is_some()
        };
        let plan = self
            .lock_groups()
            .prepare_txn_commit(now_ms(), group, generation_id, member_id, entries, exists)
            .map_err(|e| ApiError::new(e.kafka_error_code(), e.to_string()))?;
        let mut commit = Commit {
            plan,
            replicated: None,
        };
        if commit.plan.records.is_empty() {
            return Ok(commit);
        }
        let now = now_ms() as i64;
        let mut builder = BatchBuilder::new(0)
            .producer(producer_id, producer_epoch, -1)
            .transactional(true);
        for (key, value) in &commit.plan.records {
            builder.push(now, Some(key), Some(value), Vec::new());
        }
        let batch = builder
            .build(&self.codec)
            .map_err(|e| ApiError::new(e.kafka_error_code(), e.to_string()))?;
        let partition = self.partition(OFFSETS_TOPIC, 0)?;
        match self
            .produce_acks(&partition, &batch, -1, OFFSETS_COMMIT_TIMEOUT_MS)
            .map_err(commit_failed)?
        {
            Produced::Done(base, _, _) => self.txn_commit_replicated(producer_id, base, &commit),
            Produced::Waiting(rx, _, _) => commit.replicated = Some(rx),
        }
        Ok(commit)
    }

    /// A TxnOffsetCommit's write at `base_offset` is replicated: core holds its commits until
    /// the producer's transaction ends.
    pub fn txn_commit_replicated(&self, producer_id: i64, base_offset: i64, commit: &Commit) {
        self.lock_groups()
            .handle_txn_commit_written(producer_id, base_offset, commit.plan.clone());
    }
}

/// The base offset of a write once the ISR has it. Errors: REQUEST_TIMED_OUT (the wait was
/// dropped), or the replication's own error.
async fn wait_replicated(produced: Produced) -> Result<i64, ApiError> {
    match produced {
        Produced::Done(base, _, _) => Ok(base),
        Produced::Waiting(rx, _, _) => match rx.await {
            Ok(Ok(base)) => Ok(base),
            Ok(Err(e)) => Err(ApiError::new(e.kafka_error_code(), e.to_string())),
            Err(_) => Err(ApiError::new(
                error_code::REQUEST_TIMED_OUT,
                "the in-sync replicas did not confirm in time",
            )),
        },
    }
}
