//! The events list: the last lines of the simulator's trace in words.

use std::rc::Rc;

use yew::prelude::*;

/// What the events list shows.
#[derive(Properties, PartialEq)]
pub struct EventsProps {
    /// The lines, oldest first ([`crate::model::Model::timeline`]).
    pub lines: Rc<Vec<String>>,
}

/// The events list.
#[function_component(Events)]
pub fn events(props: &EventsProps) -> Html {
    let timeline = &props.lines;
    html! {
        <fieldset class="timeline">
            <legend>{ "Events" }</legend>
            <ol data-testid="timeline">
                { for timeline.iter().map(|line| html! { <li><code>{ line }</code></li> }) }
            </ol>
        </fieldset>
    }
}
