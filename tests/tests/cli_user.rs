//! The command line as someone who uses kafka-topics.sh, kafka-console-producer/consumer,
//! kafka-consumer-groups.sh, kcat and rpk every day met it: each test is one of the inputs
//! that once failed (issue "The command line, tried as a user would"), and what the user sees
//! now. Kafka's own behaviour is the reference where there is one (cited at each test).

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use runnel_tests::{Runnel, runnel_binary, runnel_cli as runnel, temp_dir};

/// Runs `runnel args` with `stdin` and the extra environment; returns whatever happened.
fn run(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(runnel_binary())
        .args(args)
        .env_remove("RUNNEL_BROKERS")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run runnel");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("runnel output");
    let _ = writer.join();
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `group describe` rows: (topic, partition) → (committed, end).
fn commits(b: &str, group: &str) -> Vec<(String, i64, i64)> {
    runnel(&["group", "describe", group, "-b", b], b"")
        .lines()
        .skip(2)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                format!("{}-{}", f[0], f[1]),
                f[2].parse().unwrap_or(-1),
                f[3].parse().unwrap_or(-1),
            )
        })
        .collect()
}

/// `command` in a pseudo-terminal (util-linux `script`): the child, and its keyboard (what is
/// written there is typed into the terminal; `\x03` is Ctrl-C). The screen is its stdout.
///
/// `script` runs the command through `$SHELL -c`, or `/bin/sh` (dash) when `SHELL` is unset as
/// under CI. dash does not exec a lone command, so Ctrl-C would also kill the waiting shell and
/// `script` would report 130 whatever the command did; `exec` makes the command the terminal's
/// only process, so the exit status is the command's own.
fn terminal(command: &str) -> (std::process::Child, std::process::ChildStdin) {
    let mut child = Command::new("script")
        .args(["-qefc", &format!("exec {command}"), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script (util-linux)");
    let keyboard = child.stdin.take().expect("stdin");
    (child, keyboard)
}

/// Sends SIGINT (what Ctrl-C sends) to a child.
fn interrupt(child: &std::process::Child) {
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
}

/// Defect 1 (rpk and kafka-console-producer send each line on Enter): a line written to
/// `produce` is readable at once, long before input ends; Ctrl-C sends what was read.
#[test]
fn produce_sends_each_line_as_it_is_read_and_ctrl_c_sends_what_was_read() {
    let broker = Runnel::start("cli-user-stream", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "lines", "-b", &b], b"");
    let mut producer = Command::new(runnel_binary())
        .args(["produce", "lines", "-b", &b])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start produce");
    let mut input = producer.stdin.take().expect("stdin");
    for line in ["a", "b"] {
        input
            .write_all(format!("{line}\n").as_bytes())
            .expect("type");
        input.flush().expect("flush");
        let typed = Instant::now();
        loop {
            let seen = runnel(&["consume", "lines", "-b", &b], b"");
            if seen.lines().last() == Some(line) {
                break;
            }
            assert!(
                typed.elapsed() < Duration::from_secs(1),
                "{line} not readable a second after it was written: {seen:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // With a linger longer than the test, the next line waits in the producer: Ctrl-C must
    // send it rather than drop it.
    drop(input);
    let _ = producer.wait();
    let mut producer = Command::new(runnel_binary())
        .args(["produce", "lines", "--linger-ms", "600000", "-b", &b])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start produce");
    let mut input = producer.stdin.take().expect("stdin");
    input.write_all(b"c\n").expect("type");
    input.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&producer);
    let out = producer.wait_with_output().expect("produce output");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stderr(&out), "interrupted: produced 1 record to lines\n");
    assert_eq!(runnel(&["consume", "lines", "-b", &b], b""), "a\nb\nc\n");
}

/// Defect 2: a group member that is interrupted, whose reader closes the pipe, or that fails,
/// commits what it printed and leaves (kafka-console-consumer closes its consumer on Ctrl-C,
/// which commits and sends LeaveGroup); a closed pipe ends it quietly with status 0, like
/// other Unix tools.
#[test]
fn a_group_member_commits_and_leaves_on_ctrl_c_a_closed_pipe_and_errors() {
    let broker = Runnel::start("cli-user-leave", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "big", "-b", &b], b"");
    // 3 MB: far more than a pipe holds, so `head` closes it while runnel still writes.
    let input: String = (0..30_000).map(|i| format!("{i:0>99}\n")).collect();
    runnel(&["produce", "big", "-b", &b], input.as_bytes());
    let bin = runnel_binary();
    let piped = Command::new("bash")
        .args([
            "-c",
            &format!(
                "{} consume big -G piped -b {b} | head -2; exit ${{PIPESTATUS[0]}}",
                bin.display()
            ),
        ])
        .output()
        .expect("bash");
    assert!(piped.status.success(), "exit 0 on a closed pipe: {piped:?}");
    assert_eq!(stderr(&piped), "", "no 'Broken pipe' message");
    assert_eq!(stdout(&piped).lines().count(), 2);
    let described = runnel(&["group", "describe", "piped", "-b", &b], b"");
    assert!(
        described.starts_with("group piped: Empty with 0 members"),
        "{described}"
    );
    let rows = commits(&b, "piped");
    assert!(
        rows[0].1 > 0 && rows[0].1 < 30_000,
        "committed what went into the pipe, not the rest: {described}"
    );

    // Ctrl-C on a following member: commits, leaves, says so, exits 0.
    let mut member = Command::new(runnel_binary())
        .args(["consume", "big", "-G", "followers", "--follow", "-b", &b])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start consume");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stdout(&run(
        &["group", "describe", "followers", "-b", &b],
        b"",
        &[],
    ))
    .contains("Stable with 1 member")
    {
        assert!(Instant::now() < deadline, "the member never joined");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    interrupt(&member);
    let status = member.wait().expect("consume status");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut member.stderr.take().expect("stderr"), &mut err)
        .expect("stderr");
    assert!(status.success(), "{status}: {err}");
    assert!(
        err.starts_with(
            "runnel: interrupted after 30000 records; committed them and left the group"
        ),
        "{err}"
    );
    let described = runnel(&["group", "describe", "followers", "-b", &b], b"");
    assert!(
        described.starts_with("group followers: Empty with 0 members"),
        "{described}"
    );
    assert_eq!(commits(&b, "followers")[0].1, 30_000, "{described}");

    // An error before joining leaves no member behind: the group never exists.
    let failed = run(&["consume", "nosuchtopic", "-G", "gx", "-b", &b], b"", &[]);
    assert!(!failed.status.success());
    assert_eq!(
        stderr(&failed),
        "runnel: topic nosuchtopic: unknown topic or partition (UNKNOWN_TOPIC_OR_PARTITION, Kafka error 3)\n"
    );
    let gx = run(&["group", "describe", "gx", "-b", &b], b"", &[]);
    assert!(!gx.status.success());
    assert_eq!(stderr(&gx), "runnel: group gx does not exist\n");
}

