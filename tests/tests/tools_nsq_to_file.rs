//! nsq_to_file (spec §8.3) driven as a real process against a real nsqd (and nsqlookupd for
//! topic discovery): file names and contents, gzip members, rotation, the work dir, shutdown
//! and the validation messages.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::read::{GzDecoder, MultiGzDecoder};
use nsq_tests::lookupd::Nsqlookupd;
use nsq_tests::tools::{self, publish_all as publish, Tool};
use nsq_tests::{stats_channel, wait_until, Nsqd};
use regex::Regex;

const WAIT: Duration = Duration::from_secs(10);
const TOOL: &str = "nsq_to_file";
const CHANNEL: &str = "nsq_to_file";

/// The links of the tool's open file descriptors (Linux: /proc/<pid>/fd).
fn open_files(tool: &Tool) -> Vec<PathBuf> {
    std::fs::read_dir(format!("/proc/{}/fd", tool.pid()))
        .map(|fds| {
            fds.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the tool has `path` open.
fn has_open(tool: &Tool, path: &Path) -> bool {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    open_files(tool).contains(&path)
}

/// The files under `dir` the tool holds open.
fn open_files_in(tool: &Tool, dir: &Path) -> Vec<PathBuf> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    open_files(tool)
        .into_iter()
        .filter(|target| target.starts_with(&dir))
        .collect()
}

fn start(args: &[String]) -> Tool {
    Tool::start(TOOL, args)
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn bodies(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}-{i:02}")).collect()
}

fn lines_of(bodies: &[String]) -> String {
    bodies.iter().map(|b| format!("{b}\n")).collect()
}

/// (depth, in_flight_count, requeue_count, timeout_count) of the tool's channel.
fn channel_counts(nsqd: &Nsqd, topic: &str) -> Option<(u64, u64, u64, u64)> {
    let stats = nsqd.stats();
    let c = stats_channel(&stats, topic, CHANNEL)?;
    let n = |k: &str| c[k].as_u64().unwrap_or(u64::MAX);
    Some((
        n("depth"),
        n("in_flight_count"),
        n("requeue_count"),
        n("timeout_count"),
    ))
}

/// Every message was FINed: nothing queued, nothing in flight, nothing requeued or timed out.
fn all_finished(nsqd: &Nsqd, topic: &str) -> bool {
    channel_counts(nsqd, topic) == Some((0, 0, 0, 0))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn gunzip_all(path: &Path) -> String {
    let mut s = String::new();
    MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

/// The common flags: one nsqd, a fixed <DATETIME> and <HOST>, files under `dir`.
fn base_args(nsqd: &Nsqd, topic: &str, dir: &Path) -> Vec<String> {
    args(&[
        &format!("--nsqd-tcp-address={}", nsqd.tcp_addr),
        &format!("--topic={topic}"),
        &format!("--output-dir={}", dir.display()),
        "--datetime-format=fixed",
        "--host-identifier=vm",
    ])
}

#[test]
fn validation_errors_are_fatal_go_log_lines() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--topic=t", "extra", "more"],
            "unknown arguments: [extra more]",
        ),
        (&["--log-level=loud"], "--log-level is invalid"),
        (&["--channel="], "--channel is required"),
        (
            &["--http-client-connect-timeout=0"],
            "--http-client-connect-timeout should be positive",
        ),
        (
            &["--http-client-request-timeout=0"],
            "--http-client-request-timeout should be positive",
        ),
        (
            &["--topic=t"],
            "--nsqd-tcp-address or --lookupd-http-address required.",
        ),
        (
            &[
                "--topic=t",
                "--nsqd-tcp-address=a:1",
                "--lookupd-http-address=b:2",
            ],
            "use --nsqd-tcp-address or --lookupd-http-address not both",
        ),
        (
            &["--topic=t", "--nsqd-tcp-address=a:1", "--gzip-level=0"],
            "invalid --gzip-level value (0), should be 1-9",
        ),
        (
            &["--nsqd-tcp-address=a:1"],
            "--topic or --topic-pattern required",
        ),
        (
            &["--nsqd-tcp-address=a:1", "--topic-pattern=x"],
            "--lookupd-http-address must be specified when no --topic specified",
        ),
    ];
    for (argv, msg) in cases {
        tools::assert_fatal(TOOL, argv, msg);
    }
}

#[test]
fn version_and_usage_header() {
    let (code, out, _) = tools::run_tool(TOOL, &["--version"]);
    assert_eq!((code, out.as_str()), (0, "nsq_to_file v1.3.0\n"));
    let (code, _, err) = tools::run_tool(TOOL, &["-h"]);
    assert_eq!(code, 0);
    assert!(err.starts_with("Usage of nsqd:\n"), "{err}");
    assert!(err.contains("-topic-pattern"), "{err}");
}

#[test]
fn missing_rev_is_logged_for_the_topic_which_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut tool = start(&args(&[
        "--nsqd-tcp-address=127.0.0.1:1",
        "--topic=t",
        "--gzip",
        "--filename-format=<TOPIC>.log",
        &format!("--output-dir={}", dir.path().display()),
    ]));
    let want = "ERROR: couldn't create logger for new topic t: missing <REV> in \
                --filename-format when gzip, rotation, or work dir enabled";
    assert!(
        wait_until(WAIT, || tool.has_log(want)),
        "logs: {:#?}",
        tool.logs()
    );
    let line = tool.logs().into_iter().find(|l| l.contains(want)).unwrap();
    let shape =
        Regex::new(r"^\[nsq_to_file\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} ERROR: ").unwrap();
    assert!(shape.is_match(&line), "{line}");
    tool.terminate();
    assert!(file_names(dir.path()).is_empty());
}

