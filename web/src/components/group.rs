//! The consumer group "sim": its assignor (a setting: eager range or cooperative-sticky), state
//! and generation, how many partitions are being read, each member's partitions and
//! positions, join, leave and crash, and the committed offsets with their lag.

use std::rc::Rc;

use runnel_core::group::Assignor;
use runnel_core::sim::GroupView;
use yew::prelude::*;

use super::{event_value, on_click};
use crate::app::State;
use crate::model::{Action, Settings};

/// What the group panel shows.
#[derive(Properties, PartialEq)]
pub struct GroupPanelProps {
    /// The group as the simulator sees it.
    pub group: Rc<GroupView>,
    /// The settings in force (the assignor is one of them).
    pub settings: Settings,
    /// The playground's reducer.
    pub dispatcher: UseReducerDispatcher<State>,
    /// Outlined: guided mode points at it.
    pub highlight: bool,
}

/// The consumer group panel.
#[function_component(GroupPanel)]
pub fn group_panel(props: &GroupPanelProps) -> Html {
    let group = &props.group;
    let cb = |action| on_click(&props.dispatcher, action);
    let on_assignor = {
        let (dispatcher, settings) = (props.dispatcher.clone(), props.settings);
        Callback::from(move |e: Event| {
            let assignor = match event_value(&e).as_deref() {
                Some("cooperative-sticky") => Assignor::CooperativeSticky,
                _ => Assignor::Range,
            };
            dispatcher.dispatch(Action::Configure(Settings {
                assignor,
                ..settings
            }));
        })
    };
    let partitions = group.committed.len();
    html! {
        <fieldset class={classes!("group", props.highlight.then_some("highlight"))} data-testid="group">
            <legend>{ "Consumer group \"sim\"" }</legend>
            <label>{ "partition.assignment.strategy " }
                <select data-testid="assignor" onchange={on_assignor}>
                    <option value="range" selected={group.assignor == Assignor::Range}>{ "range (eager: all stop while rebalancing)" }</option>
                    <option value="cooperative-sticky" selected={group.assignor == Assignor::CooperativeSticky}>{ "cooperative-sticky (KIP-429: only moved partitions stop)" }</option>
                </select>
                { " (replays from 0 s)" }
            </label>
            <p data-testid="group-state">
                { format!("{} · generation {} · reading {} of {partitions} partitions · {} records read, {} of them again", group.state, group.generation, group.being_read, group.reads, group.rereads) }
            </p>
            <ul>
                { for group.members.iter().map(|m| {
                    let i = m.index;
                    html! {
                        <li data-testid={format!("member-{i}")}>
                            { format!("M{i}: {}", if m.reading && m.state != "stable" { format!("{}, still reading its partitions", m.state) } else { m.state.to_string() }) }
                            if m.active {
                                { format!(", generation {}, read {} · ", m.generation, m.consumed) }
                                { for m.positions.iter().map(|(p, at)| html! {
                                    <span class="cell">{ format!("p{p}@{}", at.map_or(String::from("?"), |o| o.to_string())) }</span>
                                }) }
                                <button aria-label={format!("Leave the group: consumer M{i}")} onclick={cb(Action::MemberLeave(i))}>{ "Leave" }</button>
                                <button aria-label={format!("Crash consumer M{i}")} onclick={cb(Action::MemberCrash(i))}>{ "Crash" }</button>
                            } else {
                                <button aria-label={format!("Join the group: consumer M{i}")} onclick={cb(Action::MemberJoin(i))}>{ "Join" }</button>
                            }
                        </li>
                    }
                }) }
            </ul>
            <button data-testid="add-member" onclick={cb(Action::AddMember)}>{ "Add a consumer" }</button>
            <table class="committed" data-testid="committed-offsets">
                <tr><th>{ "partition" }</th><th>{ "committed" }</th><th>{ "lag" }</th></tr>
                { for group.committed.iter().map(|(p, at, lag)| html! {
                    <tr><td>{ format!("p{p}") }</td><td>{ at.map_or(String::from("none"), |o| o.to_string()) }</td><td>{ lag }</td></tr>
                }) }
            </table>
            <button data-testid="reset-earliest" onclick={cb(Action::ResetOffsets(true))}>{ "Reset offsets to earliest" }</button>
            <button data-testid="reset-latest" aria-label="Reset offsets to latest" onclick={cb(Action::ResetOffsets(false))}>{ "to latest" }</button>
        </fieldset>
    }
}
