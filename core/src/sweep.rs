//! A randomized fault sweep in the style of TigerBeetle's VOPR.
//!
//! The seed picks everything: cluster shape (partitions, latency, jitter, loss, flush policy)
//! and a fault mix (crashes and restarts, process pauses, cut links including to the quorum and the producer,
//! slow brokers, controller failovers, group members dying or leaving and coming back)
//! scheduled over a **safety phase** of 20 s while the
//! producer writes. Then a **liveness phase**: every fault heals, every broker restarts, the
//! producer stops, and after 20 s more the cluster must have converged — every partition led,
//! every replica byte-identical to its leader, the HW at the log end, and the two group
//! members stable in one generation owning every partition once.
//!
//! In a *durable* case (acks=all, idempotent, the topic's min.insync.replicas=2 and unclean
//! election off — over broker defaults of 1 and on — fsync on every write) no acknowledged record may be lost and no invariant may break.
//! Half the cases with several partitions have a second topic with settings of its own
//! ([`SecondTopic`]). A *fast* case
//! (acks=1, min.insync.replicas=1, flush on an interval) is allowed to lose records: sweeping
//! fast cases must report losses, which shows the checker can see them.

use alloc::vec::Vec;

use crate::controller::ControllerConfig;
use crate::group::Assignor;
use crate::replica::{Acks, BrokerId, ReplicaConfig};
use crate::rng::Rng;
use crate::sim::{
    Fault, FlushPolicy, Party, ProducerConfig, Report, SecondTopic, Sim, SimConfig, TopicConfig,
    TxnProducerConfig,
};

/// Virtual time when the faults stop and the producer stops.
pub const SAFETY_PHASE_MS: u64 = 20_000;
/// Virtual time the run ends: the liveness phase is the rest.
pub const RUN_MS: u64 = 40_000;
const BROKERS: u32 = 3;

/// The outcome of one seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseResult {
    /// The seed.
    pub seed: u64,
    /// Whether the case promised durability.
    pub durable: bool,
    /// Counts and violations.
    pub report: Report,
    /// Whether the cluster converged in the liveness phase.
    pub converged: bool,
    /// How many faults the seed scheduled.
    pub faults: usize,
    /// With a transactional producer: transactions it was told committed and aborted, and
    /// how many producer instances ran ([`Sim::transaction_counts`]).
    pub transactions: Option<(u64, u64, u32)>,
}

impl CaseResult {
    /// Whether the case kept every promise it made.
    pub fn passed(&self) -> bool {
        self.converged
            && self.report.violations.is_empty()
            && (!self.durable
                || self.report.lost + self.report.at_risk + self.report.unavailable == 0)
    }
}

/// The configuration and fault schedule the seed picks.
pub fn case(seed: u64, durable: bool) -> (SimConfig, Vec<(u64, Fault)>) {
    let mut rng = Rng::new(seed ^ 0x5745_4550);
    let partitions = 1 + rng.below(3) as u32;
    let lag_time_max_ms = 500 + rng.below(2_000);
    // Fast cases may elect unclean leaders. Durable ones run with the brokers' default
    // switched on and the topic's own setting off: the topic's must win (Kafka's rule), or an
    // unclean election would lose acknowledged records.
    let unclean = !durable && rng.below(2) == 0;
    let config = SimConfig {
        seed,
        brokers: BROKERS,
        partitions,
        replication_factor: 3,
        replica: ReplicaConfig {
            lag_time_max_ms,
            // The brokers' default; a durable case's topic asks for 2 itself (Kafka: the
            // topic's config wins), so the topic-level setting is what is checked.
            min_insync_replicas: 1,
            ..ReplicaConfig::default()
        },
        controller: ControllerConfig {
            unclean_leader_election: durable,
            auto_leader_rebalance: rng.below(4) == 0,
            ..ControllerConfig::default()
        },
        producer: ProducerConfig {
            acks: if durable { Acks::All } else { Acks::Leader },
            interval_ms: 5 + rng.below(20),
            retries: rng.below(4) as u32,
            stop_ms: SAFETY_PHASE_MS,
            // Durable: idempotent retries must be written once (invariant 6).
            idempotent: durable,
            transactions: transactions(seed, durable),
            ..ProducerConfig::default()
        },
        topic: TopicConfig {
            min_insync_replicas: Some(if durable { 2 } else { 1 }),
            unclean_leader_election_enable: Some(unclean),
            ..TopicConfig::default()
        },
        flush: if durable {
            FlushPolicy::EveryWrite
        } else {
            FlushPolicy::IntervalMs(100 + rng.below(1_000))
        },
        latency_ms: 1 + rng.below(5),
        jitter_ms: rng.below(6),
        loss_per_million: if rng.below(3) == 0 {
            rng.below(20_000) as u32
        } else {
            0
        },
        check_interval_ms: 500,
        group_members: 2,
        // Half the seeds rebalance cooperatively (KIP-429), from a stream of their own.
        assignor: if Rng::new(seed ^ 0x4b49_5034_3239).below(2) == 0 {
            Assignor::Range
        } else {
            Assignor::CooperativeSticky
        },
        second_topic: second_topic(seed, partitions, durable, unclean),
        ..SimConfig::default()
    };
    let parties = |rng: &mut Rng| -> Party {
        match rng.below(BROKERS as u64 + 2) {
            0 => Party::Quorum,
            1 => Party::Producer,
            n => Party::Broker((n - 2) as BrokerId),
        }
    };
    let mut faults = Vec::new();
    for _ in 0..2 + rng.below(8) {
        let at = 1_000 + rng.below(SAFETY_PHASE_MS - 3_000);
        let lasts = 500 + rng.below(5_000);
        let until = (at + lasts).min(SAFETY_PHASE_MS);
        let broker = rng.below(BROKERS as u64) as BrokerId;
        match rng.below(6) {
            5 => {
                let member = rng.below(2) as u32;
                let fault = if rng.below(2) == 0 {
                    Fault::MemberCrash(member)
                } else {
                    Fault::MemberLeave(member)
                };
                faults.push((at, fault));
                faults.push((until, Fault::MemberJoin(member)));
            }
            0 => match rng.below(3) {
                0 => {
                    // A process pause (SIGSTOP, GC): it comes back with its old state.
                    faults.push((at, Fault::Pause(broker)));
                    faults.push((until, Fault::Resume(broker)));
                }
                1 => {
                    faults.push((at, Fault::Crash(broker)));
                    faults.push((until, Fault::Restart(broker)));
                }
                _ => {
                    // A clean stop (SIGTERM): leaderships move first, every log is synced.
                    faults.push((at, Fault::Shutdown(broker)));
                    faults.push((until, Fault::Restart(broker)));
                }
            },
            1 | 2 => {
                let a = Party::Broker(broker);
                let mut b = parties(&mut rng);
                if b == a {
                    b = Party::Quorum;
                }
                faults.push((at, Fault::Cut(a, b)));
                faults.push((until, Fault::Heal(a, b)));
            }
            3 => {
                if rng.below(2) == 0 {
                    faults.push((at, Fault::Slow(broker, rng.below(800))));
                    faults.push((until, Fault::Slow(broker, 0)));
                } else {
                    let a = Party::Broker(broker);
                    let b = Party::Broker((broker + 1) % BROKERS);
                    faults.push((at, Fault::Delay(a, b, rng.below(800))));
                    faults.push((until, Fault::Delay(a, b, 0)));
                }
            }
            _ => faults.push((at, Fault::ControllerFailover(500 + rng.below(2_000)))),
        }
    }
    faults.extend(producer_crashes(
        seed,
        config.producer.transactions.is_some(),
    ));
    faults.push((SAFETY_PHASE_MS, Fault::HealAll));
    // Every member starts afresh too; the ids they had expire within the liveness phase.
    for m in 0..2 {
        faults.push((SAFETY_PHASE_MS, Fault::MemberJoin(m)));
    }
    for b in 0..BROKERS {
        faults.push((SAFETY_PHASE_MS, Fault::Resume(b)));
        faults.push((SAFETY_PHASE_MS, Fault::Restart(b)));
    }
    (config, faults)
}

