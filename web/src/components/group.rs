//! The consumer group "sim": its state and generation, each member's partitions and
//! positions, join, leave and crash, and the committed offsets with their lag.

use std::rc::Rc;

use runnel_core::sim::GroupView;
use yew::prelude::*;

use super::on_click;
use crate::app::State;
use crate::model::Action;

/// What the group panel shows.
#[derive(Properties, PartialEq)]
pub struct GroupPanelProps {
    /// The group as the simulator sees it.
    pub group: Rc<GroupView>,
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
    html! {
        <fieldset class={classes!("group", props.highlight.then_some("highlight"))} data-testid="group">
            <legend>{ "Consumer group \"sim\"" }</legend>
            <p data-testid="group-state">
                { format!("{} · generation {} · {} records read, {} of them again", group.state, group.generation, group.reads, group.rereads) }
            </p>
            <ul>
                { for group.members.iter().map(|m| {
                    let i = m.index;
                    html! {
                        <li data-testid={format!("member-{i}")}>
                            { format!("M{i}: {}", m.state) }
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
            <button data-testid="reset-latest" onclick={cb(Action::ResetOffsets(false))}>{ "to latest" }</button>
        </fieldset>
    }
}
