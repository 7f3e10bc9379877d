//! The scenario library, each run once, with the exact counts it produces. The runs are
//! deterministic (one seed, virtual time), so these numbers only change when the protocol
//! does; each assertion says which part of the story it pins down.
//!
//! Counts: `sent` records offered, `acked` acknowledged, `refused` NOT_ENOUGH_REPLICAS,
//! `failed` other errors after retries (mostly the 3 s before the controller notices a dead
//! broker), `lost` acknowledged but missing from the final committed log.

use runnel_core::scenario::{Scenario, by_name, library};
use runnel_core::sim::{GroupView, Report, Sim, TraceKind, Violation};

/// (sent, acked, refused, failed, lost)
type Counts = (u64, u64, u64, u64, u64);

fn run(name: &str) -> (Scenario, Report, Sim) {
    let scenario = by_name(name).unwrap_or_else(|| panic!("no scenario {name}"));
    let mut sim = scenario.sim().with_trace();
    sim.run_until(scenario.run_until_ms);
    let report = sim.report();
    (scenario, report, sim)
}

fn counts(r: &Report) -> Counts {
    (r.sent, r.acknowledged, r.refused, r.failed, r.lost)
}

/// Runs `name`, checks its counts, that the cluster converged, and that no invariant broke.
fn expect(name: &str, expected: Counts) -> Sim {
    let (_, report, sim) = run(name);
    assert_eq!(
        counts(&report),
        expected,
        "{name}: (sent, acked, refused, failed, lost)"
    );
    assert!(
        report.violations.is_empty(),
        "{name}: {:?}",
        report.violations
    );
    assert!(
        sim.converged(),
        "{name}: replicas converge once the faults heal"
    );
    sim
}

#[test]
fn every_scenario_is_listed_once_with_a_lesson() {
    let all = library();
    assert_eq!(all.len(), 26);
    let mut names: Vec<&str> = all.iter().map(|s| s.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len());
    assert!(
        all.iter()
            .all(|s| !s.lesson.is_empty() && !s.title.is_empty())
    );
}

#[test]
fn acks_1_failover_loses_acknowledged_writes() {
    // 46 records were acknowledged by broker 0 but not yet fetched by the slow followers
    // when it died. The records sent while the partition had no leader waited and were
    // acknowledged by the new one: Kafka's producer keeps a record for a partition without a
    // known leader, unsent, until `delivery.timeout.ms` (KIP-91). (The simulator used to fail
    // them at once: 300 failed.)
    expect("acks1-failover", (700, 700, 0, 0, 46));
}

#[test]
fn acks_all_with_unclean_election_loses_writes() {
    // Broker 2 was cut off at 2 s; when brokers 0 and 1 are gone it becomes leader uncleanly
    // and everything from 2 s on that only 0 and 1 had is lost: also the records that waited
    // for broker 1's election and were acknowledged by it (KIP-91: they wait, they do not
    // fail; 600 failed before).
    expect("acks-all-unclean", (1300, 1300, 0, 0, 802));
}

#[test]
fn acks_all_with_min_insync_2_refuses_instead_of_losing() {
    // Writes sent while the partition had no leader wait for one (KIP-91); those sent to the
    // lone ISR replica are refused; 41 ran out of retries against a leader that had died.
    let sim = expect("acks-all-min-insync-2", (1300, 805, 454, 41, 0));
    let refusals = sim
        .trace()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Refused { error: 19, .. }))
        .count();
    assert!(
        refusals > 0,
        "NOT_ENOUGH_REPLICAS (19) answered while the ISR was broker 1 alone"
    );
}

#[test]
fn network_partitions_that_only_touch_followers_lose_nothing() {
    expect("np1-follower-cut-from-leader", (900, 900, 0, 0, 0));
    expect("np2-leader-cut-from-followers", (900, 900, 0, 0, 0));
    expect("np3-follower-cut-from-quorum", (900, 900, 0, 0, 0));
    expect("np5-follower-isolated", (900, 900, 0, 0, 0));
}

#[test]
fn isr_shrinks_when_a_follower_is_cut_and_grows_back_after_the_heal() {
    let (_, _, sim) = run("np1-follower-cut-from-leader");
    let isrs: Vec<Vec<u32>> = sim
        .trace()
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Partition { isr, .. } => Some(isr.clone()),
            _ => None,
        })
        .collect();
    assert!(
        isrs.contains(&vec![0, 1]),
        "broker 2 left the ISR: {isrs:?}"
    );
    assert_eq!(isrs.last(), Some(&vec![0, 1, 2]), "and came back");
}

