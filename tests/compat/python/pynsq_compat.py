#!/usr/bin/env python3
"""Drive our nsqd with the official Python client (pynsq 0.9.1, tornado 6.0.4).

Run by tests/tests/compat_pynsq.rs, one scenario per invocation:

    pynsq_compat.py SCENARIO --tcp HOST:PORT --http HOST:PORT [--timeout SECONDS]

Scenarios: pubsub, requeue, timeout, timeout-client, heartbeat, and the stream upgrades snappy,
deflate, tls, tls-snappy, tls-deflate (these need `--ca CA.pem`, the CA that signed nsqd's
certificate for 127.0.0.1, when they use TLS).

Prints `PASS <scenario> ...` and exits 0 when every check holds; prints `FAIL <scenario>: <why>`
and exits 1 on the first mismatch, on any client-side error frame, or when the time limit is hit.
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys
import time
import urllib.request

import nsq
import tornado.ioloop
import tornado.util

# How many publish commands may be awaiting their OK at once.
PUBLISH_WINDOW = 200


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Progress:
    """What a scenario has seen so far; printed when it fails or times out."""

    def __init__(self):
        self.notes = {}

    def set(self, key, value):
        self.notes[key] = value

    def __str__(self):
        return " ".join("%s=%s" % kv for kv in sorted(self.notes.items()))


PROGRESS = Progress()


class CheckedReader(nsq.Reader):
    """A Reader that remembers every error frame, connection close and heartbeat."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.errors = []
        self.closes = 0
        self.heartbeats = 0

    def _on_connection_error(self, conn, error, **kwargs):
        self.errors.append(repr(error))
        super()._on_connection_error(conn, error, **kwargs)

    def _on_connection_close(self, conn, **kwargs):
        self.closes += 1
        super()._on_connection_close(conn, **kwargs)

    def heartbeat(self, conn):
        self.heartbeats += 1


async def wait_for(cond, timeout, what):
    """Poll `cond` on the event loop until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise Failure("timed out waiting for " + what)
        await asyncio.sleep(0.02)


async def connected_writer(tcp, **kwargs):
    writer = nsq.Writer([tcp], **kwargs)
    await wait_for(lambda: any(c.connected() for c in writer.conns.values()), 10,
                   "the Writer to connect")
    return writer


def publish(writer, command, topic, payload, delay_ms=None):
    """Send one PUB/MPUB/DPUB and return a future resolved with nsqd's answer."""
    fut = asyncio.get_event_loop().create_future()

    def done(conn, data):
        if fut.done():
            return
        if isinstance(data, Exception) or data != b"OK":
            fut.set_exception(Failure("%s to %s answered %r" % (command, topic, data)))
        else:
            fut.set_result(data)

    if command == "pub":
        writer.pub(topic, payload, callback=done)
    elif command == "mpub":
        writer.mpub(topic, payload, callback=done)
    elif command == "dpub":
        writer.dpub(topic, delay_ms, payload, callback=done)
    else:
        raise ValueError(command)
    return fut


async def publish_all(writer, ops):
    """Run (command, topic, payload, delay_ms) publishes with a bounded window of outstanding OKs."""
    pending = []
    for op in ops:
        pending.append(publish(writer, *op))
        if len(pending) >= PUBLISH_WINDOW:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)


def stats(http, topic):
    url = "http://%s/stats?format=json&topic=%s" % (http, topic)
    with urllib.request.urlopen(url, timeout=5) as resp:
        check(resp.status == 200, "/stats answered %d" % resp.status)
        return json.loads(resp.read())


def channel_stats(http, topic, channel):
    doc = stats(http, topic)
    topics = doc.get("topics") or []
    check(len(topics) == 1, "/stats lists %d topics for %s" % (len(topics), topic))
    for ch in topics[0]["channels"]:
        if ch["channel_name"] == channel:
            return topics[0], ch
    raise Failure("/stats has no channel %s in topic %s" % (channel, topic))


async def settled_channel(http, topic, channel):
    """Wait until the channel has nothing queued or in flight, then return (topic, channel) stats."""
    latest = {}

    def settled():
        t, ch = channel_stats(http, topic, channel)
        latest["t"], latest["ch"] = t, ch
        return ch["depth"] == 0 and ch["in_flight_count"] == 0 and ch["deferred_count"] == 0

    await wait_for(settled, 15, "channel %s/%s to drain" % (topic, channel))
    return latest["t"], latest["ch"]


