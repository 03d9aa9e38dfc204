//! Durability (issue 3) with the real binary: the data directory is interchangeable with Go
//! nsqd's (§3.9, §4), queued, in-flight, deferred and paused state survive a clean restart
//! (BEH-100/101), ephemeral queues never touch the disk (BEH-012, BEH-063), write failures are
//! reported and recovered from (BEH-013, BEH-200), deferred messages keep their schedule
//! across a restart (#1107), and with durable acks a SIGKILL loses nothing answered OK.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nsq_tests::{
    http_get, http_post, stats_channel, stats_topic, wait_until, Msg, Nsqd, RawConn, FRAME_ERROR,
    FRAME_RESPONSE,
};

const LONG: Duration = Duration::from_secs(20);

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn copy_fixture(name: &str) -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    for f in files_in(&src) {
        std::fs::copy(src.join(&f), dir.path().join(&f)).unwrap();
    }
    dir
}

/// Reads `n` messages and FINs each.
fn take(c: &mut RawConn, n: usize) -> Vec<Msg> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let m = c.read_message();
        c.fin(&m.id);
        out.push(m);
    }
    out
}

fn bodies(msgs: &[Msg]) -> BTreeSet<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The record go-diskqueue stores for a message: `[4 len][8 ts][2 attempts][16 id][body]`.
fn record(m: &Msg, attempts: u16) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&((26 + m.body.len()) as u32).to_be_bytes());
    r.extend_from_slice(&m.timestamp.to_be_bytes());
    r.extend_from_slice(&attempts.to_be_bytes());
    r.extend_from_slice(m.id.as_bytes());
    r.extend_from_slice(&m.body);
    r
}

