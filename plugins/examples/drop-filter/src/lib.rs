//! Drops records that are noise: tombstones, records with a `level` header of `debug` or
//! `trace`, and empty values. Everything else passes unchanged.

use runnel_plugin_sdk::{PluginRecord, plugin};

/// Whether a record is kept.
pub fn keep(record: &PluginRecord) -> bool {
    let noisy = matches!(record.header("level"), Some(b"debug" | b"trace"));
    !noisy && record.value.as_ref().is_some_and(|v| !v.is_empty())
}

/// The record, or nothing.
pub fn filter(record: PluginRecord) -> Vec<PluginRecord> {
    if keep(&record) { vec![record] } else { vec![] }
}

plugin!(transform = filter);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_dropped() {
        let with = |level: &str, value: Option<&str>| PluginRecord {
            value: value.map(|v| v.as_bytes().to_vec()),
            headers: vec![("level".into(), Some(level.as_bytes().to_vec()))],
            ..Default::default()
        };
        assert_eq!(filter(with("info", Some("x"))).len(), 1);
        assert!(filter(with("debug", Some("x"))).is_empty());
        assert!(filter(with("info", None)).is_empty());
        assert!(filter(with("info", Some(""))).is_empty());
    }
}
