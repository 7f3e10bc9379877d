//! The node's side of transactions (KIP-98): carrying out what core's transaction coordinator
//! ([`HostedTransactions`]) decides — writing its records to `__transaction_state`, writing
//! markers to partitions, holding transactional offset commits — in the order of core's
//! contract (`runnel_core::broker::transactions`). Every rule is core's; here only the I/O.
//!
//! The coordinator is the node that leads `__transaction_state` (its only partition here):
//! a single node, or in a cluster that partition's leader, whose records are replicated like
//! any partition's. Markers go to each partition's leader: written here when this node leads
//! it, else sent to its leader as WriteTxnMarkers over the inter-broker listener.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, ProducerId, TopicName,
    TransactionalId, WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};
use kafka_protocol::protocol::StrBytes;
use runnel_core::batch::BatchBuilder;
use runnel_core::broker::{
    CommitEntry, HostedTransactions, MarkerJob, TxnPlan, TxnState, TxnTransition,
};
use runnel_core::error_code;
use runnel_core::replica::ReplicaError;
use runnel_core::txn::ControlType;
use tokio::sync::oneshot;

use crate::client::Client;

use super::{
    ApiError, Broker, Commit, Leadership, OFFSETS_COMMIT_TIMEOUT_MS, OFFSETS_TOPIC, Produced,
    TXN_STATE_TOPIC, commit_failed, now_ms,
};

