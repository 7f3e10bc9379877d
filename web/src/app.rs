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
use runnel_core::sim::Party;

use crate::components::{
    Cluster, Events, GroupPanel, KeysPanel, LinksPanel, LogTable, PluginPanel, ProducerPanel,
    SettingsPanel, chosen_file, event_checked,
};
use crate::model::{Action, Focus, Model, Share, party_name};

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
    // The panels' data, recomputed only when the model says they should be redrawn (at most
    // ten times a second while playing); the network view and the clock every frame.
    let panels = state.with(|m| m.panels_version());
    let strip_partition = use_state(|| 0u32);
    let report = {
        let state = state.clone();
        use_memo(panels, move |_| state.with(|m| m.report()))
    };
    let brokers = {
        let state = state.clone();
        use_memo(panels, move |_| state.with(|m| m.brokers()))
    };
    let slow = {
        let state = state.clone();
        use_memo(panels, move |_| state.with(|m| m.slow_brokers()))
    };
    let group = {
        let state = state.clone();
        use_memo(panels, move |_| state.with(|m| m.group()))
    };
    let timeline = {
        let state = state.clone();
        use_memo(panels, move |_| state.with(|m| m.timeline()))
    };
    let leadership = {
        let state = state.clone();
        use_memo(panels, move |_| {
            state.with(|m| m.leadership_changes(PINNED_CHANGES))
        })
    };
    let pending = {
        let state = state.clone();
        use_memo(panels, move |_| state.with(|m| m.producer_pending()))
    };
    let partitions = state.with(|m| m.scenario().config.partitions);
    let log_table = {
        let state = state.clone();
        use_memo((panels, *strip_partition), move |(_, p)| {
            state.with(|m| m.log_table((*p).min(partitions - 1), LOG_TABLE_COLUMNS))
        })
    };
    let settings = state.with(|m| m.settings());
    let parties = Rc::new(state.with(|m| m.parties()));
    let cut = Rc::new(state.with(|m| m.cut_links()));
    let wires = state.with(|m| m.in_flight(WIRES_MAX));
    let config = state.with(|m| *m.config());
    let dispatcher = state.dispatcher();
    let used =
        state.with(|m| LessonPanels::of(m.scenario().name, m.scenario().config.group_members));
    let chapters = state.with(|m| m.chapters());
    let chapter = state.with(|m| m.chapter());
    let guided = state.with(|m| m.guided);
    let guide = state.with(|m| m.chapter_guide(chapter));
    // Guided, the chapter's part of the page is outlined.
    let focus = guided.then(|| guide.1.clone());
    let on_guided = {
        let dispatcher = state.dispatcher();
        Callback::from(move |e: Event| {
            if let Some(on) = event_checked(&e) {
                dispatcher.dispatch(Action::Guide(on));
            }
        })
    };
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
            <div class="top">
            <div class="story">
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
                    <label>
                        <input data-testid="guided" type="checkbox" checked={guided} onchange={on_guided}/>
                        { " Guided: stop at each chapter and say what to look at" }
                    </label>
                </p>
                if guided {
                    <p class="guide" data-testid="guide">{ format!("Look: {}", guide.0) }</p>
                }
                <p>
                    <button data-testid="chapter-prev" disabled={chapter == 0} onclick={cb(Action::Chapter(chapter.saturating_sub(1)))}>{ "◀ Previous chapter" }</button>
                    { " " }
                    <button data-testid="chapter-next" disabled={chapter + 1 >= chapters.len()} onclick={cb(Action::Chapter(chapter + 1))}>{ "Next chapter ▶" }</button>
                    if chapter + 1 < chapters.len() {
                        <span>{ format!(" next, at {:.1} s: {}", chapters[chapter + 1].0 as f64 / 1000.0, chapters[chapter + 1].1) }</span>
                    }
                </p>
                <p class={classes!("numbers", highlight(&focus, &Focus::Counters))}>
                    { "So far " }
                    <strong data-testid="sent">{ report.sent }</strong>{ " records sent: " }
                    <strong data-testid="acknowledged">{ report.acknowledged }</strong>{ " acknowledged, " }
                    <strong data-testid="refused">{ report.refused }</strong>{ " refused (not enough replicas), " }
                    <strong data-testid="failed">{ report.failed }</strong>{ " failed, " }
                    <strong data-testid="pending">{ report.pending }</strong>{ " waiting for an answer." }
                </p>
                <p class={classes!("numbers", highlight(&focus, &Focus::Counters))}>
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
            </div>
            <Cluster brokers={brokers.clone()} slow={slow.clone()} focus={focus.clone()} dispatcher={dispatcher.clone()}/>
            </div>
            { network_view(&parties, &cut, &wires, now, group.members.iter().filter(|m| m.active).map(|m| m.index).collect(), focus == Some(Focus::Network)) }
            <LogTable highlight={focus == Some(Focus::LogTable)} table={log_table.clone()} partitions={partitions} partition={*strip_partition} on_partition={strip_partition.setter()}/>
            <section class="panels">
                <SettingsPanel settings={settings} dispatcher={dispatcher.clone()}/>
                <ProducerPanel pending={pending.clone()} config={config} dispatcher={dispatcher.clone()}/>
                <LinksPanel parties={parties.clone()} cut={cut.clone()} dispatcher={dispatcher.clone()}/>
                if used.group { <GroupPanel highlight={focus == Some(Focus::Group)} group={group.clone()} dispatcher={dispatcher.clone()}/> }
                if used.keys { <KeysPanel/> }
                if used.plugin { <PluginPanel/> }
                <Events pinned={leadership.clone()} lines={timeline.clone()}/>
                if !used.all() {
                    <details class="more-tools" data-testid="more-tools">
                        <summary>{ format!("More tools, not used by this lesson: {}", used.unused().join(", ")) }</summary>
                        <div class="panels">
                            if !used.group { <GroupPanel highlight={focus == Some(Focus::Group)} group={group.clone()} dispatcher={dispatcher.clone()}/> }
                            if !used.keys { <KeysPanel/> }
                            if !used.plugin { <PluginPanel/> }
                        </div>
                    </details>
                }
            </section>
        </main>
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

