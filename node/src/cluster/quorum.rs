//! The Raft loop of one node, and the handle the broker uses ([`Cluster`]).
//!
//! raft-rs's `RawNode` does no I/O: this task ticks it every [`TICK_MS`], steps it with
//! messages from peers, proposes entries, and on every `Ready` persists new entries and the
//! hard state (in `<metadata.log.dir>/__cluster/raft.log`, `log.dirs` by default, fsynced before messages that depend on them
//! go out), sends messages, and applies committed entries to the [`MetadataImage`].
//!
//! As Raft leader the node is also the active controller: it keeps every broker's session
//! (heartbeats are not logged, as in KRaft), appends `RegisterBroker` when a broker is new,
//! restarted or fenced, and `FenceBroker` when a session expires. A new leader gives every
//! broker a fresh session.
//!
//! Raft ids are node ids + 1 (raft-rs reserves 0).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use protobuf::Message as _;
use raft::prelude::{ConfState, Entry as RaftEntry, EntryType, HardState, Message};
use raft::storage::MemStorage;
use raft::{Config, RawNode, StateRole};
use tokio::sync::{mpsc, oneshot, watch};

use runnel_core::controller::{ControllerConfig, HeartbeatManager, SessionProposal};

use super::transport::{LinkSecurity, Peers, Wire, receive};
use super::{Endpoint, Entry, Envelope, MetadataImage, Voter};
use crate::broker::now_ms;

/// How often the Raft clock ticks.
pub const TICK_MS: u64 = 100;
/// Ticks without a leader's heartbeat before a follower stands for election (1 s).
const ELECTION_TICKS: usize = 10;
/// Ticks between the leader's heartbeats.
const HEARTBEAT_TICKS: usize = 2;
/// How long a proposer waits for its entry to be committed.
const PROPOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a proposer waits for an answer before it sends its envelope again, when the
/// controller did not change meanwhile (a link that broke may have lost it).
const RESEND_AFTER: Duration = Duration::from_millis(1_000);
/// How long the active controller waits before proposing the same registration or fence again.
const REPROPOSE_AFTER_MS: u64 = 1_000;

/// Where the cluster's state lives and what the broker asks of it.
pub struct Cluster {
    /// This node's id.
    pub node_id: u32,
    /// The voters.
    pub voters: Vec<Voter>,
    image: RwLock<MetadataImage>,
    /// Bumped (to the applied index) after every applied entry.
    applied: watch::Sender<u64>,
    /// The Raft leader's node id + 1 (0: none known); proposers watch it to send again to a
    /// new controller.
    leader: watch::Sender<u64>,
    inbox: mpsc::UnboundedSender<Input>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Result<(), ProposeError>>>>,
    next_proposal: AtomicU64,
    /// The commit index this node had persisted when it started: until it has applied that
    /// far, its image is older than what it knew before.
    startup_commit: u64,
    /// This process's incarnation (its start time, ms): a restart changes it.
    incarnation: u64,
    /// The quorum as this node's Raft peer knows it, refreshed every tick.
    status: Mutex<QuorumStatus>,
}

/// What one node knows of the metadata quorum, as DescribeQuorum (KIP-595) reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuorumStatus {
    /// The leader, which is the active controller (`None`: none known).
    pub leader: Option<u32>,
    /// The Raft term: Kafka's leader epoch of `__cluster_metadata`.
    pub term: u64,
    /// The commit index: Kafka's high watermark of the metadata log (Raft's index `i` is the
    /// log's offset `i - 1`, so offsets below the commit index are committed).
    pub commit: u64,
    /// Each voter's node id and its log end offset (the last index it holds) where this node
    /// knows it: every voter's on the leader, only its own elsewhere.
    pub voters: Vec<(u32, Option<u64>)>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node_id", &self.node_id)
            .field("controller", &self.controller_id())
            .field("applied", &*self.applied.borrow())
            .finish()
    }
}

/// What the Raft loop reacts to.
enum Input {
    Wire(Wire),
    Propose(Envelope),
}

