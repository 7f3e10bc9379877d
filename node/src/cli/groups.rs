//! Consumer-group commands (list, describe, delete, reset-offsets) and [`Member`], the
//! classic-protocol group member `consume --group` runs as: JoinGroup, the leader's range
//! assignment in the standard `consumer` protocol encoding, SyncGroup, heartbeats,
//! OffsetCommit and LeaveGroup, all sent to the group's coordinator.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ConsumerProtocolAssignment, ConsumerProtocolSubscription, GroupId, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::{
    Brokers, ByPartition, Cell, Client, ClientError, Report, at_coordinator, check, check_with,
    list_offsets, plural,
};

/// A group member's session timeout.
const SESSION_TIMEOUT_MS: i32 = 10_000;
/// How long the coordinator waits for members to rejoin; below the client's I/O timeout.
const REBALANCE_TIMEOUT_MS: i32 = 8_000;
/// Kafka's REBALANCE_IN_PROGRESS error code.
const REBALANCE_IN_PROGRESS: i16 = 27;

/// Committed offsets of `group` (topic, partition, offset): of every partition it has
/// committed, or only of the first partitions of the topics in `only` (topic → count).
fn committed(
    client: &mut Client,
    group: &str,
    only: Option<&BTreeMap<String, u32>>,
) -> Result<Vec<(String, i32, i64)>, ClientError> {
    use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
    use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_topics(only.map(|topics| {
            topics
                .iter()
                .map(|(topic, n)| {
                    OffsetFetchRequestTopic::default()
                        .with_name(TopicName(StrBytes::from_string(topic.clone())))
                        .with_partition_indexes((0..*n as i32).collect())
                })
                .collect()
        }));
    let response: OffsetFetchResponse = client.call(ApiKey::OffsetFetch, 2, &request)?;
    check(&format!("offsets of {group}"), response.error_code)?;
    let mut out = Vec::new();
    for t in &response.topics {
        for p in &t.partitions {
            check(
                &format!("offsets of {group} on {}-{}", t.name.0, p.partition_index),
                p.error_code,
            )?;
            if p.committed_offset >= 0 {
                out.push((t.name.0.to_string(), p.partition_index, p.committed_offset));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `runnel group list`: every group of every broker (each coordinator lists its own, so the
/// command asks them all, as kafka-consumer-groups.sh does) and its protocol type and state.
pub fn group_list(brokers: &mut Brokers) -> Result<Report, ClientError> {
    use kafka_protocol::messages::{ListGroupsRequest, ListGroupsResponse};
    brokers.metadata(Some(&[]))?;
    // Group id → protocol type.
    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    for id in brokers.broker_ids() {
        let response: ListGroupsResponse =
            brokers
                .broker(id)?
                .call(ApiKey::ListGroups, 0, &ListGroupsRequest::default())?;
        check("list groups", response.error_code)?;
        for g in &response.groups {
            groups.insert(g.group_id.0.to_string(), g.protocol_type.to_string());
        }
    }
    Ok(Report {
        columns: vec!["GROUP", "TYPE"],
        rows: groups
            .into_iter()
            .map(|(g, t)| vec![g.into(), t.into()])
            .collect(),
        ..Report::default()
    })
}

/// One member as DescribeGroups tells it: (member id, client id, host, assigned (topic,
/// partition)s).
type DescribedMember = (String, String, String, Vec<(String, i32)>);

/// A group as DescribeGroups tells it.
struct Described {
    state: String,
    protocol_type: String,
    members: Vec<DescribedMember>,
}

impl Described {
    /// "Stable with 2 members (a@/10.0.0.1, b@/10.0.0.2)".
    fn summary(&self) -> String {
        let mut text = format!(
            "{} with {}",
            self.state,
            plural(self.members.len(), "member")
        );
        if !self.members.is_empty() {
            let who: Vec<String> = self
                .members
                .iter()
                .map(|(_, client, host, _)| format!("{client}@{host}"))
                .collect();
            text.push_str(&format!(" ({})", who.join(", ")));
        }
        text
    }
}

/// DescribeGroups v1 of one group, asked of its coordinator.
fn describe(client: &mut Client, group: &str) -> Result<Described, ClientError> {
    use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};
    let request = DescribeGroupsRequest::default()
        .with_groups(vec![GroupId(StrBytes::from_string(group.to_string()))]);
    let response: DescribeGroupsResponse = client.call(ApiKey::DescribeGroups, 1, &request)?;
    let described = response
        .groups
        .first()
        .ok_or_else(|| ClientError::Protocol("no group in answer".into()))?;
    check(&format!("group {group}"), described.error_code)?;
    let consumer = described.protocol_type.as_str() == "consumer";
    Ok(Described {
        state: described.group_state.to_string(),
        protocol_type: described.protocol_type.to_string(),
        members: described
            .members
            .iter()
            .map(|m| {
                let assigned = if consumer {
                    decode_assignment(&m.member_assignment).unwrap_or_default()
                } else {
                    Vec::new()
                };
                (
                    m.member_id.to_string(),
                    m.client_id.to_string(),
                    m.client_host.to_string(),
                    assigned,
                )
            })
            .collect(),
    })
}

/// The error for a group the coordinator does not know (Kafka's kafka-consumer-groups.sh:
/// "Consumer group 'g' does not exist.").
fn no_such_group(group: &str) -> ClientError {
    ClientError::Usage(format!("group {group} does not exist"))
}

/// `runnel group describe GROUP`: its coordinator, state and members (id, client id, host,
/// partitions), and per partition (committed or assigned) the committed offset, log end
/// offset (the high watermark), lag, last stable offset and owner; the total lag. The lag is
/// counted to the last stable offset, as a read_committed consumer's `records-lag` is (KIP-98):
/// records of a transaction still open are not lag it could work off.
///
/// # Errors
/// "group G does not exist" when the coordinator knows nothing of it (Dead, no commits).
pub fn group_describe(brokers: &mut Brokers, group: &str) -> Result<Report, ClientError> {
    let (coordinator, described, commits) = at_coordinator(|_| {
        let (coordinator, client) = brokers.coordinator_with_id(group)?;
        Ok((
            coordinator,
            describe(client, group)?,
            committed(client, group, None)?,
        ))
    })?;
    if described.state == "Dead" && commits.is_empty() {
        return Err(no_such_group(group));
    }
    // (topic, partition) → (committed, owner's client id).
    let mut partitions: ByPartition<(Option<i64>, Option<String>)> = BTreeMap::new();
    for (_, client_id, _, assigned) in &described.members {
        for (topic, partition) in assigned {
            partitions.entry((topic.clone(), *partition)).or_default().1 = Some(client_id.clone());
        }
    }
    for (topic, partition, offset) in commits {
        partitions.entry((topic, partition)).or_default().0 = Some(offset);
    }
    // Per topic: partition → (high watermark, last stable offset).
    let mut ends: BTreeMap<String, BTreeMap<i32, (i64, Option<i64>)>> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut total_lag = 0i64;
    for ((topic, partition), (offset, owner)) in partitions {
        if !ends.contains_key(&topic) {
            // A deleted topic, an offline partition or an unreachable leader has no end.
            let latest = match brokers.partition_count(&topic) {
                Ok(n) => {
                    let stable = super::last_stable_offsets_where_led(brokers, &topic, n);
                    super::log_bounds_where_led(brokers, &topic, n)
                        .into_iter()
                        .map(|(p, (_, end))| (p, (end, stable.get(&p).copied())))
                        .collect()
                }
                Err(_) => BTreeMap::new(),
            };
            ends.insert(topic.clone(), latest);
        }
        let (end, stable) = match ends.get(&topic).and_then(|e| e.get(&partition)) {
            Some((end, stable)) => (Some(*end), *stable),
            None => (None, None),
        };
        // On the last stable offset: what a read_committed consumer can still read (the
        // high watermark unless a transaction is open, KIP-98).
        let lag = match (stable.or(end), offset) {
            (Some(e), Some(o)) => Some((e - o).max(0)),
            _ => None,
        };
        total_lag += lag.unwrap_or(0);
        rows.push(vec![
            topic.into(),
            partition.into(),
            offset.into(),
            end.into(),
            lag.into(),
            stable.into(),
            owner.map_or(Cell::None, Cell::Text),
        ]);
    }
    let members = Report {
        columns: vec!["MEMBER ID", "CLIENT ID", "HOST", "PARTITIONS"],
        rows: described
            .members
            .iter()
            .map(|(id, client, host, assigned)| {
                vec![
                    id.as_str().into(),
                    client.as_str().into(),
                    host.as_str().into(),
                    Cell::Int(assigned.len() as i64),
                ]
            })
            .collect(),
        rows_key: "member_list",
        ..Report::default()
    };
    Ok(Report {
        title: Some(format!(
            "group {group}: {}, coordinator {coordinator}, total lag {total_lag}",
            described.summary()
        )),
        fields: vec![
            ("group", group.into()),
            ("state", described.state.clone().into()),
            ("protocol_type", described.protocol_type.clone().into()),
            ("coordinator", coordinator.into()),
            ("members", Cell::Int(described.members.len() as i64)),
            ("total_lag", total_lag.into()),
        ],
        columns: vec![
            "TOPIC",
            "PARTITION",
            "COMMITTED",
            "END",
            "LAG",
            "STABLE",
            "MEMBER",
        ],
        rows,
        rows_key: "partitions",
        sections: if described.members.is_empty() {
            Vec::new()
        } else {
            vec![members]
        },
        ..Report::default()
    })
}

/// `runnel group delete GROUP`: DeleteGroups, which Kafka allows only for a group without
/// members (NON_EMPTY_GROUP otherwise); its commits go with it.
pub fn group_delete(brokers: &mut Brokers, group: &str) -> Result<Report, ClientError> {
    use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};
    let request = DeleteGroupsRequest::default()
        .with_groups_names(vec![GroupId(StrBytes::from_string(group.to_string()))]);
    let response: DeleteGroupsResponse = at_coordinator(|_| {
        let response: DeleteGroupsResponse =
            brokers
                .coordinator(group)?
                .call(ApiKey::DeleteGroups, 0, &request)?;
        // Coordinator errors come per group; raise them so that they are retried.
        for r in response
            .results
            .iter()
            .filter(|r| (14..=16).contains(&r.error_code))
        {
            check(&format!("delete group {group}"), r.error_code)?;
        }
        Ok(response)
    })?;
    for r in &response.results {
        match r.error_code {
            69 => return Err(no_such_group(group)),
            code => check(&format!("delete group {group}"), code)?,
        }
    }
    Ok(Report::message(
        format!("deleted group {group}"),
        vec![("deleted", group.into())],
    ))
}

/// Where `group reset-offsets` moves a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reset {
    /// The log start offset.
    Earliest,
    /// The log end offset.
    Latest,
    /// This offset (clamped to the log).
    Offset(i64),
    /// The current commit plus this many (may be negative; clamped to the log). Kafka's tool
    /// refuses partitions without a commit.
    Shift(i64),
    /// The first offset at or after this time (milliseconds since the epoch); the log end
    /// when every record is older.
    Timestamp(i64),
}

/// `runnel group reset-offsets GROUP --topic T... | --all-topics --to-…`: prints the plan
/// (TOPIC PARTITION CURRENT NEW) and, with `execute`, commits it. As kafka-consumer-groups.sh
/// does, it refuses (dry run included) unless the group is inactive (Empty or Dead), and
/// refuses `--shift-by` on partitions without a commit.
///
/// `topics`: the topics to reset; `None` means every topic the group has commits on.
///
/// # Errors
/// [`ClientError::Usage`] for an active group (naming its state and members), a shift without a
/// commit, or no topic to reset.
pub fn group_reset_offsets(
    brokers: &mut Brokers,
    group: &str,
    topics: Option<&[String]>,
    reset: Reset,
    execute: bool,
) -> Result<Report, ClientError> {
    let described = at_coordinator(|_| describe(brokers.coordinator(group)?, group))?;
    if !matches!(described.state.as_str(), "Empty" | "Dead") {
        return Err(ClientError::Usage(format!(
            "group {group} is {}: offsets can be reset only while the group is inactive (stop its consumers first)",
            described.summary()
        )));
    }
    let topics: Vec<String> = match topics {
        Some(t) => t.to_vec(),
        None => {
            let mut all: Vec<String> =
                at_coordinator(|_| committed(brokers.coordinator(group)?, group, None))?
                    .into_iter()
                    .map(|(t, _, _)| t)
                    .collect();
            all.dedup();
            if all.is_empty() {
                return Err(ClientError::Usage(format!(
                    "group {group} has no commits: name the topics with --topic"
                )));
            }
            all
        }
    };
    let mut counts = BTreeMap::new();
    for topic in &topics {
        counts.insert(topic.clone(), brokers.partition_count(topic)?);
    }
    let current: ByPartition<i64> =
        at_coordinator(|_| committed(brokers.coordinator(group)?, group, Some(&counts)))?
            .into_iter()
            .map(|(t, p, o)| ((t, p), o))
            .collect();
    let mut plan = Vec::new();
    for (topic, partitions) in &counts {
        let earliest = list_offsets(brokers, topic, *partitions, -2)?;
        let latest = list_offsets(brokers, topic, *partitions, -1)?;
        let at_time = match reset {
            Reset::Timestamp(ms) => list_offsets(brokers, topic, *partitions, ms)?,
            _ => Vec::new(),
        };
        for p in 0..*partitions as usize {
            let now = current.get(&(topic.clone(), p as i32)).copied();
            let target = match reset {
                Reset::Earliest => earliest[p],
                Reset::Latest => latest[p],
                Reset::Offset(o) => o,
                Reset::Shift(n) => match now {
                    Some(now) => now + n,
                    None => {
                        return Err(ClientError::Usage(format!(
                            "cannot shift {topic}-{p}: group {group} has no committed offset there (use --to-earliest, --to-latest or --to-offset)"
                        )));
                    }
                },
                Reset::Timestamp(_) => match at_time[p] {
                    -1 => latest[p],
                    o => o,
                },
            };
            // kafka-consumer-groups.sh warns when it moves a target into the log.
            let clamped = target.clamp(earliest[p], latest[p]);
            if clamped != target {
                let (side, bound) = if target < earliest[p] {
                    ("below the log start", earliest[p])
                } else {
                    ("past the log end", latest[p])
                };
                eprintln!("runnel: {topic}-{p}: offset {target} is {side}; using {bound}");
            }
            plan.push((topic.clone(), p as i32, now, clamped));
        }
    }
    let mut report = Report {
        title: Some(format!("group {group}: {}", described.summary())),
        fields: vec![
            ("group", group.into()),
            ("state", described.state.clone().into()),
            ("executed", Cell::Bool(execute)),
        ],
        columns: vec!["TOPIC", "PARTITION", "CURRENT", "NEW"],
        rows: plan
            .iter()
            .map(|(topic, p, now, target)| {
                vec![
                    topic.as_str().into(),
                    (*p).into(),
                    (*now).into(),
                    (*target).into(),
                ]
            })
            .collect(),
        rows_key: "plan",
        ..Report::default()
    };
    if !execute {
        report.footer = Some("(dry run: add --execute to commit)".into());
        return Ok(report);
    }
    let offsets: ByPartition<i64> = plan
        .iter()
        .map(|(t, p, _, target)| ((t.clone(), *p), *target))
        .collect();
    at_coordinator(|_| commit_offsets(brokers.coordinator(group)?, group, (-1, ""), &offsets))?;
    report.footer = Some("committed".into());
    Ok(report)
}

/// Commits `offsets` ((topic, partition) → next offset) for `group` as `(generation, member)`
/// ((-1, "") from outside the group, which Kafka allows only while it has no members).
fn commit_offsets(
    client: &mut Client,
    group: &str,
    (generation, member): (i32, &str),
    offsets: &ByPartition<i64>,
) -> Result<(), ClientError> {
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
    let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for ((topic, p), offset) in offsets {
        by_topic.entry(topic).or_default().push(
            OffsetCommitRequestPartition::default()
                .with_partition_index(*p)
                .with_committed_offset(*offset),
        );
    }
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(StrBytes::from_string(member.to_string()))
        .with_retention_time_ms(-1)
        .with_topics(
            by_topic
                .into_iter()
                .map(|(topic, partitions)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                        .with_partitions(partitions)
                })
                .collect(),
        );
    let response: OffsetCommitResponse = client.call(ApiKey::OffsetCommit, 2, &request)?;
    for t in &response.topics {
        for p in &t.partitions {
            check(
                &format!("commit {group} on {}-{}", t.name.0, p.partition_index),
                p.error_code,
            )?;
        }
    }
    Ok(())
}

/// A member of a consumer group (classic protocol), subscribed to some topics; every request
/// goes to the group's coordinator.
pub(crate) struct Member {
    group: String,
    topics: Vec<String>,
    coordinator: i32,
    member_id: String,
    generation: i32,
    assignment: Vec<(String, i32)>,
}

impl Member {
    /// Finds the group's coordinator and joins the group.
    pub(crate) fn join(
        brokers: &mut Brokers,
        group: &str,
        topics: &[String],
    ) -> Result<Self, ClientError> {
        let (coordinator, _) = brokers.coordinator_with_id(group)?;
        let mut member = Self {
            group: group.to_string(),
            topics: topics.to_vec(),
            coordinator,
            member_id: String::new(),
            generation: -1,
            assignment: Vec::new(),
        };
        member.rejoin(brokers)?;
        Ok(member)
    }

    /// Runs `call` at the group's coordinator, through [`at_coordinator`]: the coordinator is
    /// found again when it moved or was not ready.
    fn at_coordinator<R>(
        &mut self,
        brokers: &mut Brokers,
        mut call: impl FnMut(&mut Self, &mut Brokers) -> Result<R, ClientError>,
    ) -> Result<R, ClientError> {
        at_coordinator(|find_again| {
            if find_again {
                self.coordinator = brokers.coordinator_with_id(&self.group)?.0;
            }
            call(self, brokers)
        })
    }

    /// Joins (again, after a rebalance) and syncs; the leader assigns partitions by range.
    pub(crate) fn rejoin(&mut self, brokers: &mut Brokers) -> Result<(), ClientError> {
        self.at_coordinator(brokers, Self::join_and_sync)
    }

    /// One JoinGroup and SyncGroup round (repeated while the group rebalances).
    fn join_and_sync(&mut self, brokers: &mut Brokers) -> Result<(), ClientError> {
        use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
        use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
        use kafka_protocol::messages::{
            JoinGroupRequest, JoinGroupResponse, SyncGroupRequest, SyncGroupResponse,
        };
        for _ in 0..5 {
            let request = JoinGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_string(self.group.clone())))
                .with_session_timeout_ms(SESSION_TIMEOUT_MS)
                .with_rebalance_timeout_ms(REBALANCE_TIMEOUT_MS)
                .with_member_id(StrBytes::from_string(self.member_id.clone()))
                .with_protocol_type(StrBytes::from_static_str("consumer"))
                .with_protocols(vec![
                    JoinGroupRequestProtocol::default()
                        .with_name(StrBytes::from_static_str("range"))
                        .with_metadata(encode_subscription(&self.topics)?),
                ]);
            let joined: JoinGroupResponse =
                brokers
                    .broker(self.coordinator)?
                    .call(ApiKey::JoinGroup, 2, &request)?;
            if joined.error_code == 25 && !self.member_id.is_empty() {
                // UNKNOWN_MEMBER_ID: our session ended; join as a new member.
                self.member_id.clear();
                continue;
            }
            if joined.error_code == 79 {
                // MEMBER_ID_REQUIRED (KIP-394): join again with the id the broker gave.
                self.member_id = joined.member_id.to_string();
                continue;
            }
            check(&format!("join group {}", self.group), joined.error_code)?;
            self.member_id = joined.member_id.to_string();
            self.generation = joined.generation_id;
            let assignments = if joined.leader == joined.member_id {
                let mut subscriptions = Vec::new();
                for m in &joined.members {
                    subscriptions
                        .push((m.member_id.to_string(), decode_subscription(&m.metadata)?));
                }
                range_assign(&subscriptions, |t| brokers.partition_count(t))?
                    .into_iter()
                    .map(|(member, partitions)| {
                        Ok(SyncGroupRequestAssignment::default()
                            .with_member_id(StrBytes::from_string(member))
                            .with_assignment(encode_assignment(&partitions)?))
                    })
                    .collect::<Result<Vec<_>, ClientError>>()?
            } else {
                Vec::new()
            };
            let request = SyncGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_string(self.group.clone())))
                .with_generation_id(self.generation)
                .with_member_id(joined.member_id.clone())
                .with_assignments(assignments);
            let synced: SyncGroupResponse =
                brokers
                    .broker(self.coordinator)?
                    .call(ApiKey::SyncGroup, 1, &request)?;
            if synced.error_code == REBALANCE_IN_PROGRESS {
                continue;
            }
            check(&format!("sync group {}", self.group), synced.error_code)?;
            self.assignment = decode_assignment(&synced.assignment)?;
            return Ok(());
        }
        Err(ClientError::Usage(format!(
            "group {}: still rebalancing after 5 attempts to join",
            self.group
        )))
    }

    /// The partitions of `topic` assigned to this member.
    pub(crate) fn assigned<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = i32> + 'a {
        self.assignment
            .iter()
            .filter(move |(t, _)| t == topic)
            .map(|(_, p)| *p)
    }

    /// The group's committed offsets on the topics of `counts` (topic → partition count).
    pub(crate) fn committed(
        &mut self,
        brokers: &mut Brokers,
        counts: &BTreeMap<String, u32>,
    ) -> Result<ByPartition<i64>, ClientError> {
        let read = self.at_coordinator(brokers, |m, b| {
            committed(b.broker(m.coordinator)?, &m.group, Some(counts))
        })?;
        Ok(read.into_iter().map(|(t, p, o)| ((t, p), o)).collect())
    }

    /// Heartbeats; true when the group is rebalancing and this member must rejoin.
    pub(crate) fn heartbeat(&mut self, brokers: &mut Brokers) -> Result<bool, ClientError> {
        self.at_coordinator(brokers, Self::heartbeat_once)
    }

    /// One Heartbeat.
    fn heartbeat_once(&mut self, brokers: &mut Brokers) -> Result<bool, ClientError> {
        use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(self.group.clone())))
            .with_generation_id(self.generation)
            .with_member_id(StrBytes::from_string(self.member_id.clone()));
        let response: HeartbeatResponse =
            brokers
                .broker(self.coordinator)?
                .call(ApiKey::Heartbeat, 1, &request)?;
        if response.error_code == REBALANCE_IN_PROGRESS {
            return Ok(true);
        }
        check(
            &format!("heartbeat to group {}", self.group),
            response.error_code,
        )?;
        Ok(false)
    }

    /// Commits `offsets` ((topic, partition) → next offset) as this member.
    pub(crate) fn commit(
        &mut self,
        brokers: &mut Brokers,
        offsets: &ByPartition<i64>,
    ) -> Result<(), ClientError> {
        if offsets.is_empty() {
            return Ok(());
        }
        self.at_coordinator(brokers, |m, b| {
            commit_offsets(
                b.broker(m.coordinator)?,
                &m.group,
                (m.generation, &m.member_id),
                offsets,
            )
        })
    }

    /// Leaves the group, so the others take over its partitions at once.
    pub(crate) fn leave(&mut self, brokers: &mut Brokers) -> Result<(), ClientError> {
        self.at_coordinator(brokers, Self::leave_once)
    }

    /// One LeaveGroup.
    fn leave_once(&mut self, brokers: &mut Brokers) -> Result<(), ClientError> {
        use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};
        let request = LeaveGroupRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(self.group.clone())))
            .with_member_id(StrBytes::from_string(self.member_id.clone()));
        let response: LeaveGroupResponse =
            brokers
                .broker(self.coordinator)?
                .call(ApiKey::LeaveGroup, 1, &request)?;
        check_with(
            &format!("leave group {}", self.group),
            response.error_code,
            None,
        )
    }
}