def pub_body(i):
    return b"pub-%d-" % i + b"p" * (i % 50)


def mpub_body(i):
    # Bytes a text protocol would mangle: NUL, newline, high bytes.
    return b"mpub-%d-" % i + bytes((i * 7 + k) % 256 for k in range(i % 64))


def dpub_body(i):
    return b"dpub-%d" % i


async def scenario_pubsub(args):
    """PUB, MPUB and DPUB thousands of messages; one Reader FINs them all, each exactly once."""
    topic, channel = "pynsq_pubsub", "ch"
    n_pub, n_mpub, mpub_batch, n_dpub, defer_ms = 1000, 4000, 100, 20, 500

    received = {}
    dpub_sent_at = {}

    def handler(message):
        body = bytes(message.body)
        received.setdefault(body, []).append((message.attempts, time.monotonic()))
        PROGRESS.set("received", len(received))
        return True

    reader = CheckedReader(topic, channel, message_handler=handler,
                           nsqd_tcp_addresses=[args.tcp], max_in_flight=200)
    writer = await connected_writer(args.tcp)

    ops = [("pub", topic, pub_body(i)) for i in range(n_pub)]
    mpub_bodies = [mpub_body(i) for i in range(n_mpub)]
    ops += [("mpub", topic, mpub_bodies[i:i + mpub_batch]) for i in range(0, n_mpub, mpub_batch)]
    await publish_all(writer, ops)
    PROGRESS.set("published", n_pub + n_mpub)

    dpubs = []
    for i in range(n_dpub):
        dpub_sent_at[dpub_body(i)] = time.monotonic()
        dpubs.append(publish(writer, "dpub", topic, dpub_body(i), defer_ms))
    await asyncio.gather(*dpubs)

    expected = set(pub_body(i) for i in range(n_pub))
    expected |= set(mpub_bodies)
    expected |= set(dpub_sent_at)
    check(len(expected) == n_pub + n_mpub + n_dpub, "test bodies are not unique")

    await wait_for(lambda: len(received) >= len(expected) or reader.errors, 45,
                   "all %d messages" % len(expected))
    check(not reader.errors, "reader got errors: %s" % reader.errors[:3])
    check(set(received) == expected,
          "bodies differ: %d unexpected, %d missing" % (len(set(received) - expected),
                                                      len(expected - set(received))))
    dups = [b for b, seen in received.items() if len(seen) != 1]
    check(not dups, "%d messages delivered more than once, e.g. %r" % (len(dups), dups[:1]))
    again = [b for b, seen in received.items() if seen[0][0] != 1]
    check(not again, "%d messages arrived with attempts != 1" % len(again))
    for body, sent in dpub_sent_at.items():
        waited = received[body][0][1] - sent
        check(waited >= (defer_ms - 10) / 1000.0,
              "DPUB %r with %d ms defer arrived after %.3f s" % (body, defer_ms, waited))

    t, ch = await settled_channel(args.http, topic, channel)
    total = len(expected)
    check(t["message_count"] == total, "topic message_count %d != %d" % (t["message_count"], total))
    check(ch["message_count"] == total,
          "channel message_count %d != %d" % (ch["message_count"], total))
    check(ch["requeue_count"] == 0 and ch["timeout_count"] == 0,
          "unexpected requeue/timeout counts %d/%d" % (ch["requeue_count"], ch["timeout_count"]))
    finished = sum(c["finish_count"] for c in ch["clients"])
    check(finished == total, "clients' finish_count %d != %d" % (finished, total))
    check(not reader.errors, "reader got errors: %s" % reader.errors[:3])
    reader.close()
    return "received=%d (pub=%d mpub=%d dpub=%d)" % (total, n_pub, n_mpub, n_dpub)