impl Cluster {
    /// Opens the Raft log in `data_dir`, binds this node's voter address and starts the loop;
    /// links to the other voters are secured as `security` says.
    pub async fn start(
        node_id: u32,
        voters: Vec<Voter>,
        data_dir: &Path,
        controller: ControllerConfig,
        imbalance_check: Option<Duration>,
        security: LinkSecurity,
    ) -> Result<Arc<Self>, String> {
        let me = voters
            .iter()
            .find(|v| v.id as u32 == node_id)
            .ok_or("node.id is not a voter")?
            .clone();
        let listener = tokio::net::TcpListener::bind(me.addr)
            .await
            .map_err(|e| format!("cannot listen on {} (controller): {e}", me.addr))?;
        let dir = data_dir.join("__cluster");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let ids: Vec<u64> = voters.iter().map(|v| v.id as u64 + 1).collect();
        let (storage, log) = RaftLog::open(&dir.join("raft.log"), ids)?;
        let startup_commit = storage.rl().hard_state().commit;
        let config = Config {
            id: u64::from(node_id) + 1,
            election_tick: ELECTION_TICKS,
            heartbeat_tick: HEARTBEAT_TICKS,
            // A leader that lost touch with a majority steps down (no split-brain controller).
            check_quorum: true,
            pre_vote: true,
            applied: 0,
            ..Config::default()
        };
        config.validate().map_err(|e| format!("raft config: {e}"))?;
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raw = RawNode::new(&config, storage, &logger).map_err(|e| format!("raft: {e}"))?;
        let (inbox, rx) = mpsc::unbounded_channel();
        let (wire_tx, mut wire_rx) = mpsc::unbounded_channel();
        tokio::spawn(receive(listener, wire_tx, security.clone()));
        {
            let inbox = inbox.clone();
            tokio::spawn(async move {
                while let Some(message) = wire_rx.recv().await {
                    if inbox.send(Input::Wire(message)).is_err() {
                        return;
                    }
                }
            });
        }
        let cluster = Arc::new(Self {
            node_id,
            voters: voters.clone(),
            image: RwLock::new(MetadataImage::new(controller)),
            applied: watch::channel(0).0,
            leader: watch::channel(0).0,
            inbox,
            pending: Mutex::new(HashMap::new()),
            next_proposal: AtomicU64::new(
                u64::from(node_id) << 48 | (now_ms() & 0xffff_ffff) << 16,
            ),
            startup_commit,
            incarnation: now_ms(),
            status: Mutex::new(QuorumStatus::default()),
        });
        let peers: BTreeMap<u32, std::net::SocketAddr> = voters
            .iter()
            .filter(|v| v.id as u32 != node_id)
            .map(|v| (v.id as u32, v.addr))
            .collect();
        let driver = Driver {
            cluster: cluster.clone(),
            raw,
            log,
            peers: Peers::start(&peers, &security),
            heartbeats: HeartbeatManager::new(
                REPROPOSE_AFTER_MS,
                imbalance_check.map(|d| d.as_millis() as u64),
            ),
            was_leader: false,
            in_flight: Default::default(),
        };
        tokio::spawn(driver.run(rx));
        Ok(cluster)
    }

    /// The metadata as applied so far.
    pub fn image(&self) -> RwLockReadGuard<'_, MetadataImage> {
        self.image.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Notified after every applied entry (with the applied index).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// Whether this node has applied at least what it had committed before it (re)started:
    /// only then does its image say what exists (and what was deleted).
    pub fn caught_up(&self) -> bool {
        self.image().applied >= self.startup_commit
    }

    /// The active controller's node id, if one is known.
    pub fn controller_id(&self) -> Option<u32> {
        match *self.leader.borrow() {
            0 => None,
            id => Some(id as u32 - 1),
        }
    }

    /// Appends `entry` to the metadata log through the active controller and waits until this
    /// node has applied it; the error says why the controller refused it or why it timed out.
    pub async fn propose(&self, entry: Entry) -> Result<(), String> {
        self.propose_outcome(entry).await.map_err(|e| e.to_string())
    }

