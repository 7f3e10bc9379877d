//! The links between the nodes of a cluster: one TCP connection per peer and direction,
//! carrying length-prefixed postcard frames of [`Wire`] messages.
//!
//! A link speaks the inter-broker listener's protocol (`inter.broker.listener.name`), as
//! Kafka's controller listener does: TLS with this node's keystore and truststore, then SASL
//! with the node's own identity ([`Handshake`] frames carrying the same exchange as
//! SaslHandshake and SaslAuthenticate). The accepting node admits a peer whose principal may
//! CLUSTER_ACTION on the cluster (Kafka's rule for the controller's APIs); with no authorizer,
//! any peer that authenticated.
//!
//! Sending never blocks the Raft loop: each peer has a queue drained by its own task, which
//! connects on demand and drops what it cannot deliver (Raft resends what matters). Receiving:
//! every frame from any peer goes into one channel the Raft loop reads.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use runnel_core::acl::{AclOperation, CLUSTER_NAME, ResourceType};
use runnel_core::sasl::{SaslClient, SaslSession};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{Endpoint, Envelope};
use crate::broker::{Broker, now_ms};
use crate::client::security::ClientSecurity;
use crate::server::Security;

/// The largest frame a peer may send (a Raft append carries metadata commands only).
const FRAME_MAX: usize = 16 * 1024 * 1024;
/// Messages queued for one peer before new ones are dropped.
const QUEUE_MAX: usize = 4_096;
/// Wait between connection attempts to a peer that is down.
const RECONNECT_MS: u64 = 200;
/// How long connecting, TLS and SASL may take together, on either side.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A refused peer is said in the log at most this often (it retries every [`RECONNECT_MS`]).
const REFUSAL_LOG_MS: u64 = 10_000;

/// How this node's links are secured: the inter-broker listener's protocol.
#[derive(Clone, Default)]
pub struct LinkSecurity {
    /// Accepting: TLS and SASL as the inter-broker listener asks of its clients.
    pub(crate) accept: Security,
    /// Connecting: this node's TLS trust and SASL identity (`None`: PLAINTEXT).
    pub(crate) connect: Option<Arc<ClientSecurity>>,
    /// The broker, for SCRAM credentials and the authorizer.
    pub(crate) broker: Weak<Broker>,
}

/// Authentication on a link, before any [`Wire`] message: the SASL exchange of
/// SaslHandshake and SaslAuthenticate (KIP-152), carried in this transport's frames.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Handshake {
    /// The connecting node's first message: the mechanism and its first SASL bytes.
    Start {
        /// The SASL mechanism's name.
        mechanism: String,
        /// PLAIN's message or SCRAM's client-first.
        auth_bytes: Vec<u8>,
    },
    /// The connecting node's next SASL bytes (SCRAM's client-final).
    Continue(Vec<u8>),
    /// The accepting node's answer: its SASL bytes, or why the peer is refused (the
    /// connection then ends).
    Answer(Result<Vec<u8>, String>),
}

/// A link's byte stream: TCP, or TLS over it.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// What nodes say to each other.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) enum Wire {
    /// A Raft message (protobuf, as raft-rs encodes it).
    Raft(Vec<u8>),
    /// A command for the active controller to append to the log.
    Propose(Envelope),
    /// A broker's heartbeat to the active controller.
    Heartbeat {
        /// The broker's node id.
        broker: u32,
        /// Its process incarnation (a restart changes it).
        incarnation: u64,
        /// Where it is reached, one per listener.
        endpoints: Vec<Endpoint>,
    },
}

/// Queues to every peer.
pub(super) struct Peers {
    queues: BTreeMap<u32, mpsc::Sender<Wire>>,
}

impl Peers {
    /// Starts a sender task per peer (`id → address`, this node excluded), each connecting
    /// with `security`.
    pub(super) fn start(peers: &BTreeMap<u32, SocketAddr>, security: &LinkSecurity) -> Self {
        let queues = peers
            .iter()
            .map(|(id, addr)| {
                let (tx, rx) = mpsc::channel(QUEUE_MAX);
                tokio::spawn(sender(*addr, rx, security.connect.clone()));
                (*id, tx)
            })
            .collect();
        Self { queues }
    }

    /// Queues a message for a peer; dropped if the peer is unknown or its queue is full.
    pub(super) fn send(&self, to: u32, message: Wire) {
        if let Some(queue) = self.queues.get(&to) {
            let _ = queue.try_send(message);
        }
    }
}

