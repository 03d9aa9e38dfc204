// A stand-in for nsqadmin while developing the UI: serves the HTML shell, the
// built static files and canned /api answers whose counters grow over time.
// Usage: node e2e/mock-server.mjs [port] [base-path]
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const staticDir = path.resolve(here, '../../nsqadmin/static');
const port = Number(process.argv[2] ?? 4171);
const base = process.argv[3] ?? '/';
const started = Date.now();
const lookupd = ['127.0.0.1:4161'];
const state = { paused: new Set(), deleted: new Set(), created: new Map() };

const e2e = { count: 12, percentiles: [{ quantile: 0.5, value: 1200000 }, { quantile: 0.99, value: 5400000 }] };
const nodeIds = ['127.0.0.1:4151', '127.0.0.1:4251'];

function elapsed() {
  return Math.floor((Date.now() - started) / 1000);
}

function client(node, i, zone) {
  return {
    node, client_id: `worker-${i}`, hostname: `worker-${i}.local`, version: 'V2', remote_address: `127.0.0.1:5${i}000`,
    state: 3, ready_count: 25, in_flight_count: i, message_count: 100 * i + elapsed(), finish_count: 100 * i + elapsed() - i,
    requeue_count: i, connect_ts: Math.floor(started / 1000) - 3600 * i, sample_rate: i === 2 ? 50 : 0, deflate: i === 1,
    snappy: i === 2, user_agent: 'go-nsq/1.1.0', tls: i === 1, tls_version: 'TLS1.3', authed: false,
    topology_zone: zone, topology_region: 'r1', node_topology_zone: 'z1', node_topology_region: 'r1',
  };
}

function channel(topic, name, node, k) {
  const paused = state.paused.has(`${topic}/${name}`);
  const clients = node === '*' ? [] : [client(node, k, k === 1 ? 'z1' : 'z2')];
  return {
    node, hostname: node === '*' ? '' : 'localhost', topic_name: topic, channel_name: name,
    depth: 40 * k + (elapsed() % 7), memory_depth: 40 * k + (elapsed() % 7), backend_depth: 0, in_flight_count: k,
    deferred_count: 0, requeue_count: k, timeout_count: 0, message_count: 1000 * k + 10 * elapsed(),
    delivery_msg_count: 300, zone_local_msg_count: 200, region_local_msg_count: 60, global_msg_count: 40,
    client_count: clients.length, nodes: null, clients, paused, e2e_processing_latency: e2e,
  };
}

function sum(list, key) {
  return list.reduce((a, x) => a + (x[key] ?? 0), 0);
}

function aggregateChannel(topic, name) {
  const nodes = nodeIds.map((n, i) => channel(topic, name, n, i + 1));
  const agg = channel(topic, name, '*', 1);
  for (const k of ['depth', 'memory_depth', 'backend_depth', 'in_flight_count', 'deferred_count', 'requeue_count', 'timeout_count', 'message_count', 'client_count', 'delivery_msg_count', 'zone_local_msg_count', 'region_local_msg_count', 'global_msg_count'])
    agg[k] = sum(nodes, k);
  agg.nodes = nodes;
  agg.clients = nodes.flatMap((n) => n.clients);
  agg.paused = nodes.some((n) => n.paused);
  return agg;
}

const topics = { orders: ['billing', 'shipping'], events: ['archive'], empty_topic: [] };

function topicStats(name) {
  const nodes = nodeIds.map((n, i) => ({
    node: n, hostname: 'localhost', topic_name: name, depth: 5 * (i + 1), memory_depth: 5 * (i + 1), backend_depth: 0,
    message_count: 5000 * (i + 1) + 20 * elapsed(), nodes: null, channels: topics[name].map((c, k) => channel(name, c, n, k + 1)),
    paused: false, e2e_processing_latency: e2e,
  }));
  return {
    node: '*', hostname: '', topic_name: name, depth: sum(nodes, 'depth'), memory_depth: sum(nodes, 'memory_depth'),
    backend_depth: 0, message_count: sum(nodes, 'message_count'), nodes,
    channels: topics[name].map((c) => aggregateChannel(name, c)), paused: false, e2e_processing_latency: e2e, message: '',
  };
}

