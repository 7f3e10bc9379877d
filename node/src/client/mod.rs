//! The Kafka client the command line and the follower fetchers (`cluster::follower`) share:
//! one blocking connection per broker ([`Client`]), and [`Brokers`], which starts from a
//! bootstrap list, learns the cluster from Metadata and sends each partition's requests to its
//! leader (and a group's to its coordinator), as every Kafka client does. [`security`] holds
//! TLS and SASL for both (the CLI's `-X` properties, a broker's inter-broker listener).
//!
//! A connection starts with ApiVersions, so a port that is not a Kafka broker (an HTTP server,
//! a closed port, a peer that hangs up) is named as such at once instead of surfacing later as
//! a raw socket error. Errors the broker answers with carry its own message (when the API has
//! one) and the code's Kafka name, e.g. `alter config of t: unknown topic config bogus.key
//! (INVALID_CONFIG, Kafka error 40)`.

pub mod security;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    RequestHeader, ResponseHeader, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// How long a connection or a response may take.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new connection's ApiVersions may take before the peer is called "not a Kafka
/// broker".
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest response frame accepted (a fetch asks for at most 8 MiB).
const MAX_FRAME_BYTES: usize = 64 << 20;
/// How long a group's coordinator may be unavailable (a cluster still forming) before the
/// command gives up.
const COORDINATOR_WAIT: Duration = Duration::from_secs(15);
/// Kafka's COORDINATOR_LOAD_IN_PROGRESS (14; 15 is COORDINATOR_NOT_AVAILABLE, 16
/// NOT_COORDINATOR).
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
/// The pause before asking a coordinator again (Kafka's `retry.backoff.ms`, 100 ms).
const COORDINATOR_BACKOFF: Duration = Duration::from_millis(100);
/// The port a bootstrap address without one uses (Kafka's default listener port).
pub const DEFAULT_PORT: u16 = 9092;

/// A failure the user sees as one line.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The broker could not be reached, did not speak Kafka, or the connection broke.
    #[error("broker {0}: {1}")]
    Connection(String, String),
    /// The broker answered with a Kafka error code, and maybe its own message.
    #[error("{what}: {text} ({name}, Kafka error {code})",
        text = message.as_deref().filter(|m| !m.is_empty()).unwrap_or(error_words(*code)),
        name = error_name(*code))]
    Kafka {
        /// What was being done ("alter config of t").
        what: String,
        /// The Kafka error code.
        code: i16,
        /// The broker's error message, when the response carries one.
        message: Option<String>,
    },
    /// The broker's admin HTTP port could not be reached or did not answer as one.
    #[error("admin port {0}: {1}")]
    Admin(String, String),
    /// The broker's answer could not be decoded.
    #[error("malformed response: {0}")]
    Protocol(String),
    /// A bad argument, or a refusal decided here (with what to do instead).
    #[error("{0}")]
    Usage(String),
}

impl ClientError {
    /// The Kafka error code, when the broker refused.
    pub fn kafka_code(&self) -> Option<i16> {
        match self {
            ClientError::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Kafka's name of an error code (`INVALID_CONFIG`), from `Errors.java` as the
/// `kafka-protocol` crate lists it; `UNKNOWN_ERROR_CODE` for codes it does not know.
pub fn error_name(code: i16) -> String {
    match kafka_protocol::ResponseError::try_from_code(code) {
        None => "NONE".to_string(),
        Some(kafka_protocol::ResponseError::Unknown(_)) => "UNKNOWN_ERROR_CODE".to_string(),
        Some(e) => {
            // The crate names them in CamelCase: InvalidConfig → INVALID_CONFIG.
            let mut out = String::new();
            for (i, c) in e.to_string().chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_uppercase());
            }
            out
        }
    }
}

/// Words for the error codes people meet most, used when the broker sent no message.
fn error_words(code: i16) -> &'static str {
    match code {
        1 => "offset out of range",
        3 => "unknown topic or partition",
        5 => "no leader for this partition yet",
        6 => "not the leader of this partition",
        10 => "message too large",
        15 => "no group coordinator available yet",
        17 => "invalid topic name",
        19 => "not enough in-sync replicas",
        25 => "unknown member",
        27 => "the group is rebalancing",
        29 => "not allowed on this topic",
        36 => "topic already exists",
        37 => "invalid number of partitions",
        38 => "invalid replication factor",
        40 => "invalid config",
        68 => "the group is not empty",
        69 => "no such group",
        53 => "not allowed on this transactional id",
        105 => "no such transactional id",
        _ => "refused",
    }
}

