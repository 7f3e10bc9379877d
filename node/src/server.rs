//! The Kafka listener: framing, decoding, dispatch, responses in request order.
//!
//! Each connection is served by one task that reads a request, handles it, writes its
//! response, and only then reads the next — so responses leave in request order, as clients
//! require (Kafka itself mutes a connection while a request is in flight). A frame larger than
//! `socket.request.max.bytes`, an unknown API, an unsupported version or a body that does not
//! decode closes that connection with a log line; nothing else is affected. Bytes after a
//! request body are ignored, as Kafka ignores them (librdkafka sends some).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind, SaslAuthenticateRequest,
    SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::protocol::{Encodable, decode_request_header_from_buffer};
use runnel_core::sasl::{Credentials, Mechanism, PlainUsers, SaslSession};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader, BufWriter};
use tokio::net::TcpListener;

use crate::api::{self, Answer, Context};
use crate::broker::Broker;
use crate::response::{CopyingResponses, Response, Responses, SplicingBuf, TcpResponses};

/// Bytes of the smallest request header (api key, version, correlation id, client id length).
pub const HEADER_MIN_BYTES: usize = 10;

/// The largest request an unauthenticated client may send on a SASL listener (Kafka's
/// `sasl.server.max.receive.size` default).
const SASL_MAX_RECEIVE_BYTES: usize = 512 * 1024;

/// How long a connection that has not authenticated may wait between requests.
const AUTHENTICATION_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a refused SASL login waits before its connection closes (Kafka's
/// `connection.failed.authentication.delay.ms` default).
const FAILED_AUTHENTICATION_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// What a listener asks of a connection besides framing: TLS, and SASL with its users.
#[derive(Clone, Default)]
pub struct Security {
    /// The TLS acceptor (SSL and SASL_SSL listeners).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// SASL's mechanisms and PLAIN users (SASL_PLAINTEXT and SASL_SSL listeners).
    pub sasl: Option<Arc<SaslListener>>,
}

/// What a SASL listener offers: `sasl.enabled.mechanisms` and, for PLAIN, the users of
/// `sasl.jaas.config`. SCRAM's credentials are the broker's (they change at run time).
#[derive(Debug, Default)]
pub struct SaslListener {
    /// The mechanisms offered, in `sasl.enabled.mechanisms` order.
    pub mechanisms: Vec<Mechanism>,
    /// PLAIN's users (none when PLAIN is not enabled).
    pub plain: PlainUsers,
}

impl SaslListener {
    /// One SaslAuthenticate step of `session` with the client's `auth_bytes`, checked against
    /// this listener's PLAIN users and the broker's SCRAM credentials, with a fresh SCRAM
    /// nonce ([`SaslSession::authenticate`]); the Kafka listener and the cluster links both
    /// authenticate through it. Errors: the session's, or no randomness for the nonce
    /// (SASL_AUTHENTICATION_FAILED, closing).
    pub(crate) fn authenticate(
        &self,
        session: &mut SaslSession,
        broker: &Broker,
        auth_bytes: &[u8],
    ) -> Result<Vec<u8>, runnel_core::sasl::SaslError> {
        let nonce = crate::tls::scram_nonce().map_err(|message| runnel_core::sasl::SaslError {
            code: runnel_core::error_code::SASL_AUTHENTICATION_FAILED,
            message,
            closes: true,
        })?;
        let scram = broker.scram_credentials();
        let credentials = Credentials {
            plain: &self.plain,
            scram: &scram,
        };
        session.authenticate(auth_bytes, credentials, &nonce)
    }
}

/// How long a client may take to finish its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Accepts connections on listener number `index` of `listeners` until the task is dropped;
/// with `tls`, each connection starts with a TLS handshake (an SSL listener).
pub async fn serve(broker: Arc<Broker>, listener: TcpListener, index: usize, security: Security) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                broker.metrics.connections.fetch_add(1, Ordering::Relaxed);
                let broker = broker.clone();
                let Security { tls, sasl } = security.clone();
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let result = match tls {
                        None => {
                            // Owned halves: the writing one reaches the socket itself, to
                            // send records from segment files (`sendfile`).
                            let (read, write) = stream.into_split();
                            let responses = TcpResponses(write);
                            connection(broker, read, responses, peer, index, sasl, None).await
                        }
                        Some(acceptor) => {
                            match tokio::time::timeout(
                                TLS_HANDSHAKE_TIMEOUT,
                                acceptor.accept(stream),
                            )
                            .await
                            {
                                Ok(Ok(stream)) => {
                                    // A client certificate names the client (Kafka's SSL
                                    // principal); SASL, on SASL_SSL, names it instead.
                                    let principal = crate::tls::peer_principal(stream.get_ref().1);
                                    let (read, write) = tokio::io::split(stream);
                                    let responses = CopyingResponses(BufWriter::new(write));
                                    connection(
                                        broker, read, responses, peer, index, sasl, principal,
                                    )
                                    .await
                                }
                                Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
                                Err(_) => Err("no TLS handshake in time".into()),
                            }
                        }
                    };
                    match result {
                        // Kafka logs a failed authentication at INFO ("Failed authentication
                        // with /ip (SSL handshake failed)"): an operator needs to see it.
                        Err(reason) if reason.starts_with("TLS handshake failed") => {
                            tracing::info!("failed authentication with {peer} ({reason})");
                        }
                        Err(reason) => tracing::debug!("{peer}: connection closed: {reason}"),
                        Ok(()) => {}
                    }
                });
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// What a connection's reader and its request loop share.
#[derive(Debug)]
struct ConnectionState {
    /// SASL is done (or not asked for): the 512 KiB and 30 s limits no longer apply.
    authenticated: AtomicBool,
    /// The client closed its side: what is still queued was sent before it hung up.
    peer_closed: AtomicBool,
    /// The request loop finished a request. Until authenticated, the reader waits for this
    /// after each frame, so it never reads the next one under stale limits.
    handled: tokio::sync::Notify,
    /// Bytes of requests read and not yet handled: read-ahead holds at most
    /// `socket.request.max.bytes` besides the request being handled.
    budget: Arc<tokio::sync::Semaphore>,
}

