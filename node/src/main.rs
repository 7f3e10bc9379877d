//! The `runnel` binary: parses flags and the config file, opens the broker, serves until
//! SIGINT or SIGTERM, then flushes every segment and exits 0. See the `runnel_node` library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use runnel_node::alloc::LazyHugeAllocator;
use runnel_node::broker::{Broker, now_ms};
use runnel_node::config::BrokerConfig;
use runnel_node::{admin, server};

#[global_allocator]
static ALLOCATOR: LazyHugeAllocator = LazyHugeAllocator;

/// How often the coordinator's timers (sessions, rebalances) and flush.ms are checked.
const TICK: Duration = Duration::from_millis(100);

/// runnel: a Kafka-compatible broker. With no options it listens on 127.0.0.1:9092, keeps
/// data in ./runnel-data and serves /metrics on 127.0.0.1:8080.
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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
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
    let mut config: BrokerConfig = table
        .try_into()
        .map_err(|e: toml::de::Error| format!("configuration: {}", e.message()))?;
    if let Some(listen) = cli.listen {
        config.listener = listen;
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
    let kafka = tokio::net::TcpListener::bind(config.listener)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listener))?;
    let admin = tokio::net::TcpListener::bind(config.admin_listener)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.admin_listener))?;
    let broker = tokio::task::spawn_blocking(move || Broker::open(config))
        .await
        .map_err(|e| e.to_string())??;
    tracing::info!(
        "runnel {} listening on {} (advertised as {}:{}), admin on {}, data in {}",
        env!("CARGO_PKG_VERSION"),
        broker.config.listener,
        broker.config.advertised_host,
        broker.config.listener.port(),
        broker.config.admin_listener,
        broker.config.data_dir.display()
    );
    let server = tokio::spawn(server::serve(broker.clone(), kafka));
    let admin = tokio::spawn(admin::serve(broker.clone(), admin));
    let timers = tokio::spawn(timers(broker.clone()));
    let maintenance = tokio::spawn(maintenance(broker.clone()));
    shutdown_signal().await;
    tracing::info!("shutting down: flushing segments");
    server.abort();
    admin.abort();
    timers.abort();
    maintenance.abort();
    let flushing = broker.clone();
    tokio::task::spawn_blocking(move || flushing.flush_all())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

/// The group coordinator's clock: expires sessions and rebalance deadlines.
async fn timers(broker: Arc<Broker>) {
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        let outputs = broker.lock_groups().coordinator.handle_timeout(now_ms());
        broker.deliver(outputs);
    }
}

/// Retention, compaction and flush.ms, each at its configured interval.
async fn maintenance(broker: Arc<Broker>) {
    let mut tick = tokio::time::interval(TICK * 10);
    let retention_every = broker.config.retention_check_interval_ms.max(100);
    let cleaner_every = broker.config.cleaner_backoff_ms.max(100);
    let (mut last_retention, mut last_cleaner) = (now_ms(), now_ms());
    loop {
        tick.tick().await;
        let now = now_ms();
        let retention = now.saturating_sub(last_retention) >= retention_every;
        let cleaner = now.saturating_sub(last_cleaner) >= cleaner_every;
        if retention {
            last_retention = now;
        }
        if cleaner {
            last_cleaner = now;
        }
        let broker = broker.clone();
        let _ = tokio::task::spawn_blocking(move || broker.maintain(retention, cleaner)).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
