/**
 * The four scenarios (after the Open MQTT Benchmark Suite), written once
 * against the xk6-mqtt `Client` surface. The k6 entry scripts in ../ext and
 * ../ws pass either the extension's Client or our WebSocket one, k6's
 * `check`, and their metrics; the Node tests pass a `ws` shim and fakes.
 *
 * Every function returns a Promise that settles when its client has ended,
 * and ends the client itself by a deadline, so no iteration can hang.
 *
 * @typedef {{ add(value: number): void }} Metric
 * @typedef {{ connectMs: Metric, latencyMs: Metric, sent: Metric, received: Metric }} Metrics
 * @typedef {{ vu: number, iter: number, prefix: string }} Ctx
 */
import { readStamp, stampedPayload } from './stamp.js'

function start(Client, cfg, clientId, m, check, deadlineMs, onConnect) {
  return new Promise((resolve) => {
    const client = new Client({ client_id: clientId, protocol_version: cfg.mqttVersion })
    const t0 = Date.now()
    let connected = false
    const deadline = setTimeout(() => client.end(), deadlineMs)
    client.on('connect', () => {
      connected = true
      m.connectMs.add(Date.now() - t0)
      onConnect(client)
    })
    client.on('error', (err) => {
      check(err, { 'no MQTT error': () => false })
      if (!connected) client.end()
    })
    client.on('end', () => {
      clearTimeout(deadline)
      check(connected, { 'connected (CONNACK)': (c) => c === true })
      resolve(client)
    })
    client.connect(cfg.url, { keepalive: cfg.keepalive })
  })
}

/** connect-storm: connect, measure connect→CONNACK, hold the connection, leave. */
export function connectStorm(Client, cfg, ctx, m, check) {
  return start(Client, cfg, `k6-cs-${ctx.vu}-${ctx.iter}`, m, check, (cfg.holdS + 30) * 1000, (client) => {
    setTimeout(() => client.end(), cfg.holdS * 1000)
  })
}

/** p2p-qos1: publish to my own topic and receive it back; latency from the payload stamp. */
export function p2pQos1(Client, cfg, ctx, m, check) {
  const topic = `${ctx.prefix}/p2p/${ctx.vu}-${ctx.iter}`
  const budget = cfg.messages * cfg.intervalMs + cfg.graceS * 1000 + 10_000
  let received = 0
  return start(Client, cfg, `k6-p2p-${ctx.vu}-${ctx.iter}`, m, check, budget, (client) => {
    client.on('message', (_topic, payload) => {
      const stamp = readStamp(payload)
      if (stamp) m.latencyMs.add(Date.now() - stamp.sentMs)
      received++
      m.received.add(1)
      if (received === cfg.messages) finish()
    })
    const finish = () => {
      check(received, { 'p2p: every message came back': (r) => r === cfg.messages })
      client.end()
    }
    client.subscribeAsync(topic, { qos: 1 }).then(() => {
      let seq = 0
      const timer = setInterval(() => {
        if (seq >= cfg.messages || !client.connected) {
          clearInterval(timer)
          setTimeout(finish, cfg.graceS * 1000)
          return
        }
        client.publish(topic, stampedPayload(cfg.payload, ctx.vu, seq++), { qos: 1 })
        m.sent.add(1)
      }, cfg.intervalMs)
    })
  })
}

/** A publisher of fan-out / fan-in: `messages` stamped messages to its own topic. */
export function publisher(kind) {
  return (Client, cfg, ctx, m, check) => {
    const topic = `${ctx.prefix}/${kind}/${ctx.vu}`
    const budget = cfg.messages * cfg.intervalMs + 30_000
    return start(Client, cfg, `k6-${kind}-p${ctx.vu}-${ctx.iter}`, m, check, budget, (client) => {
      let seq = 0
      const timer = setInterval(() => {
        if (seq >= cfg.messages || !client.connected) {
          clearInterval(timer)
          check(seq, { [`${kind}: all messages published`]: (s) => s === cfg.messages })
          // give QoS 1 acknowledgements a moment before leaving
          setTimeout(() => client.end(), 1000)
          return
        }
        client.publish(topic, stampedPayload(cfg.payload, ctx.vu, seq++), { qos: cfg.qos })
        m.sent.add(1)
      }, cfg.intervalMs)
    })
  }
}