/// How many request frames the reader takes ahead of the request loop. Reading ahead lets it
/// see a client hang up while an earlier request still waits (an acks=all produce), so the
/// produce requests queued behind are not appended after the client gave them up; clients keep
/// at most 5 requests in flight on a connection.
const READ_AHEAD_FRAMES: usize = 16;

/// A request frame and its share of the read-ahead byte budget (given back when dropped).
type Frame = (BytesMut, tokio::sync::OwnedSemaphorePermit);

/// Stops the reader task when the request loop ends, so the socket closes with it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads request frames into `frames` until the client hangs up (then marks `peer_closed`)
/// or a frame is refused (then sends why, which closes the connection).
async fn read_frames<R: AsyncRead + Unpin>(
    broker: Arc<Broker>,
    read: R,
    peer: SocketAddr,
    state: Arc<ConnectionState>,
    frames: tokio::sync::mpsc::Sender<Result<Frame, String>>,
) {
    let mut read = BufReader::new(read);
    loop {
        // Before authentication a client must keep going: an idle half-open login is closed.
        let authenticated = state.authenticated.load(Ordering::Acquire);
        let next = read.read_i32();
        let size = if authenticated {
            next.await
        } else {
            match tokio::time::timeout(AUTHENTICATION_IDLE_TIMEOUT, next).await {
                Ok(size) => size,
                Err(_) => {
                    let _ = frames
                        .send(Err("no SASL authentication in time".into()))
                        .await;
                    return;
                }
            }
        };
        let Ok(size) = size else {
            state.peer_closed.store(true, Ordering::Release);
            return; // the client hung up
        };
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let refused = if size < HEADER_MIN_BYTES || size > broker.config.request_max_bytes {
            broker.metrics.bad_requests.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "{peer}: request of {size} bytes refused (socket.request.max.bytes is {}); closing",
                broker.config.request_max_bytes
            );
            Some("bad frame size")
        } else if !authenticated && size > SASL_MAX_RECEIVE_BYTES {
            tracing::warn!("{peer}: a {size}-byte request before SASL authentication; closing");
            Some("unauthenticated request too large")
        } else {
            None
        };
        if let Some(why) = refused {
            let _ = frames.send(Err(why.into())).await;
            return;
        }
        // Sizes are at most `socket.request.max.bytes`, the budget's size (a u32 on every
        // real setting); a larger one was refused above.
        let share = u32::try_from(size)
            .unwrap_or(u32::MAX)
            .min(budget_bytes(&broker));
        let Ok(permit) = state.budget.clone().acquire_many_owned(share).await else {
            return;
        };
        let Ok(frame) = read_frame(&mut read, size).await else {
            state.peer_closed.store(true, Ordering::Release);
            return;
        };
        if frames.send(Ok((frame, permit))).await.is_err() {
            return; // the request loop ended
        }
        if !authenticated {
            // The next frame's limits depend on how this one is answered.
            state.handled.notified().await;
        }
    }
}

