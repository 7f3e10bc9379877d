//! The producer panel: its acks and partitioner, the records waiting for an answer, and a
//! record to send by hand (a key, or a tombstone).

use std::rc::Rc;

use runnel_core::replica::Acks;
use runnel_core::sim::{PendingRecord, SimConfig};
use yew::prelude::*;

use super::{on_click, store_checked, store_value};
use crate::app::State;
use crate::model::Action;

/// What the producer panel shows.
#[derive(Properties, PartialEq)]
pub struct ProducerPanelProps {
    /// The producer's records waiting for an answer, oldest first.
    pub pending: Rc<Vec<PendingRecord>>,
    /// The simulation's settings (acks, keys).
    pub config: SimConfig,
    /// The playground's reducer.
    pub dispatcher: UseReducerDispatcher<State>,
}

/// The producer panel.
#[function_component(ProducerPanel)]
pub fn producer_panel(props: &ProducerPanelProps) -> Html {
    let (pending, config) = (&props.pending, props.config);
    let cb = |action| on_click(&props.dispatcher, action);
    let produce_key = use_state(|| String::from("alice"));
    let produce_tombstone = use_state(|| false);
    let on_produce_key = store_value(&produce_key);
    let on_produce_tombstone = store_checked(&produce_tombstone);
    html! {
        <fieldset class="producer" data-testid="producer">
            <legend>{ "Producer" }</legend>
            <p>
                { format!("acks={} · partitioner: {} · ", acks_name(config.producer.acks),
                    if config.producer.keys > 0 { "murmur2(key) mod partitions" } else { "no key: partitions in turn (Kafka's producer since 2.4 fills one partition's batch at a time, KIP-480)" }) }
                { if config.producer.keys > 0 { format!("keys k0..k{} · ", config.producer.keys - 1) } else { String::new() } }
                <span data-testid="producer-pending">{ format!("{} waiting for an answer", pending.len()) }</span>
            </p>
            <p data-testid="producer-retries">
                { format!("retries={} (after that a record fails; Kafka's default is unlimited, bounded by delivery.timeout.ms) · \
                    request.timeout.ms={} · delivery.timeout.ms={} (a record with no leader to go to waits this long, KIP-91)",
                    config.producer.retries, config.producer.request_timeout_ms, config.producer.delivery_timeout_ms) }
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
    }
}

/// `acks` as Kafka writes it.
fn acks_name(acks: Acks) -> &'static str {
    match acks {
        Acks::None => "0",
        Acks::Leader => "1",
        Acks::All => "all",
    }
}