/**
 * A subscriber of fan-out (every subscriber gets every message: `shared`
 * false) or fan-in (consumers of one shared subscription split the stream).
 * It stays for `listenS`, then leaves; the entry script's thresholds compare
 * the received count with what was published.
 */
export function subscriber(kind, shared) {
  return (Client, cfg, ctx, m, check, listenS) => {
    const filter = shared ? `$share/k6/${ctx.prefix}/${kind}/#` : `${ctx.prefix}/${kind}/#`
    let received = 0
    return start(
      Client,
      cfg,
      `k6-${kind}-s${ctx.vu}-${ctx.iter}`,
      m,
      check,
      (listenS + 30) * 1000,
      (client) => {
        client.on('message', (_topic, payload) => {
          const stamp = readStamp(payload)
          if (stamp) m.latencyMs.add(Date.now() - stamp.sentMs)
          received++
          m.received.add(1)
        })
        client.subscribeAsync(filter, { qos: cfg.qos }).then(() => {
          setTimeout(() => {
            check(received, { [`${kind}: subscriber received messages`]: (r) => r > 0 })
            client.end()
          }, listenS * 1000)
        })
      },
    )
  }
}

export const fanOutPublisher = publisher('fanout')
export const fanOutSubscriber = subscriber('fanout', false)
export const fanInPublisher = publisher('fanin')
export const fanInConsumer = subscriber('fanin', true)

/** k6 `options` for connect-storm: ramp to `connections` VUs, one connection each. */
export function connectStormOptions(cfg) {
  return {
    scenarios: {
      storm: {
        executor: 'ramping-vus',
        startVUs: 0,
        stages: [
          { duration: `${cfg.rampS}s`, target: cfg.connections },
          { duration: `${cfg.holdS}s`, target: cfg.connections },
          { duration: '5s', target: 0 },
        ],
        gracefulRampDown: `${cfg.holdS + 10}s`,
      },
    },
    thresholds: {
      checks: ['rate>0.99'],
      mqtt_connect_ms: ['p(95)<1000'],
    },
  }
}

/** k6 `options` for p2p-qos1: VUS virtual users, one iteration each. */
export function p2pOptions(cfg) {
  return {
    scenarios: { p2p: { executor: 'per-vu-iterations', vus: cfg.vus, iterations: 1, maxDuration: '10m' } },
    thresholds: {
      checks: ['rate>0.99'],
      mqtt_e2e_latency_ms: ['p(95)<50', 'p(99)<200'],
      mqtt_connect_ms: ['p(95)<1000'],
    },
  }
}

/** How long subscribers listen: publishers start 2 s later and need messages × interval. */
export function listenSeconds(cfg) {
  return 2 + Math.ceil((cfg.messages * cfg.intervalMs) / 1000) + cfg.graceS
}

/**
 * k6 `options` for fan-out / fan-in: a subscriber scenario and, 2 s later, a
 * publisher scenario. `perMessage` is how many receipts one publish yields
 * (subscribers for fan-out, 1 for fan-in's shared group).
 */
export function pubSubOptions(cfg, subscribers, perMessage) {
  const expected = cfg.publishers * cfg.messages * perMessage
  return {
    scenarios: {
      subscribers: {
        executor: 'per-vu-iterations',
        exec: 'subscribe',
        vus: subscribers,
        iterations: 1,
        maxDuration: `${listenSeconds(cfg) + 60}s`,
      },
      publishers: {
        executor: 'per-vu-iterations',
        exec: 'publish',
        vus: cfg.publishers,
        iterations: 1,
        startTime: '2s',
        maxDuration: `${listenSeconds(cfg) + 60}s`,
      },
    },
    thresholds: {
      checks: ['rate>0.99'],
      // at most 1 % lost end to end
      mqtt_received: [`count>=${Math.floor(expected * 0.99)}`],
      mqtt_e2e_latency_ms: ['p(95)<100'],
    },
  }
}

/** The custom metrics every script reports, built from k6's metric classes. */
export function makeMetrics(Trend, Counter) {
  return {
    connectMs: new Trend('mqtt_connect_ms', true),
    latencyMs: new Trend('mqtt_e2e_latency_ms', true),
    sent: new Counter('mqtt_sent'),
    received: new Counter('mqtt_received'),
  }
}