/// How long a write to `__transaction_state` or a marker may wait for the ISR.
const TXN_WRITE_TIMEOUT_MS: u64 = 5_000;
/// How long a connection to another node for a marker may take to connect or answer.
const INTER_BROKER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long after a marker could not be written it is tried again (Kafka's marker channel
/// retries until the partition's leader takes it).
const MARKER_RETRY_MS: u64 = 100;

impl Broker {
    /// The transaction coordinator, locked.
    pub fn lock_txns(&self) -> MutexGuard<'_, HostedTransactions> {
        self.txns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates `__transaction_state` if it does not exist yet, as Kafka does on the first
    /// transactional request (compacted, one partition here; in a cluster replicated 3 times,
    /// or on every voter when fewer, with `min.insync.replicas` from
    /// `transaction.state.log.min.isr` and unclean election off, through the metadata quorum,
    /// which answers later: until it has a leader, clients are told COORDINATOR_NOT_AVAILABLE
    /// and retry).
    pub fn ensure_txn_state_topic(self: &Arc<Self>) {
        let config: BTreeMap<String, String> =
            [("cleanup.policy".to_string(), "compact".to_string())].into();
        let Some(cluster) = self.cluster() else {
            if self.topic(TXN_STATE_TOPIC).is_none() {
                match self.create_topic(TXN_STATE_TOPIC, 1, config) {
                    Ok(_) => {
                        if let Err(e) = self.elect_txn_coordinator() {
                            tracing::error!("cannot load the transactions: {e}");
                        }
                    }
                    Err(e) => tracing::warn!("cannot create {TXN_STATE_TOPIC}: {}", e.message),
                }
            }
            return;
        };
        if cluster.image().topics.contains_key(TXN_STATE_TOPIC)
            || self.txn_state_creating.swap(true, Ordering::Relaxed)
        {
            return;
        }
        let replication = cluster.voters.len().min(3) as i16;
        // Kafka's `transactionTopicConfigs`: unclean election off and
        // `transaction.state.log.min.isr`, so an acknowledged transition survives a failover
        // (found by the simulator: with the brokers' default of 1, a lost Ongoing record left
        // a data partition's transaction open forever).
        let min_isr = self
            .config
            .transaction_state_log_min_isr
            .clamp(1, replication.max(1) as u16);
        let mut config = config;
        config.insert("min.insync.replicas".to_string(), min_isr.to_string());
        config.insert(
            "unclean.leader.election.enable".to_string(),
            "false".to_string(),
        );
        let broker = self.clone();
        let runtime = self.runtime_handle();
        let Some(runtime) = runtime else {
            self.txn_state_creating.store(false, Ordering::Relaxed);
            return;
        };
        runtime.spawn(async move {
            let created = broker
                .create_topic_anywhere(TXN_STATE_TOPIC, 1, replication, config, false)
                .await;
            if let Err(e) = created {
                tracing::debug!("creating {TXN_STATE_TOPIC}: {}", e.message);
            }
            broker.txn_state_creating.store(false, Ordering::Relaxed);
        });
    }

    /// Whether this node coordinates transactions: always on a single node; in a cluster, the
    /// node that leads `__transaction_state`.
    pub fn is_txn_coordinator(&self) -> bool {
        self.leads_internal(TXN_STATE_TOPIC)
    }

    /// Why this node cannot serve a transactional request now, as a Kafka error code (core's
    /// [`HostedTransactions::check_coordinator`]): NOT_COORDINATOR when it does not lead
    /// `__transaction_state`, COORDINATOR_LOAD_IN_PROGRESS while what it loaded is not
    /// replicated yet. `None`: it can.
    pub fn txn_coordinator_refusal(&self) -> Option<i16> {
        let leads = self.is_txn_coordinator();
        let high_watermark = self.internal_high_watermark(TXN_STATE_TOPIC);
        self.lock_txns()
            .check_coordinator(leads, high_watermark)
            .err()
    }

    /// The transaction coordinator's Kafka endpoint for a client of listener number
    /// `listener`: this node's on a single node; in a cluster the leader of
    /// `__transaction_state`, if it has one.
    pub fn txn_coordinator_endpoint(&self, listener: usize) -> Option<(i32, String, u16)> {
        self.leader_endpoint(TXN_STATE_TOPIC, listener)
    }

    /// Makes this node the transaction coordinator: core rebuilds every transactional id from
    /// `__transaction_state` ([`HostedTransactions::handle_elected`]) and the transactions it
    /// finds prepared are finished (their markers written).
    pub(super) fn elect_txn_coordinator(self: &Arc<Self>) -> Result<(), String> {
        let Ok(partition) = self.partition(TXN_STATE_TOPIC, 0) else {
            return Ok(());
        };
        let (entries, epoch, log_end_offset, high_watermark) = {
            let state = partition.lock();
            let entries = state
                .host
                .keyed_records(&self.codec)
                .map_err(|e| format!("{TXN_STATE_TOPIC}: {e}"))?;
            let replica = state.replica();
            (
                entries.records,
                replica.leader_epoch().max(0),
                replica.log_end_offset(),
                replica.high_watermark(),
            )
        };
        let records = entries.into_iter().map(|(_, key, value)| (key, value));
        let (jobs, skipped) =
            self.lock_txns()
                .handle_elected(epoch, records, log_end_offset, high_watermark);
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
    /// CONCURRENT_TRANSACTIONS for [`TxnPlan::WriteThenRetry`]; a refusal from core (`Err`)
    /// is answered as it is.
    pub async fn run_txn_plan(self: &Arc<Self>, plan: Result<TxnPlan, i16>) -> i16 {
        let (transition, then_retry) = match plan {
            Err(code) => return code,
            Ok(TxnPlan::Done) => return error_code::NONE,
            Ok(TxnPlan::Write(t)) => (t, false),
            Ok(TxnPlan::WriteThenRetry(t)) => (t, true),
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
        builder.push(now_ms() as i64, Some(key), value.as_deref(), Vec::new());
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
        let runtime = self.runtime_handle();
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
    async fn write_marker_until_done(self: &Arc<Self>, job: &MarkerJob, topic: &str, index: i32) {
        let mut warned = false;
        loop {
            let written = match self.leadership(topic, index) {
                Leadership::Here => self.write_marker_here(job, topic, index).await,
                Leadership::Elsewhere => self.send_marker(job, topic, index).await,
            };
            if !self.is_txn_coordinator() {
                return; // a new coordinator finishes the transaction (it loads it prepared)
            }
            match written {
                Ok(()) => return,
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

    /// Writes one marker of `job` to `topic`-`index`, which this node leads, and waits for
    /// its ISR; a commit marker on `__consumer_offsets` shows the transaction's offset commits
    /// (core's [`runnel_core::broker::HostedGroups::handle_txn_marker`]).
    pub async fn write_marker_here(
        &self,
        job: &MarkerJob,
        topic: &str,
        index: i32,
    ) -> Result<(), ApiError> {
        wait_replicated(self.write_marker(job, topic, index)?).await?;
        if topic == OFFSETS_TOPIC {
            let commit = job.control == ControlType::Commit;
            self.lock_groups()
                .handle_txn_marker(job.producer_id, commit);
        }
        Ok(())
    }

    /// Sends one marker of `job` for `topic`-`index` to the partition's leader as
    /// WriteTxnMarkers (Kafka's `TransactionMarkerChannelManager`), over the inter-broker
    /// listener. Errors: no leader known or reachable (NOT_LEADER_OR_FOLLOWER, retried), or
    /// the leader's code for the partition.
    async fn send_marker(
        self: &Arc<Self>,
        job: &MarkerJob,
        topic: &str,
        index: i32,
    ) -> Result<(), ApiError> {
        let unavailable = |why: String| ApiError::new(error_code::NOT_LEADER_OR_FOLLOWER, why);
        let cluster = self
            .cluster()
            .ok_or_else(|| unavailable("no cluster".into()))?;
        let leader = cluster
            .image()
            .partition(topic, index)
            .ok_or_else(|| ApiError::unknown_topic(topic))?
            .leader
            .ok_or_else(|| unavailable(format!("{topic}-{index} has no leader")))?;
        let address = self.inter_broker_address(leader)?;
        let request = WriteTxnMarkersRequest::default().with_markers(vec![
            WritableTxnMarker::default()
                .with_producer_id(ProducerId(job.producer_id))
                .with_producer_epoch(job.producer_epoch)
                .with_transaction_result(job.control == ControlType::Commit)
                .with_coordinator_epoch(job.coordinator_epoch)
                .with_topics(vec![
                    WritableTxnMarkerTopic::default()
                        .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                        .with_partition_indexes(vec![index]),
                ]),
        ]);
        let answered: WriteTxnMarkersResponse = self
            .call_broker(address, ApiKey::WriteTxnMarkers, 1, request)
            .await?;
        let code = answered
            .markers
            .iter()
            .flat_map(|m| &m.topics)
            .flat_map(|t| &t.partitions)
            .map(|p| p.error_code)
            .find(|c| *c != error_code::NONE)
            .unwrap_or(error_code::NONE);
        if code == error_code::NONE {
            Ok(())
        } else {
            Err(ApiError::new(
                code,
                format!("broker {leader} refused the marker"),
            ))
        }
    }

    /// Where node `id` serves the inter-broker listener (`host:port`). Errors:
    /// NOT_LEADER_OR_FOLLOWER when this node is in no cluster, or the node has no endpoint
    /// there.
    fn inter_broker_address(&self, id: u32) -> Result<String, ApiError> {
        let unavailable = |why: String| ApiError::new(error_code::NOT_LEADER_OR_FOLLOWER, why);
        let cluster = self
            .cluster()
            .ok_or_else(|| unavailable("no cluster".into()))?;
        let listener = self.config.inter_broker_listener().map_err(unavailable)?;
        let (host, port) = cluster
            .image()
            .endpoint(id, &listener.name)
            .ok_or_else(|| unavailable(format!("broker {id} has no endpoint")))?;
        Ok(format!("{host}:{port}"))
    }

    /// One request `key` v`version` to the node at `address` over the inter-broker
    /// listener (its TLS and SASL), on a connection of its own, answered within
    /// [`INTER_BROKER_TIMEOUT`]. Errors: NOT_LEADER_OR_FOLLOWER when it cannot be reached or
    /// does not answer.
    async fn call_broker<Req, Resp>(
        self: &Arc<Self>,
        address: String,
        key: ApiKey,
        version: i16,
        request: Req,
    ) -> Result<Resp, ApiError>
    where
        Req: kafka_protocol::protocol::Encodable + Send + 'static,
        Resp: kafka_protocol::protocol::Decodable + Send + 'static,
    {
        let unavailable = |why: String| ApiError::new(error_code::NOT_LEADER_OR_FOLLOWER, why);
        let broker = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut client = Client::connect_secured(
                &address,
                INTER_BROKER_TIMEOUT,
                broker.inter_broker_security(),
            )?;
            client.call::<_, Resp>(key, version, &request)
        })
        .await
        .map_err(|e| unavailable(e.to_string()))?
        .map_err(|e| unavailable(e.to_string()))
    }

    /// KIP-890 part 1 where the transaction coordinator is another node: before this node
    /// (a partition's leader) writes the first batch of a producer's transaction to a
    /// partition, it asks the coordinator whether the partition was added to that
    /// transaction (AddPartitionsToTxn v4 `verify_only`, as Kafka 3.6's
    /// `AddPartitionsToTxnManager`); later batches of the same transaction there need no
    /// question. `writes`: (topic, partition, producer id, epoch) of each transactional
    /// batch. Returns the refused ones: INVALID_TXN_STATE (not added, or no such
    /// transaction), INVALID_PRODUCER_EPOCH (an older instance), NOT_ENOUGH_REPLICAS when the
    /// coordinator cannot answer (retriable for a producer, as Kafka answers). Empty on a
    /// single node or where this node is the coordinator (the local check,
    /// [`Broker::verify_txn_write`], answers there).
    pub async fn verify_txn_writes_remotely(
        self: &Arc<Self>,
        transactional_id: &str,
        writes: Vec<(String, i32, i64, i16)>,
    ) -> BTreeMap<(String, i32), ApiError> {
        let mut refused = BTreeMap::new();
        if self.cluster().is_none() || self.is_txn_coordinator() {
            return refused;
        }
        let first_of_their_transaction: Vec<(String, i32, i64, i16)> = writes
            .into_iter()
            .filter(|(topic, index, producer_id, _)| {
                self.led_partition(topic, *index).is_ok_and(|partition| {
                    !partition.lock().replica().txns().is_ongoing(*producer_id)
                })
            })
            .collect();
        if first_of_their_transaction.is_empty() {
            return refused;
        }
        let not_verified = |why: &str| {
            ApiError::new(
                error_code::NOT_ENOUGH_REPLICAS,
                format!("the transaction coordinator could not verify the write: {why}"),
            )
        };
        let coordinator = self.cluster().and_then(|c| {
            c.image()
                .partition(TXN_STATE_TOPIC, 0)
                .and_then(|p| p.leader)
        });
        let answer = match coordinator.map(|id| self.inter_broker_address(id)) {
            None => Err(not_verified("it has no leader")),
            Some(Err(e)) => Err(not_verified(&e.message)),
            Some(Ok(address)) => {
                let request = verify_request(transactional_id, &first_of_their_transaction);
                self.call_broker::<_, AddPartitionsToTxnResponse>(
                    address,
                    ApiKey::AddPartitionsToTxn,
                    4,
                    request,
                )
                .await
                .map_err(|e| not_verified(&e.message))
            }
        };
        let answered = match answer {
            Ok(answered) if answered.error_code == error_code::NONE => answered,
            Ok(answered) => {
                let e = not_verified(&format!("error {}", answered.error_code));
                for (topic, index, _, _) in first_of_their_transaction {
                    refused.insert((topic, index), e.clone());
                }
                return refused;
            }
            Err(e) => {
                for (topic, index, _, _) in first_of_their_transaction {
                    refused.insert((topic, index), e.clone());
                }
                return refused;
            }
        };
        let codes = answered
            .results_by_transaction
            .iter()
            .flat_map(|t| &t.topic_results)
            .flat_map(|t| {
                t.results_by_partition.iter().map(move |p| {
                    (
                        (t.name.0.to_string(), p.partition_index),
                        p.partition_error_code,
                    )
                })
            });
        for (partition, code) in codes {
            let code = match code {
                error_code::NONE => continue,
                error_code::PRODUCER_FENCED | error_code::INVALID_PRODUCER_EPOCH => {
                    error_code::INVALID_PRODUCER_EPOCH
                }
                error_code::INVALID_TXN_STATE | error_code::INVALID_PRODUCER_ID_MAPPING => {
                    error_code::INVALID_TXN_STATE
                }
                // The coordinator moved, loads, or is busy: the producer retries.
                _ => error_code::NOT_ENOUGH_REPLICAS,
            };
            let why = format!(
                "the transaction coordinator did not find {}-{} in the producer's transaction",
                partition.0, partition.1
            );
            refused.insert(partition, ApiError::new(code, why));
        }
        refused
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

    /// Transactions open past their `transaction.timeout.ms` are aborted, completions that
    /// could not be written are written again, and idle transactional ids expire (core's
    /// [`HostedTransactions::handle_timeout`], Kafka's `abortTimedOutTransactions`, its marker
    /// channel's retried appends and `removeExpiredTransactionalIds`). Called by a background
    /// task.
    pub async fn abort_timed_out_txns(self: &Arc<Self>) {
        let due = self.lock_txns().handle_timeout(now_ms() as i64);
        for transition in due {
            let after = &transition.after;
            if after.state == TxnState::PrepareAbort {
                tracing::info!(
                    "transactional id {}: aborting its transaction, open past its timeout of {} ms",
                    after.transactional_id,
                    after.timeout_ms
                );
            } else if after.state == TxnState::Dead {
                tracing::info!(
                    "transactional id {}: expired, idle for transactional.id.expiration.ms",
                    after.transactional_id
                );
            } else {
                tracing::info!(
                    "transactional id {}: writing its {} again",
                    after.transactional_id,
                    after.state.name()
                );
            }
            let _ = self.write_txn_transition(&transition).await;
        }
    }

    /// Checks a transactional write of `producer_id` at `producer_epoch` to `topic`-`index`
    /// with the coordinator: the partition must have been added to its transaction (KIP-890
    /// part 1, core's [`HostedTransactions::verify_partition`]), checked where this node is
    /// the coordinator (always on a single node). Errors:
    /// INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE.
    pub fn verify_txn_write(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        topic: &str,
        index: i32,
    ) -> Result<(), ApiError> {
        if !self.is_txn_coordinator() {
            // In a cluster the check needs the coordinator on another node (Kafka 3.6's
            // AddPartitionsToTxn v4 `verifyOnly`); runnel does not ask it yet.
            return Ok(());
        }
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

/// The AddPartitionsToTxn v4 request asking the coordinator to verify `writes` (topic,
/// partition, producer id, epoch) of `transactional_id`: one transaction entry per producer
/// instance, `verify_only`.
fn verify_request(
    transactional_id: &str,
    writes: &[(String, i32, i64, i16)],
) -> AddPartitionsToTxnRequest {
    let mut by_producer: BTreeMap<(i64, i16), BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
    for (topic, index, producer_id, epoch) in writes {
        by_producer
            .entry((*producer_id, *epoch))
            .or_default()
            .entry(topic.as_str())
            .or_default()
            .push(*index);
    }
    let transactions = by_producer
        .into_iter()
        .map(|((producer_id, epoch), topics)| {
            let topics = topics
                .into_iter()
                .map(|(topic, partitions)| {
                    AddPartitionsToTxnTopic::default()
                        .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                        .with_partitions(partitions)
                })
                .collect();
            AddPartitionsToTxnTransaction::default()
                .with_transactional_id(TransactionalId(StrBytes::from_string(
                    transactional_id.to_string(),
                )))
                .with_producer_id(ProducerId(producer_id))
                .with_producer_epoch(epoch)
                .with_verify_only(true)
                .with_topics(topics)
        })
        .collect();
    AddPartitionsToTxnRequest::default().with_transactions(transactions)
}