/// The next `size` bytes of `read`, read into memory that is not zeroed first (a produce
/// request is up to `socket.request.max.bytes`; zeroing it cost a pass over every byte).
/// Errors: the stream ended or failed first.
async fn read_frame<R: AsyncRead + Unpin>(read: &mut R, size: usize) -> std::io::Result<BytesMut> {
    let mut frame = BytesMut::with_capacity(size);
    let mut rest = read.take(size as u64);
    while frame.len() < size {
        if rest.read_buf(&mut frame).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(frame)
}

/// The read-ahead byte budget of one connection: `socket.request.max.bytes`.
fn budget_bytes(broker: &Broker) -> u32 {
    u32::try_from(broker.config.request_max_bytes)
        .unwrap_or(u32::MAX)
        .clamp(1, tokio::sync::Semaphore::MAX_PERMITS as u32)
}

#[allow(clippy::too_many_arguments)]
async fn connection<R: AsyncRead + Unpin + Send + 'static, W: Responses>(
    broker: Arc<Broker>,
    read: R,
    mut responses: W,
    peer: SocketAddr,
    listener: usize,
    sasl: Option<Arc<SaslListener>>,
    certificate_principal: Option<String>,
) -> Result<(), String> {
    // On a SASL listener: where this connection is in authentication (core's rule).
    let mut session = sasl.as_ref().map(|_| SaslSession::new());
    let state = Arc::new(ConnectionState {
        authenticated: AtomicBool::new(session.is_none()),
        peer_closed: AtomicBool::new(false),
        handled: tokio::sync::Notify::new(),
        budget: Arc::new(tokio::sync::Semaphore::new(budget_bytes(&broker) as usize)),
    });
    let (tx, mut frames) = tokio::sync::mpsc::channel(READ_AHEAD_FRAMES);
    let _reader = AbortOnDrop(tokio::spawn(read_frames(
        broker.clone(),
        read,
        peer,
        state.clone(),
        tx,
    )));
    let client_host = format!("/{}", peer.ip());
    while let Some(frame) = frames.recv().await {
        let (frame, _budget) = frame?;
        let key = i16::from_be_bytes([frame[0], frame[1]]);
        if let Some(s) = &session
            && !s.permits(key)
        {
            broker.metrics.bad_requests.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("{peer}: API key {key} before SASL authentication; closing");
            return Err("request before authentication".into());
        }
        let mut close = false;
        let sasl_state = session.as_mut().zip(sasl.as_deref());
        let sender = Sender {
            peer,
            client_host: &client_host,
            listener,
            peer_closed: state.peer_closed.load(Ordering::Acquire),
            certificate_principal: certificate_principal.as_deref(),
        };
        let response = respond(&broker, frame.freeze(), sender, sasl_state, &mut close).await?;
        if session.as_ref().is_some_and(|s| s.principal().is_some()) {
            state.authenticated.store(true, Ordering::Release);
        }
        state.handled.notify_one();
        if let Some(response) = response {
            responses.send(response).await.map_err(|e| e.to_string())?;
        }
        if close {
            // Kafka's connection.failed.authentication.delay.ms: no guessing at full speed.
            tokio::time::sleep(FAILED_AUTHENTICATION_DELAY).await;
            return Err("SASL refused".into());
        }
    }
    Ok(())
}