/// `Ok` for error code 0, else [`ClientError::Kafka`] about `what` with the broker's `message`.
pub(crate) fn check_with(
    what: &str,
    code: i16,
    message: Option<&StrBytes>,
) -> Result<(), ClientError> {
    if code == 0 {
        Ok(())
    } else {
        Err(ClientError::Kafka {
            what: what.to_string(),
            code,
            message: message.map(|m| m.to_string()),
        })
    }
}

/// `Ok` for error code 0, else [`ClientError::Kafka`] about `what` (for APIs without a message).
pub(crate) fn check(what: &str, code: i16) -> Result<(), ClientError> {
    check_with(what, code, None)
}

/// Runs `attempt` until it does not fail with a coordinator error, as Kafka's clients do
/// (`AbstractCoordinator`, the admin client): after NOT_COORDINATOR or
/// COORDINATOR_NOT_AVAILABLE `attempt` is called with `true` (find the coordinator again),
/// after COORDINATOR_LOAD_IN_PROGRESS with `false` (ask it again), each time after
/// [`COORDINATOR_BACKOFF`], for at most [`COORDINATOR_WAIT`]; then the last error stands. A
/// node learns that it leads `__consumer_offsets` a moment after the node that answered
/// FindCoordinator, and a coordinator moves when that partition's leader fails over.
pub(crate) fn at_coordinator<R>(
    mut attempt: impl FnMut(bool) -> Result<R, ClientError>,
) -> Result<R, ClientError> {
    let deadline = Instant::now() + COORDINATOR_WAIT;
    let mut find_again = false;
    loop {
        let result = attempt(find_again);
        let code = result.as_ref().err().and_then(ClientError::kafka_code);
        if !matches!(code, Some(14..=16)) || Instant::now() >= deadline {
            return result;
        }
        std::thread::sleep(COORDINATOR_BACKOFF);
        find_again = code != Some(COORDINATOR_LOAD_IN_PROGRESS);
    }
}

/// Splits a bootstrap list (`host:port,host:port`; `-b` or `RUNNEL_BROKERS`) into addresses,
/// adding port 9092 where none is given (`localhost`, `[::1]`).
///
/// # Errors
/// [`ClientError::Usage`] for an empty list or a port that is not a number.
pub fn bootstrap_addresses(list: &str) -> Result<Vec<String>, ClientError> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let has_port = match item.rsplit_once(':') {
            // A bare IPv6 address has colons but no port; bracketed ones end with "]".
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                port.parse::<u16>().map_err(|_| {
                    ClientError::Usage(format!("broker {item}: the port must be a number"))
                })?;
                true
            }
            _ => false,
        };
        out.push(if has_port {
            item.to_string()
        } else if item.contains(':') && !item.starts_with('[') {
            format!("[{item}]:{DEFAULT_PORT}")
        } else {
            format!("{item}:{DEFAULT_PORT}")
        });
    }
    if out.is_empty() {
        return Err(ClientError::Usage(
            "no broker given: use -b host:port[,host:port...] or RUNNEL_BROKERS".into(),
        ));
    }
    Ok(out)
}

/// A connection's bytes: TCP as it is, or TLS over it (rustls).
enum Transport {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Transport {
    fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            Self::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Tls(s) => s.flush(),
        }
    }
}

/// One connection to a broker.
pub struct Client {
    pub(crate) address: String,
    stream: Transport,
    correlation: i32,
    /// (API key, lowest, highest version) from the broker's ApiVersions answer.
    versions: Vec<(i16, i16, i16)>,
}

impl Client {
    /// Connects to `address` (host:port) and checks it answers ApiVersions like a Kafka broker.
    ///
    /// # Errors
    /// [`ClientError::Connection`] naming what went wrong: no address, refused, no answer, an
    /// answer that is not Kafka (e.g. HTTP).
    pub fn connect(address: &str) -> Result<Self, ClientError> {
        Self::connect_with_read_timeout(address, IO_TIMEOUT)
    }

