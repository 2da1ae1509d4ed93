import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Aedes } from 'aedes'
import WebSocket, { createWebSocketStream, WebSocketServer } from 'ws'
import { assertLoopbackUrl, readConfig } from '../../load-tests/k6/lib/config.js'
import {
  connectStorm,
  fanInConsumer,
  fanInPublisher,
  fanOutPublisher,
  fanOutSubscriber,
  p2pQos1,
} from '../../load-tests/k6/lib/scenarios.js'
import { wsClientClass } from '../../load-tests/k6/lib/ws-client.js'
import { startTestServer } from '../helpers/server.ts'

// k6 cannot run here, so the k6 scenario code runs under Node: the same
// scenario functions, our WebSocket MQTT client, and a shim that gives the
// `ws` package k6's WebSocket constructor signature (url, protocols, params).

const k6Dir = new URL('../../load-tests/k6/', import.meta.url).pathname

class K6WebSocketShim extends WebSocket {
  constructor(url: string, _protocols: null, params: { headers: Record<string, string> }) {
    // k6 sends the subprotocol as a header; `ws` wants it as `protocols`
    super(url, params.headers['Sec-WebSocket-Protocol'], { perMessageDeflate: false })
  }
}
const Client = wsClientClass(K6WebSocketShim)

type Checks = Record<string, { pass: number; fail: number }>

function harness() {
  const values = { connectMs: [] as number[], latencyMs: [] as number[], sent: 0, received: 0 }
  const checks: Checks = {}
  const metrics = {
    connectMs: { add: (v: number) => values.connectMs.push(v) },
    latencyMs: { add: (v: number) => values.latencyMs.push(v) },
    sent: { add: (v: number) => (values.sent += v) },
    received: { add: (v: number) => (values.received += v) },
  }
  // k6's check(value, { name: predicate })
  const check = (value: unknown, sets: Record<string, (v: unknown) => boolean>) => {
    for (const [name, fn] of Object.entries(sets)) {
      checks[name] ??= { pass: 0, fail: 0 }
      if (fn(value)) checks[name].pass++
      else checks[name].fail++
    }
  }
  return { values, checks, metrics, check }
}

function failed(checks: Checks): string[] {
  return Object.entries(checks)
    .filter(([, c]) => c.fail > 0)
    .map(([name, c]) => `${name}: ${c.fail} failed`)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('k6 scenarios under Node (WebSocket flavour, aedes)', () => {
  let broker: Aedes
  let http: HttpServer
  let url = ''
  const protocols: string[] = []

  before(async () => {
    broker = await Aedes.createBroker()
    http = createHttpServer()
    const wss = new WebSocketServer({ server: http, perMessageDeflate: false })
    wss.on('connection', (ws, req) => {
      protocols.push(String(req.headers['sec-websocket-protocol']))
      broker.handle(createWebSocketStream(ws))
    })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    url = `ws://127.0.0.1:${(http.address() as { port: number }).port}/mqtt`
  })

  after(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()))
    http.closeAllConnections()
    http.close()
  })

  test('connect-storm: 10 VUs connect, hold, leave; subprotocol mqtt sent as a header', async () => {
    const h = harness()
    const cfg = readConfig({ HOLD_S: '0.2' }, url)
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        connectStorm(Client, cfg, { vu: i + 1, iter: 0, prefix: '' }, h.metrics, h.check),
      ),
    )
    assert.deepEqual(failed(h.checks), [])
    assert.equal(h.checks['connected (CONNACK)']!.pass, 10)
    assert.equal(h.values.connectMs.length, 10)
    assert.ok(protocols.length >= 10 && protocols.every((p) => p === 'mqtt'))
  })

  test('p2p-qos1: every QoS 1 message comes back with a latency sample', async () => {
    const h = harness()
    const cfg = readConfig({ MESSAGES: '20', INTERVAL_MS: '5', GRACE_S: '2' }, url)
    await Promise.all(
      [1, 2, 3].map((vu) => p2pQos1(Client, cfg, { vu, iter: 0, prefix: 'k6t/p2p' }, h.metrics, h.check)),
    )
    assert.deepEqual(failed(h.checks), [])
    assert.equal(h.checks['p2p: every message came back']!.pass, 3)
    assert.equal(h.values.sent, 60)
    assert.equal(h.values.received, 60)
    assert.equal(h.values.latencyMs.length, 60)
  })

  test('fan-out: each of 2 subscribers receives every message of 2 publishers', async () => {
    const h = harness()
    const cfg = readConfig({ MESSAGES: '10', INTERVAL_MS: '5', QOS: '1' }, url)
    const ctx = (vu: number) => ({ vu, iter: 0, prefix: 'k6t/fo' })
    const subs = [11, 12].map((vu) => fanOutSubscriber(Client, cfg, ctx(vu), h.metrics, h.check, 1.5))
    await sleep(300)
    await Promise.all([21, 22].map((vu) => fanOutPublisher(Client, cfg, ctx(vu), h.metrics, h.check)))
    await Promise.all(subs)
    assert.deepEqual(failed(h.checks), [])
    assert.equal(h.values.sent, 20)
    assert.equal(h.values.received, 40)
  })
})