#[test]
fn a_leader_cut_from_the_quorum_splits_the_brain_briefly_losing_only_acks_1() {
    // acks=1: broker 0 keeps acknowledging after broker 1 was elected; 45 are lost.
    expect("np4-leader-cut-from-quorum", (1100, 1100, 0, 0, 45));
    // acks=all: the stranded writes are never acknowledged by the old leader; they time out
    // and are acknowledged by the new one. Nothing is lost.
    expect("np4-leader-cut-from-quorum-acks-all", (1100, 1100, 0, 0, 0));
}

#[test]
fn an_isolated_leader_loses_acks_1_writes() {
    expect("np6-leader-isolated", (1100, 1100, 0, 0, 304));
}

#[test]
fn an_isolated_leader_with_a_shrunk_isr_loses_even_acks_all_unless_min_insync_is_2() {
    expect("np6-shrunk-isr-min-insync-1", (900, 900, 0, 0, 802));
    expect("np6-shrunk-isr-min-insync-2", (900, 98, 802, 0, 0));
}

#[test]
fn a_fenced_broker_is_not_elected() {
    let sim = expect("np7-controller-cut-from-broker", (1100, 599, 501, 0, 0));
    let state = sim.controller().partition(0).expect("partition 0");
    assert_eq!(
        (state.leader, state.leader_epoch),
        (Some(2), 1),
        "broker 2, not the fenced broker 1"
    );
}

#[test]
fn a_controller_failover_changes_nothing() {
    let sim = expect("np8-controller-failover", (900, 900, 0, 0, 0));
    assert_eq!(
        sim.controller().partition(0).map(|p| p.leader_epoch),
        Some(0)
    );
}

#[test]
fn a_controlled_shutdown_moves_leadership_first_and_fails_nothing_where_a_crash_fails_writes() {
    // Kafka's controlled shutdown (KIP-631 wantShutDown; runnel's node fences itself through
    // the quorum): the leader is replaced while it is still up, so the producer retries at the
    // new leader at once and nothing is lost or fails. Every record acknowledged.
    let sim = expect("controlled-shutdown", (700, 700, 0, 0, 0));
    let trace = sim.trace();
    let moved = trace
        .iter()
        .find(|e| {
            matches!(
                &e.kind,
                TraceKind::Partition {
                    leader: Some(1 | 2),
                    ..
                }
            )
        })
        .map(|e| e.time_ms)
        .expect("leadership moves");
    let stopped = trace
        .iter()
        .find_map(|e| match e.kind {
            TraceKind::Stopped { broker: 0, fenced } => Some((e.time_ms, fenced)),
            _ => None,
        })
        .expect("broker 0 stops");
    assert!(
        (3_000..3_050).contains(&moved) && moved <= stopped.0,
        "leadership moved at {moved} ms, before the stop at {} ms",
        stopped.0
    );
    assert!(
        stopped.1,
        "it stopped because it was fenced, not at the bound"
    );

    assert!(
        longest_wait_ms(&sim, &scenario_config("controlled-shutdown")) < 200,
        "a clean stop: writes barely pause"
    );

    // The same broker killed instead: the partition waits for its session to expire, and
    // writes stall until then (with Kafka's delivery.timeout.ms they wait, not fail).
    let scenario = runnel_core::scenario::by_name("controlled-shutdown").expect("listed");
    let mut crashed = Sim::new(scenario.config).with_trace();
    crashed.schedule(3_000, runnel_core::sim::Fault::Crash(0));
    crashed.schedule(6_000, runnel_core::sim::Fault::Restart(0));
    crashed.run_until(scenario.run_until_ms);
    let report = crashed.report();
    assert_eq!(
        (report.sent, report.acknowledged, report.failed, report.lost),
        (700, 700, 0, 0),
        "a crash of the leader: writes wait for the controller to notice, none is lost"
    );
    let stalled = longest_wait_ms(&crashed, &scenario.config);
    assert!(
        stalled >= 2_500,
        "a crash stalls writes for its session: {stalled} ms"
    );
}

fn scenario_config(name: &str) -> runnel_core::sim::SimConfig {
    by_name(name).expect("listed").config
}

