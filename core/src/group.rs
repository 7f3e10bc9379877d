//! The consumer-group coordinator: Kafka's classic group membership protocol as a sans-IO
//! state machine.
//!
//! A group moves through Kafka's states:
//!
//! ```text
//!   Empty ──join──▶ PreparingRebalance ──all joined / rebalance timeout──▶ CompletingRebalance
//!     ▲                 ▲        │                                              │ leader syncs
//!     └── last leaves ──┘        └──────────── member joins, leaves, expires ◀── Stable
//! ```
//!
//! - **JoinGroup**: a member announces itself and the assignment protocols it speaks. A join
//!   that changes the group (new member, new metadata) starts a rebalance; the coordinator holds
//!   every join reply until all known members have rejoined or the rebalance timeout passes
//!   (members that did not rejoin are dropped). Then the generation goes up, a leader is chosen,
//!   and every held join is answered; the leader's reply lists all members and their metadata.
//! - **SyncGroup**: the leader sends the assignment it computed; every member's sync is answered
//!   with its own part, and the group is Stable.
//! - **Heartbeat**: keeps a member's session alive and tells it when a rebalance has started.
//! - **LeaveGroup** and session expiry remove members and start a rebalance.
//!
//! The driver calls `handle_*` with the current time and an opaque [`ReplyToken`] for replies
//! that may be held, carries out the [`GroupOutput`]s returned (answering the held requests),
//! and calls [`GroupCoordinator::handle_timeout`] when [`GroupCoordinator::poll_timeout`] says.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error_code;

/// An opaque handle the driver gives with a request whose reply may be held; the coordinator
/// hands it back in the [`GroupOutput`] that answers it.
pub type ReplyToken = u64;

/// Why a group request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// The member id is not a member of the group (evicted, or never joined).
    #[error("unknown member id")]
    UnknownMemberId,
    /// The request carries another generation than the group's.
    #[error("illegal generation")]
    IllegalGeneration,
    /// A rebalance is under way: rejoin.
    #[error("rebalance in progress")]
    RebalanceInProgress,
    /// The member's protocols share none with the group's.
    #[error("inconsistent group protocol")]
    InconsistentGroupProtocol,
    /// The session timeout is outside the broker's bounds.
    #[error("invalid session timeout")]
    InvalidSessionTimeout,
    /// The group id is empty.
    #[error("invalid group id")]
    InvalidGroupId,
    /// The group does not exist.
    #[error("group id not found")]
    GroupIdNotFound,
    /// The group still has members (DeleteGroups).
    #[error("group is not empty")]
    NonEmptyGroup,
    /// Another member took over this member's `group.instance.id` (KIP-345).
    #[error("fenced instance id")]
    FencedInstanceId,
    /// The generation's assignment could not be written to `__consumer_offsets`; the code is
    /// the coordinator error Kafka answers for the append error
    /// ([`crate::offsets::store_group_error_code`]).
    #[error("the group's assignment could not be stored (error code {0})")]
    StoreFailed(i16),
    /// This broker stopped coordinating the group (it no longer leads its offsets partition)
    /// while the request waited: find the coordinator again.
    #[error("not the coordinator")]
    NotCoordinator,
    /// This broker just became the coordinator and its view of `__consumer_offsets` is not
    /// replicated yet (it loaded records above the high watermark): retry shortly.
    #[error("the coordinator is loading")]
    CoordinatorLoadInProgress,
}

impl GroupError {
    /// The Kafka error code a broker answers this with.
    pub fn kafka_error_code(self) -> i16 {
        match self {
            Self::UnknownMemberId => error_code::UNKNOWN_MEMBER_ID,
            Self::IllegalGeneration => error_code::ILLEGAL_GENERATION,
            Self::RebalanceInProgress => error_code::REBALANCE_IN_PROGRESS,
            Self::InconsistentGroupProtocol => error_code::INCONSISTENT_GROUP_PROTOCOL,
            Self::InvalidSessionTimeout => error_code::INVALID_SESSION_TIMEOUT,
            Self::InvalidGroupId => error_code::INVALID_GROUP_ID,
            Self::GroupIdNotFound => error_code::GROUP_ID_NOT_FOUND,
            Self::NonEmptyGroup => error_code::NON_EMPTY_GROUP,
            Self::FencedInstanceId => error_code::FENCED_INSTANCE_ID,
            Self::StoreFailed(code) => code,
            Self::NotCoordinator => error_code::NOT_COORDINATOR,
            Self::CoordinatorLoadInProgress => error_code::COORDINATOR_LOAD_IN_PROGRESS,
        }
    }
}

/// A member id never handed out before, by this coordinator or (with another
/// `member_id_seed`) any other: `prefix` (the client id, or a static member's instance id)
/// and a UUID-shaped suffix, as Kafka's `clientId-UUID`.
fn new_member_id(config: &GroupConfig, next_member: &mut u64, prefix: &str) -> String {
    *next_member += 1;
    let mut rng = crate::rng::Rng::new(
        config.member_id_seed ^ next_member.wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    let (a, b) = (rng.next_u64(), rng.next_u64());
    format!(
        "{prefix}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// The assignor a group's members use (the consumer's `partition.assignment.strategy`), and
/// with it the rebalance protocol. The coordinator does not care: it hands the leader every
/// member's subscription, and the leader assigns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Assignor {
    /// `RangeAssignor` with the eager protocol: when a rebalance starts every member stops
    /// reading and gives up all its partitions, and the leader assigns contiguous ranges.
    #[default]
    Range,
    /// `CooperativeStickyAssignor` (KIP-429, incremental cooperative rebalancing): members
    /// keep reading the partitions they own while the group rebalances, the leader keeps each
    /// partition where it was as far as balance allows, and a partition that must move is
    /// first given up by its owner (one rebalance) and only then assigned to its new member
    /// (a second rebalance, which the owner asks for by rejoining at once).
    CooperativeSticky,
}

impl Assignor {
    /// The protocol name a member joins with (Kafka's `ConsumerPartitionAssignor.name()`).
    pub fn protocol_name(self) -> &'static str {
        match self {
            Self::Range => "range",
            Self::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// Whether members keep their partitions through a rebalance (the COOPERATIVE protocol of
    /// KIP-429) rather than giving them all up first (EAGER).
    pub fn cooperative(self) -> bool {
        self == Self::CooperativeSticky
    }

    /// The leader's assignment of one topic of `partitions` partitions to the members in id
    /// order, given what each says it owns (`owned[i]`, from its subscription; KIP-429's
    /// `ownedPartitions`). Returns each member's partitions, ascending, in member order.
    pub fn assign(self, partitions: u32, owned: &[Vec<u32>]) -> Vec<Vec<u32>> {
        match self {
            Self::Range => range_assignment(partitions, owned.len())
                .into_iter()
                .map(Iterator::collect)
                .collect(),
            Self::CooperativeSticky => cooperative_sticky_assignment(partitions, owned),
        }
    }
}

/// Kafka's sticky assignment of one topic that every member subscribes to
/// (`AbstractStickyAssignor.constrainedAssign`, used by the StickyAssignor of KIP-54 and the
/// CooperativeStickyAssignor of KIP-429). Each member gets `partitions / n` partitions, and
/// `partitions % n` of them one more:
/// 1. a member keeps the partitions it owned, the first ones in its claim, up to its quota
///    (the one-more quotas go to the first members, in id order, that owned more than the
///    lower quota);
/// 2. what is left, in partition order, goes round-robin to the members below the lower
///    quota until they reach it, then one each to members at the lower quota while one-more
///    quotas remain.
///
/// `owned[i]` is member `i`'s claim (KIP-429's `ownedPartitions`), members in id order; ids
/// past the topic's end are ignored and a partition claimed twice stays with the first
/// claimant. Returns each member's partitions, ascending.
pub fn sticky_assignment(partitions: u32, owned: &[Vec<u32>]) -> Vec<Vec<u32>> {
    let n = owned.len() as u32;
    if n == 0 {
        return Vec::new();
    }
    let min_quota = (partitions / n) as usize;
    let mut over_min_left = partitions % n;
    let mut taken = BTreeSet::new();
    let mut assigned: Vec<Vec<u32>> = owned
        .iter()
        .map(|claim| {
            let mut kept: Vec<u32> = Vec::new();
            for &p in claim {
                if p < partitions && !taken.contains(&p) && !kept.contains(&p) {
                    kept.push(p);
                }
            }
            let quota = if kept.len() > min_quota && over_min_left > 0 {
                over_min_left -= 1;
                min_quota + 1
            } else {
                min_quota
            };
            kept.truncate(quota);
            taken.extend(kept.iter().copied());
            kept
        })
        .collect();
    let mut under: Vec<usize> = (0..assigned.len())
        .filter(|i| assigned[*i].len() < min_quota)
        .collect();
    let mut at_min: Vec<usize> = (0..assigned.len())
        .filter(|i| assigned[*i].len() == min_quota)
        .collect();
    let mut cursor = 0;
    for p in (0..partitions).filter(|p| !taken.contains(p)) {
        if !under.is_empty() {
            let i = under[cursor];
            assigned[i].push(p);
            if assigned[i].len() == min_quota {
                under.remove(cursor);
                at_min.push(i);
            } else {
                cursor += 1;
            }
            if cursor >= under.len() {
                cursor = 0;
            }
        } else if over_min_left > 0 && !at_min.is_empty() {
            let i = at_min.remove(0);
            assigned[i].push(p);
            over_min_left -= 1;
        }
    }
    for member in &mut assigned {
        member.sort_unstable();
    }
    assigned
}

/// KIP-429's CooperativeStickyAssignor: the [`sticky_assignment`], less every partition that
/// would move from one member to another (`CooperativeStickyAssignor.adjustAssignment`: "we
/// remove the partitions that are being transferred from the assignment"). The owner, no
/// longer assigned it, gives it up and rejoins; in that next rebalance nobody owns it and it
/// goes to its new member. So no partition is ever owned by two members of one generation,
/// and members keep reading everything that does not move.
pub fn cooperative_sticky_assignment(partitions: u32, owned: &[Vec<u32>]) -> Vec<Vec<u32>> {
    let mut assigned = sticky_assignment(partitions, owned);
    for (i, member) in assigned.iter_mut().enumerate() {
        member.retain(|p| {
            !owned
                .iter()
                .enumerate()
                .any(|(j, claim)| j != i && claim.contains(p))
        });
    }
    assigned
}

/// Kafka's RangeAssignor for one topic of `partitions` partitions and `members` consumers in
/// lexicographic order: each gets a contiguous range of `partitions / members`, and the first
/// `partitions % members` get one more (Kafka's `RangeAssignor` javadoc: "we lay out the
/// available partitions in numeric order and the consumers in lexicographic order ... If it
/// does not evenly divide, then the first few consumers will have one extra partition").
/// Returns each member's partitions, in member order; no members, nothing.
pub fn range_assignment(partitions: u32, members: usize) -> Vec<core::ops::Range<u32>> {
    let Ok(n) = u32::try_from(members) else {
        return Vec::new();
    };
    if n == 0 {
        return Vec::new();
    }
    let (each, extra) = (partitions / n, partitions % n);
    (0..n)
        .map(|i| {
            let start = i * each + i.min(extra);
            start..start + each + u32::from(i < extra)
        })
        .collect()
}

/// The topics of a consumer-protocol subscription (`ConsumerProtocolSubscription`, every
/// version: an `i16` version, then an `i32` count of `i16`-length topic names); `None` when the
/// bytes are not one.
pub fn subscribed_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let count = i32::from_be_bytes(metadata.get(2..6)?.try_into().ok()?);
    let mut at = 6;
    let mut topics = Vec::new();
    for _ in 0..count.max(0) {
        let len = i16::from_be_bytes(metadata.get(at..at + 2)?.try_into().ok()?);
        let len = usize::try_from(len).ok()?;
        let name = metadata.get(at + 2..at + 2 + len)?;
        topics.push(String::from(core::str::from_utf8(name).ok()?));
        at += 2 + len;
    }
    Some(topics)
}

/// Coordinator settings, with Kafka's broker config names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms` (6 s).
    pub min_session_timeout_ms: u64,
    /// `group.max.session.timeout.ms` (30 min).
    pub max_session_timeout_ms: u64,
    /// `group.initial.rebalance.delay.ms`: how long an empty group waits for more members
    /// before its first generation (Kafka: 3 s; runnel defaults to 0 for quick local use).
    pub initial_rebalance_delay_ms: u64,
    /// Seeds the member ids this coordinator hands out. A broker gives each incarnation a
    /// different seed, so an id from before a restart (or from another coordinator) is never
    /// handed out again: Kafka's ids are `client.id` and a random UUID for the same reason.
    pub member_id_seed: u64,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 0,
            member_id_seed: 0,
        }
    }
}

