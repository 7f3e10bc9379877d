//! The network view: the quorum, the brokers, the producer, the consumer and the group's
//! members, the links between them (cut ones dashed and marked), and every message on the wire
//! as a shape moving from sender to receiver, with a legend for the circles and the shapes.

use std::rc::Rc;

use runnel_core::sim::{Party, Wire};
use yew::prelude::*;

use crate::model::party_name;

/// What the network view draws.
#[derive(Properties, PartialEq)]
pub struct NetworkViewProps {
    /// Every party on the network.
    pub parties: Rc<Vec<Party>>,
    /// The links cut now.
    pub cut: Rc<Vec<(Party, Party)>>,
    /// The messages on the wire now.
    pub wires: Rc<Vec<Wire>>,
    /// The virtual time, ms (where each message is along its link).
    pub now: u64,
    /// The group members drawn (the active ones).
    pub members: Rc<Vec<u32>>,
    /// Outlined: guided mode points at it.
    pub highlight: bool,
}

/// The network view's size.
const NETWORK_WIDTH: f64 = 640.0;
const NETWORK_HEIGHT: f64 = 430.0;

/// Where a party sits in the network view. Brokers sit on an arch, not a line, with the
/// clients well below them and the group's members on a row of their own, 70 px apart: a
/// straight link between two parties then never passes through a third party (three brokers
/// in a row drew B0 ↔ B2 through B1, which read as B0 ↔ B1; the producer's link to B4 ran
/// through the members). The numbers come from a search over such layouts that keeps every
/// drawn link at least 20 px from the centre of every other party (radius 16) with 3 or 5
/// brokers and up to 6 members (`no_link_passes_through_another_party`).
fn position(party: Party, brokers: usize, members: &[u32]) -> (f64, f64) {
    match party {
        Party::Quorum => (320.0, 30.0),
        Party::Broker(b) => {
            let x = 320.0 + NETWORK_WIDTH * ((f64::from(b) + 1.0) / (brokers as f64 + 1.0) - 0.5);
            let off_centre = (x - 320.0) / 240.0;
            (x, 150.0 + 140.0 * off_centre * off_centre)
        }
        Party::Producer => (100.0, 380.0),
        Party::Consumer => (540.0, 380.0),
        Party::Member(m) => {
            let i = members.iter().position(|x| *x == m).unwrap_or(0);
            (160.0 + 70.0 * i as f64, 400.0)
        }
    }
}

/// The kinds of message the network view tells apart, by shape and in its legend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WireKind {
    /// Produce and its response.
    Produce,
    /// Fetch, by consumers and by follower replicas, and OffsetsForLeaderEpoch.
    Fetch,
    /// Between brokers and the controller: heartbeats, metadata, ISR changes.
    Controller,
    /// A consumer group's requests: join, sync, heartbeat, leave, offsets.
    Group,
}

impl WireKind {
    const ALL: [WireKind; 4] = [
        WireKind::Produce,
        WireKind::Fetch,
        WireKind::Controller,
        WireKind::Group,
    ];

    /// The kind of a message, by Kafka's name for it (`sim::Wire::what`).
    fn of(what: &str) -> Self {
        let request = what.trim_end_matches(" response");
        match request {
            "Produce" => WireKind::Produce,
            "Fetch" | "Fetch (replica)" | "OffsetsForLeaderEpoch" => WireKind::Fetch,
            "BrokerHeartbeat" | "metadata update" | "AlterPartition" | "Metadata"
            | "ControlledShutdown" => WireKind::Controller,
            _ => WireKind::Group,
        }
    }

