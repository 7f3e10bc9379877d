//! Starting and stopping the systems under test, each on its own free loopback port with its
//! own data directory: runnel (release build), a three-node runnel cluster (replication factor
//! 3, min.insync.replicas 2), tansu (in-memory storage), redis-server (AOF, appendfsync no),
//! nats-server (JetStream, file storage).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server, killed when dropped.
pub struct Server {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Server {
    /// Its process id, for measuring its CPU time.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A meter over `servers`' processes (a cluster's nodes summed).
pub fn meter(servers: &[Server]) -> crate::cpu::Meter {
    crate::cpu::Meter::new(servers.iter().map(Server::pid).collect())
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Runs `program args` and waits until `port` accepts connections.
fn start(program: &Path, args: &[String], port: u16) -> Result<Server, String> {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let mut server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("{} exited: {status}", program.display()));
        }
        if Instant::now() > deadline {
            return Err(format!("{} did not listen on {port}", program.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(server)
}

/// runnel with its defaults, data in `dir`.
pub fn runnel(binary: &Path, dir: &Path) -> Result<Server, String> {
    let port = free_port()?;
    let admin = free_port()?;
    start(
        binary,
        &[
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--admin".into(),
            format!("127.0.0.1:{admin}"),
            "--data-dir".into(),
            dir.display().to_string(),
        ],
        port,
    )
}

/// A runnel cluster of `nodes` on loopback, every node a voter, topics replicated to all of
/// them (up to 3) with `min.insync.replicas=2`. Returns the nodes and the bootstrap list.
pub fn runnel_cluster(
    binary: &Path,
    dir: &Path,
    nodes: usize,
) -> Result<(Vec<Server>, String), String> {
    let raft: Vec<u16> = (0..nodes).map(|_| free_port()).collect::<Result<_, _>>()?;
    let voters = raft
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{i}@127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut servers = Vec::new();
    for i in 0..nodes {
        let port = free_port()?;
        let admin = free_port()?;
        servers.push(start(
            binary,
            &[
                "--listen".into(),
                format!("127.0.0.1:{port}"),
                "--admin".into(),
                format!("127.0.0.1:{admin}"),
                "--data-dir".into(),
                dir.join(format!("node-{i}")).display().to_string(),
                "--set".into(),
                format!("node.id={i}"),
                "--set".into(),
                format!("controller.quorum.voters={voters}"),
                "--set".into(),
                format!("default.replication.factor={}", nodes.min(3)),
                "--set".into(),
                "min.insync.replicas=2".into(),
            ],
            port,
        )?);
    }
    let bootstrap = servers
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port))
        .collect::<Vec<_>>()
        .join(",");
    Ok((servers, bootstrap))
}

/// tansu with in-memory storage.
pub fn tansu(binary: &Path) -> Result<Server, String> {
    let port = free_port()?;
    let url = format!("tcp://127.0.0.1:{port}");
    start(
        binary,
        &[
            "broker".into(),
            "--listener-url".into(),
            url.clone(),
            "--advertised-listener-url".into(),
            url,
            "--storage-engine".into(),
            "memory://tansu/".into(),
        ],
        port,
    )
}

/// redis-server with an append-only file flushed by the OS (as runnel's default), no
/// snapshots.
pub fn redis(dir: &Path) -> Result<Server, String> {
    let port = free_port()?;
    start(
        &PathBuf::from("redis-server"),
        &[
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "yes".into(),
            "--appendfsync".into(),
            "no".into(),
            "--dir".into(),
            dir.display().to_string(),
        ],
        port,
    )
}

/// nats-server with JetStream on file storage in `dir`.
pub fn nats(dir: &Path) -> Result<Server, String> {
    let port = free_port()?;
    start(
        &PathBuf::from("nats-server"),
        &[
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-js".into(),
            "-sd".into(),
            dir.display().to_string(),
        ],
        port,
    )
}

/// Creates `topic` with `partitions` through `runnel topic create` (a Kafka client that works
/// against any Kafka-compatible broker), with the broker's default replication factor; tries
/// again for a while (a cluster's nodes may still be registering).
pub fn create_topic(
    runnel: &Path,
    bootstrap: &str,
    topic: &str,
    partitions: u32,
) -> Result<(), String> {
    let first = bootstrap.split(',').next().unwrap_or(bootstrap);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = Command::new(runnel)
            .args(["topic", "create", topic, "-p", &partitions.to_string()])
            .args(["-b", first])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "create topic {topic}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