/// Kafka's range assignor: for each topic, its partitions in order split into contiguous runs
/// over the members subscribed to it (sorted by member id), the first ones one longer.
/// Returns every member's (topic, partition) list, including empty ones.
fn range_assign(
    subscriptions: &[(String, Vec<String>)],
    mut partitions_of: impl FnMut(&str) -> Result<u32, ClientError>,
) -> Result<BTreeMap<String, Vec<(String, i32)>>, ClientError> {
    let mut result: BTreeMap<String, Vec<(String, i32)>> = subscriptions
        .iter()
        .map(|(m, _)| (m.clone(), Vec::new()))
        .collect();
    let mut topics: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (member, subscribed) in subscriptions {
        for t in subscribed {
            topics.entry(t).or_default().push(member);
        }
    }
    for (topic, mut members) in topics {
        members.sort();
        let count = partitions_of(topic)? as usize;
        let (each, extra) = (count / members.len(), count % members.len());
        let mut next = 0;
        for (i, member) in members.iter().enumerate() {
            let n = each + usize::from(i < extra);
            let owned = result.entry(member.to_string()).or_default();
            owned.extend((next..next + n).map(|p| (topic.to_string(), p as i32)));
            next += n;
        }
    }
    Ok(result)
}

/// A `consumer` protocol subscription (version 0) to `topics`.
fn encode_subscription(topics: &[String]) -> Result<Bytes, ClientError> {
    let subscription = ConsumerProtocolSubscription::default().with_topics(
        topics
            .iter()
            .map(|t| StrBytes::from_string(t.clone()))
            .collect(),
    );
    versioned(&subscription)
}

