//! Faults against real processes, Jepsen style: a cluster of `runnel` nodes, each in its own
//! network namespace on a bridge this module makes, so a network partition is a dropped packet
//! (nftables inside the namespaces); process faults are signals (SIGKILL, SIGSTOP past the
//! broker session, SIGTERM); a full disk is a small tmpfs under a node's `log.dirs` filled to
//! the last byte. A seed chooses the schedule ([`schedule`]); [`check`] reads every client's
//! history and the final contents of the log and lists what a Kafka user would call a bug.
//!
//! Everything this module makes (namespaces, the bridge, veth pairs, rules, mounts) is removed
//! when its [`Net`] is dropped, also when a test fails. It needs root, `ip` (iproute2) and `nft`
//! (nftables), which the test command installs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use runnel_core::rng::Rng;

use crate::{Cluster, Runnel, temp_dir};

/// The Kafka port every node listens on (each at its own address).
pub const KAFKA_PORT: u16 = 9092;
/// The metadata quorum (Raft) port.
pub const RAFT_PORT: u16 = 9093;
/// The admin HTTP port.
pub const ADMIN_PORT: u16 = 8080;
/// Each node's `log.dirs` volume for a run of a few minutes ([`Net::new`] takes the size).
pub const DISK_BYTES: u64 = 48 << 20;

/// Runs a command, panicking with its output when it fails (setting up the network is not
/// what a test measures).
fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("{program}: {e} (the test command installs iproute2 and nftables)")
        });
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command and ignores how it ends (cleanup of what may already be gone).
fn run_quiet(program: &str, args: &[&str]) {
    let _ = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether this process can make namespaces and firewall rules (root, `ip` and `nft`).
pub fn available() -> Result<(), String> {
    // SAFETY: geteuid(2) has no preconditions.
    #[allow(unsafe_code)]
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        return Err("network namespaces need root".into());
    }
    for tool in ["ip", "nft"] {
        let found = Command::new(tool)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            return Err(format!(
                "`{tool}` is missing (the test command installs it)"
            ));
        }
    }
    Ok(())
}

/// What one namespace drops, rebuilt into its nftables table on every change.
#[derive(Clone, Debug, Default)]
struct Rules {
    /// Peers whose packets are dropped both ways.
    all: BTreeSet<usize>,
    /// Peers whose packets are dropped on the way in only (a one-way partition).
    inbound: BTreeSet<usize>,
    /// Peers with which only metadata quorum traffic is dropped.
    raft: BTreeSet<usize>,
    /// Peers this node's new connections reach through a [`DelayProxy`] (DNAT); its older
    /// direct connections to them are dropped, so they reconnect through it.
    slow: BTreeSet<usize>,
}

/// A bridge with one network namespace per node, and the nodes' volumes.
pub struct Net {
    tag: String,
    subnet: u8,
    n: usize,
    rules: Mutex<Vec<Rules>>,
    /// Each node's `log.dirs` (a tmpfs).
    pub data_dirs: Vec<PathBuf>,
    /// Each node's `metadata.log.dir` (on the ordinary disk).
    meta_dirs: Vec<PathBuf>,
    /// A delaying proxy per (from, to, port) on this namespace's bridge address; idle until a
    /// [`FaultKind::Slow`] routes a link through it.
    proxies: BTreeMap<(usize, usize, u16), DelayProxy>,
}

impl Net {
    /// Makes the bridge, `n` namespaces joined to it by veth pairs, and `n` volumes of
    /// `disk_bytes` each. What an earlier run killed before it could clean up is removed first.
    pub fn new(n: usize, disk_bytes: u64) -> Self {
        sweep_stale();
        let pid = std::process::id();
        // A /24 no other run uses (two runs at once would otherwise share one 1 time in 250).
        let subnet = (0..250u32)
            .map(|k| (1 + (pid + k) % 250) as u8)
            .find(|x| {
                Command::new("ip")
                    .args(["-4", "route", "show", &format!("10.199.{x}.0/24")])
                    .output()
                    .is_ok_and(|o| o.stdout.is_empty())
            })
            .expect("a free 10.199.x.0/24");
        let net = Self {
            tag: format!("rn{pid}"),
            subnet,
            n,
            rules: Mutex::new(vec![Rules::default(); n]),
            data_dirs: (0..n)
                .map(|i| temp_dir(&format!("nemesis-data-{i}")))
                .collect(),
            meta_dirs: (0..n)
                .map(|i| temp_dir(&format!("nemesis-meta-{i}")))
                .collect(),
            proxies: BTreeMap::new(),
        };
        let mut net = net;
        net.teardown();
        let bridge = net.bridge();
        run("ip", &["link", "add", &bridge, "type", "bridge"]);
        let cidr = format!("{}/24", net.gateway());
        run("ip", &["addr", "add", &cidr, "dev", &bridge]);
        run("ip", &["link", "set", &bridge, "up"]);
        for i in 0..n {
            let (ns, veth) = (net.netns(i), net.veth(i));
            run("ip", &["netns", "add", &ns]);
            run(
                "ip",
                &[
                    "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
                ],
            );
            run("ip", &["link", "set", &veth, "master", &bridge, "up"]);
            let cidr = format!("{}/24", net.host(i));
            run("ip", &["-n", &ns, "addr", "add", &cidr, "dev", "eth0"]);
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
            run("ip", &["-n", &ns, "link", "set", "lo", "up"]);
            let size = format!("size={disk_bytes}");
            let dir = net.data_dirs[i].to_string_lossy().into_owned();
            run("mount", &["-t", "tmpfs", "-o", &size, "tmpfs", &dir]);
            net.apply_rules(i, &Rules::default());
        }
        for from in 0..n {
            for to in (0..n).filter(|&to| to != from) {
                for port in [KAFKA_PORT, RAFT_PORT] {
                    let target = std::net::SocketAddr::from((net.host(to), port));
                    let proxy = DelayProxy::start(net.gateway(), target);
                    net.proxies.insert((from, to, port), proxy);
                }
            }
        }
        net
    }