/// Which optional panels a lesson uses: the others wait folded under "More tools", so a
/// newcomer sees what the lesson is about first (issue 17, item 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LessonPanels {
    /// The consumer group panel: the lesson runs group members.
    group: bool,
    /// Keys, partitions and compaction: lessons on partitions and on cleaning the log.
    keys: bool,
    /// The partitioner plugin: lessons on partitions.
    plugin: bool,
}

impl LessonPanels {
    /// The panels the lesson `name` (with `group_members` consumers) uses.
    fn of(name: &str, group_members: u32) -> Self {
        let topic = lesson_group(name);
        let partitions = topic == "Partitions and consumer groups" || topic == "Sandbox";
        Self {
            group: group_members > 0,
            keys: partitions || topic == "Cleaning the log: retention and compaction",
            plugin: partitions,
        }
    }

    /// Whether every panel is in use.
    fn all(self) -> bool {
        self.group && self.keys && self.plugin
    }

    /// The unused panels' names.
    fn unused(self) -> Vec<&'static str> {
        [
            (self.group, "consumer group"),
            (self.keys, "keys and compaction"),
            (self.plugin, "partitioner plugin"),
        ]
        .into_iter()
        .filter(|(used, _)| !used)
        .map(|(_, name)| name)
        .collect()
    }
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

/// The class that outlines the part of the page `focus` points at, if it is `part`.
fn highlight(focus: &Option<Focus>, part: &Focus) -> Option<&'static str> {
    (focus.as_ref() == Some(part)).then_some("highlight")
}

/// Leadership and ISR changes the events list pins.
const PINNED_CHANGES: usize = 4;

/// Offsets the log table shows.
const LOG_TABLE_COLUMNS: usize = 12;

/// Wires the network view draws at most.
const WIRES_MAX: usize = 300;

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
    highlighted: bool,
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
    /// A lesson shows the panels it uses; the rest are folded (issue 17, item 6).
    #[test]
    fn a_lesson_shows_the_panels_it_uses() {
        let of = |name: &str| {
            let scenario = runnel_core::scenario::by_name(name).expect(name);
            LessonPanels::of(name, scenario.config.group_members)
        };
        let acks1 = of("acks1-failover");
        assert_eq!(
            (acks1.group, acks1.keys, acks1.plugin),
            (false, false, false)
        );
        assert_eq!(
            acks1.unused(),
            [
                "consumer group",
                "keys and compaction",
                "partitioner plugin"
            ]
        );
        let rebalance = of("consumer-group-rebalance");
        assert!(rebalance.all(), "{rebalance:?}");
        let compaction = of("compaction");
        assert_eq!(
            (compaction.group, compaction.keys, compaction.plugin),
            (false, true, false)
        );
        let sandbox = crate::model::sandbox();
        assert!(LessonPanels::of(sandbox.name, sandbox.config.group_members).all());
    }

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
}
