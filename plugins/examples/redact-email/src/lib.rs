//! Replaces every e-mail address in a record's value with `[redacted]`; keys, headers and
//! timestamps pass through.

use runnel_plugin_sdk::{PluginRecord, plugin};

/// One record in, the same record with addresses redacted out.
pub fn redact(record: PluginRecord) -> Vec<PluginRecord> {
    let value = record.value.as_deref().map(redact_bytes);
    vec![PluginRecord { value, ..record }]
}

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"._%+-".contains(&c)
}

fn is_domain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b".-".contains(&c)
}

/// `text` with each `local@domain.tld` replaced by `[redacted]`.
pub fn redact_bytes(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'@' {
            let start = (0..i).rev().take_while(|&j| is_local(text[j])).last();
            let end = (i + 1..text.len())
                .take_while(|&j| is_domain(text[j]))
                .last()
                .map(|j| j + 1);
            if let (Some(start), Some(mut end)) = (start, end) {
                while end > i + 1 && text[end - 1] == b'.' {
                    end -= 1;
                }
                let domain = &text[i + 1..end];
                if start >= copied && domain.contains(&b'.') && !domain.starts_with(b".") {
                    out.extend_from_slice(&text[copied..start]);
                    out.extend_from_slice(b"[redacted]");
                    copied = end;
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.extend_from_slice(&text[copied..]);
    out
}

plugin!(transform = redact);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_replaced_and_the_rest_kept() {
        let r = |s: &str| String::from_utf8(redact_bytes(s.as_bytes())).unwrap();
        assert_eq!(
            r("mail ann.lee+x@example.co.uk or bob@ex-ample.org."),
            "mail [redacted] or [redacted]."
        );
        assert_eq!(
            r("no address @ here, a@b, @x.y"),
            "no address @ here, a@b, @x.y"
        );
        let out = redact(PluginRecord {
            key: Some(b"k".to_vec()),
            value: Some(b"to: c@d.io".to_vec()),
            ..Default::default()
        });
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key.as_deref(), Some(&b"k"[..]));
        assert_eq!(out[0].value.as_deref(), Some(&b"to: [redacted]"[..]));
    }
}