/// Defect 3: a commit below the log start (after DeleteRecords) falls back like
/// `auto.offset.reset` (Kafka's consumer resets on OFFSET_OUT_OF_RANGE), to `--from`'s
/// position, and says so.
#[test]
fn a_commit_below_the_log_start_falls_back_to_from() {
    let broker = Runnel::start("cli-user-reset", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "d", "-b", &b], b"");
    let input: String = (1..=10).map(|i| format!("{i}\n")).collect();
    runnel(&["produce", "d", "-b", &b], input.as_bytes());
    assert_eq!(
        runnel(&["consume", "d", "-G", "g1", "-n", "3", "-b", &b], b""),
        "1\n2\n3\n"
    );
    runnel(&["records", "delete", "d", "--before", "6", "-b", &b], b"");
    let out = run(&["consume", "d", "-G", "g1", "-b", &b], b"", &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "7\n8\n9\n10\n");
    assert_eq!(
        stderr(&out),
        "runnel: d-0: offset 3 is outside the log (6 to 10); starting at 6 (--from earliest)\n"
    );
    let out = run(&["consume", "d", "-G", "g2", "-n", "1", "-b", &b], b"", &[]);
    assert_eq!(stdout(&out), "7\n");
    runnel(&["records", "delete", "d", "--before", "8", "-b", &b], b"");
    let latest = run(
        &["consume", "d", "-G", "g2", "--from", "latest", "-b", &b],
        b"",
        &[],
    );
    assert_eq!(stdout(&latest), "", "--from latest: nothing old");
    assert!(
        stderr(&latest).contains("starting at 10 (--from latest)"),
        "{latest:?}"
    );
    assert_eq!(commits(&b, "g2")[0].1, 10);
}

