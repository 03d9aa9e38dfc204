//! Throughput and latency benchmarks for any NSQ-compatible nsqd, speaking the raw TCP
//! protocol (so figures from this tool and from NSQ's own bench_writer / bench_reader measure
//! the same thing against the same server).
//!
//! ```text
//! nsq_bench writer  [--size 200] [--batch-size 200] [--runfor 10s] [--workers N] [--topics 1]
//! nsq_bench pub     [--size 200] [--runfor 10s] [--workers N] [--topics 1]
//! nsq_bench reader  [--size 200] [--channel ch] [--rdy 2500] [--runfor 10s] [--workers N]
//! nsq_bench latency [--rate 10000] [--size 200] [--runfor 10s] [--workers N]
//! nsq_bench fanout  [--channels 4] [--size 200] [--batch-size 200] [--runfor 10s] [--workers N]
//! common: [--nsqd-tcp-address 127.0.0.1:4150] [--topic sub_bench]
//!         [--tls] [--snappy | --deflate [--deflate-level 6]]
//! ```
//!
//! - writer: one connection per worker, each sending `MPUB` batches of `--batch-size` and
//!   waiting for the answer before the next, until `--runfor` has passed (bench_writer).
//! - pub: like writer but one `PUB` per message, waiting for each answer; each worker runs
//!   on its own thread, as the round trip is all that is measured.
//! - reader: one connection per worker, `SUB` then a single `RDY --rdy`, a `FIN` for every
//!   message (FINs batched between reads), for `--runfor` (bench_reader).
//! - latency: one connection publishes `PUB` at `--rate` messages/s while `--workers`
//!   readers consume; each body carries its send time, and the publish-to-delivery latency
//!   percentiles are printed.
//! - fanout: readers on `--channels` channels (`--workers` connections each) while writers
//!   publish; prints the write rate and the total delivery rate over all channels.
//!
//! `--tls`, `--snappy` and `--deflate` negotiate those upgrades on every connection, to measure
//! what they cost; `--tls` does not verify nsqd's certificate (a load generator for a server you
//! run yourself). Without them IDENTIFY carries no feature negotiation, as in NSQ's tools.
//!
//! `--workers` defaults to the number of CPUs, as NSQ's tools use GOMAXPROCS. Output lines have
//! the same fields as NSQ's tools; `mb/s` is MiB/s (bytes / 2^20 per second).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use nsq_client::command;
use nsq_client::conn::{Conn, Frame};
use nsq_client::Config;
use nsq_common::duration::{format_go_duration, parse_go_duration};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Debug)]
struct Args {
    mode: String,
    addr: String,
    topic: String,
    channel: String,
    size: usize,
    batch_size: usize,
    runfor: Duration,
    rdy: i64,
    workers: usize,
    rate: u64,
    channels: usize,
    topics: usize,
    tls: bool,
    snappy: bool,
    deflate: bool,
    deflate_level: i64,
}

const USAGE: &str =
    "usage: nsq_bench <writer|pub|reader|latency|fanout> [--nsqd-tcp-address addr] \
[--topic t] [--channel c] [--size n] [--batch-size n] [--runfor dur] [--rdy n] [--workers n] \
[--rate n] [--channels n] [--topics n] [--tls] [--snappy | --deflate [--deflate-level n]]";

fn parse_args() -> Result<Args, String> {
    let mut argv = std::env::args().skip(1);
    let mode = argv.next().ok_or(USAGE)?;
    if !["writer", "pub", "reader", "latency", "fanout"].contains(&mode.as_str()) {
        return Err(format!("unknown mode {mode:?}\n{USAGE}"));
    }
    let mut a = Args {
        mode,
        addr: "127.0.0.1:4150".into(),
        topic: "sub_bench".into(),
        channel: "ch".into(),
        size: 200,
        batch_size: 200,
        runfor: Duration::from_secs(10),
        rdy: 2500,
        workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        rate: 10_000,
        channels: 4,
        topics: 1,
        tls: false,
        snappy: false,
        deflate: false,
        deflate_level: 6,
    };
    while let Some(flag) = argv.next() {
        let flag = flag.trim_start_matches('-').to_string();
        match flag.as_str() {
            "tls" => a.tls = true,
            "snappy" => a.snappy = true,
            "deflate" => a.deflate = true,
            _ => {}
        }
        if matches!(flag.as_str(), "tls" | "snappy" | "deflate") {
            continue;
        }
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => {
                let v = argv
                    .next()
                    .ok_or(format!("flag needs an argument: -{flag}"))?;
                (flag, v)
            }
        };
        let num = |v: &str| -> Result<u64, String> {
            v.parse::<u64>()
                .map_err(|_| format!("invalid value {v:?} for flag -{name}"))
        };
        match name.as_str() {
            "nsqd-tcp-address" => a.addr = value,
            "topic" => a.topic = value,
            "channel" => a.channel = value,
            "size" => a.size = num(&value)? as usize,
            "batch-size" => a.batch_size = num(&value)?.max(1) as usize,
            "runfor" => {
                a.runfor = parse_go_duration(&value)
                    .map_err(|e| format!("invalid value {value:?} for flag -runfor: {e}"))?
            }
            "rdy" => a.rdy = num(&value)? as i64,
            "workers" => a.workers = num(&value)?.max(1) as usize,
            "rate" => a.rate = num(&value)?.max(1),
            "channels" => a.channels = num(&value)?.max(1) as usize,
            "topics" => a.topics = num(&value)?.max(1) as usize,
            "deflate-level" => a.deflate_level = num(&value)?.clamp(1, 9) as i64,
            _ => return Err(format!("flag provided but not defined: -{name}\n{USAGE}")),
        }
    }
    if a.snappy && a.deflate {
        return Err("--snappy and --deflate exclude each other".into());
    }
    Ok(a)
}

