//! Cluster mode: the metadata quorum and what every node knows from it.
//!
//! Every node named in `controller.quorum.voters` runs a Raft peer (tikv's `raft` crate, its
//! sans-IO `RawNode`; [`quorum`]). The Raft log's entries are metadata [`Entry`]s — broker
//! registrations and fencing, topic creation and deletion — whose partition part is the core's
//! controller [`Command`]s, applied in log order to a [`MetadataImage`] on every node, so every
//! node holds the same leaders, ISRs and epochs. The Raft leader is the active controller: it
//! receives the brokers' heartbeats and appends a fence when a session expires. Brokers ask
//! the image who leads what; clients learn it through Metadata.
//!
//! Nodes talk to each other over the inter-broker listener's protocol
//! (`inter.broker.listener.name`): followers fetch through it with the Kafka protocol
//! ([`follower`]), and the Raft transport speaks its TLS and SASL ([`transport`]).

pub mod follower;
pub mod quorum;
mod transport;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;

use runnel_core::controller::{Command, Controller, ControllerConfig, PartitionState};
use serde::{Deserialize, Serialize};

pub use quorum::{Cluster, ProposeError, QuorumStatus};

/// The metadata log's name in DescribeQuorum (KIP-595: Kafka's `__cluster_metadata`, whose one
/// partition, 0, is the Raft log).
pub const METADATA_TOPIC: &str = "__cluster_metadata";
pub use transport::LinkSecurity;

/// One member of the metadata quorum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voter {
    /// Its node id.
    pub id: i32,
    /// Where it serves Raft.
    pub addr: SocketAddr,
}

/// Parses `controller.quorum.voters`: `id@host:port` separated by commas.
pub fn parse_voters(text: &str) -> Result<Vec<Voter>, &'static str> {
    let mut voters: Vec<Voter> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part.split_once('@').ok_or("each voter is id@host:port")?;
        let id: i32 = id
            .trim()
            .parse()
            .map_err(|_| "a voter id is not a number")?;
        if !(0..=i32::from(u16::MAX)).contains(&id) {
            // A proposal id carries its node's id in 16 bits (`Cluster::propose_outcome`).
            return Err("voter ids are between 0 and 65535");
        }
        let addr: SocketAddr = addr
            .trim()
            .parse()
            .map_err(|_| "a voter address is not ip:port")?;
        if voters.iter().any(|v| v.id == id) {
            return Err("a voter id appears twice");
        }
        voters.push(Voter { id, addr });
    }
    if voters.is_empty() {
        return Err("no voters");
    }
    Ok(voters)
}

/// Where one listener of a broker is reached, as it advertises it (Kafka's
/// `BrokerEndpoint`): Metadata gives a client the endpoints of the listener it came through,
/// and nodes replicate through the inter-broker listener's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The listener name (`PLAINTEXT`, `SASL_SSL`, `INTERNAL`, ...), upper case.
    pub listener: String,
    /// The advertised host.
    pub host: String,
    /// The advertised port.
    pub port: u16,
}

impl Endpoint {
    /// This node's endpoints as `config` advertises them, one per listener, in `listeners`
    /// order.
    pub fn advertised_by(config: &crate::config::BrokerConfig) -> Vec<Self> {
        config
            .listeners
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (host, port) = config.advertised(i);
                Self {
                    listener: l.name.clone(),
                    host,
                    port,
                }
            })
            .collect()
    }
}

