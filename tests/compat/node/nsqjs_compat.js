#!/usr/bin/env node
// Drive our nsqd with the Node client (nsqjs 0.13.0).
//
// Run by tests/tests/compat_nsqjs.rs, one scenario per invocation:
//
//     node nsqjs_compat.js SCENARIO --tcp HOST:PORT --http HOST:PORT [--timeout SECONDS]
//
// Scenarios: pubsub, requeue, touch, and the stream upgrades snappy, deflate, tls, tls-snappy,
// tls-deflate (those with TLS need `--ca CA.pem`, the CA that signed nsqd's certificate for
// localhost).
//
// Prints `PASS <scenario> ...` and exits 0 when every check holds; prints
// `FAIL <scenario>: <why>` and exits 1 on the first mismatch, on any client error, or when the
// time limit is hit.
'use strict'

const fs = require('fs')
const nsq = require('nsqjs')

class Failure extends Error {}

function check(cond, what) {
  if (!cond) throw new Failure(what)
}

const progress = {}

function progressText() {
  return Object.keys(progress)
    .sort()
    .map((k) => `${k}=${progress[k]}`)
    .join(' ')
}

function parseArgs(argv) {
  const args = {scenario: argv[0], timeout: 60}
  for (let i = 1; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '')
    args[key] = key === 'timeout' ? Number(argv[i + 1]) : argv[i + 1]
  }
  if (!args.scenario || !args.tcp || !args.http) {
    throw new Error('usage: nsqjs_compat.js SCENARIO --tcp HOST:PORT --http HOST:PORT')
  }
  return args
}