/// Defect 4 (kcat writes keys and values as they are): bytes go in and out untouched, and
/// `--encoding` shows them printably.
#[test]
fn bytes_go_in_and_out_untouched() {
    let broker = Runnel::start("cli-user-bytes", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "kc", "-b", &b], b"");
    runnel(
        &["produce", "kc", "-K", ":", "-b", &b],
        b"\x00\xff:r\xffaw\n",
    );
    let raw = run(&["consume", "kc", "-f", "%k|%s\\n", "-b", &b], b"", &[]);
    assert_eq!(raw.stdout, b"\x00\xff|r\xffaw\n");
    assert_eq!(
        runnel(
            &["consume", "kc", "-e", "hex", "-f", "%k %s\\n", "-b", &b],
            b""
        ),
        "00ff 72ff6177\n"
    );
    let json = runnel(
        &["consume", "kc", "-o", "json", "-e", "base64", "-b", &b],
        b"",
    );
    assert!(
        json.contains("\"key\":\"AP8=\",\"value\":\"cv9hdw==\""),
        "{json}"
    );
    let refused = run(&["consume", "kc", "-o", "json", "-b", &b], b"", &[]);
    assert!(!refused.status.success());
    assert_eq!(
        stderr(&refused),
        "runnel: kc-0@0: the key is not UTF-8; use --encoding base64 or hex\n"
    );
}

/// Defect 5: the broker's own message, then the code's Kafka name (as Kafka's admin tools
/// print the exception's message).
#[test]
fn refusals_carry_the_brokers_words() {
    let broker = Runnel::start("cli-user-words", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "t", "-p", "2", "-b", &b], b"");
    let cases: [(&[&str], &str); 4] = [
        (
            &["topic", "alter-config", "t", "--set", "bogus.key=1"],
            "runnel: alter config of t: unknown topic config bogus.key (INVALID_CONFIG, Kafka error 40)\n",
        ),
        (
            &["topic", "add-partitions", "t", "--to", "1"],
            "(INVALID_PARTITIONS, Kafka error 37)\n",
        ),
        (
            &["topic", "create", "r", "-r", "3"],
            "(INVALID_REPLICATION_FACTOR, Kafka error 38)\n",
        ),
        (
            &["topic", "create", "bad name!"],
            "(INVALID_TOPIC_EXCEPTION, Kafka error 17)\n",
        ),
    ];
    for (args, expected) in cases {
        let out = run(&[args, &["-b", &b]].concat(), b"", &[]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.ends_with(expected), "{args:?}: {err}");
        assert!(
            !err.contains(": refused ("),
            "the broker's message, not a placeholder: {err}"
        );
    }
}

/// Defect 6 (Kafka's DeleteRecords refuses an offset above the high watermark): every
/// partition is checked first, and nothing changes when one is short.
#[test]
fn records_delete_changes_nothing_when_one_partition_is_short() {
    let broker = Runnel::start("cli-user-delete", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "kc", "-p", "2", "-b", &b], b"");
    let input: String = (0..8).map(|i| format!("{i}\n")).collect();
    runnel(&["produce", "kc", "-p", "1", "-b", &b], input.as_bytes());
    let out = run(
        &["records", "delete", "kc", "--before", "5", "-b", &b],
        b"",
        &[],
    );
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out),
        "runnel: --before 5 is past the end of kc-0 (ends at 0); nothing was deleted\n"
    );
    let describe = runnel(&["topic", "describe", "kc", "-b", &b], b"");
    let starts: Vec<&str> = describe
        .lines()
        .skip(2)
        .take(2)
        .map(|l| l.split_whitespace().nth(4).unwrap_or("?"))
        .collect();
    assert_eq!(starts, ["0", "0"], "no log start moved: {describe}");
}