/// One entry of the metadata log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// A broker registers (first start, restart, or after being fenced).
    RegisterBroker {
        /// Its node id.
        broker: u32,
        /// Where it is reached, one per listener (Kafka's `RegisterBrokerRecord` endpoints).
        endpoints: Vec<Endpoint>,
        /// Its process incarnation (Kafka's `incarnationId`): a node acts on the metadata
        /// only once it has applied a registration of its own incarnation, so after a restart
        /// it never leads from what its old log said.
        incarnation: u64,
        /// The active controller's clock when it accepted.
        at_ms: u64,
    },
    /// A broker is fenced: its session expired, or it shut down cleanly.
    FenceBroker {
        /// Its node id.
        broker: u32,
    },
    /// A topic is created; its partitions get the next global partition ids.
    CreateTopic {
        /// The name.
        name: String,
        /// The topic id.
        id: [u8; 16],
        /// Partitions.
        partitions: u32,
        /// Replicas per partition.
        replication_factor: u16,
        /// Config overrides.
        config: BTreeMap<String, String>,
    },
    /// A topic is deleted.
    DeleteTopic {
        /// The name.
        name: String,
    },
    /// Preferred-replica election: each partition whose first replica is live and in the
    /// ISR moves its leadership back there.
    PreferredElection,
    /// Dynamic broker configs (KIP-226) at one level are replaced.
    AlterBrokerConfigs {
        /// The cluster-wide default, or one broker's own.
        level: runnel_core::dynamic_config::Level,
        /// The level's whole new set, by broker config name.
        config: BTreeMap<String, String>,
    },
    /// A partition leader's ISR change (AlterPartition).
    AlterIsr {
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The proposing leader.
        leader: u32,
        /// Its leader epoch.
        leader_epoch: i32,
        /// The partition epoch the proposal was made against.
        partition_epoch: i32,
        /// The proposed ISR.
        isr: Vec<u32>,
    },
    /// A topic's config overrides are replaced (AlterConfigs, IncrementalAlterConfigs): every
    /// node applies them to its replicas, the controller its `unclean.leader.election.enable`.
    AlterTopicConfig {
        /// The topic.
        name: String,
        /// The whole new set of overrides.
        config: BTreeMap<String, String>,
    },
    /// SCRAM credentials set or removed (AlterUserScramCredentials, KIP-554; Kafka's
    /// `UserScramCredentialRecord`): salted keys, never passwords.
    AlterScramCredentials {
        /// The validated changes, in order.
        changes: Vec<runnel_core::scram::ScramChange>,
    },
    /// ACLs added and removed (CreateAcls, DeleteAcls; Kafka's `AccessControlEntryRecord` and
    /// `RemoveAccessControlEntryRecord`): exact bindings, so every node's authorizer holds
    /// the same set.
    AlterAcls {
        /// Bindings added.
        create: Vec<runnel_core::acl::AclBinding>,
        /// Bindings removed.
        delete: Vec<runnel_core::acl::AclBinding>,
    },
    /// A broker takes the next block of producer ids (KIP-730's `AllocateProducerIds`,
    /// recorded as Kafka's `ProducerIdsRecord`): ids unique across the cluster
    /// ([`runnel_core::producer_id`]).
    AllocateProducerIds {
        /// Its node id.
        broker: u32,
    },
    /// A topic grows to `count` partitions (CreatePartitions; Kafka's `PartitionRecord`s for
    /// the new ones): they get the next global partition ids, each with as many replicas as
    /// the topic's partition 0. Refused when `count` is not larger than the topic's.
    CreatePartitions {
        /// The topic.
        name: String,
        /// Its new partition count.
        count: u32,
    },
}

/// An entry with the id its proposer waits on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique per proposal (the proposing node's id in the high bits).
    pub id: u64,
    /// The entry.
    pub entry: Entry,
}

/// A topic as the metadata log describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicImage {
    /// The topic id.
    pub id: uuid::Uuid,
    /// The controller's id of each partition, by index: one range from CreateTopic, another
    /// per CreatePartitions after it.
    pub partitions: Vec<u32>,
    /// Config overrides.
    pub config: BTreeMap<String, String>,
}

