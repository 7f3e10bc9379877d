//! Scratch run of the simulator.
use runnel_core::replica::Acks;
use runnel_core::sim::{Fault, Party, ProducerConfig, Sim, SimConfig};

#[test]
fn smoke() {
    let mut sim = Sim::new(SimConfig {
        producer: ProducerConfig {
            acks: Acks::Leader,
            stop_ms: 3_000,
            ..ProducerConfig::default()
        },
        ..SimConfig::default()
    });
    sim.schedule(1_500, Fault::Cut(Party::Broker(0), Party::Broker(1)));
    sim.schedule(1_500, Fault::Cut(Party::Broker(0), Party::Broker(2)));
    sim.schedule(2_000, Fault::Crash(0));
    sim.schedule(6_000, Fault::HealAll);
    sim.schedule(6_000, Fault::Restart(0));
    sim.run_until(20_000);
    let r = sim.report();
    println!("{r:?} converged={}", sim.converged());
    for b in 0..3 {
        let x = sim.replica(b, 0).unwrap();
        println!(
            "b{b} leo={} hw={} leader={:?} epoch={}",
            x.log_end_offset(),
            x.high_watermark(),
            x.leader(),
            x.leader_epoch()
        );
    }
    println!("{:?}", sim.controller().partition(0));
}