    /// Its legend entry.
    fn label(self) -> &'static str {
        match self {
            WireKind::Produce => "Produce",
            WireKind::Fetch => "Fetch (consumers and follower replicas)",
            WireKind::Controller => "controller: heartbeats, metadata, ISR changes",
            WireKind::Group => "consumer group: join, sync, heartbeat, offsets",
        }
    }

    /// Its CSS class.
    fn class(self) -> &'static str {
        match self {
            WireKind::Produce => "produce",
            WireKind::Fetch => "fetch",
            WireKind::Controller => "controller",
            WireKind::Group => "group",
        }
    }

    /// The name of its shape.
    fn shape_name(self) -> &'static str {
        match self {
            WireKind::Produce => "circle",
            WireKind::Fetch => "square",
            WireKind::Controller => "diamond",
            WireKind::Group => "triangle",
        }
    }

    /// Its shape ([`WireKind::shape_name`]), centred on (x, y).
    fn shape(self, x: f64, y: f64, title: Option<String>) -> Html {
        let class = classes!("wire", self.class());
        let title = title.map(|t| html! { <title>{ t }</title> });
        match self {
            WireKind::Produce => html! {
                <circle class={class} cx={x.to_string()} cy={y.to_string()} r="4.5">{ for title }</circle>
            },
            WireKind::Fetch => html! {
                <rect class={class} x={(x - 4.0).to_string()} y={(y - 4.0).to_string()} width="8" height="8">{ for title }</rect>
            },
            WireKind::Controller => html! {
                <polygon class={class} points={format!("{},{} {},{} {},{} {},{}", x, y - 5.5, x + 5.5, y, x, y + 5.5, x - 5.5, y)}>{ for title }</polygon>
            },
            WireKind::Group => html! {
                <polygon class={class} points={format!("{},{} {},{} {},{}", x, y - 5.5, x + 5.0, y + 4.0, x - 5.0, y + 4.0)}>{ for title }</polygon>
            },
        }
    }
}

/// The cluster's parties and the messages on the wire between them, each a dot moving from
/// sender to receiver, with Kafka's request name as its label; cut links dashed and marked.
#[function_component(NetworkView)]
pub fn network_view(props: &NetworkViewProps) -> Html {
    let (parties, cut, wires, now, members, highlighted) = (
        &props.parties[..],
        &props.cut[..],
        &props.wires[..],
        props.now,
        &props.members[..],
        props.highlight,
    );
    let brokers = parties
        .iter()
        .filter(|p| matches!(p, Party::Broker(_)))
        .count();
    let at = |p: Party| position(p, brokers, members);
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for w in wires {
        match counts.iter_mut().find(|(what, _)| *what == w.what) {
            Some((_, n)) => *n += 1,
            None => counts.push((w.what, 1)),
        }
    }
    let shown: Vec<Party> = parties
        .iter()
        .copied()
        .chain(std::iter::once(Party::Consumer))
        .chain(members.iter().map(|m| Party::Member(*m)))
        .collect();
    html! {
        <section class={classes!("network", highlighted.then_some("highlight"))}>
            <svg viewBox={format!("0 0 {NETWORK_WIDTH} {NETWORK_HEIGHT}")} width={NETWORK_WIDTH.to_string()} height={NETWORK_HEIGHT.to_string()} role="img" data-testid="network"
                 aria-label={format!("{} messages in flight", wires.len())}>
                { for shown.iter().filter(|p| matches!(p, Party::Broker(_))).map(|b| {
                    let (x1, y1) = at(Party::Quorum);
                    let (x2, y2) = at(*b);
                    html! { <line class="link" x1={x1.to_string()} y1={y1.to_string()} x2={x2.to_string()} y2={y2.to_string()}/> }
                }) }
                { for cut.iter().map(|(a, b)| {
                    let ((x1, y1), (x2, y2)) = (at(*a), at(*b));
                    html! {
                        <g class="cut">
                            <line x1={x1.to_string()} y1={y1.to_string()} x2={x2.to_string()} y2={y2.to_string()}/>
                            <text x={((x1 + x2) / 2.0).to_string()} y={((y1 + y2) / 2.0).to_string()}>{ "✂ cut" }</text>
                        </g>
                    }
                }) }
                { for wires.iter().map(|w| {
                    let ((x1, y1), (x2, y2)) = (at(w.from), at(w.to));
                    let span = w.arrive_ms.saturating_sub(w.sent_ms).max(1) as f64;
                    let t = (now.saturating_sub(w.sent_ms) as f64 / span).clamp(0.0, 1.0);
                    let title = format!("{} {} → {}", w.what, party_name(w.from), party_name(w.to));
                    WireKind::of(w.what).shape(x1 + (x2 - x1) * t, y1 + (y2 - y1) * t, Some(title))
                }) }
                { for shown.iter().map(|p| {
                    let (x, y) = at(*p);
                    html! {
                        <g class="party">
                            <circle cx={x.to_string()} cy={y.to_string()} r="16"/>
                            <text x={x.to_string()} y={(y + 4.0).to_string()}>{ short_name(*p) }</text>
                        </g>
                    }
                }) }
            </svg>
            <p class="parties" data-testid="party-legend">
                { "Q the controller quorum (KRaft) · B0, B1, … brokers · P the producer · C a consumer outside any group (it reads every partition) · M0, M1, … the consumer group's members" }
            </p>
            <ul class="legend" data-testid="wire-legend" aria-label="message kinds">
                { for WireKind::ALL.iter().map(|k| html! {
                    <li data-shape={k.shape_name()}>
                        <svg viewBox="0 0 14 14" width="14" height="14" aria-hidden="true">{ k.shape(7.0, 7.0, None) }</svg>
                        { " " }{ k.label() }
                    </li>
                }) }
            </ul>
            <p data-testid="in-flight">
                { format!("In flight now: {}", if counts.is_empty() { String::from("nothing") } else {
                    counts.iter().map(|(what, n)| format!("{n} {what}")).collect::<Vec<_>>().join(", ")
                }) }
            </p>
        </section>
    }
}

