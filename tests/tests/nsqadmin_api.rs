//! nsqadmin against a real cluster (spec §7): the read API and its aggregation, the admin
//! actions reaching every nsqd, notifications, ACLs, graphite, /config, the UI shell and
//! assets, the base path and compression.

use std::io::Read as _;

mod tls_support;

use nsq_tests::nsqadmin::{dead_addr, Cluster, Nsqadmin, Stub};
use nsq_tests::{
    http_get, http_post, http_with_headers, stats_channel, stats_topic, wait_until, HttpResponse,
    Nsqd,
};
use serde_json::{json, Value};

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn assert_v1_json(r: &HttpResponse) {
    assert_eq!(r.header("X-NSQ-Content-Type"), Some("nsq; version=1.0"));
    assert_eq!(
        r.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
}

/// Two nsqd with topic t1/c1 (2 and 3 messages), t2 only on the second, one consumer on the
/// first nsqd's c1.
fn populated() -> (Cluster, nsq_tests::RawConn) {
    let c = Cluster::start(2);
    c.create(0, "t1", "c1");
    c.create(1, "t1", "c1");
    c.create(1, "t2", "");
    c.publish(0, "t1", 2);
    c.publish(1, "t1", 3);
    let consumer = c.nsqds[0].consumer("t1", "c1", 0);
    let subscribed = wait_until(std::time::Duration::from_secs(5), || {
        stats_channel(&c.nsqds[0].stats(), "t1", "c1").is_some_and(|ch| ch["client_count"] == 1)
    });
    assert!(subscribed);
    (c, consumer)
}

const TOPIC_KEYS: [&str; 13] = [
    "node",
    "hostname",
    "topic_name",
    "depth",
    "memory_depth",
    "backend_depth",
    "message_count",
    "delivery_msg_count",
    "nodes",
    "channels",
    "paused",
    "e2e_processing_latency",
    "message",
];

const CHANNEL_KEYS: [&str; 18] = [
    "node",
    "hostname",
    "topic_name",
    "channel_name",
    "depth",
    "memory_depth",
    "backend_depth",
    "in_flight_count",
    "deferred_count",
    "requeue_count",
    "timeout_count",
    "message_count",
    "client_count",
    "nodes",
    "clients",
    "paused",
    "e2e_processing_latency",
    "message",
];

#[test]
fn lookupd_mode_read_api() {
    let (c, _consumer) = populated();
    let admin = Nsqadmin::for_lookupd(&c.lookupd, &[]);
    let (n0, n1) = (c.node(0), c.node(1));

    // A-010
    let r = admin.get("/api/topics");
    assert_eq!(r.status, 200);
    assert_v1_json(&r);
    assert_eq!(r.text(), r#"{"topics":["t1","t2"],"message":""}"#);

    // A-011
    let r = admin.get("/api/topics/t1");
    assert_eq!(r.status, 200);
    let t = r.json();
    assert_eq!(keys(&t), TOPIC_KEYS);
    assert_eq!(t["node"], "*");
    assert_eq!(t["hostname"], "");
    assert_eq!(t["topic_name"], "t1");
    assert_eq!(t["depth"], 0, "messages went on to the channel");
    assert_eq!(t["message_count"], 5);
    assert_eq!(t["delivery_msg_count"], 0);
    assert_eq!(t["paused"], false);
    assert_eq!(t["message"], "");
    let nodes = t["nodes"].as_array().unwrap();
    let mut names: Vec<&str> = nodes.iter().map(|n| n["node"].as_str().unwrap()).collect();
    names.sort();
    let mut want = vec![n0.as_str(), n1.as_str()];
    want.sort();
    assert_eq!(names, want);
    for n in nodes {
        assert_eq!(n["nodes"], Value::Null);
        assert_eq!(n["topic_name"], "t1");
    }
    let channels = t["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0]["channel_name"], "c1");
    assert_eq!(channels[0]["node"], "*");
    assert_eq!(channels[0]["depth"], 5);
    assert_eq!(channels[0]["memory_depth"], 5);
    assert_eq!(channels[0]["message_count"], 5);
    assert_eq!(channels[0]["client_count"], 1);
    assert_eq!(t["e2e_processing_latency"]["host"], "*");
    assert_eq!(t["e2e_processing_latency"]["topic"], "t1");

    // A-012
    let r = admin.get("/api/topics/t1/c1");
    assert_eq!(r.status, 200);
    let ch = r.json();
    assert_eq!(keys(&ch), CHANNEL_KEYS);
    assert_eq!(ch["node"], "*");
    assert_eq!(ch["channel_name"], "c1");
    assert_eq!(ch["depth"], 5);
    assert_eq!(ch["client_count"], 1);
    assert_eq!(ch["nodes"].as_array().unwrap().len(), 2);
    let clients = ch["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0]["node"], n0.as_str());
    assert_eq!(
        keys(&clients[0]),
        [
            "node",
            "remote_address",
            "version",
            "client_id",
            "hostname",
            "user_agent",
            "connect_ts",
            "connected",
            "in_flight_count",
            "ready_count",
            "finish_count",
            "requeue_count",
            "message_count",
            "sample_rate",
            "deflate",
            "snappy",
            "authed",
            "auth_identity",
            "auth_identity_url",
            "tls",
            "tls_cipher_suite",
            "tls_version",
            "tls_negotiated_protocol",
            "tls_negotiated_protocol_is_mutual",
        ]
    );
    assert!(clients[0]["connected"].as_i64().unwrap() >= 0);
    // An unknown channel of a known topic is just the message.
    assert_eq!(admin.get("/api/topics/t1/nope").text(), r#"{"message":""}"#);

    // A-013
    let r = admin.get("/api/nodes");
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(keys(&body), ["nodes", "message"]);
    let nodes = body["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    for n in nodes {
        assert_eq!(
            keys(n),
            [
                "remote_addresses",
                "remote_address",
                "hostname",
                "broadcast_address",
                "tcp_port",
                "http_port",
                "version",
                "topics",
                "out_of_date",
            ]
        );
        assert_eq!(n["broadcast_address"], "127.0.0.1");
        assert_eq!(n["version"], "1.3.0");
        assert_eq!(n["out_of_date"], false);
        let ra = n["remote_addresses"].as_array().unwrap();
        assert_eq!(ra.len(), 1);
        let prefix = format!("{}/127.0.0.1:", c.lookupd.http_addr);
        assert!(ra[0].as_str().unwrap().starts_with(&prefix), "{ra:?}");
    }
    let second = nodes
        .iter()
        .find(|n| n["http_port"] == c.nsqds[1].http_addr.port())
        .unwrap();
    assert_eq!(
        second["topics"],
        json!([{"topic":"t1","tombstoned":false},{"topic":"t2","tombstoned":false}])
    );

    // A-014
    let r = admin.get(&format!("/api/nodes/{n1}"));
    assert_eq!(r.status, 200);
    let node = r.json();
    assert_eq!(
        keys(&node),
        [
            "node",
            "topics",
            "total_messages",
            "total_clients",
            "message"
        ]
    );
    assert_eq!(node["node"], n1.as_str());
    assert_eq!(node["total_messages"], 3);
    assert_eq!(node["total_clients"], 0);
    let topics: Vec<&str> = node["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["topic_name"].as_str().unwrap())
        .collect();
    assert_eq!(topics, ["t1", "t2"]);
    let node = admin.get(&format!("/api/nodes/{n0}")).json();
    assert_eq!(node["total_messages"], 2);
    assert_eq!(node["total_clients"], 1);
    assert_eq!(
        node["topics"][0]["channels"][0]["clients"][0]["node"],
        n0.as_str()
    );
    let r = admin.get("/api/nodes/127.0.0.1:1");
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), r#"{"message":"NODE_NOT_FOUND"}"#);

    // A-015
    let r = admin.get("/api/counter");
    assert_eq!(r.status, 200);
    let stats = r.json();
    assert_eq!(stats["message"], "");
    assert_eq!(stats["stats"].as_object().unwrap().len(), 2);
    assert_eq!(
        stats["stats"][format!("t1:c1:{n0}")],
        json!({"node": n0, "topic_name": "t1", "channel_name": "c1", "message_count": 2})
    );
    assert_eq!(stats["stats"][format!("t1:c1:{n1}")]["message_count"], 3);

    // A-010 inactive: a topic only the lookupd knows, with a channel.
    assert_eq!(c.lookupd.post("/topic/create?topic=lonely").status, 200);
    assert_eq!(
        c.lookupd
            .post("/channel/create?topic=lonely&channel=ch")
            .status,
        200
    );
    assert_eq!(
        admin.get("/api/topics?inactive=true").text(),
        r#"{"topics":{"lonely":["ch"]},"message":""}"#
    );

    // QRK-30: no producers at all is an upstream error.
    let r = admin.get("/api/topics/lonely");
    assert_eq!(r.status, 502);
    assert_eq!(
        r.json()["message"],
        "UPSTREAM_ERROR: failed to query any nsqd: "
    );
}

#[test]
fn nsqd_mode() {
    let (c, _consumer) = populated();
    let a0 = format!("--nsqd-http-address={}", c.node(0));
    let a1 = format!("--nsqd-http-address={}", c.node(1));
    let admin = Nsqadmin::start(&[&a0, &a1]);
    assert_eq!(
        admin.get("/api/topics").text(),
        r#"{"topics":["t1","t2"],"message":""}"#
    );
    assert_eq!(
        admin.get("/api/topics?inactive=true").text(),
        r#"{"topics":{},"message":""}"#
    );
    let t = admin.get("/api/topics/t1").json();
    assert_eq!(t["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(t["message_count"], 5);
    let t2 = admin.get("/api/topics/t2").json();
    assert_eq!(t2["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(t2["nodes"][0]["node"], c.node(1).as_str());

    let nodes = admin.get("/api/nodes").json();
    let nodes = nodes["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    for n in nodes {
        assert_eq!(n["remote_addresses"], Value::Null);
        assert_eq!(n["broadcast_address"], "127.0.0.1");
    }
    assert_eq!(
        admin.get("/api/counter").json()["stats"]
            .as_object()
            .unwrap()
            .len(),
        2
    );

    // Creating does nothing without lookupds.
    let r = admin.send("POST", "/api/topics", r#"{"topic":"made"}"#);
    assert_eq!((r.status, r.text().as_str()), (200, r#"{"message":""}"#));
    assert!(stats_topic(&c.nsqds[0].stats(), "made").is_none());
    assert!(stats_topic(&c.nsqds[1].stats(), "made").is_none());

    // Actions reach the nsqds that have the topic.
    let r = admin.send("POST", "/api/topics/t1", r#"{"action":"pause"}"#);
    assert_eq!((r.status, r.text().as_str()), (200, r#"{"message":""}"#));
    for n in &c.nsqds {
        assert_eq!(stats_topic(&n.stats(), "t1").unwrap()["paused"], true);
    }
}

#[test]
fn warnings_and_upstream_errors() {
    let c = Cluster::start(1);
    c.create(0, "t1", "");
    let dead = dead_addr().to_string();

    let admin = Nsqadmin::start(&[
        &format!("--lookupd-http-address={}", c.lookupd.http_addr),
        &format!("--lookupd-http-address={dead}"),
    ]);
    let r = admin.get("/api/topics");
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["topics"], json!(["t1"]));
    let msg = body["message"].as_str().unwrap();
    assert!(msg.starts_with("WARNING: "), "{msg}");
    assert!(msg.contains(&dead), "{msg}");
    drop(admin);

    let admin = Nsqadmin::start(&[&format!("--lookupd-http-address={dead}")]);
    assert_eq!(
        admin.get("/api/topics").json()["message"],
        format!(
            "UPSTREAM_ERROR: failed to query any nsqlookupd: Get \"http://{dead}/topics\": \
             dial tcp {dead}: connect: connection refused"
        )
    );
    for path in [
        "/api/topics",
        "/api/nodes",
        "/api/counter",
        "/api/topics/t1",
    ] {
        let r = admin.get(path);
        assert_eq!(r.status, 502, "{path}");
        assert_v1_json(&r);
        let body = r.json();
        assert_eq!(keys(&body), ["message"]);
        let msg = body["message"].as_str().unwrap();
        assert!(
            msg.starts_with("UPSTREAM_ERROR: failed to query any nsqlookupd: "),
            "{path}: {msg}"
        );
    }
    drop(admin);

    let admin = Nsqadmin::start(&[
        &format!("--nsqd-http-address={}", c.node(0)),
        &format!("--nsqd-http-address={dead}"),
    ]);
    let body = admin.get("/api/nodes").json();
    assert_eq!(body["nodes"].as_array().unwrap().len(), 1);
    assert!(body["message"].as_str().unwrap().starts_with("WARNING: "));
    drop(admin);

    let admin = Nsqadmin::start(&[&format!("--nsqd-http-address={dead}")]);
    let r = admin.get("/api/topics");
    assert_eq!(r.status, 502);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("UPSTREAM_ERROR: failed to query any nsqd: "));
}

#[test]
fn admin_actions_reach_every_nsqd_and_notify() {
    let (c, consumer) = populated();
    drop(consumer);
    let stub = Stub::start(200, "text/plain", "ok");
    let endpoint = format!("--notification-http-endpoint=http://{}/notify", stub.addr);
    let admin = Nsqadmin::for_lookupd(&c.lookupd, &[&endpoint]);
    let ok = |r: HttpResponse| {
        assert_eq!(r.status, 200, "{}", r.text());
        assert_v1_json(&r);
        assert_eq!(r.text(), r#"{"message":""}"#);
    };
    let each = |f: &dyn Fn(&Value) -> bool| c.nsqds.iter().all(|n| f(&n.stats()));

    ok(admin.send_with(
        "POST",
        "/api/topics/t1",
        &[
            ("Authorization", "Basic YWxpY2U6c2VjcmV0"),
            ("User-Agent", "ua/1"),
        ],
        r#"{"action":"pause"}"#,
    ));
    assert!(each(&|s| stats_topic(s, "t1").unwrap()["paused"] == true));
    ok(admin.send("POST", "/api/topics/t1", r#"{"action":"unpause"}"#));
    assert!(each(&|s| stats_topic(s, "t1").unwrap()["paused"] == false));
    ok(admin.send("POST", "/api/topics/t1/c1", r#"{"action":"pause"}"#));
    assert!(each(
        &|s| stats_channel(s, "t1", "c1").unwrap()["paused"] == true
    ));
    ok(admin.send("POST", "/api/topics/t1/c1", r#"{"action":"empty"}"#));
    assert!(each(
        &|s| stats_channel(s, "t1", "c1").unwrap()["depth"] == 0
    ));
    ok(admin.send("POST", "/api/topics/t1", r#"{"action":"empty"}"#));

    let r = admin.send("POST", "/api/topics/t1", r#"{"action":"explode"}"#);
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, r#"{"message":"INVALID_ACTION"}"#)
    );
    let r = admin.send("POST", "/api/topics/t1", "{");
    assert_eq!(r.status, 400);
    assert!(!r.json()["message"].as_str().unwrap().is_empty());

    // A-020
    ok(admin.send("POST", "/api/topics", r#"{"topic":"fresh","channel":"fc"}"#));
    assert!(c.lookupd.get("/topics").json()["topics"]
        .as_array()
        .unwrap()
        .contains(&json!("fresh")));
    assert_eq!(
        c.lookupd.get("/channels?topic=fresh").json()["channels"],
        json!(["fc"])
    );
    ok(admin.send("POST", "/api/topics", r#"{"topic":"t1","channel":"c2"}"#));
    assert!(each(&|s| stats_channel(s, "t1", "c2").is_some()));
    let r = admin.send("POST", "/api/topics", r#"{"topic":"bad topic!"}"#);
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, r#"{"message":"INVALID_TOPIC"}"#)
    );
    let r = admin.send(
        "POST",
        "/api/topics",
        r#"{"topic":"ok","channel":"bad chan!"}"#,
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, r#"{"message":"INVALID_CHANNEL"}"#)
    );
    let r = admin.send("POST", "/api/topics", "nope");
    assert_eq!(r.status, 400);

    // A-023 channel
    ok(admin.send("DELETE", "/api/topics/t1/c2", ""));
    assert!(each(&|s| stats_channel(s, "t1", "c2").is_none()));

    // A-022
    let n1 = c.node(1);
    let r = admin.send("DELETE", &format!("/api/nodes/{n1}"), "x");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, r#"{"message":"INVALID_BODY"}"#)
    );
    let r = admin.send("DELETE", &format!("/api/nodes/{n1}"), r#"{"topic":"!"}"#);
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, r#"{"message":"INVALID_TOPIC"}"#)
    );
    ok(admin.send("DELETE", &format!("/api/nodes/{n1}"), r#"{"topic":"t2"}"#));
    assert!(stats_topic(&c.nsqds[1].stats(), "t2").is_none());
    assert!(c.lookupd.wait_for_log(
        &format!("DB: setting tombstone for producer@{n1} of topic(t2)"),
        std::time::Duration::from_secs(5)
    ));

    // A-023 topic
    ok(admin.send("DELETE", "/api/topics/t1", ""));
    assert!(each(&|s| stats_topic(s, "t1").is_none()));

    // A-025, A-026: one notification per action, in order.
    let got = stub.wait_requests(12);
    let actions: Vec<String> = got
        .iter()
        .map(|r| r.json()["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "pause_topic",
            "unpause_topic",
            "pause_channel",
            "empty_channel",
            "empty_topic",
            "create_topic",
            "create_channel",
            "create_topic",
            "create_channel",
            "delete_channel",
            "tombstone_topic_producer",
            "delete_topic",
        ]
    );
    let first = &got[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.target, "/notify");
    assert_eq!(first.header("content-type"), Some("application/json"));
    let body = first.json();
    assert_eq!(
        keys(&body),
        [
            "action",
            "topic",
            "timestamp",
            "user",
            "remote_ip",
            "user_agent",
            "url",
            "via"
        ]
    );
    assert_eq!(body["topic"], "t1");
    assert_eq!(body["user"], "alice");
    assert_eq!(body["user_agent"], "ua/1");
    assert_eq!(
        body["url"],
        format!("http://{}/api/topics/t1", admin.http_addr)
    );
    assert!(body["remote_ip"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert!(body["timestamp"].as_i64().unwrap() > 1_600_000_000);
    assert!(!body["via"].as_str().unwrap().is_empty());
    let channel_note = got[2].json();
    assert_eq!(
        keys(&channel_note),
        [
            "action",
            "topic",
            "channel",
            "timestamp",
            "remote_ip",
            "user_agent",
            "url",
            "via"
        ]
    );
    assert_eq!(channel_note["channel"], "c1");
    let tomb = got[10].json();
    assert_eq!(tomb["node"], n1.as_str());
    assert_eq!(tomb["topic"], "t2");
}

#[test]
fn admin_users_and_acl_header() {
    let c = Cluster::start(1);
    c.create(0, "t1", "");
    let admin = Nsqadmin::for_lookupd(&c.lookupd, &["--admin-user=alice", "--admin-user=bob"]);
    let pause = r#"{"action":"pause"}"#;
    let r = admin.send("POST", "/api/topics/t1", pause);
    assert_eq!(
        (r.status, r.text().as_str()),
        (403, r#"{"message":"FORBIDDEN"}"#)
    );
    let r = admin.send_with(
        "POST",
        "/api/topics/t1",
        &[("X-Forwarded-User", "mallory")],
        pause,
    );
    assert_eq!(r.status, 403);
    let r = admin.send_with(
        "DELETE",
        "/api/topics/t1",
        &[("X-Forwarded-User", "eve")],
        "",
    );
    assert_eq!(r.status, 403);
    let r = admin.send_with(
        "POST",
        "/api/topics/t1",
        &[("X-Forwarded-User", "bob")],
        pause,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        stats_topic(&c.nsqds[0].stats(), "t1").unwrap()["paused"],
        true
    );
    // Reads stay open.
    assert_eq!(admin.get("/api/topics").status, 200);
    // IS_ADMIN follows the same check.
    assert!(admin.get("/").text().contains("var IS_ADMIN = false;"));
    let r = http_with_headers(
        admin.http_addr,
        "GET",
        "/",
        &[("X-Forwarded-User", "alice")],
        b"",
    );
    assert!(r.text().contains("var IS_ADMIN = true;"));
    drop(admin);

    let admin = Nsqadmin::for_lookupd(
        &c.lookupd,
        &["--admin-user=alice", "--acl-http-header=X-User"],
    );
    let r = admin.send_with(
        "POST",
        "/api/topics/t1",
        &[("X-Forwarded-User", "alice")],
        pause,
    );
    assert_eq!(r.status, 403);
    let r = admin.send_with("POST", "/api/topics/t1", &[("X-User", "alice")], pause);
    assert_eq!(r.status, 200);
}

#[test]
fn graphite_rate_and_proxy() {
    let dead = format!("--nsqd-http-address={}", dead_addr());
    let stub = Stub::start(
        200,
        "application/json",
        r#"[{"target":"x","datapoints":[[120,1700000000],[60,1700000060]]}]"#,
    );
    let url = format!("--graphite-url=http://{}", stub.addr);
    let admin = Nsqadmin::start(&[&dead, &url, "--statsd-interval=60s"]);
    let r = admin.get("/api/graphite?metric=rate&target=nsq.t.count");
    assert_eq!(r.status, 200);
    assert_v1_json(&r);
    assert_eq!(r.text(), r#"{"rate":"2.00"}"#);
    let sent = stub.wait_requests(1);
    assert_eq!(
        sent[0].target,
        "/render?format=json&from=-120sec&target=nsq.t.count&until=-60sec"
    );
    let r = admin.get("/api/graphite?metric=depth&target=x");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, r#"{"message":"INVALID_ARG_METRIC"}"#)
    );
    let r = admin.get("/api/graphite?target=x");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, r#"{"message":"INVALID_ARG_METRIC"}"#)
    );
    let r = admin.get("/api/graphite?metric=rate");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, r#"{"message":"INVALID_ARG_TARGET"}"#)
    );
    // No /render without the proxy flag.
    assert_eq!(admin.get("/render?target=x").status, 404);
    drop(admin);

    let negative = Stub::start(200, "application/json", r#"[{"datapoints":[[-1,1]]}]"#);
    let url = format!("--graphite-url=http://{}", negative.addr);
    let admin = Nsqadmin::start(&[&dead, &url]);
    assert_eq!(
        admin.get("/api/graphite?metric=rate&target=x").text(),
        r#"{"rate":"N/A"}"#
    );
    drop(admin);

    let empty = Stub::start(200, "application/json", "[]");
    for graphite in [
        format!("http://{}", empty.addr),
        format!("http://{}", dead_addr()),
    ] {
        let admin = Nsqadmin::start(&[&dead, &format!("--graphite-url={graphite}")]);
        let r = admin.get("/api/graphite?metric=rate&target=x");
        assert_eq!(
            (r.status, r.text().as_str()),
            (500, r#"{"message":"INTERNAL_ERROR"}"#)
        );
    }

    // /render is proxied with the credentials of the graphite URL.
    let render = Stub::start(200, "image/png", "PNGDATA");
    let url = format!("--graphite-url=http://user:pw@{}", render.addr);
    let admin = Nsqadmin::start(&[&dead, &url, "--proxy-graphite"]);
    let r = admin.get("/render?target=a.b&format=png");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"PNGDATA");
    assert_eq!(r.header("Content-Type"), Some("image/png"));
    let sent = render.wait_requests(1);
    assert_eq!(sent[0].target, "/render?target=a.b&format=png");
    assert_eq!(sent[0].header("authorization"), Some("Basic dXNlcjpwdw=="));
    // The page tells the UI to use the same-origin /render.
    assert!(admin.get("/").text().contains("var GRAPHITE_URL = \"\";"));
    assert!(admin.get("/").text().contains("var GRAPH_ENABLED = true;"));
}

#[test]
fn config_get_put_and_cidr() {
    let lookupd = dead_addr().to_string();
    let flag = format!("--lookupd-http-address={lookupd}");
    let admin = Nsqadmin::start(&[&flag]);
    let r = admin.get("/config/nsqlookupd_http_addresses");
    assert_eq!(r.status, 200);
    assert_v1_json(&r);
    assert_eq!(r.text(), format!("[\"{lookupd}\"]"));
    let r = admin.get("/config/base_path");
    assert_eq!((r.status, r.text().as_str()), (200, "/"));
    assert_eq!(r.header("X-NSQ-Content-Type"), Some("nsq; version=1.0"));
    assert_eq!(admin.get("/config/statsd_interval").text(), "60000000000");
    assert_eq!(admin.get("/config/admin_users").text(), "[]");
    let r = admin.get("/config/nope");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, r#"{"message":"INVALID_OPTION"}"#)
    );

    let r = admin.send(
        "PUT",
        "/config/nsqlookupd_http_addresses",
        r#"["127.0.0.1:1"]"#,
    );
    assert_eq!((r.status, r.text().as_str()), (200, r#"["127.0.0.1:1"]"#));
    assert_eq!(
        admin.get("/config/nsqlookupd_http_addresses").text(),
        r#"["127.0.0.1:1"]"#
    );
    assert!(admin
        .get("/")
        .text()
        .contains(r#"var NSQLOOKUPD = ["127.0.0.1:1"];"#));
    let r = admin.send("PUT", "/config/log_level", "debug");
    assert_eq!((r.status, r.text().as_str()), (200, "1"));
    let r = admin.send("PUT", "/config/log_level", "loud");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, r#"{"message":"INVALID_VALUE"}"#)
    );
    let r = admin.send("PUT", "/config/log_level", "");
    assert_eq!(
        (r.status, r.text().as_str()),
        (413, r#"{"message":"INVALID_VALUE"}"#)
    );
    let r = admin.send("PUT", "/config/nsqlookupd_http_addresses", "{");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, r#"{"message":"INVALID_VALUE"}"#)
    );
    let r = admin.send("PUT", "/config/base_path", "/x");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, r#"{"message":"INVALID_OPTION"}"#)
    );
    drop(admin);

    let admin = Nsqadmin::start(&[&flag, "--allow-config-from-cidr=10.0.0.0/8"]);
    let r = admin.get("/config/base_path");
    assert_eq!(
        (r.status, r.text().as_str()),
        (403, r#"{"message":"FORBIDDEN"}"#)
    );
    let r = admin.send("PUT", "/config/log_level", "debug");
    assert_eq!(r.status, 403);
    drop(admin);

    let admin = Nsqadmin::start(&[&flag, "--allow-config-from-cidr="]);
    assert_eq!(admin.get("/config/base_path").status, 200);
}

fn gunzip(data: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(data)
        .read_to_string(&mut s)
        .unwrap();
    s
}

#[test]
fn ui_shell_static_files_base_path_and_compression() {
    let lookupd = dead_addr().to_string();
    let flag = format!("--lookupd-http-address={lookupd}");
    let admin = Nsqadmin::start(&[&flag]);

    let r = admin.get("/ping");
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    assert_eq!(r.header("X-NSQ-Content-Type"), None);

    for path in [
        "/",
        "/topics",
        "/topics/t1",
        "/topics/t1/c1",
        "/nodes",
        "/nodes/127.0.0.1:4151",
        "/counter",
        "/lookup",
    ] {
        let r = admin.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("Content-Type"), Some("text/html"), "{path}");
        let page = r.text();
        assert!(page.starts_with("<!DOCTYPE html>"), "{path}");
        assert!(page.contains("<div id=\"root\"></div>"));
        for global in [
            "var USER_AGENT = \"nsqadmin/v1.3.0\";",
            "var VERSION = \"1.3.0\";",
            "var GRAPHITE_URL = \"\";",
            "var GRAPH_ENABLED = false;",
            "var STATSD_COUNTER_FORMAT = \"stats.counters.%s.count\";",
            "var STATSD_GAUGE_FORMAT = \"stats.gauges.%s\";",
            "var STATSD_INTERVAL = 60;",
            "var STATSD_PREFIX = \"nsq.%s\";",
            "var IS_ADMIN = true;",
            "var BASE_PATH = \"/\";",
        ] {
            assert!(page.contains(global), "{path}: missing {global} in {page}");
        }
        assert!(page.contains(&format!("var NSQLOOKUPD = [\"{lookupd}\"];")));
        assert!(page.contains("<link rel=\"stylesheet\" href=\"/static/main.css\">"));
        assert!(page.contains("<link rel=\"icon\" href=\"/static/favicon.png\">"));
        assert!(page.contains("<script type=\"module\" src=\"/static/main.js\"></script>"));
    }

    let r = admin.get("/static/main.js");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(!r.body.is_empty());
    let r = admin.get("/fonts/main.css");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/css; charset=utf-8"));
    let r = admin.get("/static/nope.js");
    assert_eq!((r.status, r.text().as_str()), (404, "NOT_FOUND"));

    // httprouter rules.
    let r = admin.get("/api/nodes/");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("Location"), Some("/api/nodes"));
    let r = admin.send("PATCH", "/api/topics", "");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, OPTIONS, POST"));
    assert_eq!(admin.get("/nope").status, 404);

    // A-003
    let plain = admin.get("/api/topics").text();
    let r = http_with_headers(
        admin.http_addr,
        "GET",
        "/api/topics",
        &[("Accept-Encoding", "br, gzip, deflate")],
        b"",
    );
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body), plain);
    let r = http_with_headers(
        admin.http_addr,
        "GET",
        "/ping",
        &[("Accept-Encoding", "deflate, gzip")],
        b"",
    );
    assert_eq!(r.header("Content-Encoding"), Some("deflate"));
    let mut s = String::new();
    flate2::read::DeflateDecoder::new(&r.body[..])
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "OK");
    drop(admin);

    // A-002
    let admin = Nsqadmin::start(&[&flag, "--base-path=admin/"]);
    let page = admin.get("/admin").text();
    assert!(page.contains("var BASE_PATH = \"/admin\";"));
    assert!(page.contains("<script type=\"module\" src=\"/admin/static/main.js\"></script>"));
    assert_eq!(admin.get("/admin/static/main.js").status, 200);
    assert_eq!(admin.get("/admin/ping").text(), "OK");
    let r = admin.get("/admin/api/topics");
    assert_eq!(
        r.status, 502,
        "routed under the base path (the lookupd is down)"
    );
    assert_eq!(admin.get("/api/topics").status, 404);
    assert_eq!(admin.get("/ping").status, 404);
    let r = admin.get("/admin/api/nodes/");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("Location"), Some("/admin/api/nodes"));
    assert_eq!(
        http_get(admin.http_addr, "/admin/config/base_path").text(),
        "/admin"
    );
}

#[test]
fn tls_only_nsqd_is_asked_again_over_https() {
    // A-024: a plain-HTTP nsqd with --tls-required answers 403 with its https_port.
    let certs = tls_support::certs();
    let tls: Vec<String> = certs.args();
    let mut args: Vec<&str> = tls.iter().map(String::as_str).collect();
    let mut nsqd = Nsqd::start_with(&args);
    assert_eq!(
        http_post(nsqd.http_addr, "/topic/create?topic=secure", b"").status,
        200
    );
    args.extend(["--tls-required=true", "--broadcast-address=127.0.0.1"]);
    nsqd.restart_with(&args);
    assert_eq!(http_get(nsqd.http_addr, "/stats?format=json").status, 403);

    let addr = format!("--nsqd-http-address={}", nsqd.http_addr);
    let ca = format!("--http-client-tls-root-ca-file={}", certs.ca_file.display());
    let admin = Nsqadmin::start(&[&addr, &ca]);
    assert_eq!(
        admin.get("/api/topics").text(),
        r#"{"topics":["secure"],"message":""}"#
    );
    let r = admin.send("POST", "/api/topics/secure", r#"{"action":"pause"}"#);
    assert_eq!((r.status, r.text().as_str()), (200, r#"{"message":""}"#));
    assert_eq!(admin.get("/api/topics/secure").json()["paused"], true);
    drop(admin);

    // The server certificate must verify, unless told otherwise.
    let admin = Nsqadmin::start(&[&addr]);
    assert_eq!(admin.get("/api/topics").status, 502);
    drop(admin);
    let admin = Nsqadmin::start(&[&addr, "--http-client-tls-insecure-skip-verify"]);
    assert_eq!(admin.get("/api/topics").status, 200);
}