    /// Like [`Client::connect`]; afterwards, an answer slower than `read_timeout` fails the call.
    pub fn connect_with_read_timeout(
        address: &str,
        read_timeout: Duration,
    ) -> Result<Self, ClientError> {
        Self::connect_secured(address, read_timeout, security::current())
    }

    /// Like [`Client::connect_with_read_timeout`], with `security` (TLS, SASL) instead of the
    /// process's command-line settings: a broker's connections to other brokers use its
    /// inter-broker listener's.
    pub(crate) fn connect_secured(
        address: &str,
        read_timeout: Duration,
        security: Option<&security::ClientSecurity>,
    ) -> Result<Self, ClientError> {
        let tcp = dial(address, HANDSHAKE_TIMEOUT)?;
        let stream = match security.and_then(|s| s.tls.clone()) {
            None => Transport::Plain(tcp),
            Some(config) => {
                let host = address
                    .rsplit_once(':')
                    .map_or(address, |(host, _)| host)
                    .trim_matches(['[', ']']);
                let name =
                    rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
                        ClientError::Connection(address.to_string(), format!("TLS: {e}"))
                    })?;
                let connection = rustls::ClientConnection::new(config, name).map_err(|e| {
                    ClientError::Connection(address.to_string(), format!("TLS: {e}"))
                })?;
                Transport::Tls(Box::new(rustls::StreamOwned::new(connection, tcp)))
            }
        };
        let tls = matches!(stream, Transport::Tls(_));
        let mut client = Self {
            address: address.to_string(),
            stream,
            correlation: 0,
            versions: Vec::new(),
        };
        let versions: Result<ApiVersionsResponse, ClientError> =
            client.call(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default());
        match versions {
            Ok(v) if v.error_code == 0 && !v.api_keys.is_empty() => {
                client.versions = v
                    .api_keys
                    .iter()
                    .map(|k| (k.api_key, k.min_version, k.max_version))
                    .collect();
            }
            Ok(_) | Err(ClientError::Protocol(_)) => {
                return Err(not_kafka(
                    address,
                    "its answer to ApiVersions is not Kafka's",
                ));
            }
            // Over TLS the first answer is where a certificate problem shows.
            Err(ClientError::Connection(_, why)) if tls => {
                return Err(ClientError::Connection(
                    address.to_string(),
                    format!("TLS: {why}"),
                ));
            }
            Err(ClientError::Connection(_, why)) => return Err(not_kafka(address, &why)),
            Err(e) => return Err(e),
        }
        if let Some((mechanism, user, password)) = security.and_then(|s| s.sasl.as_ref()) {
            client.authenticate(*mechanism, user, password)?;
        }
        client
            .stream
            .tcp()
            .set_read_timeout(Some(read_timeout))
            .map_err(|e| ClientError::Connection(address.to_string(), e.to_string()))?;
        Ok(client)
    }

    /// SASL (KIP-43, KIP-152): SaslHandshake v1 with `mechanism`, then SaslAuthenticate: once
    /// with `NUL user NUL password` for PLAIN (RFC 4616), twice for SCRAM (RFC 5802, core's
    /// client side), whose server signature is checked too.
    fn authenticate(
        &mut self,
        mechanism: runnel_core::sasl::Mechanism,
        user: &str,
        password: &str,
    ) -> Result<(), ClientError> {
        let address = self.address.clone();
        let refused = |why: String| ClientError::Connection(address.clone(), why);
        let handshake: SaslHandshakeResponse = self.call(
            ApiKey::SaslHandshake,
            1,
            &SaslHandshakeRequest::default()
                .with_mechanism(StrBytes::from_static_str(mechanism.name())),
        )?;
        if handshake.error_code != 0 {
            let offered: Vec<String> = handshake.mechanisms.iter().map(|m| m.to_string()).collect();
            return Err(refused(format!(
                "SASL {} refused ({}); the broker offers: {}",
                mechanism.name(),
                error_name(handshake.error_code),
                offered.join(", ")
            )));
        }
        let nonce = crate::tls::scram_nonce().map_err(refused)?;
        let (mut sasl, mut message) =
            runnel_core::sasl::SaslClient::start(mechanism, user, password, &nonce);
        loop {
            let answer = self.sasl_round(message)?;
            match sasl.step(&answer).map_err(refused)? {
                Some(next) => message = next,
                None => return Ok(()),
            }
        }
    }

    /// One SaslAuthenticate: sends `auth_bytes`, returns the broker's.
    fn sasl_round(&mut self, auth_bytes: Vec<u8>) -> Result<Vec<u8>, ClientError> {
        let answer: SaslAuthenticateResponse = self.call(
            ApiKey::SaslAuthenticate,
            1,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(auth_bytes)),
        )?;
        if answer.error_code != 0 {
            return Err(ClientError::Connection(
                self.address.clone(),
                format!(
                    "SASL authentication failed: {}",
                    answer.error_message.as_ref().map_or_else(
                        || error_name(answer.error_code).to_string(),
                        |m| m.to_string()
                    )
                ),
            ));
        }
        Ok(answer.auth_bytes.to_vec())
    }

    /// Whether the broker advertised `key` in ApiVersions.
    pub(crate) fn supports(&self, key: ApiKey) -> bool {
        self.versions.iter().any(|(k, _, _)| *k == key as i16)
    }

    /// The active controller as DescribeQuorum (KIP-595) names it: the metadata quorum's
    /// leader. `None` when the broker does not speak DescribeQuorum, has no quorum (a single
    /// node), or knows no leader yet.
    pub fn quorum_leader(&mut self) -> Option<i32> {
        use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
        use kafka_protocol::messages::{DescribeQuorumRequest, DescribeQuorumResponse, TopicName};
        if !self.supports(ApiKey::DescribeQuorum) {
            return None;
        }
        let request = DescribeQuorumRequest::default().with_topics(vec![
            TopicData::default()
                .with_topic_name(TopicName(StrBytes::from_static_str(
                    crate::cluster::METADATA_TOPIC,
                )))
                .with_partitions(vec![PartitionData::default().with_partition_index(0)]),
        ]);
        let version = self.version(ApiKey::DescribeQuorum, 1);
        let answer: DescribeQuorumResponse =
            self.call(ApiKey::DescribeQuorum, version, &request).ok()?;
        let partition = answer.topics.first()?.partitions.first()?;
        (answer.error_code == 0 && partition.error_code == 0 && partition.leader_id.0 >= 0)
            .then_some(partition.leader_id.0)
    }

    /// The version to send `key` at: `wanted`, or the broker's highest when that is lower (the
    /// broker's lowest when it is higher), as Kafka clients pick from ApiVersions.
    pub(crate) fn version(&self, key: ApiKey, wanted: i16) -> i16 {
        self.versions
            .iter()
            .find(|(k, _, _)| *k == key as i16)
            .map_or(wanted, |(_, min, max)| wanted.min(*max).max(*min))
    }

    /// Sends `request` as `key` at `version` and decodes the answer.
    ///
    /// # Errors
    /// [`ClientError::Connection`] when the connection breaks or the answer is late,
    /// [`ClientError::Protocol`] when it does not decode.
    pub(crate) fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        request: &Req,
    ) -> Result<Resp, ClientError> {
        self.send(key, version, request)?;
        let mut bytes = self.receive()?;
        ResponseHeader::decode(&mut bytes, key.response_header_version(version))
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Resp::decode(&mut bytes, version).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Sends a request that gets no answer (Produce with acks=0).
    pub(crate) fn send<Req: Encodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        request: &Req,
    ) -> Result<(), ClientError> {
        self.correlation += 1;
        let mut body = BytesMut::new();
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("runnel-cli")));
        header
            .encode(&mut body, key.request_header_version(version))
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        request
            .encode(&mut body, version)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        self.stream
            .write_all(&frame)
            .map_err(|e| self.broken(&e, "sending"))
    }

    /// Reads one response frame.
    fn receive(&mut self) -> Result<Bytes, ClientError> {
        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .map_err(|e| self.broken(&e, "waiting for an answer"))?;
        if &size == b"HTTP" {
            return Err(ClientError::Connection(
                self.address.clone(),
                "answered in HTTP: this is not a Kafka port (an admin or web port?)".into(),
            ));
        }
        let len = usize::try_from(i32::from_be_bytes(size))
            .ok()
            .filter(|len| *len <= MAX_FRAME_BYTES)
            .ok_or_else(|| {
                ClientError::Protocol(format!(
                    "{}: a frame of {} bytes is not a Kafka answer",
                    self.address,
                    i32::from_be_bytes(size)
                ))
            })?;
        let mut buf = vec![0u8; len];
        self.stream
            .read_exact(&mut buf)
            .map_err(|e| self.broken(&e, "reading an answer"))?;
        Ok(Bytes::from(buf))
    }

    /// What a failed read or write means, in words.
    fn broken(&self, e: &std::io::Error, doing: &str) -> ClientError {
        let what = match e.kind() {
            ErrorKind::UnexpectedEof => "closed the connection".to_string(),
            ErrorKind::WouldBlock | ErrorKind::TimedOut => "no answer in time".to_string(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
                "reset the connection".to_string()
            }
            _ => e.to_string(),
        };
        let why = format!("{what} while {doing}");
        ClientError::Connection(self.address.clone(), why)
    }

    /// Metadata (v4) for `topics` (all when `None`); never creates a topic.
    pub fn metadata(&mut self, topics: Option<&[String]>) -> Result<MetadataResponse, ClientError> {
        self.metadata_creating(topics, false)
    }

    /// Metadata (v4) for `topics`; with `allow_auto_topic_creation`, a broker with
    /// `auto.create.topics.enable` creates the missing ones, as it does for a Kafka producer's
    /// Metadata request (the Java producer's `allow.auto.create.topics`, default true).
    pub fn metadata_creating(
        &mut self,
        topics: Option<&[String]>,
        allow_auto_topic_creation: bool,
    ) -> Result<MetadataResponse, ClientError> {
        let request = MetadataRequest::default()
            .with_allow_auto_topic_creation(allow_auto_topic_creation)
            .with_topics(topics.map(|t| {
                t.iter()
                    .map(|name| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
                    })
                    .collect()
            }));
        self.call(ApiKey::Metadata, 4, &request)
    }
}

