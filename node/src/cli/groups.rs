//! Consumer-group commands (list, describe, reset-offsets) and [`Member`], the classic-protocol
//! group member `consume --group` runs as: JoinGroup, the leader's range assignment in the
//! standard `consumer` protocol encoding, SyncGroup, heartbeats, OffsetCommit and LeaveGroup.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ConsumerProtocolAssignment, ConsumerProtocolSubscription, GroupId, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::{Cell, CliError, Client, Report, check, list_offsets, partition_count};

/// A group member's session timeout.
const SESSION_TIMEOUT_MS: i32 = 10_000;
/// How long the coordinator waits for members to rejoin; below the client's I/O timeout.
const REBALANCE_TIMEOUT_MS: i32 = 8_000;
/// Kafka's REBALANCE_IN_PROGRESS error code.
const REBALANCE_IN_PROGRESS: i16 = 27;

/// The coordinator of `group`, connected (FindCoordinator v0); the same client when it is the
/// bootstrap broker.
pub(crate) fn coordinator(client: Client, group: &str) -> Result<Client, CliError> {
    use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
    let mut client = client;
    let request =
        FindCoordinatorRequest::default().with_key(StrBytes::from_string(group.to_string()));
    let response: FindCoordinatorResponse = client.call(ApiKey::FindCoordinator, 0, &request)?;
    check(&format!("find coordinator of {group}"), response.error_code)?;
    let address = format!("{}:{}", response.host, response.port);
    if address == client.address {
        Ok(client)
    } else {
        Client::connect(&address)
    }
}