    /// Like [`Cluster::propose`], telling a refusal (the log has the entry, the controller
    /// said no) from no answer (not known to be committed).
    ///
    /// The envelope is sent again whenever another controller becomes known and after each
    /// [`RESEND_AFTER`] without an answer, until [`PROPOSE_TIMEOUT`]: a proposal forwarded to
    /// a controller that died, or that lost its leadership before committing it, is not
    /// lost. Kafka's broker-to-controller channel likewise re-sends a forwarded request to
    /// the new controller on NOT_CONTROLLER or a disconnect until the request times out. A
    /// copy that reaches the log after the first is skipped ([`MetadataImage::apply_envelope`]).
    pub async fn propose_outcome(&self, entry: Entry) -> Result<(), ProposeError> {
        let envelope = Envelope {
            id: self.next_proposal.fetch_add(1, Ordering::Relaxed),
            entry,
        };
        let id = envelope.id;
        let (tx, mut rx) = oneshot::channel();
        self.lock_pending().insert(id, tx);
        let mut leader = self.leader.subscribe();
        let deadline = tokio::time::Instant::now() + PROPOSE_TIMEOUT;
        let outcome = loop {
            leader.mark_unchanged();
            if self.inbox.send(Input::Propose(envelope.clone())).is_err() {
                break Some(Err(()));
            }
            tokio::select! {
                // An answer that is ready wins over a deadline that passed meanwhile.
                biased;
                answer = &mut rx => break Some(answer.map_err(drop)),
                () = tokio::time::sleep_until(deadline) => break None,
                _ = leader.changed() => {}
                () = tokio::time::sleep(RESEND_AFTER) => {}
            }
        };
        self.lock_pending().remove(&id);
        match outcome {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ProposeError::Unanswered(
                "the metadata quorum stopped".into(),
            )),
            None => Err(ProposeError::Unanswered(
                "no answer from the metadata quorum (is a majority of voters up?)".into(),
            )),
        }
    }

    /// The quorum as this node knows it (refreshed every [`TICK_MS`]).
    pub fn quorum_status(&self) -> QuorumStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// This broker's heartbeat, sent to the active controller.
    pub fn heartbeat(&self, endpoints: Vec<Endpoint>) {
        let _ = self.inbox.send(Input::Wire(Wire::Heartbeat {
            broker: self.node_id,
            incarnation: self.incarnation,
            endpoints,
        }));
    }

    /// Whether the metadata applied so far registers this process's incarnation: only then
    /// has this node applied everything the controller decided before it came back (a
    /// registration is appended after them), so only then does it take the roles the
    /// metadata gives it. Kafka keeps a restarted broker fenced until its registration and
    /// catch-up; a node that acted on its old log would lead, and acknowledge writes, in an
    /// epoch the cluster has left.
    pub fn registered(&self) -> bool {
        self.image()
            .controller
            .is_registered(self.node_id, self.incarnation)
    }

    fn lock_pending(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Result<(), ProposeError>>>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Why a proposal did not take effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposeError {
    /// The metadata log has the entry and the controller refused it (the reason).
    Refused(String),
    /// Not known to be committed: no active controller, no quorum, no answer in time.
    Unanswered(String),
}

impl std::fmt::Display for ProposeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(why) | Self::Unanswered(why) => f.write_str(why),
        }
    }
}

/// The Raft loop's state.
struct Driver {
    cluster: Arc<Cluster>,
    raw: RawNode<MemStorage>,
    log: RaftLog,
    peers: Peers,
    /// The active controller's session keeping and imbalance check (core's, which the
    /// simulator's quorum runs too).
    heartbeats: HeartbeatManager,
    was_leader: bool,
    /// As leader: the envelope ids appended in this term and not applied yet, so a copy a
    /// proposer re-sends while the first waits for its commit is not appended again.
    in_flight: std::collections::HashSet<u64>,
}

/// Runs the blocking `sync` with the runtime's other tasks moved off this worker thread
/// (`block_in_place`) on the multi-threaded runtime the broker runs; inline on any other.
fn sync_off_worker<T>(sync: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(sync),
        _ => sync(),
    }
}