#[test]
fn plain_file_is_appended_with_one_line_per_message() {
    let nsqd = Nsqd::start();
    let dir = tempfile::tempdir().unwrap();
    // Without gzip, rotation or a work dir the file is opened for append and <REV> vanishes.
    let name = "plain.vm.fixed.log";
    std::fs::write(dir.path().join(name), "old\n").unwrap();
    let msgs = bodies("p", 3);
    publish(&nsqd, "plain", &msgs);
    let mut a = base_args(&nsqd, "plain", dir.path());
    a.push("--sync-interval=50ms".into());
    // A bad consumer option is dropped silently (QRK-40).
    a.push("--consumer-opt=no_such_option,1".into());
    let mut tool = start(&a);
    let want = format!("old\n{}", lines_of(&msgs));
    assert!(
        wait_until(WAIT, || read(&dir.path().join(name)) == want
            && all_finished(&nsqd, "plain")),
        "file {:?}, counts {:?}, logs {:#?}",
        read(&dir.path().join(name)),
        channel_counts(&nsqd, "plain"),
        tool.logs()
    );
    assert_eq!(file_names(dir.path()), vec![name.to_string()]);
    tool.terminate();
    assert_eq!(read(&dir.path().join(name)), want);
}

#[test]
fn filename_format_fills_topic_pid_and_datetime() {
    let nsqd = Nsqd::start();
    let dir = tempfile::tempdir().unwrap();
    publish(&nsqd, "named", &bodies("n", 1));
    let mut a = base_args(&nsqd, "named", dir.path());
    a.push("--filename-format=sub/<TOPIC>_<PID>_<DATETIME>.txt".into());
    a.push("--datetime-format=%%x".into());
    a.push("--max-in-flight=1".into());
    let mut tool = start(&a);
    let path = dir.path().join(format!("sub/named_{}_%x.txt", tool.pid()));
    assert!(
        wait_until(WAIT, || read(&path) == "n-01\n"),
        "files {:?}, logs {:#?}",
        file_names(&dir.path().join("sub")),
        tool.logs()
    );
    tool.terminate();
}

