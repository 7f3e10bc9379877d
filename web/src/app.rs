//! The Yew components: the lesson text with live numbers, the time controls, and an SVG of
//! the brokers with their replicas (leader, ISR, LEO, HW, leader epoch). State lives in one
//! reducer over [`Model`]; the animation clock and the keyboard are effect hooks.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_events::EventListener;
use gloo_render::{AnimationFrame, request_animation_frame};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use gloo_storage::Storage;
use runnel_core::plugin::{PartitionRequest, PluginRecord};
use runnel_core::replica::Acks;
use runnel_core::sim::Party;

use crate::model::{Action, BrokerView, Model, ReplicaView, Settings, Share, party_name};

/// Where a session survives a reload.
const STORAGE_KEY: &str = "runnel-playground";

/// The reducer's state: the model, moved into a new `Rc` on every action so Yew re-renders.
pub struct State {
    model: RefCell<Option<Model>>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            model: RefCell::new(Some(Model::default())),
        }
    }
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut model = self.model.borrow_mut().take().unwrap_or_default();
        model.apply(action);
        Rc::new(Self {
            model: RefCell::new(Some(model)),
        })
    }
}

impl State {
    fn with<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        let mut slot = self.model.borrow_mut();
        let model = slot.get_or_insert_with(Model::default);
        f(model)
    }
}