/// The longest a record waited from being handed to the producer (record `id` at
/// `start_ms + id × interval_ms`) to its acknowledgement.
fn longest_wait_ms(sim: &Sim, config: &runnel_core::sim::SimConfig) -> u64 {
    sim.trace()
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::Acked { id, .. } => Some(
                e.time_ms
                    .saturating_sub(config.producer.start_ms + id * config.producer.interval_ms),
            ),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn preferred_leader_election_spreads_leaders_again() {
    let scenario = by_name("preferred-leader-rebalance").expect("scenario");
    let mut sim = scenario.sim();
    let leaders = |sim: &Sim| -> Vec<Option<u32>> {
        sim.controller()
            .partitions()
            .map(|(_, p)| p.leader)
            .collect()
    };
    assert_eq!(leaders(&sim), [Some(0), Some(1), Some(2)]);
    sim.run_until(23_000);
    assert_eq!(
        leaders(&sim),
        [Some(1), Some(1), Some(1)],
        "all piled on broker 1"
    );
    sim.run_until(scenario.run_until_ms);
    assert_eq!(leaders(&sim), [Some(0), Some(1), Some(2)], "spread again");
    assert!(sim.converged());
}

#[test]
fn a_returning_leader_truncates_to_the_epoch_boundary_and_catches_up_under_writes() {
    let sim = expect("rejoin-truncate", (1100, 1100, 0, 0, 16));
    let truncation = sim
        .trace()
        .iter()
        .find(|e| matches!(e.kind, TraceKind::Truncated { broker: 0, .. }))
        .expect("broker 0 truncated");
    let rejoined = sim
        .trace()
        .iter()
        .find(|e| {
            e.time_ms > truncation.time_ms
                && matches!(&e.kind, TraceKind::Partition { isr, .. } if isr.len() == 3)
        })
        .expect("broker 0 rejoined the ISR");
    let acked_meanwhile = sim
        .trace()
        .iter()
        .filter(|e| e.time_ms >= truncation.time_ms && e.time_ms <= rejoined.time_ms)
        .any(|e| matches!(e.kind, TraceKind::Acked { .. }));
    assert!(
        acked_meanwhile,
        "the new leader kept accepting writes while broker 0 caught up"
    );
}

#[test]
fn kip_101_truncating_to_the_high_watermark_loses_committed_records_and_diverges() {
    let (_, report, sim) = run("kip101-truncate-to-hw");
    assert_eq!(counts(&report), (200, 200, 0, 0, 20));
    assert!(report.violations.contains(&Violation::ReplicasDiverge {
        partition: 0,
        broker: 0
    }));
    assert!(
        !sim.converged(),
        "the replicas hold different records at the same offsets"
    );
}

#[test]
fn kip_101_leader_epochs_lose_nothing() {
    expect("kip101-leader-epoch", (200, 200, 0, 0, 0));
}

#[test]
fn a_run_replays_exactly_from_its_seed() {
    let (_, first, sim_a) = run("np6-leader-isolated");
    let (_, second, sim_b) = run("np6-leader-isolated");
    assert_eq!(first, second);
    assert_eq!(sim_a.trace(), sim_b.trace());
    let bytes = sim_a.trace_postcard();
    let decoded: Vec<runnel_core::sim::TraceEvent> =
        postcard::from_bytes(&bytes).expect("postcard trace");
    assert_eq!(decoded, sim_a.trace());
}

#[test]
fn a_consumer_group_shares_partitions_and_rebalances_through_failures() {
    use runnel_core::sim::{Fault, SimConfig};
    let mut sim = Sim::new(SimConfig {
        partitions: 3,
        group_members: 3,
        ..SimConfig::default()
    });
    // A member dies silently; later the coordinator's broker dies and comes back.
    sim.schedule(8_000, Fault::MemberCrash(2));
    sim.schedule(25_000, Fault::Crash(0));
    sim.schedule(27_000, Fault::Restart(0));
    let owned = |sim: &Sim| -> (Vec<u32>, Vec<u32>, Vec<i32>) {
        let a = sim.group_assignment();
        let mut partitions: Vec<u32> = a.iter().flat_map(|(_, _, p)| p.clone()).collect();
        partitions.sort_unstable();
        let members = a.iter().map(|(m, _, _)| *m).collect();
        let generations = a.iter().map(|(_, g, _)| *g).collect();
        (members, partitions, generations)
    };
    sim.run_until(6_000);
    let (members, partitions, generations) = owned(&sim);
    assert_eq!(
        (members, partitions),
        (vec![0, 1, 2], vec![0, 1, 2]),
        "one partition each"
    );
    assert!(generations.windows(2).all(|w| w[0] == w[1]));
    sim.run_until(20_000);
    let (members, partitions, _) = owned(&sim);
    assert_eq!(
        (members, partitions),
        (vec![0, 1], vec![0, 1, 2]),
        "member 2's session expired; the others took its partition"
    );
    sim.run_until(45_000);
    let (members, partitions, generations) = owned(&sim);
    assert_eq!(
        (members, partitions),
        (vec![0, 1], vec![0, 1, 2]),
        "regrouped after the coordinator restarted"
    );
    assert!(generations.windows(2).all(|w| w[0] == w[1]));
    let report = sim.report();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// (offset, key, record id, tombstone) of every record of `partition` on its leader, below
/// the HW.
fn leader_records(sim: &Sim, partition: u32) -> Vec<(i64, String, u64, bool)> {
    use runnel_core::batch::{NoCodec, batches};
    let leader = sim
        .controller()
        .partition(partition)
        .and_then(|s| s.leader)
        .expect("a leader");
    let replica = sim
        .replica(leader, partition)
        .expect("the leader's replica");
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    for batch in batches(&replica.read_all(replica.high_watermark())) {
        let batch = batch.expect("a valid batch");
        for record in batch.records(&NoCodec, &mut scratch).expect("records") {
            let record = record.expect("a record");
            out.push((
                record.offset,
                String::from_utf8_lossy(record.key.unwrap_or_default()).into_owned(),
                runnel_core::sim::record_id(&record).expect("an id"),
                record.value.is_none(),
            ));
        }
    }
    out
}

#[test]
fn keys_stay_on_their_murmur2_partition_in_the_order_sent() {
    use runnel_core::partitioner::murmur2_partition;
    let (_, report, sim) = run("partitions-ordering");
    assert_eq!(
        (report.sent, report.acknowledged, report.lost),
        (102, 102, 0)
    );
    let mut seen = 0;
    for p in 0..3 {
        let records = leader_records(&sim, p);
        assert_eq!(
            records.iter().map(|r| r.0).collect::<Vec<_>>(),
            (0..records.len() as i64).collect::<Vec<_>>(),
            "offsets 0, 1, 2... without gaps"
        );
        for key in ["k0", "k1", "k2", "k3", "alice", "bob"] {
            let ids: Vec<u64> = records.iter().filter(|r| r.1 == key).map(|r| r.2).collect();
            if murmur2_partition(key.as_bytes(), 3) == p {
                assert!(!ids.is_empty(), "{key} is on partition {p}");
                assert!(ids.windows(2).all(|w| w[0] < w[1]), "{key} in send order");
            } else {
                assert!(ids.is_empty(), "{key} only on its own partition");
            }
        }
        seen += records.len();
    }
    assert_eq!(seen, 102, "every record on exactly one partition");
}

#[test]
fn a_group_rebalances_on_join_crash_and_leave_and_rereads_after_a_crash() {
    let (_, report, sim) = run("consumer-group-rebalance");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let group = sim.group_view();
    assert_eq!(group.state, "Stable");
    let active: Vec<_> = group.members.iter().filter(|m| m.active).collect();
    assert_eq!(active.len(), 1, "only member 2 is left");
    assert_eq!(active[0].index, 2);
    assert_eq!(active[0].positions.len(), 6, "and owns all six partitions");
    assert_group_read_everything(
        &group,
        &report,
        (1166, 16),
        "what member 0 read after its last commit was read again",
    );
}

/// Issue 17: the cooperative-sticky assignor (KIP-429) as the playground shows it. The same
/// script as `consumer-group-rebalance`: when member 2 joins, the owners keep reading and
/// give up only what moves, one rebalance before member 2 gets it; the eager range lesson
/// stops every partition.
#[test]
fn a_cooperative_group_keeps_reading_what_does_not_move() {
    let (_, eager_report, eager) = run("consumer-group-rebalance");
    let (_, report, sim) = run("consumer-group-cooperative");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    // Member `m`'s assignments before 10 s, in order: (generation, owned, revoked).
    let of = |m: u32| -> Vec<(i32, Vec<u32>, Vec<u32>)> {
        sim.trace()
            .iter()
            .filter(|e| e.time_ms < 10_000)
            .filter_map(|e| match &e.kind {
                TraceKind::Assigned {
                    member,
                    generation,
                    partitions,
                    revoked,
                } if *member == m => Some((*generation, partitions.clone(), revoked.clone())),
                _ => None,
            })
            .collect()
    };
    // The first generation: Kafka's sticky assignor with nothing owned deals round-robin.
    assert_eq!(of(0)[0].1, vec![0, 2, 4]);
    assert_eq!(of(1)[0].1, vec![1, 3, 5]);
    // Member 2 joins: each owner keeps two and gives one up; member 2 gets nothing yet.
    assert_eq!(of(0)[1].1, vec![0, 2]);
    assert_eq!(of(0)[1].2, vec![4]);
    assert_eq!(of(1)[1].1, vec![1, 3]);
    assert_eq!(of(1)[1].2, vec![5]);
    let first_for_2 = &of(2)[0];
    assert_eq!(
        first_for_2.1,
        Vec::<u32>::new(),
        "nothing until it was given up"
    );
    // The owners rejoin at once; the next generation hands both to member 2.
    let second_for_2 = &of(2)[1];
    assert_eq!(second_for_2.0, first_for_2.0 + 1);
    assert_eq!(second_for_2.1, vec![4, 5]);
    assert_eq!(of(0).last().map(|a| a.1.clone()), Some(vec![0, 2]));
    assert_eq!(of(1).last().map(|a| a.1.clone()), Some(vec![1, 3]));
    // The group ends as the eager one does, having read everything.
    let group = sim.group_view();
    assert_eq!(group.state, "Stable");
    let active: Vec<_> = group.members.iter().filter(|m| m.active).collect();
    assert_eq!(active.len(), 1, "only member 2 is left");
    assert_eq!(active[0].positions.len(), 6, "and owns all six partitions");
    assert_eq!(group.reads - group.rereads, report.acknowledged);
    let eager_group = eager.group_view();
    assert_eq!(
        eager_group.reads - eager_group.rereads,
        eager_report.acknowledged
    );
}

/// Issue 17: during the join at 4 s the eager group stops reading every partition; the
/// cooperative one never reads fewer than the four that stay. (The two that move wait for the
/// second rebalance, until member 2's next heartbeat: longer than this eager rebalance, in
/// which both old members heard of it at the same heartbeat. KIP-429 trades a second round
/// for never stopping the rest.)
#[test]
fn an_eager_rebalance_stops_every_partition_a_cooperative_one_only_those_that_move() {
    let fewest_read = |name: &str| {
        let scenario = by_name(name).expect(name);
        let mut sim = scenario.sim();
        sim.run_until(3_900);
        let mut fewest = u32::MAX;
        for t in (3_900..7_000).step_by(10) {
            sim.run_until(t);
            let group = sim.group_view();
            fewest = fewest.min(group.being_read);
            // And no partition is ever read by two members at once.
            let mut read: Vec<u32> = group
                .members
                .iter()
                .filter(|m| m.reading)
                .flat_map(|m| m.positions.iter().filter(|p| p.1.is_some()).map(|p| p.0))
                .collect();
            let count = read.len();
            read.sort_unstable();
            read.dedup();
            assert_eq!(read.len(), count, "{name} at {t} ms: {:?}", group.members);
        }
        fewest
    };
    assert_eq!(fewest_read("consumer-group-rebalance"), 0);
    assert_eq!(fewest_read("consumer-group-cooperative"), 4);
}

/// The group read every acknowledged record, `reads` = (reads, rereads) exactly (`why` says
/// where the rereads come from), and committed every partition up to its end.
fn assert_group_read_everything(group: &GroupView, report: &Report, reads: (u64, u64), why: &str) {
    assert_eq!(
        group.reads - group.rereads,
        report.acknowledged,
        "every record was read"
    );
    assert_eq!((group.reads, group.rereads), reads, "{why}");
    assert!(
        group
            .committed
            .iter()
            .all(|(_, at, lag)| at.is_some() && *lag == 0),
        "committed up to the end: {:?}",
        group.committed
    );
}

#[test]
fn a_reset_is_refused_while_members_run_and_rewinds_an_empty_group() {
    let (_, report, sim) = run("offsets-rewind");
    let resets: Vec<(u64, bool)> = sim
        .trace()
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::OffsetsReset { applied } => Some((e.time_ms, applied)),
            _ => None,
        })
        .collect();
    // The refused reset is traced when refused; the applied one once its acks=all write to
    // `__consumer_offsets` is on the ISR (the followers' next fetches, 15 ms later), as Kafka
    // answers a commit when its append completes.
    assert_eq!(resets, vec![(5_000, false), (9_015, true)]);
    let group = sim.group_view();
    assert_eq!(report.acknowledged, 250);
    assert_eq!(
        (group.reads, group.rereads),
        (500, 250),
        "after the rewind every record was read a second time, none a third"
    );
}

