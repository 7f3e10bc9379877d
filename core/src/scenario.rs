//! The scenario library: each failover case of the articles as a named, replayable simulation.
//!
//! A [`Scenario`] is a [`SimConfig`] plus a fault schedule and a run length. Its `lesson` says
//! what the article predicts; `core/tests/scenarios.rs` asserts the exact counts each one
//! produces, and the playground runs the same definitions step by step.
//!
//! Conventions shared by all: three brokers (0, 1, 2), one partition with replicas [0, 1, 2]
//! (broker 0 leads first), a producer sending one record every 10 ms from t = 1 s to the
//! scenario's `produce_until_ms`, fsync on every write (so losses come from replication, not
//! disks), `replica.lag.time.max.ms` = 1 s and a broker session timeout of 3 s, so each story
//! plays out in seconds.

use alloc::vec::Vec;

use crate::controller::ControllerConfig;
use crate::group::Assignor;
use crate::replica::{Acks, ReplicaConfig, TruncationMode};
use crate::sim::{Fault, Party, ProducerConfig, Report, Sim, SimConfig, TopicConfig};

/// A named failover story.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Short identifier (URL-safe).
    pub name: &'static str,
    /// What happens, in one line.
    pub title: &'static str,
    /// What the article predicts and why.
    pub lesson: &'static str,
    /// The cluster.
    pub config: SimConfig,
    /// Faults at their times.
    pub faults: Vec<(u64, Fault)>,
    /// How long to run.
    pub run_until_ms: u64,
}

impl Scenario {
    /// A simulator with the faults scheduled, at time 0.
    pub fn sim(&self) -> Sim {
        let mut sim = Sim::new(self.config);
        for (at, fault) in &self.faults {
            sim.schedule(*at, fault.clone());
        }
        sim
    }

    /// Runs to the end; returns the report and the simulator for inspection.
    pub fn run(&self) -> (Report, Sim) {
        let mut sim = self.sim();
        sim.run_until(self.run_until_ms);
        (sim.report(), sim)
    }
}

const B0: Party = Party::Broker(0);
const B1: Party = Party::Broker(1);
const B2: Party = Party::Broker(2);
const Q: Party = Party::Quorum;

fn base(acks: Acks, min_insync_replicas: usize, unclean: bool, produce_until_ms: u64) -> SimConfig {
    SimConfig {
        replica: ReplicaConfig {
            lag_time_max_ms: 1_000,
            min_insync_replicas,
            ..ReplicaConfig::default()
        },
        controller: ControllerConfig {
            unclean_leader_election: unclean,
            ..ControllerConfig::default()
        },
        producer: ProducerConfig {
            acks,
            retries: 5,
            stop_ms: produce_until_ms,
            ..ProducerConfig::default()
        },
        ..SimConfig::default()
    }
}

fn cut_all(a: Party, others: &[Party], at: u64) -> Vec<(u64, Fault)> {
    others.iter().map(|o| (at, Fault::Cut(a, *o))).collect()
}

