//! Transactions in the simulator (`core::sim`, KIP-98): a transactional producer over a
//! replicated cluster, through a producer crash and the transaction coordinator's broker
//! crashing. The seeded sweep (`tests/sweep.rs`) runs the same producer under random faults
//! in half its durable cases.

use runnel_core::replica::{Acks, ReplicaConfig};
use runnel_core::sim::{Fault, ProducerConfig, Sim, SimConfig, TopicConfig, TxnProducerConfig};

/// Kafka's promises for transactions (KIP-98; the consumer's `isolation.level` doc): a
/// transaction's records are all committed or all aborted; a `read_committed` consumer reads
/// the committed ones and nothing else; a producer killed mid-transaction is fenced by the
/// next instance with its `transactional.id`, which aborts what it left open; and a new
/// coordinator (the next leader of `__transaction_state`) finishes what the dead one
/// prepared, so no partition stays blocked behind an open transaction.
#[test]
fn transactions_end_whole_through_a_producer_crash_and_a_coordinator_crash() {
    let config = SimConfig {
        seed: 11,
        partitions: 3,
        replica: ReplicaConfig {
            min_insync_replicas: 2,
            ..ReplicaConfig::default()
        },
        producer: ProducerConfig {
            acks: Acks::All,
            idempotent: true,
            stop_ms: 12_000,
            transactions: Some(TxnProducerConfig {
                records_per_txn: 3,
                abort_one_in: 3,
                timeout_ms: 3_000,
            }),
            ..ProducerConfig::default()
        },
        topic: TopicConfig {
            unclean_leader_election_enable: Some(false),
            ..TopicConfig::default()
        },
        ..SimConfig::default()
    };
    let mut sim = Sim::new(config);
    sim.run_until(3_000);
    let state = sim
        .transaction_state_partition()
        .expect("__transaction_state");
    let coordinator = (0..3)
        .find(|b| sim.replica(*b, state).is_some_and(|r| r.is_leader()))
        .expect("a transaction coordinator");
    let before = sim.transaction_counts();
    assert!(before.0 > 0, "transactions committed before the faults");
    sim.schedule(3_100, Fault::Crash(coordinator));
    sim.schedule(5_000, Fault::ProducerCrash);
    sim.schedule(7_000, Fault::Restart(coordinator));
    sim.run_until(30_000);

    let report = sim.report();
    let (committed, aborted, instances) = sim.transaction_counts();
    assert!(report.violations.is_empty(), "{report:?}");
    assert_eq!(report.lost, 0, "{report:?}");
    assert!(
        sim.transactions_settled(),
        "no open transaction left and every committed record read: {report:?}"
    );
    assert!(
        committed > before.0 + 3 && aborted > 0,
        "committed {committed}, aborted {aborted}: the producer went on after the crashes"
    );
    assert!(instances >= 2, "the crashed producer was replaced");
    let leader_now = (0..3).find(|b| sim.replica(*b, state).is_some_and(|r| r.is_leader()));
    assert!(leader_now.is_some(), "a coordinator again");
    // The checker read (read_committed) exactly the records of committed transactions.
    assert_eq!(
        report.consumed,
        committed * 3,
        "read_committed read each committed record once and nothing else: {report:?}"
    );
}
