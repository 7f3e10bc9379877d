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

use crate::components::{
    Cluster, Counters, Events, GroupPanel, KeysPanel, LessonText, LinksPanel, LogTable,
    NetworkView, PluginPanel, ProducerPanel, SettingsPanel, TimeControls,
};
use crate::model::{Action, Focus, Model, Share};

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

/// One panel's data read from the model, again only when the panels' `version` changes
/// ([`Model::panels_version`]): at most five times a second while playing.
#[hook]
fn use_panel<T: 'static>(
    state: &UseReducerHandle<State>,
    version: u64,
    read: fn(&mut Model) -> T,
) -> Rc<T> {
    let state = state.clone();
    use_memo(version, move |_| state.with(read))
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
    // on a focused button, link or summary (Space and Enter press it; the shortcuts would act
    // on the page behind it), and never with a modifier held (the browser's own shortcuts).
    // The listener is not passive: a shortcut handled here does not also scroll the page.
    {
        let dispatcher = state.dispatcher();
        use_effect_with(playing, move |playing| {
            let playing = *playing;
            let listener = gloo_utils::document().body().map(|body| {
                let options = gloo_events::EventListenerOptions::enable_prevent_default();
                EventListener::new_with_options(&body, "keydown", options, move |event| {
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
                        let pressable = matches!(tag.as_str(), "BUTTON" | "A" | "SUMMARY");
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

    // The panels' data, recomputed only when the model says they should be redrawn (at most
    // five times a second while playing); the network view and the clock every frame.
    let panels = state.with(|m| m.panels_version());

    // While paused: the session goes into the link and into storage.
    let session = use_panel(&state, panels, |m| m.share().encode());
    {
        let text = (*session).clone();
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
    let strip_partition = use_state(|| 0u32);
    // Where the learner moved the log table's window (its first offset), if they did.
    let log_first = use_state(|| None::<i64>);
    let report = use_panel(&state, panels, |m| m.report());
    let brokers = use_panel(&state, panels, |m| m.brokers());
    let slow = use_panel(&state, panels, |m| m.slow_brokers());
    let group = use_panel(&state, panels, |m| m.group());
    let timeline = use_panel(&state, panels, |m| m.timeline());
    let leadership = use_panel(&state, panels, |m| m.leadership_changes(PINNED_CHANGES));
    let pending = use_panel(&state, panels, |m| m.producer_pending());
    let partitions = state.with(|m| m.scenario().config.partitions);
    let log_table = {
        let state = state.clone();
        use_memo(
            (panels, *strip_partition, *log_first),
            move |(_, p, first)| {
                state
                    .with(|m| m.log_table_from((*p).min(partitions - 1), LOG_TABLE_COLUMNS, *first))
            },
        )
    };
    let settings = state.with(|m| m.settings());
    let parties = Rc::new(state.with(|m| m.parties()));
    let cut = Rc::new(state.with(|m| m.cut_links()));
    let wires = Rc::new(state.with(|m| m.in_flight(WIRES_MAX)));
    let config = state.with(|m| *m.config());
    let dispatcher = state.dispatcher();
    let used =
        state.with(|m| LessonPanels::of(m.scenario().name, m.scenario().config.group_members));
    let (chapters, chapter, guide) = {
        let state = state.clone();
        let story = use_memo(panels, move |_| {
            state.with(|m| {
                let chapter = m.chapter();
                (Rc::new(m.chapters()), chapter, m.chapter_guide(chapter))
            })
        });
        (story.0.clone(), story.1, story.2.clone())
    };
    let guided = state.with(|m| m.guided);
    let settings_changed =
        state.with(|m| m.settings() != crate::model::Settings::of(&m.scenario().config));
    // Read every frame: it changes at most once a second while playing, and at once when a
    // chapter starts, which the panels' rate could delay.
    let announcement = state.with(|m| AttrValue::from(m.announcement().to_string()));
    // Guided, the chapter's part of the page is outlined.
    let focus = guided.then(|| guide.1.clone());
    // Guided, the outlined part of the page scrolls into view at each chapter.
    use_effect_with((guided, chapter), move |(guided, _)| {
        if *guided {
            if let Ok(Some(outlined)) = gloo_utils::document().query_selector(".highlight") {
                // Only when its top is out of view or low on the screen, where the guide bar
                // fixed at the bottom would cover it: a part already in view stays put.
                let top = outlined.get_bounding_client_rect().top();
                let height = gloo_utils::window()
                    .inner_height()
                    .ok()
                    .and_then(|h| h.as_f64())
                    .unwrap_or(720.0);
                if top < 0.0 || top > height * 0.6 {
                    outlined.scroll_into_view_with_bool(true);
                }
            }
        }
    });
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

    html! {
        <main>
            <header>
                <h1 data-testid="headline">{ "Apache Kafka failover, simulated in your browser" }</h1>
                <p class="intro">
                    { "A whole Kafka-style cluster runs in this page: a controller, brokers,                        a producer and consumers, on a simulated network and clock. Pick a lesson,                        press ▶ Play, and watch each broker's log, high watermark and ISR; then                        kill a broker or cut a link to break it yourself. (runnel playground)" }
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
                <LessonText title={title} lesson={lesson} chapters={chapters} chapter={chapter}
                    guided={guided} guide={guide.0.clone()} announcement={announcement}
                    settings_changed={settings_changed}
                    dispatcher={dispatcher.clone()}/>
                <TimeControls playing={playing} now={now} end={end} speed={speed}
                    session={(*session).clone()} dispatcher={dispatcher.clone()}/>
                <Counters report={report.clone()} highlight={focus == Some(Focus::Counters)}/>
            </div>
            <Cluster brokers={brokers.clone()} slow={slow.clone()} focus={focus.clone()} dispatcher={dispatcher.clone()}/>
            </div>
            <NetworkView parties={parties.clone()} cut={cut.clone()} wires={wires.clone()} now={now}
                members={Rc::new(group.members.iter().filter(|m| m.active).map(|m| m.index).collect::<Vec<_>>())}
                highlight={focus == Some(Focus::Network)}/>
            <LogTable highlight={focus == Some(Focus::LogTable)} table={log_table.clone()} partitions={partitions} partition={*strip_partition} on_partition={strip_partition.setter()} on_first={log_first.setter()}/>
            <section class="panels">
                <SettingsPanel settings={settings} dispatcher={dispatcher.clone()}/>
                <ProducerPanel pending={pending.clone()} config={config} dispatcher={dispatcher.clone()}/>
                <LinksPanel parties={parties.clone()} cut={cut.clone()} dispatcher={dispatcher.clone()}/>
                if used.group { <GroupPanel highlight={focus == Some(Focus::Group)} group={group.clone()} settings={settings} dispatcher={dispatcher.clone()}/> }
                if used.keys { <KeysPanel/> }
                if used.plugin { <PluginPanel/> }
                <Events pinned={leadership.clone()} lines={timeline.clone()}/>
                if !used.all() {
                    <details class="more-tools" data-testid="more-tools">
                        <summary>{ format!("More tools, not used by this lesson: {}", used.unused().join(", ")) }</summary>
                        <div class="panels">
                            if !used.group { <GroupPanel highlight={focus == Some(Focus::Group)} group={group.clone()} settings={settings} dispatcher={dispatcher.clone()}/> }
                            if !used.keys { <KeysPanel/> }
                            if !used.plugin { <PluginPanel/> }
                        </div>
                    </details>
                }
            </section>
        </main>
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
    /// Keys, partitions and compaction: the ordering and compaction lessons, the sandbox.
    keys: bool,
    /// The partitioner plugin: the ordering lesson and the sandbox.
    plugin: bool,
}

impl LessonPanels {
    /// The panels the lesson `name` (with `group_members` consumers) uses.
    fn of(name: &str, group_members: u32) -> Self {
        let topic = lesson_group(name);
        // Keys and partitioners are about where records go: the ordering lesson and the
        // sandbox; compaction is about keys too.
        let partitioning = name == "partitions-ordering" || topic == "Sandbox";
        Self {
            group: group_members > 0,
            keys: partitioning || name == "compaction",
            plugin: partitioning,
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
        | "consumer-group-cooperative"
        | "offsets-rewind"
        | "coordinator-paused" => "Partitions and consumer groups",
        "retention" | "compaction" => "Cleaning the log: retention and compaction",
        n if n.starts_with("acks") => "Durability: acks, min.insync.replicas, unclean election",
        n if n.starts_with("np") => "Network partitions",
        n if n.starts_with("sandbox") => "Sandbox",
        _ => "Leaders, epochs and truncation",
    }
}

/// Leadership and ISR changes the events list pins.
const PINNED_CHANGES: usize = 4;

/// Offsets the log table shows.
const LOG_TABLE_COLUMNS: usize = 12;

/// Wires the network view draws at most.
const WIRES_MAX: usize = 120;

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            (rebalance.group, rebalance.keys, rebalance.plugin),
            (true, false, false)
        );
        let retention = of("retention");
        assert_eq!(retention.unused().len(), 3, "{retention:?}");
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