async def scenario_requeue(args):
    """Every message is REQ'd once (delay 0) and must come back with attempts == 2."""
    topic, channel = "pynsq_requeue", "ch"
    n, batch = 500, 100
    bodies = [b"req-%d" % i for i in range(n)]
    first, second = set(), set()
    problems = []

    def handler(message):
        body = bytes(message.body)
        if message.attempts == 1:
            check_dup = body in first
            first.add(body)
            if check_dup:
                problems.append("%r delivered twice with attempts 1" % body)
            message.requeue(backoff=False, delay=0)
        elif message.attempts == 2:
            if body in second:
                problems.append("%r delivered twice with attempts 2" % body)
            second.add(body)
            message.finish()
        else:
            problems.append("%r arrived with attempts %d" % (body, message.attempts))
            message.finish()
        PROGRESS.set("first", len(first))
        PROGRESS.set("second", len(second))

    reader = CheckedReader(topic, channel, message_handler=handler,
                           nsqd_tcp_addresses=[args.tcp], max_in_flight=50)
    writer = await connected_writer(args.tcp)
    await publish_all(writer, [("mpub", topic, bodies[i:i + batch]) for i in range(0, n, batch)])

    await wait_for(lambda: len(second) >= n or problems or reader.errors, 45,
                   "all %d redeliveries" % n)
    check(not problems, "; ".join(problems[:3]))
    check(not reader.errors, "reader got errors: %s" % reader.errors[:3])
    check(first == set(bodies), "first deliveries differ from what was published")
    check(second == set(bodies), "redeliveries differ from what was published")

    _, ch = await settled_channel(args.http, topic, channel)
    check(ch["requeue_count"] == n, "requeue_count %d != %d" % (ch["requeue_count"], n))
    check(ch["timeout_count"] == 0, "timeout_count %d != 0" % ch["timeout_count"])
    finished = sum(c["finish_count"] for c in ch["clients"])
    check(finished == n, "clients' finish_count %d != %d" % (finished, n))
    reader.close()
    return "requeued=%d redelivered=%d" % (n, len(second))


async def scenario_timeout(args, client_msg_timeout):
    """Messages left un-FINed time out after 1 s and come back with attempts == 2.

    The 1 s timeout comes either from nsqd's --msg-timeout=1s (client_msg_timeout False) or from
    the client's IDENTIFY msg_timeout of 1000 ms (client_msg_timeout True).
    """
    topic = "pynsq_timeout_client" if client_msg_timeout else "pynsq_timeout"
    channel = "ch"
    n = 10
    bodies = [b"late-%d" % i for i in range(n)]
    first_at, second_at = {}, {}
    held = []
    problems = []

    def handler(message):
        body = bytes(message.body)
        if message.attempts == 1 and body not in first_at:
            first_at[body] = time.monotonic()
            message.enable_async()
            held.append(message)  # never answered: nsqd must time it out
        elif message.attempts == 2 and body not in second_at:
            second_at[body] = time.monotonic()
            message.finish()
        else:
            problems.append("%r arrived again with attempts %d" % (body, message.attempts))
            message.finish()
        PROGRESS.set("first", len(first_at))
        PROGRESS.set("second", len(second_at))

    extra = {"msg_timeout": 1} if client_msg_timeout else {}
    reader = CheckedReader(topic, channel, message_handler=handler,
                           nsqd_tcp_addresses=[args.tcp], max_in_flight=2 * n, **extra)
    writer = await connected_writer(args.tcp)
    await publish_all(writer, [("pub", topic, b) for b in bodies])

    await wait_for(lambda: len(second_at) >= n or problems, 40, "%d timed-out redeliveries" % n)
    check(not problems, "; ".join(problems[:3]))
    check(set(first_at) == set(bodies) and set(second_at) == set(bodies),
          "delivered bodies differ from what was published")
    for body in bodies:
        waited = second_at[body] - first_at[body]
        check(waited >= 0.99, "%r was redelivered %.3f s after delivery (timeout 1 s)"
              % (body, waited))

    _, ch = await settled_channel(args.http, topic, channel)
    check(ch["timeout_count"] == n, "timeout_count %d != %d" % (ch["timeout_count"], n))
    check(ch["requeue_count"] == 0, "requeue_count %d != 0" % ch["requeue_count"])
    check(not reader.errors, "reader got errors: %s" % reader.errors[:3])
    reader.close()
    return "timed_out=%d" % n


