//! The log table: one partition's records on each replica aligned by offset, with what is
//! committed (below the leader's high watermark), what is not, and what diverged from the
//! leader marked, and each replica's own HW and LEO.

use std::rc::Rc;

use yew::prelude::*;

use super::event_value;
use crate::model::LogTableView;

/// What the log table shows.
#[derive(Properties, PartialEq)]
pub struct LogTableProps {
    /// The table of the partition shown ([`crate::model::Model::log_table`]).
    pub table: Rc<LogTableView>,
    /// How many partitions the picker offers.
    pub partitions: u32,
    /// The partition shown.
    pub partition: u32,
    /// Shows another partition.
    pub on_partition: UseStateSetter<u32>,
    /// Moves the window: its first offset, or none for the default window.
    pub on_first: UseStateSetter<Option<i64>>,
    /// Outlined: guided mode points at it.
    pub highlight: bool,
}

/// The log table.
#[function_component(LogTable)]
pub fn log_table(props: &LogTableProps) -> Html {
    let (table, partitions, shown) = (&props.table, props.partitions, props.partition);
    let on_partition = {
        let set = props.on_partition.clone();
        let first = props.on_first.clone();
        Callback::from(move |e: Event| {
            if let Some(value) = event_value(&e) {
                set.set(value.parse().unwrap_or(0));
                first.set(None);
            }
        })
    };
    let shown_first = table.offsets.first().copied().unwrap_or(0);
    let move_to = |first: Option<i64>| {
        let set = props.on_first.clone();
        Callback::from(move |_: MouseEvent| set.set(first))
    };
    let half = table.offsets.len() as i64 / 2;
    let hw = table.leader_hw.map_or(String::from("no leader now"), |hw| {
        format!("the leader's high watermark is {hw}")
    });
    html! {
        <section class={classes!("logs", props.highlight.then_some("highlight"))}>
            <h3>
                { "Log of partition " }
                <select data-testid="log-partition" aria-label="partition" onchange={on_partition}>
                    { for (0..partitions).map(|p| html! {
                        <option value={p.to_string()} selected={p == shown}>{ format!("p{p}") }</option>
                    }) }
                </select>
                { " on each replica, offset by offset" }
            </h3>
            <p class="legend-text">
                { format!("({hw}.) A record reads offset:key=record id (✝ a tombstone); \
                    ✱ marks one not committed yet (at or above the leader's high watermark); ≠ one that will be \
                    truncated away: the leader holds another record there, or the record's leader epoch ended \
                    earlier in the leader's log (KIP-101). A green bar is where that replica's own high \
                    watermark is, a red bar its log end.") }
            </p>
            <p class="logtable-window">
                <button data-testid="log-earlier" onclick={move_to(Some((shown_first - half).max(0)))}>{ "◀ Earlier" }</button>
                <button data-testid="log-later" onclick={move_to(Some(shown_first + half))}>{ "Later ▶" }</button>
                if let Some(hw) = table.leader_hw {
                    <button data-testid="log-at-hw" onclick={move_to(Some((hw - half).max(0)))}>{ format!("Centre on the leader's HW ({hw})") }</button>
                }
                <button data-testid="log-auto" onclick={move_to(None)}>{ "Where it happens" }</button>
            </p>
            <div class="logtable-scroll" tabindex="0" role="region" aria-label="log table (scrolls sideways)">
                <table class="logtable" data-testid="log-table">
                    <tr>
                        <th scope="col">{ "replica" }</th>
                        { for table.offsets.iter().map(|o| html! { <th scope="col">{ o }</th> }) }
                    </tr>
                    { for table.rows.iter().map(|row| html! {
                        <tr data-testid={format!("log-{}", row.broker)}>
                            <th scope="row" data-testid={format!("log-start-{}", row.broker)}>
                                { format!("B{}{} · HW {} · LEO {} · log start {} · {} records", row.broker,
                                    match (row.leader, row.acts_as_leader) {
                                        (true, _) => " leader",
                                        (false, true) => " stale leader (deposed, has not heard)",
                                        (false, false) => "",
                                    }, row.hw, row.leo, row.log_start, row.records) }
                            </th>
                            { for table.offsets.iter().zip(&row.cells).map(|(offset, cell)| {
                                let marks = classes!((*offset == row.hw).then_some("at-hw"), (*offset == row.leo).then_some("at-leo"));
                                match cell {
                                    Some(c) => html! {
                                        <td class={classes!("cell", (!c.committed).then_some("uncommitted"),
                                                c.diverged.then_some("diverged"), c.tombstone.then_some("tombstone"), marks)}
                                            title={format!("offset {}, record {}{}", c.offset, c.id,
                                                if c.diverged { ", not the leader's record: will be truncated" } else { "" })}>
                                            { cell_text(c) }
                                        </td>
                                    },
                                    None => html! { <td class={classes!("slot", marks)}></td> },
                                }
                            }) }
                        </tr>
                    }) }
                </table>
            </div>
        </section>
    }
}

/// A log table cell: `offset:key=id`, ✝ for a tombstone, ✱ not committed, ≠ diverged from
/// the leader.
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
    let mark = if c.diverged {
        "≠"
    } else if c.committed {
        ""
    } else {
        "✱"
    };
    format!("{}:{key}{value}{mark}", c.offset)
}