/// The whole page.
#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(State::default);
    let playing = state.with(|m| m.playing);

    // The animation clock: one Tick per frame while playing.
    {
        let dispatcher = state.dispatcher();
        use_effect_with(playing, move |playing| {
            let frame: Rc<RefCell<Option<AnimationFrame>>> = Rc::new(RefCell::new(None));
            if *playing {
                fn schedule(
                    slot: Rc<RefCell<Option<AnimationFrame>>>,
                    dispatcher: UseReducerDispatcher<State>,
                    last: f64,
                ) {
                    let next = slot.clone();
                    let handle = request_animation_frame(move |t| {
                        if last > 0.0 {
                            dispatcher.dispatch(Action::Tick(t - last));
                        }
                        schedule(next, dispatcher, t);
                    });
                    *slot.borrow_mut() = Some(handle);
                }
                schedule(frame.clone(), dispatcher, 0.0);
            }
            move || drop(frame.borrow_mut().take())
        });
    }

    // Keyboard: space plays or pauses, → steps 100 ms, ← rewinds 1 s, End runs to the end —
    // but never while the learner types in a field (the arrows move the caret there), never
    // for Space or Enter on a focused button or link (that key presses it), and never with a
    // modifier held (the browser's own shortcuts).
    {
        let dispatcher = state.dispatcher();
        use_effect_with(playing, move |playing| {
            let playing = *playing;
            let listener = gloo_utils::document().body().map(|body| {
                EventListener::new(&body, "keydown", move |event| {
                    let Some(key) = event.dyn_ref::<web_sys::KeyboardEvent>() else {
                        return;
                    };
                    if key.ctrl_key() || key.alt_key() || key.meta_key() {
                        return;
                    }
                    if let Some(target) = event
                        .target()
                        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    {
                        let tag = target.tag_name().to_ascii_uppercase();
                        let editable = matches!(tag.as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                            || target
                                .dyn_ref::<web_sys::HtmlElement>()
                                .is_some_and(|e| e.is_content_editable());
                        let pressable = matches!(tag.as_str(), "BUTTON" | "A" | "SUMMARY")
                            && matches!(key.key().as_str(), " " | "Enter");
                        if editable || pressable {
                            return;
                        }
                    }
                    let handled =
                        matches!(key.key().as_str(), " " | "ArrowRight" | "ArrowLeft" | "End");
                    if handled {
                        // Space and the arrows would also scroll the page.
                        event.prevent_default();
                    }
                    match key.key().as_str() {
                        " " => {
                            dispatcher.dispatch(if playing { Action::Pause } else { Action::Play })
                        }
                        "ArrowRight" => dispatcher.dispatch(Action::Step(100)),
                        "ArrowLeft" => dispatcher.dispatch(Action::Rewind(1_000)),
                        "End" => dispatcher.dispatch(Action::RunToEnd),
                        _ => {}
                    }
                })
            });
            move || drop(listener)
        });
    }

    // On first render: a session from the link, else from the last visit.
    {
        let dispatcher = state.dispatcher();
        use_effect_with((), move |_| {
            let from_hash = gloo_utils::window()
                .location()
                .hash()
                .ok()
                .and_then(|h| Share::decode(h.trim_start_matches('#')));
            let from_storage = || {
                gloo_storage::LocalStorage::get::<String>(STORAGE_KEY)
                    .ok()
                    .and_then(|t| Share::decode(&t))
            };
            if let Some(share) = from_hash.or_else(from_storage) {
                dispatcher.dispatch(Action::Load(share));
            }
        });
    }

    // While paused: the session goes into the link and into storage.
    let share = state.with(|m| m.share());
    {
        let text = share.encode();
        use_effect_with((playing, text), move |(playing, text)| {
            if !*playing {
                let _ = gloo_storage::LocalStorage::set(STORAGE_KEY, text.clone());
                if let Ok(history) = gloo_utils::window().history() {
                    let _ = history.replace_state_with_url(
                        &wasm_bindgen::JsValue::NULL,
                        "",
                        Some(&format!("#{text}")),
                    );
                }
            }
        });
    }

    let (scenarios, selected, title, lesson, now, end, speed) = state.with(|m| {
        (
            m.scenarios()
                .iter()
                .map(|s| (s.name, s.title))
                .collect::<Vec<_>>(),
            m.selected(),
            m.scenario().title,
            m.scenario().lesson,
            m.now_ms(),
            m.scenario().run_until_ms,
            m.speed,
        )
    });
    let report = state.with(|m| m.report());
    let brokers = state.with(|m| m.brokers());
    let settings = state.with(|m| m.settings());
    let parties = state.with(|m| m.parties());
    let cut = state.with(|m| m.cut_links());
    let slow = state.with(|m| m.slow_brokers());
    let group = state.with(|m| m.group());
    let timeline = state.with(|m| m.timeline());
    let strip_partition = use_state(|| 0u32);
    let partitions = state.with(|m| m.scenario().config.partitions);
    let strips = state.with(|m| m.log_strips((*strip_partition).min(partitions - 1), 12));
    let wires = state.with(|m| m.in_flight(WIRES_MAX));
    let pending = state.with(|m| m.producer_pending());
    let config = state.with(|m| *m.config());
    let produce_key = use_state(|| String::from("alice"));
    let produce_tombstone = use_state(|| false);
    let on_produce_key = store_value(&produce_key);
    let on_produce_tombstone = store_checked(&produce_tombstone);
    let on_strip_partition = {
        let strip_partition = strip_partition.clone();
        Callback::from(move |e: Event| {
            if let Some(value) = event_value(&e) {
                strip_partition.set(value.parse().unwrap_or(0));
            }
        })
    };
    let keys_text = use_state(|| String::from(KEY_SAMPLES));
    let past_horizon = use_state(|| false);
    let on_keys = store_value(&keys_text);
    let on_horizon = store_checked(&past_horizon);
    let keyed = crate::keys::parse(&keys_text);
    let keyed_partitions = crate::keys::partitions(&keyed, 3);
    let compacted = crate::keys::compact(&keyed, *past_horizon);
    let chapters = state.with(|m| m.chapters());
    let chapter = state.with(|m| m.chapter());
    let on_export = {
        let text = share.encode();
        Callback::from(move |_: MouseEvent| download("runnel-session.txt", &text))
    };
    let import_error = use_state(|| None::<String>);
    let on_import = {
        let dispatcher = state.dispatcher();
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
    let plugin_result = use_state(|| None::<Result<Vec<(String, u32)>, String>>);
    let samples = use_state(|| String::from(SAMPLES));
    let on_samples = store_value(&samples);
    let on_plugin = {
        let result = plugin_result.clone();
        let samples = samples.clone();
        Callback::from(move |e: Event| {
            let Some(file) = chosen_file(&e) else {
                return;
            };
            let result = result.clone();
            let records = sample_records(&samples);
            wasm_bindgen_futures::spawn_local(async move {
                let blob = gloo_file::Blob::from(file);
                let outcome = match gloo_file::futures::read_as_bytes(&blob).await {
                    Ok(wasm) => {
                        let request = PartitionRequest {
                            partitions: 3,
                            records: records.iter().map(|(_, r)| r.clone()).collect(),
                        };
                        crate::plugin::partition(&wasm, &request)
                            .await
                            .map(|chosen| {
                                records
                                    .iter()
                                    .map(|(line, _)| line.clone())
                                    .zip(chosen)
                                    .collect()
                            })
                    }
                    Err(e) => Err(e.to_string()),
                };
                result.set(Some(outcome));
            });
        })
    };
    let cb = |action: Action| {
        let dispatcher = state.dispatcher();
        Callback::from(move |_: MouseEvent| dispatcher.dispatch(action.clone()))
    };
    // Keep the picker showing the lesson in force (a load or an import changes it too).
    let picker = use_node_ref();
    {
        let picker = picker.clone();
        let name = scenarios[selected].0;
        use_effect_with(name, move |name| {
            if let Some(select) = picker.cast::<web_sys::HtmlSelectElement>() {
                select.set_value(name);
            }
        });
    }
    let on_select = {
        let dispatcher = state.dispatcher();
        let names: Vec<&'static str> = scenarios.iter().map(|(name, _)| *name).collect();
        Callback::from(move |e: Event| {
            if let Some(select) = e.target_dyn_into::<web_sys::HtmlSelectElement>() {
                if let Some(index) = names.iter().position(|n| *n == select.value()) {
                    dispatcher.dispatch(Action::Select(index));
                }
            }
        })
    };
    let on_seek = {
        let dispatcher = state.dispatcher();
        Callback::from(move |e: Event| {
            if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                if let Ok(ms) = input.value().parse() {
                    dispatcher.dispatch(Action::Seek(ms));
                }
            }
        })
    };
    let configure = |change: fn(Settings, String) -> Settings| {
        let dispatcher = state.dispatcher();
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
    // The broker's own rule (core's topic_config: min.insync.replicas ≥ 1): 0 is refused.
    let on_min_insync = configure(|s, v| Settings {
        min_insync_replicas: runnel_core::topic_config::validate("min.insync.replicas", &v)
            .ok()
            .and_then(|_| v.trim().parse().ok())
            .unwrap_or(s.min_insync_replicas),
        ..s
    });
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
    let on_speed = {
        let dispatcher = state.dispatcher();
        Callback::from(move |e: Event| {
            if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                if let Ok(speed) = input.value().parse() {
                    dispatcher.dispatch(Action::SetSpeed(speed));
                }
            }
        })
    };

    html! {
        <main>
            <header>
                <h1 data-testid="headline">{ "Apache Kafka failover, simulated in your browser" }</h1>
                <p class="intro">
                    { "A whole Kafka-style cluster runs in this page: a controller, three brokers,                        a producer and consumers, on a simulated network and clock. Pick a lesson,                        press ▶ Play, and watch each broker's log, high watermark and ISR; then                        kill a broker or cut a link to break it yourself. (runnel playground)" }
                </p>
                <label>{ "Lesson " }
                    <select data-testid="scenario" ref={picker} onchange={on_select}>
                        { for lesson_groups(&scenarios).into_iter().map(|(group, members)| html! {
                            <optgroup label={group}>
                                { for members.into_iter().map(|i| {
                                    let (name, title) = scenarios[i];
                                    html! {
                                        <option value={name} selected={i == selected}>{ title }</option>
                                    }
                                }) }
                            </optgroup>
                        }) }
                    </select>
                </label>
            </header>
            <section class="lesson">
                <h2>{ title }</h2>
                <p>{ lesson }</p>
                // The live region is the chapter, which changes a few times a lesson; the
                // counters below change every frame and would be read out without pause.
                <p class="chapter" data-testid="chapter" aria-live="polite">
                    { format!("Chapter {} of {} — at {:.1} s: {}", chapter + 1, chapters.len(),
                        chapters[chapter].0 as f64 / 1000.0, chapters[chapter].1) }
                </p>
                <p>
                    <button data-testid="chapter-prev" disabled={chapter == 0} onclick={cb(Action::Chapter(chapter.saturating_sub(1)))}>{ "◀ Previous chapter" }</button>
                    { " " }
                    <button data-testid="chapter-next" disabled={chapter + 1 >= chapters.len()} onclick={cb(Action::Chapter(chapter + 1))}>{ "Next chapter ▶" }</button>
                    if chapter + 1 < chapters.len() {
                        <span>{ format!(" next, at {:.1} s: {}", chapters[chapter + 1].0 as f64 / 1000.0, chapters[chapter + 1].1) }</span>
                    }
                </p>
                <p class="numbers">
                    { "So far " }
                    <strong data-testid="sent">{ report.sent }</strong>{ " records sent: " }
                    <strong data-testid="acknowledged">{ report.acknowledged }</strong>{ " acknowledged, " }
                    <strong data-testid="refused">{ report.refused }</strong>{ " refused (not enough replicas), " }
                    <strong data-testid="failed">{ report.failed }</strong>{ " failed, " }
                    <strong data-testid="pending">{ report.pending }</strong>{ " waiting for an answer." }
                </p>
                <p class="numbers">
                    { "Of the acknowledged: " }
                    <strong data-testid="committed">{ report.acknowledged - report.at_risk - report.lost }</strong>
                    { " committed (below the leader's high watermark), " }
                    <strong data-testid="at-risk">{ report.at_risk }</strong>
                    { " at risk (the leader has them above its high watermark, or no leader is up), " }
                    <strong data-testid="lost">{ report.lost }</strong>
                    { " lost (truncated away, or a leader was elected without them)." }
                </p>
            </section>
            <section class="controls">
                if playing {
                    <button data-testid="pause" onclick={cb(Action::Pause)}>{ "⏸ Pause" }<span class="key">{ " (space)" }</span></button>
                } else {
                    <button data-testid="play" onclick={cb(Action::Play)}>{ "▶ Play" }<span class="key">{ " (space)" }</span></button>
                }
                <button data-testid="step" onclick={cb(Action::Step(100))}>{ "Step 100 ms" }<span class="key">{ " (→)" }</span></button>
                <button data-testid="rewind" onclick={cb(Action::Rewind(1_000))}>{ "Back 1 s" }<span class="key">{ " (←)" }</span></button>
                <button data-testid="fork" onclick={cb(Action::Fork(now))}>{ "Fork here" }</button>
                <button data-testid="end" onclick={cb(Action::RunToEnd)}>{ "Run to end" }<span class="key">{ " (End)" }</span></button>
                <label>{ "Speed " }
                    <input type="range" min="0.5" max="50" step="0.5" value={speed.to_string()} onchange={on_speed} aria-label="speed"/>
                </label>
                <label>{ "Time " }
                    <input data-testid="scrub" type="range" min="0" max={end.to_string()} step="100" value={now.to_string()} onchange={on_seek} aria-label="time"/>
                </label>
                <button data-testid="export" onclick={on_export}>{ "Export session" }</button>
                <label>{ "Import " }
                    <input data-testid="import" type="file" accept=".txt" onchange={on_import}/>
                </label>
                if let Some(e) = &*import_error {
                    <span data-testid="import-error">{ e.clone() }</span>
                }
                <span data-testid="time">{ format!("{:.1} s of {:.0} s", now as f64 / 1000.0, end as f64 / 1000.0) }</span>
            </section>
            { network_view(&parties, &cut, &wires, now, group.members.iter().filter(|m| m.active).map(|m| m.index).collect()) }
            <section class="cluster">
                { for brokers.iter().map(|b| broker_view(b, &cb, slow.iter().find(|(x, _)| *x == b.id).map(|(_, ms)| *ms))) }
            </section>
            <section class="logs">
                <h3>
                    { "Log of partition " }
                    <select data-testid="log-partition" aria-label="partition" onchange={on_strip_partition}>
                        { for (0..partitions).map(|p| html! {
                            <option value={p.to_string()} selected={p == *strip_partition}>{ format!("p{p}") }</option>
                        }) }
                    </select>
                    { " — the last 12 records on each replica: offset:key=record id (✝ a tombstone); ✱ marks records at or above that replica's high watermark (not committed)" }
                </h3>
                { for strips.iter().map(|strip| html! {
                    <div class="strip" data-testid={format!("log-{}", strip.broker)}>
                        <span class="who" data-testid={format!("log-start-{}", strip.broker)}>
                            { format!("B{} · log start {} · {} records", strip.broker, strip.log_start, strip.records) }
                        </span>
                        { for strip.cells.iter().map(|c| html! {
                            <span class={classes!("cell", (!c.committed).then_some("uncommitted"), c.tombstone.then_some("tombstone"))}
                                  title={format!("offset {}, record {}", c.offset, c.id)}>
                                { cell_text(c) }
                            </span>
                        }) }
                    </div>
                }) }
            </section>
            <section class="panels">
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
                            { for [("forever", None), ("5000", Some(5_000u64)), ("30000", Some(30_000)), ("604800000 (7 d)", Some(604_800_000))].into_iter().map(|(label, v)| html! {
                                <option value={v.map_or(String::from("-1"), |v| v.to_string())} selected={v == settings.retention_ms}>{ label }</option>
                            }) }
                        </select>
                    </label>
                </fieldset>
                <fieldset class="producer" data-testid="producer">
                    <legend>{ "Producer" }</legend>
                    <p>
                        { format!("acks={} · partitioner: {} · ", acks_name(config.producer.acks),
                            if config.producer.keys > 0 { "murmur2(key) mod partitions" } else { "no key: partitions in turn" }) }
                        { if config.producer.keys > 0 { format!("keys k0..k{} · ", config.producer.keys - 1) } else { String::new() } }
                        <span data-testid="pending">{ format!("{} waiting for an answer", pending.len()) }</span>
                    </p>
                    <ul class="pending">
                        { for pending.iter().take(6).map(|r| html! {
                            <li>{ format!("record {} → p{}{}{}", r.id, r.partition,
                                r.key.as_deref().map(|k| format!(" key {k}")).unwrap_or_default(),
                                if r.attempts > 0 { format!(", retry {}", r.attempts) } else { String::new() }) }</li>
                        }) }
                    </ul>
                    <label>{ "Key " }
                        <input data-testid="produce-key" type="text" maxlength="24" value={(*produce_key).clone()} onchange={on_produce_key}/>
                    </label>
                    <label>
                        <input data-testid="produce-tombstone" type="checkbox" checked={*produce_tombstone} onchange={on_produce_tombstone}/>
                        { " tombstone (null value)" }
                    </label>
                    <button data-testid="produce" onclick={cb(Action::Produce((*produce_key).clone(), *produce_tombstone))}>{ "Send" }</button>
                    <button data-testid="compact" onclick={cb(Action::Compact)}>{ "Run the log cleaner now" }</button>
                </fieldset>
                <fieldset class="links">
                    <legend>{ "Network links" }</legend>
                    <ul>
                        { for pairs(&parties).into_iter().map(|(a, b)| {
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
                <fieldset class="group" data-testid="group">
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
                    <table class="committed" data-testid="committed">
                        <tr><th>{ "partition" }</th><th>{ "committed" }</th><th>{ "lag" }</th></tr>
                        { for group.committed.iter().map(|(p, at, lag)| html! {
                            <tr><td>{ format!("p{p}") }</td><td>{ at.map_or(String::from("none"), |o| o.to_string()) }</td><td>{ lag }</td></tr>
                        }) }
                    </table>
                    <button data-testid="reset-earliest" onclick={cb(Action::ResetOffsets(true))}>{ "Reset offsets to earliest" }</button>
                    <button data-testid="reset-latest" onclick={cb(Action::ResetOffsets(false))}>{ "to latest" }</button>
                </fieldset>
                <fieldset class="keys">
                    <legend>{ "Keys, partitions and compaction" }</legend>
                    <label>{ "Records, one per line: key=value (key= is a tombstone)" }
                        <textarea data-testid="keys-input" rows="6" onchange={on_keys} value={(*keys_text).clone()}/>
                    </label>
                    <ol data-testid="keys-partitions" start="0">
                        { for keyed.iter().zip(&keyed_partitions).map(|((k, v), p)| html! {
                            <li>{ format!("{k}={} → partition {p} of 3", v.as_deref().unwrap_or("(tombstone)")) }</li>
                        }) }
                    </ol>
                    <label>
                        <input data-testid="past-horizon" type="checkbox" checked={*past_horizon} onchange={on_horizon}/>
                        { format!(" the delete horizon has passed (delete.retention.ms = {} ms)", crate::keys::DELETE_RETENTION_MS) }
                    </label>
                    { match &compacted {
                        Ok((before, after)) => html! {
                            <>
                                <p>{ "The log, one batch per record: " }
                                    { for before.iter().map(|s| html! { <span class="cell">{ shown(s) }</span> }) }
                                </p>
                                <p data-testid="compacted">{ "After compaction: " }
                                    { for after.iter().map(|s| html! { <span class="cell">{ shown(s) }</span> }) }
                                </p>
                            </>
                        },
                        Err(e) => html! { <p>{ format!("compaction failed: {e}") }</p> },
                    } }
                </fieldset>
                <fieldset class="plugin">
                    <legend>{ "Try a partitioner plugin (.wasm) on 3 partitions" }</legend>
                    <label>{ "Sample records, one per line: key,value[,region]" }
                        <textarea data-testid="plugin-samples" rows="4" onchange={on_samples} value={(*samples).clone()}/>
                    </label>
                    <label>{ "Plugin " }
                        <input data-testid="plugin-file" type="file" accept=".wasm" onchange={on_plugin}/>
                    </label>
                    { match &*plugin_result {
                        None => html! {},
                        Some(Err(e)) => html! { <p data-testid="plugin-error">{ format!("refused: {e}") }</p> },
                        Some(Ok(rows)) => html! {
                            <ol data-testid="plugin-result">
                                { for rows.iter().map(|(line, p)| html! { <li>{ format!("{line} → partition {p}") }</li> }) }
                            </ol>
                        },
                    } }
                </fieldset>
                <fieldset class="timeline">
                    <legend>{ "Events" }</legend>
                    <ol data-testid="timeline">
                        { for timeline.iter().map(|line| html! { <li><code>{ line }</code></li> }) }
                    </ol>
                </fieldset>
            </section>
        </main>
    }
}

/// The value of the text input, textarea or select that sent `e`.
fn event_value(e: &Event) -> Option<String> {
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
fn event_checked(e: &Event) -> Option<bool> {
    e.target_dyn_into::<web_sys::HtmlInputElement>()
        .filter(|i| i.type_() == "checkbox")
        .map(|i| i.checked())
}

/// A callback that keeps `state` equal to the sender's text.
fn store_value(state: &UseStateHandle<String>) -> Callback<Event> {
    let state = state.clone();
    Callback::from(move |e: Event| {
        if let Some(value) = event_value(&e) {
            state.set(value);
        }
    })
}

/// A callback that keeps `state` equal to the sending checkbox.
fn store_checked(state: &UseStateHandle<bool>) -> Callback<Event> {
    let state = state.clone();
    Callback::from(move |e: Event| {
        if let Some(checked) = event_checked(&e) {
            state.set(checked);
        }
    })
}

/// The file chosen in the file input that sent `e`.
fn chosen_file(e: &Event) -> Option<web_sys::File> {
    e.target_dyn_into::<web_sys::HtmlInputElement>()
        .and_then(|i| i.files())
        .and_then(|f| f.get(0))
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

/// The keys lesson's sample records.
const KEY_SAMPLES: &str = "a=a1\nb=b1\na=a2\nc=c1\nb=\na=a3";

/// A record of the keys lesson as `offset:key=value` (✝ for a tombstone).
fn shown(s: &crate::keys::Shown) -> String {
    format!(
        "{}:{}={}",
        s.offset,
        s.key,
        s.value.as_deref().unwrap_or("✝")
    )
}

/// The plugin panel's sample records.
const SAMPLES: &str =
    "order-1,{\"region\":\"eu\"}\norder-2,{\"region\":\"us\"}\norder-3,{},ap\norder-4,{}";

/// The lessons by topic, in the order each topic first appears, with their indexes: what the
/// picker shows as option groups, so a newcomer sees five subjects, not 25 names.
fn lesson_groups(scenarios: &[(&'static str, &'static str)]) -> Vec<(&'static str, Vec<usize>)> {
    let mut groups: Vec<(&'static str, Vec<usize>)> = Vec::new();
    for (i, (name, _)) in scenarios.iter().enumerate() {
        let group = lesson_group(name);
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, members)) => members.push(i),
            None => groups.push((group, vec![i])),
        }
    }
    groups
}

/// The topic a lesson (by its scenario name) belongs to.
fn lesson_group(name: &str) -> &'static str {
    match name {
        "partitions-ordering"
        | "consumer-group-rebalance"
        | "offsets-rewind"
        | "coordinator-paused" => "Partitions and consumer groups",
        "retention" | "compaction" => "Cleaning the log: retention and compaction",
        n if n.starts_with("acks") => "Durability: acks, min.insync.replicas, unclean election",
        n if n.starts_with("np") => "Network partitions",
        n if n.starts_with("sandbox") => "Sandbox",
        _ => "Leaders, epochs and truncation",
    }
}

/// Sample lines as records: `key,value[,region header]`.
fn sample_records(text: &str) -> Vec<(String, PluginRecord)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut fields = line.splitn(2, ',');
            let key = fields.next().unwrap_or_default();
            let rest = fields.next().unwrap_or_default();
            let (value, region) = match rest.rsplit_once(',') {
                Some((v, r)) if !r.contains(['{', '}', '"']) => (v, Some(r)),
                _ => (rest, None),
            };
            let record = PluginRecord {
                key: Some(key.as_bytes().to_vec()),
                value: Some(value.as_bytes().to_vec()),
                headers: region
                    .map(|r| vec![("region".to_string(), Some(r.trim().as_bytes().to_vec()))])
                    .unwrap_or_default(),
                timestamp: 0,
            };
            (line.to_string(), record)
        })
        .collect()
}

