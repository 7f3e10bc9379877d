//! The playground's state and reducer, free of the browser so it is tested natively.
//!
//! The state is a scenario from `runnel_core::scenario`, the faults the user added (kill or
//! restart a broker at a virtual time), and the simulator advanced to the current time. Every
//! change is an [`Action`] applied by [`Model::apply`]. Rewinding replays the same seed and
//! faults from the start to the chosen time (the simulator is deterministic), so the earlier
//! state is exactly what was shown before; forking also forgets the user's later faults.

use runnel_core::replica::BrokerId;
use runnel_core::scenario::{Scenario, library};
use runnel_core::sim::{Fault, Report, Sim};

/// Something the user (or the animation clock) does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Start advancing with the clock.
    Play,
    /// Stop advancing.
    Pause,
    /// Advance by this many virtual milliseconds.
    Step(u64),
    /// The animation clock: `real_ms` passed; advances by `real_ms × speed` while playing.
    Tick(f64),
    /// Virtual milliseconds per real millisecond.
    SetSpeed(f64),
    /// Load the scenario at this index of the library, at time 0.
    Select(usize),
    /// Crash a broker now.
    Kill(BrokerId),
    /// Restart a broker now.
    Restart(BrokerId),
    /// Go back (or forward) to this virtual time, keeping the user's faults.
    Seek(u64),
    /// Go back this many virtual milliseconds.
    Rewind(u64),
    /// Go back to this time and drop the user's faults after it.
    Fork(u64),
    /// Run to the scenario's end.
    RunToEnd,
}

/// One replica as the views draw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaView {
    /// The partition.
    pub partition: u32,
    /// Its broker.
    pub broker: BrokerId,
    /// Whether it is the leader (as the controller says).
    pub leader: bool,
    /// Whether it is in the ISR.
    pub in_sync: bool,
    /// Log end offset.
    pub leo: i64,
    /// High watermark.
    pub hw: i64,
    /// The leader epoch it knows.
    pub epoch: i32,
}

/// One broker as the views draw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerView {
    /// Its id.
    pub id: BrokerId,
    /// Crashed (by the scenario or the user) and not restarted.
    pub down: bool,
    /// Registered and not fenced, as the controller sees it.
    pub live: bool,
    /// Its replicas.
    pub replicas: Vec<ReplicaView>,
}

/// The playground's whole state.
pub struct Model {
    scenarios: Vec<Scenario>,
    selected: usize,
    user_faults: Vec<(u64, Fault)>,
    sim: Sim,
    /// Whether the clock advances the simulation.
    pub playing: bool,
    /// Virtual ms per real ms.
    pub speed: f64,
}

impl Default for Model {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Model {
    /// The scenario at `index` of the library (the first if out of range), at time 0.
    pub fn new(index: usize) -> Self {
        let scenarios = library();
        let selected = index.min(scenarios.len().saturating_sub(1));
        let sim = scenarios[selected].sim();
        Self {
            scenarios,
            selected,
            user_faults: Vec::new(),
            sim,
            playing: false,
            speed: 2.0,
        }
    }

    /// Every scenario, for the picker.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// The scenario shown.
    pub fn scenario(&self) -> &Scenario {
        &self.scenarios[self.selected]
    }

    /// Its index.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// Virtual time now.
    pub fn now_ms(&self) -> u64 {
        self.sim.now_ms()
    }

    /// Whether the scenario has run to its end.
    pub fn finished(&self) -> bool {
        self.now_ms() >= self.scenario().run_until_ms
    }

    /// The faults the user added.
    pub fn user_faults(&self) -> &[(u64, Fault)] {
        &self.user_faults
    }

    /// Counts so far (sent, acknowledged, lost...).
    pub fn report(&mut self) -> Report {
        self.sim.report()
    }