/// Everything the metadata log has said so far.
#[derive(Clone, Debug)]
pub struct MetadataImage {
    /// Brokers and partitions: the core's controller, fed the log's commands.
    pub controller: Controller,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicImage>,
    /// Each registered broker's endpoints, one per listener.
    pub endpoints: BTreeMap<u32, Vec<Endpoint>>,
    /// Dynamic broker configs (KIP-226).
    pub dynamic: runnel_core::dynamic_config::DynamicBrokerConfigs,
    /// SCRAM credentials (KIP-554).
    pub scram: runnel_core::scram::ScramCredentials,
    /// The ACLs (CreateAcls, DeleteAcls), which every node's authorizer checks.
    pub acls: std::collections::BTreeSet<runnel_core::acl::AclBinding>,
    /// The next unused global partition id.
    next_partition: u32,
    /// Where the next block of producer ids starts, and each broker's last block (KIP-730).
    producer_ids: runnel_core::producer_id::ProducerIdCounter,
    producer_id_blocks: BTreeMap<u32, runnel_core::producer_id::ProducerIdBlock>,
    /// The Raft index of the last entry applied.
    pub applied: u64,
    /// The ids of the last [`RECENT_PROPOSALS`] envelopes applied, oldest first, and the same
    /// as a set: a proposer sends its envelope again when the controller changes or does not
    /// answer, so one proposal can reach the log twice, and only the first takes effect.
    recent: (VecDeque<u64>, HashSet<u64>),
}

/// How many applied proposal ids the image remembers to apply a re-sent one once. A proposer
/// re-sends only while it waits (seconds), and far fewer entries are appended meanwhile.
pub const RECENT_PROPOSALS: usize = 10_000;

impl MetadataImage {
    /// An empty image: no brokers, no topics; elections follow `config` (every node of a
    /// cluster must have the same).
    pub fn new(config: ControllerConfig) -> Self {
        Self {
            controller: Controller::new(config),
            topics: BTreeMap::new(),
            endpoints: BTreeMap::new(),
            dynamic: Default::default(),
            scram: Default::default(),
            acls: Default::default(),
            next_partition: 0,
            producer_ids: Default::default(),
            producer_id_blocks: BTreeMap::new(),
            applied: 0,
            recent: Default::default(),
        }
    }

    /// Applies a proposal's entry the first time its envelope id reaches the log; `None` for
    /// a copy a proposer re-sent (that changes nothing: the first one was answered). Every
    /// node applies the same log from its start, so every image skips the same copies.
    pub fn apply_envelope(&mut self, envelope: &Envelope) -> Option<Result<(), String>> {
        let (order, seen) = &mut self.recent;
        if !seen.insert(envelope.id) {
            return None;
        }
        order.push_back(envelope.id);
        if order.len() > RECENT_PROPOSALS
            && let Some(oldest) = order.pop_front()
        {
            seen.remove(&oldest);
        }
        Some(self.apply(&envelope.entry))
    }

    /// The last block of producer ids the log gave `broker` (KIP-730).
    pub fn producer_id_block(
        &self,
        broker: u32,
    ) -> Option<runnel_core::producer_id::ProducerIdBlock> {
        self.producer_id_blocks.get(&broker).copied()
    }

