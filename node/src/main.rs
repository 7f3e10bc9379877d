//! The `runnel` binary: parses flags and the config file, opens the broker, serves until
//! SIGINT or SIGTERM, then flushes every segment and exits 0. See the `runnel_node` library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use runnel_core::broker::ControlledShutdown;
use runnel_node::alloc::LazyHugeAllocator;
use runnel_node::broker::{Broker, now_ms};
use runnel_node::config::BrokerConfig;
use runnel_node::plugins::Pipelines;
use runnel_node::{admin, server};

#[global_allocator]
static ALLOCATOR: LazyHugeAllocator = LazyHugeAllocator;

/// runnel: a Kafka-compatible broker. With no options it listens on 127.0.0.1:9092, keeps
/// data in ./runnel-data and serves the playground and /metrics on http://127.0.0.1:8080/.
/// With a subcommand, it is a Kafka client for runnel or any Kafka-compatible broker.
#[derive(Debug, Parser)]
#[command(name = "runnel", version)]
struct Cli {
    /// A TOML file of settings with Kafka's names ("listeners", "log.dirs", "num.partitions", ...).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// The Kafka listener address (`listeners`).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The host advertised to clients (`advertised.host`).
    #[arg(long)]
    advertised_host: Option<String>,
    /// The data directory (`log.dirs`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The admin HTTP address (`admin.listener`).
    #[arg(long)]
    admin: Option<SocketAddr>,
    /// Any setting as key=value, e.g. `--set num.partitions=3` (repeatable; wins over the file).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// Subcommands: the brokers to talk to, host[:port][,host[:port]...] (port 9092 when
    /// omitted). Also RUNNEL_BROKERS, or `brokers` in the profile file; default 127.0.0.1:9092.
    #[arg(
        long = "brokers",
        short = 'b',
        visible_aliases = ["bootstrap", "bootstrap-server"],
        global = true,
        env = "RUNNEL_BROKERS",
        value_name = "HOST:PORT,..."
    )]
    brokers: Option<String>,
    /// Subcommands: a client property as kcat takes it, librdkafka's names (repeatable):
    /// security.protocol=plaintext|ssl|sasl_plaintext|sasl_ssl, ssl.ca.location,
    /// ssl.certificate.location, ssl.key.location, sasl.mechanism=PLAIN|SCRAM-SHA-256|SCRAM-SHA-512, sasl.username,
    /// sasl.password. Also `properties` in the profile file; -X wins.
    #[arg(short = 'X', global = true, value_name = "KEY=VALUE")]
    properties: Vec<String>,
    /// Without a subcommand, `runnel` runs the broker.
    #[command(subcommand)]
    command: Option<Command>,
}

/// Client subcommands, against runnel or any Kafka-compatible broker.
#[derive(Debug, Subcommand)]
enum Command {
    /// Create, list, describe, change and delete topics.
    Topic {
        /// table for people, json for scripts.
        #[arg(long, short = 'o', value_enum, default_value = "table", global = true)]
        output: OutputArg,
        #[command(subcommand)]
        action: TopicAction,
    },
    /// List, describe, delete and reset consumer groups.
    Group {
        /// table for people, json for scripts.
        #[arg(long, short = 'o', value_enum, default_value = "table", global = true)]
        output: OutputArg,
        #[command(subcommand)]
        action: GroupAction,
    },
    /// List and describe transactions (kafka-transactions.sh).
    Txn {
        /// table for people, json for scripts.
        #[arg(long, short = 'o', value_enum, default_value = "table", global = true)]
        output: OutputArg,
        #[command(subcommand)]
        action: TxnAction,
    },
    /// The cluster id, brokers and the controller; or start a local cluster.
    Cluster {
        /// table for people, json for scripts.
        #[arg(long, short = 'o', value_enum, default_value = "table", global = true)]
        output: OutputArg,
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// Delete records.
    Records {
        /// table for people, json for scripts.
        #[arg(long, short = 'o', value_enum, default_value = "table", global = true)]
        output: OutputArg,
        #[command(subcommand)]
        action: RecordsAction,
    },
    /// Create, list and delete SCRAM users (SASL/SCRAM-SHA-256 and -512, KIP-554).
    User {
        /// table for people, json for scripts.
        #[arg(long, short = 'o', value_enum, default_value = "table", global = true)]
        output: OutputArg,
        #[command(subcommand)]
        action: UserAction,
    },
    /// Create, list and delete ACLs (a broker with `authorizer.class.name`; kafka-acls).
    Acl {
        /// table for people, json for scripts.
        #[arg(long, short = 'o', value_enum, default_value = "table", global = true)]
        output: OutputArg,
        #[command(subcommand)]
        action: AclAction,
    },
    /// Deploy, list and remove WASM plugins on a running runnel (through its admin port).
    Plugin {
        /// The broker's admin address (also `admin` in the profile file).
        #[arg(long = "admin", id = "plugin_admin", global = true)]
        admin: Option<String>,
        #[command(subcommand)]
        action: PluginAction,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Produce one record per input line, each sent as it is read (Ctrl-C sends what was read).
    Produce {
        /// The topic.
        topic: String,
        /// Read lines from this file instead of standard input.
        file: Option<PathBuf>,
        /// Split each line at the first SEP into key and value.
        #[arg(long, short = 'K', value_name = "SEP")]
        key_separator: Option<String>,
        /// A header for every record, KEY=VALUE (repeatable).
        #[arg(long = "header", short = 'H', value_name = "KEY=VALUE")]
        headers: Vec<String>,
        /// Send every record to this partition (default: by key, like the Java client).
        #[arg(long, short = 'p', allow_negative_numbers = true)]
        partition: Option<i32>,
        /// An empty value is a tombstone (null), like kcat -Z.
        #[arg(long, short = 'Z')]
        tombstones: bool,
        /// all, 1 or 0 (Kafka's acks).
        #[arg(long, default_value = "all")]
        acks: String,
        /// none, gzip, snappy, lz4 or zstd.
        #[arg(long, short = 'z', default_value = "none")]
        compression: String,
        /// Turn off the idempotent producer (on by default with acks=all, as in Kafka 3+).
        #[arg(long)]
        no_idempotence: bool,
        /// Every record's timestamp: milliseconds or a date-time (default: when read).
        #[arg(long)]
        timestamp: Option<String>,
        /// How long a line waits for more before it is sent (linger.ms).
        #[arg(long, default_value_t = 5)]
        linger_ms: u64,
    },
    /// Print the records of topics up to their current end, then exit (--follow: keep waiting).
    Consume {
        /// The topics.
        #[arg(required = true)]
        topics: Vec<String>,
        /// earliest, latest, an offset, -N (N before the end; -0 is the end), @MILLIS or a
        /// date-time like 2026-11-23T10:00:00Z. With --group, only where the group has no
        /// usable commit.
        #[arg(long, default_value = "earliest", allow_hyphen_values = true)]
        from: String,
        /// Only these partitions, each optionally from its own offset: 0,2 or 0:15,2.
        #[arg(
            long,
            short = 'p',
            value_name = "P[:OFFSET],...",
            allow_hyphen_values = true
        )]
        partition: Option<String>,
        /// Consume as a member of this consumer group: its share of the partitions, from its
        /// commits; commits what it printed and leaves the group at the end, on Ctrl-C, on a
        /// closed pipe and on an error.
        #[arg(long, short = 'G')]
        group: Option<String>,
        /// Stop after this many records.
        #[arg(long, short = 'n')]
        count: Option<usize>,
        /// Keep waiting for new records until Ctrl-C (the default of kcat without -e and rpk).
        #[arg(long)]
        follow: bool,
        /// Read only committed transactions, up to the last stable offset
        /// (`isolation.level=read_committed`; kcat's default). Transaction markers are never
        /// printed either way.
        #[arg(long)]
        read_committed: bool,
        /// Output format: %t topic, %p partition, %o offset, %T timestamp (ms), %d timestamp
        /// (ISO 8601), %k key, %K key length (-1: null), %s value, %S value length (-1: null),
        /// %h headers (k=v,...), %%, \t, \n, \r, \\.
        #[arg(long, short = 'f', default_value = "%s\\n")]
        format: String,
        /// How records are printed: `table` with --format, `json` as one JSON object per line.
        #[arg(
            long,
            short = 'o',
            value_enum,
            default_value = "table",
            hide_possible_values = true
        )]
        output: OutputArg,
        /// How keys, values and header values are written: text (the bytes as they are),
        /// base64 or hex.
        #[arg(long, short = 'e', value_enum, default_value = "text")]
        encoding: EncodingArg,
    },
}

