//! The events list: the latest leadership and ISR changes pinned on top, then the last lines
//! of the simulator's trace in words.

use std::rc::Rc;

use yew::prelude::*;

/// What the events list shows.
#[derive(Properties, PartialEq)]
pub struct EventsProps {
    /// The latest leadership and ISR changes, oldest first
    /// ([`crate::model::Model::leadership_changes`]).
    pub pinned: Rc<Vec<String>>,
    /// The lines, oldest first ([`crate::model::Model::timeline`]).
    pub lines: Rc<Vec<String>>,
}

/// The events list.
#[function_component(Events)]
pub fn events(props: &EventsProps) -> Html {
    html! {
        <fieldset class="timeline">
            <legend>{ "Events" }</legend>
            <h3>{ "Latest leader and ISR changes" }</h3>
            if props.pinned.is_empty() {
                <p data-testid="leadership">{ "none yet" }</p>
            } else {
                <ol data-testid="leadership">
                    { for props.pinned.iter().map(|line| html! { <li><code>{ line }</code></li> }) }
                </ol>
            }
            <h3>{ "Everything, newest last" }</h3>
            <ol data-testid="timeline">
                { for props.lines.iter().map(|line| html! { <li><code>{ line }</code></li> }) }
            </ol>
        </fieldset>
    }
}
