//! runnel-tests: tests that cross crate and process boundaries.
//!
//! This is where real Kafka clients (kcat, confluent-kafka, kafka-python, kafkajs) meet a real
//! `runnel` process. [`Runnel`] starts the broker binary on free loopback ports with its own
//! data directory, and stops it with SIGTERM or SIGKILL; [`run_client`] runs a client script
//! with a time bound; [`Peer`] starts another Kafka-compatible broker (tansu) that the CLI is
//! also run against. Later issues add the browser and simulator suites here.
//!
//! The broker binary is `target/<profile>/runnel` (the test command builds it first), or the
//! path in `RUNNEL_BIN`.

pub mod nemesis;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a broker may take to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The `runnel` binary to test.
pub fn runnel_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("RUNNEL_BIN") {
        return PathBuf::from(path);
    }
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let path = workspace_root().join("target").join(profile).join("runnel");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p runnel-node --bin runnel` (the test command does)",
        path.display()
    );
    path
}

/// A loopback port that was free a moment ago, below the kernel's ephemeral range. A port the
/// kernel hands out for `bind(0)` comes from that range, which is also where outgoing
/// connections take their source ports: a node connecting to its peers could take a port
/// picked for another node before that node listened on it (a cluster test once failed so:
/// "cannot listen on ...: Address already in use"). Each test process walks its own sequence
/// from a start its pid chooses, and skips ports something holds.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let low = 10_000u32;
    let span = ephemeral_low.saturating_sub(low).max(1_000);
    let start = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = low + (start + n) % span;
        if let Ok(port) = u16::try_from(port)
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A fresh, empty directory under the system temp dir, unique to this test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "runnel-test-{name}-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A running `runnel` process.
pub struct Runnel {
    child: Option<Child>,
    /// The Kafka listener port.
    pub port: u16,
    /// The admin HTTP port.
    pub admin_port: u16,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The address it listens on (loopback, or its own address in a network namespace).
    pub host: std::net::Ipv4Addr,
    /// The network namespace it runs in (`None`: this process's own).
    netns: Option<String>,
    /// Its open-file limit (`RLIMIT_NOFILE`, soft and hard), if the test sets one.
    open_file_limit: Option<u64>,
    settings: Vec<String>,
    log: Arc<Mutex<String>>,
    /// Where the log is also written as it comes ([`Runnel::tee_log`]).
    tee: Arc<Mutex<Option<std::fs::File>>>,
}

impl Runnel {
    /// Starts a broker with a new data directory and `settings` (`key=value`, Kafka names).
    pub fn start(name: &str, settings: &[&str]) -> Self {
        Self::start_limited(name, settings, None)
    }

    /// Starts a broker like [`Runnel::start`] whose process may hold at most `limit` open files
    /// (`prlimit --nofile`, soft and hard: it cannot raise it).
    pub fn start_with_open_file_limit(name: &str, settings: &[&str], limit: u64) -> Self {
        Self::start_limited(name, settings, Some(limit))
    }

    fn start_limited(name: &str, settings: &[&str], open_file_limit: Option<u64>) -> Self {
        let mut runnel = Self {
            child: None,
            port: free_port(),
            admin_port: free_port(),
            data_dir: temp_dir(name),
            host: std::net::Ipv4Addr::LOCALHOST,
            netns: None,
            open_file_limit,
            settings: settings.iter().map(|s| s.to_string()).collect(),
            log: Arc::new(Mutex::new(String::new())),
            tee: Arc::new(Mutex::new(None)),
        };
        runnel.spawn();
        runnel
    }

    /// Starts a broker on the given ports (a cluster's nodes know each other's in advance).
    pub fn start_on(name: &str, port: u16, admin_port: u16, settings: &[String]) -> Self {
        let data_dir = temp_dir(name);
        Self::start_in(
            None,
            std::net::Ipv4Addr::LOCALHOST,
            data_dir,
            port,
            admin_port,
            settings,
        )
    }

    /// Starts a broker inside the network namespace `netns` (`ip netns exec`), listening on
    /// `host`, its address there; the process is still this one's child (ip execs runnel), so
    /// signals reach the broker itself.
    pub fn start_in(
        netns: Option<&str>,
        host: std::net::Ipv4Addr,
        data_dir: PathBuf,
        port: u16,
        admin_port: u16,
        settings: &[String],
    ) -> Self {
        let mut runnel = Self {
            child: None,
            port,
            admin_port,
            data_dir,
            host,
            netns: netns.map(str::to_string),
            open_file_limit: None,
            settings: settings.to_vec(),
            log: Arc::new(Mutex::new(String::new())),
            tee: Arc::new(Mutex::new(None)),
        };
        runnel.spawn();
        runnel
    }

    /// `<host>:<port>`, for clients' bootstrap servers.
    pub fn bootstrap(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Whether the process is running (started and not killed or stopped by this handle).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn spawn(&mut self) {
        let mut command = match &self.netns {
            Some(netns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", netns]).arg(runnel_binary());
                die_with_parent(&mut c);
                c
            }
            None => match self.open_file_limit {
                // prlimit sets the limit and execs runnel: the child is still the broker.
                Some(limit) => {
                    let mut c = Command::new("prlimit");
                    c.arg(format!("--nofile={limit}:{limit}"))
                        .arg(runnel_binary());
                    c
                }
                None => Command::new(runnel_binary()),
            },
        };
        // `listeners` among the settings (several listeners, SSL) wins over `--listen`; the
        // first listener's port is then `port`.
        if !self.settings.iter().any(|s| s.starts_with("listeners=")) {
            command
                .arg("--listen")
                .arg(format!("{}:{}", self.host, self.port));
        }
        command
            .arg("--admin")
            .arg(format!("{}:{}", self.host, self.admin_port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for setting in &self.settings {
            command.arg("--set").arg(setting);
        }
        let mut child = command.spawn().expect("start runnel");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = self.log.clone();
        let tee = self.tee.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(file) = tee.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                    let _ = writeln!(file, "{line}");
                }
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from((self.host, self.port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("runnel exited with {status} at start:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "runnel did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Also writes the broker's log to `path` as it comes (what it logged so far first, then
    /// every line, across restarts), so a test that fails part way still leaves it.
    pub fn tee_log(&self, path: &Path) {
        if let Ok(mut file) = std::fs::File::create(path) {
            let _ = file.write_all(self.log().as_bytes());
            *self.tee.lock().unwrap_or_else(|p| p.into_inner()) = Some(file);
        }
    }

    /// Everything the broker has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops with SIGTERM and waits; returns whether it exited with status 0.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        send_signal(child.id() as libc::pid_t, libc::SIGTERM);
        wait_bounded(&mut child, Duration::from_secs(20)).is_some_and(|s| s.success())
    }

    /// Kills with SIGKILL (no chance to flush) and waits.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The broker process's threads, from `/proc` (`None` when it is not running).
    pub fn threads(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|n| n.trim().parse().ok())
    }

    /// Stops (`pause`: SIGSTOP) or resumes (SIGCONT) the broker's process: it keeps its
    /// memory, sockets and files, and carries on where it was, as after a long GC pause or a
    /// stalled VM.
    pub fn pause(&self, pause: bool) {
        if let Some(child) = &self.child {
            let signal = if pause { libc::SIGSTOP } else { libc::SIGCONT };
            send_signal(child.id() as libc::pid_t, signal);
        }
    }

    /// Starts the broker again on the same ports and data directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the broker before restarting it");
        self.spawn();
    }

    /// `GET path` on the admin port; returns the body.
    pub fn admin_get(&self, path: &str) -> String {
        let mut stream = TcpStream::connect((self.host, self.admin_port)).expect("admin port");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
            .unwrap_or_default()
    }
}

impl Drop for Runnel {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Has the child started by `command` killed (SIGKILL) when the thread that starts it ends,
/// so processes of a test that is itself killed do not live on (`prctl(PR_SET_PDEATHSIG)`;
/// it survives the exec of `ip netns exec`).
pub fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    #[allow(unsafe_code)]
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2), which
    // is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

fn send_signal(pid: libc::pid_t, signal: libc::c_int) {
    // Sending a signal to our own child is safe: the pid is ours until we reap it.
    #[allow(unsafe_code)]
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, signal);
    }
}

fn wait_bounded(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the `runnel` binary as a client (`topic`, `produce`, `plugin`, ...) with `stdin`,
/// bounded by a minute; panics unless it exits 0; returns its standard output.
pub fn runnel_cli(args: &[&str], stdin: &[u8]) -> String {
    let binary = runnel_binary();
    let out = run_client(
        binary.to_str().expect("utf-8 path"),
        args,
        stdin,
        Duration::from_secs(60),
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A command for an outside client (kcat, python3, node). `cargo test` puts the build's
/// library directories on `LD_LIBRARY_PATH`, and the bench crate's build holds its own
/// librdkafka.so.1 (2.12, no zlib): without this, Debian's kcat would load that one instead
/// of the system's librdkafka 2.0.2.
pub fn client_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    command.env_remove("LD_LIBRARY_PATH");
    command
}

/// Runs `program args` with `stdin` fed in, bounded by `limit`; panics with its output if it
/// does not exit 0.
pub fn run_client(program: &str, args: &[&str], stdin: &[u8], limit: Duration) -> Output {
    run_client_with_env(program, args, &[], stdin, limit)
}

/// [`run_client`] with `env` (name, value) added to the client's environment.
pub fn run_client_with_env(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &[u8],
    limit: Duration,
) -> Output {
    let mut child = client_command(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (the test command installs it)"));
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let status = wait_bounded(&mut child, limit).expect("client status");
    let _ = writer.join();
    let output = Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    assert!(
        output.status.success(),
        "{program} {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Where the test command installs tansu, the Kafka-compatible Rust broker the CLI is also run
/// against (`TANSU_BIN` overrides it).
pub fn tansu_binary() -> PathBuf {
    let path = std::env::var_os("TANSU_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/runnel/peers/tansu-0.6.0/bin/tansu"))
        })
        .expect("TANSU_BIN or HOME is set");
    assert!(
        path.exists(),
        "{} is missing: ./scripts/test installs it (cargo install tansu@0.6.0 --locked --features dynostore --root ~/.cache/runnel/peers/tansu-0.6.0)",
        path.display()
    );
    path
}

/// Another broker's process on a loopback port, killed when dropped.
pub struct Peer {
    child: Child,
    /// Its Kafka listener port.
    pub port: u16,
}

impl Peer {
    /// Starts tansu with in-memory storage on a free port; returns once the port accepts.
    pub fn tansu() -> Self {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu_binary())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let peer = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        peer
    }

    /// `127.0.0.1:<port>`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy on loopback the test can cut: while cut, it closes its connections and
/// drops new ones at once. Stops when dropped.
pub struct Proxy {
    /// Where it listens.
    pub port: u16,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Forwards `127.0.0.1:<port>` to `127.0.0.1:<target>`.
    pub fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
        let port = listener.local_addr().expect("proxy address").port();
        listener.set_nonblocking(true).expect("non-blocking accept");
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, st) = (cut.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((inbound, _)) => {
                        if c.load(Ordering::Relaxed) {
                            continue; // dropped: the link is cut
                        }
                        let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)) else {
                            continue;
                        };
                        for (from, to) in [
                            (inbound.try_clone(), outbound.try_clone()),
                            (Ok(outbound), Ok(inbound)),
                        ] {
                            if let (Ok(from), Ok(to)) = (from, to) {
                                let (c, st) = (c.clone(), st.clone());
                                std::thread::spawn(move || pipe(from, to, &c, &st));
                            }
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self { port, cut, stop }
    }

    /// Cuts (`true`) or heals the link.
    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::Relaxed);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copies bytes one way until either side closes, the link is cut or the proxy stops.
fn pipe(mut from: TcpStream, mut to: TcpStream, cut: &AtomicBool, stop: &AtomicBool) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if cut.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
            break;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// A local cluster of `runnel` nodes, every one a metadata voter.
pub struct Cluster {
    /// The nodes, by node id.
    pub nodes: Vec<Runnel>,
    /// With [`Cluster::start_with_proxies`]: the proxy each (from, to) pair of nodes talks
    /// through, Raft and replication alike.
    links: Vec<(usize, usize, Proxy, Proxy)>,
}

impl Cluster {
    /// A cluster of nodes started elsewhere (in network namespaces, by [`nemesis::Net`]).
    pub fn from_nodes(nodes: Vec<Runnel>) -> Self {
        Self {
            nodes,
            links: Vec::new(),
        }
    }

    /// Starts `n` nodes with `settings` (Kafka names) besides the cluster's own.
    pub fn start(name: &str, n: usize, settings: &[&str]) -> Self {
        Self::start_inner(name, n, settings, false, &|_, _| Vec::new(), n)
    }

    /// Like [`Cluster::start`], with settings of each node's own from `per_node(node id, its
    /// first listener's port)` (e.g. `listeners` with a second port; the first listener must
    /// stay on that port); returns once `registered` brokers are (a node the others refuse
    /// never is).
    pub fn start_with(
        name: &str,
        n: usize,
        settings: &[&str],
        per_node: &dyn Fn(usize, u16) -> Vec<String>,
        registered: usize,
    ) -> Self {
        Self::start_inner(name, n, settings, false, per_node, registered)
    }

    /// Like [`Cluster::start`], but returns as soon as every node's port is bound, as
    /// `runnel cluster up` leaves a user: before the quorum has a leader or any broker is
    /// registered.
    pub fn start_unwaited(name: &str, n: usize, settings: &[&str]) -> Self {
        Self::start_inner(name, n, settings, false, &|_, _| Vec::new(), 0)
    }

    /// Like [`Cluster::start`], but every node reaches every other through its own pair of
    /// proxies (Raft, replication), so [`Cluster::isolate`] can cut a node off from the others
    /// while clients still reach it.
    pub fn start_with_proxies(name: &str, n: usize, settings: &[&str]) -> Self {
        Self::start_inner(name, n, settings, true, &|_, _| Vec::new(), n)
    }

    fn start_inner(
        name: &str,
        n: usize,
        settings: &[&str],
        proxies: bool,
        per_node: &dyn Fn(usize, u16) -> Vec<String>,
        registered: usize,
    ) -> Self {
        let raft: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let kafka: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut links = Vec::new();
        if proxies {
            for from in 0..n {
                for to in (0..n).filter(|t| *t != from) {
                    links.push((from, to, Proxy::start(raft[to]), Proxy::start(kafka[to])));
                }
            }
        }
        let nodes = (0..n)
            .map(|i| {
                let route =
                    |to: usize, real: u16, pick: fn(&(usize, usize, Proxy, Proxy)) -> u16| {
                        links
                            .iter()
                            .find(|l| l.0 == i && l.1 == to)
                            .map_or(real, pick)
                    };
                let voters = (0..n)
                    .map(|to| format!("{to}@127.0.0.1:{}", route(to, raft[to], |l| l.2.port)))
                    .collect::<Vec<_>>()
                    .join(",");
                let mut all: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
                all.extend(per_node(i, kafka[i]));
                all.push(format!("node.id={i}"));
                all.push(format!("controller.quorum.voters={voters}"));
                if proxies {
                    let endpoints = (0..n)
                        .filter(|to| *to != i)
                        .map(|to| format!("{to}@127.0.0.1:{}", route(to, kafka[to], |l| l.3.port)))
                        .collect::<Vec<_>>()
                        .join(",");
                    all.push(format!("inter.broker.endpoints={endpoints}"));
                }
                Runnel::start_on(&format!("{name}-{i}"), kafka[i], free_port(), &all)
            })
            .collect();
        let cluster = Self { nodes, links };
        if registered > 0 {
            cluster.wait_for(Duration::from_secs(20), "every node registered", |c| {
                c.describe_brokers() == registered
            });
        }
        cluster
    }

    /// Cuts (`true`) or heals every link between node `i` and the others, both ways.
    pub fn isolate(&self, i: usize, cut: bool) {
        for (from, to, raft, replication) in &self.links {
            if *from == i || *to == i {
                raft.set_cut(cut);
                replication.set_cut(cut);
            }
        }
    }

    /// Cuts (`true`) or heals the replication links into and out of node `i` only: it stays
    /// a live metadata voter and broker, but fetches nothing and serves no follower, so
    /// leaders drop it from their ISRs after `replica.lag.time.max.ms`.
    pub fn cut_replication(&self, i: usize, cut: bool) {
        for (from, to, _, replication) in &self.links {
            if *from == i || *to == i {
                replication.set_cut(cut);
            }
        }
    }

    /// Metadata as node `i` sees it: each partition's (leader, replicas, ISR).
    pub fn partitions_seen_by(
        &self,
        i: usize,
        topic: &str,
    ) -> Vec<(Option<u64>, Vec<u64>, Vec<u64>)> {
        partitions_at(&self.nodes[i].bootstrap(), topic)
    }

    /// Every node's address, for clients' bootstrap servers.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(Runnel::bootstrap)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A live node's address.
    fn any_live(&self) -> Option<String> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(Runnel::bootstrap)
            .next()
    }

    /// How many brokers Metadata lists (0 when no node answers).
    pub fn describe_brokers(&self) -> usize {
        let Some(address) = self.any_live() else {
            return 0;
        };
        let out = cli_output(&["cluster", "info", "-o", "json", "-b", &address]);
        serde_json::from_str::<serde_json::Value>(&out)
            .ok()
            .and_then(|v| v["brokers"].as_array().map(Vec::len))
            .unwrap_or(0)
    }

    /// Each partition's (leader, replicas, ISR) as Metadata says (`None` leader: offline).
    pub fn partitions(&self, topic: &str) -> Vec<(Option<u64>, Vec<u64>, Vec<u64>)> {
        match self.any_live() {
            Some(address) => partitions_at(&address, topic),
            None => Vec::new(),
        }
    }

    /// Polls `check` until it holds, or panics after `limit` saying what was awaited.
    pub fn wait_for(&self, limit: Duration, what: &str, check: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + limit;
        while !check(self) {
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Each partition's (leader, replicas, ISR) as the node at `address` says.
fn partitions_at(address: &str, topic: &str) -> Vec<(Option<u64>, Vec<u64>, Vec<u64>)> {
    let out = cli_output(&["topic", "describe", topic, "-o", "json", "-b", address]);
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&out) else {
        return Vec::new();
    };
    let ids = |x: &serde_json::Value| -> Vec<u64> {
        x.as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
            .unwrap_or_default()
    };
    v["partition_list"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| (p["leader"].as_u64(), ids(&p["replicas"]), ids(&p["isr"])))
                .collect()
        })
        .unwrap_or_default()
}