/// `--output`: how reports are printed.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum OutputArg {
    /// Aligned columns.
    Table,
    /// One JSON document.
    Json,
}

impl From<OutputArg> for runnel_node::cli::Output {
    fn from(o: OutputArg) -> Self {
        match o {
            OutputArg::Table => Self::Table,
            OutputArg::Json => Self::Json,
        }
    }
}

/// `consume --encoding`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum EncodingArg {
    /// The bytes as they are.
    Text,
    /// Base64 (RFC 4648).
    Base64,
    /// Hexadecimal.
    Hex,
}

impl From<EncodingArg> for runnel_node::cli::Encoding {
    fn from(e: EncodingArg) -> Self {
        match e {
            EncodingArg::Text => Self::Text,
            EncodingArg::Base64 => Self::Base64,
            EncodingArg::Hex => Self::Hex,
        }
    }
}

/// What `runnel plugin` does.
#[derive(Debug, Subcommand)]
enum PluginAction {
    /// Run FILE (.wasm, or .wat text) on every record of --input, writing --output; replaces a
    /// plugin of the same name at a batch boundary.
    Deploy {
        /// The plugin's name.
        name: String,
        /// The module.
        file: PathBuf,
        /// The topic read.
        #[arg(long)]
        input: String,
        /// The topic written.
        #[arg(long)]
        output: String,
        /// transform (runnel_transform) or partition (runnel_partition).
        #[arg(long, default_value = "transform")]
        kind: String,
    },
    /// List deployed plugins.
    List {
        /// table for people, json for scripts.
        #[arg(long, short = 'o', value_enum, default_value = "table")]
        output: OutputArg,
    },
    /// Stop and remove a plugin.
    Remove {
        /// The plugin's name.
        name: String,
    },
}

/// What `runnel cluster` does.
#[derive(Debug, Subcommand)]
enum ClusterAction {
    /// The cluster id, brokers, the controller, topic and partition counts.
    Info,
    /// Starts a local cluster on loopback: node i serves Kafka on BASE_PORT + 2i, Raft on
    /// BASE_PORT + 2i + 1 and admin HTTP on ADMIN_PORT + i, with data in DIR/node-i; runs until
    /// Ctrl-C, then stops every node.
    Up {
        /// How many nodes (all of them metadata voters).
        #[arg(long, default_value_t = 3)]
        nodes: u32,
        /// Node 0's Kafka port.
        #[arg(long, default_value_t = 9092)]
        base_port: u16,
        /// Node 0's admin port.
        #[arg(long, default_value_t = 8080)]
        admin_port: u16,
        /// Where the nodes keep their data.
        #[arg(long, default_value = "./runnel-cluster")]
        dir: PathBuf,
    },
}

/// What `runnel records` does.
#[derive(Debug, Subcommand)]
enum RecordsAction {
    /// Delete every record below an offset in each partition (DeleteRecords). Every partition
    /// is checked first: when one ends below the offset, nothing is deleted.
    Delete {
        /// The topic.
        topic: String,
        /// The new log start offset (-1: up to the high watermark).
        #[arg(long, allow_hyphen_values = true)]
        before: i64,
    },
}

/// What `runnel user` does.
#[derive(Debug, Subcommand)]
enum UserAction {
    /// Set a user's SCRAM credential (a new user, or a new password).
    Create {
        /// The user name.
        user: String,
        /// The password (salted and hashed here; the broker never sees it); `-` reads it from
        /// the first line of standard input, out of `ps` and shell history.
        #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
        password: String,
        /// SCRAM-SHA-256 or SCRAM-SHA-512.
        #[arg(long, default_value = "SCRAM-SHA-512", value_parser = ["SCRAM-SHA-256", "SCRAM-SHA-512"])]
        mechanism: String,
        /// PBKDF2 iterations (Kafka's bounds: 4096 to 16384).
        #[arg(long, default_value_t = runnel_node::cli::DEFAULT_ITERATIONS,
              value_parser = clap::value_parser!(u32).range(
                  i64::from(runnel_core::scram::MIN_ITERATIONS)..=i64::from(runnel_core::scram::MAX_ITERATIONS)))]
        iterations: u32,
    },
    /// List SCRAM users, each mechanism with its iterations (never a key).
    List,
    /// Remove a user's SCRAM credentials (one mechanism, or all).
    Delete {
        /// The user name.
        user: String,
        /// Only this mechanism's credential (SCRAM-SHA-256 or SCRAM-SHA-512).
        #[arg(long, value_parser = ["SCRAM-SHA-256", "SCRAM-SHA-512"])]
        mechanism: Option<String>,
    },
}

/// The resource an ACL command is about: one of `--topic`, `--group`, `--cluster`,
/// `--transactional-id`.
#[derive(Debug, Args)]
struct AclResource {
    /// A topic (`*`: every topic).
    #[arg(long, group = "acl_resource")]
    topic: Option<String>,
    /// A consumer group (`*`: every group).
    #[arg(long, group = "acl_resource")]
    group: Option<String>,
    /// The cluster (`kafka-cluster`).
    #[arg(long, group = "acl_resource")]
    cluster: bool,
    /// A transactional id.
    #[arg(long = "transactional-id", group = "acl_resource")]
    transactional_id: Option<String>,
    /// The name is a prefix: the ACL covers every resource whose name starts with it.
    #[arg(long)]
    prefixed: bool,
}

impl AclResource {
    /// (type, name), or `None` when no resource was given.
    fn named(&self) -> Option<(runnel_core::acl::ResourceType, String)> {
        use runnel_core::acl::ResourceType;
        if self.cluster {
            return Some((
                ResourceType::Cluster,
                runnel_core::acl::CLUSTER_NAME.to_string(),
            ));
        }
        [
            (ResourceType::Topic, &self.topic),
            (ResourceType::Group, &self.group),
            (ResourceType::TransactionalId, &self.transactional_id),
        ]
        .into_iter()
        .find_map(|(t, name)| name.clone().map(|n| (t, n)))
    }

    /// The filter of `runnel acl list|delete`: this resource (PREFIXED with `--prefixed`,
    /// else `unprefixed`) and the other fields given.
    fn filter(
        &self,
        unprefixed: runnel_core::acl::PatternFilter,
        principal: Option<String>,
        host: Option<String>,
        operation: Option<runnel_core::acl::AclOperation>,
        permission: Option<runnel_core::acl::AclPermission>,
    ) -> runnel_core::acl::AclBindingFilter {
        use runnel_core::acl::{PatternFilter, PatternType};
        let named = self.named();
        runnel_core::acl::AclBindingFilter {
            resource_type: named.as_ref().map(|(t, _)| *t),
            resource_name: named.map(|(_, n)| n),
            pattern: if self.prefixed {
                PatternFilter::Exactly(PatternType::Prefixed)
            } else {
                unprefixed
            },
            principal,
            host,
            operation,
            permission,
        }
    }
}

/// What `runnel acl` does.
#[derive(Debug, Subcommand)]
enum AclAction {
    /// Add ACLs: each `--operation` for `--principal` on the resource (kafka-acls --add).
    Create {
        /// Who: `User:alice`, or `User:*` for everyone.
        #[arg(long)]
        principal: String,
        /// What: read, write, create, delete, alter, describe, describe-configs,
        /// alter-configs, idempotent-write, cluster-action, all (repeatable).
        #[arg(long = "operation", required = true)]
        operations: Vec<String>,
        /// Deny instead of allow (a DENY wins over any ALLOW).
        #[arg(long)]
        deny: bool,
        /// The client address it applies to.
        #[arg(long, default_value = "*")]
        host: String,
        #[command(flatten)]
        resource: AclResource,
    },
    /// List ACLs: every one, or those of a resource (literal and prefixed ones of that name)
    /// or principal (kafka-acls --list).
    List {
        /// Only this principal's.
        #[arg(long)]
        principal: Option<String>,
        #[command(flatten)]
        resource: AclResource,
    },
    /// Remove the ACLs that match; a resource or a principal is required. A resource's
    /// LITERAL ACLs, or PREFIXED ones with `--prefixed` (kafka-acls --remove).
    Delete {
        /// Only this principal's.
        #[arg(long)]
        principal: Option<String>,
        /// Only this operation's.
        #[arg(long)]
        operation: Option<String>,
        /// Only DENY ACLs (else both kinds).
        #[arg(long)]
        deny: bool,
        /// Only those for this host.
        #[arg(long)]
        host: Option<String>,
        #[command(flatten)]
        resource: AclResource,
    },
}