/// The first lessons: a healthy cluster, several partitions, keys and a consumer group.
fn basics() -> Vec<Scenario> {
    let mut all = Vec::new();

    let mut ordering = base(Acks::All, 1, false, 6_000);
    ordering.partitions = 3;
    ordering.producer.keys = 4;
    ordering.producer.interval_ms = 50;
    all.push(Scenario {
        name: "partitions-ordering",
        title: "Partitions and ordering: keys pick partitions, order holds within one",
        lesson: "The producer sends records with keys k0..k3; Kafka's default partitioner puts \
                 each key on partition murmur2(key) mod 3, so every record of a key lands on \
                 one partition in the order sent, with offsets 0, 1, 2... there. Across \
                 partitions there is no order: each is its own log. At 4 s and 5 s the \
                 producer sends keys alice and bob once each; type your own key below.",
        config: ordering,
        faults: alloc::vec![
            (
                4_000,
                Fault::Produce {
                    key: "alice".into(),
                    tombstone: false
                }
            ),
            (
                5_000,
                Fault::Produce {
                    key: "bob".into(),
                    tombstone: false
                }
            ),
        ],
        run_until_ms: 8_000,
    });

    // A third member joins, the first crashes, the second leaves: the same script for the
    // eager and the cooperative lesson.
    let group_story = || {
        alloc::vec![
            (4_000, Fault::MemberJoin(2)),
            (10_000, Fault::MemberCrash(0)),
            (20_000, Fault::MemberLeave(1)),
        ]
    };
    let mut group = base(Acks::All, 1, false, 24_000);
    group.partitions = 6;
    group.group_members = 2;
    group.producer.interval_ms = 20;
    all.push(Scenario {
        name: "consumer-group-rebalance",
        title: "Consumer groups: members share partitions and rebalance when one comes or goes",
        lesson: "Two members of group sim own three of the six partitions each. A third joins \
                 at 4 s: everyone rejoins and the range assignor gives two each (a new \
                 generation). Member 0 dies silently at 10 s: nothing moves until its 6 s \
                 session expires, then its partitions go to the others, who start at its last \
                 commit, so what it read after that commit is read again (at-least-once). \
                 Member 1 leaves cleanly at 20 s: the rebalance starts at once.",
        config: group,
        faults: group_story(),
        run_until_ms: 26_000,
    });

    let mut cooperative = group;
    cooperative.assignor = Assignor::CooperativeSticky;
    all.push(Scenario {
        name: "consumer-group-cooperative",
        title: "Cooperative rebalancing: members keep reading while the group rebalances",
        lesson: "The same group and script as the lesson before, with \
                 partition.assignment.strategy=cooperative-sticky (KIP-429). When member 2 \
                 joins at 4 s, members 0 and 1 go on reading while the group rebalances: the \
                 leader lets each keep two of its three partitions and leaves the third out, \
                 so that no partition ever has two owners. Each gives that one up, commits it \
                 and rejoins at once; the second rebalance, when member 2 hears of it at its \
                 next heartbeat, hands both to member 2. Only the two partitions that move \
                 stop, for about half a second, while the range assignor's eager rebalance \
                 stops all six (briefly here: both old members heard of it at the same \
                 heartbeat). When a member crashes or leaves, only its own partitions move.",
        config: cooperative,
        faults: group_story(),
        run_until_ms: 26_000,
    });

    let mut rewind = base(Acks::All, 1, false, 6_000);
    rewind.partitions = 3;
    rewind.group_members = 2;
    rewind.producer.interval_ms = 20;
    all.push(Scenario {
        name: "offsets-rewind",
        title: "Offsets and rewind: committed offsets let a group resume or read again",
        lesson: "Two members read the three partitions and commit their positions every \
                 second. A reset at 5 s is refused: Kafka only resets the offsets of a group \
                 without members. Both leave at 8 s (committing first); the reset to earliest \
                 at 9 s succeeds, and when they rejoin at 10 s they start from offset 0 and \
                 read every record a second time. Without the reset they would have resumed \
                 at their commits and read nothing twice.",
        config: rewind,
        faults: alloc::vec![
            (5_000, Fault::ResetOffsets { earliest: true }),
            (8_000, Fault::MemberLeave(0)),
            (8_000, Fault::MemberLeave(1)),
            (9_000, Fault::ResetOffsets { earliest: true }),
            (10_000, Fault::MemberJoin(0)),
            (10_000, Fault::MemberJoin(1)),
        ],
        run_until_ms: 16_000,
    });

    let mut coordinator = base(Acks::All, 1, false, 16_000);
    coordinator.partitions = 3;
    coordinator.group_members = 2;
    coordinator.producer.interval_ms = 20;
    all.push(Scenario {
        name: "coordinator-paused",
        title: "Group coordinator failover: the leader of __consumer_offsets stops and resumes",
        lesson: "The group's coordinator is the broker that leads __consumer_offsets, here \
                 broker 0; commits are records in that partition, written with acks=all and \
                 shown by OffsetFetch only once the ISR has them. Broker 0's process is paused \
                 at 6 s (a long GC, SIGSTOP). Its session expires at about 9 s and broker 1 \
                 leads __consumer_offsets: it loads the commits from its replica and becomes \
                 the coordinator. The members, told NOT_COORDINATOR or unknown member, rejoin \
                 there and resume from their last commits. At 12 s broker 0 runs again and \
                 still believes it coordinates: the commits that waited on its socket are \
                 taken, but their writes can no longer reach the ISR, so they are never shown, \
                 and it steps down as soon as it reads the new metadata.",
        config: coordinator,
        faults: alloc::vec![(6_000, Fault::Pause(0)), (12_000, Fault::Resume(0))],
        run_until_ms: 20_000,
    });
    all
}

