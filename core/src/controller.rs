//! The controller: the cluster's metadata as a state machine over commands.
//!
//! It knows every broker (registered, heartbeating, or fenced once its session expired) and
//! every partition (its replicas, leader, leader epoch and ISR). Its decisions are Kafka's:
//! - a new topic's replicas are spread evenly: partition `p`'s replicas start at broker
//!   `p mod n`, so preferred leaders (the first replica) are spread too;
//! - when a broker is fenced, it leaves every ISR it was in (unless it is the last member), and
//!   each partition it led elects a new leader: the first replica, in assignment order, that is
//!   in the ISR and not fenced (clean election); if none and
//!   `unclean.leader.election.enable` (the topic's own, [`Command::SetUncleanLeaderElection`],
//!   else the controller's), the first live replica even outside the ISR (unclean:
//!   records only the old ISR had are lost); otherwise the partition stays offline;
//! - a leader's ISR change (AlterPartition) is accepted only from the current leader at the
//!   current partition epoch, and only adds unfenced brokers;
//! - preferred-replica election moves leadership back to the first replica when it is in the
//!   ISR (with `auto.leader.rebalance.enable` the active controller proposes it every
//!   `leader.imbalance.check.interval`, [`HeartbeatManager`]).
//!
//! Every accepted change bumps the partition epoch (and the leader epoch when the leader
//! changes), and is queued for [`Controller::poll_changes`], which the driver pushes to brokers.
//! In the simulator this state machine is the metadata quorum (KRaft's controller). In a
//! cluster of nodes each change is a [`Command`] in a Raft log, applied with
//! [`Controller::apply`] by every node in log order, so every node holds the same metadata;
//! only the active controller (the Raft leader) watches the clock and proposes fencing: its
//! [`HeartbeatManager`], which the simulator's quorum runs too.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::replica::BrokerId;

/// A partition index (the simulator has one topic).
pub type PartitionId = u32;

/// Controller settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ControllerConfig {
    /// `broker.session.timeout.ms`: a broker silent this long is fenced.
    pub session_timeout_ms: u64,
    /// `unclean.leader.election.enable`.
    pub unclean_leader_election: bool,
    /// `auto.leader.rebalance.enable`.
    pub auto_leader_rebalance: bool,
    /// Whether a broker that registers while still live (a restart within its session) is
    /// fenced first, as KRaft does for a new incarnation. The ZooKeeper-era controller did not:
    /// the KIP-101 scenarios turn this off to replay that era.
    pub fence_on_restart: bool,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            session_timeout_ms: 3_000,
            unclean_leader_election: false,
            auto_leader_rebalance: false,
            fence_on_restart: true,
        }
    }
}

/// What the controller records for one partition.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartitionState {
    /// Assigned replicas; the first is the preferred leader.
    pub replicas: Vec<BrokerId>,
    /// The leader, or `None` when offline.
    pub leader: Option<BrokerId>,
    /// Bumped on every leader change.
    pub leader_epoch: i32,
    /// The in-sync replicas.
    pub isr: Vec<BrokerId>,
    /// Bumped on every change; fences stale ISR proposals.
    pub partition_epoch: i32,
}

/// Why a command was refused.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
#[non_exhaustive]
pub enum ControllerError {
    /// No such partition.
    #[error("unknown partition")]
    UnknownPartition,
    /// The proposer is not the leader, or its epochs are stale.
    #[error("stale leader or partition epoch")]
    FencedLeaderEpoch,
    /// The proposal was made against an older partition state.
    #[error("stale partition epoch")]
    StalePartitionEpoch,
    /// The proposed ISR names a fenced or unassigned broker.
    #[error("invalid ISR")]
    InvalidIsr,
    /// Not enough live brokers for the replication factor; the text is Kafka's
    /// (`StripedReplicaPlacer`, INVALID_REPLICATION_FACTOR).
    #[error(
        "Unable to replicate the partition {replication_factor} time(s): The target replication factor of {replication_factor} cannot be reached because only {live} broker(s) are registered."
    )]
    NotEnoughBrokers {
        /// The replication factor asked for.
        replication_factor: u32,
        /// How many brokers are live (registered and not fenced).
        live: u32,
    },
}