    fn bridge(&self) -> String {
        format!("{}b", self.tag)
    }

    /// Node `i`'s network namespace.
    pub fn netns(&self, i: usize) -> String {
        format!("{}n{i}", self.tag)
    }

    fn veth(&self, i: usize) -> String {
        format!("{}v{i}", self.tag)
    }

    /// Node `i`'s address.
    pub fn host(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 199, self.subnet, i as u8 + 1)
    }

    /// This process's address on the bridge (where clients run).
    fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 199, self.subnet, 254)
    }

    /// Starts `n` runnel nodes, one per namespace, as one cluster with `settings` besides its
    /// own; returns when every node is registered.
    pub fn start_cluster(&self, settings: &[&str]) -> Cluster {
        let voters = (0..self.n)
            .map(|i| format!("{i}@{}:{RAFT_PORT}", self.host(i)))
            .collect::<Vec<_>>()
            .join(",");
        let nodes = (0..self.n)
            .map(|i| {
                let mut all: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
                all.push(format!("node.id={i}"));
                all.push(format!("controller.quorum.voters={voters}"));
                all.push(format!("metadata.log.dir={}", self.meta_dirs[i].display()));
                Runnel::start_in(
                    Some(&self.netns(i)),
                    self.host(i),
                    self.data_dirs[i].clone(),
                    KAFKA_PORT,
                    ADMIN_PORT,
                    &all,
                )
            })
            .collect();
        let cluster = Cluster::from_nodes(nodes);
        cluster.wait_for(Duration::from_secs(30), "every node registered", |c| {
            c.describe_brokers() == self.n
        });
        cluster
    }

    fn apply_rules(&self, i: usize, rules: &Rules) {
        let mut input = String::new();
        let mut output = String::new();
        for &peer in &rules.all {
            let ip = self.host(peer);
            input.push_str(&format!("    ip saddr {ip} drop\n"));
            output.push_str(&format!("    ip daddr {ip} drop\n"));
        }
        for &peer in &rules.inbound {
            input.push_str(&format!("    ip saddr {} drop\n", self.host(peer)));
        }
        for &peer in &rules.raft {
            let ip = self.host(peer);
            for port in ["dport", "sport"] {
                input.push_str(&format!("    ip saddr {ip} tcp {port} {RAFT_PORT} drop\n"));
                output.push_str(&format!("    ip daddr {ip} tcp {port} {RAFT_PORT} drop\n"));
            }
        }
        let mut nat = String::new();
        for &peer in &rules.slow {
            let ip = self.host(peer);
            for port in [KAFKA_PORT, RAFT_PORT] {
                if let Some(proxy) = self.proxies.get(&(i, peer, port)) {
                    nat.push_str(&format!(
                        "    ip daddr {ip} tcp dport {port} dnat to {}:{}\n",
                        self.gateway(),
                        proxy.port
                    ));
                }
            }
            // Connections opened before the rule still go straight to the peer (DNAT only
            // rewrites new ones, whose packets then carry the proxy's address): they are cut,
            // and their reconnection takes the proxy.
            output.push_str(&format!(
                "    ip daddr {ip} tcp dport {{ {KAFKA_PORT}, {RAFT_PORT} }} drop\n"
            ));
        }
        let text = format!(
            "table inet nemesis\ndelete table inet nemesis\ntable ip nemesis_nat\ndelete table ip nemesis_nat\ntable inet nemesis {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n{input}  }}\n  chain output {{\n    type filter hook output priority 0; policy accept;\n{output}  }}\n}}\ntable ip nemesis_nat {{\n  chain output {{\n    type nat hook output priority -100; policy accept;\n{nat}  }}\n}}\n"
        );
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.netns(i), "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nft");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("nft rules");
        let out = child.wait_with_output().expect("nft");
        assert!(
            out.status.success(),
            "nft: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn change(&self, i: usize, edit: impl FnOnce(&mut Rules)) {
        let mut all = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        edit(&mut all[i]);
        let rules = all[i].clone();
        drop(all);
        self.apply_rules(i, &rules);
    }

    /// Drops every packet between the nodes of `a` and those of `b`, both ways.
    pub fn partition(&self, a: &[usize], b: &[usize]) {
        for &x in a {
            self.change(x, |r| r.all.extend(b));
        }
        for &y in b {
            self.change(y, |r| r.all.extend(a));
        }
    }

    /// Node `to` no longer receives anything node `from` sends (`from` still hears `to`).
    pub fn one_way(&self, from: usize, to: usize) {
        self.change(to, |r| {
            r.inbound.insert(from);
        });
    }

    /// Cuts node `i`'s metadata quorum traffic with every other node; replication and clients
    /// still pass.
    pub fn isolate_from_quorum(&self, i: usize) {
        let others: Vec<usize> = (0..self.n).filter(|&j| j != i).collect();
        self.change(i, |r| r.raft.extend(&others));
        for j in others {
            self.change(j, |r| {
                r.raft.insert(i);
            });
        }
    }

    /// Delays the traffic between nodes `a` and `b` by `delay_ms` plus up to `jitter_ms` each
    /// way (in order, as TCP delivers): their connections are re-made through the proxies.
    /// This kernel has no netem, so the delay is the test's own.
    pub fn slow(&self, a: usize, b: usize, delay_ms: u64, jitter_ms: u64) {
        for (&(from, to, _), proxy) in &self.proxies {
            if (from, to) == (a, b) || (from, to) == (b, a) {
                proxy.set_delay(delay_ms, jitter_ms);
            }
        }
        self.change(a, |r| {
            r.slow.insert(b);
        });
        self.change(b, |r| {
            r.slow.insert(a);
        });
    }

    /// Removes every rule, and closes every proxied connection (nodes reconnect directly, so a
    /// later partition's rules, which match node addresses, cut them).
    pub fn heal(&self) {
        for i in 0..self.n {
            self.change(i, |r| *r = Rules::default());
        }
        for proxy in self.proxies.values() {
            proxy.set_delay(0, 0);
            proxy.close_all();
        }
    }

    /// Fills node `i`'s `log.dirs` volume to the last byte.
    pub fn fill_disk(&self, i: usize) {
        use std::io::Write;
        let path = self.filler(i);
        let Ok(mut file) = std::fs::File::create(&path) else {
            return; // already full
        };
        let block = vec![0u8; 1 << 20];
        while file.write_all(&block).is_ok() {}
        let small = vec![0u8; 512];
        while file.write_all(&small).is_ok() {}
        while file.write_all(&[0]).is_ok() {}
    }

    /// Frees what [`Net::fill_disk`] took.
    pub fn free_disk(&self, i: usize) {
        let _ = std::fs::remove_file(self.filler(i));
    }

    fn filler(&self, i: usize) -> PathBuf {
        self.data_dirs[i].join(".nemesis-filler")
    }

    fn teardown(&self) {
        for i in 0..self.n {
            run_quiet("umount", &["-l", &self.data_dirs[i].to_string_lossy()]);
            run_quiet("ip", &["netns", "del", &self.netns(i)]);
            run_quiet("ip", &["link", "del", &self.veth(i)]);
        }
        run_quiet("ip", &["link", "del", &self.bridge()]);
    }
}

