//! The keys lesson's panel: records typed as `key=value`, the partition murmur2 gives each
//! key, and the log before and after the core's compaction.

use yew::prelude::*;

use super::{store_checked, store_value};

/// The keys-and-compaction panel (its records are its own state).
#[function_component(KeysPanel)]
pub fn keys_panel() -> Html {
    let keys_text = use_state(|| String::from(KEY_SAMPLES));
    let past_horizon = use_state(|| false);
    let on_keys = store_value(&keys_text);
    let on_horizon = store_checked(&past_horizon);
    let keyed = crate::keys::parse(&keys_text);
    let keyed_partitions = crate::keys::partitions(&keyed, 3);
    let compacted = crate::keys::compact(&keyed, *past_horizon);
    html! {
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