/// One change to the metadata, as a replicated log carries it. Applying the same commands in
/// the same order gives the same state on every node: nothing here reads a clock (the time a
/// registration starts its session is in the command).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Command {
    /// A broker registers (or re-registers after a restart or being fenced).
    Register {
        /// Which.
        broker: BrokerId,
        /// Which run of its process (KIP-631's incarnation id): a new one is a restart.
        incarnation: u64,
        /// The active controller's clock when it accepted the registration.
        at_ms: u64,
    },
    /// A broker is fenced: its session expired, or it shut down.
    Fence {
        /// Which.
        broker: BrokerId,
    },
    /// Partitions `first..first + count` are created over the live brokers.
    CreatePartitions {
        /// The first partition id.
        first: PartitionId,
        /// How many.
        count: u32,
        /// Replicas per partition.
        replication_factor: usize,
    },
    /// Partitions `first..first + count` are deleted.
    DeletePartitions {
        /// The first partition id.
        first: PartitionId,
        /// How many.
        count: u32,
    },
    /// A leader's ISR change (AlterPartition).
    AlterIsr {
        /// Which partition.
        partition: PartitionId,
        /// The proposing leader.
        leader: BrokerId,
        /// Its leader epoch.
        leader_epoch: i32,
        /// The partition epoch it proposed against.
        partition_epoch: i32,
        /// The proposed ISR.
        isr: Vec<BrokerId>,
    },
    /// Preferred-replica election over every partition.
    PreferredElection,
    /// A topic's own `unclean.leader.election.enable` for partitions `first..first + count`
    /// (`None`: back to the controller's default). Turning it on elects a leader at once for
    /// those partitions that have none, as Kafka's controller does when the config changes.
    SetUncleanLeaderElection {
        /// The first partition id.
        first: PartitionId,
        /// How many.
        count: u32,
        /// The topic's setting, if it has one.
        enabled: Option<bool>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Session {
    deadline_ms: u64,
    fenced: bool,
    /// The incarnation of its last registration.
    incarnation: u64,
}

/// The metadata state machine. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Controller {
    config: ControllerConfig,
    brokers: BTreeMap<BrokerId, Session>,
    partitions: BTreeMap<PartitionId, PartitionState>,
    changed: Vec<PartitionId>,
    /// Topics' own `unclean.leader.election.enable`, per partition, over the default.
    unclean: BTreeMap<PartitionId, bool>,
}