#[test]
fn gzip_file_is_a_concatenation_of_members_one_per_sync() {
    let nsqd = Nsqd::start();
    let dir = tempfile::tempdir().unwrap();
    let msgs = bodies("gz", 10);
    publish(&nsqd, "gz", &msgs);
    let mut a = base_args(&nsqd, "gz", dir.path());
    a.extend(args(&[
        "--gzip",
        "--gzip-level=9",
        "--max-in-flight=2",
        "--sync-interval=1h",
    ]));
    let mut tool = start(&a);
    let path = dir.path().join("gz.vm-000000.fixed.log.gz");
    // Everything FINed means everything synced, and a sync ends a member: the file decodes.
    assert!(
        wait_until(WAIT, || all_finished(&nsqd, "gz")),
        "counts {:?}, logs {:#?}",
        channel_counts(&nsqd, "gz"),
        tool.logs()
    );
    assert_eq!(gunzip_all(&path), lines_of(&msgs));
    let mut first = String::new();
    GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut first)
        .unwrap();
    assert!(
        !first.is_empty() && first.len() < lines_of(&msgs).len(),
        "expected several members, the first holds {first:?}"
    );
    tool.terminate();
    assert_eq!(gunzip_all(&path), lines_of(&msgs));
    assert_eq!(
        file_names(dir.path()),
        vec!["gz.vm-000000.fixed.log.gz".to_string()]
    );
}

#[test]
fn rotation_by_size_gives_consecutive_revisions() {
    let nsqd = Nsqd::start();
    let dir = tempfile::tempdir().unwrap();
    // 5 bytes + newline each; a file is rotated once it holds more than 10 bytes.
    let msgs = bodies("r", 6)
        .iter()
        .map(|b| format!("{b}x"))
        .collect::<Vec<_>>();
    assert_eq!(msgs[0], "r-01x");
    publish(&nsqd, "rot", &msgs);
    let mut a = base_args(&nsqd, "rot", dir.path());
    a.extend(args(&[
        "--rotate-size=10",
        "--max-in-flight=1",
        "--sync-interval=1h",
    ]));
    let mut tool = start(&a);
    let names = [
        "rot.vm-000000.fixed.log",
        "rot.vm-000001.fixed.log",
        "rot.vm-000002.fixed.log",
    ];
    assert!(
        wait_until(WAIT, || all_finished(&nsqd, "rot")
            && read(&dir.path().join(names[2])) == lines_of(&msgs[4..])),
        "files {:?}, logs {:#?}",
        file_names(dir.path()),
        tool.logs()
    );
    tool.terminate();
    assert_eq!(file_names(dir.path()), names.to_vec());
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            read(&dir.path().join(name)),
            lines_of(&msgs[i * 2..i * 2 + 2])
        );
    }
}

#[test]
fn work_dir_files_move_to_output_dir_skipping_taken_names() {
    let nsqd = Nsqd::start();
    let work = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let taken = out.path().join("mv.vm-000000.fixed.log");
    std::fs::write(&taken, "taken\n").unwrap();
    let msgs = bodies("mv", 2);
    publish(&nsqd, "mv", &msgs);
    let mut a = base_args(&nsqd, "mv", out.path());
    a.extend(args(&[
        &format!("--work-dir={}", work.path().display()),
        "--max-in-flight=1",
        "--sync-interval=1h",
    ]));
    let mut tool = start(&a);
    // Revision 0 already exists in the output dir, so the work file starts at revision 1.
    let working = work.path().join("mv.vm-000001.fixed.log");
    assert!(
        wait_until(WAIT, || read(&working) == lines_of(&msgs)
            && all_finished(&nsqd, "mv")),
        "work {:?}, logs {:#?}",
        file_names(work.path()),
        tool.logs()
    );
    // A name taken while the file is open is found at the move: the revision goes up again.
    std::fs::write(out.path().join("mv.vm-000001.fixed.log"), "late\n").unwrap();
    tool.terminate();
    assert!(
        file_names(work.path()).is_empty(),
        "{:?}",
        file_names(work.path())
    );
    assert_eq!(
        file_names(out.path()),
        vec![
            "mv.vm-000000.fixed.log".to_string(),
            "mv.vm-000001.fixed.log".to_string(),
            "mv.vm-000002.fixed.log".to_string(),
        ]
    );
    assert_eq!(read(&taken), "taken\n");
    assert_eq!(read(&out.path().join("mv.vm-000001.fixed.log")), "late\n");
    assert_eq!(
        read(&out.path().join("mv.vm-000002.fixed.log")),
        lines_of(&msgs)
    );
}