/// Defect 7 (kafka-consumer-groups.sh: "Assignments can only be reset if the group is
/// inactive", and no shift without a committed offset): refused up front, dry run included.
#[test]
fn reset_offsets_refuses_an_active_group_and_a_shift_without_a_commit() {
    let broker = Runnel::start("cli-user-plans", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "t", "-b", &b], b"");
    runnel(&["topic", "create", "u", "-b", &b], b"");
    runnel(&["produce", "u", "-b", &b], b"a\nb\n");
    let shift = run(
        &[
            "group",
            "reset-offsets",
            "g",
            "--topic",
            "t",
            "--shift-by",
            "-1",
            "-b",
            &b,
        ],
        b"",
        &[],
    );
    assert!(!shift.status.success());
    assert_eq!(
        stderr(&shift),
        "runnel: cannot shift t-0: group g has no committed offset there (use --to-earliest, --to-latest or --to-offset)\n"
    );
    let mut member = Command::new(runnel_binary())
        .args(["consume", "u", "-G", "g", "--follow", "-b", &b])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start consume");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stdout(&run(&["group", "describe", "g", "-b", &b], b"", &[]))
        .contains("Stable with 1 member")
    {
        assert!(Instant::now() < deadline, "the member never joined");
        std::thread::sleep(Duration::from_millis(100));
    }
    let active = run(
        &[
            "group",
            "reset-offsets",
            "g",
            "--all-topics",
            "--to-earliest",
            "-b",
            &b,
        ],
        b"",
        &[],
    );
    interrupt(&member);
    let _ = member.wait();
    assert!(!active.status.success());
    assert!(
        stderr(&active).starts_with(
            "runnel: group g is Stable with 1 member (runnel-cli@/127.0.0.1): offsets can be reset only while the group is inactive"
        ),
        "{active:?}"
    );
    // Once it has left: --all-topics takes the topics with commits, @MILLIS is a time.
    let plan = runnel(
        &[
            "group",
            "reset-offsets",
            "g",
            "--all-topics",
            "--to-datetime",
            "@0",
            "-b",
            &b,
        ],
        b"",
    );
    assert_eq!(
        plan,
        "group g: Empty with 0 members\nTOPIC  PARTITION  CURRENT  NEW\nu      0          2        0\n(dry run: add --execute to commit)\n"
    );
    assert_eq!(
        runnel(&["group", "delete", "g", "-b", &b], b""),
        "deleted group g\n"
    );
    let gone = run(&["group", "delete", "g", "-b", &b], b"", &[]);
    assert_eq!(stderr(&gone), "runnel: group g does not exist\n");
}

/// Defect 8: bootstrap lists, Kafka's default port 9092, and errors that say what happened.
#[test]
fn network_errors_say_what_happened() {
    let broker = Runnel::start("cli-user-net", &[]);
    let b = broker.bootstrap();
    let http = format!("127.0.0.1:{}", broker.admin_port);
    let started = Instant::now();
    let out = run(&["topic", "list", "-b", &http], b"", &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).starts_with(&format!(
            "runnel: broker {http}: did not answer as a Kafka broker: "
        )),
        "{out:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "named within the handshake timeout"
    );
    let refused = run(&["topic", "list", "-b", "127.0.0.1:1"], b"", &[]);
    assert_eq!(
        stderr(&refused),
        "runnel: broker 127.0.0.1:1: connection refused: is a broker running there?\n"
    );
    // A list: the first that answers serves; a missing port is 9092.
    let list = run(
        &["topic", "list", "-b", &format!("127.0.0.1:1,{b}")],
        b"",
        &[],
    );
    assert!(list.status.success(), "{list:?}");
    let no_port = run(&["topic", "list", "-b", "127.0.0.2"], b"", &[]);
    assert!(
        stderr(&no_port).starts_with("runnel: broker 127.0.0.2:9092: "),
        "{no_port:?}"
    );
    // -b before the subcommand, RUNNEL_BROKERS, and a profile file.
    assert!(run(&["-b", &b, "topic", "list"], b"", &[]).status.success());
    assert!(
        run(&["topic", "list"], b"", &[("RUNNEL_BROKERS", b.as_str())])
            .status
            .success()
    );
    let dir = temp_dir("cli-user-profile");
    let profile = dir.join("profile.toml");
    std::fs::write(&profile, format!("brokers = \"{b}\"\n")).expect("profile");
    let profiled = run(
        &["cluster", "info"],
        b"",
        &[("RUNNEL_PROFILE", profile.to_str().expect("path"))],
    );
    assert!(
        stdout(&profiled).starts_with("cluster ") && stdout(&profiled).contains(", controller 0\n"),
        "{profiled:?}"
    );
}

