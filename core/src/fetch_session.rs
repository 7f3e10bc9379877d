//! Incremental fetch sessions (KIP-227), both ends.
//!
//! A fetcher that reads many partitions from one broker (a follower, or a consumer) would
//! otherwise send every partition's offset in every Fetch, and the broker would answer every
//! partition, changed or not: the cost of each round grows with the partitions followed, not
//! with the records moved. With a session the broker keeps what the fetcher last asked for
//! each partition; a request names only the partitions whose request changed (and those to
//! forget), and the response names only the partitions with records, errors, or a high
//! watermark or log start that moved since the last response.
//!
//! [`FetchSessions`] is the broker's cache (Kafka's `FetchSessionCache` and `FetchManager`);
//! [`FetchSessionHandler`] is the fetcher's half (Kafka's client `FetchSessionHandler`).
//! Both are generic over the partition key `K` and the per-partition request `R` (offset,
//! size limit, leader epoch), which the body chooses.
//!
//! The wire rules (Fetch v7+, `FetchMetadata`): a request's (session id, epoch) is
//! - (0, 0): a full request that asks for a new session;
//! - (any, -1): a full request without a session (closing the named one);
//! - (id, 0): a full request that closes session `id` and asks for a new one;
//! - (id, n > 0): an incremental request in session `id`, whose epoch must be the session's
//!   next (FETCH_SESSION_ID_NOT_FOUND, 70, or INVALID_FETCH_SESSION_EPOCH, 71, otherwise).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::error_code;
use crate::rng::Rng;

/// The session id of "no session".
pub const INVALID_SESSION_ID: i32 = 0;
/// The epoch of a full request that asks for a new session.
pub const INITIAL_EPOCH: i32 = 0;
/// The epoch of a full request that wants no session.
pub const FINAL_EPOCH: i32 = -1;
/// Sessions a broker keeps at most (Kafka's `max.incremental.fetch.session.cache.slots`).
pub const MAX_SESSIONS: usize = 1_000;
/// How long a session must go unused (or exist) before a new one may evict it (Kafka's
/// `min.incremental.fetch.session.eviction.ms`).
pub const EVICTION_MS: u64 = 120_000;

/// The epoch that follows `epoch` in a session: 1 after `i32::MAX`, and 0 after the final
/// epoch (Kafka's `FetchMetadata.nextEpoch`).
pub fn next_epoch(epoch: i32) -> i32 {
    if epoch < 0 {
        INITIAL_EPOCH
    } else if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

/// Why a request in a session was refused: the whole response carries the code and no
/// partitions, and the fetcher starts over with a full request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// No such session here (evicted, or this broker restarted): FETCH_SESSION_ID_NOT_FOUND.
    NotFound,
    /// The epoch is not the session's next (a duplicate or lost request):
    /// INVALID_FETCH_SESSION_EPOCH.
    InvalidEpoch,
}

impl SessionError {
    /// The Kafka error code for the response's top-level `error_code`.
    pub fn kafka_error_code(self) -> i16 {
        match self {
            SessionError::NotFound => error_code::FETCH_SESSION_ID_NOT_FOUND,
            SessionError::InvalidEpoch => error_code::INVALID_FETCH_SESSION_EPOCH,
        }
    }
}

/// What kind of fetch a request is, once the broker has looked at its session fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchContext {
    /// Full, without a session: every partition is answered, the response's session id is 0.
    Sessionless,
    /// Full, asking for a session: every partition is answered, and a session is made of them
    /// if the cache has room.
    Full,
    /// Incremental in session `session_id`, whose epoch was `epoch`.
    Incremental {
        /// The session.
        session_id: i32,
        /// The request's epoch (the session now expects the next one).
        epoch: i32,
    },
}

/// One partition's answer, as far as deciding whether an incremental response must name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionAnswer {
    /// It carries record bytes.
    pub has_records: bool,
    /// It carries an error code.
    pub error: bool,
    /// Its high watermark.
    pub high_watermark: i64,
    /// Its log start offset.
    pub log_start_offset: i64,
}

#[derive(Clone, Debug)]
struct Cached<R> {
    request: R,
    /// The high watermark last sent (-1 after an error, so the partition is sent again once
    /// the error goes away).
    high_watermark: i64,
    log_start_offset: i64,
}

