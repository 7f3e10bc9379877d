//! Kafka's rules for topic names (`org.apache.kafka.common.internals.Topic`): 1 to 249
//! characters from `[a-zA-Z0-9._-]`, not `.` or `..`; and no two topics whose names differ
//! only by `.` against `_` (their metric names would collide), which Kafka refuses with
//! INVALID_TOPIC_EXCEPTION ("Topic 'a_b' collides with existing topics: a.b").

use alloc::string::String;

use crate::error_code;

/// The longest topic name Kafka accepts (so `<name>-<partition>` fits a 255-byte file name).
pub const MAX_LENGTH: usize = 249;

/// Why a topic name was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    /// Empty, too long, `.`/`..`, or a character outside `[a-zA-Z0-9._-]`.
    #[error("invalid topic name {0:?}: use 1-249 characters from [a-zA-Z0-9._-], not . or ..")]
    Invalid(String),
    /// Another topic's name differs only by `.` against `_`.
    #[error("topic {name} collides with existing topic {existing} ('.' and '_' collide)")]
    Collision {
        /// The new name.
        name: String,
        /// The existing one.
        existing: String,
    },
}

impl TopicNameError {
    /// Kafka's code for both: INVALID_TOPIC_EXCEPTION (17).
    pub fn kafka_error_code(&self) -> i16 {
        error_code::INVALID_TOPIC_EXCEPTION
    }
}

/// Checks `name` against Kafka's legal-name rule.
///
/// # Errors
/// [`TopicNameError::Invalid`].
pub fn validate(name: &str) -> Result<(), TopicNameError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_LENGTH
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(TopicNameError::Invalid(name.into()))
    }
}

/// Whether two different names collide (equal once every `.` is read as `_`).
pub fn collide(a: &str, b: &str) -> bool {
    a != b && a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| unify(x) == unify(y))
}

fn unify(b: u8) -> u8 {
    if b == b'.' { b'_' } else { b }
}

/// Checks a new topic's name: legal, and colliding with none of `existing`.
///
/// # Errors
/// [`TopicNameError::Invalid`] or [`TopicNameError::Collision`] (the first colliding name).
pub fn validate_new<'a>(
    name: &str,
    existing: impl IntoIterator<Item = &'a str>,
) -> Result<(), TopicNameError> {
    validate(name)?;
    match existing.into_iter().find(|e| collide(name, e)) {
        Some(e) => Err(TopicNameError::Collision {
            name: name.into(),
            existing: e.into(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn kafkas_rules() {
        let longest = "x".repeat(MAX_LENGTH);
        for ok in ["a", "a.b", "a_b-C9", "...", longest.as_str()] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        let too_long = "x".repeat(MAX_LENGTH + 1);
        for bad in ["", ".", "..", "a b", "a/b", "é", too_long.as_str()] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
        assert!(collide("a_b", "a.b") && collide("a.b", "a_b"));
        assert!(!collide("a.b", "a.b") && !collide("a_b", "a-b") && !collide("ab", "a.b"));
        let existing = vec!["orders", "metrics.cpu"];
        assert_eq!(validate_new("orders2", existing.clone()), Ok(()));
        let e = validate_new("metrics_cpu", existing).unwrap_err();
        assert_eq!(
            e.to_string(),
            "topic metrics_cpu collides with existing topic metrics.cpu ('.' and '_' collide)"
        );
        assert_eq!(e.kafka_error_code(), error_code::INVALID_TOPIC_EXCEPTION);
    }
}