/// The topics of a `consumer` protocol subscription.
fn decode_subscription(bytes: &Bytes) -> Result<Vec<String>, ClientError> {
    let (version, mut body) = unversioned(bytes)?;
    let subscription = ConsumerProtocolSubscription::decode(&mut body, version.min(3))
        .map_err(|e| ClientError::Protocol(format!("subscription: {e}")))?;
    Ok(subscription.topics.iter().map(|t| t.to_string()).collect())
}

/// A `consumer` protocol assignment (version 0).
fn encode_assignment(partitions: &[(String, i32)]) -> Result<Bytes, ClientError> {
    use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in partitions {
        by_topic.entry(t).or_default().push(*p);
    }
    let assignment = ConsumerProtocolAssignment::default().with_assigned_partitions(
        by_topic
            .into_iter()
            .map(|(t, ps)| {
                TopicPartition::default()
                    .with_topic(TopicName(StrBytes::from_string(t.to_string())))
                    .with_partitions(ps)
            })
            .collect(),
    );
    versioned(&assignment)
}

/// The (topic, partition) pairs of a `consumer` protocol assignment; empty bytes assign nothing.
fn decode_assignment(bytes: &Bytes) -> Result<Vec<(String, i32)>, ClientError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let (version, mut body) = unversioned(bytes)?;
    let assignment = ConsumerProtocolAssignment::decode(&mut body, version.min(3))
        .map_err(|e| ClientError::Protocol(format!("assignment: {e}")))?;
    Ok(assignment
        .assigned_partitions
        .iter()
        .flat_map(|tp| tp.partitions.iter().map(|p| (tp.topic.0.to_string(), *p)))
        .collect())
}