#[test]
fn sigterm_syncs_then_fins_everything_received() {
    let nsqd = Nsqd::start();
    let dir = tempfile::tempdir().unwrap();
    let msgs = bodies("term", 20);
    publish(&nsqd, "term", &msgs);
    let mut a = base_args(&nsqd, "term", dir.path());
    // Opening the file syncs the first message; after that neither the batch size,
    // starvation (85 of 100) nor the tick would sync the other 19.
    a.extend(args(&["--max-in-flight=100", "--sync-interval=1h"]));
    let mut tool = start(&a);
    assert!(
        wait_until(WAIT, || channel_counts(&nsqd, "term").is_some_and(
            |(depth, in_flight, _, _)| depth == 0 && in_flight == 19
        )),
        "counts {:?}, logs {:#?}",
        channel_counts(&nsqd, "term"),
        tool.logs()
    );
    tool.terminate();
    assert_eq!(read(&dir.path().join("term.vm.fixed.log")), lines_of(&msgs));
    assert!(
        wait_until(WAIT, || all_finished(&nsqd, "term")),
        "counts {:?}",
        channel_counts(&nsqd, "term")
    );
}

#[test]
fn sighup_closes_the_file_and_the_next_message_opens_a_new_revision() {
    let nsqd = Nsqd::start();
    let dir = tempfile::tempdir().unwrap();
    publish(&nsqd, "hup", &bodies("a", 2));
    let mut a = base_args(&nsqd, "hup", dir.path());
    a.extend(args(&["--gzip", "--max-in-flight=1", "--sync-interval=1h"]));
    let mut tool = start(&a);
    let first = dir.path().join("hup.vm-000000.fixed.log.gz");
    assert!(
        wait_until(WAIT, || all_finished(&nsqd, "hup")),
        "logs {:#?}",
        tool.logs()
    );
    assert_eq!(gunzip_all(&first), lines_of(&bodies("a", 2)));
    tool.signal(libc::SIGHUP);
    // The HUP has been handled once the tool no longer holds the file open.
    assert!(wait_until(WAIT, || !has_open(&tool, &first)));
    publish(&nsqd, "hup", &bodies("b", 1));
    let second = dir.path().join("hup.vm-000001.fixed.log.gz");
    assert!(
        wait_until(WAIT, || second.exists() && all_finished(&nsqd, "hup")),
        "files {:?}, logs {:#?}",
        file_names(dir.path()),
        tool.logs()
    );
    tool.terminate();
    assert_eq!(gunzip_all(&first), lines_of(&bodies("a", 2)));
    assert_eq!(gunzip_all(&second), lines_of(&bodies("b", 1)));
}

