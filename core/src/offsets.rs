//! Committed offsets: where each consumer group is in each partition.
//!
//! A consumer commits "I have processed everything before offset N" with OffsetCommit; a
//! consumer that joins later (or restarts) asks with OffsetFetch and resumes there, or rewinds
//! by committing an earlier offset. [`OffsetStore`] keeps the latest commit per
//! (group, topic, partition) with its metadata string.
//!
//! Commits are also records: [`encode_commit`] writes one as the key and value Kafka puts in
//! its internal compacted topic `__consumer_offsets` (key version 1, value version 3), so
//! commits survive restarts and replicate like any data, and compaction keeps only the latest
//! per partition. [`decode_commit`] reads them back; a null value is a deleted commit.
//!
//! The same topic holds each group's latest generation ([`encode_group_value`], Kafka's group
//! metadata record, key version 2): the coordinator writes it before answering SyncGroup, which
//! is what fences a coordinator that lost its leadership without knowing it.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error_code;

/// `offset.metadata.max.bytes`: the longest metadata string a commit may carry (Kafka: 4096).
pub const METADATA_MAX_BYTES: usize = 4096;

/// One committed offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The next offset the group will read.
    pub offset: i64,
    /// The leader epoch of the last record read, or -1.
    pub leader_epoch: i32,
    /// Free text the client attached.
    pub metadata: String,
    /// When the commit arrived (the coordinator's clock).
    pub commit_timestamp_ms: i64,
}

/// Why a commit was refused; the store is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OffsetError {
    /// The metadata string is longer than [`METADATA_MAX_BYTES`].
    #[error("offset metadata of {0} bytes exceeds {METADATA_MAX_BYTES}")]
    MetadataTooLarge(usize),
    /// An offset below -1 (Kafka uses -1 for "no offset").
    #[error("invalid offset {0}")]
    InvalidOffset(i64),
    /// Bytes from the offsets topic are not a commit record.
    #[error("malformed offset commit record: {0}")]
    Malformed(&'static str),
}

impl OffsetError {
    /// The Kafka error code a broker answers this with.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            Self::MetadataTooLarge(_) => error_code::OFFSET_METADATA_TOO_LARGE,
            Self::InvalidOffset(_) => error_code::INVALID_REQUEST,
            Self::Malformed(_) => error_code::CORRUPT_MESSAGE,
        }
    }
}

/// The key of one commit: which group, topic and partition.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OffsetKey {
    /// The consumer group id.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
}

/// The latest committed offset per (group, topic, partition).
#[derive(Clone, Debug, Default)]
pub struct OffsetStore {
    groups: BTreeMap<String, BTreeMap<(String, i32), CommittedOffset>>,
}

impl OffsetStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a commit, replacing any earlier one for the same partition.
    pub fn commit(&mut self, key: &OffsetKey, value: CommittedOffset) -> Result<(), OffsetError> {
        validate(&value)?;
        self.groups
            .entry(key.group.clone())
            .or_default()
            .insert((key.topic.clone(), key.partition), value);
        Ok(())
    }

    /// The group's committed offset for a partition, if any.
    pub fn fetch(&self, group: &str, topic: &str, partition: i32) -> Option<&CommittedOffset> {
        self.groups
            .get(group)?
            .get(&(String::from(topic), partition))
    }

    /// Every commit of a group: ((topic, partition), offset), ordered by topic then partition.
    pub fn group(&self, group: &str) -> impl Iterator<Item = (&(String, i32), &CommittedOffset)> {
        self.groups.get(group).into_iter().flat_map(|m| m.iter())
    }

    /// The groups that have commits.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// Removes one commit; returns whether there was one.
    pub fn remove(&mut self, group: &str, topic: &str, partition: i32) -> bool {
        let Some(offsets) = self.groups.get_mut(group) else {
            return false;
        };
        let removed = offsets.remove(&(String::from(topic), partition)).is_some();
        if offsets.is_empty() {
            self.groups.remove(group);
        }
        removed
    }

    /// Removes every commit of a group (DeleteGroups); returns how many there were.
    pub fn delete_group(&mut self, group: &str) -> usize {
        self.groups.remove(group).map_or(0, |m| m.len())
    }

    /// Removes every group's commits for a deleted topic; returns how many there were.
    pub fn delete_topic(&mut self, topic: &str) -> usize {
        let mut removed = 0;
        for offsets in self.groups.values_mut() {
            let before = offsets.len();
            offsets.retain(|(t, _), _| t != topic);
            removed += before - offsets.len();
        }
        self.groups.retain(|_, offsets| !offsets.is_empty());
        removed
    }

    /// Applies one record read back from the offsets topic: a commit, or a deletion when the
    /// value is null. Used to rebuild the store at start.
    pub fn apply_record(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), OffsetError> {
        if key.get(..2) == Some(&GROUP_KEY_VERSION.to_be_bytes()[..]) {
            // A group's generation: the store keeps commits only.
            return Ok(());
        }
        let (key, value) = decode_commit(key, value)?;
        match value {
            Some(value) => self.commit(&key, value),
            None => {
                self.remove(&key.group, &key.topic, key.partition);
                Ok(())
            }
        }
    }
}