impl Driver {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Input>) {
        let mut ticker = tokio::time::interval(Duration::from_millis(TICK_MS));
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    self.raw.tick();
                    self.controller_duties();
                }
                input = rx.recv() => match input {
                    Some(input) => self.handle(input),
                    None => return,
                },
            }
            if let Err(e) = self.on_ready() {
                tracing::error!("metadata quorum: {e}; stopping this node's Raft peer");
                return;
            }
        }
    }

    fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    fn leader(&self) -> Option<u32> {
        match self.raw.raft.leader_id {
            0 => None,
            id => Some(id as u32 - 1),
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Wire(Wire::Raft(bytes)) => match Message::parse_from_bytes(&bytes) {
                Ok(message) => {
                    let _ = self.raw.step(message);
                }
                Err(e) => tracing::warn!("undecodable Raft message: {e}"),
            },
            Input::Wire(Wire::Propose(envelope)) | Input::Propose(envelope) => {
                self.propose(envelope);
            }
            Input::Wire(Wire::Heartbeat {
                broker,
                incarnation,
                endpoints,
            }) => self.heartbeat(broker, incarnation, endpoints),
        }
    }

    /// Appends as leader, forwards to the leader otherwise. A proposal that cannot go
    /// anywhere now (no leader known, a leader transferring) is dropped: its proposer sends
    /// it again when a controller is known ([`Cluster::propose_outcome`]).
    fn propose(&mut self, envelope: Envelope) {
        if self.is_leader() {
            if self.in_flight.contains(&envelope.id) {
                return;
            }
            match postcard::to_allocvec(&envelope) {
                Ok(data) => match self.raw.propose(Vec::new(), data) {
                    Ok(()) => {
                        self.in_flight.insert(envelope.id);
                    }
                    Err(e) => {
                        tracing::debug!("metadata proposal {} not appended: {e}", envelope.id);
                    }
                },
                Err(e) => self.answer(envelope.id, Err(ProposeError::Unanswered(e.to_string()))),
            }
        } else if let Some(leader) = self.leader() {
            self.peers.send(leader, Wire::Propose(envelope));
        } else {
            tracing::debug!(
                "metadata proposal {}: no active controller yet",
                envelope.id
            );
        }
    }

    fn answer(&self, id: u64, result: Result<(), ProposeError>) {
        if let Some(tx) = self.cluster.lock_pending().remove(&id) {
            let _ = tx.send(result);
        }
    }

    /// A broker's heartbeat: forwarded to the leader; as leader, its session goes on, and a
    /// broker the metadata does not have live (new, restarted, fenced) is registered.
    fn heartbeat(&mut self, broker: u32, incarnation: u64, endpoints: Vec<Endpoint>) {
        if !self.is_leader() {
            if let Some(leader) = self.leader().filter(|l| *l != self.cluster.node_id) {
                self.peers.send(
                    leader,
                    Wire::Heartbeat {
                        broker,
                        incarnation,
                        endpoints,
                    },
                );
            }
            return;
        }
        // The session goes on, and a broker not live or registered with another incarnation
        // (a restart) is registered: core's rule. Only the endpoints are the node's own.
        let now = now_ms();
        let proposal = {
            let mut image = self
                .cluster
                .image
                .write()
                .unwrap_or_else(|p| p.into_inner());
            let changed = image.endpoints.get(&broker) != Some(&endpoints);
            self.heartbeats.handle_heartbeat(
                &mut image.controller,
                now,
                broker,
                incarnation,
                changed,
            )
        };
        if let Some(proposal) = proposal {
            self.propose_session(proposal, Some(endpoints));
        }
    }

    /// Proposes what the active controller's session keeping asks for.
    fn propose_session(&mut self, proposal: SessionProposal, endpoints: Option<Vec<Endpoint>>) {
        let entry = match proposal {
            SessionProposal::Register {
                broker,
                incarnation,
            } => Entry::RegisterBroker {
                broker,
                endpoints: endpoints.unwrap_or_default(),
                incarnation,
                at_ms: now_ms(),
            },
            SessionProposal::Fence { broker } => {
                tracing::info!("broker {broker}'s session expired: fencing it");
                Entry::FenceBroker { broker }
            }
            SessionProposal::PreferredElection => {
                tracing::info!("leaders are off their preferred replicas: preferred election");
                Entry::PreferredElection
            }
        };
        let id = self.cluster.next_proposal.fetch_add(1, Ordering::Relaxed);
        self.propose(Envelope { id, entry });
    }

    /// As leader: fence every live broker whose session expired, and move leaders back to
    /// their preferred replicas when due.
    fn controller_duties(&mut self) {
        let leader = self.is_leader();
        if !leader {
            // A new leader, whoever it is, may not hold what this one appended.
            self.in_flight.clear();
        }
        if leader && !self.was_leader {
            // A new active controller: every broker starts a fresh session, as in KRaft.
            tracing::info!("node {} is the active controller", self.cluster.node_id);
            let mut image = self
                .cluster
                .image
                .write()
                .unwrap_or_else(|p| p.into_inner());
            self.heartbeats
                .handle_became_active(&mut image.controller, now_ms());
        }
        self.was_leader = leader;
        let known = self.raw.raft.leader_id;
        self.cluster.leader.send_if_modified(|leader| {
            let changed = *leader != known;
            *leader = known;
            changed
        });
        let status = self.quorum_status();
        *self
            .cluster
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = status;
        if !leader {
            return;
        }
        let proposals = self
            .heartbeats
            .handle_tick(&self.cluster.image().controller, now_ms());
        for proposal in proposals {
            self.propose_session(proposal, None);
        }
    }

    /// The quorum as this peer knows it: the leader tracks every voter's matched index.
    fn quorum_status(&self) -> QuorumStatus {
        let leader = self.is_leader();
        let raft = &self.raw.raft;
        let voters = self
            .cluster
            .voters
            .iter()
            .map(|v| {
                let id = v.id as u32;
                let matched = if leader {
                    raft.prs().get(u64::from(id) + 1).map(|p| p.matched)
                } else if id == self.cluster.node_id {
                    Some(raft.raft_log.last_index())
                } else {
                    None
                };
                (id, matched)
            })
            .collect();
        QuorumStatus {
            leader: self.leader(),
            term: raft.term,
            commit: raft.raft_log.committed,
            voters,
        }
    }

    /// Carries out what Raft asks: persist, send, apply.
    fn on_ready(&mut self) -> Result<(), String> {
        if !self.raw.has_ready() {
            return Ok(());
        }
        let mut ready = self.raw.ready();
        self.send(ready.take_messages());
        if !ready.snapshot().is_empty() {
            return Err("snapshots are not used by the metadata log".into());
        }
        self.apply(ready.take_committed_entries());
        // What this Ready writes (`Ready::must_sync` is true only for a subset of it).
        let wrote = !ready.entries().is_empty() || ready.hs().is_some();
        if !ready.entries().is_empty() {
            self.log.append(ready.entries())?;
            self.raw
                .raft
                .raft_log
                .store
                .wl()
                .append(ready.entries())
                .map_err(|e| e.to_string())?;
        }
        if let Some(hs) = ready.hs() {
            self.log.set_hard_state(hs)?;
            self.raw.raft.raft_log.store.wl().set_hardstate(hs.clone());
        }
        // Entries, or a new term or vote, are durable before any message that counts on them
        // leaves (raft-rs `Ready::must_sync`). A new commit index is synced too, though Raft
        // would learn it again from the leader: a restart trusts the saved one to know when
        // it has caught up with the metadata (`startup_commit`), and then deletes the local
        // topics the image lacks, so a commit lost to a power cut could delete a topic whose
        // creation this node had applied. A Ready that changes neither (a heartbeat, an
        // answer to one) writes nothing and syncs nothing. The fsync runs off the runtime's
        // worker, whose other tasks (produce, fetch) move to another thread meanwhile: under
        // heavy writeback one can take milliseconds.
        if wrote {
            sync_off_worker(|| self.log.sync())?;
        }
        self.send(ready.take_persisted_messages());
        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.raw
                .raft
                .raft_log
                .store
                .wl()
                .mut_hard_state()
                .set_commit(commit);
        }
        self.send(light.take_messages());
        self.apply(light.take_committed_entries());
        self.raw.advance_apply();
        Ok(())
    }

    fn send(&self, messages: Vec<Message>) {
        for message in messages {
            let to = message.to as u32 - 1;
            match message.write_to_bytes() {
                Ok(bytes) => self.peers.send(to, Wire::Raft(bytes)),
                Err(e) => tracing::warn!("cannot encode a Raft message: {e}"),
            }
        }
    }

    fn apply(&mut self, entries: Vec<RaftEntry>) {
        for entry in entries {
            if entry.data.is_empty() || entry.entry_type != EntryType::EntryNormal {
                // A new leader's empty entry.
                self.cluster
                    .image
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .applied = entry.index;
                self.cluster.applied.send_replace(entry.index);
                continue;
            }
            let result = match postcard::from_bytes::<Envelope>(&entry.data) {
                Ok(envelope) => {
                    self.in_flight.remove(&envelope.id);
                    let result = {
                        let mut image = self
                            .cluster
                            .image
                            .write()
                            .unwrap_or_else(|p| p.into_inner());
                        let result = image.apply_envelope(&envelope);
                        image.applied = entry.index;
                        result
                    };
                    match result {
                        Some(Err(e)) => {
                            tracing::debug!("metadata entry {} refused: {e}", entry.index);
                            Some((envelope.id, Err(ProposeError::Refused(e))))
                        }
                        Some(Ok(())) => Some((envelope.id, Ok(()))),
                        None => {
                            tracing::debug!("metadata entry {}: a re-sent copy", entry.index);
                            None
                        }
                    }
                }
                Err(e) => {
                    // Skipped, but applied: a node must not wait forever on an entry it cannot
                    // read (one a newer version wrote).
                    tracing::error!("metadata entry {} undecodable: {e}", entry.index);
                    self.cluster
                        .image
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .applied = entry.index;
                    None
                }
            };
            if let Some((id, result)) = result {
                self.answer(id, result);
            }
            self.cluster.applied.send_replace(entry.index);
        }
    }
}