/// A request frame, decoded as far as the listener decodes before a handler sees it.
#[derive(Debug)]
pub enum Decoded {
    /// ApiVersions at a version this broker does not know: answered with the v0 error body
    /// listing what it does know (KIP-511).
    UnknownApiVersions {
        /// The request's correlation id.
        correlation_id: i32,
    },
    /// A version `kafka-protocol` does not decode; `api::legacy` reads `body`.
    Legacy {
        /// The API.
        key: ApiKey,
        /// Its version.
        version: i16,
        /// The request header.
        header: RequestHeader,
        /// The body after the header.
        body: Bytes,
    },
    /// A request `kafka-protocol` decoded.
    Request {
        /// The API.
        key: ApiKey,
        /// Its version.
        version: i16,
        /// The request header.
        header: RequestHeader,
        /// The request (boxed: some requests are large).
        request: Box<RequestKind>,
        /// Bytes after the body: Kafka ignores them, and librdkafka relies on it (its Metadata
        /// v12 request for all topics carries 3 stray bytes). So does runnel.
        trailing_bytes: usize,
    },
}

/// Decodes one request frame (the bytes after its 4-byte size, at least [`HEADER_MIN_BYTES`]
/// long): the header, then the body for its API and version. Errors: why the frame is not a
/// request this broker answers (an unknown API, an unsupported version, a malformed header or
/// body), in words; the connection is then closed, as Kafka closes it.
pub fn decode_request(mut frame: Bytes) -> Result<Decoded, String> {
    if frame.len() < 8 {
        return Err(format!("a request frame of {} bytes", frame.len()));
    }
    let key_raw = (&frame[0..2]).get_i16();
    let version = (&frame[2..4]).get_i16();
    let correlation_id = (&frame[4..8]).get_i32();
    let Ok(key) = ApiKey::try_from(key_raw) else {
        return Err(format!("unknown API key {key_raw}"));
    };
    if key == ApiKey::ApiVersions && !api::decodable(key, version) {
        return Ok(Decoded::UnknownApiVersions { correlation_id });
    }
    if !api::decodable(key, version) {
        return Err(format!(
            "{} (API key {key_raw}) v{version} is not supported",
            api::api_name(key)
        ));
    }
    let header = decode_request_header_from_buffer(&mut frame)
        .map_err(|e| format!("malformed request header: {e}"))?;
    if api::is_legacy(key, version) {
        return Ok(Decoded::Legacy {
            key,
            version,
            header,
            body: frame,
        });
    }
    let request = RequestKind::decode(key, &mut frame, version)
        .map_err(|e| format!("malformed {} v{version} request: {e}", api::api_name(key)))?;
    Ok(Decoded::Request {
        key,
        version,
        header,
        request: Box::new(request),
        trailing_bytes: frame.remaining(),
    })
}

/// Who sent a request, as the connection knows it.
#[derive(Clone, Copy, Debug)]
struct Sender<'a> {
    /// The client's address.
    peer: SocketAddr,
    /// `/ip`, as Kafka shows a client's host.
    client_host: &'a str,
    /// The listener's index in `listeners`.
    listener: usize,
    /// The client had hung up when this request was taken (see [`ConnectionState`]).
    peer_closed: bool,
    /// The principal of the client's certificate, on an SSL listener that got one.
    certificate_principal: Option<&'a str>,
}

/// Whether a produce request with `acks` is to be dropped: the client hung up after sending
/// it, counts it as failed and will retry it (perhaps renumbered under a new producer epoch),
/// so appending it now would write what it sends again a second time. acks=0 asks for no
/// answer and is appended.
fn abandoned(sender: Sender<'_>, acks: Option<i16>) -> bool {
    let dropped = sender.peer_closed && acks.is_some_and(|a| a != 0);
    if dropped {
        tracing::debug!(
            "{}: produce request sent before the client hung up; dropped",
            sender.peer
        );
    }
    dropped
}