/// `message` at version 0 behind its two-byte version, as the consumer protocol frames it.
fn versioned(message: &impl Encodable) -> Result<Bytes, ClientError> {
    let mut out = BytesMut::new();
    out.put_i16(0);
    message
        .encode(&mut out, 0)
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
    Ok(out.freeze())
}

/// The version and the body of a consumer-protocol message.
fn unversioned(bytes: &Bytes) -> Result<(i16, Bytes), ClientError> {
    let mut body = bytes.clone();
    if body.remaining() < 2 {
        return Err(ClientError::Protocol(
            "consumer protocol message too short".into(),
        ));
    }
    let version = body.get_i16();
    if version < 0 {
        return Err(ClientError::Protocol(format!(
            "consumer protocol version {version}"
        )));
    }
    Ok((version, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_assignment_splits_like_kafka() {
        let subs = vec![
            ("b".to_string(), vec!["t".to_string()]),
            ("a".to_string(), vec!["t".to_string(), "u".to_string()]),
        ];
        let plan = range_assign(&subs, |t| Ok(if t == "t" { 5 } else { 1 })).unwrap();
        let a: Vec<(String, i32)> = ["t0", "t1", "t2", "u0"]
            .iter()
            .map(|s| (s[..1].to_string(), s[1..].parse().unwrap()))
            .collect();
        assert_eq!(plan["a"], a);
        assert_eq!(plan["b"], vec![("t".to_string(), 3), ("t".to_string(), 4)]);
    }

    #[test]
    fn consumer_protocol_round_trips() {
        let sub = encode_subscription(&["orders".to_string()]).unwrap();
        assert_eq!(&sub[..2], &[0, 0], "version 0 prefix");
        assert_eq!(
            decode_subscription(&sub).unwrap(),
            vec!["orders".to_string()]
        );
        let parts = vec![
            ("a".to_string(), 0),
            ("a".to_string(), 2),
            ("b".to_string(), 1),
        ];
        assert_eq!(
            decode_assignment(&encode_assignment(&parts).unwrap()).unwrap(),
            parts
        );
        assert!(decode_assignment(&Bytes::from_static(&[0])).is_err());
        assert_eq!(decode_assignment(&Bytes::new()).unwrap(), vec![]);
    }
}
