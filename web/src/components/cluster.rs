//! The broker cards: each broker's state in words and its replicas (role, LEO, HW, leader
//! epoch), with kill, restart and slow.

use std::rc::Rc;

use runnel_core::replica::BrokerId;
use yew::prelude::*;

use super::on_click;
use crate::app::State;
use crate::model::{Action, BrokerView, Focus, ReplicaView};

/// What the broker cards draw.
#[derive(Properties, PartialEq)]
pub struct ClusterProps {
    /// Every broker, in id order.
    pub brokers: Rc<Vec<BrokerView>>,
    /// The slowed brokers with their extra latency in ms.
    pub slow: Rc<Vec<(BrokerId, u64)>>,
    /// What guided mode points at: these brokers' cards are outlined (all when the list is
    /// empty).
    pub focus: Option<Focus>,
    /// The playground's reducer.
    pub dispatcher: UseReducerDispatcher<State>,
}

/// The broker cards, side by side.
#[function_component(Cluster)]
pub fn cluster(props: &ClusterProps) -> Html {
    html! {
        <section class={classes!("cluster", (props.focus == Some(Focus::Brokers(Vec::new()))).then_some("highlight"))}
                 tabindex="0" aria-label="brokers and their replicas">
            { for props.brokers.iter().map(|b| {
                let slow = props.slow.iter().find(|(x, _)| *x == b.id).map(|(_, ms)| *ms);
                let outlined = matches!(&props.focus, Some(Focus::Brokers(ids)) if ids.contains(&b.id));
                broker_card(b, &props.dispatcher, slow, outlined)
            }) }
        </section>
    }
}

/// One replica's line on its broker's card: the role the replica itself believes it has,
/// its LEO, HW and leader epoch — so the role and the epoch always agree. A replica that still
/// acts as leader after the controller moved leadership away says so (split brain: it can
/// take acks=1 writes the new leader never sees); one the controller elected says so until it
/// hears; `down`: its broker is down.
fn replica_line(r: &ReplicaView, down: bool) -> String {
    let role = match (r.acts_as_leader, r.leader) {
        (true, true) => "leader",
        (true, false) => "stale leader (deposed, has not heard)",
        (false, true) if down => "leader by the controller, offline (its broker is down)",
        (false, true) => "elected leader (has not heard yet)",
        (false, false) if r.in_sync => "in ISR",
        (false, false) => "out of ISR",
    };
    format!(
        "p{} {role} · LEO {} · HW {} · epoch {}",
        r.partition, r.leo, r.hw, r.epoch
    )
}

/// One broker: its state in words, its replicas, kill, restart and slow; `outlined` when
/// guided mode points at it.
fn broker_card(
    b: &BrokerView,
    dispatcher: &UseReducerDispatcher<State>,
    slow: Option<u64>,
    outlined: bool,
) -> Html {
    let cb = |action| on_click(dispatcher, action);
    let status = if b.down {
        "down"
    } else if b.live {
        "up"
    } else {
        "fenced"
    };
    // Text, not a drawing: a screen reader reads each replica's line as it is (the SVG card
    // needed its whole content repeated in an accessible name), and a frame that changes a
    // number lays out one line, not a whole SVG.
    html! {
        <article class={classes!("broker", status, outlined.then_some("highlight"))} data-testid={format!("broker-{}", b.id)}>
            <h3 class="title">{ format!("broker {} — {status}", b.id) }</h3>
            if b.replicas.is_empty() {
                <p class="replica">{ "no replica of these partitions here" }</p>
            }
            <ul>
                { for b.replicas.iter().map(|r| html! {
                    <li class={classes!("replica", r.acts_as_leader.then_some("leader"))}
                        data-testid={format!("replica-{}-{}", b.id, r.partition)}>
                        { replica_line(r, b.down) }
                    </li>
                }) }
            </ul>
            <div>
                if b.down {
                    <button data-testid={format!("restart-{}", b.id)} aria-label={format!("Restart broker {}", b.id)} onclick={cb(Action::Restart(b.id))}>{ "Restart" }</button>
                } else {
                    <button data-testid={format!("kill-{}", b.id)} aria-label={format!("Kill broker {}", b.id)} onclick={cb(Action::Kill(b.id))}>{ "Kill" }</button>
                }
                if let Some(ms) = slow {
                    <button data-testid={format!("fast-{}", b.id)} aria-label={format!("Slowed {ms} ms: speed up broker {}", b.id)} onclick={cb(Action::Slow(b.id, 0))}>{ format!("Slowed {ms} ms: speed up") }</button>
                } else {
                    <button data-testid={format!("slow-{}", b.id)} aria-label={format!("Slow by 300 ms: broker {}", b.id)} onclick={cb(Action::Slow(b.id, 300))}>{ "Slow by 300 ms" }</button>
                }
            </div>
        </article>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A replica's line says its role, LEO, HW and epoch in words (issue 17: the card's
    /// accessible name was "broker 0 down" alone), and a deposed leader that has not heard
    /// says so.
    #[test]
    fn a_replica_line_says_role_offsets_and_epoch() {
        let replica = |partition, leader, in_sync| ReplicaView {
            partition,
            broker: 1,
            leader,
            acts_as_leader: leader,
            in_sync,
            leo: 12,
            hw: 10,
            epoch: 3,
        };
        assert_eq!(
            replica_line(&replica(0, true, true), false),
            "p0 leader · LEO 12 · HW 10 · epoch 3"
        );
        assert_eq!(
            replica_line(&replica(1, false, false), false),
            "p1 out of ISR · LEO 12 · HW 10 · epoch 3"
        );
        // Split brain: the controller moved leadership away, the replica still leads.
        let deposed = ReplicaView {
            acts_as_leader: true,
            ..replica(2, false, false)
        };
        assert_eq!(
            replica_line(&deposed, false),
            "p2 stale leader (deposed, has not heard) · LEO 12 · HW 10 · epoch 3"
        );
        // Elected by the controller, not told yet: the card says so, with the old epoch
        // (issue 17: it said "leader" beside the old epoch).
        let elected = ReplicaView {
            acts_as_leader: false,
            ..replica(3, true, true)
        };
        assert_eq!(
            replica_line(&elected, false),
            "p3 elected leader (has not heard yet) · LEO 12 · HW 10 · epoch 3"
        );
        assert_eq!(
            replica_line(&elected, true),
            "p3 leader by the controller, offline (its broker is down) · LEO 12 · HW 10 · epoch 3"
        );
    }
}
