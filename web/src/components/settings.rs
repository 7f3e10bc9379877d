//! The settings a learner may change (acks, min.insync.replicas, unclean election, cleanup
//! policy, retention): each replays the lesson from time 0 with the new value.

use runnel_core::replica::Acks;
use yew::prelude::*;

use super::{event_checked, event_value};
use crate::app::State;
use crate::model::{Action, Settings};

/// What the settings panel shows and changes.
#[derive(Properties, PartialEq)]
pub struct SettingsPanelProps {
    /// The settings in force.
    pub settings: Settings,
    /// The playground's reducer.
    pub dispatcher: UseReducerDispatcher<State>,
}

/// The settings panel.
#[function_component(SettingsPanel)]
pub fn settings_panel(props: &SettingsPanelProps) -> Html {
    let settings = props.settings;
    let configure = |change: fn(Settings, String) -> Settings| {
        let dispatcher = props.dispatcher.clone();
        Callback::from(move |e: Event| {
            let value = event_checked(&e)
                .map(|c| c.to_string())
                .or_else(|| event_value(&e))
                .unwrap_or_default();
            dispatcher.dispatch(Action::Configure(change(settings, value)));
        })
    };
    let on_acks = configure(|s, v| Settings {
        acks: if v == "all" { Acks::All } else { Acks::Leader },
        ..s
    });
    // The broker's own rule (core's topic_config: min.insync.replicas ≥ 1): 0 is refused,
    // with the broker's words, and the setting in force stays.
    let min_insync_error = use_state(|| None::<String>);
    let on_min_insync = {
        let dispatcher = props.dispatcher.clone();
        let error = min_insync_error.clone();
        Callback::from(move |e: Event| {
            let value = event_value(&e).unwrap_or_default();
            let parsed = runnel_core::topic_config::validate("min.insync.replicas", &value)
                .map_err(|e| e.to_string())
                .and_then(|_| {
                    value
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| format!("invalid value {value:?} for min.insync.replicas"))
                });
            match parsed {
                Ok(n) => {
                    error.set(None);
                    dispatcher.dispatch(Action::Configure(Settings {
                        min_insync_replicas: n,
                        ..settings
                    }));
                }
                Err(reason) => error.set(Some(format!(
                    "{reason}; still {}",
                    settings.min_insync_replicas
                ))),
            }
        })
    };
    let on_unclean = configure(|s, v| Settings {
        unclean_leader_election: v == "true",
        ..s
    });
    let on_cleanup = configure(|s, v| Settings {
        compact: v.contains("compact"),
        delete: v.contains("delete"),
        ..s
    });
    let on_retention = configure(|s, v| Settings {
        retention_ms: v.parse().ok(),
        ..s
    });
    let cleanup_value = match (settings.compact, settings.delete) {
        (true, true) => "compact,delete",
        (true, false) => "compact",
        _ => "delete",
    };
    html! {
        <fieldset class="settings">
            <legend>{ "Settings (replay from 0 s)" }</legend>
            <label>{ "acks " }
                <select data-testid="acks" onchange={on_acks}>
                    <option value="1" selected={settings.acks != Acks::All}>{ "1 (leader)" }</option>
                    <option value="all" selected={settings.acks == Acks::All}>{ "all (ISR)" }</option>
                </select>
            </label>
            <label>{ " min.insync.replicas " }
                <input data-testid="min-insync" type="number" min="1" max="5" value={settings.min_insync_replicas.to_string()} onchange={on_min_insync}/>
            </label>
            if let Some(reason) = &*min_insync_error {
                <span class="error" data-testid="min-insync-error" role="alert">{ reason.clone() }</span>
            }
            <label>
                <input data-testid="unclean" type="checkbox" checked={settings.unclean_leader_election} onchange={on_unclean}/>
                { " unclean.leader.election.enable" }
            </label>
            <label>{ " cleanup.policy " }
                <select data-testid="cleanup-policy" onchange={on_cleanup}>
                    { for ["delete", "compact", "compact,delete"].into_iter().map(|v| html! {
                        <option value={v} selected={v == cleanup_value}>{ v }</option>
                    }) }
                </select>
            </label>
            <label>{ " retention.ms " }
                <select data-testid="retention" onchange={on_retention}>
                    { for retention_choices(settings.retention_ms).into_iter().map(|(label, v)| html! {
                        <option value={v.map_or(String::from("-1"), |v| v.to_string())} selected={v == settings.retention_ms}>{ label }</option>
                    }) }
                </select>
            </label>
        </fieldset>
    }
}

/// The retention.ms choices: forever, 5 s, 30 s and 7 days, and the value in force when it is
/// none of those (the retention lesson's 4 s), so the select always shows the truth.
fn retention_choices(in_force: Option<u64>) -> Vec<(String, Option<u64>)> {
    let mut choices: Vec<(String, Option<u64>)> = [
        ("forever", None),
        ("5000", Some(5_000u64)),
        ("30000", Some(30_000)),
        ("604800000 (7 d)", Some(604_800_000)),
    ]
    .into_iter()
    .map(|(label, v)| (label.to_string(), v))
    .collect();
    if !choices.iter().any(|(_, v)| *v == in_force) {
        choices.insert(
            1,
            (
                in_force.map_or_else(String::new, |v| {
                    format!("{v} ({} s, this lesson's)", v as f64 / 1000.0)
                }),
                in_force,
            ),
        );
    }
    choices
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The retention lesson's 4 s showed as "forever" (the review of issue 17).
    #[test]
    fn the_retention_in_force_is_always_a_choice() {
        let choices = retention_choices(Some(4_000));
        assert_eq!(
            choices[1],
            ("4000 (4 s, this lesson's)".to_string(), Some(4_000))
        );
        assert_eq!(retention_choices(Some(5_000)).len(), 4);
        assert_eq!(retention_choices(None).len(), 4);
    }
}