/// Removes namespaces, links and mounts left by runs whose process is gone (killed before
/// their `Drop` ran): their names carry the pid (`rn<pid>...`).
fn sweep_stale() {
    // Only names that are ours (`rn` then a pid) and whose process is gone; anything else
    // that happens to start with `rn` (a host's `rndis0`) is left alone.
    let stale = |tag: &str| {
        tag.strip_prefix("rn")
            .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
    };
    let listed = |args: &[&str]| -> Vec<String> {
        Command::new("ip")
            .args(args)
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter_map(|l| {
                        let name = l.split_whitespace().next()?;
                        Some(name.trim_end_matches(':').split('@').next()?.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    for ns in listed(&["netns", "list"]) {
        if stale(&ns) {
            run_quiet("ip", &["netns", "del", &ns]);
        }
    }
    for link in listed(&["-br", "link", "show"]) {
        if stale(&link) {
            run_quiet("ip", &["link", "del", &link]);
        }
    }
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    for line in mounts.lines() {
        let Some(point) = line.split_whitespace().nth(1) else {
            continue;
        };
        // runnel-test-nemesis-data-<i>-<pid>-<n>
        let pid = point
            .rsplit('/')
            .next()
            .and_then(|n| n.strip_prefix("runnel-test-nemesis-data-"))
            .and_then(|rest| rest.split('-').nth(1))
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            run_quiet("umount", &["-l", point]);
            let _ = std::fs::remove_dir_all(point);
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for proxy in self.proxies.values() {
            proxy.stop();
        }
        self.teardown();
        for dir in self.data_dirs.iter().chain(&self.meta_dirs) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A TCP proxy that delays what it forwards: each chunk leaves `delay` plus a random part of
/// `jitter` after it arrived, never before the chunk ahead of it (TCP's order). Listens on an
/// ephemeral port of `bind`; forwards to `target`.
struct DelayProxy {
    port: u16,
    delay: Arc<(AtomicU64, AtomicU64)>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    stopped: Arc<AtomicBool>,
}

impl DelayProxy {
    fn start(bind: Ipv4Addr, target: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind((bind, 0)).expect("a proxy port on the bridge");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("proxy address").port();
        let proxy = Self {
            port,
            delay: Arc::new((AtomicU64::new(0), AtomicU64::new(0))),
            connections: Arc::new(Mutex::new(Vec::new())),
            stopped: Arc::new(AtomicBool::new(false)),
        };
        let (delay, connections, stopped) = (
            proxy.delay.clone(),
            proxy.connections.clone(),
            proxy.stopped.clone(),
        );
        std::thread::spawn(move || {
            let mut seed = u64::from(port);
            while !stopped.load(Ordering::Relaxed) {
                let Ok((inbound, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = inbound.set_nonblocking(false);
                let Ok(outbound) = TcpStream::connect_timeout(&target, Duration::from_secs(2))
                else {
                    continue;
                };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let mut held = connections.lock().unwrap_or_else(|p| p.into_inner());
                for s in [&inbound, &outbound] {
                    if let Ok(clone) = s.try_clone() {
                        held.push(clone);
                    }
                }
                drop(held);
                for (from, to) in [(&inbound, &outbound), (&outbound, &inbound)] {
                    if let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) {
                        seed = seed.wrapping_add(1);
                        pipe_delayed(from, to, delay.clone(), seed);
                    }
                }
            }
        });
        proxy
    }

    fn set_delay(&self, delay_ms: u64, jitter_ms: u64) {
        self.delay.0.store(delay_ms, Ordering::Relaxed);
        self.delay.1.store(jitter_ms, Ordering::Relaxed);
    }

    /// Closes every connection it carries.
    fn close_all(&self) {
        let mut held = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        for s in held.drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.close_all();
    }
}

/// Copies `from` to `to`, each chunk held back by the proxy's delay and jitter.
fn pipe_delayed(
    mut from: TcpStream,
    mut to: TcpStream,
    delay: Arc<(AtomicU64, AtomicU64)>,
    seed: u64,
) {
    use std::io::{Read, Write};
    // Bounded: a sender outpacing the delay waits, as it would behind a slow link.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Instant, Vec<u8>)>(64);
    std::thread::spawn(move || {
        let mut rng = Rng::new(seed);
        let mut last = Instant::now();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let jitter = delay.1.load(Ordering::Relaxed);
            let wait = delay.0.load(Ordering::Relaxed) + rng.below(jitter + 1);
            last = last.max(Instant::now() + Duration::from_millis(wait));
            if tx.send((last, buf[..n].to_vec())).is_err() {
                break;
            }
        }
        let _ = from.shutdown(std::net::Shutdown::Both);
    });
    std::thread::spawn(move || {
        for (at, bytes) in rx {
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Both);
    });
}

/// One kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// SIGKILL, then a restart.
    Kill,
    /// SIGSTOP for longer than the broker session, then SIGCONT.
    Pause,
    /// SIGTERM (controlled shutdown), then a restart.
    Terminate,
    /// One node cut off from the others, both ways (clients still reach it).
    Isolate,
    /// Two nodes cannot talk; the third talks to both (a bridge).
    Bridge,
    /// One node stops receiving from another.
    OneWay,
    /// One node cut from the metadata quorum only.
    QuorumOnly,
    /// One node's `log.dirs` full.
    DiskFull,
    /// The link between two nodes delayed, with jitter (through the test's proxies).
    Slow,
}

impl FaultKind {
    /// Every kind, in a fixed order.
    pub const ALL: [FaultKind; 9] = [
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Terminate,
        FaultKind::Isolate,
        FaultKind::Bridge,
        FaultKind::OneWay,
        FaultKind::QuorumOnly,
        FaultKind::DiskFull,
        FaultKind::Slow,
    ];
}

/// One scheduled fault: what, on which nodes, for how long, and the rest after healing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The kind.
    pub kind: FaultKind,
    /// The node it hits.
    pub node: usize,
    /// A second node (the other side of a bridge or one-way partition).
    pub other: usize,
    /// How long it lasts, in milliseconds.
    pub hold_ms: u64,
    /// How long the cluster runs healed afterwards, in milliseconds.
    pub rest_ms: u64,
    /// `Slow`: the added delay each way, in milliseconds (and up to as much again of jitter).
    pub delay_ms: u64,
}

/// The faults a seed chooses for `seconds` of running against `n` nodes: rounds in which every
/// kind comes once, in an order the seed shuffles.
pub fn schedule(seed: u64, seconds: u64, n: usize, session_timeout_ms: u64) -> Vec<Fault> {
    let mut rng = Rng::new(seed);
    let mut faults = Vec::new();
    let mut total_ms = 0;
    'rounds: loop {
        let mut kinds = FaultKind::ALL.to_vec();
        for i in (1..kinds.len()).rev() {
            kinds.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for kind in kinds {
            let node = rng.below(n as u64) as usize;
            let other = (node + 1 + rng.below(n as u64 - 1) as usize) % n;
            let hold_ms = match kind {
                // Past the session, so the controller fences the paused node.
                FaultKind::Pause => session_timeout_ms + 500 + rng.below(2_000),
                _ => 1_500 + rng.below(3_500),
            };
            let rest_ms = 1_500 + rng.below(2_500);
            let delay_ms = if kind == FaultKind::Slow {
                50 + rng.below(450)
            } else {
                0
            };
            total_ms += hold_ms + rest_ms;
            if total_ms > seconds * 1_000 {
                break 'rounds;
            }
            faults.push(Fault {
                kind,
                node,
                other,
                hold_ms,
                rest_ms,
                delay_ms,
            });
        }
    }
    faults
}

/// Carries out `fault` on `cluster`/`net` and heals it after its hold time. Returns what went
/// wrong on the way (a SIGTERM that did not end in a clean exit within 20 s).
pub fn inject(fault: &Fault, net: &Net, cluster: &mut Cluster) -> Option<String> {
    let hold = Duration::from_millis(fault.hold_ms);
    let node = fault.node;
    match fault.kind {
        FaultKind::Kill => {
            cluster.nodes[node].kill();
            std::thread::sleep(hold);
            cluster.nodes[node].restart();
        }
        FaultKind::Pause => {
            cluster.nodes[node].pause(true);
            std::thread::sleep(hold);
            cluster.nodes[node].pause(false);
        }
        FaultKind::Terminate => {
            let clean = cluster.nodes[node].terminate();
            std::thread::sleep(hold);
            cluster.nodes[node].restart();
            if !clean {
                return Some(format!(
                    "node {node} did not exit cleanly within 20 s of SIGTERM"
                ));
            }
        }
        FaultKind::Isolate => {
            let others: Vec<usize> = (0..cluster.nodes.len()).filter(|&j| j != node).collect();
            net.partition(&[node], &others);
            std::thread::sleep(hold);
            net.heal();
        }
        FaultKind::Bridge => {
            net.partition(&[node], &[fault.other]);
            std::thread::sleep(hold);
            net.heal();
        }
        FaultKind::OneWay => {
            net.one_way(fault.other, node);
            std::thread::sleep(hold);
            net.heal();
        }
        FaultKind::QuorumOnly => {
            net.isolate_from_quorum(node);
            std::thread::sleep(hold);
            net.heal();
        }
        FaultKind::DiskFull => {
            net.fill_disk(node);
            std::thread::sleep(hold);
            net.free_disk(node);
        }
        FaultKind::Slow => {
            net.slow(node, fault.other, fault.delay_ms, fault.delay_ms);
            std::thread::sleep(hold);
            net.heal();
        }
    }
    None
}

/// Something a client saw that Kafka's guarantees rule out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// An acknowledged record is not in the log.
    Lost {
        /// The record.
        value: String,
        /// Where it was acknowledged.
        partition: i32,
        /// At which offset.
        offset: i64,
    },
    /// An acknowledged record is in the log at another place.
    Moved {
        /// The record.
        value: String,
        /// Where it was acknowledged.
        acknowledged: (i32, i64),
        /// Where it is.
        found: (i32, i64),
    },
    /// A record is in the log more than once.
    Duplicated {
        /// The record.
        value: String,
        /// Every place it is.
        at: Vec<(i32, i64)>,
    },
    /// Two records of one producer and partition are in the log out of their send order.
    Reordered {
        /// The partition.
        partition: i32,
        /// The earlier-sent record.
        first: String,
        /// The later-sent record that sits before it.
        second: String,
    },
    /// A record no producer sent.
    Phantom {
        /// The record.
        value: String,
    },
    /// A consumer read something the final log does not hold at that offset.
    DirtyRead {
        /// The member.
        member: String,
        /// The partition.
        partition: i32,
        /// The offset read.
        offset: i64,
        /// The value read.
        value: String,
    },
    /// A member's commits for a partition went backwards within one assignment.
    CommitBackwards {
        /// The member.
        member: String,
        /// The partition.
        partition: i32,
        /// The earlier commit.
        from: i64,
        /// The later, smaller one.
        to: i64,
    },
    /// An acknowledged commit is above what the group has committed in the end.
    CommitLost {
        /// The partition.
        partition: i32,
        /// The largest acknowledged commit.
        acknowledged: i64,
        /// The group's committed offset in the end (-1: none).
        committed: i64,
    },
    /// The high watermark a consumer saw went down.
    HighWatermarkBackwards {
        /// The member.
        member: String,
        /// The partition.
        partition: i32,
        /// The earlier value.
        from: i64,
        /// The later, smaller one.
        to: i64,
    },
    /// A member's first read of a partition after an assignment is below a commit the
    /// coordinator had acknowledged before that assignment: an acknowledged commit was lost
    /// (or not served) at the time.
    ReadBelowCommit {
        /// The member.
        member: String,
        /// The partition.
        partition: i32,
        /// Where it started reading.
        first_read: i64,
        /// The acknowledged commit it should have started at or after.
        committed: i64,
    },
    /// A partition could not be read to its end after the run, or its read has a hole.
    Unreadable,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// What the checker found.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    /// Records acknowledged.
    pub acknowledged: usize,
    /// Records whose send failed (their fate unknown to the producer).
    pub failed: usize,
    /// Records in the final log.
    pub in_log: usize,
    /// Records consumers read.
    pub read: usize,
    /// Acknowledged commits.
    pub commits: usize,
    /// When each lost record was acknowledged (wall clock, ms since the Unix epoch).
    pub lost_at_ms: Vec<u64>,
    /// Everything wrong.
    pub violations: Vec<Violation>,
}

impl Verdict {
    /// Acknowledged records missing from the log.
    pub fn lost(&self) -> usize {
        self.violations
            .iter()
            .filter(|v| matches!(v, Violation::Lost { .. }))
            .count()
    }
}

/// One history line (a JSON object per line).
fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// `NAME-SEQ` → (`NAME`, `SEQ`).
fn sequence(value: &str) -> Option<(&str, u64)> {
    let (name, seq) = value.rsplit_once('-')?;
    Some((name, seq.parse().ok()?))
}

/// Checks one topic's histories: the producers' files, the consumers' files and the final read
/// (`nemesis.py readall`). Every finding is in the verdict; for an idempotent acks=all topic
/// each one is a broken guarantee, for an acks=1 topic the losses are what the caller counts.
pub fn check(producers: &[PathBuf], consumers: &[PathBuf], final_read: &Path) -> Verdict {
    let mut verdict = Verdict::default();
    let final_json: serde_json::Value = std::fs::read_to_string(final_read)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    let mut log: BTreeMap<(i32, i64), String> = BTreeMap::new();
    let mut places: BTreeMap<String, Vec<(i32, i64)>> = BTreeMap::new();
    let Some(records) = final_json["records"].as_object() else {
        verdict.violations.push(Violation::Unreadable);
        return verdict;
    };
    for (partition, list) in records {
        let partition: i32 = partition.parse().unwrap_or(-1);
        let high = final_json["high"][partition.to_string()]
            .as_i64()
            .unwrap_or(0);
        let list = list.as_array().cloned().unwrap_or_default();
        // Read to the end, and without a hole: these topics are neither compacted nor
        // transactional, so every offset holds one record, and a hole could hide a copy.
        let offsets: Vec<i64> = list.iter().filter_map(|r| r[0].as_i64()).collect();
        let holes = offsets.windows(2).any(|w| w[1] != w[0] + 1);
        if holes || offsets.last().map_or(high > 0, |o| o + 1 < high) {
            verdict.violations.push(Violation::Unreadable);
        }
        for record in list {
            let (Some(offset), Some(value)) = (record[0].as_i64(), record[1].as_str()) else {
                continue;
            };
            log.insert((partition, offset), value.to_string());
            places
                .entry(value.to_string())
                .or_default()
                .push((partition, offset));
        }
    }
    verdict.in_log = log.len();
    // Every record sent, acknowledged or not.
    let mut sent: BTreeSet<String> = BTreeSet::new();
    for path in producers {
        for line in lines(path) {
            let Some(value) = line["v"].as_str() else {
                continue;
            };
            sent.insert(value.to_string());
            let partition = line["p"].as_i64().unwrap_or(-1) as i32;
            // A report without an offset (librdkafka's -1001 when the broker answered
            // DUPLICATE_SEQUENCE) is acknowledged at an unknown place.
            if line["o"].as_i64().is_some_and(|o| o < 0) {
                verdict.acknowledged += 1;
                if places.get(value).is_none_or(Vec::is_empty) {
                    verdict.lost_at_ms.push(line["t"].as_u64().unwrap_or(0));
                    verdict.violations.push(Violation::Lost {
                        value: value.to_string(),
                        partition,
                        offset: -1,
                    });
                }
                continue;
            }
            match line["o"].as_i64() {
                Some(offset) => {
                    verdict.acknowledged += 1;
                    match places.get(value).map(Vec::as_slice) {
                        None | Some([]) => {
                            verdict.lost_at_ms.push(line["t"].as_u64().unwrap_or(0));
                            verdict.violations.push(Violation::Lost {
                                value: value.to_string(),
                                partition,
                                offset,
                            })
                        }
                        Some(found) if !found.contains(&(partition, offset)) => {
                            verdict.violations.push(Violation::Moved {
                                value: value.to_string(),
                                acknowledged: (partition, offset),
                                found: found[0],
                            })
                        }
                        Some(_) => {}
                    }
                }
                None => verdict.failed += 1,
            }
        }
    }
    for (value, at) in &places {
        if at.len() > 1 {
            verdict.violations.push(Violation::Duplicated {
                value: value.clone(),
                at: at.clone(),
            });
        }
        if !sent.contains(value) {
            verdict.violations.push(Violation::Phantom {
                value: value.clone(),
            });
        }
    }
    // Per partition and producer, sequences rise with offsets.
    let mut last: BTreeMap<(i32, String), (u64, String)> = BTreeMap::new();
    for ((partition, _), value) in &log {
        let Some((name, seq)) = sequence(value) else {
            continue;
        };
        let key = (*partition, name.to_string());
        if let Some((previous, previous_value)) = last.get(&key)
            && *previous > seq
        {
            verdict.violations.push(Violation::Reordered {
                partition: *partition,
                first: value.clone(),
                second: previous_value.clone(),
            });
        }
        last.insert(key, (seq, value.clone()));
    }
    // Consumers: what they read is in the log at that offset; commits and high watermarks only
    // rise within an assignment; after an assignment a member starts at or after every commit
    // acknowledged before it.
    let mut acknowledged_commits: BTreeMap<i32, i64> = BTreeMap::new();
    let mut commit_times: Vec<(u64, i32, i64)> = Vec::new();
    for path in consumers {
        for line in lines(path) {
            if let (Some(commit), Some(t)) = (line["commit"].as_object(), line["t"].as_u64()) {
                for (partition, offset) in commit {
                    if let (Ok(p), Some(o)) = (partition.parse(), offset.as_i64()) {
                        commit_times.push((t, p, o));
                    }
                }
            }
        }
    }
    let committed_before = |t: u64, partition: i32| {
        commit_times
            .iter()
            .filter(|(at, p, _)| *at < t && *p == partition)
            .map(|(_, _, o)| *o)
            .max()
    };
    for path in consumers {
        let member = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut commits: BTreeMap<(i64, i32), i64> = BTreeMap::new();
        let mut high: BTreeMap<i32, i64> = BTreeMap::new();
        let mut assigned_at: BTreeMap<i64, u64> = BTreeMap::new();
        let mut started: BTreeSet<(i64, i32)> = BTreeSet::new();
        for line in lines(path) {
            let epoch = line["epoch"].as_i64().unwrap_or(0);
            if line["assign"].is_array() {
                assigned_at.insert(epoch, line["t"].as_u64().unwrap_or(0));
            } else if let Some(read) = line["read"].as_array() {
                verdict.read += 1;
                let partition = read[0].as_i64().unwrap_or(-1) as i32;
                let offset = read[1].as_i64().unwrap_or(-1);
                let value = read[2].as_str().unwrap_or_default();
                if started.insert((epoch, partition))
                    && let Some(&at) = assigned_at.get(&epoch)
                    && let Some(committed) = committed_before(at, partition)
                    && offset < committed
                {
                    verdict.violations.push(Violation::ReadBelowCommit {
                        member: member.clone(),
                        partition,
                        first_read: offset,
                        committed,
                    });
                }
                if log.get(&(partition, offset)).map(String::as_str) != Some(value) {
                    verdict.violations.push(Violation::DirtyRead {
                        member: member.clone(),
                        partition,
                        offset,
                        value: value.to_string(),
                    });
                }
            } else if let Some(commit) = line["commit"].as_object() {
                verdict.commits += 1;
                for (partition, offset) in commit {
                    let partition: i32 = partition.parse().unwrap_or(-1);
                    let offset = offset.as_i64().unwrap_or(-1);
                    let best = acknowledged_commits.entry(partition).or_insert(-1);
                    *best = (*best).max(offset);
                    if let Some(&previous) = commits.get(&(epoch, partition))
                        && previous > offset
                    {
                        verdict.violations.push(Violation::CommitBackwards {
                            member: member.clone(),
                            partition,
                            from: previous,
                            to: offset,
                        });
                    }
                    commits.insert((epoch, partition), offset);
                }
            } else if let Some(hw) = line["hw"].as_array() {
                let partition = hw[0].as_i64().unwrap_or(-1) as i32;
                let value = hw[1].as_i64().unwrap_or(-1);
                if let Some(&previous) = high.get(&partition)
                    && previous > value
                {
                    verdict.violations.push(Violation::HighWatermarkBackwards {
                        member: member.clone(),
                        partition,
                        from: previous,
                        to: value,
                    });
                }
                high.insert(partition, value);
            }
        }
    }
    for (partition, acknowledged) in acknowledged_commits {
        let committed = final_json["committed"][partition.to_string()]
            .as_i64()
            .unwrap_or(-1);
        if committed < acknowledged {
            verdict.violations.push(Violation::CommitLost {
                partition,
                acknowledged,
                committed,
            });
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// The checker fails on each kind of wrong history it is for (it is not a test that
    /// cannot fail).
    #[test]
    fn the_checker_finds_every_kind_of_violation() {
        let dir = temp_dir("nemesis-checker");
        let producer = write(
            &dir,
            "a.jsonl",
            "{\"v\":\"a-0\",\"p\":0,\"o\":0}\n{\"v\":\"a-1\",\"p\":0,\"o\":1}\n{\"v\":\"a-2\",\"p\":0,\"o\":2}\n{\"v\":\"a-3\",\"p\":0,\"e\":\"_MSG_TIMED_OUT\"}\n{\"v\":\"a-4\",\"p\":1,\"o\":0}\n",
        );
        let consumer = write(
            &dir,
            "m1.jsonl",
            "{\"assign\":[0],\"epoch\":1}\n{\"read\":[0,0,\"a-0\"],\"epoch\":1}\n{\"read\":[0,5,\"zz-0\"],\"epoch\":1}\n{\"commit\":{\"0\":3},\"epoch\":1,\"t\":1000}\n{\"commit\":{\"0\":1},\"epoch\":1}\n{\"hw\":[0,3]}\n{\"hw\":[0,2]}\n",
        );
        // a-1 lost, a-2 at offset 1 (moved, and before... a-0 at 2: reordered), a-0 twice,
        // x-9 never sent; the group's commit of 3 came back as 2.
        let final_read = write(
            &dir,
            "final.json",
            "{\"records\":{\"0\":[[0,\"a-0\"],[1,\"a-2\"],[2,\"a-0\"],[3,\"x-9\"]],\"1\":[[0,\"a-4\"]]},\"high\":{\"0\":4,\"1\":1},\"committed\":{\"0\":2}}",
        );
        // m2 is given partition 0 after m1's commit of 3 was acknowledged, yet starts at 1.
        let second = write(
            &dir,
            "m2.jsonl",
            "{\"assign\":[0],\"epoch\":1,\"t\":2000}\n{\"read\":[0,1,\"a-2\"],\"epoch\":1}\n",
        );
        let verdict = check(&[producer], &[consumer, second], &final_read);
        let _ = std::fs::remove_dir_all(&dir);
        let has = |f: fn(&Violation) -> bool| verdict.violations.iter().any(f);
        assert!(has(|v| matches!(
            v,
            Violation::ReadBelowCommit {
                first_read: 1,
                committed: 3,
                ..
            }
        )));
        assert_eq!(verdict.acknowledged, 4);
        assert_eq!(verdict.failed, 1);
        assert_eq!(verdict.lost(), 1, "{:?}", verdict.violations);
        assert!(has(
            |v| matches!(v, Violation::Moved { value, .. } if value == "a-2")
        ));
        assert!(has(
            |v| matches!(v, Violation::Duplicated { value, .. } if value == "a-0")
        ));
        assert!(has(|v| matches!(v, Violation::Reordered { .. })));
        assert!(has(
            |v| matches!(v, Violation::Phantom { value } if value == "x-9")
        ));
        assert!(has(|v| matches!(v, Violation::DirtyRead { offset: 5, .. })));
        assert!(has(|v| matches!(
            v,
            Violation::CommitBackwards { from: 3, to: 1, .. }
        )));
        assert!(has(|v| matches!(
            v,
            Violation::CommitLost {
                acknowledged: 3,
                committed: 2,
                ..
            }
        )));
        assert!(has(|v| matches!(
            v,
            Violation::HighWatermarkBackwards { from: 3, to: 2, .. }
        )));
    }

    /// A clean history has no violation.
    #[test]
    fn a_clean_history_passes() {
        let dir = temp_dir("nemesis-checker-clean");
        let producer = write(
            &dir,
            "a.jsonl",
            "{\"v\":\"a-0\",\"p\":0,\"o\":0}\n{\"v\":\"a-1\",\"p\":0,\"e\":\"_MSG_TIMED_OUT\"}\n{\"v\":\"a-2\",\"p\":0,\"o\":2}\n",
        );
        let consumer = write(
            &dir,
            "m1.jsonl",
            "{\"read\":[0,0,\"a-0\"],\"epoch\":1}\n{\"commit\":{\"0\":1},\"epoch\":1}\n{\"hw\":[0,1]}\n",
        );
        let final_read = write(
            &dir,
            "final.json",
            "{\"records\":{\"0\":[[0,\"a-0\"],[1,\"a-1\"],[2,\"a-2\"]]},\"high\":{\"0\":3},\"committed\":{\"0\":1}}",
        );
        let verdict = check(&[producer], &[consumer], &final_read);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(verdict.violations, Vec::new());
        assert_eq!(
            (verdict.acknowledged, verdict.failed, verdict.in_log),
            (2, 1, 3)
        );
    }

    /// A final read with a hole is a violation even when every acknowledged record was found:
    /// the hole could hold a second copy.
    #[test]
    fn a_hole_in_the_final_read_is_a_violation() {
        let dir = temp_dir("nemesis-checker-hole");
        let producer = write(
            &dir,
            "a.jsonl",
            "{\"v\":\"a-0\",\"p\":0,\"o\":0}\n{\"v\":\"a-2\",\"p\":0,\"o\":2}\n",
        );
        let final_read = write(
            &dir,
            "final.json",
            "{\"records\":{\"0\":[[0,\"a-0\"],[2,\"a-2\"]]},\"high\":{\"0\":3},\"committed\":{}}",
        );
        let verdict = check(&[producer], &[], &final_read);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(verdict.violations, vec![Violation::Unreadable]);
    }

    /// The delaying proxy holds every chunk back at least the delay, each way, and keeps the
    /// bytes in order under jitter.
    #[test]
    fn the_delay_proxy_delays_in_order() {
        use std::io::{Read, Write};
        let echo = TcpListener::bind("127.0.0.1:0").expect("echo");
        let target = echo.local_addr().expect("addr");
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = echo.accept() {
                let mut buf = [0u8; 64];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        });
        let proxy = DelayProxy::start(Ipv4Addr::LOCALHOST, target);
        proxy.set_delay(150, 100);
        let mut client = TcpStream::connect((Ipv4Addr::LOCALHOST, proxy.port)).expect("proxy");
        let started = Instant::now();
        let sent: Vec<u8> = (0..40u8).collect();
        for b in &sent {
            client.write_all(&[*b]).expect("write");
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut got = vec![0u8; sent.len()];
        client.read_exact(&mut got).expect("read");
        assert_eq!(got, sent, "in order");
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "delayed both ways"
        );
        proxy.stop();
    }

    /// The schedule is the seed's: the same seed, the same faults; every kind in each round.
    #[test]
    fn a_seed_chooses_the_schedule() {
        let a = schedule(7, 150, 3, 3_000);
        assert_eq!(a, schedule(7, 150, 3, 3_000));
        assert_ne!(a, schedule(8, 150, 3, 3_000));
        assert!(a.len() >= 20, "{} faults", a.len());
        for kind in FaultKind::ALL {
            assert!(a.iter().any(|f| f.kind == kind), "{kind:?} missing");
        }
        assert!(
            a.iter()
                .all(|f| f.node != f.other && f.node < 3 && f.other < 3)
        );
    }
}