/// Where a group is in the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    /// No members (commits may still exist).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Everyone has an assignment.
    Stable,
}

impl GroupState {
    /// Kafka's name for the state, as DescribeGroups and ListGroups report it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
        }
    }
}

/// A JoinGroup request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinRequest {
    /// The group.
    pub group_id: String,
    /// The member id; empty for a member joining for the first time.
    pub member_id: String,
    /// `group.instance.id` of a static member (KIP-345), `None` for a dynamic one.
    pub group_instance_id: Option<String>,
    /// The member's session timeout.
    pub session_timeout_ms: u64,
    /// How long the coordinator waits for members to rejoin during a rebalance.
    pub rebalance_timeout_ms: u64,
    /// The client id, reported by DescribeGroups.
    pub client_id: String,
    /// The client host, reported by DescribeGroups.
    pub client_host: String,
    /// The protocol type (`consumer` for consumers).
    pub protocol_type: String,
    /// (name, metadata) of each assignment protocol, most preferred first.
    pub protocols: Vec<(String, Vec<u8>)>,
}

/// The answer to a JoinGroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinResponse {
    /// The refusal, if refused.
    pub error: Option<GroupError>,
    /// The new generation.
    pub generation_id: i32,
    /// The protocol type.
    pub protocol_type: String,
    /// The chosen assignment protocol.
    pub protocol_name: String,
    /// The leader's member id.
    pub leader: String,
    /// The member's id (assigned on first join).
    pub member_id: String,
    /// For the leader: every member and its metadata for the chosen protocol. Empty otherwise.
    pub members: Vec<(String, Option<String>, Vec<u8>)>,
}

impl JoinResponse {
    /// A JoinGroup refused with `error` (generation -1, no members), to `member_id`.
    pub fn refused(error: GroupError, member_id: &str) -> Self {
        Self {
            error: Some(error),
            generation_id: -1,
            protocol_type: String::new(),
            protocol_name: String::new(),
            leader: String::new(),
            member_id: String::from(member_id),
            members: Vec::new(),
        }
    }
}

/// A SyncGroup request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRequest {
    /// The group.
    pub group_id: String,
    /// The generation the member joined.
    pub generation_id: i32,
    /// The member.
    pub member_id: String,
    /// From the leader: (member id, assignment) for every member. Empty from followers.
    pub assignments: Vec<(String, Vec<u8>)>,
}

/// The answer to a SyncGroup: the member's assignment, or a refusal.
pub type SyncResponse = Result<Vec<u8>, GroupError>;

/// What the coordinator asks its driver to do: answer a held reply, or write a group's new
/// generation to `__consumer_offsets`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupOutput {
    /// Answer a held JoinGroup.
    Join(ReplyToken, JoinResponse),
    /// Answer a held SyncGroup.
    Sync(ReplyToken, SyncResponse),
    /// Append this record to `__consumer_offsets` as an acks=all write, then report the
    /// outcome with [`GroupCoordinator::handle_group_stored`]. The SyncGroup replies of the
    /// generation wait for it.
    Store(GroupStore),
}

/// A generation's group metadata record (Kafka's `GroupMetadataKey` / `GroupMetadataValue`
/// version 3, see [`crate::offsets::encode_group_value`]), written before any member learns
/// its assignment. As in Kafka (`GroupCoordinator.doSyncGroup` → `storeGroup`), the write is
/// what fences a coordinator that lost its leadership without knowing it (a paused process):
/// its acks=all append cannot complete once the other replicas follow a new leader, so it
/// never hands out an assignment the real coordinator does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupStore {
    /// The group.
    pub group_id: String,
    /// The generation whose assignment this is.
    pub generation_id: i32,
    /// The record key.
    pub key: Vec<u8>,
    /// The record value.
    pub value: Vec<u8>,
}

/// A member as DescribeGroups reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberDescription {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Metadata for the chosen protocol.
    pub metadata: Vec<u8>,
    /// The member's current assignment.
    pub assignment: Vec<u8>,
}

/// A group as DescribeGroups reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// State.
    pub state: GroupState,
    /// Protocol type.
    pub protocol_type: String,
    /// Chosen protocol (empty unless stable or completing).
    pub protocol_name: String,
    /// Generation.
    pub generation_id: i32,
    /// Leader member id.
    pub leader: String,
    /// Members.
    pub members: Vec<MemberDescription>,
}

#[derive(Clone, Debug)]
struct Member {
    group_instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout_ms: u64,
    rebalance_timeout_ms: u64,
    protocols: Vec<(String, Vec<u8>)>,
    assignment: Vec<u8>,
    session_deadline_ms: u64,
    /// The held JoinGroup reply, while the group prepares a rebalance.
    pending_join: Option<ReplyToken>,
    /// The held SyncGroup reply, while the leader has not synced.
    pending_sync: Option<ReplyToken>,
}

impl Member {
    /// Whether its session may expire now: not while a JoinGroup or SyncGroup of it is held
    /// (Kafka's `MemberMetadata.hasSatisfiedHeartbeat`: a member awaiting join or sync counts
    /// as heartbeating).
    fn may_expire(&self) -> bool {
        self.pending_join.is_none() && self.pending_sync.is_none()
    }

    /// Takes its held SyncGroup reply to answer it, and starts its session afresh from
    /// `now_ms` (Kafka's `completeAndScheduleNextHeartbeatExpiration` when it propagates an
    /// assignment or an error).
    fn answer_sync(&mut self, now_ms: u64) -> Option<ReplyToken> {
        let token = self.pending_sync.take()?;
        self.session_deadline_ms = now_ms + self.session_timeout_ms;
        Some(token)
    }
}

#[derive(Clone, Debug)]
struct Group {
    state: GroupState,
    generation_id: i32,
    protocol_type: String,
    protocol_name: String,
    leader: String,
    /// Members in join order (the first is the default leader).
    members: BTreeMap<String, Member>,
    /// Static members: `group.instance.id` → the member id that holds it now (KIP-345).
    static_members: BTreeMap<String, String>,
    join_order: Vec<String>,
    /// When a rebalance gives up waiting for members to rejoin.
    rebalance_deadline_ms: u64,
    /// The first generation is held until then (`group.initial.rebalance.delay.ms`).
    hold_until_ms: u64,
    /// The generation whose leader's assignment is being written, and that assignment; the
    /// members learn it once [`GroupCoordinator::handle_group_stored`] confirms the write.
    storing: Option<(i32, BTreeMap<String, Vec<u8>>)>,
}