/// The error an OffsetCommit answers when writing the commit to `__consumer_offsets` failed
/// with `append_error`. Clients act on coordinator errors, not on produce errors: they retry
/// on COORDINATOR_NOT_AVAILABLE and look for the coordinator again on NOT_COORDINATOR.
/// Kafka's mapping (`GroupMetadataManager.storeOffsets`, and the KIP-848 coordinator's
/// `GroupCoordinatorService.normalizeException`, which also maps REQUEST_TIMED_OUT):
/// UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS(_AFTER_APPEND), REQUEST_TIMED_OUT →
/// COORDINATOR_NOT_AVAILABLE; NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR → NOT_COORDINATOR;
/// MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE → INVALID_COMMIT_OFFSET_SIZE; anything else
/// stays as it is.
pub fn commit_error_code(append_error: i16) -> i16 {
    match append_error {
        error_code::UNKNOWN_TOPIC_OR_PARTITION
        | error_code::NOT_ENOUGH_REPLICAS
        | error_code::NOT_ENOUGH_REPLICAS_AFTER_APPEND
        | error_code::REQUEST_TIMED_OUT => error_code::COORDINATOR_NOT_AVAILABLE,
        error_code::NOT_LEADER_OR_FOLLOWER | error_code::KAFKA_STORAGE_ERROR => {
            error_code::NOT_COORDINATOR
        }
        error_code::MESSAGE_TOO_LARGE | error_code::RECORD_LIST_TOO_LARGE => {
            error_code::INVALID_COMMIT_OFFSET_SIZE
        }
        other => other,
    }
}

/// The error a SyncGroup answers when writing the generation's group record to
/// `__consumer_offsets` failed with `append_error` (Kafka's `GroupMetadataManager.storeGroup`):
/// UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS(_AFTER_APPEND) → COORDINATOR_NOT_AVAILABLE;
/// NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR → NOT_COORDINATOR; REQUEST_TIMED_OUT →
/// REBALANCE_IN_PROGRESS; MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_FETCH_SIZE →
/// UNKNOWN_SERVER_ERROR; anything else stays as it is.
pub fn store_group_error_code(append_error: i16) -> i16 {
    match append_error {
        error_code::UNKNOWN_TOPIC_OR_PARTITION
        | error_code::NOT_ENOUGH_REPLICAS
        | error_code::NOT_ENOUGH_REPLICAS_AFTER_APPEND => error_code::COORDINATOR_NOT_AVAILABLE,
        error_code::NOT_LEADER_OR_FOLLOWER | error_code::KAFKA_STORAGE_ERROR => {
            error_code::NOT_COORDINATOR
        }
        error_code::REQUEST_TIMED_OUT => error_code::REBALANCE_IN_PROGRESS,
        error_code::MESSAGE_TOO_LARGE
        | error_code::RECORD_LIST_TOO_LARGE
        | error_code::INVALID_FETCH_SIZE => error_code::UNKNOWN_SERVER_ERROR,
        other => other,
    }
}