/// Keeps one connection to `addr` and writes every queued message to it.
async fn sender(
    addr: SocketAddr,
    mut queue: mpsc::Receiver<Wire>,
    security: Option<Arc<ClientSecurity>>,
) {
    let mut stream: Option<Box<dyn Stream>> = None;
    while let Some(message) = queue.recv().await {
        if stream.is_none() {
            let connecting = tokio::time::timeout(HANDSHAKE_TIMEOUT, connect(addr, &security));
            match connecting.await {
                Ok(Ok(s)) => stream = Some(s),
                outcome => {
                    // A peer that is down is normal; one that refuses this node is not.
                    if let Ok(Err(LinkError::Refused(why))) = outcome {
                        said_rarely(&format!("cannot link to the voter at {addr}: {why}"));
                    }
                    // The peer is down or refuses: drop what waits and try again later.
                    tokio::time::sleep(Duration::from_millis(RECONNECT_MS)).await;
                    while queue.try_recv().is_ok() {}
                    continue;
                }
            }
        }
        let Ok(body) = postcard::to_allocvec(&message) else {
            continue;
        };
        if let Some(s) = stream.as_mut()
            && write_frame(s, &body).await.is_err()
        {
            stream = None;
        }
    }
}

/// Why a link could not be opened.
enum LinkError {
    /// No TCP connection: the peer is down or cut off.
    Unreachable,
    /// TLS or SASL failed, or the peer refused this node: why, in words.
    Refused(String),
}

impl From<String> for LinkError {
    fn from(why: String) -> Self {
        Self::Refused(why)
    }
}

/// Opens a link to `addr`: TCP, TLS when `security` has it (the peer's certificate must name
/// `addr`'s IP address), then SASL as this node's identity.
async fn connect(
    addr: SocketAddr,
    security: &Option<Arc<ClientSecurity>>,
) -> Result<Box<dyn Stream>, LinkError> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|_| LinkError::Unreachable)?;
    let _ = tcp.set_nodelay(true);
    let mut stream: Box<dyn Stream> = match security.as_ref().and_then(|s| s.tls.clone()) {
        None => Box::new(tcp),
        Some(config) => {
            let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            Box::new(tls)
        }
    };
    if let Some((mechanism, user, password)) = security.as_ref().and_then(|s| s.sasl.as_ref()) {
        let nonce = crate::tls::scram_nonce()?;
        let (mut client, first) = SaslClient::start(*mechanism, user, password, &nonce);
        let mut message = Handshake::Start {
            mechanism: mechanism.name().to_string(),
            auth_bytes: first,
        };
        loop {
            let body = postcard::to_allocvec(&message).map_err(|e| e.to_string())?;
            write_frame(&mut stream, &body)
                .await
                .map_err(|e| e.to_string())?;
            let answer = read_frame(&mut stream)
                .await
                .map_err(|e| format!("no SASL answer: {e}"))?;
            let bytes = match postcard::from_bytes::<Handshake>(&answer) {
                Ok(Handshake::Answer(Ok(bytes))) => bytes,
                Ok(Handshake::Answer(Err(why))) => return Err(format!("refused: {why}").into()),
                _ => return Err("an answer that is not SASL's".to_string().into()),
            };
            match client.step(&bytes)? {
                Some(next) => message = Handshake::Continue(next),
                None => break,
            }
        }
    }
    Ok(stream)
}

/// Writes one frame: the body's length (4 bytes, big-endian), then the body.
async fn write_frame(stream: &mut Box<dyn Stream>, body: &[u8]) -> std::io::Result<()> {
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(body);
    stream.write_all(&frame).await?;
    stream.flush().await
}

/// Reads one frame's body. Errors: the connection ended, or a frame over [`FRAME_MAX`].
async fn read_frame(stream: &mut Box<dyn Stream>) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > FRAME_MAX {
        return Err(std::io::Error::other(format!(
            "a {len}-byte frame (at most {FRAME_MAX})"
        )));
    }
    let mut body = vec![0; len];
    stream.read_exact(&mut body).await?;
    Ok(body)
}

/// Logs `line` as a warning unless one was logged within [`REFUSAL_LOG_MS`] (a refused link
/// is retried several times a second).
fn said_rarely(line: &str) {
    static LAST_MS: AtomicU64 = AtomicU64::new(0);
    let now = now_ms();
    let last = LAST_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= REFUSAL_LOG_MS
        && LAST_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!("{line}");
    } else {
        tracing::debug!("{line}");
    }
}