/// Item 9: the smaller rough edges.
#[test]
fn the_small_things() {
    let broker = Runnel::start("cli-user-small", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "p3", "-p", "3", "-b", &b], b"");
    let input: String = (0..9).map(|i| format!("r{i}\n")).collect();
    assert_eq!(
        stderr(&run(&["produce", "p3", "-p", "0", "-b", &b], b"one\n", &[])),
        "produced 1 record to p3\n"
    );
    runnel(&["produce", "p3", "-p", "1", "-b", &b], input.as_bytes());
    // An offset only partition 1 has: it prints from there; the others start at their end.
    let out = run(&["consume", "p3", "--from", "5", "-b", &b], b"", &[]);
    assert_eq!(stdout(&out), "r5\nr6\nr7\nr8\n");
    assert!(
        stderr(&out).contains("p3-0: offset 5 is outside the log (0 to 1); starting at 1"),
        "{out:?}"
    );
    // kcat's -o -0 is the end.
    assert_eq!(
        runnel(&["consume", "p3", "--from", "-0", "-b", &b], b""),
        ""
    );
    // %% is a %, an unknown %x is refused before anything is read.
    assert_eq!(
        runnel(
            &["consume", "p3", "-p", "0", "-f", "100%% %s\\n", "-b", &b],
            b""
        ),
        "100% one\n"
    );
    let unknown = run(&["consume", "p3", "-f", "%x", "-b", &b], b"", &[]);
    assert!(stderr(&unknown).starts_with("runnel: --format: unknown %x (known: %t"));
    // Usage errors are one line too (clap's block and its "use '-- -3'" tip are gone).
    for args in [
        &["consume", "p3", "-p", "-3"][..],
        &["produce", "p3", "-p", "-3"],
        &[
            "group",
            "reset-offsets",
            "g",
            "--topic",
            "p3",
            "--to-latest",
            "--to-earliest",
        ],
        &["consume"],
    ] {
        let out = run(&[args, &["-b", &b]].concat(), b"", &[]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            err.starts_with("runnel: ") && err.lines().count() == 1 && !err.contains("-- -3"),
            "{args:?}: {err}"
        );
    }
    // A batch the broker refuses: how many were written and how many not.
    let mut big = b"before\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 2 << 20));
    big.extend(b"\nafter\n");
    let refused = run(&["produce", "p3", "-p", "2", "-b", &b], &big, &[]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("(MESSAGE_TOO_LARGE, Kafka error 10); produced ")
            && stderr(&refused).contains(" not written, the rest of the input not read"),
        "{refused:?}"
    );
    // A topic deleted under a following reader ends it with one line.
    runnel(&["topic", "create", "brief", "-b", &b], b"");
    let follower = Command::new(runnel_binary())
        .args(["consume", "brief", "--follow", "-b", &b])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start consume");
    std::thread::sleep(Duration::from_millis(500));
    runnel(&["topic", "delete", "brief", "-b", &b], b"");
    let out = follower.wait_with_output().expect("consume output");
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out),
        "runnel: topic brief was deleted while it was read\n"
    );
    // A negative count reaches the broker, whose words come back.
    let negative = run(&["topic", "create", "n", "-p", "-3", "-b", &b], b"", &[]);
    assert_eq!(
        stderr(&negative).lines().count(),
        1,
        "one line, not clap's usage: {negative:?}"
    );
    assert!(stderr(&negative).contains("(INVALID_PARTITIONS, Kafka error 37)"));
    // On one node, /metrics agrees with Metadata: it is the controller and leads everything.
    let metrics = broker.admin_get("/metrics");
    assert!(
        metrics.contains("\nrunnel_active_controller 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nrunnel_leader_partitions 4\n"),
        "{metrics}"
    );
}

