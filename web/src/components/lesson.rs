//! The lesson text: its title and what it teaches, the chapter (with guided mode and what to
//! look at), previous and next chapter; and the counters in words ([`Counters`]), a
//! component of their own so that a phone can show the brokers between the two.

use std::rc::Rc;

use runnel_core::sim::Report;
use yew::prelude::*;

use super::{event_checked, on_click};
use crate::app::State;
use crate::model::Action;

/// What the lesson text shows.
#[derive(Properties, PartialEq)]
pub struct LessonTextProps {
    /// The lesson's plain title.
    pub title: &'static str,
    /// What the lesson teaches.
    pub lesson: &'static str,
    /// The chapters: (start, virtual ms; what happens then) ([`crate::model::Model::chapters`]).
    pub chapters: Rc<Vec<(u64, String)>>,
    /// The chapter the time is in.
    pub chapter: usize,
    /// Guided mode is on.
    pub guided: bool,
    /// What to look at in this chapter (guided mode).
    pub guide: String,
    /// The counters in one sentence for the live region ([`crate::model::Model::announcement`]).
    pub announcement: AttrValue,
    /// The settings in force differ from the lesson's own (its text describes those).
    pub settings_changed: bool,
    /// The playground's reducer.
    pub dispatcher: UseReducerDispatcher<State>,
}

/// Below this width (CSS px) the lesson's paragraph starts folded, so that a phone's first
/// screen reaches the brokers (the style sheet's narrow layout starts at the same width).
const NARROW_PX: f64 = 700.0;

/// The lesson text.
#[function_component(LessonText)]
pub fn lesson_text(props: &LessonTextProps) -> Html {
    let (title, lesson, chapters, chapter, guided) = (
        props.title,
        props.lesson,
        &props.chapters,
        props.chapter,
        props.guided,
    );
    let guide = &props.guide;
    let cb = |action| on_click(&props.dispatcher, action);
    // Decided once, when the page opens: a phone folds the paragraph, which the learner opens.
    let narrow = *use_state(|| {
        gloo_utils::window()
            .inner_width()
            .ok()
            .and_then(|w| w.as_f64())
            .is_some_and(|w| w < NARROW_PX)
    });
    let on_guided = {
        let dispatcher = props.dispatcher.clone();
        Callback::from(move |e: Event| {
            if let Some(on) = event_checked(&e) {
                dispatcher.dispatch(Action::Guide(on));
            }
        })
    };
    html! {
        <section class="lesson">
            <h2>{ title }</h2>
            if props.settings_changed {
                <p class="guide" data-testid="settings-changed">
                    { "Your settings differ from this lesson's: its text tells the lesson as written, the numbers are your run." }
                </p>
            }
            <details class="about" data-testid="about" open={!narrow}>
                <summary>{ "What this lesson shows" }</summary>
                <p>{ lesson }</p>
            </details>
            // Two live regions: the chapter, which changes a few times a lesson, and the
            // counters in one sentence, at most once a second and when a chapter starts (the
            // counters shown below change every frame and would be read out without pause).
            <p class="visually-hidden" data-testid="counters-live" aria-live="polite">{ props.announcement.clone() }</p>
            <p class="chapter" data-testid="chapter" aria-live="polite">
                { format!("Chapter {} of {} — at {:.1} s: {}", chapter + 1, chapters.len(),
                    chapters[chapter].0 as f64 / 1000.0, chapters[chapter].1) }
            </p>
            // A lesson without a script (the sandbox) has one chapter: nothing to guide or step.
            if chapters.len() > 1 {
                <p>
                    <label>
                        <input data-testid="guided" type="checkbox" checked={guided} onchange={on_guided}/>
                        { " Guided: stop at each chapter and say what to look at" }
                    </label>
                </p>
                if guided {
                    // Fixed at the bottom of the screen: the chapter scrolls its outlined part into
                    // view, which may be far below the lesson text.
                    <div class="guide floating" data-testid="guide-bar">
                        <span data-testid="guide">{ format!("Look: {guide}") }</span>
                        { " " }
                        <button data-testid="guide-continue" onclick={cb(Action::Play)}>{ "▶ Continue" }</button>
                    </div>
                }
                <p>
                    <button data-testid="chapter-prev" disabled={chapter == 0} onclick={cb(Action::Chapter(chapter.saturating_sub(1)))}>{ "◀ Previous chapter" }</button>
                    { " " }
                    <button data-testid="chapter-next" disabled={chapter + 1 >= chapters.len()} onclick={cb(Action::Chapter(chapter + 1))}>{ "Next chapter ▶" }</button>
                    if chapter + 1 < chapters.len() {
                        <span>{ format!(" next, at {:.1} s: {}", chapters[chapter + 1].0 as f64 / 1000.0, chapters[chapter + 1].1) }</span>
                    }
                </p>
            }
        </section>
    }
}

/// What the counters show.
#[derive(Properties, PartialEq)]
pub struct CountersProps {
    /// The counters.
    pub report: Rc<Report>,
    /// Outlined: guided mode points at them.
    pub highlight: bool,
}

/// The counters in words: every record sent is acknowledged, refused, failed or waiting, and
/// every acknowledged one committed, at risk, unavailable or lost.
#[function_component(Counters)]
pub fn counters(props: &CountersProps) -> Html {
    let report = &props.report;
    let counters = props.highlight.then_some("highlight");
    html! {
        <section class="counters">
            <p class={classes!("numbers", counters)}>
                { "So far " }
                <strong data-testid="sent">{ report.sent }</strong>{ " records sent: " }
                <strong data-testid="acknowledged">{ report.acknowledged }</strong>{ " acknowledged, " }
                <strong data-testid="refused">{ report.refused }</strong>{ " refused (too few in-sync replicas: NOT_ENOUGH_REPLICAS), " }
                <strong data-testid="failed">{ report.failed }</strong>{ " failed (another error, or no answer in time, after the producer's retries), " }
                <strong data-testid="pending">{ report.pending }</strong>{ " waiting for an answer." }
            </p>
            <p class={classes!("numbers", counters)}>
                { "Of the acknowledged: " }
                <strong data-testid="committed">{ report.acknowledged - report.at_risk - report.unavailable - report.lost }</strong>
                { " committed (below the leader's high watermark), " }
                <strong data-testid="at-risk">{ report.at_risk }</strong>
                { " at risk (above the leader's high watermark), " }
                <strong data-testid="unavailable">{ report.unavailable }</strong>
                { " unavailable (no leader is up to serve them; on a replica, they come back when it leads), " }
                <strong data-testid="lost">{ report.lost }</strong>
                { " lost (truncated away, or a leader was elected without them)." }
            </p>
        </section>
    }
}