describe('k6 fan-in under Node (shared subscription, mqttd broker over WebSocket)', () => {
  test('fan-in: 2 consumers of $share/k6/… split the messages of 3 publishers', async (t) => {
    const server = await startTestServer(t, { listeners: ['ws'], broker: true, workers: 1 })
    const h = harness()
    const cfg = readConfig({ MESSAGES: '10', INTERVAL_MS: '5', QOS: '1' }, server.url('ws'))
    const ctx = (vu: number) => ({ vu, iter: 0, prefix: 'k6t/fi' })
    const consumers = [31, 32].map((vu) => fanInConsumer(Client, cfg, ctx(vu), h.metrics, h.check, 1.5))
    await sleep(300)
    await Promise.all([41, 42, 43].map((vu) => fanInPublisher(Client, cfg, ctx(vu), h.metrics, h.check)))
    await Promise.all(consumers)
    assert.deepEqual(failed(h.checks), [])
    assert.equal(h.values.sent, 30)
    // a shared group gets each message once, split over its members
    assert.equal(h.values.received, 30)
  })
})

describe('k6 scripts', () => {
  test('config refuses a broker outside the loopback range', () => {
    assert.throws(() => assertLoopbackUrl('mqtt://10.1.2.3:1883'), /127\.0\.0\.0\/8/)
    assert.throws(() => assertLoopbackUrl('ws://example.com/mqtt'), /refusing/)
    assert.equal(assertLoopbackUrl('ws://127.0.0.5:8083/mqtt'), 'ws://127.0.0.5:8083/mqtt')
    assert.throws(() => readConfig({ MESSAGES: '-1' }, 'mqtt://127.0.0.1:1883'), /MESSAGES/)
  })

  test('library files use no Node APIs (k6 has no Buffer, require or node: modules)', () => {
    for (const file of readdirSync(join(k6Dir, 'lib')).filter((f) => f.endsWith('.js'))) {
      const code = readFileSync(join(k6Dir, 'lib', file), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '')
      assert.doesNotMatch(code, /\bBuffer\b|\brequire\(|from 'node:|\bprocess\.|\bglobal\./, file)
    }
  })

  test('every entry script parses and imports only k6 modules and ../lib', () => {
    for (const flavour of ['ws', 'ext']) {
      const files = readdirSync(join(k6Dir, flavour)).filter((f) => f.endsWith('.js'))
      assert.deepEqual(files.sort(), ['connect-storm.js', 'fan-in.js', 'fan-out.js', 'p2p-qos1.js'])
      for (const file of files) {
        const path = join(k6Dir, flavour, file)
        execFileSync(process.execPath, ['--check', path])
        const src = readFileSync(path, 'utf8')
        for (const [, spec] of src.matchAll(/from '([^']+)'/g)) {
          assert.match(spec!, /^(k6(\/.*)?|\.\.\/lib\/[a-z-]+\.js)$/, `${flavour}/${file} imports ${spec}`)
        }
        assert.match(src, /export const options = /)
        if (flavour === 'ext') assert.match(src, /from 'k6\/x\/mqtt'/)
        else assert.match(src, /from 'k6\/websockets'/)
      }
    }
  })
})