#[test]
fn retention_deletes_old_segments_without_renumbering_or_losing_anything() {
    let (_, report, sim) = run("retention");
    assert_eq!((report.acknowledged, report.lost), (1300, 0));
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    for b in 0..3 {
        let replica = sim.replica(b, 0).expect("replica");
        assert!(
            replica.log_start_offset() > 800 && replica.log_start_offset() < 1100,
            "broker {b} deleted all but the last 4-5 s: log start {}",
            replica.log_start_offset()
        );
    }
    let records = leader_records(&sim, 0);
    let start = records[0].0;
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.0, start + i as i64, "no gaps after the log start");
        assert_eq!(r.2, r.0 as u64, "record ids keep their offsets");
    }
    assert_eq!(records.last().map(|r| r.0), Some(1299));
}

#[test]
fn compaction_keeps_the_latest_record_per_key_and_then_drops_the_tombstone() {
    let (_, report, sim) = run("compaction");
    assert_eq!((report.acknowledged, report.lost), (152, 0));
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let records = leader_records(&sim, 0);
    let shown: Vec<String> = records
        .iter()
        .map(|(o, k, _, t)| format!("{o}:{k}{}", if *t { "✝" } else { "" }))
        .collect();
    // k0's record at 151 is in the active segment, which the cleaner never touches.
    assert_eq!(shown, ["145:k0", "147:k2", "148:k3", "149:k4", "151:k0"]);
    let tombstone_gone = sim.trace().iter().any(|e| {
        e.time_ms == 10_000
            && matches!(
                e.kind,
                TraceKind::Cleaned {
                    broker: 0,
                    records_removed: 1,
                    ..
                }
            )
    });
    assert!(
        tombstone_gone,
        "the tombstone went after delete.retention.ms"
    );
    // Before the horizon the tombstone was there, k1's older records were not.
    let mut before = by_name("compaction").expect("scenario").sim();
    before.run_until(8_000);
    let k1: Vec<(i64, bool)> = leader_records(&before, 0)
        .iter()
        .filter(|r| r.1 == "k1")
        .map(|r| (r.0, r.3))
        .collect();
    assert_eq!(k1, [(150, true)], "only k1's tombstone at 8 s");
}

