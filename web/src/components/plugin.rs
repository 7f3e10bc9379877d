//! The plugin panel: a partitioner plugin's `.wasm` chosen by the learner runs in the
//! browser's WebAssembly engine over sample records, with the broker's plugin ABI.

use runnel_core::plugin::{PartitionRequest, PluginRecord};
use yew::prelude::*;

use super::{chosen_file, store_value};

/// The plugin panel (its samples and result are its own state).
#[function_component(PluginPanel)]
pub fn plugin_panel() -> Html {
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
    html! {
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
    }
}

/// The plugin panel's sample records.
const SAMPLES: &str =
    "order-1,{\"region\":\"eu\"}\norder-2,{\"region\":\"us\"}\norder-3,{},ap\norder-4,{}";

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

#[cfg(test)]
mod tests {
    use super::*;

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
