//! The network links a learner may cut and heal: only those Kafka has (every pair with a
//! broker in it; the quorum and the clients never talk to each other).

use std::rc::Rc;

use runnel_core::sim::Party;
use yew::prelude::*;

use super::on_click;
use crate::app::State;
use crate::model::{Action, party_name};

/// What the links panel shows.
#[derive(Properties, PartialEq)]
pub struct LinksPanelProps {
    /// Every party on the network.
    pub parties: Rc<Vec<Party>>,
    /// The links cut now.
    pub cut: Rc<Vec<(Party, Party)>>,
    /// The playground's reducer.
    pub dispatcher: UseReducerDispatcher<State>,
}

/// The network links panel.
#[function_component(LinksPanel)]
pub fn links_panel(props: &LinksPanelProps) -> Html {
    let (parties, cut) = (&props.parties, &props.cut);
    let cb = |action| on_click(&props.dispatcher, action);
    html! {
        <fieldset class="links">
            <legend>{ "Network links" }</legend>
            <ul>
                { for pairs(parties).into_iter().map(|(a, b)| {
                    let is_cut = cut.contains(&(a, b));
                    let id = format!("link-{}-{}", party_name(a), party_name(b));
                    html! {
                        <li>
                            <span>{ format!("{} ↔ {}: {}", party_name(a), party_name(b), if is_cut { "cut" } else { "up" }) }</span>
                            if is_cut {
                                <button data-testid={id} aria-label={format!("Heal link {}–{}", party_name(a), party_name(b))} onclick={cb(Action::Heal(a, b))}>{ "Heal" }</button>
                            } else {
                                <button data-testid={id} aria-label={format!("Cut link {}–{}", party_name(a), party_name(b))} onclick={cb(Action::Cut(a, b))}>{ "Cut" }</button>
                            }
                        </li>
                    }
                }) }
            </ul>
            <button data-testid="heal-all" onclick={cb(Action::HealAll)}>{ "Heal everything" }</button>
        </fieldset>
    }
}

/// Every unordered pair of parties that talk in Kafka, smaller first: at least one side is a
/// broker (clients talk only to brokers, the controller quorum only to brokers), so there is
/// no quorum↔producer link to cut that would cut nothing.
pub fn pairs(parties: &[Party]) -> Vec<(Party, Party)> {
    let mut out = Vec::new();
    for (i, a) in parties.iter().enumerate() {
        for b in &parties[i + 1..] {
            if matches!(a, Party::Broker(_)) || matches!(b, Party::Broker(_)) {
                out.push(((*a).min(*b), (*a).max(*b)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only links that carry messages in Kafka can be cut (issue 17: quorum↔producer was
    /// offered and did nothing).
    #[test]
    fn only_links_with_a_broker_are_offered() {
        let parties = [
            Party::Quorum,
            Party::Broker(0),
            Party::Broker(1),
            Party::Producer,
        ];
        let names: Vec<String> = pairs(&parties)
            .into_iter()
            .map(|(a, b)| format!("{}-{}", party_name(a), party_name(b)))
            .collect();
        assert_eq!(
            names,
            [
                "quorum-B0",
                "quorum-B1",
                "B0-B1",
                "B0-producer",
                "B1-producer"
            ]
        );
    }
}
