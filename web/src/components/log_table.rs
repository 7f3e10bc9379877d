//! The log table: the last records of one partition on each replica, with the leader's
//! uncommitted tail marked.

use std::rc::Rc;

use yew::prelude::*;

use super::event_value;
use crate::model::Strip;

/// What the log table shows.
#[derive(Properties, PartialEq)]
pub struct LogTableProps {
    /// One strip per replica of the partition shown.
    pub strips: Rc<Vec<Strip>>,
    /// How many partitions the picker offers.
    pub partitions: u32,
    /// The partition shown.
    pub partition: u32,
    /// Shows another partition.
    pub on_partition: UseStateSetter<u32>,
}

/// The log table.
#[function_component(LogTable)]
pub fn log_table(props: &LogTableProps) -> Html {
    let (strips, partitions, strip_partition) = (&props.strips, props.partitions, props.partition);
    let on_strip_partition = {
        let set = props.on_partition.clone();
        Callback::from(move |e: Event| {
            if let Some(value) = event_value(&e) {
                set.set(value.parse().unwrap_or(0));
            }
        })
    };
    html! {
        <section class="logs">
            <h3>
                { "Log of partition " }
                <select data-testid="log-partition" aria-label="partition" onchange={on_strip_partition}>
                    { for (0..partitions).map(|p| html! {
                        <option value={p.to_string()} selected={p == strip_partition}>{ format!("p{p}") }</option>
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
    }
}

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