/// Decodes and handles one request; returns the framed response (`None` for acks=0 produce),
/// or an error that closes the connection.
async fn respond(
    broker: &Arc<Broker>,
    frame: Bytes,
    sender: Sender<'_>,
    sasl: Option<(&mut SaslSession, &SaslListener)>,
    close: &mut bool,
) -> Result<Option<Response>, String> {
    let Sender {
        peer,
        client_host,
        listener,
        certificate_principal,
        ..
    } = sender;
    // Who is asking, for ACLs: the SASL user once authenticated, else the client
    // certificate's subject, else ANONYMOUS (Kafka's principals).
    let principal = sasl
        .as_ref()
        .and_then(|(session, _)| session.principal())
        .or(certificate_principal)
        .unwrap_or(runnel_core::acl::ANONYMOUS)
        .to_string();
    let host = runnel_core::acl::acl_host(peer.ip());
    let refuse = |why: String| {
        broker.metrics.bad_requests.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("{peer}: {why}; closing the connection");
        Err(why)
    };
    let (key, version, header, request) = match decode_request(frame) {
        Err(why) => return refuse(why),
        Ok(Decoded::UnknownApiVersions { correlation_id }) => {
            return Ok(Some(
                frame_response(correlation_id, &api::api_versions_error_body()).into(),
            ));
        }
        Ok(Decoded::Legacy {
            key,
            version,
            header,
            body,
        }) => {
            // Produce v0–v2 starts with acks.
            let acks = body.get(..2).map(|b| i16::from_be_bytes([b[0], b[1]]));
            if key == ApiKey::Produce && abandoned(sender, acks) {
                return Ok(None);
            }
            let correlation_id = header.correlation_id;
            let ctx = Context {
                header,
                client_host: client_host.to_string(),
                listener,
                principal,
                host,
            };
            return match api::legacy_response(broker, &ctx, key, version, &body).await {
                Some(Ok(Some(body))) => Ok(Some(frame_response(correlation_id, &body).into())),
                Some(Ok(None)) => Ok(None),
                Some(Err(e)) => refuse(format!(
                    "malformed {} v{version} request: {e}",
                    api::api_name(key)
                )),
                None => refuse(format!(
                    "{} v{version} is not supported",
                    api::api_name(key)
                )),
            };
        }
        Ok(Decoded::Request {
            key,
            version,
            header,
            request,
            trailing_bytes,
        }) => {
            if trailing_bytes > 0 {
                tracing::debug!(
                    "{peer}: {} v{version} request has {trailing_bytes} trailing bytes; ignored",
                    api::api_name(key)
                );
            }
            (key, version, header, *request)
        }
    };
    let correlation_id = header.correlation_id;
    let started = Instant::now();
    let ctx = Context {
        header,
        client_host: client_host.to_string(),
        listener,
        principal,
        host,
    };
    let response = match request {
        RequestKind::Produce(r) if abandoned(sender, Some(r.acks)) => return Ok(None),
        RequestKind::SaslHandshake(r) => {
            let (answer, closes) = sasl_handshake(sasl, r);
            *close = closes;
            Some(ResponseKind::SaslHandshake(answer).into())
        }
        RequestKind::SaslAuthenticate(r) => {
            let (answer, closes) = sasl_authenticate(broker, sasl, r);
            if closes {
                tracing::info!(
                    "{peer}: {}",
                    answer
                        .error_message
                        .as_ref()
                        .map_or(String::new(), |m| m.to_string())
                );
                *close = true;
            }
            Some(ResponseKind::SaslAuthenticate(answer).into())
        }
        request => api::handle(broker, &ctx, request).await,
    };
    broker
        .metrics
        .observe(api::api_name(key), started.elapsed());
    let Some(Answer { message, files }) = response else {
        return Ok(None);
    };
    // ApiVersions responses always use header v0 (KIP-511), even when flexible.
    let header_version = if key == ApiKey::ApiVersions {
        0
    } else {
        key.response_header_version(version)
    };
    let cannot_encode = |e: String| {
        tracing::error!(
            "{peer}: cannot encode {} v{version} response: {e}",
            api::api_name(key)
        );
        e
    };
    // The size first (set once known), then the header and the body, in one buffer.
    let mut out = BytesMut::new();
    out.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut out, header_version)
        .map_err(|e| e.to_string())?;
    match message {
        // A Fetch whose records are segment file ranges: encoded around them.
        ResponseKind::Fetch(fetch) if !files.is_empty() => {
            let size = out.len() - 4
                + fetch
                    .compute_size(version)
                    .map_err(|e| cannot_encode(e.to_string()))?;
            out[..4].copy_from_slice(&(size as i32).to_be_bytes());
            let mut spliced = SplicingBuf::new(out, files);
            fetch
                .encode(&mut spliced, version)
                .map_err(|e| cannot_encode(e.to_string()))?;
            Ok(Some(spliced.finish()))
        }
        message => {
            message
                .encode(&mut out, version)
                .map_err(|e| cannot_encode(e.to_string()))?;
            let size = out.len() as i32 - 4;
            out[..4].copy_from_slice(&size.to_be_bytes());
            Ok(Some(out.into()))
        }
    }
}