/// What `runnel txn` does.
#[derive(Debug, Subcommand)]
enum TxnAction {
    /// List the transactional ids the coordinators know, with producer id and state.
    List,
    /// Show a transactional id's state, producer id and epoch, timeout, start and partitions.
    Describe {
        /// The transactional id.
        transactional_id: String,
    },
}

/// What `runnel group` does.
#[derive(Debug, Subcommand)]
enum GroupAction {
    /// List groups (of every broker).
    List,
    /// Show a group's coordinator, state, members and lag per partition.
    Describe {
        /// The group.
        group: String,
    },
    /// Delete a group without members, and its commits.
    Delete {
        /// The group.
        group: String,
    },
    /// Move a group's committed offsets (a dry run unless --execute); only while the group
    /// has no members, as kafka-consumer-groups.sh.
    ResetOffsets {
        /// The group.
        group: String,
        /// A topic to reset (repeatable).
        #[arg(long = "topic", required_unless_present = "all_topics")]
        topics: Vec<String>,
        /// Every topic the group has commits on.
        #[arg(long, conflicts_with = "topics")]
        all_topics: bool,
        /// To each partition's log start.
        #[arg(long, conflicts_with_all = ["to_latest", "to_offset", "shift_by", "to_datetime"])]
        to_earliest: bool,
        /// To each partition's log end.
        #[arg(long, conflicts_with_all = ["to_offset", "shift_by", "to_datetime"])]
        to_latest: bool,
        /// To this offset in every partition.
        #[arg(long, conflicts_with_all = ["shift_by", "to_datetime"])]
        to_offset: Option<i64>,
        /// By this many from the current commit (negative rewinds).
        #[arg(long, allow_hyphen_values = true, conflicts_with = "to_datetime")]
        shift_by: Option<i64>,
        /// To the first record at or after this time: 2026-11-23T10:00:00Z, a date, or
        /// (@)milliseconds since the epoch (UTC unless an offset is given).
        #[arg(long)]
        to_datetime: Option<String>,
        /// Commit the plan (otherwise only print it).
        #[arg(long)]
        execute: bool,
    },
}

/// What `runnel topic` does.
#[derive(Debug, Subcommand)]
enum TopicAction {
    /// List topics and their partition counts.
    List,
    /// Show configs, and per partition the leader, replicas, ISR, log start and high watermark.
    Describe {
        /// The topic.
        name: String,
    },
    /// Create a topic.
    Create {
        /// The topic.
        name: String,
        /// Partitions (-1: the broker's num.partitions).
        #[arg(long, short = 'p', default_value_t = 1, allow_negative_numbers = true)]
        partitions: i32,
        /// Replicas per partition (-1: the broker's default.replication.factor).
        #[arg(long, short = 'r', default_value_t = -1, allow_negative_numbers = true)]
        replication_factor: i16,
        /// A topic config as KEY=VALUE (repeatable), e.g. cleanup.policy=compact.
        #[arg(long = "config", short = 'c')]
        configs: Vec<String>,
    },
    /// Delete a topic.
    Delete {
        /// The topic.
        name: String,
    },
    /// Set or remove topic configs (e.g. retention.ms, cleanup.policy).
    AlterConfig {
        /// The topic.
        name: String,
        /// KEY=VALUE to set (repeatable).
        #[arg(long = "set")]
        set: Vec<String>,
        /// KEY to return to its default (repeatable).
        #[arg(long = "delete")]
        delete: Vec<String>,
    },
    /// Grow a topic to this many partitions.
    AddPartitions {
        /// The topic.
        name: String,
        /// The new total.
        #[arg(long, allow_negative_numbers = true)]
        to: i32,
    },
}

/// Client settings from the profile file: `$RUNNEL_PROFILE`, else
/// `$XDG_CONFIG_HOME/runnel/profile.toml`, else `~/.config/runnel/profile.toml`, with
/// `brokers = "host:port,..."` and `admin = "host:port"`; flags and RUNNEL_BROKERS win.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    brokers: Option<String>,
    admin: Option<String>,
    /// Client properties (librdkafka's names), as `-X` gives them.
    properties: Option<std::collections::BTreeMap<String, String>>,
}

impl Profile {
    /// The profile, or the defaults when there is no file.
    fn load() -> Result<Self, String> {
        let explicit = std::env::var_os("RUNNEL_PROFILE").is_some();
        let path = match std::env::var_os("RUNNEL_PROFILE") {
            Some(p) => PathBuf::from(p),
            None => match std::env::var_os("XDG_CONFIG_HOME") {
                Some(dir) => PathBuf::from(dir).join("runnel/profile.toml"),
                None => match std::env::var_os("HOME") {
                    Some(home) => PathBuf::from(home).join(".config/runnel/profile.toml"),
                    None => return Ok(Self::default()),
                },
            },
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e: toml::de::Error| {
                format!("{}: {}", path.display(), e.message().trim())
            }),
            // Only the default places may be absent; a RUNNEL_PROFILE that is not there is a
            // mistake to report, not to paper over with 127.0.0.1:9092.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(Self::default()),
            Err(e) => Err(format!("RUNNEL_PROFILE {}: {e}", path.display())),
        }
    }
}