/// A connection error saying the peer at `address` is not a Kafka broker, and why.
fn not_kafka(address: &str, why: &str) -> ClientError {
    ClientError::Connection(
        address.to_string(),
        format!("did not answer as a Kafka broker: {why}"),
    )
}

/// A TCP connection to `address` (host:port) whose reads time out after `read_timeout`.
pub(crate) fn dial(address: &str, read_timeout: Duration) -> Result<TcpStream, ClientError> {
    let failed =
        |e: &dyn std::fmt::Display| ClientError::Connection(address.to_string(), e.to_string());
    let addr = address
        .to_socket_addrs()
        .map_err(|e| failed(&format!("cannot resolve the name: {e}")))?
        .next()
        .ok_or_else(|| failed(&"the name has no address"))?;
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| match e.kind() {
        ErrorKind::ConnectionRefused => failed(&"connection refused: is a broker running there?"),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => failed(&"no answer to connect"),
        _ => failed(&e),
    })?;
    stream
        .set_read_timeout(Some(read_timeout))
        .map_err(|e| failed(&e))?;
    Ok(stream)
}

/// The cluster as the command line sees it: one connection per broker, opened on first use,
/// and the partition leaders from the last Metadata.
pub struct Brokers {
    /// The `-b` list, for [`Brokers::reconnect`].
    bootstrap_list: String,
    /// The bootstrap broker that answered first.
    bootstrap: Client,
    /// Broker id → host:port, from Metadata.
    addresses: BTreeMap<i32, String>,
    /// Open connections by broker id (the bootstrap one is not among them).
    connections: BTreeMap<i32, Client>,
    /// (topic, partition) → its leader's broker id (-1: none), from Metadata.
    leaders: BTreeMap<(String, i32), i32>,
    /// The cluster id from the last Metadata.
    pub(crate) cluster_id: Option<String>,
    /// The controller id from the last Metadata.
    pub(crate) controller_id: i32,
}