#[derive(Clone, Debug)]
struct Session<K, R> {
    /// Made by a follower (Kafka: privileged); consumers' sessions are evicted first.
    follower: bool,
    partitions: BTreeMap<K, Cached<R>>,
    /// The order partitions are read in: those named in a response move to the end, so a
    /// response full at `max_bytes` does not starve the later ones.
    order: Vec<K>,
    /// The epoch the next incremental request must carry.
    epoch: i32,
    created_ms: u64,
    last_used_ms: u64,
}

/// The broker's fetch sessions (Kafka's `FetchSessionCache`): at most [`MAX_SESSIONS`], by
/// id; ids are drawn from a seeded generator, positive and unique here.
#[derive(Clone, Debug)]
pub struct FetchSessions<K, R> {
    sessions: BTreeMap<i32, Session<K, R>>,
    max_sessions: usize,
    eviction_ms: u64,
    ids: Rng,
}

impl<K: Ord + Clone, R: Clone> FetchSessions<K, R> {
    /// An empty cache of at most `max_sessions` sessions, evictable after `eviction_ms`
    /// unused; `seed` fixes the ids it hands out.
    pub fn new(max_sessions: usize, eviction_ms: u64, seed: u64) -> Self {
        Self {
            sessions: BTreeMap::new(),
            max_sessions,
            eviction_ms,
            ids: Rng::new(seed),
        }
    }

    /// Sessions held now.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Opens a fetch (Kafka's `FetchManager.newContext`): the kind of fetch, and every
    /// partition it reads with its request, in reading order. A full request reads `updates`
    /// as given (closing the session it names); an incremental one applies `updates` (new or
    /// changed partitions) and `forgotten` to its session, moves the session's epoch on, and
    /// reads all of its partitions. An incremental request that leaves its session empty
    /// closes it and is answered without a session. Errors: [`SessionError`].
    #[allow(clippy::type_complexity)]
    pub fn begin(
        &mut self,
        now_ms: u64,
        session_id: i32,
        epoch: i32,
        updates: Vec<(K, R)>,
        forgotten: &[K],
    ) -> Result<(FetchContext, Vec<(K, R)>), SessionError> {
        if epoch == INITIAL_EPOCH || epoch == FINAL_EPOCH {
            if session_id != INVALID_SESSION_ID {
                self.sessions.remove(&session_id);
            }
            let updates = last_of_each(updates);
            let context = if epoch == FINAL_EPOCH {
                FetchContext::Sessionless
            } else {
                FetchContext::Full
            };
            return Ok((context, updates));
        }
        let session = self
            .sessions
            .get_mut(&session_id)
            .ok_or(SessionError::NotFound)?;
        if session.epoch != epoch {
            return Err(SessionError::InvalidEpoch);
        }
        for (key, request) in updates {
            match session.partitions.get_mut(&key) {
                Some(cached) => cached.request = request,
                None => {
                    session.order.push(key.clone());
                    session.partitions.insert(
                        key,
                        Cached {
                            request,
                            high_watermark: -1,
                            log_start_offset: -1,
                        },
                    );
                }
            }
        }
        let mut dropped = false;
        for key in forgotten {
            dropped |= session.partitions.remove(key).is_some();
        }
        if session.partitions.is_empty() {
            self.sessions.remove(&session_id);
            return Ok((FetchContext::Sessionless, Vec::new()));
        }
        let partitions = &session.partitions;
        if dropped {
            session.order.retain(|k| partitions.contains_key(k));
        }
        session.epoch = next_epoch(epoch);
        session.last_used_ms = now_ms;
        let reads = session
            .order
            .iter()
            .filter_map(|k| partitions.get(k).map(|c| (k.clone(), c.request.clone())))
            .collect();
        Ok((FetchContext::Incremental { session_id, epoch }, reads))
    }