function api(method, parts, query, body) {
  const live = Object.keys(topics).filter((t) => !state.deleted.has(t));
  if (method === 'GET' && parts[0] === 'topics' && parts.length === 1) {
    if (query.get('inactive') === 'true') return [200, { topics: Object.fromEntries(state.created), message: '' }];
    return [200, { topics: live.sort(), message: 'WARNING: failed to query nsqlookupd 127.0.0.1:9999 - connection refused' }];
  }
  if (method === 'GET' && parts[0] === 'topics' && parts.length === 2) {
    if (!live.includes(parts[1])) return [502, { message: 'UPSTREAM_ERROR: failed to query any nsqd: no producers' }];
    return [200, topicStats(parts[1])];
  }
  if (method === 'GET' && parts[0] === 'topics' && parts.length === 3) {
    return [200, { ...aggregateChannel(parts[1], parts[2]), message: '' }];
  }
  if (method === 'GET' && parts[0] === 'nodes' && parts.length === 1) {
    return [200, {
      nodes: nodeIds.map((n, i) => ({
        remote_addresses: i === 0 ? ['127.0.0.1:4161/127.0.0.1:50000'] : [], remote_address: '127.0.0.1:50000', hostname: `nsqd-${i + 1}`,
        broadcast_address: '127.0.0.1', tcp_port: 4150 + 100 * i, http_port: 4151 + 100 * i, version: i ? '1.2.1' : '1.3.0',
        topology_zone: 'z1', topology_region: 'r1',
        topics: live.map((t) => ({ topic: t, tombstoned: i === 1 && t === 'events' })), out_of_date: i === 1,
      })),
      message: '',
    }];
  }
  if (method === 'GET' && parts[0] === 'nodes' && parts.length === 2) {
    const ts = live.map((t) => topicStats(t).nodes.find((n) => n.node === parts[1]) ?? topicStats(t).nodes[0]);
    return [200, { node: parts[1], topics: ts, total_messages: sum(ts, 'message_count'), total_clients: 2, message: '' }];
  }
  if (method === 'GET' && parts[0] === 'counter') {
    const stats = {};
    for (const t of live) for (const c of topics[t]) for (const n of nodeIds)
      stats[`${t}:${c}:${n}`] = { node: n, topic_name: t, channel_name: c, message_count: 1000 + 37 * elapsed() };
    return [200, { stats, message: '' }];
  }
  if (method === 'POST' && parts[0] === 'topics' && parts.length === 1) {
    if (!body.topic) return [400, { message: 'INVALID_TOPIC' }];
    state.created.set(body.topic, body.channel ? [body.channel] : []);
    return [200, { message: '' }];
  }
  if (method === 'POST' && parts[0] === 'topics' && parts.length === 3) {
    const key = `${parts[1]}/${parts[2]}`;
    if (body.action === 'pause') state.paused.add(key);
    else if (body.action === 'unpause') state.paused.delete(key);
    else if (body.action !== 'empty') return [400, { message: 'INVALID_ACTION' }];
    return [200, { message: '' }];
  }
  if (method === 'DELETE' && parts[0] === 'topics' && parts.length === 2) {
    state.deleted.add(parts[1]);
    state.created.delete(parts[1]);
    return [200, { message: '' }];
  }
  return [200, { message: '' }];
}

function shell() {
  const g = (v) => JSON.stringify(v);
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>nsqadmin</title><script>
var USER_AGENT=${g('nsqadmin/v1.3.0')};var VERSION=${g('1.3.0')};var GRAPHITE_URL='';var GRAPH_ENABLED=false;
var STATSD_COUNTER_FORMAT='stats.counters.%s.count';var STATSD_GAUGE_FORMAT='stats.gauges.%s';var STATSD_INTERVAL=60;
var STATSD_PREFIX='nsq.%s';var NSQLOOKUPD=${g(lookupd)};var IS_ADMIN=true;var BASE_PATH=${g(base)};</script>
<link rel="stylesheet" href="${base}static/main.css"><link rel="icon" href="${base}static/favicon.png">
<script type="module" src="${base}static/main.js"></script></head><body><div id="root"></div></body></html>`;
}

createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let p = url.pathname;
  if (!p.startsWith(base)) p = '/__outside__';
  const rel = p.slice(base.length);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (rel.startsWith('static/')) {
      const file = path.join(staticDir, path.basename(rel));
      if (!existsSync(file)) return res.writeHead(404).end('NOT_FOUND');
      const type = { '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' }[path.extname(file)] ?? 'application/octet-stream';
      return res.writeHead(200, { 'Content-Type': type }).end(readFileSync(file));
    }
    if (rel.startsWith('api/')) {
      let body = {};
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
      } catch {
        return res.writeHead(400).end('{"message":"INVALID_BODY"}');
      }
      const parts = rel.slice(4).split('/').filter(Boolean).map(decodeURIComponent);
      const [status, json] = api(req.method, parts, url.searchParams, body);
      return res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(json));
    }
    res.writeHead(200, { 'Content-Type': 'text/html' }).end(shell());
  });
}).listen(port, '127.0.0.1', () => console.log(`mock nsqadmin on http://127.0.0.1:${port}${base}`));