/// Runs a client subcommand; prints its output or one error line. `node_args` (`--config`,
/// `--set`) go to each node `cluster up` starts.
fn run_command(
    command: Command,
    brokers: Option<String>,
    properties: &[String],
    node_args: &[String],
) -> ExitCode {
    use runnel_node::cli;
    let result = (|| -> Result<String, cli::ClientError> {
        let profile = Profile::load().map_err(cli::ClientError::Usage)?;
        let mut client_properties = profile.properties.clone().unwrap_or_default();
        for property in properties {
            let (key, value) = property.split_once('=').ok_or_else(|| {
                cli::ClientError::Usage(format!("-X {property}: expected KEY=VALUE"))
            })?;
            client_properties.insert(key.trim().to_string(), value.trim().to_string());
        }
        cli::configure_security(&client_properties)?;
        let bootstrap = brokers
            .or(profile.brokers)
            .unwrap_or_else(|| "127.0.0.1:9092".to_string());
        let connect = || cli::Brokers::connect(&bootstrap);
        match command {
            Command::Topic { output, action } => {
                let mut brokers = connect()?;
                let b = &mut brokers;
                let report = match action {
                    TopicAction::List => cli::topic_list(b),
                    TopicAction::Describe { name } => cli::topic_describe(b, &name),
                    TopicAction::Create {
                        name,
                        partitions,
                        replication_factor,
                        configs,
                    } => cli::topic_create(b, &name, partitions, replication_factor, &configs),
                    TopicAction::Delete { name } => cli::topic_delete(b, &name),
                    TopicAction::AlterConfig { name, set, delete } => {
                        cli::topic_alter_config(b, &name, &set, &delete)
                    }
                    TopicAction::AddPartitions { name, to } => {
                        cli::topic_add_partitions(b, &name, to)
                    }
                }?;
                Ok(report.render(output.into()))
            }
            Command::Plugin { admin, action } => {
                let admin = admin
                    .or(profile.admin)
                    .unwrap_or_else(|| "127.0.0.1:8080".to_string());
                match action {
                    PluginAction::Deploy {
                        name,
                        file,
                        input,
                        output,
                        kind,
                    } => {
                        let wasm = std::fs::read(&file).map_err(|e| {
                            cli::ClientError::Usage(format!("{}: {e}", file.display()))
                        })?;
                        let answer = cli::admin_request(
                            &admin,
                            "POST",
                            &format!("/plugins/{name}?kind={kind}&input={input}&output={output}"),
                            &wasm,
                        )
                        .map_err(|e| match e {
                            cli::ClientError::Usage(why) => {
                                cli::ClientError::Usage(format!("{}: {why}", file.display()))
                            }
                            other => other,
                        })?;
                        Ok(cli::plugin_deployed(&answer)?.render(cli::Output::Table))
                    }
                    PluginAction::List { output } => {
                        let json = cli::admin_request(&admin, "GET", "/plugins", b"")?;
                        Ok(cli::plugin_list(&json)?.render(output.into()))
                    }
                    PluginAction::Remove { name } => {
                        cli::admin_request(&admin, "DELETE", &format!("/plugins/{name}"), b"")?;
                        Ok(format!("removed plugin {name}\n"))
                    }
                }
            }
            Command::Completions { shell } => {
                let mut command = <Cli as clap::CommandFactory>::command();
                let mut out = Vec::new();
                clap_complete::generate(shell, &mut command, "runnel", &mut out);
                Ok(String::from_utf8_lossy(&out).into_owned())
            }
            Command::Cluster {
                output,
                action: ClusterAction::Info,
            } => Ok(cli::cluster_info(&mut connect()?)?.render(output.into())),
            Command::Cluster {
                action:
                    ClusterAction::Up {
                        nodes,
                        base_port,
                        admin_port,
                        dir,
                    },
                ..
            } => cluster_up(nodes, base_port, admin_port, &dir, node_args)
                .map(|()| String::new())
                .map_err(cli::ClientError::Usage),
            Command::User { output, action } => {
                let mut brokers = connect()?;
                let b = &mut brokers;
                let report = match action {
                    UserAction::Create {
                        user,
                        password,
                        mechanism,
                        iterations,
                    } => {
                        let mechanism = cli::scram_mechanism(&mechanism)?;
                        let password = if password == "-" {
                            let mut line = String::new();
                            std::io::stdin().read_line(&mut line).map_err(|e| {
                                cli::ClientError::Usage(format!("--password -: {e}"))
                            })?;
                            line.trim_end_matches(['\r', '\n']).to_string()
                        } else {
                            password
                        };
                        cli::user_create(b, &user, &password, mechanism, iterations)
                    }
                    UserAction::List => cli::user_list(b),
                    UserAction::Delete { user, mechanism } => {
                        let mechanism =
                            mechanism.as_deref().map(cli::scram_mechanism).transpose()?;
                        cli::user_delete(b, &user, mechanism)
                    }
                }?;
                Ok(report.render(output.into()))
            }
            Command::Acl { output, action } => {
                let mut brokers = connect()?;
                let report = match action {
                    AclAction::Create {
                        principal,
                        operations,
                        deny,
                        host,
                        resource,
                    } => {
                        let Some((resource_type, name)) = resource.named() else {
                            return Err(cli::ClientError::Usage(
                                "give the resource: --topic, --group, --cluster or --transactional-id"
                                    .into(),
                            ));
                        };
                        let pattern_type = if resource.prefixed {
                            runnel_core::acl::PatternType::Prefixed
                        } else {
                            runnel_core::acl::PatternType::Literal
                        };
                        let permission = if deny {
                            runnel_core::acl::AclPermission::Deny
                        } else {
                            runnel_core::acl::AclPermission::Allow
                        };
                        let mut bindings = Vec::new();
                        for operation in &operations {
                            bindings.push(runnel_core::acl::AclBinding {
                                resource_type,
                                resource_name: name.clone(),
                                pattern_type,
                                principal: principal.clone(),
                                host: host.clone(),
                                operation: cli::acl_operation(operation)?,
                                permission,
                            });
                        }
                        cli::acl_create(&mut brokers, &bindings)
                    }
                    AclAction::List {
                        principal,
                        resource,
                    } => cli::acl_list(
                        &mut brokers,
                        &resource.filter(
                            runnel_core::acl::PatternFilter::Any,
                            principal,
                            None,
                            None,
                            None,
                        ),
                    ),
                    AclAction::Delete {
                        principal,
                        operation,
                        deny,
                        host,
                        resource,
                    } => {
                        if principal.is_none() && resource.named().is_none() {
                            return Err(cli::ClientError::Usage(
                                "give a resource (--topic, --group, --cluster, --transactional-id) or --principal: runnel acl delete does not remove every ACL at once"
                                    .into(),
                            ));
                        }
                        let operation = operation.as_deref().map(cli::acl_operation).transpose()?;
                        let permission = deny.then_some(runnel_core::acl::AclPermission::Deny);
                        // Without a resource, every pattern type of the principal's.
                        let unprefixed = if resource.named().is_some() {
                            runnel_core::acl::PatternFilter::Exactly(
                                runnel_core::acl::PatternType::Literal,
                            )
                        } else {
                            runnel_core::acl::PatternFilter::Any
                        };
                        cli::acl_delete(
                            &mut brokers,
                            &resource.filter(unprefixed, principal, host, operation, permission),
                        )
                    }
                }?;
                Ok(report.render(output.into()))
            }
            Command::Records {
                output,
                action: RecordsAction::Delete { topic, before },
            } => Ok(cli::records_delete(&mut connect()?, &topic, before)?.render(output.into())),
            Command::Group { output, action } => {
                let mut brokers = connect()?;
                let b = &mut brokers;
                let report = match action {
                    GroupAction::List => cli::group_list(b),
                    GroupAction::Describe { group } => cli::group_describe(b, &group),
                    GroupAction::Delete { group } => cli::group_delete(b, &group),
                    GroupAction::ResetOffsets {
                        group,
                        topics,
                        all_topics,
                        to_earliest,
                        to_latest,
                        to_offset,
                        shift_by,
                        to_datetime,
                        execute,
                    } => {
                        let reset = match (to_earliest, to_latest, to_offset, shift_by, to_datetime)
                        {
                            (true, ..) => cli::Reset::Earliest,
                            (_, true, ..) => cli::Reset::Latest,
                            (_, _, Some(o), ..) => cli::Reset::Offset(o),
                            (_, _, _, Some(n), _) => cli::Reset::Shift(n),
                            (.., Some(t)) => cli::Reset::Timestamp(cli::parse_time(&t)?),
                            _ => {
                                return Err(cli::ClientError::Usage(
                                    "give one of --to-earliest, --to-latest, --to-offset N, --shift-by N, --to-datetime T"
                                        .into(),
                                ));
                            }
                        };
                        let topics = (!all_topics).then_some(topics.as_slice());
                        cli::group_reset_offsets(b, &group, topics, reset, execute)
                    }
                }?;
                Ok(report.render(output.into()))
            }
            Command::Txn { output, action } => {
                let mut brokers = connect()?;
                let report = match action {
                    TxnAction::List => cli::txn_list(&mut brokers),
                    TxnAction::Describe { transactional_id } => {
                        cli::txn_describe(&mut brokers, &transactional_id)
                    }
                }?;
                Ok(report.render(output.into()))
            }
            Command::Produce {
                topic,
                file,
                key_separator,
                headers,
                partition,
                tombstones,
                acks,
                compression,
                no_idempotence,
                timestamp,
                linger_ms,
            } => {
                let usage = |s: String| cli::ClientError::Usage(s);
                let acks = match acks.as_str() {
                    "all" | "-1" => -1,
                    "1" => 1,
                    "0" => 0,
                    other => return Err(usage(format!("--acks {other}: give all, 1 or 0"))),
                };
                let compression = match compression.as_str() {
                    "none" => runnel_core::batch::Compression::None,
                    "gzip" => runnel_core::batch::Compression::Gzip,
                    "snappy" => runnel_core::batch::Compression::Snappy,
                    "lz4" => runnel_core::batch::Compression::Lz4,
                    "zstd" => runnel_core::batch::Compression::Zstd,
                    other => {
                        return Err(usage(format!(
                            "--compression {other}: give none, gzip, snappy, lz4 or zstd"
                        )));
                    }
                };
                let headers = headers
                    .iter()
                    .map(|h| {
                        h.split_once('=')
                            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                            .ok_or_else(|| usage(format!("--header {h}: expected KEY=VALUE")))
                    })
                    .collect::<Result<_, _>>()?;
                let options = cli::ProduceOptions {
                    key_separator: key_separator.map(String::into_bytes),
                    headers,
                    partition,
                    tombstones,
                    acks,
                    compression,
                    // As the Java client: idempotence needs acks=all; with other acks it is off.
                    idempotent: !no_idempotence && acks == -1,
                    timestamp_ms: timestamp.as_deref().map(cli::parse_time).transpose()?,
                    linger: Duration::from_millis(linger_ms),
                };
                let input: Box<dyn std::io::BufRead + Send> = match &file {
                    Some(path) => Box::new(std::io::BufReader::new(
                        std::fs::File::open(path)
                            .map_err(|e| usage(format!("{}: {e}", path.display())))?,
                    )),
                    None => Box::new(std::io::BufReader::new(std::io::stdin())),
                };
                let mut brokers = connect()?;
                cli::signals::install();
                let summary = cli::produce(&mut brokers, &topic, input, &options)?;
                eprint!("{}", summary.render(cli::Output::Table));
                Ok(String::new())
            }
            Command::Consume {
                topics,
                from,
                partition,
                group,
                count,
                follow,
                read_committed,
                format,
                output,
                encoding,
            } => {
                let partitions = match &partition {
                    Some(list) => parse_partitions(list)?,
                    None => Vec::new(),
                };
                let options = cli::ConsumeOptions {
                    start: cli::Start::parse(&from)?,
                    partitions,
                    group: group.as_deref(),
                    limit: count,
                    format: cli::Format::parse(&format)?,
                    json: matches!(output, OutputArg::Json),
                    encoding: encoding.into(),
                    follow,
                    read_committed,
                };
                let mut brokers = connect()?;
                cli::signals::install();
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::new(stdout.lock());
                match cli::consume(&mut brokers, &topics, &options, &mut out)? {
                    cli::Consumed::Done(_) | cli::Consumed::ClosedPipe(_) => {}
                    cli::Consumed::Interrupted(n) => {
                        let _ = std::io::Write::flush(&mut out);
                        eprintln!(
                            "runnel: interrupted after {}{}",
                            cli::plural(n, "record"),
                            if group.is_some() {
                                "; committed them and left the group"
                            } else {
                                ""
                            }
                        );
                    }
                }
                Ok(String::new())
            }
        }
    })();
    match result {
        Ok(text) => {
            // A closed pipe (`| head`) is the reader's choice, not an error.
            let mut stdout = std::io::stdout().lock();
            let _ = std::io::Write::write_all(&mut stdout, text.as_bytes());
            let _ = std::io::Write::flush(&mut stdout);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("runnel: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `consume -p 0:15,2`: partitions, each with an optional start offset.
fn parse_partitions(list: &str) -> Result<Vec<(i32, Option<i64>)>, runnel_node::cli::ClientError> {
    let bad = || {
        runnel_node::cli::ClientError::Usage(format!(
            "--partition {list}: expected P[:OFFSET],... like 0,2 or 0:15,2"
        ))
    };
    list.split(',')
        .map(|item| {
            let (p, offset) = match item.split_once(':') {
                Some((p, o)) => (p, Some(o.trim().parse::<i64>().map_err(|_| bad())?)),
                None => (item, None),
            };
            let p = p.trim().parse::<i32>().map_err(|_| bad())?;
            if p < 0 || offset.is_some_and(|o| o < 0) {
                return Err(bad());
            }
            Ok((p, offset))
        })
        .collect()
}

/// Settings `cluster up` gives each node itself; one of them in the `--config` file or a
/// `--set` meant for every node is refused rather than overridden in silence.
const PER_NODE_SETTINGS: [&str; 6] = [
    "node.id",
    "controller.quorum.voters",
    "listeners",
    "admin.listener",
    "log.dirs",
    "log.dir",
];

/// Err naming the first per-node setting (`PER_NODE_SETTINGS`) in `node_args` (`--set K=V`,
/// `--config FILE`, whose dotted keys and tables are read alike).
fn refuse_per_node_settings(node_args: &[String]) -> Result<(), String> {
    fn keys(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
        for (key, value) in table {
            let name = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            if let toml::Value::Table(inner) = value {
                keys(&name, inner, out);
            }
            out.push(name);
        }
    }
    let mut given = Vec::new();
    for pair in node_args.chunks(2) {
        match pair {
            [flag, setting] if flag == "--set" => {
                given.push(setting.split('=').next().unwrap_or("").trim().to_string());
            }
            [flag, path] if flag == "--config" => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
                let table = text
                    .parse::<toml::Table>()
                    .map_err(|e| format!("{path}: {e}"))?;
                keys("", &table, &mut given);
            }
            _ => {}
        }
    }
    match given
        .iter()
        .find(|k| PER_NODE_SETTINGS.contains(&k.as_str()))
    {
        Some(key) => Err(format!(
            "{key}: `cluster up` sets each node's node.id, controller.quorum.voters, listeners, \
             admin.listener and log.dirs itself (use --nodes, --base-port, --admin-port, --dir)"
        )),
        None => Ok(()),
    }
}

/// `runnel cluster up`: this binary once per node, each a voter, until Ctrl-C (or SIGTERM,
/// SIGHUP). Each node's log lines come out prefixed with `node N | `. A node that exits before
/// every node serves clients fails the whole command (the others are stopped, exit status 1); a node
/// that exits later (killed to try a failover) is reported with how it ended and the command
/// that starts it again, and the others go on. The nodes die with this process, however it
/// ends (`PR_SET_PDEATHSIG`). `node_args` (the `--config` and `--set` given before
/// `cluster up`) go to every node, after its default replication factor (which they may
/// change) and before its node id and voters (which they may not).
fn cluster_up(
    nodes: u32,
    base_port: u16,
    admin_port: u16,
    dir: &std::path::Path,
    node_args: &[String],
) -> Result<(), String> {
    if !(1..=9).contains(&nodes) {
        return Err("--nodes must be between 1 and 9".into());
    }
    refuse_per_node_settings(node_args)?;
    let port = |i: u32, offset: u32| -> Result<u16, String> {
        u16::try_from(u32::from(base_port) + 2 * i + offset)
            .map_err(|_| "--base-port is too high for that many nodes".to_string())
    };
    let mut voters = Vec::new();
    for i in 0..nodes {
        voters.push(format!("{i}@127.0.0.1:{}", port(i, 1)?));
    }
    let voters = voters.join(",");
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut children: Vec<NodeProcess> = Vec::new();
    for i in 0..nodes {
        let kafka = port(i, 0)?;
        let admin = u16::try_from(u32::from(admin_port) + i)
            .map_err(|_| "--admin-port is too high".to_string())?;
        let mut args = vec![
            "--listen".to_string(),
            format!("127.0.0.1:{kafka}"),
            "--admin".to_string(),
            format!("127.0.0.1:{admin}"),
            "--data-dir".to_string(),
            dir.join(format!("node-{i}")).display().to_string(),
            "--set".to_string(),
            format!("default.replication.factor={}", nodes.min(3)),
        ];
        args.extend(node_args.iter().cloned());
        args.extend([
            "--set".to_string(),
            format!("node.id={i}"),
            "--set".to_string(),
            format!("controller.quorum.voters={voters}"),
        ]);
        let mut command = std::process::Command::new(&exe);
        command
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        die_with_parent(&mut command);
        let child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                stop_nodes(children);
                return Err(format!("cannot start node {i}: {e}"));
            }
        };
        eprintln!(
            "node {i}: Kafka 127.0.0.1:{kafka}, admin http://127.0.0.1:{admin}/ (pid {})",
            child.id()
        );
        let mut line = vec![exe.display().to_string()];
        line.extend(args);
        children.push(NodeProcess::watch(i, child, line));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let outcome: Result<(), String> = runtime.block_on(async {
        let mut stop = StopSignals::register()
            .inspect_err(|e| eprintln!("{e}; Ctrl-C alone stops the cluster"))
            .ok();
        let mut check = tokio::time::interval(Duration::from_millis(200));
        let mut listening = false;
        loop {
            tokio::select! {
                () = async {
                    match stop.as_mut() {
                        Some(stop) => stop.wait().await,
                        None => { let _ = tokio::signal::ctrl_c().await; }
                    }
                } => return Ok(()),
                _ = check.tick() => {}
            }
            let ended: Vec<(usize, String)> = children
                .iter_mut()
                .enumerate()
                .filter_map(|(index, node)| node.reap().map(|how| (index, how)))
                .collect();
            if ended.is_empty() {
                // Nothing changed.
            } else if !listening {
                let which: Vec<String> = ended
                    .iter()
                    .map(|(index, how)| format!("node {} exited {how}", children[*index].id))
                    .collect();
                return Err(format!(
                    "{} while the cluster was starting (their lines above say why); the other \
                     nodes were stopped",
                    which.join(", ")
                ));
            } else {
                let running: Vec<String> = children
                    .iter()
                    .filter(|n| !n.exited)
                    .map(|n| n.id.to_string())
                    .collect();
                for (index, how) in &ended {
                    let node = &children[*index];
                    eprintln!(
                        "node {} (pid {}) exited {how}. To start it again by hand (this command \
                         will not stop it):\n  {}",
                        node.id,
                        node.child.id(),
                        node.command_line.join(" ")
                    );
                }
                if running.is_empty() {
                    return Err(
                        "every node this command started has exited (nodes started by hand still run)"
                            .to_string(),
                    );
                }
                let majority = children.len() / 2 + 1;
                eprintln!(
                    "node{} {} of {} go{} on{}",
                    if running.len() > 1 { "s" } else { "" },
                    running.join(", "),
                    children.len(),
                    if running.len() > 1 { "" } else { "es" },
                    if running.len() < majority {
                        format!(
                            "; the metadata quorum needs {majority} voters: no topic can be \
                             created and no leader elected until enough nodes are back"
                        )
                    } else {
                        String::new()
                    }
                );
            }
            if !listening && children.iter().all(NodeProcess::serves) {
                listening = true;
                eprintln!("controller.quorum.voters={voters}; Ctrl-C stops the cluster");
            }
        }
    });
    let restarted_by_hand = children.iter().any(|n| n.exited);
    stop_nodes(children);
    if outcome.is_ok() {
        eprintln!(
            "every node this command started has stopped{}",
            if restarted_by_hand {
                " (a node started again by hand is not stopped by it)"
            } else {
                ""
            }
        );
    }
    outcome
}

/// Stops the nodes that still run (SIGTERM: each flushes and stops cleanly), waits for them
/// and for the last of their output.
fn stop_nodes(children: Vec<NodeProcess>) {
    for node in children.iter().filter(|n| !n.exited) {
        terminate(node.child.id());
    }
    for mut node in children {
        let _ = node.child.wait();
        for printer in node.printers.drain(..) {
            let _ = printer.join();
        }
    }
}

/// Has the kernel send the child SIGTERM when this process dies, however it dies, so no node
/// outlives the `cluster up` that started it.
fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2), which
    // is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

/// One node `cluster up` started: its process, and the threads that print its output.
struct NodeProcess {
    id: u32,
    child: std::process::Child,
    /// The command that starts it, for a user to start it again.
    command_line: Vec<String>,
    printers: Vec<std::thread::JoinHandle<()>>,
    /// Set once it logged that it serves clients.
    serving: Arc<std::sync::atomic::AtomicBool>,
    exited: bool,
}

impl NodeProcess {
    /// Takes over `child`'s stdout and stderr: each line goes to this process's stderr as
    /// `node ID | line`, so the nodes' interleaved logs say whose each line is.
    fn watch(id: u32, mut child: std::process::Child, command_line: Vec<String>) -> Self {
        type Flag = Arc<std::sync::atomic::AtomicBool>;
        fn print_lines(id: u32, from: impl std::io::Read, serving: &Flag) {
            use std::io::{BufRead, Write};
            for line in std::io::BufReader::new(from).split(b'\n') {
                let Ok(line) = line else { return };
                if line.ends_with(SERVING_CLIENTS.as_bytes()) {
                    serving.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "node {id} | ");
                let _ = err.write_all(&line);
                let _ = err.write_all(b"\n");
            }
        }
        let serving: Flag = Arc::default();
        let mut printers = Vec::new();
        if let Some(out) = child.stdout.take() {
            let serving = serving.clone();
            printers.push(std::thread::spawn(move || print_lines(id, out, &serving)));
        }
        if let Some(err) = child.stderr.take() {
            let serving = serving.clone();
            printers.push(std::thread::spawn(move || print_lines(id, err, &serving)));
        }
        Self {
            id,
            child,
            command_line,
            printers,
            serving,
            exited: false,
        }
    }

    /// Whether the node has said it serves clients (`node N unfenced: serving clients`): it
    /// bound every port and the quorum registered it. A port that answers is not enough: a
    /// process left from an earlier run may hold it.
    fn serves(&self) -> bool {
        self.serving.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reaps the node if it has exited (no zombie is left): how it ended, once.
    fn reap(&mut self) -> Option<String> {
        if self.exited {
            return None;
        }
        let status = match self.child.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) => return None,
            Err(e) => {
                self.exited = true;
                return Some(format!("(cannot tell how: {e})"));
            }
        };
        self.exited = true;
        Some(
            match (
                status.code(),
                std::os::unix::process::ExitStatusExt::signal(&status),
            ) {
                (Some(code), _) => format!("with status {code}"),
                (None, Some(signal)) => format!("killed by signal {signal}"),
                (None, None) => "for an unknown reason".to_string(),
            },
        )
    }
}