    /// Applies one entry; an entry the controller refuses changes nothing and says why.
    pub fn apply(&mut self, entry: &Entry) -> Result<(), String> {
        match entry {
            Entry::RegisterBroker {
                broker,
                endpoints,
                incarnation,
                at_ms,
            } => {
                self.endpoints.insert(*broker, endpoints.clone());
                self.controller
                    .apply(&Command::Register {
                        broker: *broker,
                        incarnation: *incarnation,
                        at_ms: *at_ms,
                    })
                    .map_err(|e| e.to_string())
            }
            Entry::FenceBroker { broker } => self
                .controller
                .apply(&Command::Fence { broker: *broker })
                .map_err(|e| e.to_string()),
            Entry::CreateTopic {
                name,
                id,
                partitions,
                replication_factor,
                config,
            } => {
                if self.topics.contains_key(name) {
                    return Err(format!("topic {name} already exists"));
                }
                let first = self.next_partition;
                self.controller
                    .apply(&Command::CreatePartitions {
                        first,
                        count: *partitions,
                        replication_factor: usize::from(*replication_factor),
                    })
                    .map_err(|e| format!("cannot place {name}: {e}"))?;
                self.next_partition += partitions;
                self.apply_unclean_override(first, *partitions, config)?;
                self.topics.insert(
                    name.clone(),
                    TopicImage {
                        id: uuid::Uuid::from_bytes(*id),
                        partitions: (first..first + partitions).collect(),
                        config: config.clone(),
                    },
                );
                Ok(())
            }
            Entry::CreatePartitions { name, count } => {
                let topic = self
                    .topics
                    .get(name)
                    .ok_or_else(|| format!("unknown topic {name}"))?;
                let current = topic.partitions.len() as u32;
                if *count <= current {
                    return Err(format!(
                        "invalid partitions: topic {name} has {current}, the new count must be larger"
                    ));
                }
                // Kafka's `ReplicationControlManager.createPartitions`: the new partitions
                // get the replication factor of the topic's existing ones.
                let replication_factor = topic
                    .partitions
                    .first()
                    .and_then(|p| self.controller.partition(*p))
                    .map_or(1, |p| p.replicas.len());
                let config = topic.config.clone();
                let (first, added) = (self.next_partition, count - current);
                self.controller
                    .apply(&Command::CreatePartitions {
                        first,
                        count: added,
                        replication_factor,
                    })
                    .map_err(|e| format!("cannot place {name}: {e}"))?;
                self.next_partition += added;
                self.apply_unclean_override(first, added, &config)?;
                if let Some(topic) = self.topics.get_mut(name) {
                    topic.partitions.extend(first..first + added);
                }
                Ok(())
            }
            Entry::AlterIsr {
                topic,
                partition,
                leader,
                leader_epoch,
                partition_epoch,
                isr,
            } => {
                let t = self
                    .topics
                    .get(topic)
                    .ok_or_else(|| format!("unknown topic {topic}"))?;
                let id = usize::try_from(*partition)
                    .ok()
                    .and_then(|i| t.partitions.get(i).copied())
                    .ok_or_else(|| format!("unknown partition {topic}-{partition}"))?;
                self.controller
                    .apply(&Command::AlterIsr {
                        partition: id,
                        leader: *leader,
                        leader_epoch: *leader_epoch,
                        partition_epoch: *partition_epoch,
                        isr: isr.clone(),
                    })
                    .map_err(|e| e.to_string())
            }
            Entry::AlterTopicConfig { name, config } => {
                let topic = self
                    .topics
                    .get_mut(name)
                    .ok_or_else(|| format!("unknown topic {name}"))?;
                topic.config = config.clone();
                let ids = topic.partitions.clone();
                ids.into_iter()
                    .try_for_each(|id| self.apply_unclean_override(id, 1, config))
            }
            Entry::PreferredElection => self
                .controller
                .apply(&Command::PreferredElection)
                .map_err(|e| e.to_string()),
            Entry::AlterBrokerConfigs { level, config } => self
                .dynamic
                .set(*level, config.clone())
                .map_err(|e| e.to_string()),
            Entry::AlterScramCredentials { changes } => {
                for change in changes {
                    self.scram.apply(change);
                }
                Ok(())
            }
            Entry::AlterAcls { create, delete } => {
                self.acls.extend(create.iter().cloned());
                for binding in delete {
                    self.acls.remove(binding);
                }
                Ok(())
            }
            Entry::AllocateProducerIds { broker } => {
                let block = self
                    .producer_ids
                    .allocate()
                    .ok_or("the producer id space is used up")?;
                self.producer_id_blocks.insert(*broker, block);
                Ok(())
            }
            Entry::DeleteTopic { name } => {
                let topic = self
                    .topics
                    .remove(name)
                    .ok_or_else(|| format!("unknown topic {name}"))?;
                topic.partitions.iter().try_for_each(|id| {
                    self.controller
                        .apply(&Command::DeletePartitions {
                            first: *id,
                            count: 1,
                        })
                        .map_err(|e| e.to_string())
                })
            }
        }
    }