/// SaslHandshake (KIP-43): the mechanism chosen by core's session, or why not, with the
/// enabled mechanisms. Returns the answer and whether the connection ends after it (every
/// refusal on a SASL listener, as Kafka fails the connection). A listener without SASL
/// answers ILLEGAL_SASL_STATE with no mechanisms and goes on, as Kafka does.
fn sasl_handshake(
    sasl: Option<(&mut SaslSession, &SaslListener)>,
    request: SaslHandshakeRequest,
) -> (SaslHandshakeResponse, bool) {
    let Some((session, listener)) = sasl else {
        let answer = SaslHandshakeResponse::default()
            .with_error_code(runnel_core::error_code::ILLEGAL_SASL_STATE);
        return (answer, false);
    };
    let (code, closes) = match session.handshake(request.mechanism.as_str(), &listener.mechanisms) {
        Ok(()) => (0, false),
        Err(e) => (e.code, e.closes),
    };
    let mechanisms = listener
        .mechanisms
        .iter()
        .map(|m| StrBytes::from_static_str(m.name()))
        .collect();
    let answer = SaslHandshakeResponse::default()
        .with_error_code(code)
        .with_mechanisms(mechanisms);
    (answer, closes)
}

/// SaslAuthenticate (KIP-152): core's session checks PLAIN's message against the users, or
/// takes one SCRAM round against the broker's credentials. Returns the answer (SCRAM's server
/// message in `auth_bytes`) and whether the connection ends after it (a failed
/// authentication).
fn sasl_authenticate(
    broker: &Broker,
    sasl: Option<(&mut SaslSession, &SaslListener)>,
    request: SaslAuthenticateRequest,
) -> (SaslAuthenticateResponse, bool) {
    let refused = |code, message: String, closes| runnel_core::sasl::SaslError {
        code,
        message,
        closes,
    };
    let result = match sasl {
        None => Err(refused(
            runnel_core::error_code::ILLEGAL_SASL_STATE,
            "SASL is not enabled on this listener".into(),
            false,
        )),
        Some((session, listener)) => listener.authenticate(session, broker, &request.auth_bytes),
    };
    match result {
        Ok(bytes) => (
            SaslAuthenticateResponse::default().with_auth_bytes(bytes.into()),
            false,
        ),
        Err(e) => (
            SaslAuthenticateResponse::default()
                .with_error_code(e.code)
                .with_error_message(Some(StrBytes::from_string(e.message))),
            e.closes,
        ),
    }
}

/// Frames a hand-built body behind a v0 response header.
fn frame_response(correlation_id: i32, body: &[u8]) -> BytesMut {
    let mut out = BytesMut::with_capacity(body.len() + 8);
    out.put_i32(body.len() as i32 + 4);
    out.put_i32(correlation_id);
    out.extend_from_slice(body);
    out
}
