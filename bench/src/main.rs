//! `runnel-bench`: parses options, runs every system's workloads (see the `runnel_bench`
//! library), prints the tables and saves JSON, SVG and Markdown.

use std::path::PathBuf;
use std::process::ExitCode;

use runnel_bench::report::Run;
use runnel_bench::stats::Row;
use runnel_bench::{ceilings, cpu, kafka, nats, redis_streams, systems};

/// Command-line options.
struct Options {
    seconds: f64,
    systems: Vec<String>,
    sizes: Vec<usize>,
    acks: Vec<String>,
    partitions: Vec<u32>,
    runnel: PathBuf,
    tansu: PathBuf,
    out: Option<PathBuf>,
    readme: Option<PathBuf>,
    ceilings: bool,
    rate: Option<f64>,
}

const USAGE: &str = "usage: runnel-bench [--seconds S] [--systems runnel,runnel-3,tansu,redis,nats] \
[--sizes 100,1024] [--acks 1,all] [--partitions 1,8] [--runnel PATH] [--tansu PATH] \
[--out DIR] [--readme README.md] [--no-ceilings] [--rate RECORDS_PER_S]";

fn list<T: std::str::FromStr>(text: &str) -> Result<Vec<T>, String> {
    text.split(',')
        .map(|s| s.trim().parse().map_err(|_| format!("bad value {s:?}")))
        .collect()
}