/// Half the cases with two or more partitions split them into two topics, each with its own
/// settings, from a stream of choices of its own (so the rest of a seed's case stays what it
/// was). A durable case's second topic asks for `min.insync.replicas=3` (acks=all is refused
/// while any replica is out) with unclean election off over the brokers' default of on; a fast
/// case's flips the first topic's unclean setting. The simulator checks each topic's own
/// settings at every acknowledgement and election.
fn second_topic(seed: u64, partitions: u32, durable: bool, unclean: bool) -> Option<SecondTopic> {
    let mut rng = Rng::new(seed ^ 0x544f_5049_4332);
    if partitions < 2 || rng.below(2) == 0 {
        return None;
    }
    Some(SecondTopic {
        first_partition: 1 + rng.below(u64::from(partitions) - 1) as u32,
        topic: TopicConfig {
            min_insync_replicas: Some(if durable { 3 } else { 2 }),
            unclean_leader_election_enable: Some(if durable { false } else { !unclean }),
            ..TopicConfig::default()
        },
    })
}

/// Half the durable cases have a transactional producer (KIP-98): transactions of 1–4
/// records over the data partitions, a third of them aborted, `transaction.timeout.ms` of
/// 2–6 s; from a stream of choices of its own (so the rest of a seed's case stays what it
/// was).
fn transactions(seed: u64, durable: bool) -> Option<TxnProducerConfig> {
    let mut rng = Rng::new(seed ^ 0x5458_4e53);
    (durable && rng.below(2) == 0).then(|| TxnProducerConfig {
        records_per_txn: 1 + rng.below(4) as u32,
        abort_one_in: 3,
        timeout_ms: 2_000 + rng.below(4_000),
    })
}

/// A transactional producer's process is killed once or twice in the safety phase
/// ([`Fault::ProducerCrash`]), and a new one takes its `transactional.id`.
fn producer_crashes(seed: u64, transactional: bool) -> Vec<(u64, Fault)> {
    let mut rng = Rng::new(seed ^ 0x4352_4153);
    if !transactional {
        return Vec::new();
    }
    (0..1 + rng.below(2))
        .map(|_| {
            (
                1_000 + rng.below(SAFETY_PHASE_MS - 2_000),
                Fault::ProducerCrash,
            )
        })
        .collect()
}

/// Runs one seed through both phases.
pub fn run_case(seed: u64, durable: bool) -> CaseResult {
    let (config, faults) = case(seed, durable);
    let count = faults.len() - 3 - 2 * BROKERS as usize;
    let mut sim = Sim::new(config);
    for (at, fault) in faults {
        sim.schedule(at, fault);
    }
    sim.run_until(RUN_MS);
    let report = sim.report();
    let transactions = config
        .producer
        .transactions
        .map(|_| sim.transaction_counts());
    CaseResult {
        transactions,
        seed,
        durable,
        converged: sim.converged() && sim.group_converged() && sim.transactions_settled(),
        report,
        faults: count,
    }
}