/// The last lessons: what happens to old data.
fn cleanup() -> Vec<Scenario> {
    let mut all = Vec::new();

    let mut retention = base(Acks::All, 1, false, 14_000);
    retention.topic = TopicConfig {
        retention_ms: Some(4_000),
        segment_ms: 1_000,
        ..TopicConfig::default()
    };
    all.push(Scenario {
        name: "retention",
        title: "Retention: old segments are deleted, offsets never change",
        lesson: "retention.ms is 4 s and segment.ms 1 s: the log rolls a new segment every \
                 second, and the cleaner deletes each closed segment once its newest record is \
                 4 s old. The log start offset climbs while every remaining record keeps its \
                 offset; a consumer whose position was deleted starts again at the log start. \
                 Nothing acknowledged is lost: deleted by retention is not lost.",
        config: retention,
        faults: alloc::vec![],
        run_until_ms: 16_000,
    });

    let mut compaction = base(Acks::All, 1, false, 4_000);
    compaction.producer.keys = 5;
    compaction.producer.interval_ms = 20;
    compaction.topic = TopicConfig {
        delete: false,
        compact: true,
        segment_ms: 1_000,
        delete_retention_ms: COMPACTION_DELETE_RETENTION_MS,
        ..TopicConfig::default()
    };
    let record = |key: &str, tombstone| Fault::Produce {
        key: key.into(),
        tombstone,
    };
    all.push(Scenario {
        name: "compaction",
        title: "Log compaction: the latest value per key survives, tombstones delete keys",
        lesson: "cleanup.policy=compact, five keys k0..k4, a new segment every second. Once \
                 half of the closed segments is dirty the cleaner keeps only the latest record \
                 of each key; offsets never change, so the log gets gaps, and the active \
                 segment is never cleaned. At 5 s the producer sends a tombstone (null value) \
                 for k1; a record for k0 at 6.5 s rolls the segment that holds it, and at 7 s \
                 an operator runs the cleaner: k1's older records go, the tombstone stays for \
                 delete.retention.ms (3 s) so consumers can see the delete; the cleaner's \
                 first pass after that (10 s) removes the tombstone too: k1 is gone.",
        config: compaction,
        faults: alloc::vec![
            (5_000, record("k1", true)),
            (6_500, record("k0", false)),
            (7_000, Fault::Compact),
        ],
        run_until_ms: 12_000,
    });
    all
}

/// The compaction lesson's `delete.retention.ms`: how long a tombstone outlives the records
/// it deleted, so consumers see the delete (3 s, short enough to watch; Kafka's default is one
/// day). The playground's keys panel compacts with the same value.
pub const COMPACTION_DELETE_RETENTION_MS: u64 = 3_000;