    /// Gives the controller a topic's own `unclean.leader.election.enable` (none: its
    /// default), for the topic's partitions `first..first + count`.
    fn apply_unclean_override(
        &mut self,
        first: u32,
        count: u32,
        config: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        let enabled = config
            .get("unclean.leader.election.enable")
            .and_then(|v| crate::broker::parse_bool(v));
        self.controller
            .apply(&Command::SetUncleanLeaderElection {
                first,
                count,
                enabled,
            })
            .map_err(|e| e.to_string())
    }

    /// One partition's leader, replicas, ISR and epochs.
    pub fn partition(&self, topic: &str, index: i32) -> Option<&PartitionState> {
        let t = self.topics.get(topic)?;
        let id = t.partitions.get(usize::try_from(index).ok()?)?;
        self.controller.partition(*id)
    }

    /// Where `broker`'s listener `listener` is reached, if it registered one by that name.
    pub fn endpoint(&self, broker: u32, listener: &str) -> Option<(String, u16)> {
        self.endpoints
            .get(&broker)?
            .iter()
            .find(|e| e.listener == listener)
            .map(|e| (e.host.clone(), e.port))
    }

    /// The live brokers with their endpoints on `listener`, by id; a broker without that
    /// listener is left out, as Kafka leaves it out of that listener's Metadata.
    pub fn live_brokers(&self, listener: &str) -> Vec<(u32, String, u16)> {
        self.controller
            .live_brokers()
            .into_iter()
            .filter_map(|b| {
                let (host, port) = self.endpoint(b, listener)?;
                Some((b, host, port))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(broker: u32) -> Entry {
        Entry::RegisterBroker {
            broker,
            endpoints: vec![
                Endpoint {
                    listener: "PLAINTEXT".into(),
                    host: "127.0.0.1".into(),
                    port: 9092 + broker as u16,
                },
                Endpoint {
                    listener: "SASL_SSL".into(),
                    host: "broker.example".into(),
                    port: 9192 + broker as u16,
                },
            ],
            incarnation: 1,
            at_ms: 0,
        }
    }

    #[test]
    fn voters_parse_and_bad_ones_are_refused() {
        let voters = parse_voters("0@127.0.0.1:9093, 1@127.0.0.1:9095").expect("voters");
        assert_eq!(voters.len(), 2);
        assert_eq!(voters[1].id, 1);
        assert_eq!(voters[1].addr.port(), 9095);
        for bad in [
            "",
            "0@",
            "x@127.0.0.1:1",
            "0@localhost",
            "0@1.2.3.4:1,0@1.2.3.4:2",
            "65536@1.2.3.4:1",
        ] {
            assert!(parse_voters(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn topics_get_global_partition_ids_and_fencing_moves_leaders() {
        let mut image = MetadataImage::new(ControllerConfig::default());
        for b in 0..3 {
            image.apply(&register(b)).expect("register");
        }
        let create = |name: &str, partitions| Entry::CreateTopic {
            name: name.into(),
            id: [7; 16],
            partitions,
            replication_factor: 3,
            config: BTreeMap::new(),
        };
        image.apply(&create("a", 2)).expect("a");
        image.apply(&create("b", 3)).expect("b");
        assert_eq!(
            image.apply(&create("a", 1)),
            Err("topic a already exists".into())
        );
        assert_eq!(image.topics["b"].partitions, [2, 3, 4]);
        let leaders: Vec<Option<u32>> = (0..3)
            .map(|i| image.partition("b", i).and_then(|p| p.leader))
            .collect();
        assert_eq!(leaders, [Some(2), Some(0), Some(1)], "spread by global id");
        assert!(image.partition("b", 3).is_none());
        image
            .apply(&Entry::FenceBroker { broker: 0 })
            .expect("fence");
        assert_eq!(image.partition("b", 1).and_then(|p| p.leader), Some(1));
        assert_eq!(image.live_brokers("PLAINTEXT").len(), 2);
        assert_eq!(
            image.live_brokers("SASL_SSL")[0],
            (1, "broker.example".to_string(), 9193),
            "each listener's clients get that listener's endpoints"
        );
        assert!(image.live_brokers("OTHER").is_empty());
        image
            .apply(&Entry::DeleteTopic { name: "a".into() })
            .expect("delete");
        assert!(image.partition("a", 0).is_none());
        // Too few live brokers for the replication factor: refused, nothing changes.
        assert!(image.apply(&create("c", 1)).is_err());
        assert!(!image.topics.contains_key("c"));
    }

    /// CreatePartitions (Kafka's `ReplicationControlManager.createPartitions`): the new
    /// partitions get the next global ids, after any topic created since, and the replication
    /// factor of the topic's existing ones; a count not larger than now is refused and changes
    /// nothing; a deleted topic takes every range with it.
    #[test]
    fn a_topic_grows_by_new_global_partition_ids() {
        let mut image = MetadataImage::new(ControllerConfig::default());
        for b in 0..3 {
            image.apply(&register(b)).expect("register");
        }
        let create = |name: &str, partitions, replication_factor| Entry::CreateTopic {
            name: name.into(),
            id: [7; 16],
            partitions,
            replication_factor,
            config: BTreeMap::new(),
        };
        image.apply(&create("a", 2, 2)).expect("a");
        image.apply(&create("b", 1, 3)).expect("b");
        let grow = |count| Entry::CreatePartitions {
            name: "a".into(),
            count,
        };
        image.apply(&grow(4)).expect("grow");
        assert_eq!(image.topics["a"].partitions, [0, 1, 3, 4]);
        for index in 0..4 {
            let p = image.partition("a", index).expect("a partition");
            assert_eq!(p.replicas.len(), 2, "a-{index}");
            assert!(p.leader.is_some(), "a-{index}");
        }
        assert!(image.partition("a", 4).is_none());
        assert!(
            image
                .apply(&grow(4))
                .is_err_and(|e| e.starts_with("invalid partitions"))
        );
        assert!(image.apply(&grow(3)).is_err());
        assert_eq!(image.topics["a"].partitions.len(), 4, "unchanged");
        assert!(
            image
                .apply(&Entry::CreatePartitions {
                    name: "c".into(),
                    count: 2
                })
                .is_err_and(|e| e.starts_with("unknown topic"))
        );
        image
            .apply(&Entry::DeleteTopic { name: "a".into() })
            .expect("delete");
        assert!((0..5).all(|id| id == 2 || image.controller.partition(id).is_none()));
        assert!(image.partition("b", 0).is_some(), "b keeps its partition");
    }

    /// A proposer re-sends its envelope to a new controller (Kafka's broker-to-controller
    /// channel re-sends after NOT_CONTROLLER), so the log can hold a proposal twice; a copy
    /// takes no effect, even after the topic it created was deleted in between.
    #[test]
    fn a_re_sent_proposal_takes_effect_once() {
        let mut image = MetadataImage::new(ControllerConfig::default());
        for b in 0..3 {
            image.apply(&register(b)).expect("register");
        }
        let create = Envelope {
            id: 41,
            entry: Entry::CreateTopic {
                name: "t".into(),
                id: [1; 16],
                partitions: 1,
                replication_factor: 1,
                config: BTreeMap::new(),
            },
        };
        let delete = Envelope {
            id: 42,
            entry: Entry::DeleteTopic { name: "t".into() },
        };
        assert_eq!(image.apply_envelope(&create), Some(Ok(())));
        assert_eq!(image.apply_envelope(&delete), Some(Ok(())));
        assert_eq!(image.apply_envelope(&create), None, "a copy is skipped");
        assert!(
            !image.topics.contains_key("t"),
            "the deleted topic stays deleted"
        );
        // Ids are forgotten only after RECENT_PROPOSALS others.
        for id in 1_000..1_000 + RECENT_PROPOSALS as u64 {
            let fence = Envelope {
                id,
                entry: Entry::FenceBroker { broker: 2 },
            };
            assert!(image.apply_envelope(&fence).is_some());
        }
        assert_eq!(image.recent.0.len(), RECENT_PROPOSALS);
        assert_eq!(image.recent.1.len(), RECENT_PROPOSALS);
        assert!(image.apply_envelope(&create).is_some(), "forgotten");
    }
}