/// Sends SIGTERM to a child process.
fn terminate(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) only sends a signal to our own child; no memory is touched.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

fn main() -> ExitCode {
    runnel_node::alloc::keep_freed_request_buffers();
    // Colour only on a terminal, and never with NO_COLOR set (https://no-color.org).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        // A log line that cannot be written (stderr a pipe whose reader died, as when the
        // `cluster up` that started this node is killed) is lost, not reported on stderr,
        // which panicked and cut a clean shutdown short.
        .log_internal_errors(false)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // One line, like every other failure here, instead of clap's usage block (whose
            // "use '-- -3'" tip would make -3 a topic name).
            let text = e.to_string();
            let words: Vec<&str> = text
                .lines()
                .take_while(|l| {
                    !l.starts_with("Usage:")
                        && !l.starts_with("For more information")
                        && !l.trim_start().starts_with("tip:")
                })
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!(
                "runnel: {} (see --help)",
                words.join(" ").trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    if let Some(command) = cli.command {
        // --config and --set configure a broker: `cluster up` hands them to every node. A
        // client subcommand has no broker to configure (its settings are -X), and a silently
        // ignored setting is worse than a refusal.
        let mut node_args = Vec::new();
        if let Some(path) = &cli.config {
            node_args.extend(["--config".to_string(), path.display().to_string()]);
        }
        for setting in &cli.settings {
            node_args.extend(["--set".to_string(), setting.clone()]);
        }
        let cluster_up = matches!(
            command,
            Command::Cluster {
                action: ClusterAction::Up { .. },
                ..
            }
        );
        let per_node = cli.listen.is_some()
            || cli.admin.is_some()
            || cli.data_dir.is_some()
            || cli.advertised_host.is_some();
        if per_node || (!cluster_up && !node_args.is_empty()) {
            eprintln!(
                "runnel: --config, --set, --listen, --admin, --data-dir and --advertised-host \
                 configure a broker, not a client subcommand (a client takes -X KEY=VALUE; \
                 `cluster up` takes --config and --set for every node, and --base-port, \
                 --admin-port and --dir for the rest)"
            );
            return ExitCode::from(2);
        }
        return run_command(command, cli.brokers, &cli.properties, &node_args);
    }
    let config = match load_config(&cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("runnel: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runnel: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runnel: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Defaults, then the file, then `--set`, then the dedicated flags.
fn load_config(cli: &Cli) -> Result<BrokerConfig, String> {
    let mut table = match &cli.config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            text.parse::<toml::Table>()
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => toml::Table::new(),
    };
    for setting in &cli.settings {
        let (key, value) = setting
            .split_once('=')
            .ok_or_else(|| format!("--set {setting}: expected KEY=VALUE"))?;
        // Numbers and booleans as such, anything else as a string.
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        table.insert(key.trim().to_string(), parsed);
    }
    let mut config = BrokerConfig::from_table(table).map_err(|e| format!("configuration: {e}"))?;
    // --listen moves the first listener and keeps its name, so its protocol (SSL, SASL) too.
    if let Some(listen) = cli.listen {
        match config.listeners.first_mut() {
            Some(first) => first.address = listen,
            None => config.listeners.push(runnel_node::config::Listener {
                name: "PLAINTEXT".into(),
                address: listen,
                protocol: runnel_node::config::SecurityProtocol::Plaintext,
            }),
        }
    }
    if let Some(host) = &cli.advertised_host {
        config.advertised_host = host.clone();
    }
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(admin) = cli.admin {
        config.admin_listener = admin;
    }
    config.validate().map_err(|e| e.to_string())
}

async fn run(config: BrokerConfig) -> Result<(), String> {
    let mut stop = StopSignals::register()?;
    let mut kafka = Vec::new();
    for listener in &config.listeners {
        let socket = tokio::net::TcpListener::bind(listener.address)
            .await
            .map_err(|e| {
                format!(
                    "cannot listen on {} ({}): {e}",
                    listener.address, listener.name
                )
            })?;
        let tls = match listener.protocol.tls() {
            false => None,
            true => Some(runnel_node::tls::acceptor(
                &config,
                listener.protocol == runnel_node::config::SecurityProtocol::Ssl,
            )?),
        };
        let sasl = match listener.protocol.sasl() {
            false => None,
            true => {
                let mechanisms = config.enabled_mechanisms()?;
                let plain = match &config.sasl_jaas_config {
                    Some(jaas) if mechanisms.contains(&runnel_core::sasl::Mechanism::Plain) => {
                        runnel_core::sasl::PlainUsers::from_jaas(jaas)?
                    }
                    _ => runnel_core::sasl::PlainUsers::default(),
                };
                Some(std::sync::Arc::new(server::SaslListener {
                    mechanisms,
                    plain,
                }))
            }
        };
        kafka.push((socket, server::Security { tls, sasl }));
    }
    let admin = tokio::net::TcpListener::bind(config.admin_listener)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.admin_listener))?;
    // Segment files are kept open up to half of this limit (storage::OpenFiles).
    let open_file_limit = runnel_node::storage::raise_open_file_limit();
    let broker = tokio::task::spawn_blocking(move || Broker::open(config))
        .await
        .map_err(|e| e.to_string())??;
    tracing::info!(
        "open-file limit {open_file_limit}: at most {} segment files open at once",
        runnel_node::storage::OpenFiles::shared().max_open()
    );
    tracing::info!(
        "runnel {} listening on {}, playground and /metrics on http://{}/, data in {}",
        env!("CARGO_PKG_VERSION"),
        broker
            .config
            .listeners
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (host, port) = broker.config.advertised(i);
                format!("{}://{} (advertised as {host}:{port})", l.name, l.address)
            })
            .collect::<Vec<_>>()
            .join(", "),
        broker.config.admin_listener,
        broker.config.data_dir.display()
    );
    let heartbeats = if broker.config.quorum_voters.is_empty() {
        None
    } else {
        // A stop while joining (the metadata log replaying, say) still ends cleanly.
        tokio::select! {
            joined = join_cluster(&broker, inter_broker_security(&broker.config, &kafka)) => Some(joined?),
            () = stop.wait() => {
                tracing::info!("stopped while joining the cluster: flushing segments");
                let flushing = broker.clone();
                tokio::task::spawn_blocking(move || flushing.flush_all())
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!("stopped");
                return Ok(());
            }
        }
    };
    let pipelines = {
        let broker = broker.clone();
        tokio::task::spawn_blocking(move || Pipelines::open(broker))
            .await
            .map_err(|e| e.to_string())??
    };
    let runner = pipelines.clone();
    std::thread::Builder::new()
        .name("plugin-pipelines".into())
        .spawn(move || runner.run())
        .map_err(|e| format!("cannot start the plugin thread: {e}"))?;
    let admin = tokio::spawn(admin::serve(broker.clone(), pipelines, admin));
    let timers = tokio::spawn(timers(broker.clone()));
    let maintenance = tokio::spawn(maintenance(broker.clone()));
    let txn_timeouts = tokio::spawn(abort_timed_out_txns(broker.clone()));
    // A cluster node takes clients once unfenced; a stop meanwhile shuts down as below.
    let stopped = heartbeats.is_some()
        && tokio::select! {
            () = unfenced(&broker) => false,
            () = stop.wait() => true,
        };
    let servers: Vec<_> = if stopped {
        tracing::info!("stopping before the controller unfenced this broker");
        Vec::new()
    } else {
        kafka
            .into_iter()
            .enumerate()
            .map(|(index, (socket, security))| {
                tokio::spawn(server::serve(broker.clone(), socket, index, security))
            })
            .collect()
    };
    if !stopped {
        stop.wait().await;
    }
    match (heartbeats, broker.cluster()) {
        // Never unfenced: this incarnation leads nothing, so there is nothing to move.
        (Some(heartbeats), Some(_)) if stopped => heartbeats.abort(),
        (Some(heartbeats), Some(cluster)) => {
            // Bounded: a node cut off from the quorum (or just restarted, before the quorum
            // has a leader) still stops in time, unfenced; the controller fences it when its
            // session ends. Core's sequence (`ControlledShutdown`), which the simulator runs.
            let mut shutdown = ControlledShutdown::begin(cluster.node_id, now_ms());
            let bound = Duration::from_millis(shutdown.poll_timeout().saturating_sub(now_ms()));
            let moved = controlled_shutdown(&broker, cluster, heartbeats, &mut shutdown);
            if tokio::time::timeout(bound, moved).await.is_err() {
                tracing::warn!(
                    "controlled shutdown: the controller did not fence node {} within {} ms; \
                     {LEADERSHIPS_NOT_MOVED}",
                    cluster.node_id,
                    bound.as_millis()
                );
            }
        }
        _ => {}
    }
    tracing::info!("shutting down: flushing segments");
    for server in &servers {
        server.abort();
    }
    admin.abort();
    timers.abort();
    maintenance.abort();
    txn_timeouts.abort();
    let flushing = broker.clone();
    tokio::task::spawn_blocking(move || flushing.flush_all())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