/// Accepts peers' connections and forwards every frame they send into `inbox`, once each peer
/// has passed [`admit`].
pub(super) async fn receive(
    listener: TcpListener,
    inbox: mpsc::UnboundedSender<Wire>,
    security: LinkSecurity,
) {
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            continue;
        };
        let inbox = inbox.clone();
        let security = security.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let admitted = tokio::time::timeout(HANDSHAKE_TIMEOUT, admit(tcp, peer, &security));
            let mut stream = match admitted.await {
                Ok(Ok(stream)) => stream,
                Ok(Err(why)) => {
                    said_rarely(&format!("cluster link from {peer} not admitted: {why}"));
                    return;
                }
                Err(_) => {
                    said_rarely(&format!("cluster link from {peer} not admitted: too slow"));
                    return;
                }
            };
            loop {
                let body = match read_frame(&mut stream).await {
                    Ok(body) => body,
                    Err(e) => {
                        if e.kind() != std::io::ErrorKind::UnexpectedEof {
                            tracing::warn!("cluster peer {peer}: {e}; closing");
                        }
                        return;
                    }
                };
                match postcard::from_bytes::<Wire>(&body) {
                    Ok(message) => {
                        if inbox.send(message).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!("cluster peer sent an undecodable frame ({e}); closing");
                        return;
                    }
                }
            }
        });
    }
}

/// A peer's connection through the inter-broker listener's protocol: TLS (its certificate's
/// subject is its principal), then SASL (the authenticated user is), then the authorizer's
/// CLUSTER_ACTION on the cluster. Errors: why the peer is refused.
async fn admit(
    tcp: TcpStream,
    peer: SocketAddr,
    security: &LinkSecurity,
) -> Result<Box<dyn Stream>, String> {
    let broker = security.broker.upgrade().ok_or("the broker is stopping")?;
    let mut principal = "User:ANONYMOUS".to_string();
    let mut stream: Box<dyn Stream> = match &security.accept.tls {
        None => Box::new(tcp),
        Some(acceptor) => {
            let tls = acceptor.accept(tcp).await.map_err(|e| {
                // An alert received means the peer refused this node's certificate.
                let whose = match e.to_string().contains("received fatal alert") {
                    true => "the peer refused this node's certificate",
                    false => "TLS handshake failed",
                };
                format!("{whose}: {e}")
            })?;
            if let Some(p) = crate::tls::peer_principal(tls.get_ref().1) {
                principal = p;
            }
            Box::new(tls)
        }
    };
    let host = runnel_core::acl::acl_host(peer.ip());
    // Quietly: a refused peer retries several times a second; `said_rarely` tells it.
    let admitted = |principal: &str| {
        broker.authorize_quietly(
            principal,
            &host,
            AclOperation::ClusterAction,
            ResourceType::Cluster,
            CLUSTER_NAME,
        )
    };
    let Some(sasl) = &security.accept.sasl else {
        return match admitted(&principal) {
            true => Ok(stream),
            false => Err(format!("{principal} may not CLUSTER_ACTION on the cluster")),
        };
    };
    let mut session = SaslSession::new();
    loop {
        let body = read_frame(&mut stream)
            .await
            .map_err(|e| format!("no SASL: {e}"))?;
        let auth_bytes = match postcard::from_bytes::<Handshake>(&body) {
            Ok(Handshake::Start {
                mechanism,
                auth_bytes,
            }) => {
                if let Err(e) = session.handshake(&mechanism, &sasl.mechanisms) {
                    return refuse(stream, e.message).await;
                }
                auth_bytes
            }
            Ok(Handshake::Continue(auth_bytes)) => auth_bytes,
            _ => return refuse(stream, "expected SASL first".into()).await,
        };
        let bytes = match sasl.authenticate(&mut session, &broker, &auth_bytes) {
            Ok(bytes) => bytes,
            Err(e) => return refuse(stream, e.message).await,
        };
        if let Some(p) = session.principal() {
            principal = p.to_string();
            if !admitted(&principal) {
                let why = format!("{principal} may not CLUSTER_ACTION on the cluster");
                return refuse(stream, why).await;
            }
        }
        let answer =
            postcard::to_allocvec(&Handshake::Answer(Ok(bytes))).map_err(|e| e.to_string())?;
        write_frame(&mut stream, &answer)
            .await
            .map_err(|e| e.to_string())?;
        if session.principal().is_some() {
            return Ok(stream);
        }
    }
}

/// Tells the peer why it is refused, then gives the reason back as the error.
async fn refuse(mut stream: Box<dyn Stream>, why: String) -> Result<Box<dyn Stream>, String> {
    if let Ok(answer) = postcard::to_allocvec(&Handshake::Answer(Err(why.clone()))) {
        let _ = write_frame(&mut stream, &answer).await;
    }
    Err(why)
}