fn log(prefix: &str, line: &str) {
    let now = chrono::Local::now().format("%Y/%m/%d %H:%M:%S");
    eprintln!("[{prefix}] {now} {line}");
}

/// The summary line of NSQ's bench tools.
fn report(prefix: &str, duration: Duration, count: u64, size: usize) {
    let secs = duration.as_secs_f64();
    let us_per_op = if count == 0 {
        0.0
    } else {
        duration.as_micros() as f64 / count as f64
    };
    log(
        prefix,
        &format!(
            "duration: {} - {:.3}mb/s - {:.3}ops/s - {:.3}us/op",
            format_go_duration(duration),
            (count * size as u64) as f64 / secs / 1024.0 / 1024.0,
            count as f64 / secs,
            us_per_op
        ),
    );
}

fn bench_config() -> Config {
    Config {
        write_timeout: Duration::from_secs(60),
        read_timeout: Duration::from_secs(120),
        dial_timeout: Duration::from_secs(1),
        ..Config::default()
    }
}

async fn connect(args: &Args, mut identify: serde_json::Value) -> Result<Conn, BoxError> {
    let mut config = bench_config();
    if args.tls || args.snappy || args.deflate {
        identify["feature_negotiation"] = true.into();
        identify["tls_v1"] = args.tls.into();
        identify["snappy"] = args.snappy.into();
        identify["deflate"] = args.deflate.into();
        identify["deflate_level"] = args.deflate_level.into();
        config.tls_insecure_skip_verify = true;
        config.deflate_level = args.deflate_level;
    }
    let body = identify.to_string();
    Ok(Conn::connect_with_identify(&args.addr, &config, body.as_bytes()).await?)
}

async fn writer_conn(args: &Args) -> Result<Conn, BoxError> {
    connect(
        args,
        serde_json::json!({
            "client_id": "writer",
            "hostname": "writer",
            "user_agent": format!("nsq_bench/{}", env!("CARGO_PKG_VERSION")),
        }),
    )
    .await
}

async fn reader_conn(args: &Args, channel: &str) -> Result<Conn, BoxError> {
    let mut conn = connect(
        args,
        serde_json::json!({
            "client_id": "reader",
            "hostname": "reader",
            "user_agent": format!("nsq_bench/{}", env!("CARGO_PKG_VERSION")),
        }),
    )
    .await?;
    conn.subscribe(&args.topic, channel).await?;
    Ok(conn)
}

/// Waits for the answer to one publish; heartbeats are answered on the way.
async fn expect_ok(conn: &mut Conn) -> Result<(), BoxError> {
    loop {
        match conn.reader.read_frame().await? {
            f if f.is_heartbeat() => {
                command::nop(&mut conn.writer.buf);
                conn.writer.flush().await?;
            }
            Frame::Response(_) => return Ok(()),
            Frame::Error(e) => return Err(e.to_string().into()),
            Frame::Message(_) => return Err("unexpected message on a publishing connection".into()),
        }
    }
}

fn topic_name(args: &Args, i: usize) -> String {
    if args.topics <= 1 {
        args.topic.clone()
    } else {
        format!("{}_{}", args.topic, i % args.topics)
    }
}