async def scenario_heartbeat(args):
    """A consumer that negotiated heartbeat_interval 1000 ms and sits idle for 3 s stays connected."""
    topic, channel = "pynsq_heartbeat", "ch"
    got = []

    reader = CheckedReader(topic, channel, message_handler=lambda m: got.append(bytes(m.body)) or True,
                           nsqd_tcp_addresses=[args.tcp], heartbeat_interval=1)
    await wait_for(lambda: len(reader.conns) == 1, 10, "the Reader to connect")
    conn = next(iter(reader.conns.values()))
    # The behaviour under test is surviving idleness, so this wait is the point, not a sync.
    await asyncio.sleep(3.0)
    PROGRESS.set("heartbeats", reader.heartbeats)
    check(reader.closes == 0, "the idle Reader connection was closed")
    check(reader.heartbeats >= 2, "only %d heartbeats in 3 s at a 1000 ms interval"
          % reader.heartbeats)
    check(conn.connected() and next(iter(reader.conns.values())) is conn,
          "the Reader connection was replaced")

    writer = await connected_writer(args.tcp, heartbeat_interval=1)
    await publish(writer, "pub", topic, b"still-here")
    await wait_for(lambda: got, 10, "a message on the idle connection")
    check(got == [b"still-here"], "received %r" % got)
    check(reader.closes == 0, "the Reader connection was closed")
    check(not reader.errors, "reader got errors: %s" % reader.errors[:3])
    reader.close()
    return "heartbeats=%d" % reader.heartbeats


