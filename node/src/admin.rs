//! The admin HTTP listener: `GET /healthz` and `GET /metrics` (Prometheus text).
//!
//! A deliberately small HTTP/1.1 server on tokio: one request per connection, GET only,
//! headers read up to a bound. It serves operators and scrapers, not the public.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::broker::Broker;

/// The most bytes of request head read before giving up.
const HEAD_MAX_BYTES: usize = 8 * 1024;

/// Serves the admin endpoints until the task is dropped.
pub async fn serve(broker: Arc<Broker>, listener: TcpListener) {
    loop {
        if let Ok((stream, _)) = listener.accept().await {
            let broker = broker.clone();
            tokio::spawn(async move {
                let _ = handle(broker, stream).await;
            });
        }
    }
}

async fn handle(broker: Arc<Broker>, mut stream: TcpStream) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < HEAD_MAX_BYTES {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, content_type, body) = match (method, path) {
        ("GET", "/healthz") => ("200 OK", "text/plain", "ok\n".to_string()),
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4", metrics(&broker)),
        ("GET", _) => ("404 Not Found", "text/plain", "not found\n".to_string()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn metrics(broker: &Broker) -> String {
    let topics = broker.topics();
    let partitions: usize = topics.iter().map(|t| t.partitions().len()).sum();
    let groups = broker.lock_groups().coordinator.list().len();
    let _ = broker.metrics.connections.load(Ordering::Relaxed);
    broker.metrics.render(&[
        (
            "runnel_topics",
            "Topics, internal ones included.",
            topics.len() as u64,
        ),
        (
            "runnel_partitions",
            "Partitions of all topics.",
            partitions as u64,
        ),
        (
            "runnel_groups",
            "Consumer groups known to the coordinator.",
            groups as u64,
        ),
    ])
}
