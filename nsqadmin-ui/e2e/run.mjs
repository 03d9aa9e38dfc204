// End-to-end test of the nsqadmin UI against a real cluster: nsqlookupd, two
// nsqd and nsqadmin from the workspace's debug binaries, driven through
// Debian's Chromium. Exits non-zero with a summary when any check fails.
//
//   NSQ_BIN_DIR            where the binaries are (default ${CARGO_TARGET_DIR:-../target}/debug)
//   NSQADMIN_SCREENSHOTS   where page screenshots go (default e2e/screenshots)
//   CHROMIUM_PATH          the browser (default /usr/bin/chromium)
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from './browser.mjs';
import { startDaemon } from './cluster.mjs';
import { consume } from './consumer.mjs';

const uiDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const binDir =
  process.env.NSQ_BIN_DIR || path.join(process.env.CARGO_TARGET_DIR || path.resolve(uiDir, '../target'), 'debug');
const shotDir = path.resolve(process.env.NSQADMIN_SCREENSHOTS || path.join(uiDir, 'e2e/screenshots'));
const WAIT_MS = 15000;
const HEADERS = {
  'x-useragent': 'nsqadmin/v1.3.0',
  accept: 'application/vnd.nsq; version=1.0',
  'content-type': 'application/json',
};

// ---------------------------------------------------------------- helpers

const results = [];

async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false, error: e });
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