fn create_channel(n: &Nsqd, topic: &str, channel: &str) {
    let r = http_post(
        n.http_addr,
        &format!("/topic/create?topic={}", topic.replace('#', "%23")),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let (topic, channel) = (topic.replace('#', "%23"), channel.replace('#', "%23"));
    let r = http_post(
        n.http_addr,
        &format!("/channel/create?topic={topic}&channel={channel}"),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

fn channel_stat(n: &Nsqd, topic: &str, channel: &str, key: &str) -> i64 {
    let s = n.stats();
    stats_channel(&s, topic, channel)
        .unwrap_or_else(|| panic!("no channel {topic}/{channel} in {s}"))[key]
        .as_i64()
        .unwrap()
}

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

#[test]
fn go_data_directory_is_taken_over() {
    let dir = copy_fixture("go-data-v1.3");
    let n = Nsqd::start_in(dir, &[]);
    let s = n.stats();
    let orders = stats_topic(&s, "orders").expect("orders restored");
    assert_eq!(orders["paused"], false);
    assert_eq!(
        stats_topic(&s, "idle").expect("idle restored")["paused"],
        true
    );
    // The paused topic keeps its backlog; the running one hands its backlog to both channels.
    assert_eq!(stats_topic(&s, "idle").unwrap()["depth"], 2);
    assert!(wait_until(LONG, || {
        let s = n.stats();
        stats_topic(&s, "orders").unwrap()["depth"] == 0
            && stats_channel(&s, "orders", "billing").unwrap()["depth"] == 6
            && stats_channel(&s, "orders", "audit").unwrap()["depth"] == 3
    }));
    assert_eq!(
        stats_channel(&n.stats(), "orders", "audit").unwrap()["paused"],
        true
    );

    let mut c = n.consumer("orders", "billing", 10);
    let got = take(&mut c, 6);
    assert_eq!(
        bodies(&got),
        set(&[
            "billing-4",
            "billing-5-in-flight",
            "billing-6",
            "billing-7-in-flight",
            "topic-backlog-1",
            "topic-backlog-2"
        ])
    );
    for m in &got {
        // Attempts come from the records; this delivery adds one.
        let stored = u16::from(m.body.ends_with(b"in-flight"));
        assert_eq!(m.attempts, stored + 1, "{m:?}");
        let seq = u64::from_str_radix(&m.id, 16).unwrap() - 0x0610AB0000000000;
        assert_eq!(m.timestamp, 1_700_000_000_000_000_000 + seq as i64);
    }
    assert!(c.try_read_message(Duration::from_millis(200)).is_none());
    // The consumed first file of the billing queue is gone, as Go would leave it.
    let names = files_in(n.data_dir.path());
    assert!(
        !names.contains(&"orders:billing.diskqueue.000001.dat".to_string()),
        "{names:?}"
    );
    assert!(!names.iter().any(|f| f.ends_with(".bad")), "{names:?}");

    let r = http_post(
        n.http_addr,
        "/channel/unpause?topic=orders&channel=audit",
        b"",
    );
    assert_eq!(r.status, 200);
    let mut a = n.consumer("orders", "audit", 10);
    assert_eq!(
        bodies(&take(&mut a, 3)),
        set(&["audit-8", "topic-backlog-1", "topic-backlog-2"])
    );
}

#[test]
fn written_directory_matches_go_layout_byte_for_byte() {
    let mut n = Nsqd::start();
    create_channel(&n, "layout", "c");
    let mut p = n.conn();
    for b in [&b"first"[..], b"second", b"third"] {
        p.publish("layout", b);
    }
    // Delivered and not finished: in flight at shutdown, so written with attempts 1.
    let mut c = n.consumer("layout", "c", 10);
    let got: Vec<Msg> = (0..3).map(|_| c.read_message()).collect();
    assert_eq!(n.terminate().code(), Some(0));

    let dir = n.data_dir.path();
    assert_eq!(
        files_in(dir),
        vec![
            "layout.diskqueue.meta.dat",
            "layout:c.diskqueue.000000.dat",
            "layout:c.diskqueue.meta.dat",
            "nsqd.dat"
        ]
    );
    let mut expected = Vec::new();
    for m in &got {
        assert_eq!(m.attempts, 1);
        expected.extend(record(m, 1));
    }
    assert_eq!(
        std::fs::read(dir.join("layout:c.diskqueue.000000.dat")).unwrap(),
        expected
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("layout:c.diskqueue.meta.dat")).unwrap(),
        format!("3\n0,0\n0,{}\n", expected.len())
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("layout.diskqueue.meta.dat")).unwrap(),
        "0\n0,0\n0,0\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("nsqd.dat")).unwrap(),
        r#"{"topics":[{"name":"layout","paused":false,"channels":[{"name":"c","paused":false}]}],"version":"1.3.0"}"#
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in files_in(dir) {
            let mode = std::fs::metadata(dir.join(&f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }

    // And the directory reads back: the same messages, one attempt more.
    n.restart_with(&[]);
    let mut c = n.consumer("layout", "c", 10);
    let again = take(&mut c, 3);
    for (a, b) in got.iter().zip(&again) {
        assert_eq!((&a.id, a.timestamp, &a.body), (&b.id, b.timestamp, &b.body));
        assert_eq!(b.attempts, 2);
    }
}

#[test]
fn memory_and_disk_backlog_survive_a_restart() {
    let mut n = Nsqd::start_with(&["--mem-queue-size=10"]);
    create_channel(&n, "backlog", "c");
    let mut p = n.conn();
    let all: Vec<String> = (0..50).map(|i| format!("msg-{i}")).collect();
    for chunk in all.chunks(7) {
        let refs: Vec<&[u8]> = chunk.iter().map(|s| s.as_bytes()).collect();
        p.mpub("backlog", &refs);
    }
    // A topic without channels holds its messages too (BEH-004).
    for i in 0..25 {
        p.publish("held", format!("held-{i}").as_bytes());
    }
    let s = n.stats();
    let c = stats_channel(&s, "backlog", "c").unwrap();
    assert_eq!(
        (c["depth"].as_i64(), c["backend_depth"].as_i64()),
        (Some(50), Some(40))
    );
    let t = stats_topic(&s, "held").unwrap();
    assert_eq!(
        (t["depth"].as_i64(), t["backend_depth"].as_i64()),
        (Some(25), Some(15))
    );

    n.restart_with(&["--mem-queue-size=10"]);
    assert_eq!(channel_stat(&n, "backlog", "c", "depth"), 50);
    let mut c = n.consumer("backlog", "c", 100);
    let got = take(&mut c, 50);
    let want: BTreeSet<String> = all.into_iter().collect();
    assert_eq!(bodies(&got), want);
    assert!(got.iter().all(|m| m.attempts == 1));

    // The held topic's backlog reaches a channel created after the restart.
    let mut h = n.consumer("held", "late", 100);
    let got = take(&mut h, 25);
    let want: BTreeSet<String> = (0..25).map(|i| format!("held-{i}")).collect();
    assert_eq!(bodies(&got), want);
    assert!(h.try_read_message(Duration::from_millis(200)).is_none());
}

#[test]
fn mem_queue_size_zero_sends_every_message_through_disk() {
    let n = Nsqd::start_with(&["--mem-queue-size=0"]);
    create_channel(&n, "disk", "c");
    let mut p = n.conn();
    p.mpub("disk", &[b"a", b"b", b"c"]);
    let s = n.stats();
    let c = stats_channel(&s, "disk", "c").unwrap();
    assert_eq!(
        (c["depth"].as_i64(), c["backend_depth"].as_i64()),
        (Some(3), Some(3))
    );
    // Straight to the channel's queue: written once, not at the topic first.
    let names = files_in(n.data_dir.path());
    assert!(
        names.contains(&"disk:c.diskqueue.000000.dat".to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"disk.diskqueue.000000.dat".to_string()),
        "{names:?}"
    );
    let mut c = n.consumer("disk", "c", 10);
    assert_eq!(bodies(&take(&mut c, 3)), set(&["a", "b", "c"]));
}

#[test]
fn in_flight_and_requeued_messages_come_back_with_their_attempts() {
    let mut n = Nsqd::start_with(&["--mem-queue-size=0"]);
    create_channel(&n, "inflight", "c");
    let mut p = n.conn();
    p.mpub("inflight", &[b"one", b"two", b"three"]);
    let mut c = n.consumer("inflight", "c", 10);
    let got: Vec<Msg> = (0..3).map(|_| c.read_message()).collect();
    // One goes back to the queue (to disk with mem-queue-size=0), two stay in flight.
    c.req(&got[0].id, 0);
    let again = c.read_message();
    assert_eq!((again.id.as_str(), again.attempts), (got[0].id.as_str(), 2));
    drop(c);
    n.restart_with(&["--mem-queue-size=0"]);
    let mut c = n.consumer("inflight", "c", 10);
    let mut after = take(&mut c, 3);
    after.sort_by(|a, b| a.id.cmp(&b.id));
    let mut want: Vec<(String, u16)> = got
        .iter()
        .map(|m| (m.id.clone(), if m.id == got[0].id { 3 } else { 2 }))
        .collect();
    want.sort();
    let have: Vec<(String, u16)> = after.iter().map(|m| (m.id.clone(), m.attempts)).collect();
    assert_eq!(have, want);
}

#[test]
fn deferred_messages_keep_their_schedule_across_a_restart() {
    const DEFER: Duration = Duration::from_secs(5);
    let mut n = Nsqd::start();
    create_channel(&n, "later", "c");
    let published_at = unix_now();
    n.conn()
        .dpub("later", DEFER.as_millis() as u64, b"deferred");
    // A REQ with a delay defers too.
    n.conn().publish("later", b"requeued");
    let mut c = n.consumer("later", "c", 1);
    let m = c.read_message();
    assert_eq!(m.body, b"requeued");
    let requeued_at = unix_now();
    c.req(&m.id, DEFER.as_millis() as u64);
    assert!(wait_until(LONG, || channel_stat(
        &n,
        "later",
        "c",
        "deferred_count"
    ) == 2));
    drop(c);
    assert_eq!(n.terminate().code(), Some(0));

    let side = n.data_dir.path().join("later:c.deferred.dat");
    let text = std::fs::read_to_string(&side).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "nsqd-deferred 1");
    assert!(lines[1..].iter().any(|l| l.starts_with(&m.id)), "{text}");

    n.restart_with(&[]);
    let mut c = n.consumer("later", "c", 2);
    // Read back from disk into the deferred queue, not delivered.
    assert!(wait_until(LONG, || {
        channel_stat(&n, "later", "c", "deferred_count") == 2
            && channel_stat(&n, "later", "c", "depth") == 0
    }));
    let first = c.read_message();
    let first_at = unix_now();
    let second = c.read_message();
    let second_at = unix_now();
    let due = |body: &[u8]| {
        if body == b"deferred" {
            published_at + DEFER
        } else {
            requeued_at + DEFER
        }
    };
    assert!(first_at >= due(&first.body), "{first:?} came early");
    assert!(second_at >= due(&second.body), "{second:?} came early");
    assert_eq!(bodies(&[first, second]), set(&["deferred", "requeued"]));
}

#[test]
fn paused_topics_and_channels_stay_paused() {
    let mut n = Nsqd::start();
    create_channel(&n, "p1", "c");
    create_channel(&n, "p2", "c");
    assert_eq!(
        http_post(n.http_addr, "/topic/pause?topic=p1", b"").status,
        200
    );
    assert_eq!(
        http_post(n.http_addr, "/channel/pause?topic=p2&channel=c", b"").status,
        200
    );
    let mut p = n.conn();
    p.publish("p1", b"at-topic");
    p.publish("p2", b"at-channel");
    n.restart_with(&[]);
    let s = n.stats();
    assert_eq!(stats_topic(&s, "p1").unwrap()["paused"], true);
    assert_eq!(stats_topic(&s, "p1").unwrap()["depth"], 1);
    assert_eq!(stats_channel(&s, "p2", "c").unwrap()["paused"], true);
    assert_eq!(stats_channel(&s, "p2", "c").unwrap()["depth"], 1);
    let mut c1 = n.consumer("p1", "c", 1);
    let mut c2 = n.consumer("p2", "c", 1);
    assert!(c1.try_read_message(Duration::from_millis(200)).is_none());
    assert!(c2.try_read_message(Duration::from_millis(200)).is_none());
    assert_eq!(
        http_post(n.http_addr, "/topic/unpause?topic=p1", b"").status,
        200
    );
    assert_eq!(
        http_post(n.http_addr, "/channel/unpause?topic=p2&channel=c", b"").status,
        200
    );
    assert_eq!(c1.read_message().body, b"at-topic");
    assert_eq!(c2.read_message().body, b"at-channel");
}

#[test]
fn ephemeral_topics_and_channels_never_touch_the_disk() {
    let mut n = Nsqd::start_with(&["--mem-queue-size=2"]);
    create_channel(&n, "keep", "gone#ephemeral");
    // (A channel without the suffix on an ephemeral topic has a disk queue in Go nsqd too.)
    create_channel(&n, "eph#ephemeral", "c#ephemeral");
    let mut p = n.conn();
    for i in 0..5 {
        p.publish("keep", format!("k{i}").as_bytes());
        p.publish("eph#ephemeral", format!("e{i}").as_bytes());
    }
    // Overflow past the memory queue is dropped (BEH-012).
    assert_eq!(channel_stat(&n, "keep", "gone#ephemeral", "depth"), 2);
    assert_eq!(channel_stat(&n, "eph#ephemeral", "c#ephemeral", "depth"), 2);
    n.restart_with(&["--mem-queue-size=2"]);
    let names = files_in(n.data_dir.path());
    assert!(!names.iter().any(|f| f.contains("ephemeral")), "{names:?}");
    let s = n.stats();
    assert!(stats_topic(&s, "eph#ephemeral").is_none());
    assert!(stats_channel(&s, "keep", "gone#ephemeral").is_none());
}

/// Sets nsqd's soft RLIMIT_FSIZE: writes past `bytes` in any file fail with EFBIG, a disk-full
/// stand-in that needs no privileges and no test seam in the binary.
fn limit_file_size(n: &Nsqd, bytes: u64) {
    let lim = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit(2) on our own child process with a valid rlimit struct.
    let rc = unsafe {
        libc::prlimit(
            n.pid() as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn a_failed_disk_write_is_reported_and_writing_recovers() {
    let n = Nsqd::start_with(&["--mem-queue-size=0"]);
    create_channel(&n, "full", "c");
    // 100-byte bodies make 130-byte records: seven fit under 1000 bytes.
    limit_file_size(&n, 1000);
    let body = |i: usize| format!("{i:0>100}").into_bytes();
    let mut p = n.conn();
    let mut acked = Vec::new();
    let mut failure = None;
    for i in 0..20 {
        p.cmd_body("PUB full", &body(i));
        let (ft, data) = p.read_frame_skip_heartbeats();
        if ft == FRAME_RESPONSE && data == b"OK" {
            acked.push(body(i));
            continue;
        }
        assert_eq!(ft, FRAME_ERROR);
        failure = Some(String::from_utf8(data).unwrap());
        break;
    }
    assert_eq!(acked.len(), 7);
    let failure = failure.expect("a publish failed");
    assert!(
        failure.starts_with("E_PUB_FAILED PUB failed write ")
            && failure.contains("full:c.diskqueue.000000.dat"),
        "{failure}"
    );
    p.expect_closed(Duration::from_secs(5));
    let ping = http_get(n.http_addr, "/ping");
    assert_eq!(ping.status, 500);
    assert!(ping.text().starts_with("NOK - write "), "{}", ping.text());
    let r = http_post(n.http_addr, "/pub?topic=full", &body(99));
    assert_eq!(
        (r.status, r.text()),
        (503, r#"{"message":"EXITING"}"#.to_string())
    );

    // Space comes back: the next write succeeds and nsqd is healthy again.
    limit_file_size(&n, libc::RLIM_INFINITY);
    n.conn().publish("full", &body(100));
    acked.push(body(100));
    let ping = http_get(n.http_addr, "/ping");
    assert_eq!((ping.status, ping.text()), (200, "OK".to_string()));
    let mut c = n.consumer("full", "c", 20);
    let got = take(&mut c, acked.len());
    let got: BTreeSet<Vec<u8>> = got.into_iter().map(|m| m.body).collect();
    assert_eq!(got, acked.into_iter().collect::<BTreeSet<_>>());
    assert!(c.try_read_message(Duration::from_millis(200)).is_none());
}

#[test]
fn sigkill_during_a_durable_publish_stream_loses_nothing_answered_ok() {
    crash_during_publish_stream(&["--mem-queue-size=0", "--sync-every=1"]);
}

/// Without durable acks a SIGKILL (unlike a power cut) loses nothing either once every
/// publish goes to disk: the records reach the OS before `OK`, and start-up finds the ones the
/// metadata does not know of yet, across rollovers too.
#[test]
fn sigkill_with_stale_disk_queue_metadata_loses_nothing_answered_ok() {
    crash_during_publish_stream(&["--mem-queue-size=0", "--max-bytes-per-file=2048"]);
}

fn crash_during_publish_stream(args: &[&str]) {
    let mut n = Nsqd::start_with(args);
    // One topic publishes straight into its channel's queue, one into its own queue.
    create_channel(&n, "crash", "c");
    let acked: Arc<Mutex<BTreeMap<&'static str, Vec<String>>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let publishers: Vec<_> = (0..4)
        .map(|w| {
            let (addr, acked, stop) = (n.tcp_addr, acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let topic = if w % 2 == 0 { "crash" } else { "crash_nochan" };
                let Some(mut c) = Publisher::connect(addr) else {
                    return;
                };
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let body = format!("w{w}-{i}");
                    let line = if i % 3 == 0 {
                        format!("MPUB {topic}")
                    } else {
                        format!("PUB {topic}")
                    };
                    let payload = if i % 3 == 0 {
                        nsq_tests::mpub_body(&[body.as_bytes(), format!("{body}-b").as_bytes()])
                    } else {
                        body.clone().into_bytes()
                    };
                    match c.call(&line, &payload) {
                        Some((FRAME_RESPONSE, d)) if d == b"OK" => {
                            let mut a = acked.lock().unwrap();
                            let list = a.entry(topic).or_default();
                            list.push(body.clone());
                            if i % 3 == 0 {
                                list.push(format!("{body}-b"));
                            }
                        }
                        _ => break,
                    }
                }
            })
        })
        .collect();
    let enough = wait_until(Duration::from_secs(60), || {
        acked.lock().unwrap().values().map(Vec::len).sum::<usize>() >= 400
    });
    assert!(enough, "publishers too slow");
    n.kill();
    stop.store(true, Ordering::Relaxed);
    for p in publishers {
        p.join().unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());

    n.restart_with(args);
    for (topic, sent) in acked {
        let mut c = n.consumer(topic, "c", 1000);
        let mut seen = BTreeSet::new();
        let want: BTreeSet<String> = sent.into_iter().collect();
        let deadline = Instant::now() + LONG;
        while !want.is_subset(&seen) && Instant::now() < deadline {
            match c.try_read_message(Duration::from_secs(2)) {
                Some(m) => {
                    c.fin(&m.id);
                    seen.insert(String::from_utf8(m.body).unwrap());
                }
                None => break,
            }
        }
        let missing: Vec<&String> = want.difference(&seen).collect();
        assert!(
            missing.is_empty(),
            "{topic}: lost {} acked messages: {missing:?}",
            missing.len()
        );
    }
}

/// A publisher that sees a dying nsqd as the end of its stream rather than a test failure.
struct Publisher {
    stream: std::net::TcpStream,
}

impl Publisher {
    fn connect(addr: std::net::SocketAddr) -> Option<Publisher> {
        let mut stream = std::net::TcpStream::connect(addr).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        stream.write_all(b"  V2").ok()?;
        Some(Publisher { stream })
    }

    /// Sends `line\n[size][body]` and reads the next frame; None once the connection is gone.
    fn call(&mut self, line: &str, body: &[u8]) -> Option<(i32, Vec<u8>)> {
        let mut v = Vec::with_capacity(line.len() + 5 + body.len());
        v.extend_from_slice(line.as_bytes());
        v.push(b'\n');
        v.extend_from_slice(&(body.len() as u32).to_be_bytes());
        v.extend_from_slice(body);
        self.stream.write_all(&v).ok()?;
        let mut head = [0u8; 8];
        self.stream.read_exact(&mut head).ok()?;
        let size = u32::from_be_bytes(head[0..4].try_into().ok()?) as usize;
        let frame_type = i32::from_be_bytes(head[4..8].try_into().ok()?);
        let mut data = vec![0u8; size.checked_sub(4)?];
        self.stream.read_exact(&mut data).ok()?;
        Some((frame_type, data))
    }
}

const DURABLE: &[&str] = &["--mem-queue-size=0", "--sync-every=1"];

/// Pipelined durable publishes share an fsync, yet every command is answered in order: 100
/// publishes in one write get 100 `OK`s, and the fatal error of the command after them comes
/// last.
#[test]
fn pipelined_durable_publishes_are_answered_in_order() {
    let n = Nsqd::start_with(DURABLE);
    create_channel(&n, "pipe", "c");
    let mut want = Vec::new();
    let mut batch = Vec::new();
    for i in 0..100 {
        let body = format!("m{i}");
        let (line, payload) = match i {
            40 => {
                want.push(format!("{body}-b"));
                let b = nsq_tests::mpub_body(&[body.as_bytes(), format!("{body}-b").as_bytes()]);
                ("MPUB pipe".to_string(), b)
            }
            70 => ("DPUB pipe 0".to_string(), body.clone().into_bytes()),
            _ => ("PUB pipe".to_string(), body.clone().into_bytes()),
        };
        want.push(body);
        batch.extend_from_slice(line.as_bytes());
        batch.push(b'\n');
        batch.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        batch.extend_from_slice(&payload);
    }
    // Not subscribed: a fatal E_INVALID that must not overtake the OKs.
    batch.extend_from_slice(b"FIN 0123456789abcdef\n");
    let mut c = n.conn();
    c.send(&batch);
    for i in 0..100 {
        let (ft, data) = c.read_frame_skip_heartbeats();
        assert!(
            ft == FRAME_RESPONSE && data == b"OK",
            "answer {i}: frame type {ft} {:?}",
            String::from_utf8_lossy(&data)
        );
    }
    c.expect_error("E_INVALID cannot FIN in current state");
    c.expect_closed(LONG);

    let mut consumer = n.consumer("pipe", "c", 1000);
    let got = bodies(&take(&mut consumer, want.len()));
    let want: BTreeSet<String> = want.into_iter().collect();
    assert_eq!(got, want);
}

/// A subscribed client that publishes too: a non-fatal error between durable publishes is
/// answered between their OKs, and the connection carries on.
#[test]
fn non_fatal_errors_between_durable_publishes_keep_their_place() {
    let n = Nsqd::start_with(DURABLE);
    create_channel(&n, "mixed", "c");
    let mut c = n.consumer("mixed", "c", 0);
    let mut batch = Vec::new();
    for line in [
        "PUB mixed",
        "FIN 0123456789abcdef",
        "PUB mixed",
        "PUB mixed",
    ] {
        batch.extend_from_slice(line.as_bytes());
        batch.push(b'\n');
        if line.starts_with("PUB") {
            batch.extend_from_slice(&1u32.to_be_bytes());
            batch.push(b'x');
        }
    }
    c.send(&batch);
    c.expect_response(b"OK");
    let (ft, data) = c.read_frame_skip_heartbeats();
    assert_eq!(ft, FRAME_ERROR);
    assert!(
        data.starts_with(b"E_FIN_FAILED FIN 0123456789abcdef failed"),
        "{:?}",
        String::from_utf8_lossy(&data)
    );
    c.expect_response(b"OK");
    c.expect_response(b"OK");
    c.rdy(3);
    let got = take(&mut c, 3);
    assert!(got.iter().all(|m| m.body == b"x"));
}

/// While durable publishes wait for their fsyncs, other connections carry on: a consumer
/// receives every message published on a third connection, and every publisher gets its OKs.
#[test]
fn waiting_durable_publishes_do_not_hold_up_other_connections() {
    let n = Nsqd::start_with(DURABLE);
    create_channel(&n, "busy", "c");
    let stop = Arc::new(AtomicBool::new(false));
    let publishers: Vec<_> = (0..4)
        .map(|_| {
            let (addr, stop) = (n.tcp_addr, stop.clone());
            std::thread::spawn(move || {
                let mut c = RawConn::connect(addr);
                let mut batch = Vec::new();
                for _ in 0..20 {
                    batch.extend_from_slice(b"PUB busy\n\0\0\0\x01y");
                }
                let mut acked = 0;
                loop {
                    c.send(&batch);
                    for _ in 0..20 {
                        c.expect_response(b"OK");
                    }
                    acked += 20;
                    if stop.load(Ordering::Relaxed) {
                        return acked;
                    }
                }
            })
        })
        .collect();

    let mut consumer = n.consumer("other", "c", 1);
    let mut publisher = n.conn();
    for i in 0..50 {
        let body = format!("o{i}");
        publisher.publish("other", body.as_bytes());
        let m = consumer.read_message();
        assert_eq!(m.body, body.as_bytes());
        consumer.fin(&m.id);
    }
    stop.store(true, Ordering::Relaxed);
    let acked: usize = publishers.into_iter().map(|p| p.join().unwrap()).sum();
    assert_eq!(channel_stat(&n, "busy", "c", "depth") as usize, acked);
}