/// Item 10: the broker's own output: plain text in a file, Kafka's dotted names bare in TOML,
/// errors that name the key, and the playground's address on the start line.
#[test]
fn the_brokers_own_output() {
    let broker = Runnel::start("cli-user-broker", &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !broker.log().contains("playground and /metrics on http://") {
        assert!(Instant::now() < deadline, "{}", broker.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        broker.log().contains(&format!(
            "playground and /metrics on http://127.0.0.1:{}/",
            broker.admin_port
        )),
        "{}",
        broker.log()
    );
    assert!(
        !broker.log().contains('\x1b'),
        "no colour codes in a pipe: {:?}",
        broker.log()
    );
    let dir = temp_dir("cli-user-toml");
    let file = dir.join("runnel.toml");
    std::fs::write(&file, "num.partitions = \"abc\"\n").expect("toml");
    let bad = run(&["-c", file.to_str().expect("path")], b"", &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("num.partitions = \"abc\": invalid type: string \"abc\""),
        "{bad:?}"
    );
    let set = run(&["--set", "num.partitions=abc"], b"", &[]);
    assert!(stderr(&set).contains("num.partitions = \"abc\""), "{set:?}");
    // Bare dotted keys are Kafka's names: this one starts and creates 3 partitions a topic.
    let port = runnel_tests::free_port();
    let admin = runnel_tests::free_port();
    std::fs::write(
        &file,
        format!(
            "num.partitions = 3\nlisteners = \"127.0.0.1:{port}\"\nadmin.listener = \"127.0.0.1:{admin}\"\nlog.dirs = \"{}\"\n",
            dir.join("data").display()
        ),
    )
    .expect("toml");
    let mut child = Command::new(runnel_binary())
        .args(["-c", file.to_str().expect("path")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let b = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !run(&["topic", "list", "-b", &b], b"", &[]).status.success() {
        assert!(
            Instant::now() < deadline,
            "the TOML-configured broker never listened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // -p -1 asks for the broker's num.partitions (KIP-464); the report says what was made.
    let created = run(&["topic", "create", "x", "-p", "-1", "-b", &b], b"", &[]);
    let described = run(&["topic", "describe", "x", "-b", &b], b"", &[]);
    interrupt(&child);
    let _ = child.wait();
    assert_eq!(stdout(&created), "created topic x with 3 partitions\n");
    assert!(
        stdout(&described).starts_with("topic x: 3 partitions"),
        "{described:?}"
    );
}

/// What rpk and kcat users reach for: produce headers, partition, tombstones, a file, acks,
/// compression, timestamps; consume several topics, partitions with offsets, JSON, null
/// distinct from empty, dates; topic describe with configs.
#[test]
fn what_rpk_and_kcat_users_reach_for() {
    let broker = Runnel::start("cli-user-features", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "a", "-p", "2", "-b", &b], b"");
    runnel(&["topic", "create", "z", "-b", &b], b"");
    let dir = temp_dir("cli-user-file");
    let file = dir.join("in.txt");
    std::fs::write(&file, "k1:v1\nk2:\n").expect("file");
    runnel(
        &[
            "produce",
            "a",
            file.to_str().expect("path"),
            "-K",
            ":",
            "-Z",
            "-H",
            "trace=42",
            "-p",
            "1",
            "--timestamp",
            "2026-01-02T03:04:05Z",
            "-z",
            "zstd",
            "-b",
            &b,
        ],
        b"",
    );
    runnel(
        &["produce", "z", "--acks", "1", "-z", "gzip", "-b", &b],
        b"\n",
    );
    runnel(&["produce", "z", "--acks", "0", "-b", &b], b"zero\n");
    // acks=0 gets no answer: wait until the broker has appended it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while runnel(&["consume", "z", "-b", &b], b"").lines().count() < 2 {
        assert!(Instant::now() < deadline, "the acks=0 record never arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = runnel(
        &[
            "consume",
            "a",
            "z",
            "-f",
            "%t %p %o %k %K %S %h %T %d|%s\\n",
            "-b",
            &b,
        ],
        b"",
    );
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    let ts = 1_767_323_045_000i64;
    let stamped = format!("{ts} 2026-01-02T03:04:05.000Z");
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[0], format!("a 1 0 k1 2 2 trace=42 {stamped}|v1"));
    // -Z: the empty value is a tombstone (-1), not an empty string (0).
    assert_eq!(lines[1], format!("a 1 1 k2 2 -1 trace=42 {stamped}|"));
    assert!(lines[2].starts_with("z 0 0  -1 0  "), "{out}");
    assert!(
        lines[3].starts_with("z 0 1  -1 4  ") && lines[3].ends_with("|zero"),
        "{out}"
    );
    let json = runnel(&["consume", "a", "-p", "1:1", "-o", "json", "-b", &b], b"");
    assert_eq!(
        json,
        format!(
            "{{\"topic\":\"a\",\"partition\":1,\"offset\":1,\"timestamp\":{ts},\"timestamp_type\":\"CreateTime\",\"key\":\"k2\",\"value\":null,\"headers\":[{{\"key\":\"trace\",\"value\":\"42\"}}]}}\n"
        )
    );
}

/// Defect 1 on a real terminal (util-linux `script` gives `produce` a pseudo-terminal): each
/// typed line is readable within a second of Enter, and Ctrl-C typed into the terminal (the
/// line discipline's SIGINT) sends what was read and ends the producer cleanly.
#[test]
fn typing_into_produce_on_a_terminal() {
    let broker = Runnel::start("cli-user-tty", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "typed", "-b", &b], b"");
    for (linger, lines) in [("5", &["one", "two"][..]), ("600000", &["three"][..])] {
        let command = format!(
            "{} produce typed --linger-ms {linger} -b {b}",
            runnel_binary().display()
        );
        let (terminal, mut keyboard) = terminal(&command);
        // Let the producer start and read its terminal.
        std::thread::sleep(Duration::from_millis(500));
        for line in lines {
            keyboard
                .write_all(format!("{line}\r").as_bytes())
                .expect("type");
            keyboard.flush().expect("flush");
            if linger == "5" {
                let typed = Instant::now();
                while runnel(&["consume", "typed", "-b", &b], b"").lines().last() != Some(line) {
                    assert!(
                        typed.elapsed() < Duration::from_secs(1),
                        "{line} not readable a second after Enter"
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(300));
        keyboard.write_all(b"\x03").expect("Ctrl-C");
        keyboard.flush().expect("flush");
        let out = terminal.wait_with_output().expect("script output");
        let screen = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{screen:?}");
        assert!(
            screen.contains(&format!(
                "interrupted: produced {} to typed",
                match lines.len() {
                    1 => "1 record".to_string(),
                    n => format!("{n} records"),
                }
            )),
            "{screen:?}"
        );
    }
    assert_eq!(
        runnel(&["consume", "typed", "-b", &b], b""),
        "one\ntwo\nthree\n",
        "what was typed before Ctrl-C was sent, with the long linger too"
    );
}

/// Ctrl-C typed into a terminal running `consume -G --follow`: the member commits what it
/// printed and leaves, so the group is Empty at once with its commits at the end.
#[test]
fn ctrl_c_on_a_terminal_leaves_the_group_with_its_commits() {
    let broker = Runnel::start("cli-user-tty-group", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "seen", "-p", "2", "-b", &b], b"");
    let input: String = (0..50).map(|i| format!("k{i}:v{i}\n")).collect();
    runnel(&["produce", "seen", "-K", ":", "-b", &b], input.as_bytes());
    let command = format!(
        "{} consume seen -G watchers --follow -b {b}",
        runnel_binary().display()
    );
    let (terminal, mut keyboard) = terminal(&command);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stdout(&run(&["group", "describe", "watchers", "-b", &b], b"", &[]))
        .contains("Stable with 1 member")
    {
        assert!(Instant::now() < deadline, "the member never joined");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Following, it commits what it printed every 5 s (Kafka's auto.commit.interval.ms), so
    // a member that is killed loses little.
    let deadline = Instant::now() + Duration::from_secs(20);
    while commits(&b, "watchers").iter().map(|r| r.1).sum::<i64>() != 50 {
        assert!(Instant::now() < deadline, "no commit while following");
        std::thread::sleep(Duration::from_millis(200));
    }
    keyboard.write_all(b"\x03").expect("Ctrl-C");
    keyboard.flush().expect("flush");
    let out = terminal.wait_with_output().expect("script output");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen:?}");
    assert!(
        screen.contains("interrupted after 50 records; committed them and left the group"),
        "{screen:?}"
    );
    let described = runnel(&["group", "describe", "watchers", "-b", &b], b"");
    assert!(
        described.starts_with("group watchers: Empty with 0 members"),
        "{described}"
    );
    let rows = commits(&b, "watchers");
    assert_eq!(rows.len(), 2, "{described}");
    assert!(
        rows.iter().all(|(_, committed, end)| committed == end),
        "{described}"
    );
}

/// What the new-user review after the fixes still met: `produce` to a topic that does not
/// exist creates it where the broker allows (Kafka's console producer asks Metadata with
/// `allow.auto.create.topics`, default true, and kcat does the same), and is refused by name
/// where `auto.create.topics.enable=false`; `--bootstrap-server` is kafka-*.sh's name for `-b`.
#[test]
fn produce_creates_a_missing_topic_where_the_broker_allows_it() {
    let broker = Runnel::start("cli-user-autocreate", &["num.partitions=2"]);
    let b = broker.bootstrap();
    let out = run(
        &["produce", "fresh", "--bootstrap-server", &b],
        b"one\ntwo\n",
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let described = runnel(&["topic", "describe", "fresh", "-o", "json", "-b", &b], b"");
    let v: serde_json::Value = serde_json::from_str(&described).expect("json");
    assert_eq!(
        v["partition_list"].as_array().map(Vec::len),
        Some(2),
        "{described}"
    );
    let mut read: Vec<String> = runnel(&["consume", "fresh", "-b", &b], b"")
        .lines()
        .map(str::to_string)
        .collect();
    read.sort();
    assert_eq!(read, ["one", "two"]);

    let strict = Runnel::start(
        "cli-user-no-autocreate",
        &["auto.create.topics.enable=false"],
    );
    let sb = strict.bootstrap();
    let refused = run(&["produce", "fresh", "-b", &sb], b"one\n", &[]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        stderr(&refused),
        "runnel: topic fresh: unknown topic or partition (UNKNOWN_TOPIC_OR_PARTITION, Kafka error 3)\n"
    );
}

/// `consume --follow` through a broker restart: the read waits for the broker, says so once,
/// and goes on where it was (kcat and rpk reconnect too), instead of ending with "closed the
/// connection". Ctrl-C still ends it cleanly.
#[test]
fn following_survives_a_broker_restart() {
    use std::io::BufRead;
    let mut broker = Runnel::start("cli-user-follow-restart", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "tail", "-b", &b], b"");
    runnel(&["produce", "tail", "-b", &b], b"before\n");
    let mut child = Command::new(runnel_binary())
        .args(["consume", "tail", "--follow", "-b", &b])
        .env_remove("RUNNEL_BROKERS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("consume");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let next = |rx: &std::sync::mpsc::Receiver<String>| {
        rx.recv_timeout(Duration::from_secs(20))
            .expect("a line within 20 s")
    };
    assert_eq!(next(&rx), "before");
    assert!(broker.terminate(), "the broker stops cleanly");
    std::thread::sleep(Duration::from_secs(2));
    broker.restart();
    runnel(&["produce", "tail", "-b", &b], b"after\n");
    assert_eq!(next(&rx), "after");
    interrupt(&child);
    let out = child.wait_with_output().expect("consume ends");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("reconnecting (Ctrl-C stops)").count(),
        1,
        "{err}"
    );
    assert!(err.contains("runnel: reconnected\n"), "{err}");
}