impl Group {
    fn new() -> Self {
        Self {
            state: GroupState::Empty,
            generation_id: 0,
            protocol_type: String::new(),
            protocol_name: String::new(),
            leader: String::new(),
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            join_order: Vec::new(),
            rebalance_deadline_ms: 0,
            hold_until_ms: 0,
            storing: None,
        }
    }

    /// Whether a pending rebalance may complete now without waiting for its deadline.
    fn ready(&self, now_ms: u64) -> bool {
        now_ms >= self.hold_until_ms && self.all_joined()
    }

    fn all_joined(&self) -> bool {
        self.members.values().all(|m| m.pending_join.is_some())
    }

    /// The protocol every member speaks that is most preferred overall (Kafka's vote).
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(name, _)| name)
            .filter(|name| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == *name))
            })
            .collect();
        // Each member votes for its most preferred candidate; most votes wins, ties go to the
        // earlier candidate in the first member's list.
        let mut best: Option<(&String, usize)> = None;
        for candidate in &candidates {
            let votes = self
                .members
                .values()
                .filter(|m| {
                    m.protocols
                        .iter()
                        .find(|(n, _)| candidates.contains(&n))
                        .is_some_and(|(n, _)| n == *candidate)
                })
                .count();
            if best.is_none_or(|(_, v)| votes > v) {
                best = Some((candidate, votes));
            }
        }
        best.map(|(name, _)| name.clone())
    }

    fn remove_member(&mut self, member_id: &str) -> Option<Member> {
        self.join_order.retain(|m| m != member_id);
        self.static_members.retain(|_, id| id != member_id);
        self.members.remove(member_id)
    }

    /// A static member rejoining without its member id takes over its old identity (KIP-345):
    /// the new id replaces the old one everywhere, keeping the member's assignment; replies
    /// the old incarnation was waiting for are answered FENCED_INSTANCE_ID.
    fn replace_member(&mut self, old: &str, new: &str, outputs: &mut Vec<GroupOutput>) {
        let Some(mut member) = self.members.remove(old) else {
            return;
        };
        if let Some(t) = member.pending_join.take() {
            outputs.push(GroupOutput::Join(
                t,
                JoinResponse::refused(GroupError::FencedInstanceId, old),
            ));
        }
        if let Some(t) = member.pending_sync.take() {
            outputs.push(GroupOutput::Sync(t, Err(GroupError::FencedInstanceId)));
        }
        self.members.insert(String::from(new), member);
        for id in &mut self.join_order {
            if id == old {
                *id = String::from(new);
            }
        }
        if self.leader == old {
            self.leader = String::from(new);
        }
        for id in self.static_members.values_mut() {
            if id == old {
                *id = String::from(new);
            }
        }
    }
}

/// The coordinator for every group this broker coordinates.
#[derive(Clone, Debug, Default)]
pub struct GroupCoordinator {
    config: GroupConfig,
    groups: BTreeMap<String, Group>,
    next_member: u64,
}

impl GroupCoordinator {
    /// A coordinator with no groups.
    pub fn new(config: GroupConfig) -> Self {
        Self {
            config,
            groups: BTreeMap::new(),
            next_member: 0,
        }
    }

    /// The state of a group, if it exists.
    pub fn state(&self, group_id: &str) -> Option<GroupState> {
        self.groups.get(group_id).map(|g| g.state)
    }

    /// (group id, protocol type, state) of every group.
    pub fn list(&self) -> Vec<(String, String, GroupState)> {
        self.groups
            .iter()
            .map(|(id, g)| (id.clone(), g.protocol_type.clone(), g.state))
            .collect()
    }

