//! Routes records by region: the `region` header, or else a top-level `"region"` string field
//! of a JSON value. `eu` goes to partition 0, `us` to 1, `ap` to 2 (each modulo the partition
//! count); records with no known region go to the last partition.

use runnel_plugin_sdk::{RecordRef, plugin};

/// The region's partition, or the last one.
pub fn by_region(record: &RecordRef<'_>, partitions: u32) -> u32 {
    let region = record
        .header("region")
        .or_else(|| record.value.and_then(json_field_region));
    match region {
        Some(b"eu") => 0,
        Some(b"us") => 1 % partitions,
        Some(b"ap") => 2 % partitions,
        _ => partitions.saturating_sub(1),
    }
}

/// The string value of the first `"region"` key in a JSON object, without a full parser:
/// `"region"`, optional spaces, `:`, optional spaces, then a string without escapes.
pub fn json_field_region(json: &[u8]) -> Option<&[u8]> {
    let key = b"\"region\"";
    let at = json.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = json[at..].trim_ascii_start().strip_prefix(b":")?;
    let rest = rest.trim_ascii_start().strip_prefix(b"\"")?;
    let end = rest.iter().position(|&c| c == b'"' || c == b'\\')?;
    (rest.get(end) == Some(&b'"')).then(|| &rest[..end])
}

plugin!(partition = by_region);

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(header: Option<&'a str>, value: &'a str) -> RecordRef<'a> {
        RecordRef {
            value: Some(value.as_bytes()),
            headers: header
                .map(|h| vec![("region", Some(h.as_bytes()))])
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn header_first_then_json_then_the_last_partition() {
        assert_eq!(by_region(&record(Some("us"), r#"{"region":"eu"}"#), 4), 1);
        assert_eq!(
            by_region(&record(None, r#"{"id":1, "region" : "ap"}"#), 4),
            2
        );
        assert_eq!(by_region(&record(None, r#"{"region":"mars"}"#), 4), 3);
        assert_eq!(by_region(&record(None, "not json"), 4), 3);
        assert_eq!(by_region(&record(None, r#"{"region":"eu"}"#), 1), 0);
        assert_eq!(json_field_region(br#"{"region":"e\"u"}"#), None);
    }
}
