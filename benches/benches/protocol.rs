//! Hot paths of the wire protocol: command-line parsing, message frame encoding, MPUB parsing.

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use nsq_protocol::command::{
    parse_mpub_payload, parse_uint, read_line, split_params, Command, Line,
};
use nsq_protocol::guid::guid_to_message_id;
use nsq_protocol::message::Message;

/// A read buffer as a busy consumer/producer sends it: FIN bursts, RDY updates, PUB headers.
fn command_batch() -> Vec<u8> {
    let mut buf = Vec::new();
    for i in 0..200u64 {
        let id = guid_to_message_id(0x18a4_d2c5_2526_9000 + i);
        match i % 4 {
            0 | 1 => {
                buf.extend_from_slice(b"FIN ");
                buf.extend_from_slice(&id);
                buf.push(b'\n');
            }
            2 => buf.extend_from_slice(format!("RDY {}\n", i % 2500).as_bytes()),
            _ => buf.extend_from_slice(b"PUB some_topic.name\r\n"),
        }
    }
    buf
}

fn bench_parse_commands(c: &mut Criterion) {
    let batch = command_batch();
    let mut group = c.benchmark_group("commands");
    group.throughput(Throughput::Elements(200));
    group.bench_function("parse_200_lines", |b| {
        b.iter(|| {
            let mut rest = black_box(batch.as_slice());
            let mut seen = 0u64;
            while let Line::Complete { line, consumed } = read_line(rest) {
                let params = split_params(line);
                match Command::parse(params[0]) {
                    Some(Command::Rdy) => seen += parse_uint(params[1]).unwrap_or(0),
                    Some(_) => seen += params.len() as u64,
                    None => {}
                }
                rest = &rest[consumed..];
            }
            seen
        })
    });
    group.finish();
}

fn bench_message_frames(c: &mut Criterion) {
    let messages: Vec<Message> = (0..100u64)
        .map(|i| Message {
            id: guid_to_message_id(i),
            timestamp: 1_700_000_000_000_000_000 + i as i64,
            attempts: 1,
            body: Bytes::from(vec![b'x'; 200]),
        })
        .collect();
    let mut group = c.benchmark_group("message");
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("write_frame_100x200B", |b| {
        let mut out = BytesMut::with_capacity(64 * 1024);
        b.iter(|| {
            out.clear();
            for m in &messages {
                m.write_frame(&mut out);
            }
            black_box(out.len())
        })
    });
    group.finish();
}

fn bench_mpub(c: &mut Criterion) {
    let mut raw = BytesMut::new();
    raw.put_i32(200);
    for _ in 0..200 {
        raw.put_i32(200);
        raw.put_slice(&[b'm'; 200]);
    }
    let payload = raw.freeze();
    let mut group = c.benchmark_group("mpub");
    group.throughput(Throughput::Elements(200));
    group.bench_function("parse_200x200B", |b| {
        b.iter(|| {
            parse_mpub_payload(black_box(&payload), 1_048_576, 5_242_880)
                .map(|bodies| bodies.len())
                .unwrap_or(0)
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_parse_commands,
    bench_message_frames,
    bench_mpub
);
criterion_main!(benches);