    /// Closes a fetch opened by [`FetchSessions::begin`] with each read partition's answer
    /// (`reads` and `answers` in the same order): the session id the response carries, and
    /// which partitions it names. A full fetch makes a session when there is room (or an
    /// older, less valuable one can be evicted, as Kafka's `tryEvict`); an incremental one
    /// names only partitions with records, an error, or a high watermark or log start that
    /// moved since it last named them. Errors: the session vanished or another request moved
    /// its epoch meanwhile ([`SessionError`]).
    pub fn finish(
        &mut self,
        now_ms: u64,
        context: FetchContext,
        follower: bool,
        reads: &[(K, R)],
        answers: &[PartitionAnswer],
    ) -> Result<(i32, Vec<bool>), SessionError> {
        match context {
            FetchContext::Sessionless => Ok((INVALID_SESSION_ID, alloc::vec![true; reads.len()])),
            FetchContext::Full => {
                let id = self.create(now_ms, follower, reads, answers);
                Ok((id, alloc::vec![true; reads.len()]))
            }
            FetchContext::Incremental { session_id, epoch } => {
                let session = self
                    .sessions
                    .get_mut(&session_id)
                    .ok_or(SessionError::NotFound)?;
                if session.epoch != next_epoch(epoch) {
                    return Err(SessionError::InvalidEpoch);
                }
                let mut named = Vec::with_capacity(reads.len());
                for ((key, _), answer) in reads.iter().zip(answers) {
                    let Some(cached) = session.partitions.get_mut(key) else {
                        named.push(false);
                        continue;
                    };
                    let mut name = answer.has_records || answer.error;
                    if cached.high_watermark != answer.high_watermark {
                        name = true;
                        cached.high_watermark = answer.high_watermark;
                    }
                    if cached.log_start_offset != answer.log_start_offset {
                        name = true;
                        cached.log_start_offset = answer.log_start_offset;
                    }
                    if answer.error {
                        cached.high_watermark = -1;
                    }
                    named.push(name);
                }
                // Partitions that returned records go to the back of the reading order, so one
                // with a backlog cannot keep a response full at `max_bytes` to itself (Kafka's
                // `IncrementalFetchContext.PartitionIterator` moves only those whose
                // `recordsSize` > 0; moving every named one kept a busy partition first).
                let mut served = Vec::new();
                session.order.clear();
                for ((key, _), answer) in reads.iter().zip(answers) {
                    if answer.has_records {
                        served.push(key.clone());
                    } else {
                        session.order.push(key.clone());
                    }
                }
                session.order.extend(served);
                session.last_used_ms = now_ms;
                Ok((session_id, named))
            }
        }
    }

    /// Makes a session of a full fetch's partitions if there is room: the new id, or
    /// [`INVALID_SESSION_ID`].
    fn create(
        &mut self,
        now_ms: u64,
        follower: bool,
        reads: &[(K, R)],
        answers: &[PartitionAnswer],
    ) -> i32 {
        if self.sessions.len() >= self.max_sessions && !self.evict(now_ms, follower, reads.len()) {
            return INVALID_SESSION_ID;
        }
        let mut partitions = BTreeMap::new();
        let mut order = Vec::with_capacity(reads.len());
        for ((key, request), answer) in reads.iter().zip(answers) {
            if partitions.contains_key(key) {
                continue;
            }
            order.push(key.clone());
            let high_watermark = if answer.error {
                -1
            } else {
                answer.high_watermark
            };
            partitions.insert(
                key.clone(),
                Cached {
                    request: request.clone(),
                    high_watermark,
                    log_start_offset: answer.log_start_offset,
                },
            );
        }
        if partitions.is_empty() {
            return INVALID_SESSION_ID;
        }
        let id = loop {
            let id = (self.ids.next_u64() & 0x7fff_ffff) as i32;
            if id != INVALID_SESSION_ID && !self.sessions.contains_key(&id) {
                break id;
            }
        };
        self.sessions.insert(
            id,
            Session {
                follower,
                partitions,
                order,
                epoch: next_epoch(INITIAL_EPOCH),
                created_ms: now_ms,
                last_used_ms: now_ms,
            },
        );
        id
    }

    /// Kafka's `tryEvict`: a session unused for `eviction_ms` goes first; otherwise the least
    /// valuable evictable one (consumers' before followers', then fewer partitions) if the new
    /// session is worth more. A follower may evict a consumer's session at once; otherwise only
    /// sessions older than `eviction_ms` are evictable. True when one was evicted.
    fn evict(&mut self, now_ms: u64, follower: bool, size: usize) -> bool {
        let stale = self
            .sessions
            .iter()
            .min_by_key(|(id, s)| (s.last_used_ms, **id))
            .filter(|(_, s)| now_ms.saturating_sub(s.last_used_ms) > self.eviction_ms)
            .map(|(id, _)| *id);
        if let Some(id) = stale {
            self.sessions.remove(&id);
            return true;
        }
        let old = |s: &Session<K, R>| now_ms.saturating_sub(s.created_ms) > self.eviction_ms;
        let victim = self
            .sessions
            .iter()
            .filter(|(_, s)| old(s) || (follower && !s.follower))
            .min_by_key(|(id, s)| (s.follower, s.partitions.len(), **id))
            .filter(|(_, s)| (follower, size) > (s.follower, s.partitions.len()))
            .map(|(id, _)| *id);
        match victim {
            Some(id) => {
                self.sessions.remove(&id);
                true
            }
            None => false,
        }
    }
}