impl Brokers {
    /// Connects to the first broker of `bootstrap` (a `-b` list) that answers as Kafka.
    ///
    /// # Errors
    /// [`ClientError::Usage`] for a bad list; [`ClientError::Connection`] listing why each failed.
    pub fn connect(bootstrap: &str) -> Result<Self, ClientError> {
        let mut failures = Vec::new();
        let addresses = bootstrap_addresses(bootstrap)?;
        let only = addresses.len() == 1;
        for address in addresses {
            match Client::connect(&address) {
                Ok(client) => {
                    return Ok(Self {
                        bootstrap_list: bootstrap.to_string(),
                        bootstrap: client,
                        addresses: BTreeMap::new(),
                        connections: BTreeMap::new(),
                        leaders: BTreeMap::new(),
                        cluster_id: None,
                        controller_id: -1,
                    });
                }
                Err(e @ ClientError::Connection(..)) if only => return Err(e),
                Err(ClientError::Connection(a, why)) => failures.push(format!("{a}: {why}")),
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::Connection(
            bootstrap.to_string(),
            format!("no broker answered: {}", failures.join("; ")),
        ))
    }

    /// Starts over from the `-b` list after a connection broke (a broker restarted): the first
    /// broker that answers becomes the bootstrap one; routes are learned again.
    ///
    /// # Errors
    /// As [`Brokers::connect`].
    pub fn reconnect(&mut self) -> Result<(), ClientError> {
        *self = Self::connect(&self.bootstrap_list)?;
        Ok(())
    }

    /// The bootstrap broker's connection (admin requests any broker forwards or answers).
    pub fn any(&mut self) -> &mut Client {
        &mut self.bootstrap
    }

    /// Metadata for `topics` (all when `None`), remembered for routing.
    pub fn metadata(&mut self, topics: Option<&[String]>) -> Result<MetadataResponse, ClientError> {
        self.metadata_creating(topics, false)
    }

    /// [`Brokers::metadata`], asking the broker to create missing topics when
    /// `allow_auto_topic_creation` (what a producer asks).
    pub fn metadata_creating(
        &mut self,
        topics: Option<&[String]>,
        allow_auto_topic_creation: bool,
    ) -> Result<MetadataResponse, ClientError> {
        let metadata = self
            .bootstrap
            .metadata_creating(topics, allow_auto_topic_creation)?;
        for b in &metadata.brokers {
            let address = if b.host.contains(':') {
                format!("[{}]:{}", b.host, b.port)
            } else {
                format!("{}:{}", b.host, b.port)
            };
            self.addresses.insert(b.node_id.0, address);
        }
        self.cluster_id = metadata.cluster_id.as_ref().map(|c| c.to_string());
        self.controller_id = metadata.controller_id.0;
        for t in &metadata.topics {
            let Some(name) = &t.name else { continue };
            for p in &t.partitions {
                self.leaders
                    .insert((name.0.to_string(), p.partition_index), p.leader_id.0);
            }
        }
        Ok(metadata)
    }

    /// How many partitions `topic` has (asks the cluster, refreshing routes).
    ///
    /// # Errors
    /// [`ClientError::Kafka`] with UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist.
    pub fn partition_count(&mut self, topic: &str) -> Result<u32, ClientError> {
        self.partition_count_creating(topic, false)
    }

    /// [`Brokers::partition_count`] for a producer: with `allow_auto_topic_creation` a broker
    /// with `auto.create.topics.enable` creates a missing topic, as Kafka's console producer
    /// and kcat have it do; its partitions may have no leader for a moment
    /// (LEADER_NOT_AVAILABLE), so the answer is awaited a few times.
    pub fn partition_count_creating(
        &mut self,
        topic: &str,
        allow_auto_topic_creation: bool,
    ) -> Result<u32, ClientError> {
        let mut attempt = 0;
        loop {
            let metadata =
                self.metadata_creating(Some(&[topic.to_string()]), allow_auto_topic_creation)?;
            let t = metadata
                .topics
                .first()
                .ok_or_else(|| ClientError::Protocol("no topic in answer".into()))?;
            let waiting = t.error_code == crate::broker::code::LEADER_NOT_AVAILABLE
                || (allow_auto_topic_creation
                    && t.error_code == 0
                    && t.partitions.iter().any(|p| p.leader_id.0 < 0));
            if waiting && attempt < 20 {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            check(&format!("topic {topic}"), t.error_code)?;
            return Ok(t.partitions.len() as u32);
        }
    }

    /// The leader of `topic`'s `partition` as last learned (-1: none or unknown).
    pub(crate) fn leader(&self, topic: &str, partition: i32) -> i32 {
        self.leaders
            .get(&(topic.to_string(), partition))
            .copied()
            .unwrap_or(-1)
    }

    /// The connection to broker `id`, opened on first use.
    ///
    /// # Errors
    /// [`ClientError::Connection`] when the broker is unknown or does not answer.
    pub fn broker(&mut self, id: i32) -> Result<&mut Client, ClientError> {
        let address = self.addresses.get(&id).cloned().ok_or_else(|| {
            ClientError::Connection(format!("node {id}"), "not in metadata".into())
        })?;
        if address == self.bootstrap.address {
            return Ok(&mut self.bootstrap);
        }
        match self.connections.entry(id) {
            std::collections::btree_map::Entry::Occupied(open) => Ok(open.into_mut()),
            std::collections::btree_map::Entry::Vacant(slot) => {
                Ok(slot.insert(Client::connect(&address)?))
            }
        }
    }

    /// Drops the connection to broker `id` (it broke); the next use reconnects.
    pub(crate) fn forget(&mut self, id: i32) {
        self.connections.remove(&id);
    }

    /// Every broker id the last Metadata named.
    pub(crate) fn broker_ids(&self) -> Vec<i32> {
        self.addresses.keys().copied().collect()
    }

    /// Groups `partitions` of `topic` by their leader's broker id (refreshing metadata when a
    /// partition is unknown).
    ///
    /// # Errors
    /// [`ClientError::Kafka`] LEADER_NOT_AVAILABLE for a partition without a leader.
    pub(crate) fn by_leader(
        &mut self,
        topic: &str,
        partitions: impl IntoIterator<Item = i32>,
    ) -> Result<BTreeMap<i32, Vec<i32>>, ClientError> {
        let partitions: Vec<i32> = partitions.into_iter().collect();
        if partitions.iter().any(|p| self.leader(topic, *p) < 0) {
            self.metadata(Some(&[topic.to_string()]))?;
        }
        let mut out: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for p in partitions {
            let leader = self.leader(topic, p);
            if leader < 0 {
                return Err(ClientError::Kafka {
                    what: format!("{topic}-{p}"),
                    code: 5,
                    message: None,
                });
            }
            out.entry(leader).or_default().push(p);
        }
        Ok(out)
    }

    /// The coordinator of `group` (FindCoordinator v0), connected.
    ///
    /// # Errors
    /// [`ClientError::Kafka`] when no coordinator is available.
    pub fn coordinator(&mut self, group: &str) -> Result<&mut Client, ClientError> {
        Ok(self.coordinator_with_id(group)?.1)
    }

    /// Like [`Brokers::coordinator`], with the coordinator's broker id.
    pub(crate) fn coordinator_with_id(
        &mut self,
        group: &str,
    ) -> Result<(i32, &mut Client), ClientError> {
        self.find_coordinator(group, 0)
    }

    /// The transaction coordinator of `transactional_id` (FindCoordinator key type 1), with its
    /// broker id.
    pub(crate) fn txn_coordinator_with_id(
        &mut self,
        transactional_id: &str,
    ) -> Result<(i32, &mut Client), ClientError> {
        self.find_coordinator(transactional_id, 1)
    }

    /// The coordinator of `key` (`key_type` 0: a group, 1: a transactional id).
    fn find_coordinator(
        &mut self,
        key: &str,
        key_type: i8,
    ) -> Result<(i32, &mut Client), ClientError> {
        use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
        let group = key;
        let request = FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(key.to_string()))
            .with_key_type(key_type);
        // Key type 1 needs v1; a group keeps v0, which every Kafka broker answers.
        let version = i16::from(key_type > 0);
        // A new cluster creates its offsets topic a moment after it forms: like Kafka's
        // clients, retry COORDINATOR_NOT_AVAILABLE and COORDINATOR_LOAD_IN_PROGRESS a while.
        let deadline = Instant::now() + COORDINATOR_WAIT;
        let response = loop {
            let response: FindCoordinatorResponse =
                self.bootstrap
                    .call(ApiKey::FindCoordinator, version, &request)?;
            if matches!(response.error_code, 14 | 15) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            break response;
        };
        check(
            &format!("find the coordinator of {group}"),
            response.error_code,
        )?;
        let id = response.node_id.0;
        let address = format!("{}:{}", response.host, response.port);
        self.addresses.entry(id).or_insert(address);
        Ok((id, self.broker(id)?))
    }
}

/// One request to a broker's admin HTTP port (`runnel plugin ...`); the body of a 2xx answer,
/// or the answer's text as the error.
pub fn admin_request(
    address: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<String, ClientError> {
    let failed = |e: &dyn std::fmt::Display| ClientError::Admin(address.to_string(), e.to_string());
    // Deploying compiles the module on the broker: allow it a minute.
    let mut stream = dial(address, Duration::from_secs(60)).map_err(|e| match e {
        ClientError::Connection(_, why) => failed(&why),
        other => other,
    })?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(|e| failed(&e))?;
    stream.write_all(body).map_err(|e| failed(&e))?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| failed(&e))?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head.starts_with("HTTP/") {
        return Err(failed(&"did not answer as runnel's admin HTTP port"));
    }
    let ok = head
        .split_whitespace()
        .nth(1)
        .is_some_and(|code| code.starts_with('2'));
    if ok {
        Ok(body.to_string())
    } else {
        Err(ClientError::Usage(body.trim().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: i16) -> ClientError {
        ClientError::Kafka {
            what: "join group g".into(),
            code,
            message: None,
        }
    }

    #[test]
    fn coordinator_errors_are_retried_and_a_moved_coordinator_is_found_again() {
        // Kafka's AbstractCoordinator: NOT_COORDINATOR (16) and COORDINATOR_NOT_AVAILABLE (15)
        // mark the coordinator unknown and look it up again; COORDINATOR_LOAD_IN_PROGRESS (14)
        // asks the same one again. The CLI once gave up on the first NOT_COORDINATOR, answered
        // by a node that had not yet applied its election as the offsets partition's leader.
        let mut seen = Vec::new();
        let answers = [Err(refused(16)), Err(refused(14)), Err(refused(15)), Ok(7)];
        let mut next = answers.into_iter();
        let result = at_coordinator(|find_again| {
            seen.push(find_again);
            next.next().expect("called at most four times")
        });
        assert_eq!(result.ok(), Some(7));
        assert_eq!(seen, [false, true, false, true]);
        // Any other error ends at once.
        let mut calls = 0;
        let result: Result<(), _> = at_coordinator(|_| {
            calls += 1;
            Err(refused(25))
        });
        assert_eq!(result.err().and_then(|e| e.kafka_code()), Some(25));
        assert_eq!(calls, 1);
    }

    #[test]
    fn bootstrap_lists_get_kafkas_default_port() {
        assert_eq!(
            bootstrap_addresses("a:1, b:2,c").unwrap(),
            ["a:1", "b:2", "c:9092"]
        );
        assert_eq!(
            bootstrap_addresses("127.0.0.1").unwrap(),
            ["127.0.0.1:9092"]
        );
        assert_eq!(bootstrap_addresses("[::1]").unwrap(), ["[::1]:9092"]);
        assert_eq!(bootstrap_addresses("::1").unwrap(), ["[::1]:9092"]);
        assert_eq!(bootstrap_addresses("[::1]:19092").unwrap(), ["[::1]:19092"]);
        assert!(bootstrap_addresses("a:port").is_err());
        assert!(bootstrap_addresses(" , ").is_err());
    }

    #[test]
    fn errors_carry_the_brokers_message_and_kafkas_name() {
        assert_eq!(error_name(40), "INVALID_CONFIG");
        assert_eq!(error_name(1), "OFFSET_OUT_OF_RANGE");
        assert_eq!(error_name(6), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(error_name(-9), "UNKNOWN_ERROR_CODE");
        let with = check_with(
            "alter config of t",
            40,
            Some(&StrBytes::from_static_str("unknown topic config bogus.key")),
        )
        .unwrap_err();
        assert_eq!(
            with.to_string(),
            "alter config of t: unknown topic config bogus.key (INVALID_CONFIG, Kafka error 40)"
        );
        assert_eq!(
            check("create topic t", 36).unwrap_err().to_string(),
            "create topic t: topic already exists (TOPIC_ALREADY_EXISTS, Kafka error 36)"
        );
    }
}