/// MPUB (or PUB when `single`) until `end`; answers how many messages were accepted.
async fn pub_worker(
    mut conn: Conn,
    args: Arc<Args>,
    worker: usize,
    single: bool,
    end: Instant,
) -> Result<u64, BoxError> {
    let body = vec![b'a'; args.size];
    // Prebuilt commands, one per topic this worker cycles through.
    let cmds: Vec<BytesMut> = (0..args.topics)
        .map(|i| {
            let topic = topic_name(&args, worker + i);
            let mut b = BytesMut::new();
            if single {
                command::publish(&mut b, &topic, &body);
            } else {
                let batch = vec![body.as_slice(); args.batch_size];
                command::multi_publish(&mut b, &topic, &batch);
            }
            b
        })
        .collect();
    let per_cmd = if single { 1 } else { args.batch_size as u64 };
    let mut count = 0u64;
    let mut i = 0usize;
    loop {
        conn.writer.write_raw(&cmds[i % cmds.len()]).await?;
        expect_ok(&mut conn).await?;
        count += per_cmd;
        i += 1;
        if Instant::now() >= end {
            return Ok(count);
        }
    }
}

/// RDY once, FIN every message, until `end`; answers how many messages arrived. `latency`
/// collects publish-to-delivery times from bodies that start with a send timestamp.
async fn sub_worker(
    mut conn: Conn,
    rdy: i64,
    end: Instant,
    latency: Option<Arc<parking_lot::Mutex<Vec<u64>>>>,
) -> Result<u64, BoxError> {
    command::ready(&mut conn.writer.buf, rdy);
    conn.writer.flush().await?;
    let mut count = 0u64;
    let mut local = Vec::new();
    let deadline = tokio::time::Instant::from_std(end);
    loop {
        let frame = match conn.reader.try_frame()? {
            Some(f) => f,
            None => {
                // About to wait for the network: send the FINs gathered so far first.
                conn.writer.flush().await?;
                tokio::select! {
                    f = conn.reader.read_frame() => f?,
                    _ = tokio::time::sleep_until(deadline) => break,
                }
            }
        };
        match frame {
            f if f.is_heartbeat() => command::nop(&mut conn.writer.buf),
            Frame::Response(_) => {}
            Frame::Error(e) => log("nsq_bench", &e.to_string()),
            Frame::Message(m) => {
                if latency.is_some() && m.body.len() >= 8 {
                    let mut ts = [0u8; 8];
                    ts.copy_from_slice(&m.body[..8]);
                    local.push(now_nanos().saturating_sub(u64::from_be_bytes(ts)));
                }
                command::finish(&mut conn.writer.buf, &m.id);
                count += 1;
                // Like bench_reader's 4 KiB buffered writer: FINs go out in batches.
                if conn.writer.buf.len() >= 4096 {
                    conn.writer.flush().await?;
                }
                if Instant::now() >= end {
                    break;
                }
            }
        }
    }
    let _ = conn.writer.flush().await;
    if let Some(l) = latency {
        l.lock().extend(local);
    }
    Ok(count)
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

async fn join_all(
    handles: Vec<tokio::task::JoinHandle<Result<u64, BoxError>>>,
) -> Result<u64, BoxError> {
    let mut total = 0;
    for h in handles {
        total += h.await??;
    }
    Ok(total)
}

async fn run_writers(args: &Arc<Args>) -> Result<(), BoxError> {
    let mut conns = Vec::new();
    for _ in 0..args.workers {
        conns.push(writer_conn(args).await?);
    }
    let start = Instant::now();
    let end = start + args.runfor;
    let handles = conns
        .into_iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(pub_worker(c, args.clone(), i, false, end)))
        .collect();
    let total = join_all(handles).await?;
    report("bench_writer", start.elapsed(), total, args.size);
    Ok(())
}

/// Single PUB is bound by round trips, so each worker gets its own thread and current-thread
/// runtime: an answer wakes the thread that waits for it, with no hand-off between the workers
/// of a shared runtime (which costs a second wake-up per message on a small machine).
fn run_pub_threads(args: &Arc<Args>) -> Result<(), BoxError> {
    let connected = Arc::new(std::sync::Barrier::new(args.workers + 1));
    let start_at = Arc::new(std::sync::OnceLock::<Instant>::new());
    let threads: Vec<_> = (0..args.workers)
        .map(|i| {
            let (args, connected, start_at) = (args.clone(), connected.clone(), start_at.clone());
            std::thread::spawn(move || -> Result<u64, BoxError> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let runtime = match runtime {
                    Ok(r) => r,
                    Err(e) => {
                        connected.wait();
                        return Err(e.into());
                    }
                };
                runtime.block_on(async {
                    let conn = writer_conn(&args).await;
                    // Every worker connects before any starts, as in `run_writers`; a failed
                    // connection still passes the barrier so the others are not stuck.
                    connected.wait();
                    let start = *start_at.get_or_init(Instant::now);
                    pub_worker(conn?, args.clone(), i, true, start + args.runfor).await
                })
            })
        })
        .collect();
    connected.wait();
    let start = *start_at.get_or_init(Instant::now);
    let mut total = 0;
    for t in threads {
        total += t.join().map_err(|_| "a worker thread panicked")??;
    }
    report("bench_pub", start.elapsed(), total, args.size);
    Ok(())
}