/// Controlled shutdown (cluster mode), core's `ControlledShutdown` sequence: stop
/// heartbeating, have the controller fence this node (`ControlledShutdown::fence`, here the
/// `FenceBroker` entry) so every partition it leads elects another leader (clients get
/// NOT_LEADER_OR_FOLLOWER and retry there), and leave once that is applied here.
async fn controlled_shutdown(
    broker: &Arc<Broker>,
    cluster: &Arc<runnel_node::cluster::Cluster>,
    heartbeats: tokio::task::JoinHandle<()>,
    shutdown: &mut ControlledShutdown,
) {
    heartbeats.abort();
    let me = cluster.node_id;
    if cluster.controller_id().is_none() {
        tracing::warn!(
            "controlled shutdown: no active controller to fence node {me}; {LEADERSHIPS_NOT_MOVED}"
        );
        return;
    }
    tracing::info!("controlled shutdown: moving leaderships away from node {me}");
    match cluster
        .propose(runnel_node::cluster::Entry::FenceBroker { broker: me })
        .await
    {
        Ok(()) => {
            broker.reconcile_in_background().await;
            shutdown.handle_fenced();
            // Let requests already answered with NOT_LEADER_OR_FOLLOWER go out.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(e) => tracing::warn!(
            "controlled shutdown: the controller did not fence node {me} ({e}); \
             {LEADERSHIPS_NOT_MOVED}"
        ),
    }
}