/// The runnel CLI's stdout, or "" when it fails (for polling).
fn cli_output(args: &[&str]) -> String {
    client_command(runnel_binary())
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The checks every run of `tests/clients/txn_eos.py` ("check"'s JSON `r`, `records` inputs
/// over 3 partitions) must pass: each input record's output is read exactly once under
/// read_committed, and the group's committed offsets are the input's end offsets
/// (Kafka's exactly-once guarantee, KIP-98 and KIP-447: the outputs and the offsets of a
/// transaction are visible together or not at all).
pub fn assert_exactly_once(r: &serde_json::Value, records: usize) {
    let outputs: Vec<&str> = r["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .map(|v| v.as_str().expect("value"))
        .collect();
    let mut sorted = outputs.clone();
    sorted.sort_unstable();
    let mut expected: Vec<String> = (0..records).map(|i| format!("out-{i}")).collect();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "every input's output once: {r}");
    assert_eq!(
        r["committed"], r["ends"],
        "the group committed every input: {r}"
    );
    assert_eq!(r["ends"], serde_json::json!(vec![records / 3; 3]), "{r}");
}

/// Runs `tests/clients/txn_eos.py app` against `bootstrap` until it prints "finished":
/// `on_open(n)` is called each time it reports a transaction holding records up to `n` open
/// (where a test kills something mid-transaction). When the application prints nothing for
/// 15 s, or exits, it is killed and a new instance started, as a supervisor would: a new
/// instance fences the old one and aborts its open transaction (librdkafka's
/// send_offsets_to_transaction() can hang when its cached group coordinator went down,
/// librdkafka issues #5456 and #5511). Returns how many times it was restarted; panics past
/// `limit` or after 3 restarts.
pub fn supervise_eos_app(
    bootstrap: &str,
    mut on_open: impl FnMut(usize),
    limit: Duration,
) -> usize {
    let start_app = || -> (Child, std::sync::mpsc::Receiver<String>) {
        let mut child = client_command("python3")
            .args(["tests/clients/txn_eos.py", "app", bootstrap])
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 (the test command installs it)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        (child, rx)
    };
    let deadline = Instant::now() + limit;
    let (mut app, mut lines) = start_app();
    let mut restarts = 0;
    loop {
        assert!(Instant::now() < deadline, "the application did not finish");
        match lines.recv_timeout(Duration::from_secs(15)) {
            Ok(line) if line == "finished" => break,
            Ok(line) => {
                if let Some(n) = line.strip_prefix("open ").and_then(|n| n.parse().ok()) {
                    on_open(n);
                }
            }
            Err(_) => {
                let _ = app.kill();
                let _ = app.wait();
                restarts += 1;
                assert!(restarts <= 3, "the application kept stalling");
                (app, lines) = start_app();
            }
        }
    }
    let _ = app.wait();
    restarts
}

/// Runs a Python client and parses the last line it prints as JSON.
pub fn python_json(args: &[&str], limit: Duration) -> serde_json::Value {
    let out = run_client("python3", args, b"", limit);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// (partition, offset, value) triples from a JSON array.
pub fn triples(value: &serde_json::Value) -> Vec<(i64, i64, String)> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|t| {
            (
                t[0].as_i64().expect("partition"),
                t[1].as_i64().expect("offset"),
                t[2].as_str().expect("value").to_string(),
            )
        })
        .collect()
}

/// The consumer-group story of `tests/clients/confluent_group.py`: phase 1 (a topic with
/// `replication_factor`, 600 records, two members reading and committing about 450) against
/// `bootstrap`, then `between` (stop and restart a broker, kill a coordinator...), then phase 2
/// (a new member) against `after`: every commit is still there, nothing committed is read
/// again, and every acknowledged record is read exactly once across both phases.
pub fn group_survives(
    bootstrap: &str,
    replication_factor: u32,
    after: &str,
    between: impl FnOnce(),
) {
    use std::collections::{BTreeMap, BTreeSet};
    let limit = Duration::from_secs(120);
    let rf = replication_factor.to_string();
    let first = python_json(
        &["tests/clients/confluent_group.py", "phase1", bootstrap, &rf],
        limit,
    );
    let acked = triples(&first["acked"]);
    let processed = triples(&first["processed"]);
    assert_eq!(acked.len(), 600);
    let acked_values: BTreeSet<&String> = acked.iter().map(|t| &t.2).collect();
    assert_eq!(acked_values.len(), 600, "each record acknowledged once");
    // What phase 1 committed: one past the last processed offset of each partition.
    let mut committed: BTreeMap<i64, i64> = BTreeMap::new();
    for (p, o, _) in &processed {
        let c = committed.entry(*p).or_insert(0);
        *c = (*c).max(o + 1);
    }
    let processed_values: BTreeSet<&String> = processed.iter().map(|t| &t.2).collect();
    assert_eq!(
        processed_values.len(),
        processed.len(),
        "no record processed twice in phase 1"
    );
    between();
    let remaining = 600 - processed.len();
    let second = python_json(
        &[
            "tests/clients/confluent_group.py",
            "phase2",
            after,
            &remaining.to_string(),
        ],
        limit,
    );
    for (p, offset) in &committed {
        assert_eq!(
            second["committed"][p.to_string()].as_i64(),
            Some(*offset),
            "partition {p}: the commit survived"
        );
    }
    let records = triples(&second["records"]);
    for (p, o, v) in &records {
        assert!(
            *o >= committed.get(p).copied().unwrap_or(0),
            "{v} at {p}/{o} was committed already and is read again"
        );
    }
    let mut all: Vec<&String> = processed.iter().chain(&records).map(|t| &t.2).collect();
    all.sort();
    let mut expected: Vec<&String> = acked_values.into_iter().collect();
    expected.sort();
    assert_eq!(
        all, expected,
        "every acknowledged record is read exactly once across both phases"
    );
}

/// Kafka requests by hand, for tests that need one exact request (a client library would
/// split, retry or time it its own way).
pub mod wire {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use bytes::{BufMut, BytesMut};
    use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

    /// `request` framed as Kafka's wire carries it: size, header (client id `runnel-tests`),
    /// body.
    pub fn frame<R: Encodable>(
        key: ApiKey,
        version: i16,
        correlation_id: i32,
        request: &R,
    ) -> Vec<u8> {
        let mut body = BytesMut::new();
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("runnel-tests")));
        header
            .encode(&mut body, key.request_header_version(version))
            .expect("header");
        request.encode(&mut body, version).expect("body");
        let mut out = Vec::with_capacity(body.len() + 4);
        out.put_i32(body.len() as i32);
        out.extend_from_slice(&body);
        out
    }

    /// Writes `bytes` and reads one response frame (its body, from the correlation id on);
    /// `None` when the connection closed or the stream's read timeout passed.
    pub fn round_trip(stream: &mut TcpStream, bytes: &[u8]) -> Option<Vec<u8>> {
        stream.write_all(bytes).ok()?;
        let mut size = [0u8; 4];
        stream.read_exact(&mut size).ok()?;
        let mut body = vec![0u8; usize::try_from(i32::from_be_bytes(size)).ok()?];
        stream.read_exact(&mut body).ok()?;
        Some(body)
    }
    /// Sends `request` as `key` at `version` on a new connection to `address` and decodes the
    /// answer (its header as that version's header); panics, naming `key`, when there is none
    /// within `limit` or it does not decode.
    pub fn call<Req: Encodable, Resp: Decodable>(
        address: &str,
        key: ApiKey,
        version: i16,
        request: &Req,
        limit: std::time::Duration,
    ) -> Resp {
        let mut stream = TcpStream::connect(address).expect("connect");
        stream.set_read_timeout(Some(limit)).expect("read timeout");
        let body = round_trip(&mut stream, &frame(key, version, 1, request))
            .unwrap_or_else(|| panic!("a {key:?} response"));
        let mut bytes = bytes::Bytes::from(body);
        ResponseHeader::decode(&mut bytes, key.response_header_version(version))
            .unwrap_or_else(|e| panic!("a {key:?} response header: {e}"));
        Resp::decode(&mut bytes, version).unwrap_or_else(|e| panic!("a {key:?} response: {e}"))
    }
}