/// The Raft log on disk: an append-only file of frames (kind byte, length, protobuf), replayed
/// at start into raft-rs's `MemStorage`. Entries rewritten after a leader change are appended
/// again; replaying them in order truncates the older ones, as `MemStorage::append` does.
struct RaftLog {
    file: File,
    path: PathBuf,
}

const FRAME_ENTRY: u8 = 1;
const FRAME_HARD_STATE: u8 = 2;

impl RaftLog {
    /// Opens (or creates) the file and rebuilds the storage from it; a torn last frame is cut.
    fn open(path: &Path, voters: Vec<u64>) -> Result<(MemStorage, Self), String> {
        let storage = MemStorage::new_with_conf_state(ConfState::from((voters, Vec::new())));
        let mut bytes = Vec::new();
        if path.exists() {
            File::open(path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let mut position = 0;
        while position + 5 <= bytes.len() {
            let kind = bytes[position];
            let len = u32::from_be_bytes([
                bytes[position + 1],
                bytes[position + 2],
                bytes[position + 3],
                bytes[position + 4],
            ]) as usize;
            let Some(body) = bytes.get(position + 5..position + 5 + len) else {
                break;
            };
            match kind {
                FRAME_ENTRY => {
                    let entry = RaftEntry::parse_from_bytes(body)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    storage
                        .wl()
                        .append(&[entry])
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                }
                FRAME_HARD_STATE => {
                    let hs = HardState::parse_from_bytes(body)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    storage.wl().set_hardstate(hs);
                }
                _ => return Err(format!("{}: unknown frame kind {kind}", path.display())),
            }
            position += 5 + len;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if position < bytes.len() {
            file.set_len(position as u64)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok((
            storage,
            Self {
                file,
                path: path.to_path_buf(),
            },
        ))
    }

    fn frame(&mut self, kind: u8, body: &[u8]) -> Result<(), String> {
        let mut frame = Vec::with_capacity(body.len() + 5);
        frame.push(kind);
        frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frame.extend_from_slice(body);
        self.file
            .write_all(&frame)
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }

    fn append(&mut self, entries: &[RaftEntry]) -> Result<(), String> {
        for entry in entries {
            let body = entry.write_to_bytes().map_err(|e| e.to_string())?;
            self.frame(FRAME_ENTRY, &body)?;
        }
        Ok(())
    }

    fn set_hard_state(&mut self, hs: &HardState) -> Result<(), String> {
        let body = hs.write_to_bytes().map_err(|e| e.to_string())?;
        self.frame(FRAME_HARD_STATE, &body)
    }

    fn sync(&mut self) -> Result<(), String> {
        self.file
            .sync_data()
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}