fn parse(args: &[String]) -> Result<Options, String> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let mut o = Options {
        seconds: 3.0,
        systems: list("runnel,runnel-3,tansu,redis,nats")?,
        sizes: vec![100, 1024],
        acks: list("1,all")?,
        partitions: vec![1, 8],
        runnel: PathBuf::from("target/release/runnel"),
        tansu: home.join(".cache/runnel/peers/tansu-0.6.0/bin/tansu"),
        out: None,
        readme: None,
        ceilings: true,
        rate: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--seconds" => o.seconds = value()?.parse().map_err(|_| "bad --seconds")?,
            "--systems" => o.systems = list(&value()?)?,
            "--sizes" => o.sizes = list(&value()?)?,
            "--acks" => o.acks = list(&value()?)?,
            "--partitions" => o.partitions = list(&value()?)?,
            "--runnel" => o.runnel = value()?.into(),
            "--tansu" => o.tansu = value()?.into(),
            "--out" => o.out = Some(value()?.into()),
            "--readme" => o.readme = Some(value()?.into()),
            "--no-ceilings" => o.ceilings = false,
            "--rate" => o.rate = Some(value()?.parse().map_err(|_| "bad --rate")?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(o)
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// A fresh directory for one server's data.
fn data_dir(root: &std::path::Path, name: &str) -> Result<PathBuf, String> {
    let dir = root.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

fn run(o: &Options) -> Result<Run, String> {
    let root = std::env::temp_dir().join(format!("runnel-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    let mut result = Run {
        commit: command_output("git", &["rev-parse", "--short", "HEAD"]),
        date: command_output("date", &["-u", "+%Y-%m-%d"]),
        seconds: o.seconds,
        fixed_rate: o.rate,
        ceilings: None,
        floors: Vec::new(),
        rows: Vec::new(),
    };
    // The floor: a fraction of a second per record size, on this thread. First, while no
    // system has just freed pages, so its "fresh pages" are fresh (see `cpu`).
    for &bytes in &o.sizes {
        result
            .floors
            .push(cpu::floor(bytes, &root, o.seconds.min(1.0))?);
    }
    let has = |s: &str| o.systems.iter().any(|x| x == s);
    let mut warmed = false;
    for system in ["runnel", "runnel-3", "tansu"] {
        if !has(system) {
            continue;
        }
        for &bytes in &o.sizes {
            for acks in &o.acks {
                for &partitions in &o.partitions {
                    eprintln!("{system}: {bytes} B, acks={acks}, {partitions} partitions");
                    let (servers, bootstrap) = match system {
                        "runnel" => {
                            let s = systems::runnel(&o.runnel, &data_dir(&root, "runnel")?)?;
                            let bootstrap = format!("127.0.0.1:{}", s.port);
                            (vec![s], bootstrap)
                        }
                        "runnel-3" => {
                            systems::runnel_cluster(&o.runnel, &data_dir(&root, system)?, 3)?
                        }
                        _ => {
                            let s = systems::tansu(&o.tansu)?;
                            let bootstrap = format!("127.0.0.1:{}", s.port);
                            (vec![s], bootstrap)
                        }
                    };
                    if !warmed {
                        // The first run in a process is ~40 % slower (librdkafka, page cache
                        // and CPU warming up); one discarded second evens it out.
                        warmed = true;
                        systems::create_topic(&o.runnel, &bootstrap, "warm-up", partitions)?;
                        kafka::produce(&kafka::Workload {
                            bootstrap: bootstrap.clone(),
                            topic: "warm-up".into(),
                            partitions,
                            record_bytes: bytes,
                            acks: acks.clone(),
                            seconds: 1.0,
                            offered_rate: None,
                        })?;
                    }
                    let topic = format!("bench-{bytes}-{acks}-{partitions}");
                    for t in [topic.clone(), format!("{topic}-latency")] {
                        systems::create_topic(&o.runnel, &bootstrap, &t, partitions)?;
                    }
                    let workload = kafka::Workload {
                        bootstrap,
                        topic,
                        partitions,
                        record_bytes: bytes,
                        acks: acks.clone(),
                        seconds: o.seconds,
                        offered_rate: o.rate,
                    };
                    let mut row =
                        kafka::run(&workload, &systems::meter(&servers)).map_err(|e| {
                            format!("{system} {bytes} B acks={acks} {partitions}p: {e}")
                        })?;
                    row.system = system.to_string();
                    result.rows.push(row);
                }
            }
        }
    }
    for system in ["redis", "nats"] {
        if !has(system) {
            continue;
        }
        for &bytes in &o.sizes {
            eprintln!("{system}: {bytes} B");
            let dir = data_dir(&root, system)?;
            let row: Row = if system == "redis" {
                let server = systems::redis(&dir)?;
                redis_streams::run(
                    &format!("redis://127.0.0.1:{}/", server.port),
                    bytes,
                    o.seconds,
                    o.rate,
                    &systems::meter(std::slice::from_ref(&server)),
                )?
            } else {
                let server = systems::nats(&dir)?;
                nats::run(
                    &format!("127.0.0.1:{}", server.port),
                    bytes,
                    o.seconds,
                    o.rate,
                    &systems::meter(std::slice::from_ref(&server)),
                )?
            };
            result.rows.push(row);
        }
    }
    // Last: gigabytes of file writes would leave the kernel reclaiming pages under the first
    // workloads (runnel's first workload measured 30 % slow after them).
    if o.ceilings {
        eprintln!("ceilings: loopback, disk");
        result.ceilings = Some(ceilings::measure(&root, o.seconds)?);
    }
    let _ = std::fs::remove_dir_all(&root);
    Ok(result)
}

/// Replaces the text between `<!-- bench:start -->` and `<!-- bench:end -->` in `readme`.
fn update_readme(readme: &std::path::Path, table: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(readme).map_err(|e| e.to_string())?;
    let (start, end) = ("<!-- bench:start -->", "<!-- bench:end -->");
    let (Some(a), Some(b)) = (text.find(start), text.find(end)) else {
        return Err(format!(
            "{} has no {start} … {end} markers",
            readme.display()
        ));
    };
    let updated = format!("{}{start}\n{table}{}", &text[..a], &text[b..]);
    std::fs::write(readme, updated).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match run(&options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("runnel-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let table = result.markdown();
    println!("{table}");
    if let Some(dir) = &options.out {
        let json = match serde_json::to_string_pretty(&result) {
            Ok(j) => j,
            Err(e) => {
                eprintln!("runnel-bench: {e}");
                return ExitCode::FAILURE;
            }
        };
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(dir.join("results.json"), json + "\n"))
            .and_then(|()| std::fs::write(dir.join("produce.svg"), result.svg()))
            .and_then(|()| std::fs::write(dir.join("results.md"), &table));
        if let Err(e) = written {
            eprintln!("runnel-bench: {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    if let Some(readme) = &options.readme
        && let Err(e) = update_readme(readme, &table)
    {
        eprintln!("runnel-bench: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
