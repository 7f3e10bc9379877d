//! The playground's panels as Yew function components, one `Props` struct each, as yew's
//! examples have them: the lesson text, the time controls, the broker cards, the network view, the log table, the producer, the settings, the
//! network links, the consumer group, keys and compaction, the plugin panel and the events.
//! State stays in the one reducer over [`crate::model::Model`]; a component gets what it
//! draws as props and the reducer's dispatcher for what it does, so Yew redraws it only when
//! its props change (the panels' data changes at most five times a second while playing:
//! [`crate::model::PANELS_REFRESH_MS`]).

use yew::prelude::*;

use crate::app::State;
use crate::model::Action;

mod cluster;
mod controls;
mod events;
mod group;
mod keys;
mod lesson;
mod links;
mod log_table;
mod network;
mod plugin;
mod producer;
mod settings;

pub use cluster::{Cluster, ClusterProps};
pub use controls::{TimeControls, TimeControlsProps};
pub use events::{Events, EventsProps};
pub use group::{GroupPanel, GroupPanelProps};
pub use keys::KeysPanel;
pub use lesson::{Counters, CountersProps, LessonText, LessonTextProps};
pub use links::{LinksPanel, LinksPanelProps, pairs};
pub use log_table::{LogTable, LogTableProps};
pub use network::{NetworkView, NetworkViewProps};
pub use plugin::PluginPanel;
pub use producer::{ProducerPanel, ProducerPanelProps};
pub use settings::{SettingsPanel, SettingsPanelProps};

/// A click that dispatches `action` to the playground's reducer.
pub fn on_click(dispatcher: &UseReducerDispatcher<State>, action: Action) -> Callback<MouseEvent> {
    let dispatcher = dispatcher.clone();
    Callback::from(move |_: MouseEvent| dispatcher.dispatch(action.clone()))
}

/// The value of the text input, textarea or select that sent `e`.
pub fn event_value(e: &Event) -> Option<String> {
    e.target_dyn_into::<web_sys::HtmlInputElement>()
        .map(|i| i.value())
        .or_else(|| {
            e.target_dyn_into::<web_sys::HtmlTextAreaElement>()
                .map(|a| a.value())
        })
        .or_else(|| {
            e.target_dyn_into::<web_sys::HtmlSelectElement>()
                .map(|s| s.value())
        })
}

/// Whether the checkbox that sent `e` is checked (`None` if it is not a checkbox).
pub fn event_checked(e: &Event) -> Option<bool> {
    e.target_dyn_into::<web_sys::HtmlInputElement>()
        .filter(|i| i.type_() == "checkbox")
        .map(|i| i.checked())
}

/// A callback that keeps `state` equal to the sender's text.
pub fn store_value(state: &UseStateHandle<String>) -> Callback<Event> {
    let state = state.clone();
    Callback::from(move |e: Event| {
        if let Some(value) = event_value(&e) {
            state.set(value);
        }
    })
}

/// A callback that keeps `state` equal to the sending checkbox.
pub fn store_checked(state: &UseStateHandle<bool>) -> Callback<Event> {
    let state = state.clone();
    Callback::from(move |e: Event| {
        if let Some(checked) = event_checked(&e) {
            state.set(checked);
        }
    })
}

/// The file chosen in the file input that sent `e`.
pub fn chosen_file(e: &Event) -> Option<web_sys::File> {
    e.target_dyn_into::<web_sys::HtmlInputElement>()
        .and_then(|i| i.files())
        .and_then(|f| f.get(0))
}