/// A full request's partitions with each named once: at its first place, with its last
/// request (Kafka parses a Fetch into a map, where a repeated partition's later entry wins).
fn last_of_each<K: Ord + Clone, R>(updates: Vec<(K, R)>) -> Vec<(K, R)> {
    let mut last: BTreeMap<K, usize> = BTreeMap::new();
    for (i, (key, _)) in updates.iter().enumerate() {
        last.insert(key.clone(), i);
    }
    if last.len() == updates.len() {
        return updates;
    }
    let mut first: BTreeMap<K, usize> = BTreeMap::new();
    for (i, (key, _)) in updates.iter().enumerate() {
        first.entry(key.clone()).or_insert(i);
    }
    let mut kept: Vec<(usize, (K, R))> = updates
        .into_iter()
        .enumerate()
        .filter(|(i, (key, _))| last.get(key) == Some(i))
        .map(|(i, entry)| (first.get(&entry.0).copied().unwrap_or(i), entry))
        .collect();
    kept.sort_by_key(|(at, _)| *at);
    kept.into_iter().map(|(_, entry)| entry).collect()
}

/// What a fetcher sends next in its session: the session fields, the partitions to name (all
/// of them in a full request; the new or changed ones in an incremental one), and those to
/// forget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRequest<K, R> {
    /// The request's `session_id`.
    pub session_id: i32,
    /// The request's `session_epoch`.
    pub epoch: i32,
    /// The partitions the request names, with their requests.
    pub partitions: Vec<(K, R)>,
    /// The partitions the session drops (`forgotten_topics_data`).
    pub forgotten: Vec<K>,
}

/// The fetcher's half of a session (Kafka's client `FetchSessionHandler`): what the broker's
/// session holds, so the next request names only what changed.
#[derive(Clone, Debug)]
pub struct FetchSessionHandler<K, R> {
    session_id: i32,
    /// The epoch the next request carries: [`INITIAL_EPOCH`] for a full one.
    epoch: i32,
    /// What the broker's session holds after the last request, once it is answered.
    sent: BTreeMap<K, R>,
}

impl<K: Ord + Clone, R: Clone + PartialEq> Default for FetchSessionHandler<K, R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Clone, R: Clone + PartialEq> FetchSessionHandler<K, R> {
    /// No session yet: the first request is full and asks for one.
    pub fn new() -> Self {
        Self {
            session_id: INVALID_SESSION_ID,
            epoch: INITIAL_EPOCH,
            sent: BTreeMap::new(),
        }
    }

    /// The session this fetcher is in ([`INVALID_SESSION_ID`] when none).
    pub fn session_id(&self) -> i32 {
        self.session_id
    }

    /// The next request for `wanted` (every partition the fetcher reads now, each with its
    /// request): full when there is no session, else only the partitions whose request
    /// differs from what the session holds, and the session's partitions no longer wanted.
    pub fn build(&mut self, wanted: &[(K, R)]) -> SessionRequest<K, R> {
        if self.epoch == INITIAL_EPOCH {
            self.sent = wanted.iter().cloned().collect();
            return SessionRequest {
                session_id: self.session_id,
                epoch: INITIAL_EPOCH,
                partitions: wanted.to_vec(),
                forgotten: Vec::new(),
            };
        }
        // Each round costs a lookup per wanted partition and a clone per changed one: a
        // fetcher follows many partitions, and few move in one round.
        let mut partitions = Vec::new();
        let mut held = 0;
        for (key, request) in wanted {
            match self.sent.get_mut(key) {
                Some(sent) => {
                    held += 1;
                    if sent != request {
                        sent.clone_from(request);
                        partitions.push((key.clone(), request.clone()));
                    }
                }
                None => partitions.push((key.clone(), request.clone())),
            }
        }
        let mut forgotten = Vec::new();
        if held < self.sent.len() {
            let wanted_keys: alloc::collections::BTreeSet<&K> =
                wanted.iter().map(|(k, _)| k).collect();
            forgotten = self
                .sent
                .keys()
                .filter(|k| !wanted_keys.contains(k))
                .cloned()
                .collect();
            for key in &forgotten {
                self.sent.remove(key);
            }
        }
        for (key, request) in &partitions {
            if !self.sent.contains_key(key) {
                self.sent.insert(key.clone(), request.clone());
            }
        }
        SessionRequest {
            session_id: self.session_id,
            epoch: self.epoch,
            partitions,
            forgotten,
        }
    }

