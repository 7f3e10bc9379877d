//! The scenario library, each run once, with the exact counts it produces. The runs are
//! deterministic (one seed, virtual time), so these numbers only change when the protocol
//! does; each assertion says which part of the story it pins down.
//!
//! Counts: `sent` records offered, `acked` acknowledged, `refused` NOT_ENOUGH_REPLICAS,
//! `failed` other errors after retries (mostly the 3 s before the controller notices a dead
//! broker), `lost` acknowledged but missing from the final committed log.

use runnel_core::scenario::{Scenario, by_name, library};
use runnel_core::sim::{Report, Sim, TraceKind, Violation};

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
    assert_eq!(all.len(), 18);
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
    // when it died; 300 failed in the 3 s before the controller noticed.
    expect("acks1-failover", (700, 400, 0, 300, 46));
}

#[test]
fn acks_all_with_unclean_election_loses_writes() {
    // Broker 2 was cut off at 2 s; when brokers 0 and 1 are gone it becomes leader uncleanly
    // and everything from 2 s on that only 0 and 1 had is lost.
    expect("acks-all-unclean", (1300, 700, 0, 600, 502));
}

#[test]
fn acks_all_with_min_insync_2_refuses_instead_of_losing() {
    let sim = expect("acks-all-min-insync-2", (1300, 395, 154, 751, 0));
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
    // acks=all: the stranded writes are never acknowledged; nothing is lost.
    expect(
        "np4-leader-cut-from-quorum-acks-all",
        (1100, 1076, 0, 24, 0),
    );
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
    let sim = expect("np7-controller-cut-from-broker", (1100, 599, 201, 300, 0));
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
    let sim = expect("rejoin-truncate", (1100, 800, 0, 300, 16));
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
    assert_eq!(counts(&report), (200, 115, 0, 85, 20));
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
    expect("kip101-leader-epoch", (200, 115, 0, 85, 0));
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