/// Committed offsets of `group` (topic, partition, offset): of every partition it has committed,
/// or only of the first `n` partitions of one topic when `only` is `Some((topic, n))`.
fn committed(
    client: &mut Client,
    group: &str,
    only: Option<(&str, u32)>,
) -> Result<Vec<(String, i32, i64)>, CliError> {
    use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
    use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_topics(only.map(|(topic, n)| {
            vec![
                OffsetFetchRequestTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                    .with_partition_indexes((0..n as i32).collect()),
            ]
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

/// `runnel group list`: every group and its protocol type.
pub fn group_list(client: &mut Client) -> Result<Report, CliError> {
    use kafka_protocol::messages::{ListGroupsRequest, ListGroupsResponse};
    let response: ListGroupsResponse =
        client.call(ApiKey::ListGroups, 0, &ListGroupsRequest::default())?;
    check("list groups", response.error_code)?;
    let mut groups: Vec<(String, String)> = response
        .groups
        .iter()
        .map(|g| (g.group_id.0.to_string(), g.protocol_type.to_string()))
        .collect();
    groups.sort();
    Ok(Report {
        columns: vec!["GROUP", "TYPE"],
        rows: groups
            .into_iter()
            .map(|(g, t)| vec![g.into(), t.into()])
            .collect(),
        ..Report::default()
    })
}

/// `runnel group describe GROUP`: state, members, and per partition (committed or assigned)
/// the committed offset, log end offset, lag and the member that owns it.
pub fn group_describe(client: Client, group: &str) -> Result<Report, CliError> {
    use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};
    let mut client = coordinator(client, group)?;
    let request = DescribeGroupsRequest::default()
        .with_groups(vec![GroupId(StrBytes::from_string(group.to_string()))]);
    let response: DescribeGroupsResponse = client.call(ApiKey::DescribeGroups, 1, &request)?;
    let described = response
        .groups
        .first()
        .ok_or_else(|| CliError::Protocol("no group in answer".into()))?;
    check(&format!("group {group}"), described.error_code)?;
    // (topic, partition) → (committed, owner's client id).
    let mut partitions: BTreeMap<(String, i32), (Option<i64>, Option<String>)> = BTreeMap::new();
    if described.protocol_type.as_str() == "consumer" {
        for m in &described.members {
            let Ok(assignment) = decode_assignment(&m.member_assignment) else {
                continue;
            };
            for (topic, partition) in assignment {
                partitions.entry((topic, partition)).or_default().1 = Some(m.client_id.to_string());
            }
        }
    }
    for (topic, partition, offset) in committed(&mut client, group, None)? {
        partitions.entry((topic, partition)).or_default().0 = Some(offset);
    }
    let mut ends: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut rows = Vec::new();
    for ((topic, partition), (offset, owner)) in partitions {
        if !ends.contains_key(&topic) {
            let n = partition_count(&mut client, &topic)?;
            let latest = list_offsets(&mut client, &topic, n, -1)?;
            ends.insert(topic.clone(), latest);
        }
        let end = ends
            .get(&topic)
            .and_then(|e| e.get(partition as usize))
            .copied();
        let lag = match (end, offset) {
            (Some(e), Some(o)) => Some((e - o).max(0)),
            _ => None,
        };
        rows.push(vec![
            topic.into(),
            partition.into(),
            offset.into(),
            end.into(),
            lag.into(),
            owner.map_or(Cell::None, Cell::Text),
        ]);
    }
    Ok(Report {
        title: Some(format!(
            "group {group}: {}, {} members",
            described.group_state,
            described.members.len()
        )),
        fields: vec![
            ("group", group.into()),
            ("state", described.group_state.to_string().into()),
            ("members", Cell::Int(described.members.len() as i64)),
        ],
        columns: vec!["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "MEMBER"],
        rows,
        rows_key: "partitions",
        ..Report::default()
    })
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
    /// The current commit plus this many (may be negative; clamped to the log).
    Shift(i64),
    /// The first offset at or after this time (milliseconds since the epoch); the log end
    /// when every record is older.
    Timestamp(i64),
}

/// `runnel group reset-offsets GROUP --topic T --to-…`: prints the plan (TOPIC PARTITION
/// CURRENT NEW) and, with `execute`, commits it. Kafka refuses the commit while the group has
/// members.
pub fn group_reset_offsets(
    client: Client,
    group: &str,
    topic: &str,
    reset: Reset,
    execute: bool,
) -> Result<Report, CliError> {
    let mut client = coordinator(client, group)?;
    let partitions = partition_count(&mut client, topic)?;
    let earliest = list_offsets(&mut client, topic, partitions, -2)?;
    let latest = list_offsets(&mut client, topic, partitions, -1)?;
    let at_time = match reset {
        Reset::Timestamp(ms) => list_offsets(&mut client, topic, partitions, ms)?,
        _ => Vec::new(),
    };
    let current: BTreeMap<i32, i64> = committed(&mut client, group, Some((topic, partitions)))?
        .into_iter()
        .filter(|(t, _, _)| t == topic)
        .map(|(_, p, o)| (p, o))
        .collect();
    let mut plan = Vec::new();
    for p in 0..partitions as usize {
        let now = current.get(&(p as i32)).copied();
        let target = match reset {
            Reset::Earliest => earliest[p],
            Reset::Latest => latest[p],
            Reset::Offset(o) => o,
            Reset::Shift(n) => now.unwrap_or(earliest[p]) + n,
            Reset::Timestamp(_) => match at_time[p] {
                -1 => latest[p],
                o => o,
            },
        }
        .clamp(earliest[p], latest[p]);
        plan.push((p as i32, now, target));
    }
    let mut report = Report {
        fields: vec![
            ("group", group.into()),
            ("topic", topic.into()),
            ("executed", Cell::Bool(execute)),
        ],
        columns: vec!["TOPIC", "PARTITION", "CURRENT", "NEW"],
        rows: plan
            .iter()
            .map(|(p, now, target)| {
                vec![topic.into(), (*p).into(), (*now).into(), (*target).into()]
            })
            .collect(),
        rows_key: "plan",
        ..Report::default()
    };
    if !execute {
        report.footer = Some("(dry run: add --execute to commit)".into());
        return Ok(report);
    }
    let offsets: Vec<(i32, i64)> = plan.iter().map(|(p, _, target)| (*p, *target)).collect();
    commit_offsets(&mut client, group, (-1, ""), topic, &offsets)?;
    report.footer = Some("committed".into());
    Ok(report)
}

/// Commits `offsets` (partition, next offset) of `topic` for `group` as `(generation, member)`
/// ((-1, "") from outside the group, which Kafka allows only while it has no members).
fn commit_offsets(
    client: &mut Client,
    group: &str,
    (generation, member): (i32, &str),
    topic: &str,
    offsets: &[(i32, i64)],
) -> Result<(), CliError> {
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(StrBytes::from_string(member.to_string()))
        .with_retention_time_ms(-1)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(
                    offsets
                        .iter()
                        .map(|(p, offset)| {
                            OffsetCommitRequestPartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(*offset)
                        })
                        .collect(),
                ),
        ]);
    let response: OffsetCommitResponse = client.call(ApiKey::OffsetCommit, 2, &request)?;
    for t in &response.topics {
        for p in &t.partitions {
            check(
                &format!("commit {group} on {topic}-{}", p.partition_index),
                p.error_code,
            )?;
        }
    }
    Ok(())
}

/// A member of a consumer group (classic protocol), subscribed to one topic. The caller owns
/// the connection to the coordinator and passes it to every call.
pub(crate) struct Member {
    group: String,
    topic: String,
    member_id: String,
    generation: i32,
    assignment: Vec<(String, i32)>,
}

impl Member {
    /// Finds the group's coordinator and joins the group; returns the coordinator's connection
    /// and the member with its assignment.
    pub(crate) fn join(
        client: Client,
        group: &str,
        topic: &str,
    ) -> Result<(Client, Self), CliError> {
        let mut client = coordinator(client, group)?;
        let mut member = Self {
            group: group.to_string(),
            topic: topic.to_string(),
            member_id: String::new(),
            generation: -1,
            assignment: Vec::new(),
        };
        member.rejoin(&mut client)?;
        Ok((client, member))
    }

    /// Joins (again, after a rebalance) and syncs; the leader assigns partitions by range.
    pub(crate) fn rejoin(&mut self, client: &mut Client) -> Result<(), CliError> {
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
                        .with_metadata(encode_subscription(&self.topic)?),
                ]);
            let joined: JoinGroupResponse = client.call(ApiKey::JoinGroup, 2, &request)?;
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
                range_assign(&subscriptions, |t| partition_count(client, t))?
                    .into_iter()
                    .map(|(member, partitions)| {
                        Ok(SyncGroupRequestAssignment::default()
                            .with_member_id(StrBytes::from_string(member))
                            .with_assignment(encode_assignment(&partitions)?))
                    })
                    .collect::<Result<Vec<_>, CliError>>()?
            } else {
                Vec::new()
            };
            let request = SyncGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_string(self.group.clone())))
                .with_generation_id(self.generation)
                .with_member_id(joined.member_id.clone())
                .with_assignments(assignments);
            let synced: SyncGroupResponse = client.call(ApiKey::SyncGroup, 1, &request)?;
            if synced.error_code == REBALANCE_IN_PROGRESS {
                continue;
            }
            check(&format!("sync group {}", self.group), synced.error_code)?;
            self.assignment = decode_assignment(&synced.assignment)?;
            return Ok(());
        }
        Err(CliError::Usage(format!(
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

    /// The group's committed offsets on the first `partitions` partitions of `topic`.
    pub(crate) fn committed(
        &self,
        client: &mut Client,
        topic: &str,
        partitions: u32,
    ) -> Result<BTreeMap<i32, i64>, CliError> {
        Ok(committed(client, &self.group, Some((topic, partitions)))?
            .into_iter()
            .filter(|(t, _, _)| t == topic)
            .map(|(_, p, o)| (p, o))
            .collect())
    }

    /// Heartbeats; true when the group is rebalancing and this member must rejoin.
    pub(crate) fn heartbeat(&self, client: &mut Client) -> Result<bool, CliError> {
        use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(self.group.clone())))
            .with_generation_id(self.generation)
            .with_member_id(StrBytes::from_string(self.member_id.clone()));
        let response: HeartbeatResponse = client.call(ApiKey::Heartbeat, 1, &request)?;
        if response.error_code == REBALANCE_IN_PROGRESS {
            return Ok(true);
        }
        check(
            &format!("heartbeat to group {}", self.group),
            response.error_code,
        )?;
        Ok(false)
    }

    /// Commits `offsets` (partition → next offset) of `topic` as this member.
    pub(crate) fn commit(
        &self,
        client: &mut Client,
        topic: &str,
        offsets: &BTreeMap<i32, i64>,
    ) -> Result<(), CliError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let offsets: Vec<(i32, i64)> = offsets.iter().map(|(p, o)| (*p, *o)).collect();
        commit_offsets(
            client,
            &self.group,
            (self.generation, &self.member_id),
            topic,
            &offsets,
        )
    }

    /// Leaves the group, so the others take over its partitions at once.
    pub(crate) fn leave(self, client: &mut Client) -> Result<(), CliError> {
        use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};
        let request = LeaveGroupRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(self.group.clone())))
            .with_member_id(StrBytes::from_string(self.member_id.clone()));
        let response: LeaveGroupResponse = client.call(ApiKey::LeaveGroup, 1, &request)?;
        check(&format!("leave group {}", self.group), response.error_code)
    }
}