    /// DescribeGroups for one group; `None` if it does not exist.
    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let g = self.groups.get(group_id)?;
        let members = g
            .join_order
            .iter()
            .filter_map(|id| g.members.get(id).map(|m| (id, m)))
            .map(|(id, m)| MemberDescription {
                member_id: id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                metadata: m
                    .protocols
                    .iter()
                    .find(|(n, _)| *n == g.protocol_name)
                    .map(|(_, meta)| meta.clone())
                    .unwrap_or_default(),
                assignment: m.assignment.clone(),
            })
            .collect();
        Some(GroupDescription {
            group_id: String::from(group_id),
            state: g.state,
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol_name.clone(),
            generation_id: g.generation_id,
            leader: g.leader.clone(),
            members,
        })
    }

    /// OffsetDelete (KIP-496): the topics whose committed offsets must stay because the group
    /// is subscribed to them (`None`: every topic, when a member's subscription cannot be
    /// read, as Kafka's `isSubscribedToTopic` without known subscriptions). The caller deletes
    /// the requested partitions of every other topic and answers GROUP_SUBSCRIBED_TO_TOPIC for
    /// these.
    ///
    /// As Kafka's classic coordinator: an Empty group (or one known only by its commits,
    /// `has_offsets`) keeps nothing; a live group of the `consumer` protocol type keeps the
    /// topics its members subscribe to (their consumer-protocol subscriptions); a live group of
    /// any other type refuses the whole request with NON_EMPTY_GROUP; a group with neither
    /// members nor commits is GROUP_ID_NOT_FOUND.
    pub fn offset_delete_protected(
        &self,
        group_id: &str,
        has_offsets: bool,
    ) -> Result<Option<BTreeSet<String>>, GroupError> {
        let Some(g) = self.groups.get(group_id) else {
            return if has_offsets {
                Ok(Some(BTreeSet::new()))
            } else {
                Err(GroupError::GroupIdNotFound)
            };
        };
        match g.state {
            GroupState::Empty => Ok(Some(BTreeSet::new())),
            _ if g.protocol_type != "consumer" => Err(GroupError::NonEmptyGroup),
            _ => Ok(g
                .members
                .values()
                .map(|m| {
                    let (_, metadata) = m.protocols.iter().find(|(n, _)| *n == g.protocol_name)?;
                    subscribed_topics(metadata)
                })
                .collect::<Option<Vec<Vec<String>>>>()
                .map(|topics| topics.into_iter().flatten().collect())),
        }
    }

    /// Removes an empty group (DeleteGroups). Its committed offsets are the caller's to drop.
    pub fn delete(&mut self, group_id: &str) -> Result<(), GroupError> {
        match self.groups.get(group_id) {
            None => Err(GroupError::GroupIdNotFound),
            Some(g) if g.state != GroupState::Empty => Err(GroupError::NonEmptyGroup),
            Some(_) => {
                self.groups.remove(group_id);
                Ok(())
            }
        }
    }

    /// Handles a JoinGroup. The reply is usually held until the rebalance completes, and
    /// comes back as a [`GroupOutput::Join`] carrying `token` (maybe from this very call).
    pub fn handle_join(
        &mut self,
        now_ms: u64,
        request: JoinRequest,
        token: ReplyToken,
    ) -> Vec<GroupOutput> {
        let refuse = |e| {
            alloc::vec![GroupOutput::Join(
                token,
                JoinResponse::refused(e, &request.member_id)
            )]
        };
        if request.group_id.is_empty() {
            return refuse(GroupError::InvalidGroupId);
        }
        if request.session_timeout_ms < self.config.min_session_timeout_ms
            || request.session_timeout_ms > self.config.max_session_timeout_ms
        {
            return refuse(GroupError::InvalidSessionTimeout);
        }
        let group = self
            .groups
            .entry(request.group_id.clone())
            .or_insert_with(Group::new);
        if request.protocols.is_empty()
            || (!group.members.is_empty() && group.protocol_type != request.protocol_type)
            || (!group.members.is_empty()
                && !request.protocols.iter().any(|(name, _)| {
                    group
                        .members
                        .values()
                        .all(|m| m.protocols.iter().any(|(n, _)| n == name))
                }))
        {
            return refuse(GroupError::InconsistentGroupProtocol);
        }
        let mut outputs = Vec::new();
        let mut replaced = false;
        let member_id = match (&request.group_instance_id, request.member_id.is_empty()) {
            // A static member with no id: a new one, taking over the old incarnation's place
            // (KIP-345): no rebalance when nothing else changed (the stable-follower answer
            // below), and the old id is fenced from now on.
            (Some(instance), true) => {
                let id = new_member_id(&self.config, &mut self.next_member, instance);
                if let Some(old) = group.static_members.get(instance).cloned() {
                    group.replace_member(&old, &id, &mut outputs);
                    replaced = true;
                }
                group.static_members.insert(instance.clone(), id.clone());
                id
            }
            // A static member with an id: it must be the one holding the instance id now.
            (Some(instance), false) => match group.static_members.get(instance) {
                Some(holder) if *holder == request.member_id => request.member_id.clone(),
                Some(_) => return refuse(GroupError::FencedInstanceId),
                None => return refuse(GroupError::UnknownMemberId),
            },
            (None, true) => new_member_id(&self.config, &mut self.next_member, &request.client_id),
            (None, false) if group.members.contains_key(&request.member_id) => {
                request.member_id.clone()
            }
            (None, false) => return refuse(GroupError::UnknownMemberId),
        };
        // A join while completing a rebalance or stable: answer any held sync with the news.
        if group.state == GroupState::CompletingRebalance {
            for m in group.members.values_mut() {
                if let Some(t) = m.answer_sync(now_ms) {
                    outputs.push(GroupOutput::Sync(t, Err(GroupError::RebalanceInProgress)));
                }
            }
        }
        if let Some(previous) = group
            .members
            .get_mut(&member_id)
            .and_then(|m| m.pending_join.take())
        {
            // The same member joined twice while a rebalance was pending: the old call loses.
            outputs.push(GroupOutput::Join(
                previous,
                JoinResponse::refused(GroupError::RebalanceInProgress, &member_id),
            ));
        }
        let changed = match group.members.get(&member_id) {
            None => true,
            Some(m) => m.protocols != request.protocols,
        };
        let stable_and_unchanged = group.state == GroupState::Stable && !changed;
        if !group.members.contains_key(&member_id) {
            group.join_order.push(member_id.clone());
        }
        let member = group.members.entry(member_id.clone()).or_insert(Member {
            group_instance_id: request.group_instance_id.clone(),
            client_id: request.client_id.clone(),
            client_host: request.client_host.clone(),
            session_timeout_ms: request.session_timeout_ms,
            rebalance_timeout_ms: request.rebalance_timeout_ms,
            protocols: Vec::new(),
            assignment: Vec::new(),
            session_deadline_ms: 0,
            pending_join: None,
            pending_sync: None,
        });
        member.protocols = request.protocols;
        member.session_timeout_ms = request.session_timeout_ms;
        member.rebalance_timeout_ms = request.rebalance_timeout_ms;
        member.session_deadline_ms = now_ms + request.session_timeout_ms;
        member.pending_join = Some(token);
        group.protocol_type = request.protocol_type;

        // KIP-345 (Kafka's updateStaticMemberAndRebalance): a static member that took its old
        // place in a Stable group gets the current generation back at once, the leader too,
        // unless its protocols change the group's choice of protocol.
        if replaced
            && group.state == GroupState::Stable
            && group.select_protocol().as_deref() == Some(group.protocol_name.as_str())
        {
            let response = join_response(group, &member_id);
            if let Some(m) = group.members.get_mut(&member_id) {
                m.pending_join = None;
            }
            outputs.push(GroupOutput::Join(token, response));
            return outputs;
        }
        if stable_and_unchanged && group.leader != member_id {
            // A follower rejoining with nothing new gets the current generation back at once.
            let response = join_response(group, &member_id);
            if let Some(m) = group.members.get_mut(&member_id) {
                m.pending_join = None;
            }
            outputs.push(GroupOutput::Join(token, response));
            return outputs;
        }
        if group.state != GroupState::PreparingRebalance {
            let delay = if group.state == GroupState::Empty {
                self.config.initial_rebalance_delay_ms
            } else {
                0
            };
            prepare_rebalance(group, now_ms, delay);
        }
        if group.ready(now_ms) {
            outputs.extend(complete_join(group, now_ms, &self.config));
        }
        outputs
    }

    /// KIP-345's check for a request that carries `group.instance.id` (SyncGroup v3+,
    /// Heartbeat v3+, OffsetCommit v7+, LeaveGroup v3+): FENCED_INSTANCE_ID when another
    /// member id holds that instance id now, UNKNOWN_MEMBER_ID when no one does.
    pub fn check_static_member(
        &self,
        group_id: &str,
        group_instance_id: &str,
        member_id: &str,
    ) -> Result<(), GroupError> {
        let holder = self
            .groups
            .get(group_id)
            .and_then(|g| g.static_members.get(group_instance_id));
        match holder {
            Some(id) if id == member_id => Ok(()),
            Some(_) => Err(GroupError::FencedInstanceId),
            None => Err(GroupError::UnknownMemberId),
        }
    }

    /// The member id that holds `group_instance_id` in the group now (LeaveGroup by
    /// instance id, KIP-345).
    pub fn static_member(&self, group_id: &str, group_instance_id: &str) -> Option<String> {
        self.groups
            .get(group_id)?
            .static_members
            .get(group_instance_id)
            .cloned()
    }

    /// Handles a SyncGroup. A follower's reply is held until the leader's sync arrives.
    pub fn handle_sync(
        &mut self,
        now_ms: u64,
        request: SyncRequest,
        token: ReplyToken,
    ) -> Vec<GroupOutput> {
        let reply = |r| alloc::vec![GroupOutput::Sync(token, r)];
        let Some(group) = self.groups.get_mut(&request.group_id) else {
            return reply(Err(GroupError::UnknownMemberId));
        };
        let Some(member) = group.members.get_mut(&request.member_id) else {
            return reply(Err(GroupError::UnknownMemberId));
        };
        if request.generation_id != group.generation_id {
            return reply(Err(GroupError::IllegalGeneration));
        }
        member.session_deadline_ms = now_ms + member.session_timeout_ms;
        match group.state {
            GroupState::Empty | GroupState::PreparingRebalance => {
                reply(Err(GroupError::RebalanceInProgress))
            }
            GroupState::Stable => reply(Ok(member.assignment.clone())),
            GroupState::CompletingRebalance => {
                member.pending_sync = Some(token);
                let storing = group
                    .storing
                    .as_ref()
                    .is_some_and(|(generation, _)| *generation == group.generation_id);
                if request.member_id != group.leader || storing {
                    return Vec::new();
                }
                // Every member gets an assignment, empty when the leader gave it none.
                let mut assignments: BTreeMap<String, Vec<u8>> =
                    request.assignments.into_iter().collect();
                assignments.retain(|id, _| group.members.contains_key(id));
                for id in group.members.keys() {
                    assignments.entry(id.clone()).or_default();
                }
                let store = GroupStore {
                    group_id: request.group_id.clone(),
                    generation_id: group.generation_id,
                    key: crate::offsets::encode_group_key(&request.group_id),
                    value: group_record(group, &assignments, now_ms),
                };
                group.storing = Some((group.generation_id, assignments));
                alloc::vec![GroupOutput::Store(store)]
            }
        }
    }

    /// The driver's report on a [`GroupOutput::Store`]: `append_error` is the append's Kafka
    /// error code (0 when the ISR has the record). On success the members of that generation
    /// get their assignments and the group is stable; on failure their held SyncGroups are
    /// answered with the coordinator code Kafka answers
    /// ([`crate::offsets::store_group_error_code`]) and the group rebalances
    /// (`GroupCoordinator.doSyncGroup`'s `resetAndPropagateAssignmentError` and
    /// `maybePrepareRebalance`). A report for a generation that is no longer completing changes
    /// nothing.
    pub fn handle_group_stored(
        &mut self,
        now_ms: u64,
        group_id: &str,
        generation_id: i32,
        append_error: i16,
    ) -> Vec<GroupOutput> {
        let Some(group) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if group.state != GroupState::CompletingRebalance
            || group.generation_id != generation_id
            || group
                .storing
                .as_ref()
                .is_none_or(|(generation, _)| *generation != generation_id)
        {
            return Vec::new();
        }
        let Some((_, assignments)) = group.storing.take() else {
            return Vec::new();
        };
        let mut outputs = Vec::new();
        if append_error == error_code::NONE {
            for (id, m) in group.members.iter_mut() {
                m.assignment = assignments.get(id).cloned().unwrap_or_default();
                if let Some(t) = m.answer_sync(now_ms) {
                    outputs.push(GroupOutput::Sync(t, Ok(m.assignment.clone())));
                }
            }
            group.state = GroupState::Stable;
        } else {
            let refusal =
                GroupError::StoreFailed(crate::offsets::store_group_error_code(append_error));
            for m in group.members.values_mut() {
                m.assignment.clear();
                if let Some(t) = m.answer_sync(now_ms) {
                    outputs.push(GroupOutput::Sync(t, Err(refusal)));
                }
            }
            prepare_rebalance(group, now_ms, 0);
        }
        outputs
    }

    /// Handles a Heartbeat: keeps the session alive and reports a rebalance.
    pub fn handle_heartbeat(
        &mut self,
        now_ms: u64,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
    ) -> Result<(), GroupError> {
        let group = self
            .groups
            .get_mut(group_id)
            .ok_or(GroupError::UnknownMemberId)?;
        let member = group
            .members
            .get_mut(member_id)
            .ok_or(GroupError::UnknownMemberId)?;
        member.session_deadline_ms = now_ms + member.session_timeout_ms;
        if generation_id != group.generation_id {
            return Err(GroupError::IllegalGeneration);
        }
        match group.state {
            GroupState::PreparingRebalance => Err(GroupError::RebalanceInProgress),
            _ => Ok(()),
        }
    }

    /// Handles a LeaveGroup for one member: it leaves, and the others rebalance.
    pub fn handle_leave(
        &mut self,
        now_ms: u64,
        group_id: &str,
        member_id: &str,
    ) -> (Result<(), GroupError>, Vec<GroupOutput>) {
        let Some(group) = self.groups.get_mut(group_id) else {
            return (Err(GroupError::UnknownMemberId), Vec::new());
        };
        let Some(member) = group.remove_member(member_id) else {
            return (Err(GroupError::UnknownMemberId), Vec::new());
        };
        let mut outputs = Vec::new();
        answer_removed(member_id, member, &mut outputs);
        outputs.extend(member_gone(group, now_ms, &self.config));
        (Ok(()), outputs)
    }

    /// Whether a commit from this member and generation may be accepted now. A commit with
    /// generation -1 and no member id comes from outside any group (a standalone consumer or an
    /// offset reset) and is allowed only while the group has no members.
    pub fn validate_commit(
        &self,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
    ) -> Result<(), GroupError> {
        let Some(group) = self.groups.get(group_id) else {
            return if generation_id < 0 {
                Ok(())
            } else {
                Err(GroupError::IllegalGeneration)
            };
        };
        if generation_id < 0 && member_id.is_empty() {
            return if group.members.is_empty() {
                Ok(())
            } else {
                Err(GroupError::UnknownMemberId)
            };
        }
        if !group.members.contains_key(member_id) {
            return Err(GroupError::UnknownMemberId);
        }
        if generation_id != group.generation_id {
            return Err(GroupError::IllegalGeneration);
        }
        // As in Kafka: a member of the current generation may commit while the group prepares a
        // rebalance (what it processed before rejoining), but not between join and sync, when
        // its assignment is about to change.
        if group.state == GroupState::CompletingRebalance {
            return Err(GroupError::RebalanceInProgress);
        }
        Ok(())
    }

    /// Whether a TxnOffsetCommit from `member_id` in `generation_id` may commit for
    /// `group_id` (Kafka's `GroupCoordinator.doTxnCommitOffsets`, KIP-447): a member id, if
    /// given, must be a member; a generation, if given (≥ 0), the current one. A producer
    /// that sends neither (TxnOffsetCommit before v3) commits unchecked. Errors:
    /// UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION.
    pub fn validate_txn_commit(
        &self,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
    ) -> Result<(), GroupError> {
        let Some(group) = self.groups.get(group_id) else {
            return Ok(());
        };
        if !member_id.is_empty() && !group.members.contains_key(member_id) {
            return Err(GroupError::UnknownMemberId);
        }
        if generation_id >= 0 && generation_id != group.generation_id {
            return Err(GroupError::IllegalGeneration);
        }
        Ok(())
    }

    /// This broker stops coordinating: every group is dropped, and every JoinGroup and
    /// SyncGroup still waiting is answered NOT_COORDINATOR, so its member looks for the new
    /// coordinator at once (Kafka's `GroupCoordinator.onResignation` → `onGroupUnloaded`).
    pub fn handle_resigned(&mut self) -> Vec<GroupOutput> {
        let mut outputs = Vec::new();
        for (_, group) in core::mem::take(&mut self.groups) {
            for (member_id, member) in group.members {
                if let Some(t) = member.pending_join {
                    let refused = JoinResponse::refused(GroupError::NotCoordinator, &member_id);
                    outputs.push(GroupOutput::Join(t, refused));
                }
                if let Some(t) = member.pending_sync {
                    outputs.push(GroupOutput::Sync(t, Err(GroupError::NotCoordinator)));
                }
            }
        }
        outputs
    }

    /// Expires sessions and rebalance deadlines that have passed at `now_ms`.
    pub fn handle_timeout(&mut self, now_ms: u64) -> Vec<GroupOutput> {
        let mut outputs = Vec::new();
        for group in self.groups.values_mut() {
            let expired: Vec<String> = group
                .members
                .iter()
                .filter(|(_, m)| m.may_expire() && m.session_deadline_ms <= now_ms)
                .map(|(id, _)| id.clone())
                .collect();
            let mut gone = false;
            for id in expired {
                if let Some(member) = group.remove_member(&id) {
                    answer_removed(&id, member, &mut outputs);
                    gone = true;
                }
            }
            if gone {
                outputs.extend(member_gone(group, now_ms, &self.config));
            }
            if group.state == GroupState::PreparingRebalance
                && (group.rebalance_deadline_ms <= now_ms || group.ready(now_ms))
            {
                // Members that did not rejoin in time are dropped.
                let late: Vec<String> = group
                    .members
                    .iter()
                    .filter(|(_, m)| m.pending_join.is_none())
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in late {
                    if let Some(member) = group.remove_member(&id) {
                        answer_removed(&id, member, &mut outputs);
                    }
                }
                outputs.extend(complete_join(group, now_ms, &self.config));
            }
        }
        outputs
    }

    /// The next time [`GroupCoordinator::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.groups
            .values()
            .flat_map(|g| {
                let rebalance =
                    (g.state == GroupState::PreparingRebalance).then_some(if g.all_joined() {
                        g.hold_until_ms
                    } else {
                        g.rebalance_deadline_ms
                    });
                g.members
                    .values()
                    .filter(|m| m.may_expire())
                    .map(|m| m.session_deadline_ms)
                    .chain(rebalance)
            })
            .min()
    }
}