/// Wires the network view draws at most.
const WIRES_MAX: usize = 300;

/// A log strip cell: `offset:key=id`, ✝ for a tombstone, ✱ above the HW.
fn cell_text(c: &crate::model::LogCell) -> String {
    let key = c
        .key
        .as_deref()
        .map(|k| format!("{k}="))
        .unwrap_or_default();
    let value = if c.tombstone {
        String::from("✝")
    } else {
        c.id.to_string()
    };
    format!(
        "{}:{key}{value}{}",
        c.offset,
        if c.committed { "" } else { "✱" }
    )
}

/// `acks` as Kafka writes it.
fn acks_name(acks: Acks) -> &'static str {
    match acks {
        Acks::None => "0",
        Acks::Leader => "1",
        Acks::All => "all",
    }
}

/// The network view's size.
const NETWORK_WIDTH: f64 = 640.0;
const NETWORK_HEIGHT: f64 = 340.0;

/// Where a party sits in the network view. Brokers sit on an arch, not a line, with the
/// clients well below them: a straight link between two parties then never passes through a
/// third broker (three in a row drew B0 ↔ B2 through B1, which read as B0 ↔ B1). The numbers
/// come from a search over such layouts that keeps every link at least 20 px from the centre
/// of every other broker (radius 16) with 3 or 5 brokers and up to 6 members
/// (`no_link_passes_through_a_third_broker`).
fn position(party: Party, brokers: usize, members: &[u32]) -> (f64, f64) {
    match party {
        Party::Quorum => (320.0, 30.0),
        Party::Broker(b) => {
            let x = 320.0 + NETWORK_WIDTH * ((f64::from(b) + 1.0) / (brokers as f64 + 1.0) - 0.5);
            let off_centre = (x - 320.0) / 240.0;
            (x, 150.0 + 140.0 * off_centre * off_centre)
        }
        Party::Producer => (100.0, 310.0),
        Party::Consumer => (540.0, 310.0),
        Party::Member(m) => {
            let i = members.iter().position(|x| *x == m).unwrap_or(0);
            (150.0 + 40.0 * i as f64, 310.0)
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
fn network_view(
    parties: &[Party],
    cut: &[(Party, Party)],
    wires: &[runnel_core::sim::Wire],
    now: u64,
    members: Vec<u32>,
) -> Html {
    let brokers = parties
        .iter()
        .filter(|p| matches!(p, Party::Broker(_)))
        .count();
    let at = |p: Party| position(p, brokers, &members);
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
        <section class="network">
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

/// Every unordered pair of parties that talk in Kafka, smaller first: at least one side is a
/// broker (clients talk only to brokers, the controller quorum only to brokers), so there is
/// no quorum↔producer link to cut that would cut nothing.
fn pairs(parties: &[Party]) -> Vec<(Party, Party)> {
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

/// One replica's line on its broker's card: role, LEO, HW and leader epoch. A replica that
/// still acts as leader after the controller moved leadership away says so (split brain:
/// it can take acks=1 writes the new leader never sees).
fn replica_line(r: &ReplicaView) -> String {
    let role = if r.leader {
        "leader"
    } else if r.acts_as_leader {
        "stale leader (deposed, has not heard)"
    } else if r.in_sync {
        "in ISR"
    } else {
        "out of ISR"
    };
    format!(
        "p{} {role} · LEO {} · HW {} · epoch {}",
        r.partition, r.leo, r.hw, r.epoch
    )
}

/// A broker card's accessible name: what the card draws, in words (a screen reader does not
/// read the text inside an `role="img"` drawing), so "broker 0 up" alone hid every replica.
fn broker_summary(b: &BrokerView, status: &str) -> String {
    let replicas: Vec<String> = b.replicas.iter().map(replica_line).collect();
    if replicas.is_empty() {
        format!("broker {} {status}", b.id)
    } else {
        format!("broker {} {status}: {}", b.id, replicas.join("; "))
    }
}

/// One broker: its state in words, its replicas, kill, restart and slow.
fn broker_view(
    b: &BrokerView,
    cb: &dyn Fn(Action) -> Callback<MouseEvent>,
    slow: Option<u64>,
) -> Html {
    let status = if b.down {
        "down"
    } else if b.live {
        "up"
    } else {
        "fenced"
    };
    let height = 40 + 22 * b.replicas.len();
    html! {
        <article class={classes!("broker", status)} data-testid={format!("broker-{}", b.id)}>
            <svg viewBox={format!("0 0 320 {height}")} width="320" height={height.to_string()} role="img" aria-label={broker_summary(b, status)}>
                <rect x="1" y="1" width="318" height={(height - 2).to_string()} rx="8" class="box"/>
                <text x="10" y="22" class="title">{ format!("broker {} — {status}", b.id) }</text>
                { for b.replicas.iter().enumerate().map(|(i, r)| {
                    let y = 44 + 22 * i;
                    html! {
                        <text x="10" y={y.to_string()} class={classes!("replica", r.leader.then_some("leader"))}
                              data-testid={format!("replica-{}-{}", b.id, r.partition)}>
                            { replica_line(r) }
                        </text>
                    }
                }) }
            </svg>
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

    /// The card's accessible name carries each replica's role, LEO, HW and epoch (issue 17:
    /// it was "broker 0 down" alone).
    #[test]
    fn a_broker_cards_name_says_what_it_draws() {
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
        let b = BrokerView {
            id: 1,
            down: false,
            live: true,
            replicas: vec![replica(0, true, true), replica(1, false, false)],
        };
        assert_eq!(
            broker_summary(&b, "up"),
            "broker 1 up: p0 leader · LEO 12 · HW 10 · epoch 3; p1 out of ISR · LEO 12 · HW 10 · epoch 3"
        );
        let empty = BrokerView {
            replicas: Vec::new(),
            ..b
        };
        assert_eq!(broker_summary(&empty, "fenced"), "broker 1 fenced");
        // Split brain: the controller moved leadership away, the replica still leads.
        let deposed = ReplicaView {
            acts_as_leader: true,
            ..replica(2, false, false)
        };
        assert_eq!(
            replica_line(&deposed),
            "p2 stale leader (deposed, has not heard) · LEO 12 · HW 10 · epoch 3"
        );
    }

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

    /// Issue 17, item 4: with 3 brokers (the lessons) or 5 (the sandbox), no straight link
    /// between two parties passes through a broker that is neither of them.
    #[test]
    fn no_link_passes_through_a_third_broker() {
        for brokers in [3u32, 5] {
            let mut parties = vec![Party::Quorum, Party::Producer, Party::Consumer];
            parties.extend((0..brokers).map(Party::Broker));
            let members = [0, 1, 2, 3, 4, 5];
            parties.extend(members.iter().map(|m| Party::Member(*m)));
            let at = |p: Party| position(p, brokers as usize, &members);
            for (a, b) in pairs(&parties) {
                let ((x1, y1), (x2, y2)) = (at(a), at(b));
                for c in (0..brokers)
                    .map(Party::Broker)
                    .filter(|c| *c != a && *c != b)
                {
                    let (x, y) = at(c);
                    // Distance from the broker's centre to the segment a–b.
                    let (dx, dy) = (x2 - x1, y2 - y1);
                    let t = (((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
                    let d = ((x1 + t * dx - x).powi(2) + (y1 + t * dy - y).powi(2)).sqrt();
                    assert!(
                        d > 20.0,
                        "{brokers} brokers: {a:?}–{b:?} passes {d:.1} px from {c:?} (radius 16)"
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

    /// Issue 17, item 6: the lessons come grouped by subject, each exactly once.
    #[test]
    fn lessons_are_grouped_by_subject() {
        let lessons: Vec<(&'static str, &'static str)> = crate::model::Model::new(0)
            .scenarios()
            .iter()
            .map(|s| (s.name, s.title))
            .collect();
        let groups = lesson_groups(&lessons);
        assert_eq!(groups.len(), 6, "{groups:?}");
        let listed: usize = groups.iter().map(|(_, m)| m.len()).sum();
        assert_eq!(listed, lessons.len(), "every lesson in one group");
        assert_eq!(groups[0].0, "Partitions and consumer groups");
        assert_eq!(groups.last().map(|g| g.0), Some("Sandbox"));
    }

    #[test]
    fn sample_lines_become_records() {
        let records = sample_records(SAMPLES);
        assert_eq!(records.len(), 4);
        assert_eq!(
            records[0].1.value.as_deref(),
            Some(&br#"{"region":"eu"}"#[..])
        );
        assert_eq!(records[0].1.header("region"), None);
        assert_eq!(records[2].1.value.as_deref(), Some(&b"{}"[..]));
        assert_eq!(records[2].1.header("region"), Some(&b"ap"[..]));
        assert_eq!(records[3].1.key.as_deref(), Some(&b"order-4"[..]));
    }
}