function splitAddr(addr) {
  const i = addr.lastIndexOf(':')
  return [addr.slice(0, i), Number(addr.slice(i + 1))]
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// Poll `cond` until it holds; fail with `what` after `timeoutMs`.
async function waitFor(cond, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Failure(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

async function httpPost(http, path) {
  const res = await fetch(`http://${http}${path}`, {method: 'POST'})
  const body = await res.text()
  check(res.status === 200, `POST ${path} answered ${res.status} ${body}`)
  return body
}

async function stats(http, topic) {
  const res = await fetch(`http://${http}/stats?format=json&topic=${topic}`)
  check(res.status === 200, `/stats answered ${res.status}`)
  return res.json()
}

async function channelStats(http, topic, channel) {
  const doc = await stats(http, topic)
  const topics = doc.topics || []
  check(topics.length === 1, `/stats lists ${topics.length} topics for ${topic}`)
  const ch = topics[0].channels.find((c) => c.channel_name === channel)
  check(ch, `/stats has no channel ${channel} in topic ${topic}`)
  return [topics[0], ch]
}

// Wait until the channel has nothing queued, in flight or deferred; return its stats.
async function settledChannel(http, topic, channel) {
  const deadline = Date.now() + 15000
  for (;;) {
    const [t, ch] = await channelStats(http, topic, channel)
    if (ch.depth === 0 && ch.in_flight_count === 0 && ch.deferred_count === 0) return [t, ch]
    if (Date.now() > deadline) throw new Failure(`channel ${topic}/${channel} did not drain`)
    await sleep(20)
  }
}

function connectedWriter(tcp) {
  const [host, port] = splitAddr(tcp)
  const writer = new nsq.Writer(host, port)
  return new Promise((resolve, reject) => {
    writer.on('ready', () => resolve(writer))
    writer.on('error', (err) => reject(new Failure(`writer error: ${err}`)))
    writer.connect()
  })
}

// publish(topic, body-or-array) and deferPublish(topic, body, ms) as promises.
function publish(writer, topic, msgs) {
  return new Promise((resolve, reject) =>
    writer.publish(topic, msgs, (err) =>
      err ? reject(new Failure(`publish to ${topic}: ${err}`)) : resolve()
    )
  )
}

// nsqjs 0.13.0 hands deferPublish's message straight to a routine that wants an array.
function deferPublish(writer, topic, msg, ms) {
  return new Promise((resolve, reject) =>
    writer.deferPublish(topic, [msg], ms, (err) =>
      err ? reject(new Failure(`deferPublish to ${topic}: ${err}`)) : resolve()
    )
  )
}

// Start a Reader and resolve once its subscription is acknowledged.
function readyReader(topic, channel, options, onMessage, errors) {
  const reader = new nsq.Reader(topic, channel, options)
  reader.on('message', onMessage)
  reader.on('discard', (m) => errors.push(`discarded ${m.body}`))
  reader.on('nsqd_closed', () => errors.push('reader connection closed'))
  return new Promise((resolve) => {
    reader.on('error', (err) => {
      errors.push(`reader error: ${err}`)
      resolve(reader)
    })
    reader.on('ready', () => resolve(reader))
    reader.connect()
  })
}

const pubBody = (i) => Buffer.from(`pub-${i}-` + 'p'.repeat(i % 50))
// Bytes a text protocol would mangle: NUL, newline, high bytes.
const mpubBody = (i) =>
  Buffer.concat([
    Buffer.from(`mpub-${i}-`),
    Buffer.from(Array.from({length: i % 64}, (_, k) => (i * 7 + k) % 256)),
  ])
const dpubBody = (i) => Buffer.from(`dpub-${i}`)

// Single publishes, array (MPUB) publishes and deferPublish; one Reader finishes them all.
async function scenarioPubsub(args) {
  const topic = 'nsqjs_pubsub'
  const channel = 'ch'
  const nPub = 1000
  const nMpub = 4000
  const batch = 100
  const nDpub = 20
  const deferMs = 500

  // nsqjs users create topics and channels over HTTP; do the same.
  check((await httpPost(args.http, `/topic/create?topic=${topic}`)) === '', 'topic/create body')
  check(
    (await httpPost(args.http, `/channel/create?topic=${topic}&channel=${channel}`)) === '',
    'channel/create body'
  )

  const received = new Map()
  const errors = []
  const reader = await readyReader(
    topic,
    channel,
    {nsqdTCPAddresses: [args.tcp], maxInFlight: 200},
    (msg) => {
      const key = msg.body.toString('latin1')
      if (!received.has(key)) received.set(key, [])
      received.get(key).push({attempts: msg.attempts, at: Date.now()})
      progress.received = received.size
      msg.finish()
    },
    errors
  )
  check(errors.length === 0, errors.join('; '))

  const writer = await connectedWriter(args.tcp)
  const expected = new Set()
  let pending = []
  for (let i = 0; i < nPub; i++) {
    expected.add(pubBody(i).toString('latin1'))
    pending.push(publish(writer, topic, pubBody(i)))
    if (pending.length >= 200) {
      await Promise.all(pending)
      pending = []
    }
  }
  for (let i = 0; i < nMpub; i += batch) {
    const msgs = []
    for (let j = i; j < i + batch; j++) {
      msgs.push(mpubBody(j))
      expected.add(mpubBody(j).toString('latin1'))
    }
    pending.push(publish(writer, topic, msgs))
  }
  await Promise.all(pending)
  const dpubSentAt = new Map()
  pending = []
  for (let i = 0; i < nDpub; i++) {
    const key = dpubBody(i).toString('latin1')
    expected.add(key)
    dpubSentAt.set(key, Date.now())
    pending.push(deferPublish(writer, topic, dpubBody(i), deferMs))
  }
  await Promise.all(pending)
  progress.published = expected.size
  check(expected.size === nPub + nMpub + nDpub, 'test bodies are not unique')

  await waitFor(
    () => received.size >= expected.size || errors.length > 0,
    45000,
    `all ${expected.size} messages`
  )
  check(errors.length === 0, errors.join('; '))
  const unexpected = [...received.keys()].filter((k) => !expected.has(k))
  const missing = [...expected].filter((k) => !received.has(k))
  check(
    unexpected.length === 0 && missing.length === 0,
    `bodies differ: ${unexpected.length} unexpected, ${missing.length} missing`
  )
  const dups = [...received.values()].filter((seen) => seen.length !== 1)
  check(dups.length === 0, `${dups.length} messages delivered more than once`)
  const again = [...received.values()].filter((seen) => seen[0].attempts !== 1)
  check(again.length === 0, `${again.length} messages arrived with attempts != 1`)
  for (const [key, sent] of dpubSentAt) {
    const waited = received.get(key)[0].at - sent
    check(waited >= deferMs - 10, `deferred ${key} (${deferMs} ms) arrived after ${waited} ms`)
  }

  const [t, ch] = await settledChannel(args.http, topic, channel)
  const total = expected.size
  check(t.message_count === total, `topic message_count ${t.message_count} != ${total}`)
  check(ch.message_count === total, `channel message_count ${ch.message_count} != ${total}`)
  check(ch.requeue_count === 0 && ch.timeout_count === 0, 'unexpected requeues or timeouts')
  const finished = ch.clients.reduce((sum, c) => sum + c.finish_count, 0)
  check(finished === total, `clients' finish_count ${finished} != ${total}`)
  check(errors.length === 0, errors.join('; '))

  reader.close()
  writer.close()
  return `received=${total} (publish=${nPub} mpub=${nMpub} deferPublish=${nDpub})`
}

// Every message is requeued once with a delay and must come back with attempts == 2.
async function scenarioRequeue(args) {
  const topic = 'nsqjs_requeue'
  const channel = 'ch'
  const n = 300
  const delayMs = 200
  const bodies = Array.from({length: n}, (_, i) => Buffer.from(`req-${i}`))
  const requeuedAt = new Map()
  const redelivered = new Map()
  const errors = []

  const reader = await readyReader(
    topic,
    channel,
    {nsqdTCPAddresses: [args.tcp], maxInFlight: 50},
    (msg) => {
      const key = msg.body.toString()
      if (msg.attempts === 1 && !requeuedAt.has(key)) {
        requeuedAt.set(key, Date.now())
        msg.requeue(delayMs, false)
      } else if (msg.attempts === 2 && !redelivered.has(key)) {
        redelivered.set(key, Date.now())
        msg.finish()
      } else {
        errors.push(`${key} arrived again with attempts ${msg.attempts}`)
        msg.finish()
      }
      progress.requeued = requeuedAt.size
      progress.redelivered = redelivered.size
    },
    errors
  )
  const writer = await connectedWriter(args.tcp)
  for (let i = 0; i < n; i += 100) {
    await publish(writer, topic, bodies.slice(i, i + 100))
  }

  await waitFor(
    () => redelivered.size >= n || errors.length > 0,
    45000,
    `all ${n} redeliveries`
  )
  check(errors.length === 0, errors.join('; '))
  for (const body of bodies) {
    const key = body.toString()
    check(requeuedAt.has(key) && redelivered.has(key), `${key} was not delivered twice`)
    const waited = redelivered.get(key) - requeuedAt.get(key)
    check(waited >= delayMs - 10, `${key} came back ${waited} ms after REQ ${delayMs}`)
  }

  const [, ch] = await settledChannel(args.http, topic, channel)
  check(ch.requeue_count === n, `requeue_count ${ch.requeue_count} != ${n}`)
  check(ch.timeout_count === 0, `timeout_count ${ch.timeout_count} != 0`)
  const finished = ch.clients.reduce((sum, c) => sum + c.finish_count, 0)
  check(finished === n, `clients' finish_count ${finished} != ${n}`)
  reader.close()
  writer.close()
  return `requeued=${n} redelivered=${redelivered.size}`
}

// nsqd runs with --msg-timeout=1s; touching a message keeps it ours well past that.
async function scenarioTouch(args) {
  const topic = 'nsqjs_touch'
  const channel = 'ch'
  const holdMs = 2500
  const touchEveryMs = 300
  const deliveries = []
  const errors = []

  const reader = await readyReader(
    topic,
    channel,
    {nsqdTCPAddresses: [args.tcp], maxInFlight: 5},
    (msg) => {
      deliveries.push(msg.attempts)
      progress.deliveries = deliveries.length
      if (deliveries.length > 1) {
        msg.finish()
        return
      }
      const started = Date.now()
      const timer = setInterval(() => {
        if (Date.now() - started >= holdMs) {
          clearInterval(timer)
          msg.finish()
        } else {
          msg.touch()
        }
      }, touchEveryMs)
    },
    errors
  )
  const writer = await connectedWriter(args.tcp)
  await publish(writer, topic, Buffer.from('touched'))

  await waitFor(() => deliveries.length >= 1, 10000, 'the message')
  // Settled means FINed: the hold (2.5 s) is longer than the 1 s msg-timeout.
  const [, ch] = await settledChannel(args.http, topic, channel)
  check(errors.length === 0, errors.join('; '))
  check(
    deliveries.length === 1 && deliveries[0] === 1,
    `deliveries (attempts) were [${deliveries}]`
  )
  check(ch.timeout_count === 0, `timeout_count ${ch.timeout_count} != 0 despite TOUCH`)
  check(ch.requeue_count === 0, `requeue_count ${ch.requeue_count} != 0`)
  const finished = ch.clients.reduce((sum, c) => sum + c.finish_count, 0)
  check(finished === 1, `clients' finish_count ${finished} != 1`)
  reader.close()
  writer.close()
  return `held=${holdMs}ms touches_every=${touchEveryMs}ms`
}

// Reader/Writer options that negotiate `features` (tls, snappy, deflate).
function upgradeOptions(args, features) {
  const opts = {}
  if (features.includes('tls')) {
    opts.tls = true
    opts.tlsVerification = true
    opts.ca = fs.readFileSync(args.ca)
  }
  if (features.includes('snappy')) opts.snappy = true
  if (features.includes('deflate')) {
    opts.deflate = true
    opts.deflateLevel = 6
  }
  return opts
}

// Compressible text, incompressible bytes, and a few bodies over one 64 KiB snappy block.
function upgradedBody(i) {
  if (i % 500 === 7) {
    return Buffer.concat([
      Buffer.from(`big-${i}-`),
      Buffer.from(Array.from({length: 100000}, (_, k) => (i * 31 + k * 7) % 251)),
    ])
  }
  if (i % 2) return Buffer.from(`up-${i}-` + 'compressible '.repeat(i % 40))
  return Buffer.concat([
    Buffer.from(`up-${i}-`),
    Buffer.from(Array.from({length: i % 300}, (_, k) => (i * 13 + k) % 256)),
  ])
}

// Thousands of messages through a Writer and a Reader that both negotiated `features`; /stats
// must show the negotiated layers on both connections.
async function scenarioUpgraded(args, features) {
  const topic = 'nsqjs_' + features.join('_')
  const channel = 'ch'
  const nPub = 1000
  const nMpub = 2000
  const batch = 100
  const opts = upgradeOptions(args, features)

  const received = new Map()
  const errors = []
  const reader = await readyReader(
    topic,
    channel,
    {nsqdTCPAddresses: [args.tcp], maxInFlight: 200, ...opts},
    (msg) => {
      const key = msg.body.toString('latin1')
      received.set(key, (received.get(key) || 0) + 1)
      progress.received = received.size
      if (msg.attempts !== 1) errors.push(`attempts ${msg.attempts}`)
      msg.finish()
    },
    errors
  )
  check(errors.length === 0, errors.join('; '))

  const [host, port] = splitAddr(args.tcp)
  const writer = new nsq.Writer(host, port, opts)
  await new Promise((resolve, reject) => {
    writer.on('ready', resolve)
    writer.on('error', (err) => reject(new Failure(`writer error: ${err}`)))
    writer.connect()
  })

  const bodies = Array.from({length: nPub + nMpub}, (_, i) => upgradedBody(i))
  const expected = new Set(bodies.map((b) => b.toString('latin1')))
  check(expected.size === bodies.length, 'test bodies are not unique')
  let pending = []
  for (let i = 0; i < nPub; i++) {
    pending.push(publish(writer, topic, bodies[i]))
    if (pending.length >= 200) {
      await Promise.all(pending)
      pending = []
    }
  }
  for (let i = nPub; i < nPub + nMpub; i += batch) {
    pending.push(publish(writer, topic, bodies.slice(i, i + batch)))
  }
  await Promise.all(pending)
  progress.published = bodies.length

  await waitFor(
    () => received.size >= expected.size || errors.length > 0,
    45000,
    `all ${expected.size} messages`
  )
  check(errors.length === 0, errors.join('; '))
  const missing = [...expected].filter((k) => !received.has(k))
  check(missing.length === 0, `${missing.length} bodies missing`)
  const dups = [...received.values()].filter((n) => n !== 1)
  check(dups.length === 0, `${dups.length} messages delivered more than once`)

  const [, ch] = await settledChannel(args.http, topic, channel)
  check(ch.clients.length === 1, `channel has ${ch.clients.length} clients`)
  const producers = (await stats(args.http, topic)).producers || []
  check(producers.length === 1, `${producers.length} producers`)
  for (const [who, c] of [['reader', ch.clients[0]], ['writer', producers[0]]]) {
    for (const layer of ['tls', 'snappy', 'deflate']) {
      check(c[layer] === features.includes(layer), `${who} connection shows ${layer}=${c[layer]}`)
    }
    if (features.includes('tls')) {
      check(['TLS1.2', 'TLS1.3'].includes(c.tls_version), `${who} tls_version ${c.tls_version}`)
    }
  }
  reader.close()
  writer.close()
  return `received=${received.size} over ${features.join('+')}`
}

// Scenario `lookupd`: node nsqjs_compat.js lookupd --tcp .. --http .. --lookupd HOST:PORT[,..]
//     --topic T --channel C --nodes 0,1,2 --per-node N
// A Reader given only nsqlookupd addresses finds every producer and drains exactly the bodies
// `n<node>-m<j>` (j < N) of the listed nodes, each once, from that many nsqd.
async function scenarioLookupd(args) {
  const lookupds = args.lookupd.split(',')
  const nodes = args.nodes.split(',').map(Number)
  const perNode = Number(args['per-node'])
  const expected = new Set()
  for (const n of nodes) for (let j = 0; j < perNode; j++) expected.add(`n${n}-m${j}`)
  const received = new Map()
  const errors = []
  // Not readyReader: nsqjs emits `ready` only when it has exactly one connection, and this
  // Reader connects to every producer lookupd lists at once.
  const reader = new nsq.Reader(args.topic, args.channel, {
    lookupdHTTPAddresses: lookupds,
    lookupdPollInterval: 1,
    maxInFlight: 100,
  })
  reader.on('message', (msg) => {
    const key = msg.body.toString()
    received.set(key, (received.get(key) || 0) + 1)
    progress.received = received.size
    msg.finish()
  })
  reader.on('error', (err) => errors.push(`reader error: ${err}`))
  reader.on('discard', (m) => errors.push(`discarded ${m.body}`))
  reader.on('nsqd_closed', () => errors.push('reader connection closed'))
  reader.connect()
  await waitFor(
    () => received.size >= expected.size || errors.length > 0,
    45000,
    `all ${expected.size} messages`
  )
  check(errors.length === 0, errors.join('; '))
  const unexpected = [...received.keys()].filter((k) => !expected.has(k))
  const missing = [...expected].filter((k) => !received.has(k))
  check(
    unexpected.length === 0 && missing.length === 0,
    `bodies differ: ${unexpected.length} unexpected (e.g. ${unexpected[0]}), ${missing.length} missing`
  )
  const dups = [...received.values()].filter((n) => n !== 1)
  check(dups.length === 0, `${dups.length} messages delivered more than once`)
  const producers = reader.connectionIds.length
  check(
    producers === nodes.length,
    `connected to ${producers} nsqd (${reader.connectionIds}), expected ${nodes.length}`
  )
  reader.close()
  return `received=${received.size} from ${producers} nsqd via ${lookupds.length} lookupd`
}

const SCENARIOS = {
  pubsub: scenarioPubsub,
  requeue: scenarioRequeue,
  touch: scenarioTouch,
  lookupd: scenarioLookupd,
  snappy: (args) => scenarioUpgraded(args, ['snappy']),
  deflate: (args) => scenarioUpgraded(args, ['deflate']),
  tls: (args) => scenarioUpgraded(args, ['tls']),
  'tls-snappy': (args) => scenarioUpgraded(args, ['tls', 'snappy']),
  'tls-deflate': (args) => scenarioUpgraded(args, ['tls', 'deflate']),
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const run = SCENARIOS[args.scenario]
  if (!run) throw new Error(`unknown scenario ${args.scenario}`)
  const limit = setTimeout(() => {
    console.log(`FAIL ${args.scenario}: no result within ${args.timeout} s (${progressText()})`)
    process.exit(1)
  }, args.timeout * 1000)
  try {
    const summary = await run(args)
    clearTimeout(limit)
    console.log(`PASS ${args.scenario} ${summary}`)
    process.exit(0)
  } catch (err) {
    const why = err instanceof Failure ? err.message : err.stack
    console.log(`FAIL ${args.scenario}: ${why} (${progressText()})`)
    process.exit(1)
  }
}

main()