/// Kafka's range assignor: for each topic, its partitions in order split into contiguous runs
/// over the members subscribed to it (sorted by member id), the first ones one longer.
/// Returns every member's (topic, partition) list, including empty ones.
fn range_assign(
    subscriptions: &[(String, Vec<String>)],
    mut partitions_of: impl FnMut(&str) -> Result<u32, CliError>,
) -> Result<BTreeMap<String, Vec<(String, i32)>>, CliError> {
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

/// A `consumer` protocol subscription (version 0) to one topic.
fn encode_subscription(topic: &str) -> Result<Bytes, CliError> {
    let subscription = ConsumerProtocolSubscription::default()
        .with_topics(vec![StrBytes::from_string(topic.to_string())]);
    versioned(&subscription)
}

/// The topics of a `consumer` protocol subscription.
fn decode_subscription(bytes: &Bytes) -> Result<Vec<String>, CliError> {
    let (version, mut body) = unversioned(bytes)?;
    let subscription = ConsumerProtocolSubscription::decode(&mut body, version.min(3))
        .map_err(|e| CliError::Protocol(format!("subscription: {e}")))?;
    Ok(subscription.topics.iter().map(|t| t.to_string()).collect())
}

/// A `consumer` protocol assignment (version 0).
fn encode_assignment(partitions: &[(String, i32)]) -> Result<Bytes, CliError> {
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
fn decode_assignment(bytes: &Bytes) -> Result<Vec<(String, i32)>, CliError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let (version, mut body) = unversioned(bytes)?;
    let assignment = ConsumerProtocolAssignment::decode(&mut body, version.min(3))
        .map_err(|e| CliError::Protocol(format!("assignment: {e}")))?;
    Ok(assignment
        .assigned_partitions
        .iter()
        .flat_map(|tp| tp.partitions.iter().map(|p| (tp.topic.0.to_string(), *p)))
        .collect())
}

/// `message` at version 0 behind its two-byte version, as the consumer protocol frames it.
fn versioned(message: &impl Encodable) -> Result<Bytes, CliError> {
    let mut out = BytesMut::new();
    out.put_i16(0);
    message
        .encode(&mut out, 0)
        .map_err(|e| CliError::Protocol(e.to_string()))?;
    Ok(out.freeze())
}

/// The version and the body of a consumer-protocol message.
fn unversioned(bytes: &Bytes) -> Result<(i16, Bytes), CliError> {
    let mut body = bytes.clone();
    if body.remaining() < 2 {
        return Err(CliError::Protocol(
            "consumer protocol message too short".into(),
        ));
    }
    let version = body.get_i16();
    if version < 0 {
        return Err(CliError::Protocol(format!(
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
        let sub = encode_subscription("orders").unwrap();
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