function assertEq(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** Polls `probe` until it returns { ok: true }; the last `detail` explains a timeout. */
async function waitFor(what, probe, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt';
  for (;;) {
    try {
      const r = await probe();
      if (r.ok) return r.value;
      last = r.detail ?? 'condition false';
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function http(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: { Accept: 'application/vnd.nsq; version=1.0' },
    body,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text}`);
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

const num = (text) => {
  const t = (text ?? '').trim().replace(/,/g, '');
  if (!/^-?\d+$/.test(t)) throw new Error(`not a whole number: ${JSON.stringify(text)}`);
  return Number(t);
};

async function cellNumber(page, selector) {
  const loc = page.locator(selector);
  const n = await loc.count();
  if (n !== 1) throw new Error(`${selector}: ${n} elements`);
  return num(await loc.textContent());
}

/** Waits until the number shown at `selector` equals what `expected()` (an API read) returns. */
async function waitNumber(page, selector, expected, what) {
  await waitFor(`${what} (${selector})`, async () => {
    const want = await expected();
    const got = await cellNumber(page, selector);
    return { ok: got === want, detail: `page shows ${got}, API says ${want}` };
  });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shotDir, `${name}.png`), fullPage: true });
}

const tid = (id) => `[data-testid="${id}"]`;

// ---------------------------------------------------------------- cluster

const tmp = mkdtempSync(path.join(tmpdir(), 'nsqadmin-ui-e2e-'));
mkdirSync(shotDir, { recursive: true });
const daemons = [];
const consumers = [];
let browser = null;

async function cleanup() {
  for (const c of consumers) await c.close().catch(() => {});
  if (browser) await browser.close();
  for (const d of daemons.reverse()) await d.stop().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
}

async function main() {
  console.log(`binaries: ${binDir}\nscreenshots: ${shotDir}`);
  const lookupd = await startDaemon({
    binDir,
    bin: 'nsqlookupd',
    name: 'nsqlookupd',
    args: ['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--broadcast-address=127.0.0.1'],
    listeners: ['TCP', 'HTTP'],
    logDir: tmp,
  });
  daemons.push(lookupd);
  const nsqd = [];
  for (const i of [1, 2]) {
    const dataDir = path.join(tmp, `nsqd${i}`);
    mkdirSync(dataDir);
    const d = await startDaemon({
      binDir,
      bin: 'nsqd',
      name: `nsqd${i}`,
      args: [
        '--tcp-address=127.0.0.1:0',
        '--http-address=127.0.0.1:0',
        '--broadcast-address=127.0.0.1',
        `--data-path=${dataDir}`,
        `--lookupd-tcp-address=${lookupd.addrs.TCP}`,
        '--e2e-processing-latency-percentile=0.5,0.99',
      ],
      listeners: ['TCP', 'HTTP'],
      logDir: tmp,
    });
    daemons.push(d);
    nsqd.push(d);
  }
  const admin = await startDaemon({
    binDir,
    bin: 'nsqadmin',
    name: 'nsqadmin',
    args: ['--http-address=127.0.0.1:0', `--lookupd-http-address=${lookupd.addrs.HTTP}`],
    listeners: ['HTTP'],
    logDir: tmp,
  });
  daemons.push(admin);
  const adminBase = await startDaemon({
    binDir,
    bin: 'nsqadmin',
    name: 'nsqadmin-base-path',
    args: ['--http-address=127.0.0.1:0', `--lookupd-http-address=${lookupd.addrs.HTTP}`, '--base-path=/admin/'],
    listeners: ['HTTP'],
    logDir: tmp,
  });
  daemons.push(adminBase);
  // One lookupd that answers and one that refuses: answers carry a WARNING.
  const adminPartial = await startDaemon({
    binDir,
    bin: 'nsqadmin',
    name: 'nsqadmin-partial',
    args: ['--http-address=127.0.0.1:0', `--lookupd-http-address=${lookupd.addrs.HTTP}`, '--lookupd-http-address=127.0.0.1:1'],
    listeners: ['HTTP'],
    logDir: tmp,
  });
  daemons.push(adminPartial);
  // nsqd mode (no lookupd at all), with a graphite URL that nothing answers.
  const adminNsqd = await startDaemon({
    binDir,
    bin: 'nsqadmin',
    name: 'nsqadmin-nsqd-mode',
    args: ['--http-address=127.0.0.1:0', `--nsqd-http-address=${nsqd[0].addrs.HTTP}`, '--graphite-url=http://127.0.0.1:9'],
    listeners: ['HTTP'],
    logDir: tmp,
  });
  daemons.push(adminNsqd);

  const [A, B] = nsqd.map((d) => `http://${d.addrs.HTTP}`);
  const nodeA = nsqd[0].addrs.HTTP;
  const nodeB = nsqd[1].addrs.HTTP;
  const L = `http://${lookupd.addrs.HTTP}`;
  const UI = `http://${admin.addrs.HTTP}`;
  const apiGet = (p) => http('GET', `${UI}/api/${p}`);
  console.log(`lookupd ${L}, nsqd ${A} ${B}, nsqadmin ${UI}`);

  browser = await launchBrowser();
  const page = await browser.context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const apiRequests = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.includes('/api/')) apiRequests.push({ url: r.url(), headers: r.headers() });
  });
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.accept();
  });

  // ---------------------------------------------------------------- empty cluster

  await check('Streams page with no topics says "No Topics Found"', async () => {
    await page.goto(`${UI}/`);
    await page.locator(tid('no-topics')).waitFor({ timeout: WAIT_MS });
    assertEq((await page.locator(tid('no-topics')).textContent()).trim(), 'No Topics Found', 'notice');
    const version = await page.locator(tid('version')).textContent();
    assert(version.includes('1.3.0'), `version label "${version}" should name 1.3.0`);
    for (const nav of ['streams', 'nodes', 'counter', 'lookup']) await page.locator(tid(`nav-${nav}`)).waitFor();
    await shot(page, '01-streams-empty');
  });

  // ---------------------------------------------------------------- data

  // orders: channels billing+shipping on A, billing on B; events: archive on A.
  for (const [base, topic, channels] of [
    [A, 'orders', ['billing', 'shipping']],
    [B, 'orders', ['billing']],
    [A, 'events', ['archive']],
  ]) {
    await http('POST', `${base}/topic/create?topic=${topic}`);
    for (const c of channels) await http('POST', `${base}/channel/create?topic=${topic}&channel=${c}`);
  }
  for (let i = 0; i < 10; i++) await http('POST', `${A}/pub?topic=orders`, `order ${i}`);
  for (let i = 0; i < 5; i++) await http('POST', `${B}/pub?topic=orders`, `order b${i}`);
  for (let i = 0; i < 3; i++) await http('POST', `${A}/pub?topic=events`, `event ${i}`);

  for (const [addr, n] of [
    [nsqd[0].addrs.TCP, 10],
    [nsqd[1].addrs.TCP, 5],
  ]) {
    const c = consume({
      address: addr,
      topic: 'orders',
      channel: 'billing',
      identify: { client_id: `e2e-${n}`, hostname: 'e2e-consumer', user_agent: 'nsqadmin-ui-e2e/1.0' },
    });
    consumers.push(c);
    await c.ready;
    await waitFor(`consumer on ${addr} to finish ${n} messages`, async () => ({
      ok: c.state.finished === n,
      detail: `finished ${c.state.finished}`,
    }));
  }
  // nsqd applies a FIN asynchronously; wait until its stats show nothing in flight.
  for (const base of [A, B]) {
    await waitFor(`orders/billing on ${base} to have nothing in flight`, async () => {
      const s = await http('GET', `${base}/stats?format=json&topic=orders&channel=billing`);
      const ch = s.topics?.[0]?.channels?.[0];
      return { ok: ch && ch.in_flight_count === 0 && ch.depth === 0, detail: JSON.stringify(ch) };
    });
  }
  await waitFor('nsqadmin to list both topics through lookupd', async () => {
    const t = await apiGet('topics');
    return { ok: t.topics?.includes('orders') && t.topics?.includes('events'), detail: JSON.stringify(t) };
  });
  await waitFor('both nsqd to produce orders', async () => {
    const t = await apiGet('topics/orders');
    return { ok: t.nodes?.length === 2 && t.channels?.length === 2, detail: JSON.stringify(t.nodes?.map((n) => n.node)) };
  });

  // Poll fast so rates and sparklines fill in during the run.
  await page.locator(tid('refresh-select')).selectOption('2000');

  // ---------------------------------------------------------------- read pages

  await check('Streams page lists every topic with the API numbers', async () => {
    await page.goto(`${UI}/`);
    const topics = (await apiGet('topics')).topics;
    await page.locator(tid('topics-table')).waitFor({ timeout: WAIT_MS });
    await waitFor('one row per topic', async () => {
      const n = await page.locator(`${tid('topics-table')} tbody tr`).count();
      return { ok: n === topics.length, detail: `${n} rows for ${topics.length} topics` };
    });
    for (const t of topics) {
      const row = `${tid(`topic-row-${t}`)}`;
      await waitNumber(page, `${row} ${tid('messages')}`, async () => (await apiGet(`topics/${t}`)).message_count, `${t} messages`);
      await waitNumber(page, `${row} ${tid('depth')}`, async () => (await apiGet(`topics/${t}`)).depth, `${t} depth`);
      await waitNumber(page, `${row} ${tid('channels')}`, async () => (await apiGet(`topics/${t}`)).channels.length, `${t} channels`);
    }
    const orders = await apiGet('topics/orders');
    assertEq(orders.message_count, 15, 'API orders message_count (10 on A + 5 on B)');
    await shot(page, '02-streams');
  });

  await check('Topic page: per-nsqd rows, Total row and channel table match /api/topics/orders', async () => {
    await page.locator(`${tid('topic-row-orders')} ${tid('topic-link')}`).click();
    await page.waitForURL(`${UI}/topics/orders`);
    await page.locator(tid('topic-nodes-table')).waitFor({ timeout: WAIT_MS });
    const api = await apiGet('topics/orders');
    for (const n of api.nodes) {
      const row = tid(`topic-node-${n.node}`);
      await waitNumber(page, `${row} ${tid('messages')}`, async () => n.message_count, `${n.node} messages`);
      await waitNumber(page, `${row} ${tid('depth')}`, async () => n.depth, `${n.node} depth`);
    }
    const total = tid('topic-total');
    await waitNumber(page, `${total} ${tid('messages')}`, async () => (await apiGet('topics/orders')).message_count, 'total messages');
    await waitNumber(page, `${total} ${tid('depth')}`, async () => (await apiGet('topics/orders')).depth, 'total depth');
    for (const c of api.channels) {
      const row = tid(`channel-row-${c.channel_name}`);
      const fresh = async () => (await apiGet('topics/orders')).channels.find((x) => x.channel_name === c.channel_name);
      await waitNumber(page, `${row} ${tid('depth')}`, async () => (await fresh()).depth, `${c.channel_name} depth`);
      await waitNumber(page, `${row} ${tid('messages')}`, async () => (await fresh()).message_count, `${c.channel_name} messages`);
      await waitNumber(page, `${row} ${tid('in-flight')}`, async () => (await fresh()).in_flight_count, `${c.channel_name} in-flight`);
      await waitNumber(
        page,
        `${row} ${tid('connections')}`,
        async () => {
          const f = await fresh();
          return f.client_count ?? f.clients?.length ?? 0;
        },
        `${c.channel_name} connections`,
      );
    }
    for (const b of ['empty-topic', 'delete-topic', 'pause-topic']) await page.locator(tid(b)).waitFor();
    assertEq(await page.locator(`${tid('topic-nodes-table')} ${tid('tombstone')}`).count(), 2, 'tombstone buttons');
    // A live rate appears after two polls.
    await waitFor('a computed rate in the Total row', async () => {
      const t = (await page.locator(`${total} ${tid('rate')}`).textContent()).trim();
      return { ok: /^[\d.,]+$/.test(t), detail: `rate cell "${t}"` };
    });
    assert((await page.locator(`${total} svg.spark polyline`).count()) >= 1, 'a sparkline in the Total row');
    await shot(page, '03-topic');
  });

  await check('Channel page: per-node rows, totals and clients match /api/topics/orders/billing', async () => {
    await page.locator(`${tid('channel-row-billing')} a`).first().click();
    await page.waitForURL(`${UI}/topics/orders/billing`);
    await page.locator(tid('channel-nodes-table')).waitFor({ timeout: WAIT_MS });
    const api = await apiGet('topics/orders/billing');
    assertEq(api.nodes.length, 2, 'API billing nodes');
    for (const n of api.nodes) {
      const row = tid(`channel-node-${n.node}`);
      await waitNumber(page, `${row} ${tid('messages')}`, async () => n.message_count, `${n.node} messages`);
      await waitNumber(page, `${row} ${tid('depth')}`, async () => n.depth, `${n.node} depth`);
    }
    const total = tid('channel-total');
    await waitNumber(page, `${total} ${tid('messages')}`, async () => (await apiGet('topics/orders/billing')).message_count, 'total messages');
    await waitNumber(page, `${total} ${tid('requeued')}`, async () => (await apiGet('topics/orders/billing')).requeue_count, 'total requeued');
    assertEq(api.message_count, 15, 'API billing message_count');
    assertEq(api.clients.length, 2, 'API billing clients');
    await waitFor('one client row per client', async () => {
      const n = await page.locator(`${tid('clients-table')} ${tid('client-row')}`).count();
      return { ok: n === api.clients.length, detail: `${n} rows` };
    });
    const finished = await page.locator(`${tid('clients-table')} ${tid('client-row')} ${tid('finished')}`).allTextContents();
    assertEq(
      finished.map(num).sort((a, b) => a - b).join(','),
      api.clients.map((c) => c.finish_count).sort((a, b) => a - b).join(','),
      'Finished column',
    );
    const ua = await page.locator(`${tid('clients-table')}`).textContent();
    assert(ua.includes('nsqadmin-ui-e2e/1.0'), 'the consumer user agent is shown');
    await shot(page, '04-channel');
  });

  await check('Pause then UnPause the channel from the UI changes nsqd /stats on both nodes', async () => {
    const paused = async (base) => {
      const s = await http('GET', `${base}/stats?format=json&topic=orders&channel=billing&include_clients=false`);
      return s.topics[0].channels[0].paused;
    };
    const before = dialogs.length;
    await page.locator(tid('pause-channel')).click();
    await page.locator(tid('unpause-channel')).waitFor({ timeout: WAIT_MS });
    assertEq(dialogs.length, before + 1, 'a confirmation was asked before pausing');
    for (const base of [A, B]) assertEq(await paused(base), true, `${base} channel paused`);
    await page.locator('.badge-paused').first().waitFor();
    await shot(page, '05-channel-paused');
    await page.locator(tid('unpause-channel')).click();
    await page.locator(tid('pause-channel')).waitFor({ timeout: WAIT_MS });
    for (const base of [A, B]) assertEq(await paused(base), false, `${base} channel unpaused`);
  });

  await check('Nodes page lists both nsqd with their ports and one lookupd connection', async () => {
    await page.locator(tid('nav-nodes')).click();
    await page.waitForURL(`${UI}/nodes`);
    await page.locator(tid('nodes-table')).waitFor({ timeout: WAIT_MS });
    const api = (await apiGet('nodes')).nodes;
    assertEq(api.length, 2, 'API nodes');
    for (const p of api) {
      const row = tid(`node-row-${p.broadcast_address}:${p.http_port}`);
      assertEq(await cellNumber(page, `${row} ${tid('tcp-port')}`), p.tcp_port, 'TCP port');
      assertEq(await cellNumber(page, `${row} ${tid('http-port')}`), p.http_port, 'HTTP port');
      assertEq(await cellNumber(page, `${row} ${tid('lookupd-conns')}`), 1, 'lookupd connections');
      const topics = await page.locator(`${row} .badge-topic`).allTextContents();
      assertEq(topics.join(','), (p.topics ?? []).map((t) => t.topic).join(','), 'topic badges');
    }
    await shot(page, '06-nodes');
  });

  await check('Node page totals and nested tables match /api/nodes/:node', async () => {
    await page.locator(`${tid(`node-row-${nodeA}`)} ${tid('node-link')}`).click();
    await page.waitForURL(`${UI}/nodes/${nodeA}`);
    await page.locator(tid('total-messages')).waitFor({ timeout: WAIT_MS });
    const api = await apiGet(`nodes/${nodeA}`);
    await waitNumber(page, tid('total-messages'), async () => (await apiGet(`nodes/${nodeA}`)).total_messages, 'total messages');
    await waitNumber(page, tid('total-clients'), async () => (await apiGet(`nodes/${nodeA}`)).total_clients, 'total clients');
    assertEq(await cellNumber(page, tid('total-topics')), api.topics.length, 'topics');
    assertEq(api.total_messages, 13, 'API node A total_messages (10 orders + 3 events)');
    for (const t of api.topics) {
      const sec = tid(`node-topic-${t.topic_name}`);
      assertEq(await cellNumber(page, `${sec} ${tid('topic-head')} ${tid('messages')}`), t.message_count, `${t.topic_name} messages`);
      for (const c of t.channels ?? []) {
        const row = `${sec} ${tid(`node-channel-${c.channel_name}`)}`;
        assertEq(await cellNumber(page, `${row} ${tid('messages')}`), c.message_count, `${c.channel_name} messages`);
        assertEq(await cellNumber(page, `${row} ${tid('depth')}`), c.depth, `${c.channel_name} depth`);
      }
    }
    assertEq(await page.locator(`${tid('node-topic-orders')} ${tid('client-row')}`).count(), 1, 'client rows under orders');
    await shot(page, '07-node');
  });

  await check('Counter page shows the sum of /api/counter', async () => {
    await page.locator(tid('nav-counter')).click();
    await page.waitForURL(`${UI}/counter`);
    await waitNumber(
      page,
      tid('counter-total'),
      async () => Object.values((await apiGet('counter')).stats).reduce((a, s) => a + s.message_count, 0),
      'messages processed',
    );
    await shot(page, '08-counter');
  });

  await check('Live rate and sparklines on the topic page while messages are published', async () => {
    await page.goto(`${UI}/topics/events`);
    await page.locator(tid('topic-total')).waitFor({ timeout: WAIT_MS });
    let sent = 0;
    let stop = false;
    const publisher = (async () => {
      while (!stop) {
        await http('POST', `${A}/pub?topic=events`, `live ${sent}`);
        sent++;
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    try {
      const total = tid('topic-total');
      await waitFor('a positive rate in the Total row', async () => {
        const t = (await page.locator(`${total} ${tid('rate')}`).textContent()).trim();
        const v = Number(t.replace(/,/g, ''));
        return { ok: Number.isFinite(v) && v > 0, detail: `rate cell "${t}" after ${sent} messages` };
      });
      await waitFor('a rate sparkline with at least three points', async () => {
        const pts = (await page.locator(`${total} svg.spark-rate polyline`).getAttribute('points')) ?? '';
        return { ok: pts.split(' ').length >= 3, detail: `points "${pts}"` };
      });
    } finally {
      stop = true;
      await publisher;
    }
    await waitNumber(page, `${tid('topic-total')} ${tid('messages')}`, async () => (await apiGet('topics/events')).message_count, 'events messages');
    await shot(page, '09-topic-live-rate');
  });

  // ---------------------------------------------------------------- actions

  await check('Lookup page creates a topic and channel in nsqlookupd', async () => {
    await page.locator(tid('nav-lookup')).click();
    await page.waitForURL(`${UI}/lookup`);
    const hosts = await page.locator(tid('lookupd-hosts')).textContent({ timeout: WAIT_MS });
    assert(hosts.includes(lookupd.addrs.HTTP), `lookupd host ${lookupd.addrs.HTTP} listed (got "${hosts}")`);
    await shot(page, '10-lookup');
    await page.locator(tid('create-topic')).fill('e2e_created');
    await page.locator(tid('create-channel')).fill('first');
    await page.locator(tid('create-submit')).click();
    await page.locator(tid('banner-success')).waitFor({ timeout: WAIT_MS });
    const topics = await http('GET', `${L}/topics`);
    assert(topics.topics.includes('e2e_created'), `lookupd /topics has e2e_created: ${JSON.stringify(topics)}`);
    const channels = await http('GET', `${L}/channels?topic=e2e_created`);
    assert(channels.channels.includes('first'), `lookupd /channels has first: ${JSON.stringify(channels)}`);
    await page.locator(tid('inactive-channel-e2e_created-first')).waitFor({ timeout: WAIT_MS });
    await shot(page, '11-lookup-created');
  });

  await check('Delete Topic (after confirming) removes events from nsqd and nsqlookupd', async () => {
    await page.goto(`${UI}/topics/events`);
    await page.locator(tid('delete-topic')).waitFor({ timeout: WAIT_MS });
    await shot(page, '12-topic-events');
    const before = dialogs.length;
    await page.locator(tid('delete-topic')).click();
    await page.waitForURL(`${UI}/`, { timeout: WAIT_MS });
    assertEq(dialogs.length, before + 1, 'a confirmation was asked');
    assert(dialogs[dialogs.length - 1].includes('events'), 'the confirmation names the topic');
    const stats = await http('GET', `${A}/stats?format=json`);
    assert(!stats.topics.some((t) => t.topic_name === 'events'), 'nsqd A no longer has events');
    const lt = await http('GET', `${L}/topics`);
    assert(!lt.topics.includes('events'), `lookupd no longer lists events: ${JSON.stringify(lt)}`);
    await waitFor('the Streams page without events', async () => {
      const rows = await page.locator(tid('topic-row-events')).count();
      const orders = await page.locator(tid('topic-row-orders')).count();
      return { ok: rows === 0 && orders === 1, detail: `events rows ${rows}, orders rows ${orders}` };
    });
  });

  await check('Tombstone (✘) orders on the second nsqd', async () => {
    await page.goto(`${UI}/topics/orders`);
    const row = tid(`topic-node-${nodeB}`);
    await page.locator(`${row} ${tid('tombstone')}`).click({ timeout: WAIT_MS });
    await page.locator(tid('banner-success')).waitFor({ timeout: WAIT_MS });
    const stats = await http('GET', `${B}/stats?format=json`);
    assert(!stats.topics.some((t) => t.topic_name === 'orders'), 'nsqd B deleted orders');
    await waitFor('the topic page to show only the first nsqd', async () => {
      const n = await page.locator(`${tid('topic-nodes-table')} tbody tr`).count();
      return { ok: n === 2, detail: `${n} rows (one node plus Total expected)` };
    });
    await shot(page, '13-topic-tombstoned');
  });

  await check('Error banner for a topic without producers', async () => {
    await page.goto(`${UI}/topics/e2e_created`);
    await page.locator(tid('banner-error')).waitFor({ timeout: WAIT_MS });
    await page.getByText('No producers exist for this topic.').waitFor();
    await shot(page, '14-topic-no-producers');
  });

  await check('Every /api request carries the nsqadmin headers', async () => {
    assert(apiRequests.length > 10, `saw ${apiRequests.length} API requests`);
    for (const r of apiRequests) {
      for (const [k, v] of Object.entries(HEADERS)) {
        if (r.headers[k] !== v) throw new Error(`${r.url}: header ${k} is ${JSON.stringify(r.headers[k])}, want ${v}`);
      }
    }
  });

  await check('Under --base-path=/admin/ pages, links and API calls stay under the prefix', async () => {
    const base = `http://${adminBase.addrs.HTTP}`;
    await page.goto(`${base}/admin/`);
    await page.locator(tid('topic-row-orders')).waitFor({ timeout: WAIT_MS });
    await page.locator(tid('nav-nodes')).click();
    await page.waitForURL(`${base}/admin/nodes`);
    await page.locator(tid('nodes-table')).waitFor({ timeout: WAIT_MS });
    await page.reload();
    await page.locator(tid('nodes-table')).waitFor({ timeout: WAIT_MS });
    const outside = apiRequests.filter((r) => r.url.startsWith(base) && !new URL(r.url).pathname.startsWith('/admin/api/'));
    assertEq(outside.length, 0, 'API requests outside /admin/api/');
    await shot(page, '15-base-path-nodes');
  });

  await check('A failing lookupd shows the API WARNING as a warning banner', async () => {
    const base = `http://${adminPartial.addrs.HTTP}`;
    await page.goto(`${base}/`);
    await page.locator(tid('banner-warning')).waitFor({ timeout: WAIT_MS });
    const text = await page.locator(tid('banner-warning')).textContent();
    const api = await http('GET', `${base}/api/topics`);
    assert(api.message.startsWith('WARNING'), `API message "${api.message}" should be a WARNING`);
    assertEq(text.trim(), api.message, 'banner text');
    await page.locator(tid('topic-row-orders')).waitFor({ timeout: WAIT_MS });
    await page.locator(tid('nav-nodes')).click();
    await page.locator(tid('nodes-table')).waitFor({ timeout: WAIT_MS });
    const conns = await page.locator(`${tid('nodes-table')} ${tid('lookupd-conns')}`).first().textContent();
    assert(conns.includes('expected 2'), `lookupd connection count flagged (got "${conns}")`);
    await shot(page, '16-partial-lookupd-nodes');
  });

  await check('nsqd mode: Lookup page says no lookupd is configured; Streams still lists topics', async () => {
    const base = `http://${adminNsqd.addrs.HTTP}`;
    await page.goto(`${base}/lookup`);
    await page.getByText('nsqadmin is not configured with nsqlookupd hosts').waitFor({ timeout: WAIT_MS });
    assertEq(await page.locator(tid('create-form')).count(), 0, 'create forms without lookupd');
    await shot(page, '17-lookup-nsqd-mode');
    await page.locator(tid('nav-streams')).click();
    await page.locator(tid('topic-row-orders')).waitFor({ timeout: WAIT_MS });
  });

  await check('With --graphite-url the topic page adds graphite images for its statsd metrics', async () => {
    const base = `http://${adminNsqd.addrs.HTTP}`;
    await page.goto(`${base}/topics/orders`);
    await page.locator(tid('topic-total')).waitFor({ timeout: WAIT_MS });
    const srcs = await page.locator(tid('graphite-img')).evaluateAll((imgs) => imgs.map((i) => i.getAttribute('src')));
    const targets = srcs.map((s) => new URL(s).searchParams.get('target'));
    assertEq(
      targets.join(' '),
      'sumSeries(stats.gauges.nsq.*.topic.orders.depth) sumSeries(stats.counters.nsq.*.topic.orders.message_count.count)',
      'graphite targets',
    );
    assert(srcs.every((s) => s.startsWith('http://127.0.0.1:9/render?')), `render URLs ${srcs}`);
  });

  await check('No JavaScript errors on any page', async () => {
    assertEq(pageErrors.length, 0, `page errors ${JSON.stringify(pageErrors)}`);
  });

  const failed = results.filter((r) => !r.ok);
  console.log(`\n${results.length - failed.length}/${results.length} checks passed; screenshots in ${shotDir}`);
  if (failed.length) {
    for (const f of failed) console.log(`FAILED: ${f.name}\n  ${f.error.message}`);
    for (const d of daemons) if (d.lines.length) console.log(`--- ${d.name} log tail\n${d.tail(10)}`);
    process.exitCode = 1;
  }
}

try {
  await main();
} catch (e) {
  console.error(`e2e aborted: ${e.message}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