    /// Applies one action.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Play => self.playing = !self.finished(),
            Action::Pause => self.playing = false,
            Action::Step(ms) => self.advance(ms),
            Action::Tick(real_ms) => {
                if self.playing {
                    self.advance((real_ms * self.speed).max(0.0) as u64);
                    if self.finished() {
                        self.playing = false;
                    }
                }
            }
            Action::SetSpeed(speed) => self.speed = speed.clamp(0.1, 1000.0),
            Action::Select(index) => *self = Self::new(index),
            Action::Kill(broker) => self.add_fault(Fault::Crash(broker)),
            Action::Restart(broker) => self.add_fault(Fault::Restart(broker)),
            Action::Seek(ms) => self.replay(ms),
            Action::Rewind(ms) => self.replay(self.now_ms().saturating_sub(ms)),
            Action::Fork(ms) => {
                self.user_faults.retain(|(at, _)| *at <= ms);
                self.replay(ms);
            }
            Action::RunToEnd => {
                let end = self.scenario().run_until_ms;
                self.advance(end.saturating_sub(self.now_ms()));
                self.playing = false;
            }
        }
    }

    fn advance(&mut self, ms: u64) {
        let end = self.scenario().run_until_ms;
        let until = (self.now_ms() + ms).min(end);
        self.sim.run_until(until);
    }

    fn add_fault(&mut self, fault: Fault) {
        let at = self.now_ms();
        self.user_faults.push((at, fault));
        self.sim.schedule(at, fault);
        // Let the fault happen now, not at the next frame.
        self.sim.run_until(at);
    }

    /// A fresh simulator with the scenario's and the user's faults, run to `ms`.
    fn replay(&mut self, ms: u64) {
        let mut sim = self.scenario().sim();
        for (at, fault) in &self.user_faults {
            sim.schedule(*at, *fault);
        }
        sim.run_until(ms.min(self.scenario().run_until_ms));
        self.sim = sim;
    }

    /// Brokers and their replicas now.
    pub fn brokers(&self) -> Vec<BrokerView> {
        let config = self.scenario().config;
        let now = self.now_ms();
        let controller = self.sim.controller();
        (0..config.brokers)
            .map(|id| {
                let mut down = false;
                let mut faults: Vec<(u64, Fault)> = self
                    .scenario()
                    .faults
                    .iter()
                    .chain(&self.user_faults)
                    .filter(|(at, _)| *at <= now)
                    .copied()
                    .collect();
                faults.sort_by_key(|(at, _)| *at);
                for (_, f) in faults {
                    match f {
                        Fault::Crash(b) if b == id => down = true,
                        Fault::Restart(b) if b == id => down = false,
                        _ => {}
                    }
                }
                let replicas = (0..config.partitions)
                    .filter_map(|p| {
                        let state = controller.partition(p)?;
                        if !state.replicas.contains(&id) {
                            return None;
                        }
                        let replica = self.sim.replica(id, p)?;
                        Some(ReplicaView {
                            partition: p,
                            broker: id,
                            leader: state.leader == Some(id),
                            in_sync: state.isr.contains(&id),
                            leo: replica.log_end_offset(),
                            hw: replica.high_watermark(),
                            epoch: replica.leader_epoch(),
                        })
                    })
                    .collect();
                BrokerView {
                    id,
                    down,
                    live: controller.is_live(id),
                    replicas,
                }
            })
            .collect()
    }

    /// The leader of `partition` now, as the controller says.
    pub fn leader(&self, partition: u32) -> Option<BrokerId> {
        self.sim.controller().partition(partition)?.leader
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(name: &str) -> usize {
        library()
            .iter()
            .position(|s| s.name == name)
            .expect("scenario")
    }

    #[test]
    fn the_acks1_lesson_loses_what_the_core_scenario_loses() {
        let mut model = Model::new(index("acks1-failover"));
        model.apply(Action::RunToEnd);
        let (expected, _) = runnel_core::scenario::by_name("acks1-failover")
            .expect("scenario")
            .run();
        let got = model.report();
        assert_eq!(
            (got.sent, got.acknowledged, got.lost),
            (expected.sent, expected.acknowledged, expected.lost)
        );
        assert!(got.lost > 0);
    }

    #[test]
    fn killing_the_leader_moves_leadership_and_rewinding_restores_the_past() {
        let mut model = Model::new(index("preferred-leader-rebalance"));
        model.apply(Action::Step(1_400));
        let before = model.brokers();
        model.apply(Action::Step(100));
        let leader = model.leader(0).expect("a leader");
        model.apply(Action::Kill(leader));
        assert!(model.brokers()[leader as usize].down);
        model.apply(Action::Step(6_000));
        let after = model.leader(0).expect("a new leader");
        assert_ne!(after, leader, "leadership moved");
        // Rewind: exactly the state shown at 1.4 s, the kill at 1.5 s still ahead of it.
        model.apply(Action::Seek(1_400));
        assert_eq!(model.brokers(), before);
        assert_eq!(model.user_faults().len(), 1);
        // Forward again through the same kill: the same new leader.
        model.apply(Action::Step(6_100));
        assert_eq!(model.leader(0), Some(after));
        // Fork at 1 s: the kill is forgotten.
        model.apply(Action::Fork(1_000));
        assert!(model.user_faults().is_empty());
        model.apply(Action::Step(6_500));
        assert_eq!(model.leader(0), Some(leader));
    }

    #[test]
    fn the_clock_advances_only_while_playing() {
        let mut model = Model::default();
        model.apply(Action::Tick(100.0));
        assert_eq!(model.now_ms(), 0);
        model.apply(Action::SetSpeed(10.0));
        model.apply(Action::Play);
        model.apply(Action::Tick(100.0));
        assert_eq!(model.now_ms(), 1_000);
        model.apply(Action::Pause);
        model.apply(Action::Tick(100.0));
        assert_eq!(model.now_ms(), 1_000);
    }
}