/// The group metadata record value of `group`'s current generation with `assignments`.
fn group_record(group: &Group, assignments: &BTreeMap<String, Vec<u8>>, now_ms: u64) -> Vec<u8> {
    let members: Vec<crate::offsets::GroupMemberRecord<'_>> = group
        .join_order
        .iter()
        .filter_map(|id| {
            let m = group.members.get(id)?;
            let subscription = m
                .protocols
                .iter()
                .find(|(n, _)| *n == group.protocol_name)
                .map_or(&[][..], |(_, metadata)| metadata.as_slice());
            Some(crate::offsets::GroupMemberRecord {
                member_id: id,
                group_instance_id: m.group_instance_id.as_deref(),
                client_id: &m.client_id,
                client_host: &m.client_host,
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                session_timeout_ms: m.session_timeout_ms,
                subscription,
                assignment: assignments.get(id).map_or(&[][..], Vec::as_slice),
            })
        })
        .collect();
    crate::offsets::encode_group_value(&crate::offsets::GroupRecord {
        protocol_type: &group.protocol_type,
        generation_id: group.generation_id,
        protocol_name: &group.protocol_name,
        leader: &group.leader,
        current_state_timestamp_ms: now_ms as i64,
        members: &members,
    })
}

fn prepare_rebalance(group: &mut Group, now_ms: u64, delay_ms: u64) {
    let timeout = group
        .members
        .values()
        .map(|m| m.rebalance_timeout_ms)
        .max()
        .unwrap_or(0);
    group.state = GroupState::PreparingRebalance;
    // The group waits at most the largest rebalance timeout for everyone to rejoin; a first
    // generation is also held back `delay_ms` for more members to arrive.
    group.hold_until_ms = now_ms + delay_ms;
    group.rebalance_deadline_ms = now_ms + timeout.max(delay_ms);
}

/// Answers the held requests of a member that left or expired.
fn answer_removed(member_id: &str, member: Member, outputs: &mut Vec<GroupOutput>) {
    if let Some(t) = member.pending_join {
        outputs.push(GroupOutput::Join(
            t,
            JoinResponse::refused(GroupError::UnknownMemberId, member_id),
        ));
    }
    if let Some(t) = member.pending_sync {
        outputs.push(GroupOutput::Sync(t, Err(GroupError::UnknownMemberId)));
    }
}

/// After a member left: the group rebalances, or becomes empty.
fn member_gone(group: &mut Group, now_ms: u64, config: &GroupConfig) -> Vec<GroupOutput> {
    let mut outputs = Vec::new();
    if group.state == GroupState::CompletingRebalance {
        for m in group.members.values_mut() {
            if let Some(t) = m.answer_sync(now_ms) {
                outputs.push(GroupOutput::Sync(t, Err(GroupError::RebalanceInProgress)));
            }
        }
    }
    if group.members.is_empty() {
        group.generation_id += 1;
        group.state = GroupState::Empty;
        group.leader.clear();
        group.protocol_name.clear();
        return outputs;
    }
    if group.state != GroupState::PreparingRebalance {
        prepare_rebalance(group, now_ms, 0);
    }
    if group.ready(now_ms) {
        outputs.extend(complete_join(group, now_ms, config));
    }
    outputs
}

/// Every member has rejoined (or the deadline passed): a new generation starts.
fn complete_join(group: &mut Group, now_ms: u64, _config: &GroupConfig) -> Vec<GroupOutput> {
    if group.members.is_empty() {
        group.generation_id += 1;
        group.state = GroupState::Empty;
        group.leader.clear();
        group.protocol_name.clear();
        return Vec::new();
    }
    group.generation_id += 1;
    group.protocol_name = group.select_protocol().unwrap_or_default();
    if !group.members.contains_key(&group.leader) {
        group.leader = group.join_order.first().cloned().unwrap_or_default();
    }
    group.state = GroupState::CompletingRebalance;
    let ids: Vec<String> = group.members.keys().cloned().collect();
    let mut outputs = Vec::new();
    for id in ids {
        let response = join_response(group, &id);
        if let Some(m) = group.members.get_mut(&id) {
            m.assignment.clear();
            m.session_deadline_ms = now_ms + m.session_timeout_ms;
            if let Some(t) = m.pending_join.take() {
                outputs.push(GroupOutput::Join(t, response));
            }
        }
    }
    outputs
}