/// Every scenario, in teaching order.
pub fn library() -> Vec<Scenario> {
    let mut all = basics();

    all.push(Scenario {
        name: "acks1-failover",
        title: "acks=1: the leader dies with records its followers never fetched",
        lesson: "With acks=1 the leader acknowledges as soon as it has appended. Slow followers \
                 are still in the ISR but behind; when the leader dies, the new leader lacks the \
                 tail the old one acknowledged, and those records are lost.",
        config: base(Acks::Leader, 1, false, 8_000),
        faults: alloc::vec![
            (2_000, Fault::Slow(1, 300)),
            (2_000, Fault::Slow(2, 300)),
            (4_000, Fault::Crash(0)),
            (12_000, Fault::HealAll),
            (12_000, Fault::Restart(0)),
        ],
        run_until_ms: 25_000,
    });

    let unclean_story = || {
        alloc::vec![
            // Broker 2 cannot fetch any more: it falls behind and leaves the ISR (it still
            // reaches the controller, so it stays a live, electable broker).
            (2_000, Fault::Cut(B2, B0)),
            (2_000, Fault::Cut(B2, B1)),
            // The leader dies: broker 1, in the ISR, takes over cleanly.
            (5_000, Fault::Crash(0)),
            // Broker 1 dies too: only broker 2, out of the ISR, is left.
            (10_000, Fault::Crash(1)),
            (16_000, Fault::HealAll),
            (16_000, Fault::Restart(0)),
            (16_000, Fault::Restart(1)),
        ]
    };
    all.push(Scenario {
        name: "acks-all-unclean",
        title: "acks=all with unclean election: an out-of-sync follower becomes leader",
        lesson: "acks=all waits for the ISR, but the ISR can shrink to one replica. When that \
                 replica dies too and unclean.leader.election.enable=true, a follower outside the \
                 ISR takes over and every record it never fetched is lost.",
        config: base(Acks::All, 1, true, 14_000),
        faults: unclean_story(),
        run_until_ms: 30_000,
    });
    all.push(Scenario {
        name: "acks-all-min-insync-2",
        title: "acks=all, min.insync.replicas=2: writes are refused instead of lost",
        lesson: "The same failures with min.insync.replicas=2 and unclean election off: once the \
                 ISR is down to one replica the leader refuses writes with NOT_ENOUGH_REPLICAS, \
                 and when it dies the partition waits offline. Nothing acknowledged is lost.",
        config: base(Acks::All, 2, false, 14_000),
        faults: unclean_story(),
        run_until_ms: 30_000,
    });

    all.push(Scenario {
        name: "np1-follower-cut-from-leader",
        title: "Network partition 1: a follower cannot reach the leader",
        lesson: "The follower stops fetching, leaves the ISR after replica.lag.time.max.ms, and \
                 rejoins once the partition heals and it has caught up. Reduced redundancy, no \
                 loss, no split brain.",
        config: base(Acks::All, 2, false, 10_000),
        faults: alloc::vec![(3_000, Fault::Cut(B2, B0)), (7_000, Fault::Heal(B2, B0))],
        run_until_ms: 15_000,
    });
    all.push(Scenario {
        name: "np2-leader-cut-from-followers",
        title: "Network partition 2: the leader cannot reach its followers",
        lesson: "Both followers leave the ISR, which shrinks to the leader alone: with \
                 min.insync.replicas=1 acks=all writes continue without redundancy. No split \
                 brain, no loss; the followers catch up after the heal.",
        config: base(Acks::All, 1, false, 10_000),
        faults: cut_all(B0, &[B1, B2], 3_000)
            .into_iter()
            .chain([(7_000, Fault::HealAll)])
            .collect(),
        run_until_ms: 15_000,
    });
    all.push(Scenario {
        name: "np3-follower-cut-from-quorum",
        title: "Network partition 3: a follower cannot reach the controller quorum",
        lesson: "Its session expires and the controller fences it and removes it from the ISR \
                 (KRaft; under ZooKeeper it stayed in the ISR). It keeps fetching but cannot \
                 rejoin until it reaches the quorum again. No loss.",
        config: base(Acks::All, 2, false, 10_000),
        faults: alloc::vec![(3_000, Fault::Cut(B2, Q)), (7_000, Fault::Heal(B2, Q))],
        run_until_ms: 15_000,
    });
    for (name, acks, title, lesson) in [
        (
            "np4-leader-cut-from-quorum",
            Acks::Leader,
            "Network partition 4: the leader cannot reach the quorum (acks=1)",
            "The controller fences the old leader and elects broker 1, but the old leader does \
             not know. acks=1 waits for the leader's own write only (Kafka checks the ISR \
             against min.insync.replicas for acks=all alone), so neither its followers leaving \
             nor its failed ISR shrink stops it: it acknowledges every write the producer sends \
             it until the producer's next metadata refresh (metadata.max.age.ms, 5 s here) \
             names broker 1. When it rejoins it truncates: those writes are lost.",
        ),
        (
            "np4-leader-cut-from-quorum-acks-all",
            Acks::All,
            "Network partition 4 with acks=all",
            "The same split brain with acks=all: the followers moved to the new leader, so the \
             old one never gets its writes replicated and never acknowledges them. Nothing \
             acknowledged is lost; the stranded writes time out and are retried.",
        ),
    ] {
        all.push(Scenario {
            name,
            title,
            lesson,
            config: base(acks, 1, false, 12_000),
            faults: alloc::vec![(3_000, Fault::Cut(B0, Q)), (10_000, Fault::Heal(B0, Q))],
            run_until_ms: 20_000,
        });
    }
    all.push(Scenario {
        name: "np5-follower-isolated",
        title: "Network partition 5: a follower is cut from everything",
        lesson: "It leaves the ISR and catches up after the heal. No loss.",
        config: base(Acks::All, 2, false, 10_000),
        faults: cut_all(B2, &[B0, B1, Q], 3_000)
            .into_iter()
            .chain([(7_000, Fault::HealAll)])
            .collect(),
        run_until_ms: 15_000,
    });
    all.push(Scenario {
        name: "np6-leader-isolated",
        title: "Network partition 6: the leader is cut from everything but the producer (acks=1)",
        lesson: "A new leader is elected; the old one still acknowledges acks=1 writes (split \
                 brain): acks=1 needs no follower, and its failed ISR shrink does not stop \
                 them. They stop when the producer's metadata refresh names the new leader, and \
                 are lost when the old leader rejoins and truncates.",
        config: base(Acks::Leader, 1, false, 12_000),
        faults: cut_all(B0, &[B1, B2, Q], 3_000)
            .into_iter()
            .chain([(10_000, Fault::HealAll)])
            .collect(),
        run_until_ms: 20_000,
    });
    for (name, min_insync, title, lesson) in [
        (
            "np6-shrunk-isr-min-insync-1",
            1,
            "Network partition 6, variant: the ISR had already shrunk to the leader",
            "Slow followers left the ISR, then the leader is isolated and (unclean election on) \
             a follower takes over. The old leader's ISR is itself alone, so with \
             min.insync.replicas=1 it still acknowledges acks=all writes — all lost.",
        ),
        (
            "np6-shrunk-isr-min-insync-2",
            2,
            "The same variant with min.insync.replicas=2",
            "With min.insync.replicas=2 the lonely leader refuses acks=all writes with \
             NOT_ENOUGH_REPLICAS: nothing acknowledged is lost.",
        ),
    ] {
        // First the followers lose the leader (the ISR shrinks to it), then the leader loses
        // the quorum too: fully isolated but for the producer.
        let mut faults = cut_all(B0, &[B1, B2], 2_000);
        faults.push((5_000, Fault::Cut(B0, Q)));
        faults.push((12_000, Fault::HealAll));
        all.push(Scenario {
            name,
            title,
            lesson,
            config: base(Acks::All, min_insync, true, 10_000),
            faults,
            run_until_ms: 22_000,
        });
    }
    all.push(Scenario {
        name: "np7-controller-cut-from-broker",
        title: "Network partition 7: the controller cannot reach a broker",
        lesson: "Broker 1 is fenced: it leaves the ISR and is no longer a candidate. When the \
                 leader then dies, broker 2 takes over although broker 1 comes first in the \
                 assignment. No loss.",
        config: base(Acks::All, 2, false, 12_000),
        faults: alloc::vec![
            (3_000, Fault::Cut(B1, Q)),
            (7_000, Fault::Crash(0)),
            (14_000, Fault::HealAll),
            (14_000, Fault::Restart(0)),
        ],
        run_until_ms: 22_000,
    });
    all.push(Scenario {
        name: "np8-controller-failover",
        title: "Network partition 8: the active controller loses the quorum",
        lesson: "Another controller takes over within the session timeout and gives every broker \
                 a fresh session: brokers keep leading and following, nothing changes, nothing is \
                 lost.",
        config: base(Acks::All, 2, false, 10_000),
        faults: alloc::vec![(3_000, Fault::ControllerFailover(2_000))],
        run_until_ms: 15_000,
    });

    all.push(Scenario {
        name: "controlled-shutdown",
        title: "A clean stop: leadership moves before the broker goes",
        lesson: "At 3 s broker 0, the leader, is stopped cleanly (SIGTERM with \
                 controlled.shutdown.enable). It first asks the controller to fence it: an ISR \
                 replica takes over within milliseconds while broker 0 is still up, the producer \
                 retries there at once, and only then does broker 0 sync its log and stop. \
                 Every record is acknowledged, none is lost. Killed instead (kill -9), the same \
                 broker would lead a dead partition until its session expired (3 s here), and \
                 the producer's writes would stall until then. A clean stop does not make acks=1 safe: the new leader \
                 still lacks what the old one acknowledged alone.",
        config: base(Acks::All, 2, false, 8_000),
        faults: alloc::vec![(3_000, Fault::Shutdown(0)), (6_000, Fault::Restart(0))],
        run_until_ms: 20_000,
    });

    let mut rebalance = base(Acks::All, 1, false, 1_000);
    rebalance.partitions = 3;
    all.push(Scenario {
        name: "preferred-leader-rebalance",
        title: "Leaders pile up on one broker after failures; preferred election spreads them",
        lesson: "Broker 2 fails, then broker 0: every partition ends up led by broker 1, and \
                 stays there when both come back. Preferred-replica election moves each \
                 partition back to its first replica.",
        config: rebalance,
        faults: alloc::vec![
            (2_000, Fault::Crash(2)),
            (8_000, Fault::Crash(0)),
            (14_000, Fault::Restart(2)),
            (16_000, Fault::Restart(0)),
            (24_000, Fault::PreferredElection),
        ],
        run_until_ms: 30_000,
    });

    all.push(Scenario {
        name: "rejoin-truncate",
        title: "A returning leader truncates to the new leader's epoch and catches up",
        lesson: "The old leader comes back with records nobody else has (acks=1). It asks the \
                 new leader where its last epoch ended, truncates there, and fetches while the \
                 new leader keeps accepting writes.",
        config: base(Acks::Leader, 1, false, 12_000),
        faults: alloc::vec![
            (2_000, Fault::Slow(1, 200)),
            (2_000, Fault::Slow(2, 200)),
            (4_000, Fault::Crash(0)),
            (4_000, Fault::HealAll),
            (8_000, Fault::Restart(0)),
            // A slow link back, so catching up takes a few fetches while writes go on.
            (8_000, Fault::Slow(0, 300)),
        ],
        run_until_ms: 20_000,
    });

    for (name, truncation, title, lesson) in [
        (
            "kip101-truncate-to-hw",
            TruncationMode::HighWatermark,
            "KIP-101, before: a restarted follower truncates to its high watermark",
            "A follower's HW trails the leader's by one fetch. It restarts and truncates to its \
             HW, dropping records the leader already committed; then the leader dies and the \
             follower leads without them: committed, acknowledged records are lost.",
        ),
        (
            "kip101-leader-epoch",
            TruncationMode::LeaderEpoch,
            "KIP-101, after: truncation by leader epoch",
            "The same story with leader epochs: the restarted follower asks the leader where its \
             epoch ends before truncating anything; the leader dies first, so it keeps every \
             record and leads with all of them. Nothing is lost.",
        ),
    ] {
        let mut config = base(Acks::All, 1, false, 3_000);
        config.replication_factor = 2;
        config.replica.truncation = truncation;
        // The ZooKeeper-era controller this story comes from kept a quickly restarted broker.
        config.controller.fence_on_restart = false;
        all.push(Scenario {
            name,
            title,
            lesson,
            config,
            faults: alloc::vec![
                (1_000, Fault::Slow(1, 100)),
                (2_000, Fault::Crash(1)),
                (2_001, Fault::Restart(1)),
                (2_002, Fault::Crash(0)),
                (12_000, Fault::HealAll),
                (12_000, Fault::Restart(0)),
            ],
            run_until_ms: 20_000,
        });
    }
    all.extend(cleanup());
    all
}

/// A scenario by name.
pub fn by_name(name: &str) -> Option<Scenario> {
    library().into_iter().find(|s| s.name == name)
}