def upgrade_options(args, features):
    """Reader/Writer keyword arguments that negotiate `features` (tls, snappy, deflate)."""
    opts = {}
    if "tls" in features:
        opts["tls_v1"] = True
        opts["tls_options"] = {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": args.ca}
    if "snappy" in features:
        opts["snappy"] = True
    if "deflate" in features:
        opts["deflate"] = True
        opts["deflate_level"] = 6
    return opts


def upgraded_body(i):
    # Compressible text, incompressible bytes, and a few bodies over one 64 KiB snappy block.
    if i % 500 == 7:
        return b"big-%d-" % i + bytes((i * 31 + k * 7) % 251 for k in range(100000))
    if i % 2:
        return b"up-%d-" % i + b"compressible " * (i % 40)
    return b"up-%d-" % i + bytes((i * 13 + k) % 256 for k in range(i % 300))


async def scenario_upgraded(args, features):
    """Thousands of messages through a Writer and a Reader that both negotiated `features`;
    /stats must show the negotiated layers on both connections."""
    topic, channel = "pynsq_" + "_".join(features), "ch"
    n_pub, n_mpub, batch = 1000, 2000, 100
    opts = upgrade_options(args, features)
    received = {}

    def handler(message):
        body = bytes(message.body)
        received.setdefault(body, []).append(message.attempts)
        PROGRESS.set("received", len(received))
        return True

    reader = CheckedReader(topic, channel, message_handler=handler,
                           nsqd_tcp_addresses=[args.tcp], max_in_flight=200, **opts)
    writer = await connected_writer(args.tcp, **opts)
    bodies = [upgraded_body(i) for i in range(n_pub + n_mpub)]
    ops = [("pub", topic, b) for b in bodies[:n_pub]]
    ops += [("mpub", topic, bodies[i:i + batch]) for i in range(n_pub, n_pub + n_mpub, batch)]
    await publish_all(writer, ops)
    PROGRESS.set("published", len(bodies))

    expected = set(bodies)
    check(len(expected) == len(bodies), "test bodies are not unique")
    await wait_for(lambda: len(received) >= len(expected) or reader.errors, 45,
                   "all %d messages" % len(expected))
    check(not reader.errors, "reader got errors: %s" % reader.errors[:3])
    check(set(received) == expected, "bodies differ: %d missing" % len(expected - set(received)))
    dups = [b for b, seen in received.items() if seen != [1]]
    check(not dups, "%d messages delivered more than once or with attempts != 1" % len(dups))

    _, ch = await settled_channel(args.http, topic, channel)
    check(len(ch["clients"]) == 1, "channel has %d clients" % len(ch["clients"]))
    producers = stats(args.http, topic)["producers"] or []
    check(len(producers) == 1, "%d producers" % len(producers))
    for who, c in (("reader", ch["clients"][0]), ("writer", producers[0])):
        for layer in ("tls", "snappy", "deflate"):
            check(c[layer] == (layer in features),
                  "%s connection shows %s=%s" % (who, layer, c[layer]))
        if "tls" in features:
            check(c["tls_version"] in ("TLS1.2", "TLS1.3"),
                  "%s tls_version %r" % (who, c["tls_version"]))
    reader.close()
    return "received=%d over %s" % (len(received), "+".join(features))


# Scenario `lookupd`: pynsq_compat.py lookupd --tcp .. --http .. --lookupd HOST:PORT[,HOST:PORT]
#     --topic T --channel C --nodes 0,1,2 --per-node N
# The Reader discovers nsqd nodes only through the given nsqlookupd HTTP addresses and must get
# exactly the bodies `n<node>-m<j>` (j < N) of the listed nodes, each once, from that many nsqd.
def lookupd_body(node, j):
    return b"n%d-m%d" % (node, j)


async def scenario_lookupd(args):
    """A Reader given only nsqlookupd addresses finds every producer and drains each message once."""
    lookupds = args.lookupd.split(",")
    nodes = [int(n) for n in args.nodes.split(",")]
    expected = set(lookupd_body(n, j) for n in nodes for j in range(args.per_node))
    received = {}

    def handler(message):
        body = bytes(message.body)
        received[body] = received.get(body, 0) + 1
        PROGRESS.set("received", len(received))
        return True

    reader = CheckedReader(args.topic, args.channel, message_handler=handler,
                           lookupd_http_addresses=lookupds, lookupd_poll_interval=1,
                           max_in_flight=100)
    await wait_for(lambda: len(received) >= len(expected) or reader.errors, 45,
                   "all %d messages" % len(expected))
    check(not reader.errors, "reader got errors: %s" % reader.errors[:3])
    check(set(received) == expected,
          "bodies differ: %d unexpected (e.g. %r), %d missing"
          % (len(set(received) - expected), sorted(set(received) - expected)[:1],
             len(expected - set(received))))
    dups = [b for b, n in received.items() if n != 1]
    check(not dups, "%d messages delivered more than once, e.g. %r" % (len(dups), dups[:1]))
    producers = sorted("%s:%s" % (c.host, c.port) for c in reader.conns.values())
    check(len(producers) == len(nodes),
          "connected to %d nsqd (%s), expected %d" % (len(producers), producers, len(nodes)))
    reader.close()
    return "received=%d from %d nsqd via %d lookupd" % (len(received), len(producers),
                                                       len(lookupds))


SCENARIOS = {
    "pubsub": scenario_pubsub,
    "requeue": scenario_requeue,
    "timeout": lambda args: scenario_timeout(args, client_msg_timeout=False),
    "timeout-client": lambda args: scenario_timeout(args, client_msg_timeout=True),
    "heartbeat": scenario_heartbeat,
    "lookupd": scenario_lookupd,
    "snappy": lambda args: scenario_upgraded(args, ["snappy"]),
    "deflate": lambda args: scenario_upgraded(args, ["deflate"]),
    "tls": lambda args: scenario_upgraded(args, ["tls"]),
    "tls-snappy": lambda args: scenario_upgraded(args, ["tls", "snappy"]),
    "tls-deflate": lambda args: scenario_upgraded(args, ["tls", "deflate"]),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--tcp", required=True, help="nsqd TCP address host:port")
    parser.add_argument("--http", required=True, help="nsqd HTTP address host:port")
    parser.add_argument("--timeout", type=float, default=60.0, help="overall limit in seconds")
    parser.add_argument("--lookupd", help="nsqlookupd HTTP addresses, comma-separated")
    parser.add_argument("--topic", help="topic (lookupd scenario)")
    parser.add_argument("--channel", help="channel (lookupd scenario)")
    parser.add_argument("--nodes", help="nodes whose messages are expected, e.g. 0,1,2")
    parser.add_argument("--per-node", type=int, default=0, help="messages per node")
    parser.add_argument("--ca", help="CA certificate (PEM) that signed nsqd's TLS certificate")
    args = parser.parse_args()

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    try:
        summary = tornado.ioloop.IOLoop.current().run_sync(
            lambda: SCENARIOS[args.scenario](args), timeout=args.timeout)
    except tornado.util.TimeoutError:
        print("FAIL %s: no result within %.0f s (%s)" % (args.scenario, args.timeout, PROGRESS))
        return 1
    except Failure as e:
        print("FAIL %s: %s (%s)" % (args.scenario, e, PROGRESS))
        return 1
    print("PASS %s %s" % (args.scenario, summary))
    return 0


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    sys.exit(main())