    /// The response's top-level `error_code` and `session_id`: a session made or continued,
    /// or (on any error) none, so the next request is full again.
    pub fn handle_response(&mut self, error_code: i16, session_id: i32) {
        if error_code != error_code::NONE {
            // Kafka's client: a full request next, closing the old session if it still lives.
            if error_code == error_code::FETCH_SESSION_ID_NOT_FOUND {
                self.session_id = INVALID_SESSION_ID;
            }
            self.epoch = INITIAL_EPOCH;
        } else if self.epoch == INITIAL_EPOCH {
            self.session_id = session_id;
            self.epoch = if session_id == INVALID_SESSION_ID {
                INITIAL_EPOCH
            } else {
                next_epoch(INITIAL_EPOCH)
            };
        } else {
            self.epoch = next_epoch(self.epoch);
        }
    }

    /// The request went unanswered (connection lost): the next one is full, on a new
    /// connection, and closes the old session while asking for a new one (Kafka's
    /// `handleError`: `nextCloseExisting`), so it does not hold a cache slot until evicted.
    pub fn reset(&mut self) {
        self.epoch = INITIAL_EPOCH;
        self.sent.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    type Key = (&'static str, i32);

    fn answer(records: bool, hw: i64) -> PartitionAnswer {
        PartitionAnswer {
            has_records: records,
            error: false,
            high_watermark: hw,
            log_start_offset: 0,
        }
    }

    /// KIP-227: a full request (epoch 0) makes a session whose next epoch is 1; an
    /// incremental one names only changed partitions, and its response only the partitions
    /// with records or a moved high watermark (Kafka's `CachedPartition.maybeUpdateResponseData`).
    #[test]
    fn an_incremental_fetch_names_only_what_changed() {
        let mut cache: FetchSessions<Key, i64> = FetchSessions::new(10, EVICTION_MS, 7);
        let all = vec![(("t", 0), 5), (("t", 1), 9), (("u", 0), 0)];
        let (context, reads) = cache.begin(0, 0, 0, all.clone(), &[]).unwrap();
        assert_eq!(context, FetchContext::Full);
        assert_eq!(reads, all);
        let answers = [answer(false, 5), answer(false, 9), answer(false, 0)];
        let (id, named) = cache.finish(0, context, true, &reads, &answers).unwrap();
        assert_ne!(id, INVALID_SESSION_ID);
        assert_eq!(named, vec![true, true, true]);

        // Epoch 1: t-0 moved to offset 6; nothing else named.
        let (context, reads) = cache.begin(1, id, 1, vec![(("t", 0), 6)], &[]).unwrap();
        assert_eq!(
            context,
            FetchContext::Incremental {
                session_id: id,
                epoch: 1
            }
        );
        assert_eq!(
            reads,
            all.iter()
                .map(|(k, r)| (*k, if *k == ("t", 0) { 6 } else { *r }))
                .collect::<Vec<_>>()
        );
        // t-1 got records, u-0's high watermark moved; t-0 is as it was.
        let answers = [answer(false, 5), answer(true, 9), answer(false, 3)];
        let (same, named) = cache.finish(1, context, true, &reads, &answers).unwrap();
        assert_eq!(same, id);
        assert_eq!(named, vec![false, true, true]);

        // Named partitions go to the back of the reading order; forgotten ones are dropped.
        let (_, reads) = cache.begin(2, id, 2, vec![], &[("u", 0)]).unwrap();
        assert_eq!(reads, vec![(("t", 0), 6), (("t", 1), 9)]);
    }

    /// A partition with a backlog that fills every response cannot starve another: only
    /// partitions that returned records move to the back of the reading order (Kafka's
    /// `IncrementalFetchContext.PartitionIterator`), not those named for a moved high
    /// watermark. A full request naming a partition twice reads it once, with the later
    /// request (Kafka's request map).
    #[test]
    fn a_busy_partition_does_not_keep_the_front_of_the_session() {
        let mut cache: FetchSessions<Key, i64> = FetchSessions::new(10, EVICTION_MS, 7);
        let (context, reads) = cache
            .begin(
                0,
                0,
                0,
                vec![(("t", 0), 0), (("t", 1), 0), (("t", 0), 3)],
                &[],
            )
            .unwrap();
        assert_eq!(reads, vec![(("t", 0), 3), (("t", 1), 0)]);
        let (id, _) = cache
            .finish(
                0,
                context,
                true,
                &reads,
                &[answer(true, 10), answer(false, 1)],
            )
            .unwrap();
        // A full fetch keeps the request's order; then t-0 returns records each round and
        // t-1 is named only for its moving HW.
        let (context, reads) = cache.begin(1, id, 1, vec![], &[]).unwrap();
        assert_eq!(reads[0].0, ("t", 0));
        let (_, named) = cache
            .finish(
                1,
                context,
                true,
                &reads,
                &[answer(true, 10), answer(false, 2)],
            )
            .unwrap();
        assert_eq!(named, vec![true, true]);
        let (context, reads) = cache.begin(2, id, 2, vec![], &[]).unwrap();
        assert_eq!(reads[0].0, ("t", 1), "t-0 returned records: it goes last");
        let (_, named) = cache
            .finish(
                2,
                context,
                true,
                &reads,
                &[answer(false, 3), answer(true, 10)],
            )
            .unwrap();
        assert_eq!(named, vec![true, true]);
        let (_, reads) = cache.begin(3, id, 3, vec![], &[]).unwrap();
        assert_eq!(
            reads[0].0,
            ("t", 1),
            "named only for its HW: t-1 keeps its place"
        );
    }

    /// Kafka's `FetchManager.newContext`: an unknown session is FETCH_SESSION_ID_NOT_FOUND
    /// (70), a stale epoch (a duplicate request) INVALID_FETCH_SESSION_EPOCH (71); a full
    /// request naming a session closes it; epoch -1 asks for no session.
    #[test]
    fn session_errors_are_kafkas() {
        let mut cache: FetchSessions<Key, i64> = FetchSessions::new(10, EVICTION_MS, 7);
        assert_eq!(
            cache
                .begin(0, 12345, 1, vec![], &[])
                .unwrap_err()
                .kafka_error_code(),
            error_code::FETCH_SESSION_ID_NOT_FOUND
        );
        let (context, reads) = cache.begin(0, 0, 0, vec![(("t", 0), 0)], &[]).unwrap();
        let (id, _) = cache
            .finish(0, context, false, &reads, &[answer(false, 0)])
            .unwrap();
        assert!(cache.begin(1, id, 1, vec![], &[]).is_ok());
        assert_eq!(
            cache
                .begin(1, id, 1, vec![], &[])
                .unwrap_err()
                .kafka_error_code(),
            error_code::INVALID_FETCH_SESSION_EPOCH
        );
        let (context, _) = cache
            .begin(2, id, FINAL_EPOCH, vec![(("t", 0), 0)], &[])
            .unwrap();
        assert_eq!(context, FetchContext::Sessionless);
        assert_eq!(cache.len(), 0, "a full request closes the session it names");
        assert_eq!(next_epoch(i32::MAX), 1);
        assert_eq!(next_epoch(FINAL_EPOCH), INITIAL_EPOCH);
    }

    /// Kafka's `tryEvict`: with the cache full, a follower's new session evicts a consumer's
    /// at once; a consumer's new session evicts nothing younger than the eviction time.
    #[test]
    fn followers_sessions_outrank_consumers_when_the_cache_is_full() {
        let mut cache: FetchSessions<Key, i64> = FetchSessions::new(1, 1_000, 7);
        let open = |cache: &mut FetchSessions<Key, i64>, now, follower| {
            let (context, reads) = cache.begin(now, 0, 0, vec![(("t", 0), 0)], &[]).unwrap();
            cache
                .finish(now, context, follower, &reads, &[answer(false, 0)])
                .unwrap()
                .0
        };
        let consumer = open(&mut cache, 0, false);
        assert_ne!(consumer, INVALID_SESSION_ID);
        assert_eq!(open(&mut cache, 10, false), INVALID_SESSION_ID, "no room");
        let follower = open(&mut cache, 20, true);
        assert_ne!(follower, INVALID_SESSION_ID, "a follower evicts a consumer");
        assert_eq!(open(&mut cache, 30, false), INVALID_SESSION_ID);
        // Unused past the eviction time, any session may go.
        assert_ne!(open(&mut cache, 2_000, false), INVALID_SESSION_ID);
    }

    /// The fetcher's half: full first, then only changes and forgotten partitions; any error
    /// makes the next request full again.
    #[test]
    fn the_fetcher_sends_only_what_the_session_lacks() {
        let mut handler: FetchSessionHandler<Key, i64> = FetchSessionHandler::new();
        let wanted = vec![(("t", 0), 5), (("t", 1), 9)];
        let first = handler.build(&wanted);
        assert_eq!(
            (first.session_id, first.epoch, first.partitions.len()),
            (0, 0, 2)
        );
        handler.handle_response(0, 77);
        let next = handler.build(&[(("t", 0), 6), (("t", 1), 9)]);
        assert_eq!(next.session_id, 77);
        assert_eq!(next.epoch, 1);
        assert_eq!(next.partitions, vec![(("t", 0), 6)]);
        handler.handle_response(0, 77);
        let next = handler.build(&[(("t", 0), 6)]);
        assert_eq!((next.epoch, next.partitions.len()), (2, 0));
        assert_eq!(next.forgotten, vec![("t", 1)]);
        handler.handle_response(error_code::INVALID_FETCH_SESSION_EPOCH, 0);
        let full = handler.build(&[(("t", 0), 6)]);
        assert_eq!(
            (full.session_id, full.epoch, full.partitions.len()),
            (77, 0, 1)
        );
        handler.handle_response(error_code::FETCH_SESSION_ID_NOT_FOUND, 0);
        assert_eq!(handler.build(&[(("t", 0), 6)]).session_id, 0);
        // A lost connection: the next request is full and closes the old session.
        handler.handle_response(0, 88);
        handler.reset();
        let full = handler.build(&[(("t", 0), 6)]);
        assert_eq!(
            (full.session_id, full.epoch, full.partitions.len()),
            (88, 0, 1)
        );
    }

    /// The broker and the fetcher agree: driven together over rounds with random changes,
    /// the broker reads exactly what the fetcher wants, with the fetcher's latest requests.
    #[test]
    fn broker_and_fetcher_stay_in_step() {
        let mut rng = Rng::new(3);
        let mut cache: FetchSessions<(u8, i32), i64> = FetchSessions::new(4, EVICTION_MS, 1);
        let mut handler: FetchSessionHandler<(u8, i32), i64> = FetchSessionHandler::new();
        let mut wanted: BTreeMap<(u8, i32), i64> = (0..6).map(|p| ((0, p), 0)).collect();
        for round in 0..500u64 {
            match rng.below(5) {
                0 => {
                    wanted.insert((1, rng.below(4) as i32), rng.below(50) as i64);
                }
                1 => {
                    let key = (rng.below(2) as u8, rng.below(6) as i32);
                    if wanted.len() > 1 {
                        wanted.remove(&key);
                    }
                }
                _ => {
                    let key = (0, rng.below(6) as i32);
                    *wanted.entry(key).or_insert(0) += 1;
                }
            }
            let want: Vec<_> = wanted.iter().map(|(k, r)| (*k, *r)).collect();
            let request = handler.build(&want);
            let (context, reads) = cache
                .begin(
                    round,
                    request.session_id,
                    request.epoch,
                    request.partitions,
                    &request.forgotten,
                )
                .unwrap();
            let mut read: Vec<_> = reads.clone();
            read.sort();
            assert_eq!(read, want, "round {round}");
            let answers: Vec<_> = reads
                .iter()
                .map(|_| answer(rng.below(3) == 0, round as i64))
                .collect();
            let (id, _) = cache
                .finish(round, context, true, &reads, &answers)
                .unwrap();
            handler.handle_response(0, id);
        }
    }
}