#[test]
fn a_paused_group_coordinator_hands_the_group_to_the_next_leader_of_the_offsets_partition() {
    // Kafka: the coordinator of a group is the leader of its __consumer_offsets partition;
    // a new leader loads the commits from its replica (GroupMetadataManager
    // .loadGroupsAndOffsets) and members that find it again resume from their last commits
    // (at-least-once: what was read after the last commit is read again).
    let (_, report, sim) = run("coordinator-paused");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert!(sim.converged() && sim.group_converged());
    let offsets: Vec<(u64, Option<u32>)> = sim
        .trace()
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::Partition {
                partition: 3,
                leader,
                ..
            } => Some((e.time_ms, leader)),
            _ => None,
        })
        .collect();
    assert_eq!(
        offsets,
        vec![(8_600, Some(1)), (12_006, Some(1))],
        "broker 1 leads __consumer_offsets once broker 0's session expired, and keeps it"
    );
    assert_eq!(counts(&report), (750, 750, 0, 0, 0));
    let group = sim.group_view();
    assert_eq!(group.state, "Stable");
    // The new coordinator took the later commits: every partition is committed to its end.
    assert_group_read_everything(
        &group,
        &report,
        (918, 168),
        "what the members read while no commit could be written (6 s to 9.5 s) is read again",
    );
}