/// A test CA, a broker certificate for 127.0.0.1 and a client certificate, as PEM files.
pub struct Certificates {
    dir: PathBuf,
}

impl Certificates {
    /// Makes them in a new temporary directory (removed when this is dropped): `ca.pem`,
    /// `broker.pem` (key and chain, Kafka's PEM keystore), `broker.crt`/`broker.key`,
    /// `client.crt`/`client.key` (subject `CN=client-1`).
    pub fn make(name: &str) -> Self {
        let dir = temp_dir(name);
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .expect("openssl (Debian's openssl package)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=runnel-test-ca",
        ]);
        std::fs::write(
            dir.join("broker.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .expect("ext");
        std::fs::write(dir.join("client.ext"), "basicConstraints=CA:FALSE\n").expect("ext");
        for (who, subject) in [("broker", "/CN=localhost"), ("client", "/CN=client-1")] {
            openssl(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{who}.key"),
                "-out",
                &format!("{who}.csr"),
                "-subj",
                subject,
            ]);
            openssl(&[
                "x509",
                "-req",
                "-in",
                &format!("{who}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{who}.crt"),
                "-days",
                "2",
                "-extfile",
                &format!("{who}.ext"),
            ]);
        }
        // Kafka's PEM keystore: the private key and the certificate chain in one file.
        let key = std::fs::read_to_string(dir.join("broker.key")).expect("key");
        let crt = std::fs::read_to_string(dir.join("broker.crt")).expect("crt");
        std::fs::write(dir.join("broker.pem"), key + &crt).expect("keystore");
        Self { dir }
    }

    /// The path of one of its files.
    pub fn path(&self, file: &str) -> String {
        self.dir.join(file).to_string_lossy().into_owned()
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