async fn run_readers(args: &Arc<Args>) -> Result<(), BoxError> {
    let mut conns = Vec::new();
    for _ in 0..args.workers {
        conns.push(reader_conn(args, &args.channel).await?);
    }
    let start = Instant::now();
    let end = start + args.runfor;
    let handles = conns
        .into_iter()
        .map(|c| tokio::spawn(sub_worker(c, args.rdy, end, None)))
        .collect();
    let total = join_all(handles).await?;
    report("bench_reader", start.elapsed(), total, args.size);
    Ok(())
}

async fn run_fanout(args: &Arc<Args>) -> Result<(), BoxError> {
    let mut readers = Vec::new();
    for c in 0..args.channels {
        for _ in 0..args.workers {
            readers.push(reader_conn(args, &format!("{}{c}", args.channel)).await?);
        }
    }
    let mut writers = Vec::new();
    for _ in 0..args.workers {
        writers.push(writer_conn(args).await?);
    }
    let start = Instant::now();
    let end = start + args.runfor;
    let r: Vec<_> = readers
        .into_iter()
        .map(|c| tokio::spawn(sub_worker(c, args.rdy, end, None)))
        .collect();
    let w: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(pub_worker(c, args.clone(), i, false, end)))
        .collect();
    let written = join_all(w).await?;
    let write_time = start.elapsed();
    let read = join_all(r).await?;
    report("bench_fanout_writer", write_time, written, args.size);
    report("bench_fanout_reader", start.elapsed(), read, args.size);
    Ok(())
}

fn percentile(sorted: &[u64], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    Duration::from_nanos(sorted[idx])
}

async fn run_latency(args: &Arc<Args>) -> Result<(), BoxError> {
    let samples = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let mut readers = Vec::new();
    for _ in 0..args.workers {
        readers.push(reader_conn(args, &args.channel).await?);
    }
    let conn = writer_conn(args).await?;
    let start = Instant::now();
    let end = start + args.runfor;
    // Readers run a little past the publishing window so the last messages are measured.
    let drain_end = end + Duration::from_secs(2);
    let r: Vec<_> = readers
        .into_iter()
        .map(|c| tokio::spawn(sub_worker(c, args.rdy, drain_end, Some(samples.clone()))))
        .collect();

    let Conn {
        mut reader,
        mut writer,
        ..
    } = conn;
    let acked = Arc::new(AtomicU64::new(0));
    let acks = {
        let acked = acked.clone();
        tokio::spawn(async move {
            while let Ok(f) = reader.read_frame().await {
                match f {
                    Frame::Response(d) if &d[..] == b"OK" => {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Frame::Error(e) => log("bench_latency", &e.to_string()),
                    _ => {}
                }
            }
        })
    };
    let interval = Duration::from_nanos(1_000_000_000 / args.rate);
    let mut body = vec![b'a'; args.size.max(8)];
    let mut sent = 0u64;
    let mut next = Instant::now();
    while Instant::now() < end {
        // Send everything due by now, so a slow tick does not lower the offered rate.
        let now = Instant::now();
        while next <= now {
            body[..8].copy_from_slice(&now_nanos().to_be_bytes());
            command::publish(&mut writer.buf, &args.topic, &body);
            sent += 1;
            next += interval;
        }
        writer.flush().await?;
        tokio::time::sleep_until(tokio::time::Instant::from_std(next)).await;
    }
    let received = join_all(r).await?;
    acks.abort();
    let mut all = std::mem::take(&mut *samples.lock());
    all.sort_unstable();
    log(
        "bench_latency",
        &format!(
            "rate: {}/s - sent: {sent} - acked: {} - received: {received} - p50: {:?} - p99: {:?} - p99.9: {:?} - max: {:?}",
            args.rate,
            acked.load(Ordering::Relaxed),
            percentile(&all, 0.50),
            percentile(&all, 0.99),
            percentile(&all, 0.999),
            percentile(&all, 1.0),
        ),
    );
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if args.mode == "pub" {
        if let Err(e) = run_pub_threads(&args) {
            eprintln!("nsq_bench: {e}");
            std::process::exit(1);
        }
        return;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.clamp(1, 64))
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async {
        match args.mode.as_str() {
            "writer" => run_writers(&args).await,
            "reader" => run_readers(&args).await,
            "latency" => run_latency(&args).await,
            _ => run_fanout(&args).await,
        }
    });
    if let Err(e) = result {
        eprintln!("nsq_bench: {e}");
        std::process::exit(1);
    }
}
