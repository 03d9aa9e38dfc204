//! Encoders for the commands a client sends (P- command table); each appends to a buffer so a
//! caller can batch several before one write.

use bytes::{BufMut, BytesMut};
use nsq_protocol::message::MessageId;

fn line(buf: &mut BytesMut, parts: &[&[u8]]) {
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            buf.put_u8(b' ');
        }
        buf.put_slice(p);
    }
    buf.put_u8(b'\n');
}

fn body(buf: &mut BytesMut, data: &[u8]) {
    buf.put_u32(data.len() as u32);
    buf.put_slice(data);
}

pub fn identify(buf: &mut BytesMut, json: &[u8]) {
    line(buf, &[b"IDENTIFY"]);
    body(buf, json);
}

pub fn auth(buf: &mut BytesMut, secret: &[u8]) {
    line(buf, &[b"AUTH"]);
    body(buf, secret);
}

pub fn publish(buf: &mut BytesMut, topic: &str, data: &[u8]) {
    line(buf, &[b"PUB", topic.as_bytes()]);
    body(buf, data);
}

pub fn deferred_publish(buf: &mut BytesMut, topic: &str, delay_ms: u64, data: &[u8]) {
    line(
        buf,
        &[b"DPUB", topic.as_bytes(), delay_ms.to_string().as_bytes()],
    );
    body(buf, data);
}

/// `MPUB <topic>\n[size][count]([size][body])*`
pub fn multi_publish<B: AsRef<[u8]>>(buf: &mut BytesMut, topic: &str, bodies: &[B]) {
    line(buf, &[b"MPUB", topic.as_bytes()]);
    let total: usize = 4 + bodies.iter().map(|b| 4 + b.as_ref().len()).sum::<usize>();
    buf.reserve(4 + total);
    buf.put_u32(total as u32);
    buf.put_u32(bodies.len() as u32);
    for b in bodies {
        body(buf, b.as_ref());
    }
}

pub fn subscribe(buf: &mut BytesMut, topic: &str, channel: &str) {
    line(buf, &[b"SUB", topic.as_bytes(), channel.as_bytes()]);
}

pub fn ready(buf: &mut BytesMut, count: i64) {
    line(buf, &[b"RDY", count.to_string().as_bytes()]);
}

pub fn finish(buf: &mut BytesMut, id: &MessageId) {
    line(buf, &[b"FIN", id]);
}

pub fn requeue(buf: &mut BytesMut, id: &MessageId, delay_ms: u64) {
    line(buf, &[b"REQ", id, delay_ms.to_string().as_bytes()]);
}

pub fn touch(buf: &mut BytesMut, id: &MessageId) {
    line(buf, &[b"TOUCH", id]);
}

pub fn nop(buf: &mut BytesMut) {
    line(buf, &[b"NOP"]);
}

pub fn close(buf: &mut BytesMut) {
    line(buf, &[b"CLS"]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_bytes() {
        let mut b = BytesMut::new();
        publish(&mut b, "t", b"hi");
        assert_eq!(&b[..], b"PUB t\n\x00\x00\x00\x02hi");
        b.clear();
        multi_publish(&mut b, "t", &[b"a".as_slice(), b"bc".as_slice()]);
        assert_eq!(
            &b[..],
            b"MPUB t\n\x00\x00\x00\x0f\x00\x00\x00\x02\x00\x00\x00\x01a\x00\x00\x00\x02bc"
        );
        b.clear();
        deferred_publish(&mut b, "t", 1500, b"x");
        assert_eq!(&b[..], b"DPUB t 1500\n\x00\x00\x00\x01x");
        b.clear();
        requeue(&mut b, b"0123456789abcdef", 0);
        ready(&mut b, 25);
        assert_eq!(&b[..], b"REQ 0123456789abcdef 0\nRDY 25\n");
    }
}