fn join_response(group: &Group, member_id: &str) -> JoinResponse {
    let members = if member_id == group.leader {
        group
            .join_order
            .iter()
            .filter_map(|id| {
                let m = group.members.get(id)?;
                let meta = m
                    .protocols
                    .iter()
                    .find(|(n, _)| *n == group.protocol_name)?;
                Some((id.clone(), m.group_instance_id.clone(), meta.1.clone()))
            })
            .collect()
    } else {
        Vec::new()
    };
    JoinResponse {
        error: None,
        generation_id: group.generation_id,
        protocol_type: group.protocol_type.clone(),
        protocol_name: group.protocol_name.clone(),
        leader: group.leader.clone(),
        member_id: String::from(member_id),
        members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's RangeAssignor javadoc example: two consumers, three partitions each of t0 and
    /// t1 → C0 gets 0 and 1, C1 gets 2 (per topic); ranges are contiguous, not `p % n`.
    #[test]
    fn the_range_assignor_gives_contiguous_ranges_the_first_members_one_more() {
        assert_eq!(range_assignment(3, 2), [0..2, 2..3]);
        assert_eq!(range_assignment(6, 3), [0..2, 2..4, 4..6]);
        assert_eq!(range_assignment(7, 3), [0..3, 3..5, 5..7]);
        assert_eq!(range_assignment(2, 3), [0..1, 1..2, 2..2]);
        assert!(range_assignment(4, 0).is_empty());
    }
    /// KIP-429's example: C0 and C1 own three partitions each; C2 joins. The sticky
    /// assignment moves one partition from each owner to C2, and the cooperative round leaves
    /// both out until their owners gave them up; the next round (nobody claims them) gives
    /// them to C2.
    #[test]
    fn a_joining_member_gets_partitions_only_after_their_owners_gave_them_up() {
        let owned = vec![vec![0, 1, 2], vec![3, 4, 5], vec![]];
        assert_eq!(
            sticky_assignment(6, &owned),
            vec![vec![0, 1], vec![3, 4], vec![2, 5]],
            "each keeps its quota of what it owned"
        );
        let first = cooperative_sticky_assignment(6, &owned);
        assert_eq!(first, vec![vec![0, 1], vec![3, 4], vec![]]);
        // C0 and C1 revoke 2 and 5 and rejoin, claiming what they were given.
        let second = cooperative_sticky_assignment(6, &first);
        assert_eq!(second, vec![vec![0, 1], vec![3, 4], vec![2, 5]]);
        assert_eq!(
            Assignor::CooperativeSticky.assign(6, &second),
            second,
            "stable"
        );
    }

    #[test]
    fn the_sticky_assignor_balances_and_keeps_what_it_can() {
        // A member that left: its partitions go to the others, nothing else moves.
        let owned = vec![vec![0, 1], vec![4, 5]];
        assert_eq!(
            sticky_assignment(6, &owned),
            vec![vec![0, 1, 2], vec![3, 4, 5]]
        );
        // Uneven: 7 over 3 gives 3, 2, 2; the one-more quota goes to the first member that
        // owned more than two.
        let owned = vec![vec![0, 1], vec![2, 3, 4], vec![5, 6]];
        assert_eq!(
            sticky_assignment(7, &owned),
            vec![vec![0, 1], vec![2, 3, 4], vec![5, 6]]
        );
        // What is left goes round-robin, as Kafka fills its unfilled members.
        let owned = vec![vec![0, 1, 2, 3, 4, 5, 6], vec![], vec![]];
        assert_eq!(
            sticky_assignment(7, &owned),
            vec![vec![0, 1, 2], vec![3, 5], vec![4, 6]]
        );
        // No claims at all: round-robin; claims past the end and claimed twice are ignored.
        assert_eq!(
            sticky_assignment(5, &[vec![], vec![]]),
            vec![vec![0, 2, 4], vec![1, 3]]
        );
        assert_eq!(
            sticky_assignment(3, &[vec![9, 1], vec![1, 2]]),
            vec![vec![0, 1], vec![2]]
        );
        assert!(sticky_assignment(3, &[]).is_empty());
        // Every partition exactly once, whatever the claims.
        for n in 1..5usize {
            for partitions in 0..9u32 {
                let owned: Vec<Vec<u32>> = (0..n)
                    .map(|i| {
                        (0..partitions)
                            .filter(|p| (*p as usize + i) % 3 == 0)
                            .collect()
                    })
                    .collect();
                let mut all: Vec<u32> = sticky_assignment(partitions, &owned).concat();
                all.sort_unstable();
                assert_eq!(all, (0..partitions).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn the_range_assignor_ignores_what_members_owned() {
        let owned = vec![vec![4, 5], vec![0, 1]];
        assert_eq!(
            Assignor::Range.assign(6, &owned),
            vec![vec![0, 1, 2], vec![3, 4, 5]]
        );
        assert_eq!(Assignor::Range.protocol_name(), "range");
        assert_eq!(
            Assignor::CooperativeSticky.protocol_name(),
            "cooperative-sticky"
        );
    }

    use alloc::vec;

    fn join(member: &str, protocols: &[&str]) -> JoinRequest {
        JoinRequest {
            group_instance_id: None,
            group_id: "g".into(),
            member_id: member.into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 5_000,
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
            protocol_type: "consumer".into(),
            protocols: protocols
                .iter()
                .map(|p| (String::from(*p), p.as_bytes().to_vec()))
                .collect(),
        }
    }

    fn joined(outputs: &[GroupOutput], token: ReplyToken) -> JoinResponse {
        outputs
            .iter()
            .find_map(|o| match o {
                GroupOutput::Join(t, r) if *t == token => Some(r.clone()),
                _ => None,
            })
            .expect("join answered")
    }

    fn synced(outputs: &[GroupOutput], token: ReplyToken) -> SyncResponse {
        outputs
            .iter()
            .find_map(|o| match o {
                GroupOutput::Sync(t, r) if *t == token => Some(r.clone()),
                _ => None,
            })
            .expect("sync answered")
    }

    /// A consumer-protocol subscription v0 to `topics`.
    fn subscription(topics: &[&str]) -> Vec<u8> {
        let mut out = vec![0, 0];
        out.extend_from_slice(&(topics.len() as i32).to_be_bytes());
        for t in topics {
            out.extend_from_slice(&(t.len() as i16).to_be_bytes());
            out.extend_from_slice(t.as_bytes());
        }
        out.extend_from_slice(&(-1i32).to_be_bytes()); // user data: null
        out
    }

    #[test]
    fn member_ids_are_never_handed_out_twice_across_incarnations() {
        // Kafka's member ids are `clientId-UUID`: a consumer that outlived a broker restart
        // must not find its id given to a newcomer (it would then share the newcomer's
        // assignment). Each incarnation seeds its ids differently.
        let ids = |seed: u64| {
            let mut c = GroupCoordinator::new(GroupConfig {
                member_id_seed: seed,
                ..GroupConfig::default()
            });
            let a = joined(&c.handle_join(0, join("", &["range"]), 1), 1).member_id;
            let mut other = join("", &["range"]);
            other.group_id = "h".into();
            let b = joined(&c.handle_join(0, other, 2), 2).member_id;
            (a, b)
        };
        let (a, b) = ids(1);
        assert_ne!(a, b);
        assert!(
            a.starts_with("client-") && a.len() == "client-".len() + 36,
            "{a}"
        );
        let (a2, _) = ids(2);
        assert_ne!(a, a2, "another incarnation");
    }

    #[test]
    fn offset_delete_keeps_the_topics_a_live_group_subscribes_to() {
        // KIP-496 (Kafka's GroupCoordinator.handleDeleteOffsets): unknown group →
        // GROUP_ID_NOT_FOUND (69); an Empty group, or one known only by its commits, keeps
        // nothing; a live consumer group keeps its subscribed topics
        // (GROUP_SUBSCRIBED_TO_TOPIC, 86); a live group of another protocol type →
        // NON_EMPTY_GROUP (68).
        let mut c = GroupCoordinator::new(GroupConfig::default());
        assert_eq!(
            c.offset_delete_protected("g", false),
            Err(GroupError::GroupIdNotFound)
        );
        assert_eq!(
            c.offset_delete_protected("g", true),
            Ok(Some(BTreeSet::new()))
        );
        let mut request = join("", &["range"]);
        request.protocols[0].1 = subscription(&["orders", "payments"]);
        let a = joined(&c.handle_join(0, request, 1), 1);
        let protected = c.offset_delete_protected("g", true).expect("live group");
        let names: Vec<&str> = protected
            .as_ref()
            .expect("readable subscriptions")
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(names, ["orders", "payments"]);
        assert_eq!(error_code::GROUP_SUBSCRIBED_TO_TOPIC, 86);
        assert_eq!(c.handle_leave(1, "g", &a.member_id).0, Ok(()));
        assert_eq!(c.state("g"), Some(GroupState::Empty));
        assert_eq!(
            c.offset_delete_protected("g", true),
            Ok(Some(BTreeSet::new()))
        );

        // Another protocol type (e.g. Kafka Connect's "connect") with members: refused whole.
        let mut other = join("", &["range"]);
        other.group_id = "workers".into();
        other.protocol_type = "connect".into();
        c.handle_join(2, other, 2);
        assert_eq!(
            c.offset_delete_protected("workers", true),
            Err(GroupError::NonEmptyGroup)
        );
        // An unreadable subscription protects every topic.
        let mut odd = join("", &["range"]);
        odd.group_id = "odd".into();
        c.handle_join(3, odd, 3);
        assert_eq!(c.offset_delete_protected("odd", true), Ok(None));
    }

    #[test]
    fn a_static_member_rejoining_keeps_generation_and_assignment_and_fences_its_old_id() {
        // KIP-345: a member rejoining with the same group.instance.id and no member id gets a
        // new member id, the group keeps its generation and assignment (no rebalance), and the
        // old member id is answered FENCED_INSTANCE_ID (82).
        let static_join = |instance: &str, member: &str| JoinRequest {
            group_instance_id: Some(instance.into()),
            ..join(member, &["range"])
        };
        let mut c = GroupCoordinator::new(GroupConfig::default());
        let out = c.handle_join(0, static_join("leader-host", ""), 1);
        let a = joined(&out, 1);
        sync_stored(
            &mut c,
            1,
            sync(&a, vec![(a.member_id.clone(), b"a".to_vec())]),
            2,
        );
        let out = c.handle_join(10, static_join("worker-host", ""), 3);
        assert!(out.is_empty());
        let out = c.handle_join(11, join(&a.member_id, &["range"]), 4);
        let (a2, b) = (joined(&out, 4), joined(&out, 3));
        assert_eq!(b.generation_id, 2);
        // JoinGroup v5+: the leader sees each member's group.instance.id.
        let mut instances: Vec<Option<String>> =
            a2.members.iter().map(|(_, i, _)| i.clone()).collect();
        instances.sort();
        assert_eq!(
            instances,
            [Some("leader-host".into()), Some("worker-host".into())]
        );
        let plan = vec![
            (a.member_id.clone(), b"p0".to_vec()),
            (b.member_id.clone(), b"p1".to_vec()),
        ];
        sync_stored(&mut c, 12, sync(&b, vec![]), 5);
        sync_stored(&mut c, 13, sync(&a2, plan), 6);
        assert_eq!(c.state("g"), Some(GroupState::Stable));

        // The worker restarts (a new process, same instance id): answered at once, same
        // generation, its old assignment, a new member id; the group stays Stable.
        let out = c.handle_join(20, static_join("worker-host", ""), 7);
        let b2 = joined(&out, 7);
        assert_eq!((b2.error, b2.generation_id), (None, 2));
        assert_ne!(b2.member_id, b.member_id);
        assert_eq!(c.state("g"), Some(GroupState::Stable));
        assert_eq!(
            synced(&sync_stored(&mut c, 21, sync(&b2, vec![]), 8), 8),
            Ok(b"p1".to_vec())
        );
        assert_eq!(
            c.handle_heartbeat(22, "g", 2, &a.member_id),
            Ok(()),
            "no rebalance"
        );
        // The old incarnation is fenced wherever it shows up with its instance id.
        assert_eq!(
            c.check_static_member("g", "worker-host", &b.member_id),
            Err(GroupError::FencedInstanceId)
        );
        assert_eq!(GroupError::FencedInstanceId.kafka_error_code(), 82);
        let out = c.handle_join(23, static_join("worker-host", &b.member_id), 9);
        assert_eq!(joined(&out, 9).error, Some(GroupError::FencedInstanceId));
        assert_eq!(
            c.check_static_member("g", "worker-host", &b2.member_id),
            Ok(())
        );
        assert_eq!(
            c.check_static_member("g", "nobody", "x"),
            Err(GroupError::UnknownMemberId)
        );
        let described = c.describe("g").expect("group");
        let instances: Vec<Option<String>> = described
            .members
            .iter()
            .map(|m| m.group_instance_id.clone())
            .collect();
        assert_eq!(
            instances,
            [
                Some(String::from("leader-host")),
                Some(String::from("worker-host"))
            ]
        );
        // Leaving by instance id frees it.
        assert_eq!(
            c.static_member("g", "worker-host"),
            Some(b2.member_id.clone())
        );
        assert_eq!(c.handle_leave(30, "g", &b2.member_id).0, Ok(()));
        assert_eq!(c.static_member("g", "worker-host"), None);
    }

    #[test]
    fn two_members_join_sync_and_one_leaves() {
        let mut c = GroupCoordinator::new(GroupConfig::default());
        // First member: generation 1 at once (no initial delay), it leads.
        let out = c.handle_join(0, join("", &["range"]), 1);
        let a = joined(&out, 1);
        assert_eq!((a.error, a.generation_id), (None, 1));
        assert_eq!(a.leader, a.member_id);
        assert_eq!(a.members.len(), 1);
        let out = sync_stored(
            &mut c,
            1,
            sync(&a, vec![(a.member_id.clone(), b"p0-5".to_vec())]),
            2,
        );
        assert_eq!(synced(&out, 2), Ok(b"p0-5".to_vec()));
        assert_eq!(c.state("g"), Some(GroupState::Stable));

        // Second member: a rebalance starts; the first learns it from its heartbeat.
        let out = c.handle_join(10, join("", &["range"]), 3);
        assert!(out.is_empty(), "held until the first member rejoins");
        assert_eq!(
            c.handle_heartbeat(11, "g", 1, &a.member_id),
            Err(GroupError::RebalanceInProgress)
        );
        let out = c.handle_join(12, join(&a.member_id, &["range"]), 4);
        let a2 = joined(&out, 4);
        let b = joined(&out, 3);
        assert_eq!((a2.generation_id, b.generation_id), (2, 2));
        assert_eq!(a2.leader, a.member_id, "the leader stays");
        assert_eq!(a2.members.len(), 2);
        assert!(b.members.is_empty());
        // The follower's sync waits for the leader's.
        assert!(sync_stored(&mut c, 13, sync(&b, vec![]), 5).is_empty());
        let plan = vec![
            (a.member_id.clone(), b"p0-2".to_vec()),
            (b.member_id.clone(), b"p3-5".to_vec()),
        ];
        let out = sync_stored(&mut c, 14, sync(&a2, plan), 6);
        assert_eq!(synced(&out, 5), Ok(b"p3-5".to_vec()));
        assert_eq!(synced(&out, 6), Ok(b"p0-2".to_vec()));

        // The leader leaves: the follower rejoins alone, leads generation 3.
        let (result, out) = c.handle_leave(20, "g", &a.member_id);
        assert_eq!(result, Ok(()));
        assert!(out.is_empty());
        assert_eq!(
            c.validate_commit("g", 2, &b.member_id),
            Ok(()),
            "a member may commit its progress before it rejoins"
        );
        let out = c.handle_join(21, join(&b.member_id, &["range"]), 7);
        let b3 = joined(&out, 7);
        assert_eq!(
            (b3.generation_id, b3.leader.as_str()),
            (3, b.member_id.as_str())
        );
        assert_eq!(
            c.validate_commit("g", 2, &b.member_id),
            Err(GroupError::IllegalGeneration)
        );
        assert_eq!(
            c.validate_commit("g", 3, &b.member_id),
            Err(GroupError::RebalanceInProgress),
            "between join and sync the assignment is about to change"
        );
    }

    /// A SyncGroup whose group record write (if it asks for one) succeeds at once.
    fn sync_stored(
        c: &mut GroupCoordinator,
        now_ms: u64,
        request: SyncRequest,
        token: ReplyToken,
    ) -> Vec<GroupOutput> {
        let mut out = c.handle_sync(now_ms, request, token);
        while let Some(i) = out.iter().position(|o| matches!(o, GroupOutput::Store(_))) {
            if let GroupOutput::Store(store) = out.remove(i) {
                out.extend(c.handle_group_stored(
                    now_ms,
                    &store.group_id,
                    store.generation_id,
                    error_code::NONE,
                ));
            }
        }
        out
    }

    /// Two members joined generation 1 of group "g" (a leads); returns (a, b).
    fn two_joined(c: &mut GroupCoordinator) -> (JoinResponse, JoinResponse) {
        let a = joined(&c.handle_join(0, join("", &["range"]), 1), 1);
        sync_stored(c, 1, sync(&a, vec![]), 2);
        let held = c.handle_join(10, join("", &["range"]), 3);
        assert!(held.is_empty());
        let out = c.handle_join(11, join(&a.member_id, &["range"]), 4);
        (joined(&out, 4), joined(&out, 3))
    }

    #[test]
    fn an_assignment_reaches_members_only_once_its_group_record_is_stored() {
        // Kafka's GroupCoordinator.doSyncGroup: the leader's assignment is written to
        // __consumer_offsets (storeGroup) and the SyncGroup replies wait for that write.
        let mut c = GroupCoordinator::new(GroupConfig::default());
        let (a, b) = two_joined(&mut c);
        assert_eq!(a.generation_id, 2);
        assert!(c.handle_sync(20, sync(&b, vec![]), 5).is_empty());
        let plan = vec![(a.member_id.clone(), b"p0".to_vec())];
        let out = c.handle_sync(21, sync(&a, plan.clone()), 6);
        let [GroupOutput::Store(store)] = out.as_slice() else {
            panic!("expected one store, got {out:?}");
        };
        assert_eq!((store.group_id.as_str(), store.generation_id), ("g", 2));
        assert_eq!(store.key, crate::offsets::encode_group_key("g"));
        assert_eq!(c.state("g"), Some(GroupState::CompletingRebalance));
        // The leader's retry while the write is under way adds nothing.
        assert!(c.handle_sync(22, sync(&a, plan), 7).is_empty());
        // A report for another generation changes nothing.
        assert!(
            c.handle_group_stored(23, "g", 1, error_code::NONE)
                .is_empty()
        );
        let out = c.handle_group_stored(24, "g", 2, error_code::NONE);
        assert_eq!(synced(&out, 5), Ok(Vec::new()), "b was given nothing");
        assert_eq!(synced(&out, 7), Ok(b"p0".to_vec()));
        assert_eq!(c.state("g"), Some(GroupState::Stable));
        assert_eq!(c.validate_commit("g", 2, &b.member_id), Ok(()));
    }

    #[test]
    fn a_failed_group_record_write_refuses_the_generation_and_rebalances() {
        // A coordinator that lost the offsets partition's leadership without knowing it (a
        // paused process) cannot complete the acks=all write: its members are told
        // NOT_COORDINATOR and nobody is given an assignment. Kafka: doSyncGroup's
        // resetAndPropagateAssignmentError, then maybePrepareRebalance.
        for (append, answer) in [
            (
                error_code::NOT_LEADER_OR_FOLLOWER,
                error_code::NOT_COORDINATOR,
            ),
            (
                error_code::REQUEST_TIMED_OUT,
                error_code::REBALANCE_IN_PROGRESS,
            ),
            (
                error_code::NOT_ENOUGH_REPLICAS,
                error_code::COORDINATOR_NOT_AVAILABLE,
            ),
        ] {
            let mut c = GroupCoordinator::new(GroupConfig::default());
            let (a, b) = two_joined(&mut c);
            assert!(c.handle_sync(20, sync(&b, vec![]), 5).is_empty());
            let plan = vec![(b.member_id.clone(), b"p0".to_vec())];
            assert_eq!(c.handle_sync(21, sync(&a, plan), 6).len(), 1);
            let out = c.handle_group_stored(30, "g", 2, append);
            for token in [5, 6] {
                let refused = synced(&out, token).expect_err("no assignment");
                assert_eq!(refused.kafka_error_code(), answer);
            }
            assert_eq!(c.state("g"), Some(GroupState::PreparingRebalance));
            assert_eq!(
                c.handle_heartbeat(31, "g", 2, &b.member_id),
                Err(GroupError::RebalanceInProgress)
            );
            // The next generation is stored and handed out as usual.
            let out = c.handle_join(32, join(&a.member_id, &["range"]), 7);
            assert!(out.is_empty());
            let out = c.handle_join(33, join(&b.member_id, &["range"]), 8);
            let (a3, b3) = (joined(&out, 7), joined(&out, 8));
            assert_eq!(a3.generation_id, 3);
            assert!(c.handle_sync(34, sync(&b3, vec![]), 9).is_empty());
            let plan = vec![(b.member_id.clone(), b"p0".to_vec())];
            let out = sync_stored(&mut c, 35, sync(&a3, plan), 10);
            assert_eq!(synced(&out, 9), Ok(b"p0".to_vec()));
        }
    }

    #[test]
    fn a_store_report_after_a_rebalance_changes_nothing() {
        // Another member joined while the write was under way: the group is no longer
        // completing that generation, so the late report is ignored (Kafka checks
        // `group.is(CompletingRebalance) && generationId == group.generationId`).
        let mut c = GroupCoordinator::new(GroupConfig::default());
        let (a, _b) = two_joined(&mut c);
        assert_eq!(c.handle_sync(20, sync(&a, vec![]), 5).len(), 1);
        let _ = c.handle_join(21, join("", &["range"]), 6);
        assert_eq!(c.state("g"), Some(GroupState::PreparingRebalance));
        assert!(
            c.handle_group_stored(22, "g", 2, error_code::NONE)
                .is_empty()
        );
        assert_eq!(c.state("g"), Some(GroupState::PreparingRebalance));
    }

    fn sync(j: &JoinResponse, assignments: Vec<(String, Vec<u8>)>) -> SyncRequest {
        SyncRequest {
            group_id: "g".into(),
            generation_id: j.generation_id,
            member_id: j.member_id.clone(),
            assignments,
        }
    }

    #[test]
    fn a_resigning_coordinator_answers_every_waiting_request_not_coordinator() {
        // Kafka's GroupCoordinator.onResignation → onGroupUnloaded: members waiting in a
        // rebalance are answered NOT_COORDINATOR, so they look for the new coordinator at
        // once instead of waiting on a broker that will never answer them.
        let mut c = GroupCoordinator::new(GroupConfig::default());
        let a = joined(&c.handle_join(0, join("", &["range"]), 1), 1);
        let out = c.handle_sync(0, sync(&a, vec![]), 2);
        assert!(
            matches!(&out[..], [GroupOutput::Store(_)]),
            "the SyncGroup waits for its generation to be stored: {out:?}"
        );
        let answers = c.handle_resigned();
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert_eq!(synced(&answers, 2), Err(GroupError::NotCoordinator));

        let mut c = GroupCoordinator::new(GroupConfig::default());
        let a = joined(&c.handle_join(0, join("", &["range"]), 1), 1);
        sync_stored(&mut c, 0, sync(&a, vec![]), 2);
        let out = c.handle_join(100, join("", &["range"]), 3);
        assert!(
            out.is_empty(),
            "a second member waits for the rebalance: {out:?}"
        );
        let answers = c.handle_resigned();
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert_eq!(joined(&answers, 3).error, Some(GroupError::NotCoordinator));
        assert_eq!(
            GroupError::NotCoordinator.kafka_error_code(),
            error_code::NOT_COORDINATOR
        );
        assert_eq!(c.state("g"), None, "the group is another broker's now");
    }

    #[test]
    fn a_member_waiting_in_sync_group_does_not_expire_while_its_leader_is_silent() {
        // Kafka's MemberMetadata.hasSatisfiedHeartbeat: a member awaiting its SyncGroup answer
        // counts as heartbeating. When the silent leader's session ends, the waiting member is
        // told REBALANCE_IN_PROGRESS and stays in the group, its session started afresh.
        let mut c = GroupCoordinator::new(GroupConfig::default());
        let a = joined(&c.handle_join(0, join("", &["range"]), 1), 1);
        sync_stored(&mut c, 0, sync(&a, vec![]), 2);
        // b joins; a rejoins: generation 2, a leads and then goes silent.
        let out = c.handle_join(1_000, join("", &["range"]), 3);
        assert!(out.is_empty(), "{out:?}");
        let out = c.handle_join(1_100, join(&a.member_id, &["range"]), 4);
        let b = joined(&out, 3);
        assert_eq!(b.generation_id, 2);
        let out = c.handle_sync(1_200, sync(&b, vec![]), 5);
        assert!(
            out.is_empty(),
            "b waits for the leader's assignment: {out:?}"
        );
        // b's own session (10 s from its join at 1.0 s) would end at 11.0 s; a's (from its
        // join at 1.1 s) at 11.1 s.
        assert_eq!(
            c.handle_timeout(11_050),
            vec![],
            "b is not expired while it waits"
        );
        let out = c.handle_timeout(11_100);
        assert_eq!(synced(&out, 5), Err(GroupError::RebalanceInProgress));
        assert_eq!(
            c.state("g"),
            Some(GroupState::PreparingRebalance),
            "b is asked to rejoin"
        );
        let members = c.describe("g").map(|d| d.members.len());
        assert_eq!(members, Some(1), "a expired, b stays");
    }

    #[test]
    fn silent_members_expire_and_the_rest_rebalance() {
        let mut c = GroupCoordinator::new(GroupConfig::default());
        let a = joined(&c.handle_join(0, join("", &["range"]), 1), 1);
        sync_stored(&mut c, 0, sync(&a, vec![]), 2);
        let out = c.handle_join(100, join("", &["range"]), 3);
        let out2 = c.handle_join(200, join(&a.member_id, &["range"]), 4);
        let b = joined(&out2, 3);
        assert!(out.is_empty());
        sync_stored(&mut c, 201, sync(&joined(&out2, 4), vec![]), 5);
        sync_stored(&mut c, 202, sync(&b, vec![]), 6);
        // Only b heartbeats; a's session (10 s) runs out.
        for t in (1_000..12_000).step_by(1_000) {
            let _ = c.handle_heartbeat(t, "g", 2, &b.member_id);
            c.handle_timeout(t);
        }
        let d = c.describe("g").unwrap();
        assert_eq!(d.members.len(), 1);
        assert_eq!(d.members[0].member_id, b.member_id);
        assert_eq!(d.state, GroupState::PreparingRebalance);
        assert_eq!(
            c.handle_heartbeat(12_000, "g", 2, &b.member_id),
            Err(GroupError::RebalanceInProgress)
        );
        let b3 = joined(&c.handle_join(12_001, join(&b.member_id, &["range"]), 7), 7);
        assert_eq!(b3.generation_id, 3);
    }

    #[test]
    fn a_member_that_does_not_rejoin_is_dropped_at_the_rebalance_deadline() {
        let mut c = GroupCoordinator::new(GroupConfig::default());
        let a = joined(&c.handle_join(0, join("", &["range"]), 1), 1);
        sync_stored(&mut c, 0, sync(&a, vec![]), 2);
        // b joins; a never rejoins: after the rebalance timeout (5 s) b gets generation 2 alone.
        assert!(c.handle_join(10, join("", &["range"]), 3).is_empty());
        let deadline = c.poll_timeout().unwrap();
        assert_eq!(deadline, 5_010);
        let out = c.handle_timeout(deadline);
        let b = joined(&out, 3);
        assert_eq!(
            (b.generation_id, b.leader.clone()),
            (2, b.member_id.clone())
        );
        assert_eq!(c.describe("g").unwrap().members.len(), 1);
    }

    #[test]
    fn refusals() {
        let mut c = GroupCoordinator::new(GroupConfig::default());
        let mut bad = join("", &["range"]);
        bad.session_timeout_ms = 10;
        assert_eq!(
            joined(&c.handle_join(0, bad, 1), 1).error,
            Some(GroupError::InvalidSessionTimeout)
        );
        assert_eq!(
            joined(&c.handle_join(0, join("nobody", &["range"]), 2), 2).error,
            Some(GroupError::UnknownMemberId)
        );
        let a = joined(&c.handle_join(0, join("", &["range"]), 3), 3);
        assert_eq!(
            joined(&c.handle_join(0, join("", &["roundrobin"]), 4), 4).error,
            Some(GroupError::InconsistentGroupProtocol)
        );
        assert_eq!(c.delete("g"), Err(GroupError::NonEmptyGroup));
        assert_eq!(c.handle_leave(1, "g", &a.member_id).0, Ok(()));
        assert_eq!(c.state("g"), Some(GroupState::Empty));
        assert_eq!(c.validate_commit("g", -1, ""), Ok(()));
        assert_eq!(c.delete("g"), Ok(()));
        assert_eq!(c.delete("g"), Err(GroupError::GroupIdNotFound));
        assert_eq!(GroupError::RebalanceInProgress.kafka_error_code(), 27);
    }
}