#[test]
fn topic_pattern_discovers_matching_topics_through_lookupd() {
    let lookupd = Nsqlookupd::start();
    let nsqd = Nsqd::start_with(&[&lookupd.nsqd_arg(), "--broadcast-address=127.0.0.1"]);
    let dir = tempfile::tempdir().unwrap();
    publish(&nsqd, "match_a", &bodies("a", 2));
    publish(&nsqd, "other_b", &bodies("b", 2));
    assert!(wait_until(WAIT, || !lookupd
        .producer_ports("match_a")
        .is_empty()
        && !lookupd.producer_ports("other_b").is_empty()));
    let mut tool = start(&args(&[
        &format!("--lookupd-http-address={}", lookupd.http_addr),
        "--topic-pattern=^match",
        "--topic-refresh=100ms",
        "--log-level=debug",
        "--max-in-flight=1",
        "--datetime-format=fixed",
        "--host-identifier=vm",
        &format!("--output-dir={}", dir.path().display()),
    ]));
    let file_a = dir.path().join("match_a.vm.fixed.log");
    assert!(
        wait_until(WAIT, || read(&file_a) == lines_of(&bodies("a", 2))
            && all_finished(&nsqd, "match_a")),
        "files {:?}, logs {:#?}",
        file_names(dir.path()),
        tool.logs()
    );
    assert!(wait_until(WAIT, || tool.has_log(
        "DEBUG: skipping topic other_b (doesn't match pattern ^match)"
    )));
    // A topic that appears later is picked up by the next refresh.
    publish(&nsqd, "match_c", &bodies("c", 1));
    let file_c = dir.path().join("match_c.vm.fixed.log");
    assert!(
        wait_until(WAIT, || read(&file_c) == lines_of(&bodies("c", 1))),
        "files {:?}, logs {:#?}",
        file_names(dir.path()),
        tool.logs()
    );
    tool.terminate();
    assert_eq!(
        file_names(dir.path()),
        vec![
            "match_a.vm.fixed.log".to_string(),
            "match_c.vm.fixed.log".to_string()
        ]
    );
    assert!(stats_channel(&nsqd.stats(), "other_b", CHANNEL).is_none());
}

#[test]
fn a_tick_that_finds_rotation_due_opens_the_next_file() {
    let nsqd = Nsqd::start();
    let dir = tempfile::tempdir().unwrap();
    publish(&nsqd, "tick", &bodies("t", 1));
    let mut a = base_args(&nsqd, "tick", dir.path());
    a.extend(args(&[
        "--rotate-size=3",
        "--max-in-flight=1",
        "--sync-interval=20ms",
    ]));
    let mut tool = start(&a);
    // The message overfills revision 0, so a tick opens revision 1 even though it stays empty.
    let next = dir.path().join("tick.vm-000001.fixed.log");
    assert!(
        wait_until(WAIT, || next.exists()),
        "files {:?}, logs {:#?}",
        file_names(dir.path()),
        tool.logs()
    );
    assert_eq!(read(&dir.path().join("tick.vm-000000.fixed.log")), "t-01\n");
    assert_eq!(read(&next), "");
    tool.terminate();
}

#[test]
fn skip_empty_files_closes_instead_of_opening_an_empty_file() {
    let nsqd = Nsqd::start();
    let dir = tempfile::tempdir().unwrap();
    publish(&nsqd, "skip", &bodies("s", 1));
    let mut a = base_args(&nsqd, "skip", dir.path());
    a.extend(args(&[
        "--rotate-size=3",
        "--max-in-flight=1",
        "--sync-interval=20ms",
        "--skip-empty-files",
    ]));
    let mut tool = start(&a);
    let first = dir.path().join("skip.vm-000000.fixed.log");
    // The tick that finds revision 0 overfull closes it and opens nothing.
    assert!(
        wait_until(WAIT, || read(&first) == "s-01\n"
            && open_files_in(&tool, dir.path()).is_empty()),
        "open {:?}, logs {:#?}",
        open_files_in(&tool, dir.path()),
        tool.logs()
    );
    assert_eq!(
        file_names(dir.path()),
        vec!["skip.vm-000000.fixed.log".to_string()]
    );
    // The next message opens the next revision.
    publish(&nsqd, "skip", &bodies("s", 2)[1..]);
    let second = dir.path().join("skip.vm-000001.fixed.log");
    assert!(
        wait_until(WAIT, || read(&second) == "s-02\n"),
        "files {:?}, logs {:#?}",
        file_names(dir.path()),
        tool.logs()
    );
    tool.terminate();
    assert_eq!(read(&first), "s-01\n");
}
