//! The links between the nodes of a cluster: one TCP connection per peer and direction,
//! carrying length-prefixed postcard frames of [`Wire`] messages.
//!
//! Sending never blocks the Raft loop: each peer has a queue drained by its own task, which
//! connects on demand and drops what it cannot deliver (Raft resends what matters). Receiving:
//! every frame from any peer goes into one channel the Raft loop reads.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{Endpoint, Envelope};

/// The largest frame a peer may send (a Raft append carries metadata commands only).
const FRAME_MAX: usize = 16 * 1024 * 1024;
/// Messages queued for one peer before new ones are dropped.
const QUEUE_MAX: usize = 4_096;
/// Wait between connection attempts to a peer that is down.
const RECONNECT_MS: u64 = 200;

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
    /// Starts a sender task per peer (`id → address`, this node excluded).
    pub(super) fn start(peers: &BTreeMap<u32, SocketAddr>) -> Self {
        let queues = peers
            .iter()
            .map(|(id, addr)| {
                let (tx, rx) = mpsc::channel(QUEUE_MAX);
                tokio::spawn(sender(*addr, rx));
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
async fn sender(addr: SocketAddr, mut queue: mpsc::Receiver<Wire>) {
    let mut stream: Option<TcpStream> = None;
    while let Some(message) = queue.recv().await {
        if stream.is_none() {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    // The peer is down: drop what waits and try again later.
                    tokio::time::sleep(Duration::from_millis(RECONNECT_MS)).await;
                    while queue.try_recv().is_ok() {}
                    continue;
                }
            }
        }
        let Ok(body) = postcard::to_allocvec(&message) else {
            continue;
        };
        let mut frame = Vec::with_capacity(body.len() + 4);
        frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frame.extend_from_slice(&body);
        if let Some(s) = stream.as_mut()
            && s.write_all(&frame).await.is_err()
        {
            stream = None;
        }
    }
}

/// Accepts peers' connections and forwards every frame they send into `inbox`.
pub(super) async fn receive(listener: TcpListener, inbox: mpsc::UnboundedSender<Wire>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let inbox = inbox.clone();
        tokio::spawn(async move {
            let mut stream = stream;
            loop {
                let mut len = [0u8; 4];
                if stream.read_exact(&mut len).await.is_err() {
                    return;
                }
                let len = u32::from_be_bytes(len) as usize;
                if len > FRAME_MAX {
                    tracing::warn!("cluster peer sent a {len}-byte frame; closing");
                    return;
                }
                let mut body = vec![0; len];
                if stream.read_exact(&mut body).await.is_err() {
                    return;
                }
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
