use runnel_core::scenario::by_name;
use runnel_core::sim::TraceKind;
#[test]
fn debug() {
    let name = std::env::var("SCN").unwrap_or("acks1-failover".into());
    let s = by_name(&name).unwrap();
    let mut sim = s.sim().with_trace();
    sim.run_until(s.run_until_ms);
    for e in sim.trace() {
        match &e.kind {
            TraceKind::Acked { .. } => {}
            k => println!("{:6} {:?}", e.time_ms, k),
        }
    }
    let acks: Vec<_> = sim
        .trace()
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::Acked { id, offset, .. } => Some((e.time_ms, id, offset)),
            _ => None,
        })
        .collect();
    println!("first acks {:?}", &acks[..3.min(acks.len())]);
    println!(
        "around crash {:?}",
        acks.iter()
            .filter(|(t, _, _)| *t > 3900 && *t < 7500)
            .take(8)
            .collect::<Vec<_>>()
    );
}
#[test]
fn debug_state() {
    let name = std::env::var("SCN").unwrap_or("acks1-failover".into());
    let s = by_name(&name).unwrap();
    let (r, sim) = s.run();
    println!("{r:?}");
    for b in 0..3 {
        if let Some(x) = sim.replica(b, 0) {
            println!(
                "b{b} leo={} hw={} leader={:?} epoch={} is_leader={}",
                x.log_end_offset(),
                x.high_watermark(),
                x.leader(),
                x.leader_epoch(),
                x.is_leader()
            );
        }
    }
}