/// Cluster mode: starts this node's Raft peer, heartbeats to the active controller, and keeps
/// the local topics in step with the metadata log. Returns the heartbeat task.
/// Waits until this node has replayed the metadata log it had committed before it started, and
/// its partitions match it, before any client is served: Kafka's broker likewise enables its
/// listeners only after its initial metadata catch-up. A node answering before that told
/// clients of a stale cluster (a restarted node once answered Metadata with no partitions).
async fn catch_up(broker: &Arc<Broker>) {
    let Some(cluster) = broker.cluster().cloned() else {
        return;
    };
    let started = std::time::Instant::now();
    let mut said = false;
    while !cluster.caught_up() {
        if !said && started.elapsed() > Duration::from_secs(2) {
            tracing::info!("replaying the metadata log before serving clients");
            said = true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    broker.reconcile_in_background().await;
}

/// The end of the line a cluster node logs once it serves clients, which `cluster up` waits
/// for in each node's output.
const SERVING_CLIENTS: &str = "unfenced: serving clients";

/// What a node's controlled shutdown says when the controller did not fence it.
const LEADERSHIPS_NOT_MOVED: &str =
    "stopping without moving its leaderships (they move when its session expires)";

/// Waits until the controller has unfenced this broker (this incarnation's registration is
/// live in the metadata image): only then does a cluster node serve clients, as Kafka's
/// `BrokerServer.startup` waits for "the broker to be unfenced" before it enables request
/// processing. Before that a node's Metadata would list no broker and no controller, and
/// librdkafka's admin client then waits out its whole request timeout for a controller.
/// Connections made meanwhile wait in the listen backlog.
async fn unfenced(broker: &Arc<Broker>) {
    let Some(cluster) = broker.cluster().cloned() else {
        return;
    };
    let mut applied = cluster.subscribe();
    let started = std::time::Instant::now();
    let mut said = false;
    // This process's own registration, not one a replayed log still shows live from before
    // a restart.
    while !(cluster.registered()
        && cluster
            .image()
            .controller
            .live_brokers()
            .contains(&cluster.node_id))
    {
        if !said && started.elapsed() > Duration::from_secs(2) {
            tracing::info!(
                "waiting for the controller to unfence node {} before serving clients",
                cluster.node_id
            );
            said = true;
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), applied.changed()).await;
    }
    tracing::info!("node {} {SERVING_CLIENTS}", cluster.node_id);
}

/// What the inter-broker listener asks of its clients (TLS, SASL), which the Raft links ask
/// of other nodes too.
fn inter_broker_security(
    config: &BrokerConfig,
    kafka: &[(tokio::net::TcpListener, server::Security)],
) -> server::Security {
    let index = config
        .inter_broker_listener()
        .ok()
        .and_then(|l| config.listeners.iter().position(|x| x.name == l.name));
    index
        .and_then(|i| kafka.get(i))
        .map(|(_, security)| security.clone())
        .unwrap_or_default()
}

async fn join_cluster(
    broker: &Arc<Broker>,
    accept: server::Security,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let voters = runnel_node::cluster::parse_voters(&broker.config.quorum_voters)
        .map_err(|e| format!("controller.quorum.voters: {e}"))?;
    let cluster = runnel_node::cluster::Cluster::start(
        broker.config.node_id as u32,
        voters,
        broker
            .config
            .metadata_log_dir
            .as_ref()
            .unwrap_or(&broker.config.data_dir),
        runnel_core::controller::ControllerConfig {
            session_timeout_ms: broker.config.broker_session_timeout_ms,
            unclean_leader_election: broker.config.unclean_leader_election,
            ..runnel_core::controller::ControllerConfig::default()
        },
        broker.config.auto_leader_rebalance.then(|| {
            Duration::from_secs(broker.config.leader_imbalance_check_interval_seconds.max(1))
        }),
        broker.link_security(accept),
    )
    .await?;
    broker.set_cluster(cluster.clone());
    tracing::info!(
        "node {} joined the metadata quorum ({})",
        broker.config.node_id,
        broker.config.quorum_voters
    );
    // Caught up before the first heartbeat: the controller does not unfence, and so does not
    // elect, a broker that has not replayed its metadata log (as Kafka keeps it fenced).
    catch_up(broker).await;
    let endpoints = runnel_node::cluster::Endpoint::advertised_by(&broker.config);
    let interval = Duration::from_millis(broker.config.broker_heartbeat_interval_ms.max(10));
    let heartbeats = {
        let cluster = cluster.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                cluster.heartbeat(endpoints.clone());
            }
        })
    };
    {
        // The offsets topic is created through the quorum once enough brokers registered
        // (replication factor: 3, or every voter when fewer), as Kafka creates it.
        let broker = broker.clone();
        let cluster = cluster.clone();
        let replication = cluster.voters.len().min(3) as i16;
        tokio::spawn(async move {
            let offsets = runnel_node::broker::OFFSETS_TOPIC;
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let exists = cluster.image().topics.contains_key(offsets);
                if exists {
                    return;
                }
                if !cluster.caught_up()
                    || cluster.controller_id().is_none()
                    || cluster.image().controller.live_brokers().len() < replication as usize
                {
                    continue;
                }
                let config = [("cleanup.policy".to_string(), "compact".to_string())].into();
                let _ = broker
                    .create_topic_anywhere(offsets, 1, replication, config, false)
                    .await;
            }
        });
    }
    let broker = broker.clone();
    tokio::spawn(async move {
        let mut applied = cluster.subscribe();
        while applied.changed().await.is_ok() {
            broker.reconcile_in_background().await;
        }
    });
    Ok(heartbeats)
}

