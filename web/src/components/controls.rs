//! The time controls: play and pause, step, back and the time slider (the transport, which a
//! phone keeps at the bottom of the screen), then fork, run to the end, speed, and the
//! session exported to or imported from a file.

use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::{chosen_file, event_value, on_click};
use crate::app::State;
use crate::model::{Action, Share};

/// What the time controls show.
#[derive(Properties, PartialEq)]
pub struct TimeControlsProps {
    /// Playing now.
    pub playing: bool,
    /// The virtual time, ms.
    pub now: u64,
    /// The lesson's end, virtual ms.
    pub end: u64,
    /// Virtual ms per real ms.
    pub speed: f64,
    /// This session encoded ([`Share::encode`]), for "Export session".
    pub session: String,
    /// The playground's reducer.
    pub dispatcher: UseReducerDispatcher<State>,
}

/// The time controls.
#[function_component(TimeControls)]
pub fn time_controls(props: &TimeControlsProps) -> Html {
    let (playing, now, end, speed) = (props.playing, props.now, props.end, props.speed);
    let cb = |action| on_click(&props.dispatcher, action);
    let on_export = {
        let text = props.session.clone();
        Callback::from(move |_: MouseEvent| download("runnel-session.txt", &text))
    };
    let import_error = use_state(|| None::<String>);
    let on_import = {
        let dispatcher = props.dispatcher.clone();
        let import_error = import_error.clone();
        Callback::from(move |e: Event| {
            let Some(file) = chosen_file(&e) else {
                return;
            };
            let dispatcher = dispatcher.clone();
            let import_error = import_error.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let blob = gloo_file::Blob::from(file);
                match gloo_file::futures::read_as_text(&blob).await {
                    Ok(text) => match Share::decode(text.trim()) {
                        Some(share) => {
                            import_error.set(None);
                            dispatcher.dispatch(Action::Load(share));
                        }
                        None => import_error.set(Some("not a runnel session file".into())),
                    },
                    Err(e) => import_error.set(Some(e.to_string())),
                }
            });
        })
    };
    let on_seek = on_number(&props.dispatcher, Action::Seek);
    let on_speed = on_number(&props.dispatcher, Action::SetSpeed);
    html! {
        <>
        <section class="transport" data-testid="transport">
            if playing {
                <button data-testid="pause" onclick={cb(Action::Pause)}>{ "⏸ Pause" }<span class="key">{ " (space)" }</span></button>
            } else {
                <button data-testid="play" onclick={cb(Action::Play)}>{ "▶ Play" }<span class="key">{ " (space)" }</span></button>
            }
            <button data-testid="step" onclick={cb(Action::Step(100))}>{ "Step 100 ms" }<span class="key">{ " (→)" }</span></button>
            <button data-testid="rewind" onclick={cb(Action::Rewind(1_000))}>{ "Back 1 s" }<span class="key">{ " (←)" }</span></button>
            <label>{ "Time " }
                <input data-testid="scrub" type="range" min="0" max={end.to_string()} step="100" value={now.to_string()} onchange={on_seek} aria-label="time" aria-valuetext={format!("{:.1} seconds of {:.0}", now as f64 / 1000.0, end as f64 / 1000.0)}/>
            </label>
            <span data-testid="time">{ format!("{:.1} s of {:.0} s", now as f64 / 1000.0, end as f64 / 1000.0) }</span>
        </section>
        <section class="controls">
            <button data-testid="fork" onclick={cb(Action::Fork(now))}>{ "Fork here" }</button>
            <button data-testid="end" onclick={cb(Action::RunToEnd)}>{ "Run to end" }<span class="key">{ " (End)" }</span></button>
            <label>{ "Speed " }
                <input type="range" min="0.5" max="50" step="0.5" value={speed.to_string()} onchange={on_speed} aria-label="speed"/>
            </label>
            <button data-testid="export" onclick={on_export}>{ "Export session" }</button>
            <label>{ "Import " }
                <input data-testid="import" type="file" accept=".txt" onchange={on_import}/>
            </label>
            if let Some(e) = &*import_error {
                <span data-testid="import-error">{ e.clone() }</span>
            }
        </section>
        </>
    }
}

/// Offers `text` as a file download named `name`.
fn download(name: &str, text: &str) {
    let url = gloo_file::ObjectUrl::from(gloo_file::Blob::new(text));
    let Ok(element) = gloo_utils::document().create_element("a") else {
        return;
    };
    let _ = element.set_attribute("href", &url);
    let _ = element.set_attribute("download", name);
    if let Some(anchor) = element.dyn_ref::<web_sys::HtmlElement>() {
        anchor.click();
    }
}

/// A slider's change as `action` of its value (ignored if it does not parse).
fn on_number<T: std::str::FromStr + 'static>(
    dispatcher: &UseReducerDispatcher<State>,
    action: fn(T) -> Action,
) -> Callback<Event> {
    let dispatcher = dispatcher.clone();
    Callback::from(move |e: Event| {
        if let Some(value) = event_value(&e).and_then(|v| v.parse().ok()) {
            dispatcher.dispatch(action(value));
        }
    })
}