impl Controller {
    /// A controller with no brokers and no partitions.
    pub fn new(config: ControllerConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The settings.
    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    /// Changes settings (`unclean.leader.election.enable`, rebalancing) at run time.
    pub fn set_config(&mut self, config: ControllerConfig) {
        self.config = config;
    }

    /// One partition's state.
    pub fn partition(&self, partition: PartitionId) -> Option<&PartitionState> {
        self.partitions.get(&partition)
    }

    /// Every partition.
    pub fn partitions(&self) -> impl Iterator<Item = (&PartitionId, &PartitionState)> {
        self.partitions.iter()
    }

    /// The registered, unfenced brokers, ascending.
    pub fn live_brokers(&self) -> Vec<BrokerId> {
        self.brokers
            .iter()
            .filter(|(_, s)| !s.fenced)
            .map(|(b, _)| *b)
            .collect()
    }

    /// The incarnation `broker` last registered with, fenced since or not.
    pub fn incarnation(&self, broker: BrokerId) -> Option<u64> {
        self.brokers.get(&broker).map(|s| s.incarnation)
    }

    /// Whether this metadata registers `broker`'s `incarnation` (KIP-631). A broker acts on
    /// the metadata only then: a restarted one has then applied everything decided before it
    /// came back (its registration comes after), and until then its old log may name it leader
    /// in an epoch the cluster has left.
    pub fn is_registered(&self, broker: BrokerId, incarnation: u64) -> bool {
        self.incarnation(broker) == Some(incarnation)
    }

    /// Whether a broker is registered and not fenced.
    pub fn is_live(&self, broker: BrokerId) -> bool {
        self.brokers.get(&broker).is_some_and(|s| !s.fenced)
    }

    /// A broker (re)registers: it is unfenced, and offline partitions it can lead elect it.
    /// A registration from a broker that was still live is a restart (a new incarnation,
    /// KIP-631): its old incarnation is fenced first, so partitions it led move to replicas
    /// that did not just lose their unflushed data.
    pub fn handle_register(&mut self, now_ms: u64, broker: BrokerId, incarnation: u64) {
        if self.config.fence_on_restart && self.is_live(broker) {
            self.fence(broker);
        }
        // Never earlier than a deadline already set: a controller that replays an old
        // registration after starting every session afresh (a new active controller catching
        // up on its log) must not expire a live broker at once.
        let deadline_ms = (now_ms + self.config.session_timeout_ms).max(
            self.brokers
                .get(&broker)
                .filter(|s| !s.fenced)
                .map_or(0, |s| s.deadline_ms),
        );
        self.brokers.insert(
            broker,
            Session {
                deadline_ms,
                fenced: false,
                incarnation,
            },
        );
        let offline: Vec<PartitionId> = self
            .partitions
            .iter()
            .filter(|(_, p)| p.leader.is_none() && p.replicas.contains(&broker))
            .map(|(id, _)| *id)
            .collect();
        for id in offline {
            self.elect(id);
        }
    }

    /// A broker's heartbeat: its session goes on. Returns false if it is fenced (it must
    /// register again).
    ///
    /// Heartbeats are not in the metadata log (as in KRaft): only the active controller calls
    /// this, on its own copy, and only the session deadline changes — the deadlines are
    /// that controller's, every other part of the state stays the log's.
    pub fn handle_heartbeat(&mut self, now_ms: u64, broker: BrokerId) -> bool {
        match self.brokers.get_mut(&broker) {
            Some(s) if !s.fenced => {
                s.deadline_ms = now_ms + self.config.session_timeout_ms;
                true
            }
            _ => false,
        }
    }

    /// Creates the partitions `0..count` with `replication_factor` replicas over the live
    /// brokers, spread evenly; all replicas start in the ISR, the first leads.
    pub fn create_partitions(
        &mut self,
        count: u32,
        replication_factor: usize,
    ) -> Result<(), ControllerError> {
        self.create_partitions_at(0, count, replication_factor)
    }

    /// Creates the partitions `first..first + count` like [`Controller::create_partitions`].
    pub fn create_partitions_at(
        &mut self,
        first: PartitionId,
        count: u32,
        replication_factor: usize,
    ) -> Result<(), ControllerError> {
        let live = self.live_brokers();
        if live.len() < replication_factor || replication_factor == 0 {
            return Err(ControllerError::NotEnoughBrokers {
                replication_factor: u32::try_from(replication_factor).unwrap_or(u32::MAX),
                live: u32::try_from(live.len()).unwrap_or(u32::MAX),
            });
        }
        for p in first..first + count {
            let replicas: Vec<BrokerId> = (0..replication_factor)
                .map(|i| live[(p as usize + i) % live.len()])
                .collect();
            self.partitions.insert(
                p,
                PartitionState {
                    leader: Some(replicas[0]),
                    isr: replicas.clone(),
                    replicas,
                    leader_epoch: 0,
                    partition_epoch: 0,
                },
            );
            self.changed.push(p);
        }
        Ok(())
    }

    /// A leader proposes a new ISR (AlterPartition), made against `partition_epoch`. Returns
    /// the state in force afterwards.
    pub fn handle_alter_isr(
        &mut self,
        partition: PartitionId,
        leader: BrokerId,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<BrokerId>,
    ) -> Result<PartitionState, ControllerError> {
        let live = self.live_brokers();
        let state = self
            .partitions
            .get_mut(&partition)
            .ok_or(ControllerError::UnknownPartition)?;
        if state.leader != Some(leader) || state.leader_epoch != leader_epoch {
            return Err(ControllerError::FencedLeaderEpoch);
        }
        // A proposal made against an older state (it waited in the network while the
        // controller changed the partition) would undo that change: refused, as Kafka's
        // AlterPartition refuses a stale partition epoch (INVALID_UPDATE_VERSION).
        if state.partition_epoch != partition_epoch {
            return Err(ControllerError::StalePartitionEpoch);
        }
        if !isr.contains(&leader)
            || isr.iter().any(|b| !state.replicas.contains(b))
            || !no_repeats(&isr)
        {
            return Err(ControllerError::InvalidIsr);
        }
        // Only live brokers may join; members already in the ISR may stay while fenced.
        if isr
            .iter()
            .any(|b| !state.isr.contains(b) && !live.contains(b))
        {
            return Err(ControllerError::InvalidIsr);
        }
        state.isr = isr;
        state.partition_epoch += 1;
        self.changed.push(partition);
        Ok(state.clone())
    }

    /// Applies one command of the replicated log; a refused command changes nothing.
    pub fn apply(&mut self, command: &Command) -> Result<(), ControllerError> {
        match command {
            Command::Register {
                broker,
                incarnation,
                at_ms,
            } => self.handle_register(*at_ms, *broker, *incarnation),
            Command::Fence { broker } => self.fence(*broker),
            Command::CreatePartitions {
                first,
                count,
                replication_factor,
            } => self.create_partitions_at(*first, *count, *replication_factor)?,
            Command::DeletePartitions { first, count } => {
                for p in *first..first + count {
                    self.partitions.remove(&p);
                    self.unclean.remove(&p);
                }
            }
            Command::SetUncleanLeaderElection {
                first,
                count,
                enabled,
            } => {
                for p in *first..first + count {
                    match enabled {
                        Some(on) => self.unclean.insert(p, *on),
                        None => self.unclean.remove(&p),
                    };
                    if self.unclean_for(p)
                        && self.partitions.get(&p).is_some_and(|s| s.leader.is_none())
                    {
                        self.elect(p);
                    }
                }
            }
            Command::AlterIsr {
                partition,
                leader,
                leader_epoch,
                partition_epoch,
                isr,
            } => {
                self.handle_alter_isr(
                    *partition,
                    *leader,
                    *leader_epoch,
                    *partition_epoch,
                    isr.clone(),
                )?;
            }
            Command::PreferredElection => {
                self.elect_preferred_leaders();
            }
        }
        Ok(())
    }

    /// A new active controller: every live broker starts a fresh session at `now_ms`, as in
    /// KRaft (the previous controller's heartbeat times are not known here).
    pub fn refresh_sessions(&mut self, now_ms: u64) {
        let timeout = self.config.session_timeout_ms;
        for s in self.brokers.values_mut().filter(|s| !s.fenced) {
            s.deadline_ms = now_ms + timeout;
        }
    }

    /// The live brokers whose session has expired at `now_ms`
    /// (`broker.session.timeout.ms` without a heartbeat): the ones to fence. In a replicated
    /// controller the active one proposes a fence for each.
    pub fn expired_sessions(&self, now_ms: u64) -> Vec<BrokerId> {
        self.brokers
            .iter()
            .filter(|(_, s)| !s.fenced && s.deadline_ms <= now_ms)
            .map(|(b, _)| *b)
            .collect()
    }

    /// A broker is fenced now (session expired, or a controlled shutdown).
    pub fn fence(&mut self, broker: BrokerId) {
        if let Some(s) = self.brokers.get_mut(&broker) {
            s.fenced = true;
        }
        let ids: Vec<PartitionId> = self.partitions.keys().copied().collect();
        for id in ids {
            let Some(state) = self.partitions.get_mut(&id) else {
                continue;
            };
            let mut changed = false;
            if state.isr.contains(&broker) && state.isr.len() > 1 {
                state.isr.retain(|b| *b != broker);
                changed = true;
            }
            if state.leader == Some(broker) {
                self.elect(id);
            } else if changed {
                state.partition_epoch += 1;
                self.changed.push(id);
            }
        }
    }

    /// The partitions whose first (preferred) replica is live and in the ISR but not leading:
    /// what preferred-replica election would move (Kafka's leader imbalance). The active
    /// controller asks this every `leader.imbalance.check.interval.seconds`.
    pub fn imbalanced_partitions(&self) -> Vec<PartitionId> {
        self.partitions
            .iter()
            .filter(|(_, state)| {
                state.replicas.first().is_some_and(|preferred| {
                    state.leader != Some(*preferred)
                        && state.isr.contains(preferred)
                        && self.is_live(*preferred)
                })
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Preferred-replica election: each partition whose first replica is live, in the ISR and
    /// not leading gets it back as leader. Returns how many moved.
    pub fn elect_preferred_leaders(&mut self) -> usize {
        let ids = self.imbalanced_partitions();
        for id in &ids {
            if let Some(state) = self.partitions.get_mut(id) {
                state.leader = state.replicas.first().copied();
                state.leader_epoch += 1;
                state.partition_epoch += 1;
            }
            self.changed.push(*id);
        }
        ids.len()
    }

    /// Whether partition `id` may elect a replica outside its ISR: its topic's
    /// `unclean.leader.election.enable` when set, else the controller's.
    pub fn unclean_for(&self, id: PartitionId) -> bool {
        self.unclean
            .get(&id)
            .copied()
            .unwrap_or(self.config.unclean_leader_election)
    }

    /// Elects a leader for `id` among its live replicas (see the module documentation).
    fn elect(&mut self, id: PartitionId) {
        let live = self.live_brokers();
        let unclean = self.unclean_for(id);
        let Some(state) = self.partitions.get_mut(&id) else {
            return;
        };
        let clean = state
            .replicas
            .iter()
            .copied()
            .find(|r| state.isr.contains(r) && live.contains(r));
        let (leader, isr) = match clean {
            Some(l) => (
                Some(l),
                state
                    .isr
                    .iter()
                    .copied()
                    .filter(|r| live.contains(r))
                    .collect(),
            ),
            None if unclean => match state.replicas.iter().copied().find(|r| live.contains(r)) {
                Some(l) => (Some(l), alloc::vec![l]),
                None => (None, state.isr.clone()),
            },
            None => (None, state.isr.clone()),
        };
        if leader != state.leader {
            state.leader_epoch += 1;
        }
        state.leader = leader;
        state.isr = isr;
        state.partition_epoch += 1;
        self.changed.push(id);
    }

    /// Partitions changed since the last call, with their new state, for the driver to push.
    #[must_use]
    pub fn poll_changes(&mut self) -> Vec<(PartitionId, PartitionState)> {
        let mut ids = core::mem::take(&mut self.changed);
        ids.sort_unstable();
        ids.dedup();
        let changes: Vec<(PartitionId, PartitionState)> = ids
            .into_iter()
            .filter_map(|id| self.partitions.get(&id).map(|s| (id, s.clone())))
            .collect();
        for (id, state) in &changes {
            check_partition(*id, state);
        }
        changes
    }
}

/// Whether no broker is listed twice (an ISR, a replica list).
pub(crate) fn no_repeats(brokers: &[BrokerId]) -> bool {
    brokers
        .iter()
        .enumerate()
        .all(|(i, b)| !brokers[..i].contains(b))
}

/// What every partition state the controller publishes must satisfy, checked in debug builds
/// (and so in every simulator sweep): the ISR within the replicas, no replica twice, the
/// leader (when there is one) in the ISR.
fn check_partition(id: PartitionId, state: &PartitionState) {
    debug_assert!(
        state.isr.iter().all(|r| state.replicas.contains(r)),
        "partition {id}: ISR {:?} outside the replicas {:?}",
        state.isr,
        state.replicas
    );
    debug_assert!(
        no_repeats(&state.isr),
        "partition {id}: a replica twice in the ISR {:?}",
        state.isr
    );
    debug_assert!(
        state.leader.is_none_or(|l| state.isr.contains(&l)),
        "partition {id}: leader {:?} outside the ISR {:?}",
        state.leader,
        state.isr
    );
}

/// A change the active controller wants in the metadata log, from heartbeats and time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionProposal {
    /// Register `broker`'s `incarnation` ([`Command::Register`]).
    Register {
        /// Which broker.
        broker: BrokerId,
        /// Its incarnation, from the heartbeat.
        incarnation: u64,
    },
    /// Fence `broker`: its session expired ([`Command::Fence`]).
    Fence {
        /// Which broker.
        broker: BrokerId,
    },
    /// Move leaders back to their preferred replicas ([`Command::PreferredElection`]).
    PreferredElection,
}

/// The active controller's session keeping (Kafka's `BrokerHeartbeatManager` and the leader
/// imbalance check, KIP-631): heartbeats move a broker's session deadline on this
/// controller's own copy (heartbeats are not in the metadata log); registrations, fences and
/// preferred elections are *proposed* and take effect when the log applies them, on every
/// node alike. The node proposes them through raft-rs; the simulator's quorum applies them at
/// once.
///
/// Driver calls: [`HeartbeatManager::handle_became_active`] when this node becomes the active
/// controller, [`HeartbeatManager::handle_heartbeat`] per heartbeat and
/// [`HeartbeatManager::handle_tick`] periodically, proposing what each returns.
#[derive(Clone, Debug, Default)]
pub struct HeartbeatManager {
    /// How long before the same proposal for a broker is made again (it may still be on its
    /// way through the log).
    repropose_after_ms: u64,
    /// `leader.imbalance.check.interval.seconds` in ms, when `auto.leader.rebalance.enable`.
    imbalance_check_interval_ms: Option<u64>,
    last_imbalance_check_ms: u64,
    /// The last proposal per broker, and when it was made.
    proposed: BTreeMap<BrokerId, (SessionProposal, u64)>,
    /// When [`HeartbeatManager::handle_tick`] last ran (or this node became active).
    last_tick_ms: Option<u64>,
    /// No broker is fenced before this: the controller itself was away (see `handle_tick`).
    fence_after_ms: u64,
}

impl HeartbeatManager {
    /// A manager that proposes the same change at most every `repropose_after_ms` and checks
    /// leader imbalance every `imbalance_check_interval_ms` (`None`: never).
    pub fn new(repropose_after_ms: u64, imbalance_check_interval_ms: Option<u64>) -> Self {
        Self {
            repropose_after_ms,
            imbalance_check_interval_ms,
            last_imbalance_check_ms: 0,
            proposed: BTreeMap::new(),
            last_tick_ms: None,
            fence_after_ms: 0,
        }
    }

    /// This node became the active controller at `now_ms`: every live broker starts a fresh
    /// session, as in KRaft (the previous controller's heartbeat times are not known here),
    /// and nothing an earlier term proposed is remembered.
    pub fn handle_became_active(&mut self, controller: &mut Controller, now_ms: u64) {
        controller.refresh_sessions(now_ms);
        self.proposed.clear();
        self.last_imbalance_check_ms = now_ms;
        self.last_tick_ms = Some(now_ms);
    }

    /// A heartbeat from `broker`'s `incarnation` at `now_ms`: its session goes on. A broker
    /// the metadata does not have live (new, fenced), or registered with another incarnation
    /// (a restart, KIP-631: whichever controller saw its last heartbeat), or whose
    /// registration is out of date otherwise (`registration_changed`: the node's endpoints)
    /// is to be registered. Incarnations grow with each start of the broker's process: one
    /// older than the registered one is ignored.
    pub fn handle_heartbeat(
        &mut self,
        controller: &mut Controller,
        now_ms: u64,
        broker: BrokerId,
        incarnation: u64,
        registration_changed: bool,
    ) -> Option<SessionProposal> {
        // A heartbeat from an incarnation older than the registered one comes from a process
        // that is gone (it was delayed on the way): it neither keeps the session nor
        // registers that process again, which would fence the live one.
        if controller
            .incarnation(broker)
            .is_some_and(|registered| incarnation < registered)
        {
            return None;
        }
        let live = controller.handle_heartbeat(now_ms, broker);
        if live && controller.is_registered(broker, incarnation) && !registration_changed {
            return None;
        }
        self.throttled(
            now_ms,
            broker,
            SessionProposal::Register {
                broker,
                incarnation,
            },
        )
    }

    /// Time passes at `now_ms`: every live broker whose session expired is to be fenced, and
    /// when the imbalance check is due and some leader is off its preferred replica, a
    /// preferred election.
    pub fn handle_tick(&mut self, controller: &Controller, now_ms: u64) -> Vec<SessionProposal> {
        // The controller's own absence (its process paused, its thread blocked) is not its
        // brokers': heartbeats that came meanwhile were never counted. After a gap of more
        // than half a session since the last tick, it waits one full session before fencing
        // anyone, as a newly active controller does (Kafka keeps delays of its controller
        // thread from fencing brokers: KAFKA-17793).
        let session_ms = controller.config().session_timeout_ms;
        if self
            .last_tick_ms
            .is_some_and(|last| now_ms.saturating_sub(last) > session_ms / 2)
        {
            self.fence_after_ms = now_ms + session_ms;
        }
        self.last_tick_ms = Some(now_ms);
        let expired = if now_ms >= self.fence_after_ms {
            controller.expired_sessions(now_ms)
        } else {
            Vec::new()
        };
        let mut proposals: Vec<SessionProposal> = expired
            .into_iter()
            .filter_map(|broker| self.throttled(now_ms, broker, SessionProposal::Fence { broker }))
            .collect();
        if let Some(every) = self.imbalance_check_interval_ms
            && now_ms.saturating_sub(self.last_imbalance_check_ms) >= every
        {
            self.last_imbalance_check_ms = now_ms;
            if !controller.imbalanced_partitions().is_empty() {
                proposals.push(SessionProposal::PreferredElection);
            }
        }
        proposals
    }

    /// `proposal`, unless the same one for `broker` was made less than
    /// `repropose_after_ms` ago.
    fn throttled(
        &mut self,
        now_ms: u64,
        broker: BrokerId,
        proposal: SessionProposal,
    ) -> Option<SessionProposal> {
        if self.proposed.get(&broker).is_some_and(|(p, at)| {
            *p == proposal && now_ms.saturating_sub(*at) < self.repropose_after_ms
        }) {
            return None;
        }
        self.proposed.insert(broker, (proposal.clone(), now_ms));
        Some(proposal)
    }
}

/// The [`Command`] that carries out a [`SessionProposal`] accepted at `at_ms`.
impl SessionProposal {
    /// The command the metadata log applies for it.
    pub fn command(&self, at_ms: u64) -> Command {
        match self {
            SessionProposal::Register {
                broker,
                incarnation,
            } => Command::Register {
                broker: *broker,
                incarnation: *incarnation,
                at_ms,
            },
            SessionProposal::Fence { broker } => Command::Fence { broker: *broker },
            SessionProposal::PreferredElection => Command::PreferredElection,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn cluster(unclean: bool) -> Controller {
        let mut c = Controller::new(ControllerConfig {
            unclean_leader_election: unclean,
            ..ControllerConfig::default()
        });
        for b in 0..3 {
            c.handle_register(0, b, 0);
        }
        c.create_partitions(3, 3).unwrap();
        let _ = c.poll_changes();
        c
    }

    #[test]
    fn two_controllers_fed_the_same_commands_agree() {
        let log = [
            Command::Register {
                broker: 0,
                incarnation: 1,
                at_ms: 0,
            },
            Command::Register {
                broker: 1,
                incarnation: 1,
                at_ms: 0,
            },
            Command::Register {
                broker: 2,
                incarnation: 1,
                at_ms: 5,
            },
            Command::CreatePartitions {
                first: 0,
                count: 3,
                replication_factor: 3,
            },
            Command::CreatePartitions {
                first: 3,
                count: 2,
                replication_factor: 2,
            },
            Command::Fence { broker: 0 },
            Command::AlterIsr {
                partition: 1,
                leader: 1,
                leader_epoch: 0,
                // The fence took broker 0 out of its ISR: epoch 1.
                partition_epoch: 1,
                isr: alloc::vec![1],
            },
            Command::DeletePartitions { first: 3, count: 1 },
            Command::Register {
                broker: 0,
                incarnation: 2,
                at_ms: 9,
            },
            Command::PreferredElection,
        ];
        let mut a = Controller::new(ControllerConfig::default());
        let mut b = Controller::new(ControllerConfig::default());
        for c in &log {
            a.apply(c).unwrap();
        }
        for c in &log {
            b.apply(c).unwrap();
        }
        let state = |c: &Controller| -> Vec<(PartitionId, PartitionState)> {
            c.partitions().map(|(p, s)| (*p, s.clone())).collect()
        };
        assert_eq!(state(&a), state(&b));
        let ids: Vec<PartitionId> = a.partitions().map(|(p, _)| *p).collect();
        assert_eq!(ids, [0, 1, 2, 4], "partition 3 deleted");
        // Partition 4 (global id) is placed like any other: replicas from broker 4 mod 3.
        assert_eq!(a.partition(4).unwrap().replicas, [1, 2]);
        // Partition 0 lost its leader to the fence; broker 0 registered again, but it is not
        // back in the ISR (its leader must add it once caught up), so preferred election
        // leaves partition 0 where it is.
        assert_eq!(a.partition(0).unwrap().leader, Some(1));
        assert!(!a.partition(0).unwrap().isr.contains(&0));
        assert_eq!(a.partition(1).unwrap().isr, [1], "the ISR change applied");
        // A refused command changes nothing.
        let before = state(&a);
        let stale = Command::AlterIsr {
            partition: 2,
            leader: 0,
            leader_epoch: 7,
            partition_epoch: 0,
            isr: alloc::vec![0],
        };
        assert_eq!(a.apply(&stale), Err(ControllerError::FencedLeaderEpoch));
        assert_eq!(state(&a), before);
    }

    #[test]
    fn a_controller_back_from_a_pause_fences_only_brokers_silent_for_a_session_after_it() {
        // A paused controller (SIGSTOP, a long GC) resumes with every broker's last heartbeat
        // older than the session timeout; they were alive, it was not. It fences nobody for
        // one session, then only a broker that stayed silent (KAFKA-17793: the controller's
        // own delays must not fence brokers).
        let mut c = cluster(false);
        let session = c.config().session_timeout_ms;
        let mut heartbeats = HeartbeatManager::new(1_000, None);
        for b in 0..3 {
            assert_eq!(heartbeats.handle_heartbeat(&mut c, 100, b, 0, false), None);
        }
        assert_eq!(heartbeats.handle_tick(&c, 100), vec![]);
        let resumed = 100 + 3 * session;
        assert_eq!(
            heartbeats.handle_tick(&c, resumed),
            vec![],
            "every session looks expired, but the controller was the one away"
        );
        for t in (resumed + 100..=resumed + session + 100).step_by(100) {
            for b in [1, 2] {
                heartbeats.handle_heartbeat(&mut c, t, b, 0, false);
            }
            let proposals = heartbeats.handle_tick(&c, t);
            if t < resumed + session {
                assert_eq!(proposals, vec![], "at {t}: within a session of the resume");
            } else {
                assert_eq!(proposals, vec![SessionProposal::Fence { broker: 0 }]);
                return;
            }
        }
        panic!("broker 0 stayed silent a whole session after the resume: it must be fenced");
    }

    #[test]
    fn replicas_and_preferred_leaders_are_spread() {
        let c = cluster(false);
        let leaders: Vec<_> = c.partitions().map(|(_, p)| p.leader).collect();
        assert_eq!(leaders, [Some(0), Some(1), Some(2)]);
        assert_eq!(c.partition(1).unwrap().replicas, [1, 2, 0]);
    }

    #[test]
    fn a_silent_broker_is_fenced_and_its_partitions_elect_from_the_isr() {
        let mut c = cluster(false);
        let mut heartbeats = HeartbeatManager::new(1_000, None);
        for t in (500..4000).step_by(500) {
            for b in [1, 2] {
                assert_eq!(heartbeats.handle_heartbeat(&mut c, t, b, 0, false), None);
            }
            for proposal in heartbeats.handle_tick(&c, t) {
                assert_eq!(proposal, SessionProposal::Fence { broker: 0 });
                c.apply(&proposal.command(t)).unwrap();
            }
        }
        let p0 = c.partition(0).unwrap();
        assert_eq!(
            (p0.leader, p0.leader_epoch, p0.isr.clone()),
            (Some(1), 1, vec![1, 2])
        );
        assert!(!c.is_live(0));
        assert!(
            !c.handle_heartbeat(4000, 0),
            "a fenced broker must register again"
        );
        let changes = c.poll_changes();
        assert_eq!(
            changes.len(),
            3,
            "every partition lost broker 0 from its ISR"
        );
        // Back again, its heartbeat registers it; the partitions it prefers move back only by
        // rebalancing.
        let proposal = heartbeats.handle_heartbeat(&mut c, 4000, 0, 1, false);
        assert_eq!(
            proposal,
            Some(SessionProposal::Register {
                broker: 0,
                incarnation: 1
            })
        );
        assert_eq!(
            heartbeats.handle_heartbeat(&mut c, 4100, 0, 1, false),
            None,
            "the same registration is not proposed again while it is on its way"
        );
        c.apply(&proposal.unwrap().command(4000)).unwrap();
        assert!(c.is_registered(0, 1));
        assert_eq!(c.partition(0).unwrap().leader, Some(1));
        // Its ISR proposal to re-add 0 is accepted from the current leader only.
        let epoch = c.partition(0).unwrap().partition_epoch;
        assert_eq!(
            c.handle_alter_isr(0, 2, 1, epoch, vec![0, 1, 2]),
            Err(ControllerError::FencedLeaderEpoch)
        );
        assert_eq!(
            c.handle_alter_isr(0, 1, 1, epoch - 1, vec![0, 1, 2]),
            Err(ControllerError::StalePartitionEpoch)
        );
        assert_eq!(
            c.handle_alter_isr(0, 1, 1, epoch, vec![0, 1, 1]),
            Err(ControllerError::InvalidIsr),
            "a replica twice: refused (Kafka's AlterPartition answers INVALID_REQUEST)"
        );
        assert!(c.handle_alter_isr(0, 1, 1, epoch, vec![0, 1, 2]).is_ok());
        // A new active controller with `auto.leader.rebalance.enable`: fresh sessions, and
        // an imbalance check every leader.imbalance.check.interval (1 s here).
        let mut rebalancing = HeartbeatManager::new(1_000, Some(1_000));
        rebalancing.handle_became_active(&mut c, 10_000);
        assert_eq!(rebalancing.handle_tick(&c, 10_999), vec![], "not yet due");
        assert_eq!(
            rebalancing.handle_tick(&c, 11_000),
            vec![SessionProposal::PreferredElection],
            "partition 0 is off its preferred replica"
        );
        assert_eq!(c.elect_preferred_leaders(), 1);
        assert_eq!(c.partition(0).unwrap().leader, Some(0));
        assert_eq!(c.partition(0).unwrap().leader_epoch, 2);
        // Broker 0 restarts again (incarnation 3); then a heartbeat of incarnation 1, delayed
        // on the way, arrives.
        c.apply(&Command::Register {
            broker: 0,
            incarnation: 3,
            at_ms: 12_000,
        })
        .unwrap();
        assert_eq!(
            heartbeats.handle_heartbeat(&mut c, 12_100, 0, 1, false),
            None,
            "a delayed heartbeat of an older incarnation registers nothing"
        );
        assert!(c.is_registered(0, 3));
    }

    #[test]
    fn a_topics_own_unclean_setting_wins_over_the_default() {
        // Kafka: unclean.leader.election.enable is a topic config over the broker's; turning
        // it on for a leaderless partition elects a replica outside the ISR at once.
        for (default, topic, expect_leader) in [
            (false, Some(true), Some(1)),
            (true, Some(false), None),
            (false, None, None),
        ] {
            let mut c = cluster(default);
            c.apply(&Command::SetUncleanLeaderElection {
                first: 0,
                count: 1,
                enabled: topic,
            })
            .unwrap();
            c.handle_alter_isr(0, 0, 0, 0, vec![0]).unwrap();
            c.fence(0);
            assert_eq!(
                c.partition(0).unwrap().leader,
                expect_leader,
                "default {default}, topic {topic:?}"
            );
        }
        // Switched on later: the offline partition elects now.
        let mut c = cluster(false);
        c.handle_alter_isr(0, 0, 0, 0, vec![0]).unwrap();
        c.fence(0);
        assert_eq!(c.partition(0).unwrap().leader, None);
        c.apply(&Command::SetUncleanLeaderElection {
            first: 0,
            count: 1,
            enabled: Some(true),
        })
        .unwrap();
        assert_eq!(c.partition(0).unwrap().leader, Some(1));
    }

    #[test]
    fn without_an_isr_member_unclean_election_decides() {
        for unclean in [false, true] {
            let mut c = cluster(unclean);
            // Partition 0's ISR shrinks to its leader 0, then 0 dies.
            c.handle_alter_isr(0, 0, 0, 0, vec![0]).unwrap();
            c.fence(0);
            let p0 = c.partition(0).unwrap();
            if unclean {
                assert_eq!((p0.leader, p0.isr.clone()), (Some(1), vec![1]));
            } else {
                assert_eq!(
                    (p0.leader, p0.isr.clone()),
                    (None, vec![0]),
                    "offline, last ISR kept"
                );
                c.handle_register(10, 0, 1);
                assert_eq!(
                    c.partition(0).unwrap().leader,
                    Some(0),
                    "the last ISR member returns"
                );
            }
        }
    }
}