/// Checks a commit before it is written anywhere: metadata within [`METADATA_MAX_BYTES`], an
/// offset of -1 or more.
pub fn validate(value: &CommittedOffset) -> Result<(), OffsetError> {
    if value.metadata.len() > METADATA_MAX_BYTES {
        return Err(OffsetError::MetadataTooLarge(value.metadata.len()));
    }
    if value.offset < -1 {
        return Err(OffsetError::InvalidOffset(value.offset));
    }
    Ok(())
}

const KEY_VERSION: i16 = 1;
const VALUE_VERSION: i16 = 3;
/// The key version of a group metadata record (`GroupMetadataKey`).
const GROUP_KEY_VERSION: i16 = 2;
/// The value version of a group metadata record written here: 3 has static members (KIP-345)
/// and is the last non-flexible one.
const GROUP_VALUE_VERSION: i16 = 3;

/// One generation of a group, as its record in `__consumer_offsets` holds it.
#[derive(Clone, Copy, Debug)]
pub struct GroupRecord<'a> {
    /// `protocol_type` (`consumer` for Kafka consumers).
    pub protocol_type: &'a str,
    /// The generation.
    pub generation_id: i32,
    /// The chosen protocol (the assignor's name); written as null when empty.
    pub protocol_name: &'a str,
    /// The leader's member id; written as null when empty.
    pub leader: &'a str,
    /// When the group entered this state (the coordinator's clock).
    pub current_state_timestamp_ms: i64,
    /// The members, in join order.
    pub members: &'a [GroupMemberRecord<'a>],
}

/// One member in a [`GroupRecord`].
#[derive(Clone, Copy, Debug)]
pub struct GroupMemberRecord<'a> {
    /// The member id.
    pub member_id: &'a str,
    /// The static member's `group.instance.id` (KIP-345).
    pub group_instance_id: Option<&'a str>,
    /// The client id.
    pub client_id: &'a str,
    /// The client's host as the coordinator saw it.
    pub client_host: &'a str,
    /// The member's rebalance timeout.
    pub rebalance_timeout_ms: u64,
    /// The member's session timeout.
    pub session_timeout_ms: u64,
    /// The member's metadata for the chosen protocol (its subscription).
    pub subscription: &'a [u8],
    /// What the leader assigned to it.
    pub assignment: &'a [u8],
}

/// Encodes the record key of a group's metadata (`GroupMetadataKey`: version 2, group id).
pub fn encode_group_key(group: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + group.len());
    out.extend_from_slice(&GROUP_KEY_VERSION.to_be_bytes());
    put_string(&mut out, group);
    out
}

/// Encodes a group's metadata record value as Kafka writes it (`GroupMetadataValue.json`
/// version 3: protocol type, generation, nullable protocol, nullable leader, state timestamp,
/// then per member its id, nullable instance id, client id, client host, rebalance and session
/// timeouts as `int32` milliseconds, subscription and assignment as `int32`-length bytes).
pub fn encode_group_value(record: &GroupRecord<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&GROUP_VALUE_VERSION.to_be_bytes());
    put_string(&mut out, record.protocol_type);
    out.extend_from_slice(&record.generation_id.to_be_bytes());
    put_nullable_string(
        &mut out,
        Some(record.protocol_name).filter(|s| !s.is_empty()),
    );
    put_nullable_string(&mut out, Some(record.leader).filter(|s| !s.is_empty()));
    out.extend_from_slice(&record.current_state_timestamp_ms.to_be_bytes());
    out.extend_from_slice(&(record.members.len() as i32).to_be_bytes());
    for m in record.members {
        put_string(&mut out, m.member_id);
        put_nullable_string(&mut out, m.group_instance_id);
        put_string(&mut out, m.client_id);
        put_string(&mut out, m.client_host);
        out.extend_from_slice(&(m.rebalance_timeout_ms.min(i32::MAX as u64) as i32).to_be_bytes());
        out.extend_from_slice(&(m.session_timeout_ms.min(i32::MAX as u64) as i32).to_be_bytes());
        put_bytes(&mut out, m.subscription);
        put_bytes(&mut out, m.assignment);
    }
    out
}