/// The clocks, driven by core's `poll_timeout`s: the group coordinator's (sessions,
/// rebalance deadlines) and each partition's (acks=all timeouts, ISR lag, ISR proposals to
/// send again, `flush.ms`), kept in [`Broker::deadlines`]. It sleeps until the earliest, or
/// until an earlier one is set; nothing runs at a fixed rate.
/// How often open transactions are checked against their `transaction.timeout.ms` (Kafka's
/// `transaction.abort.timed.out.transaction.cleanup.interval.ms` is 10 s; 1 s here, so an
/// expired transaction unblocks its partitions' last stable offset sooner).
const TXN_TIMEOUT_CHECK_MS: u64 = 1_000;

/// Aborts transactions open past their timeout and expires idle transactional ids, every
/// [`TXN_TIMEOUT_CHECK_MS`].
async fn abort_timed_out_txns(broker: Arc<Broker>) {
    let mut tick = tokio::time::interval(Duration::from_millis(TXN_TIMEOUT_CHECK_MS));
    loop {
        tick.tick().await;
        broker.abort_timed_out_txns().await;
    }
}

async fn timers(broker: Arc<Broker>) {
    loop {
        let now = now_ms();
        if broker
            .lock_groups()
            .poll_timeout()
            .is_some_and(|due| due <= now)
        {
            let outputs = broker.lock_groups().handle_timeout(now);
            broker.deliver(outputs);
        }
        if broker.deadlines.next_ms().is_some_and(|due| due <= now) {
            // It may fsync (`flush.ms`): off the async workers.
            let ticked = broker.clone();
            let _ = tokio::task::spawn_blocking(move || ticked.tick_due()).await;
        }
        let next = [
            broker.lock_groups().poll_timeout(),
            broker.deadlines.next_ms(),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            // At least 1 ms: a deadline core did not move past (a bug) must not spin.
            Some(due) => {
                let wait = Duration::from_millis(due.saturating_sub(now_ms()).max(1));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = broker.deadlines.changed() => {}
                }
            }
            None => broker.deadlines.changed().await,
        }
    }
}

/// Retention and compaction, each at its configured interval (`log.retention.check.interval.ms`,
/// `log.cleaner.backoff.ms`); it sleeps until the next one is due.
async fn maintenance(broker: Arc<Broker>) {
    let retention_every = broker.config.retention_check_interval_ms.max(100);
    let cleaner_every = broker.config.cleaner_backoff_ms.max(100);
    let (mut next_retention, mut next_cleaner) =
        (now_ms() + retention_every, now_ms() + cleaner_every);
    loop {
        let wait = next_retention.min(next_cleaner).saturating_sub(now_ms());
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let now = now_ms();
        let retention = now >= next_retention;
        let cleaner = now >= next_cleaner;
        if retention {
            next_retention = now + retention_every;
        }
        if cleaner {
            next_cleaner = now + cleaner_every;
        }
        let broker = broker.clone();
        let _ = tokio::task::spawn_blocking(move || broker.maintain(retention, cleaner)).await;
    }
}

/// SIGINT and SIGTERM, listened for from the start of `run`: one that comes while the node is
/// still starting is kept and stops it cleanly once started, instead of killing it unflushed
/// (the default action before a handler exists).
struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    /// SIGHUP (a closed terminal), as Kafka's shutdown hook takes it; `None` when this process
    /// started with SIGHUP ignored (`nohup`), which stays so.
    hangup: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn register() -> Result<Self, String> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| signal(kind).map_err(|e| format!("cannot listen for signals: {e}"));
        Ok(Self {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
            hangup: if hangup_ignored() {
                None
            } else {
                Some(listen(SignalKind::hangup())?)
            },
        })
    }

    async fn wait(&mut self) {
        let hangup = async {
            match self.hangup.as_mut() {
                Some(hangup) => {
                    hangup.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
            () = hangup => {}
        }
    }
}

/// Whether SIGHUP is ignored in this process (started under `nohup`).
fn hangup_ignored() -> bool {
    // SAFETY: sigaction(2) with a null new action only reads the current one into `old`, a
    // zeroed sigaction this function owns.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGHUP, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}
