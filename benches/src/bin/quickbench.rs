//! A small end-to-end throughput check until the real bench tool lands (issue 6): publishes
//! 200-byte messages with MPUB batches over N connections for a fixed time, then drains them with
//! N consumers (RDY 2500, one FIN per message), and prints msgs/s for each phase.
//!
//! Usage: quickbench [--addr 127.0.0.1:4150] [--topic t] [--runfor 10] [--size 200]
//!                   [--batch 200] [--writers 2] [--readers 2]

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    addr: String,
    topic: String,
    runfor: u64,
    size: usize,
    batch: usize,
    writers: usize,
    readers: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:4150".into(),
        topic: format!("bench{}", std::process::id()),
        runfor: 10,
        size: 200,
        batch: 200,
        writers: 2,
        readers: 2,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < argv.len() {
        let v = argv[i + 1].clone();
        match argv[i].trim_start_matches('-') {
            "addr" => a.addr = v,
            "topic" => a.topic = v,
            "runfor" => a.runfor = v.parse().unwrap_or(a.runfor),
            "size" => a.size = v.parse().unwrap_or(a.size),
            "batch" => a.batch = v.parse().unwrap_or(a.batch),
            "writers" => a.writers = v.parse().unwrap_or(a.writers),
            "readers" => a.readers = v.parse().unwrap_or(a.readers),
            other => panic!("unknown flag {other}"),
        }
        i += 2;
    }
    a
}

fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<i32> {
    let mut head = [0u8; 8];
    r.read_exact(&mut head)?;
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let ft = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    buf.resize(size - 4, 0);
    r.read_exact(buf)?;
    Ok(ft)
}

fn connect(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).ok();
    s.write_all(b"  V2").expect("magic");
    s
}

fn writer(
    addr: String,
    topic: String,
    size: usize,
    batch: usize,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) {
    let mut s = connect(&addr);
    let msg = vec![b'a'; size];
    let mut body = Vec::new();
    body.extend_from_slice(&(batch as u32).to_be_bytes());
    for _ in 0..batch {
        body.extend_from_slice(&(size as u32).to_be_bytes());
        body.extend_from_slice(&msg);
    }
    let mut cmd = format!("MPUB {topic}\n").into_bytes();
    cmd.extend_from_slice(&(body.len() as u32).to_be_bytes());
    cmd.extend_from_slice(&body);
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut buf = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        s.write_all(&cmd).expect("write");
        let ft = read_frame(&mut r, &mut buf).expect("read");
        assert_eq!((ft, buf.as_slice()), (0, &b"OK"[..]), "MPUB failed");
        sent.fetch_add(batch as u64, Ordering::Relaxed);
    }
}

fn reader(addr: String, topic: String, target: u64, got: Arc<AtomicU64>) {
    let mut s = connect(&addr);
    s.write_all(format!("SUB {topic} ch\nRDY 2500\n").as_bytes())
        .expect("sub");
    let mut r = BufReader::with_capacity(256 * 1024, s.try_clone().expect("clone"));
    let mut buf = Vec::new();
    let mut fins: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        if r.buffer().is_empty() && !fins.is_empty() {
            s.write_all(&fins).expect("fin");
            fins.clear();
        }
        if got.load(Ordering::Relaxed) >= target {
            return;
        }
        match read_frame(&mut r, &mut buf) {
            Ok(2) => {
                fins.extend_from_slice(b"FIN ");
                fins.extend_from_slice(&buf[10..26]);
                fins.push(b'\n');
                got.fetch_add(1, Ordering::Relaxed);
            }
            Ok(0) if buf == b"_heartbeat_" => s.write_all(b"NOP\n").expect("nop"),
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

fn main() {
    let a = parse_args();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let ws: Vec<_> = (0..a.writers)
        .map(|_| {
            let (addr, topic, stop, sent) =
                (a.addr.clone(), a.topic.clone(), stop.clone(), sent.clone());
            let (size, batch) = (a.size, a.batch);
            std::thread::spawn(move || writer(addr, topic, size, batch, stop, sent))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(a.runfor));
    stop.store(true, Ordering::Relaxed);
    for w in ws {
        w.join().expect("writer");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = sent.load(Ordering::Relaxed);
    let mib = n as f64 * a.size as f64 / 1024.0 / 1024.0;
    println!(
        "PUB: {:.2}s, {} msgs, {:.0} msgs/s, {:.2} MiB/s ({} writers, MPUB batch {}, {}-byte bodies)",
        elapsed, n, n as f64 / elapsed, mib / elapsed, a.writers, a.batch, a.size
    );

    let got = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let rs: Vec<_> = (0..a.readers)
        .map(|_| {
            let (addr, topic, got) = (a.addr.clone(), a.topic.clone(), got.clone());
            std::thread::spawn(move || reader(addr, topic, n, got))
        })
        .collect();
    while got.load(Ordering::Relaxed) < n {
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "SUB: {:.2}s, {} msgs, {:.0} msgs/s, {:.2} MiB/s ({} readers, RDY 2500, FIN each)",
        elapsed,
        n,
        n as f64 / elapsed,
        mib / elapsed,
        a.readers
    );
    drop(rs);
    std::process::exit(0);
}
