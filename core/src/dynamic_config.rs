//! Dynamic broker configs (KIP-226): the broker-level defaults of topic configs
//! (`log.retention.ms`, `log.cleanup.policy`, `message.max.bytes`, `min.insync.replicas`, ...)
//! changed at run time by AlterConfigs / IncrementalAlterConfigs on a BROKER resource, as
//! `kafka-configs.sh --alter --entity-type brokers` and admin UIs do.
//!
//! Two levels, as in Kafka: one broker's own (the resource named by its id,
//! DYNAMIC_BROKER_CONFIG) over the cluster-wide default (the resource named "",
//! DYNAMIC_DEFAULT_BROKER_CONFIG), both over the static configuration file. A topic's own
//! override still wins over all of them. Only broker synonyms of topic configs are dynamic
//! here; everything else in the broker's file is read-only, as Kafka's non-dynamic configs
//! are.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::topic_config::{self, TopicConfigDef, TopicConfigError};

/// Where a dynamic broker config is set.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Level {
    /// The cluster-wide default (the BROKER resource named "").
    ClusterDefault,
    /// One broker's own (the BROKER resource named by its id).
    Broker(i32),
}

/// Every dynamic broker config of a cluster (or of a single node), by level, then by broker
/// config name.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DynamicBrokerConfigs {
    /// The cluster-wide defaults.
    pub cluster_default: BTreeMap<String, String>,
    /// Each broker's own, by broker id.
    pub per_broker: BTreeMap<i32, BTreeMap<String, String>>,
}

/// Why a dynamic broker config was refused (Kafka's INVALID_CONFIG for both).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DynamicConfigError {
    /// Not a config runnel changes at run time (Kafka: "Cannot update these configs
    /// dynamically").
    #[error("Cannot update these configs dynamically: {name}{reason}")]
    NotDynamic {
        /// The config.
        name: String,
        /// Why, when there is more to say (with its leading separator).
        reason: &'static str,
    },
    /// The value is not valid for the topic config it is the default of.
    #[error("{0}")]
    Invalid(TopicConfigError),
}

impl DynamicConfigError {
    /// Kafka's code: INVALID_CONFIG (40).
    pub fn kafka_error_code(&self) -> i16 {
        crate::error_code::INVALID_CONFIG
    }
}

/// The topic config whose broker-level default `name` is, when `name` can change at run time.
///
/// # Errors
/// [`DynamicConfigError::NotDynamic`] for a name that is not a topic config's broker synonym,
/// or for `unclean.leader.election.enable` (the controller reads it from the file and the
/// topic); [`DynamicConfigError::Invalid`] for a value the topic config refuses, in the
/// topic config's words.
pub fn validate(name: &str, value: &str) -> Result<&'static TopicConfigDef, DynamicConfigError> {
    let def = topic_config::TOPIC_CONFIGS
        .iter()
        .find(|d| d.broker_synonym == Some(name))
        .ok_or_else(|| DynamicConfigError::NotDynamic {
            name: name.to_string(),
            reason: "",
        })?;
    if def.name == "unclean.leader.election.enable" {
        return Err(DynamicConfigError::NotDynamic {
            name: name.to_string(),
            reason: " (runnel's controller takes it from the configuration file or the topic)",
        });
    }
    topic_config::validate(def.name, value).map_err(|e| {
        DynamicConfigError::Invalid(match e {
            TopicConfigError::Invalid {
                value,
                reason,
                name: _,
            } => TopicConfigError::Invalid {
                name: name.to_string(),
                value,
                reason,
            },
            other => other,
        })
    })
}

/// The topic config whose broker-level default `broker_name` is (`cleanup.policy` for
/// `log.cleanup.policy`).
pub fn topic_config_name(broker_name: &str) -> Option<&'static str> {
    topic_config::TOPIC_CONFIGS
        .iter()
        .find(|d| d.broker_synonym == Some(broker_name))
        .map(|d| d.name)
}

impl DynamicBrokerConfigs {
    /// The configs set at `level`.
    pub fn at(&self, level: Level) -> BTreeMap<String, String> {
        match level {
            Level::ClusterDefault => self.cluster_default.clone(),
            Level::Broker(id) => self.per_broker.get(&id).cloned().unwrap_or_default(),
        }
    }

    /// Replaces the configs at `level` with `configs`, all or nothing: every one is checked
    /// with [`validate`] first.
    ///
    /// # Errors
    /// The first refusal; nothing changes.
    pub fn set(
        &mut self,
        level: Level,
        configs: BTreeMap<String, String>,
    ) -> Result<(), DynamicConfigError> {
        for (name, value) in &configs {
            validate(name, value)?;
        }
        match level {
            Level::ClusterDefault => self.cluster_default = configs,
            Level::Broker(id) if configs.is_empty() => {
                self.per_broker.remove(&id);
            }
            Level::Broker(id) => {
                self.per_broker.insert(id, configs);
            }
        }
        Ok(())
    }

    /// The dynamic value broker `broker` gives the broker config `name`, and the level it
    /// comes from: the broker's own over the cluster default. `None` when neither sets it.
    pub fn value_for(&self, broker: i32, name: &str) -> Option<(&str, Level)> {
        if let Some(v) = self.per_broker.get(&broker).and_then(|m| m.get(name)) {
            return Some((v, Level::Broker(broker)));
        }
        self.cluster_default
            .get(name)
            .map(|v| (v.as_str(), Level::ClusterDefault))
    }

    /// What broker `broker`'s dynamic configs make the default of each topic config, by topic
    /// config name (`retention.ms` for `log.retention.ms`): the values a topic without its own
    /// override gets, to apply over the static configuration.
    pub fn topic_defaults(&self, broker: i32) -> Vec<(&'static str, String)> {
        topic_config::TOPIC_CONFIGS
            .iter()
            .filter_map(|def| {
                let (value, _) = self.value_for(broker, def.broker_synonym?)?;
                Some((def.name, value.to_string()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_brokers_own_value_wins_over_the_cluster_default_and_bad_values_change_nothing() {
        let mut configs = DynamicBrokerConfigs::default();
        let set = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        configs
            .set(
                Level::ClusterDefault,
                set(&[
                    ("log.retention.ms", "1000"),
                    ("log.cleanup.policy", "compact"),
                ]),
            )
            .expect("valid");
        configs
            .set(Level::Broker(2), set(&[("log.retention.ms", "2000")]))
            .expect("valid");
        assert_eq!(
            configs.value_for(2, "log.retention.ms"),
            Some(("2000", Level::Broker(2)))
        );
        assert_eq!(
            configs.value_for(1, "log.retention.ms"),
            Some(("1000", Level::ClusterDefault))
        );
        let mut defaults = configs.topic_defaults(2);
        defaults.sort();
        assert_eq!(
            defaults,
            [
                ("cleanup.policy", "compact".to_string()),
                ("retention.ms", "2000".to_string())
            ]
        );
        // Kafka's words for a config that is not dynamic; a value the topic config refuses.
        let before = configs.clone();
        let refused = configs
            .set(Level::ClusterDefault, set(&[("node.id", "3")]))
            .expect_err("not dynamic");
        assert_eq!(
            refused.to_string(),
            "Cannot update these configs dynamically: node.id"
        );
        let refused = configs
            .set(Level::ClusterDefault, set(&[("log.retention.ms", "-7")]))
            .expect_err("invalid");
        assert_eq!(
            refused.to_string(),
            "invalid value \"-7\" for log.retention.ms: must be at least -1"
        );
        assert_eq!(configs, before, "a refusal changes nothing");
    }
}
