//! runnel-web: the interactive browser playground.
//!
//! It runs `runnel_core::sim` — a whole simulated cluster, the same replication, controller
//! and group code the broker runs — inside the page, with Yew and wasm-bindgen. The user picks
//! a lesson from the core's scenario library, plays, pauses, steps, rewinds and forks time,
//! kills and restarts brokers, and watches leaders, ISR, log end offsets, high watermarks and
//! leader epochs move, with the lesson's numbers (records sent, acknowledged, lost) live.
//!
//! - `model`: the state and its reducer, browser-free and tested natively.
//! - `app`: the page (lesson text, counters, time controls, network view) and the effect
//!   hooks (animation clock, keyboard, session).
//! - `components`: the panels as Yew function components, one `Props` struct each.
//! - `keys`: the keys-and-compaction lesson over the core's partitioner and compaction.
//! - `plugin`: runs a partitioner plugin's `.wasm` in the browser's WebAssembly engine with the
//!   broker's plugin ABI.
//!
//! `runnel` builds it (node/build.rs, with the wasm-bindgen library) and serves it on its
//! admin port at `/`.

pub mod app;
pub mod components;
pub mod keys;
pub mod model;
pub mod plugin;

/// Mounts the playground on the page's body (the wasm module's start function).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    yew::Renderer::<app::App>::new().render();
}