/// A party's label inside its circle.
fn short_name(p: Party) -> String {
    match p {
        Party::Quorum => "Q".into(),
        Party::Producer => "P".into(),
        Party::Consumer => "C".into(),
        other => party_name(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::pairs;

    /// Issue 17, item 4: with 3 brokers (the lessons) or 5 (the sandbox), no straight link
    /// between two parties passes through a broker that is neither of them.
    #[test]
    fn no_link_passes_through_another_party() {
        for (brokers, count) in [3u32, 5]
            .into_iter()
            .flat_map(|b| (0..=6u32).map(move |m| (b, m)))
        {
            let mut parties = vec![Party::Quorum, Party::Producer, Party::Consumer];
            parties.extend((0..brokers).map(Party::Broker));
            let members: Vec<u32> = (0..count).collect();
            parties.extend(members.iter().map(|m| Party::Member(*m)));
            let at = |p: Party| position(p, brokers as usize, &members);
            for (a, b) in pairs(&parties) {
                let ((x1, y1), (x2, y2)) = (at(a), at(b));
                for c in parties.iter().copied().filter(|c| *c != a && *c != b) {
                    let (x, y) = at(c);
                    // Distance from the party's centre to the segment a–b.
                    let (dx, dy) = (x2 - x1, y2 - y1);
                    let t = (((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
                    let d = ((x1 + t * dx - x).powi(2) + (y1 + t * dy - y).powi(2)).sqrt();
                    assert!(
                        d > 20.0,
                        "{brokers} brokers, {count} members: {a:?}–{b:?} passes {d:.1} px from \
                         {c:?} (radius 16)"
                    );
                }
            }
        }
    }

    /// Issue 17, item 4: every message the simulator names has a kind, and the kinds differ
    /// by shape, not only colour.
    #[test]
    fn message_kinds_are_told_apart_by_shape() {
        use WireKind::*;
        for (what, kind) in [
            ("Produce", Produce),
            ("Produce response", Produce),
            ("Fetch", Fetch),
            ("Fetch (replica) response", Fetch),
            ("OffsetsForLeaderEpoch", Fetch),
            ("BrokerHeartbeat", Controller),
            ("metadata update", Controller),
            ("AlterPartition response", Controller),
            ("Metadata", Controller),
            ("JoinGroup", Group),
            ("SyncGroup response", Group),
            ("OffsetCommit", Group),
        ] {
            assert_eq!(WireKind::of(what), kind, "{what}");
        }
        let mut shapes: Vec<&str> = WireKind::ALL.iter().map(|k| k.shape_name()).collect();
        shapes.sort_unstable();
        shapes.dedup();
        assert_eq!(shapes.len(), WireKind::ALL.len(), "one shape per kind");
    }
}