/// Encodes a commit as the record key and value Kafka writes to `__consumer_offsets`.
pub fn encode_commit(key: &OffsetKey, value: &CommittedOffset) -> (Vec<u8>, Vec<u8>) {
    (encode_key(key), encode_value(value))
}

/// Encodes the record key of a commit (`OffsetCommitKey` version 1).
pub fn encode_key(key: &OffsetKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 + key.group.len() + key.topic.len());
    out.extend_from_slice(&KEY_VERSION.to_be_bytes());
    put_string(&mut out, &key.group);
    put_string(&mut out, &key.topic);
    out.extend_from_slice(&key.partition.to_be_bytes());
    out
}

/// Encodes the record value of a commit (`OffsetCommitValue` version 3).
pub fn encode_value(value: &CommittedOffset) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + value.metadata.len());
    out.extend_from_slice(&VALUE_VERSION.to_be_bytes());
    out.extend_from_slice(&value.offset.to_be_bytes());
    out.extend_from_slice(&value.leader_epoch.to_be_bytes());
    put_string(&mut out, &value.metadata);
    out.extend_from_slice(&value.commit_timestamp_ms.to_be_bytes());
    out
}

/// Decodes a record of the offsets topic; `None` value means the commit was deleted.
pub fn decode_commit(
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<(OffsetKey, Option<CommittedOffset>), OffsetError> {
    let mut k = Reader { data: key };
    let version = k.i16()?;
    if !(0..=1).contains(&version) {
        return Err(OffsetError::Malformed("not an offset commit key"));
    }
    let offset_key = OffsetKey {
        group: k.string()?,
        topic: k.string()?,
        partition: k.i32()?,
    };
    k.finish()?;
    let Some(value) = value else {
        return Ok((offset_key, None));
    };
    let mut v = Reader { data: value };
    let version = v.i16()?;
    let offset = v.i64()?;
    let leader_epoch = if version >= 3 { v.i32()? } else { -1 };
    let metadata = v.string()?;
    let commit_timestamp_ms = v.i64()?;
    if version == 1 {
        v.i64()?; // expire timestamp, dropped by Kafka 2.1+
    }
    if !(0..=3).contains(&version) {
        return Err(OffsetError::Malformed(
            "unknown offset commit value version",
        ));
    }
    v.finish()?;
    let committed = CommittedOffset {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp_ms,
    };
    validate(&committed)?;
    Ok((offset_key, Some(committed)))
}

fn put_nullable_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_string(out, s),
        None => out.extend_from_slice(&(-1i16).to_be_bytes()),
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    // Group ids, topic names and metadata are bounded well below i16::MAX by validation.
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], OffsetError> {
        if self.data.len() < N {
            return Err(OffsetError::Malformed("record ends early"));
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&self.data[..N]);
        self.data = &self.data[N..];
        Ok(out)
    }

    fn i16(&mut self) -> Result<i16, OffsetError> {
        self.take::<2>().map(i16::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, OffsetError> {
        self.take::<4>().map(i32::from_be_bytes)
    }

    fn i64(&mut self) -> Result<i64, OffsetError> {
        self.take::<8>().map(i64::from_be_bytes)
    }

    fn string(&mut self) -> Result<String, OffsetError> {
        let len = self.i16()?;
        if len < 0 || self.data.len() < len as usize {
            return Err(OffsetError::Malformed("bad string length"));
        }
        let (s, rest) = self.data.split_at(len as usize);
        self.data = rest;
        core::str::from_utf8(s)
            .map(String::from)
            .map_err(|_| OffsetError::Malformed("string is not UTF-8"))
    }

    fn finish(&self) -> Result<(), OffsetError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(OffsetError::Malformed("trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_group_record_write_answers_kafkas_sync_group_codes() {
        // Kafka's GroupMetadataManager.storeGroup: how an append error becomes SyncGroup's.
        for (append, answer) in [
            (
                error_code::UNKNOWN_TOPIC_OR_PARTITION,
                error_code::COORDINATOR_NOT_AVAILABLE,
            ),
            (
                error_code::NOT_ENOUGH_REPLICAS,
                error_code::COORDINATOR_NOT_AVAILABLE,
            ),
            (
                error_code::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                error_code::COORDINATOR_NOT_AVAILABLE,
            ),
            (
                error_code::NOT_LEADER_OR_FOLLOWER,
                error_code::NOT_COORDINATOR,
            ),
            (error_code::KAFKA_STORAGE_ERROR, error_code::NOT_COORDINATOR),
            (
                error_code::REQUEST_TIMED_OUT,
                error_code::REBALANCE_IN_PROGRESS,
            ),
            (
                error_code::MESSAGE_TOO_LARGE,
                error_code::UNKNOWN_SERVER_ERROR,
            ),
            (
                error_code::RECORD_LIST_TOO_LARGE,
                error_code::UNKNOWN_SERVER_ERROR,
            ),
            (
                error_code::INVALID_FETCH_SIZE,
                error_code::UNKNOWN_SERVER_ERROR,
            ),
            (error_code::CORRUPT_MESSAGE, error_code::CORRUPT_MESSAGE),
        ] {
            assert_eq!(
                store_group_error_code(append),
                answer,
                "append error {append}"
            );
        }
    }

    #[test]
    fn a_group_record_has_kafkas_layout_and_the_store_skips_it() {
        // GroupMetadataKey (version 2) and GroupMetadataValue version 3, field by field as in
        // Kafka's GroupMetadataValue.json.
        assert_eq!(encode_group_key("g1"), [0, 2, 0, 2, b'g', b'1']);
        let members = [GroupMemberRecord {
            member_id: "m",
            group_instance_id: None,
            client_id: "c",
            client_host: "/h",
            rebalance_timeout_ms: 300_000,
            session_timeout_ms: 45_000,
            subscription: &[9],
            assignment: &[7, 8],
        }];
        let value = encode_group_value(&GroupRecord {
            protocol_type: "consumer",
            generation_id: 5,
            protocol_name: "range",
            leader: "m",
            current_state_timestamp_ms: 1_000,
            members: &members,
        });
        let mut expected = alloc::vec![0, 3, 0, 8];
        expected.extend_from_slice(b"consumer");
        expected.extend_from_slice(&5i32.to_be_bytes());
        expected.extend_from_slice(&[0, 5]);
        expected.extend_from_slice(b"range");
        expected.extend_from_slice(&[0, 1, b'm']);
        expected.extend_from_slice(&1_000i64.to_be_bytes());
        expected.extend_from_slice(&1i32.to_be_bytes());
        expected.extend_from_slice(&[0, 1, b'm', 0xff, 0xff, 0, 1, b'c', 0, 2, b'/', b'h']);
        expected.extend_from_slice(&300_000i32.to_be_bytes());
        expected.extend_from_slice(&45_000i32.to_be_bytes());
        expected.extend_from_slice(&[0, 0, 0, 1, 9, 0, 0, 0, 2, 7, 8]);
        assert_eq!(value, expected);
        // Read back from the topic, a group record is not a commit and is not an error.
        let mut store = OffsetStore::new();
        assert_eq!(
            store.apply_record(&encode_group_key("g1"), Some(&value)),
            Ok(())
        );
        assert_eq!(store.apply_record(&encode_group_key("g1"), None), Ok(()));
        assert_eq!(store.groups().count(), 0);
    }

    #[test]
    fn a_failed_commit_write_answers_with_coordinator_errors() {
        // Kafka's GroupMetadataManager error mapping (its testStoreGroupErrorMapping table).
        for (append, answer) in [
            (error_code::NONE, error_code::NONE),
            (
                error_code::UNKNOWN_TOPIC_OR_PARTITION,
                error_code::COORDINATOR_NOT_AVAILABLE,
            ),
            (
                error_code::NOT_ENOUGH_REPLICAS,
                error_code::COORDINATOR_NOT_AVAILABLE,
            ),
            (
                error_code::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                error_code::COORDINATOR_NOT_AVAILABLE,
            ),
            (
                error_code::REQUEST_TIMED_OUT,
                error_code::COORDINATOR_NOT_AVAILABLE,
            ),
            (
                error_code::NOT_LEADER_OR_FOLLOWER,
                error_code::NOT_COORDINATOR,
            ),
            (error_code::KAFKA_STORAGE_ERROR, error_code::NOT_COORDINATOR),
            (
                error_code::MESSAGE_TOO_LARGE,
                error_code::INVALID_COMMIT_OFFSET_SIZE,
            ),
            (
                error_code::RECORD_LIST_TOO_LARGE,
                error_code::INVALID_COMMIT_OFFSET_SIZE,
            ),
        ] {
            assert_eq!(commit_error_code(append), answer, "append error {append}");
        }
    }

    fn key(group: &str, topic: &str, partition: i32) -> OffsetKey {
        OffsetKey {
            group: group.into(),
            topic: topic.into(),
            partition,
        }
    }

    fn at(offset: i64, metadata: &str) -> CommittedOffset {
        CommittedOffset {
            offset,
            leader_epoch: 3,
            metadata: metadata.into(),
            commit_timestamp_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn latest_commit_wins_and_rewind_is_a_commit() {
        let mut store = OffsetStore::new();
        store.commit(&key("g", "t", 0), at(10, "")).unwrap();
        store
            .commit(&key("g", "t", 0), at(25, "after batch 3"))
            .unwrap();
        store.commit(&key("g", "t", 1), at(7, "")).unwrap();
        store.commit(&key("other", "t", 0), at(99, "")).unwrap();
        assert_eq!(store.fetch("g", "t", 0), Some(&at(25, "after batch 3")));
        store.commit(&key("g", "t", 0), at(0, "rewind")).unwrap();
        assert_eq!(store.fetch("g", "t", 0).map(|c| c.offset), Some(0));
        let partitions: Vec<_> = store.group("g").map(|((_, p), c)| (*p, c.offset)).collect();
        assert_eq!(partitions, [(0, 0), (1, 7)]);
        assert_eq!(store.fetch("g", "t", 2), None);
        assert_eq!(store.delete_group("g"), 2);
        assert_eq!(store.fetch("g", "t", 1), None);
        assert_eq!(store.fetch("other", "t", 0).map(|c| c.offset), Some(99));
    }

    #[test]
    fn refuses_bad_commits_and_changes_nothing() {
        let mut store = OffsetStore::new();
        store.commit(&key("g", "t", 0), at(5, "")).unwrap();
        let big = "x".repeat(METADATA_MAX_BYTES + 1);
        let err = store.commit(&key("g", "t", 0), at(6, &big)).unwrap_err();
        assert_eq!(
            err.kafka_error_code(),
            error_code::OFFSET_METADATA_TOO_LARGE
        );
        assert!(store.commit(&key("g", "t", 0), at(-2, "")).is_err());
        assert_eq!(store.fetch("g", "t", 0).map(|c| c.offset), Some(5));
    }

    #[test]
    fn commits_round_trip_through_offsets_topic_records() {
        let k = key("payments", "orders", 4);
        let v = at(1234, "meta");
        let (kb, vb) = encode_commit(&k, &v);
        // Key v1: version, group, topic, partition (Kafka's OffsetCommitKey).
        assert_eq!(&kb[..2], &[0, 1]);
        assert_eq!(kb.len(), 2 + 2 + 8 + 2 + 6 + 4);
        assert_eq!(
            decode_commit(&kb, Some(&vb)),
            Ok((k.clone(), Some(v.clone())))
        );
        let mut store = OffsetStore::new();
        store.apply_record(&kb, Some(&vb)).unwrap();
        assert_eq!(store.fetch("payments", "orders", 4), Some(&v));
        store.apply_record(&kb, None).unwrap();
        assert_eq!(store.fetch("payments", "orders", 4), None);
        assert!(decode_commit(&kb[..5], Some(&vb)).is_err());
        assert!(decode_commit(&kb, Some(&vb[..vb.len() - 1])).is_err());
    }
}
