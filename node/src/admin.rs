//! The admin HTTP listener: the playground at `/` (embedded at build time), `GET /healthz`,
//! `GET /metrics` (Prometheus text), and the plugin
//! deployments: `GET /plugins` (JSON), `POST /plugins/NAME?kind=transform|partition&input=T&
//! output=U` with the module as the body, `DELETE /plugins/NAME`.
//!
//! A deliberately small HTTP/1.1 server on tokio: one request per connection, the head read
//! up to a bound, a body only with `Content-Length` and at most the largest plugin module. It
//! serves operators and scrapers on loopback, not the public.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::broker::Broker;
use crate::cli::json_string;
use crate::plugins::{Deployment, Kind, MAX_MODULE_BYTES, Pipelines};

/// The most bytes of request head read before giving up.
const HEAD_MAX_BYTES: usize = 8 * 1024;

/// Serves the admin endpoints until the task is dropped.
pub async fn serve(broker: Arc<Broker>, pipelines: Arc<Pipelines>, listener: TcpListener) {
    loop {
        if let Ok((stream, _)) = listener.accept().await {
            let (broker, pipelines) = (broker.clone(), pipelines.clone());
            tokio::spawn(async move {
                let _ = handle(broker, pipelines, stream).await;
            });
        }
    }
}

async fn handle(
    broker: Arc<Broker>,
    pipelines: Arc<Pipelines>,
    mut stream: TcpStream,
) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < HEAD_MAX_BYTES {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let split = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(head.len(), |i| i + 4);
    let text = String::from_utf8_lossy(&head[..split]).into_owned();
    let mut words = text.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let length = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body_in = head[split..].to_vec();
    if length > MAX_MODULE_BYTES {
        return respond(
            &mut stream,
            "413 Payload Too Large",
            "text/plain",
            "module too large\n",
        )
        .await;
    }
    while body_in.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body_in.extend_from_slice(&chunk[..n]);
    }
    let plugin = path.strip_prefix("/plugins/").filter(|n| !n.is_empty());
    let (status, content_type, body) = match (method, path, plugin) {
        ("GET", "/healthz", _) => ("200 OK", "text/plain", "ok\n".to_string()),
        ("GET", _, _) if playground_file(path).is_some() => {
            let (content_type, bytes) = playground_file(path).unwrap_or_default();
            return respond_bytes(&mut stream, "200 OK", content_type, bytes).await;
        }
        ("GET", "/metrics", _) => ("200 OK", "text/plain; version=0.0.4", metrics(&broker)),
        ("GET", "/plugins", _) => {
            let items: Vec<String> = pipelines.list().iter().map(deployment_json).collect();
            (
                "200 OK",
                "application/json",
                format!("[{}]\n", items.join(",")),
            )
        }
        ("POST", _, Some(name)) => {
            let param = |key: &str| {
                query.split('&').find_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    (k == key).then(|| v.to_string())
                })
            };
            let kind = match param("kind").as_deref() {
                Some("transform") | None => Some(Kind::Transform),
                Some("partition") => Some(Kind::Partition),
                Some(_) => None,
            };
            let name = name.to_string();
            match (kind, param("input"), param("output")) {
                (Some(kind), Some(input), Some(output)) => {
                    let p = pipelines.clone();
                    let result = tokio::task::spawn_blocking(move || {
                        p.deploy(&name, kind, &input, &output, &body_in)
                    })
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
                    match result {
                        Ok(d) => ("200 OK", "application/json", deployment_json(&d) + "\n"),
                        Err(e) => ("400 Bad Request", "text/plain", e + "\n"),
                    }
                }
                _ => (
                    "400 Bad Request",
                    "text/plain",
                    "give kind=transform|partition, input=TOPIC and output=TOPIC\n".to_string(),
                ),
            }
        }
        ("DELETE", _, Some(name)) => match pipelines.remove(name) {
            Ok(()) => ("200 OK", "text/plain", format!("removed {name}\n")),
            Err(e) => ("404 Not Found", "text/plain", e + "\n"),
        },
        ("GET", _, _) => ("404 Not Found", "text/plain", "not found\n".to_string()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "not allowed\n".to_string(),
        ),
    };
    respond(&mut stream, status, content_type, &body).await
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    respond_bytes(stream, status, content_type, body.as_bytes()).await
}

async fn respond_bytes(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// The playground page (built by node/build.rs from web/), embedded in the binary.
mod playground {
    include!(concat!(env!("OUT_DIR"), "/playground.rs"));
}

/// The playground file at `path` (`/` is index.html) with its content type.
fn playground_file(path: &str) -> Option<(&'static str, &'static [u8])> {
    let name = match path.trim_start_matches('/') {
        "" => "index.html",
        other => other,
    };
    let (_, bytes) = playground::FILES.iter().find(|(n, _)| *n == name)?;
    let content_type = match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        _ => "application/octet-stream",
    };
    Some((content_type, bytes))
}

/// One deployment as a JSON object.
fn deployment_json(d: &Deployment) -> String {
    format!(
        "{{\"name\":{},\"kind\":\"{}\",\"input\":{},\"output\":{},\"version\":{},\"processed\":{},\"failed\":{}}}",
        json_string(&d.name),
        match d.kind {
            Kind::Transform => "transform",
            Kind::Partition => "partition",
        },
        json_string(&d.input),
        json_string(&d.output),
        d.version,
        d.processed,
        d.failed
    )
}

fn metrics(broker: &Broker) -> String {
    let topics = broker.topics();
    let partitions: usize = topics.iter().map(|t| t.partitions().len()).sum();
    let groups = broker.lock_groups().coordinator.list().len();
    let _ = broker.metrics.connections.load(Ordering::Relaxed);
    let (led, under) = broker.leadership_counts();
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
        (
            "runnel_leader_partitions",
            "Partitions this node leads (on a single node, all of them).",
            led,
        ),
        (
            "runnel_under_replicated_partitions",
            "Cluster mode: partitions this node leads whose ISR lacks a replica.",
            under,
        ),
        (
            "runnel_active_controller",
            "1 on the node that is the active controller (a single node is its own, as Metadata says).",
            u64::from(
                broker
                    .cluster()
                    .is_none_or(|c| c.controller_id() == Some(c.node_id)),
            ),
        ),
    ])
}
