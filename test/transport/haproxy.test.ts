// The PROXY protocol end to end: a real HAProxy (send-proxy, send-proxy-v2) in front of mqttd
// listeners with proxyProtocol: true, real mqtt.js clients. The clients connect from 127.0.0.2
// (or ::1), HAProxy connects to mqttd from 127.0.0.3: what mqttd must see is the client's address
// and port, never the proxy's. Plus what a proxyProtocol listener does with a connection that
// bypasses the proxy (no header, a bad one, none in time) and the per-address rate behind a proxy.
import assert from 'node:assert/strict'
import { connect as netConnect, type Socket } from 'node:net'
import { after, before, describe, type TestContext, test } from 'node:test'
import { connect as tlsConnect } from 'node:tls'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { freePort, freePorts } from '../../load-tests/free-ports.ts'
import type { MqttdConfigInput } from '../../src/config/schema.ts'
import { collectEvents, type EventLog } from '../helpers/events.ts'
import { haproxyBinary, startHaproxy } from '../helpers/haproxy.ts'
import { parseExposition, sumOf } from '../helpers/prom-text.ts'
import { connectPacket, rawClient } from '../helpers/raw-client.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { tlsFiles, tlsPem } from '../helpers/tls.ts'

const recorder = new URL('../fixtures/handlers/recorder.ts', import.meta.url).pathname
const binary = haproxyBinary()
const skip = binary === null ? 'haproxy is not installed (Debian: apt-get install haproxy)' : false
const clientHost = '127.0.0.2'
const proxyHost = '127.0.0.3'

/** mqttd listeners that expect a PROXY header, on 127.0.0.1 port 0. */
function proxiedListeners(): MqttdConfigInput['listeners'] {
  return [
    { name: 'tcp', type: 'tcp', host: '127.0.0.1', port: 0, proxyProtocol: true },
    {
      name: 'tls',
      type: 'tls',
      host: '127.0.0.1',
      port: 0,
      key: tlsFiles.key,
      cert: tlsFiles.cert,
      proxyProtocol: true,
    },
    { name: 'ws', type: 'ws', host: '127.0.0.1', port: 0, proxyProtocol: true },
    {
      name: 'wss',
      type: 'wss',
      host: '127.0.0.1',
      port: 0,
      key: tlsFiles.key,
      cert: tlsFiles.cert,
      proxyProtocol: true,
    },
  ]
}

interface Frontends {
  v1: number
  v2: number
  tls: number
  ws: number
  wss: number
}

/** An HAProxy config: TCP mode, one frontend per case, backends that speak from 127.0.0.3. */
function haproxyConfig(server: TestServer, f: Frontends): string {
  const backend = (name: string, port: number, send: string) => `
backend ${name}
  source ${proxyHost}
  server mqttd 127.0.0.1:${port} ${send}
`
  const frontend = (name: string, port: number, target: string) => `
frontend ${name}
  bind 127.0.0.1:${port}
  bind [::1]:${port}
  default_backend ${target}
`
  return `global
  maxconn 256
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
${frontend('v1', f.v1, 'tcp_v1')}${backend('tcp_v1', server.port('tcp'), 'send-proxy')}
${frontend('v2', f.v2, 'tcp_v2')}${backend('tcp_v2', server.port('tcp'), 'send-proxy-v2')}
${frontend('tls', f.tls, 'tls_v2')}${backend('tls_v2', server.port('tls'), 'send-proxy-v2')}
${frontend('ws', f.ws, 'ws_v2')}${backend('ws_v2', server.port('ws'), 'send-proxy-v2')}
${frontend('wss', f.wss, 'wss_v2')}${backend('wss_v2', server.port('wss'), 'send-proxy-v2')}`
}

async function frontendPorts(): Promise<Frontends> {
  const [v1, v2, tls, ws, wss] = (await freePorts(5)) as [number, number, number, number, number]
  return { v1, v2, tls, ws, wss }
}

/** An mqtt.js client over a stream we open ourselves, so it can leave from a chosen local address. */
function clientOver(
  open: () => Socket,
  options: IClientOptions,
): Promise<{ client: MqttClient; local: Socket }> {
  let local: Socket | undefined
  const client = new mqtt.MqttClient(
    () => {
      local = open()
      return local
    },
    { reconnectPeriod: 0, protocolVersion: 5, ...options },
  )
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve({ client, local: local! }))
    client.once('error', reject)
    client.once('close', () => reject(new Error('closed before CONNACK')))
  })
}

/** For suite-level setup: `after` callbacks collected, run by the suite's `after`, newest first. */
function suiteScope(): { t: TestContext; run: () => Promise<void> } {
  const callbacks: Array<() => unknown> = []
  const t = { after: (fn: () => unknown) => void callbacks.push(fn) } as unknown as TestContext
  return {
    t,
    run: async () => {
      for (const fn of callbacks.reverse()) await fn()
    },
  }
}

async function adminJson(server: TestServer, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${server.admin!.port}${path}`)
  assert.equal(res.status, 200)
  return (await res.json()) as Record<string, unknown>
}

async function metrics(server: TestServer) {
  const res = await fetch(`http://127.0.0.1:${server.admin!.port}/metrics`)
  return parseExposition(await res.text())
}

describe('behind a real HAProxy', { skip }, () => {
  let server: TestServer
  let events: EventLog
  let f: Frontends
  const clients: MqttClient[] = []
  const scope = suiteScope()

  before(async () => {
    events = collectEvents(scope.t)
    server = await startTestServer(null, {
      workers: 1,
      admin: true,
      handlers: [{ module: recorder, options: { channel: events.channel } }],
      config: { listeners: proxiedListeners() },
    })
    f = await frontendPorts()
    const ports = [f.v1, f.v2, f.tls, f.ws, f.wss].map((port) => ({ host: '127.0.0.1', port }))
    await startHaproxy(scope.t, binary!, haproxyConfig(server, f), ports)
  })
  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync()))
    await server?.close()
    await scope.run()
  })

  /** The recorder's connect event of `clientId`: what the hooks' context says about the peer. */
  const connectOf = (clientId: string) =>
    events.waitFor((e) => e.event === 'connect' && e.clientId === clientId)

  for (const [version, send] of [
    ['v1', 'send-proxy'],
    ['v2', 'send-proxy-v2'],
  ] as const) {
    test(`TCP through ${send}: hooks and /connections see the client's address and port, not HAProxy's`, async () => {
      const clientId = `tcp-${version}`
      const { client, local } = await clientOver(
        () => netConnect({ host: '127.0.0.1', port: f[version], localAddress: clientHost }),
        { clientId },
      )
      clients.push(client)
      const connect = await connectOf(clientId)
      assert.equal(connect.remoteAddress, clientHost)
      assert.equal(connect.remotePort, local.localPort, "the client's own port")
      assert.equal(connect.transport, 'tcp')
      const page = await adminJson(server, `/connections?clientId=${clientId}`)
      const items = page.items as Array<{ clientId: string; remoteAddress: string; listener: string }>
      assert.deepEqual(
        items.map((c) => [c.clientId, c.remoteAddress, c.listener]),
        [[clientId, clientHost, 'tcp']],
      )
      // the MQTT session goes on past the header
      await client.subscribeAsync('t/x')
      await client.publishAsync('t/x', 'after the header', { qos: 1 })
    })

    test(`an IPv6 client through ${send}: the header carries ::1 (${version === 'v1' ? 'TCP6' : 'AF_INET6'})`, async () => {
      const clientId = `tcp6-${version}`
      const { client, local } = await clientOver(() => netConnect({ host: '::1', port: f[version] }), {
        clientId,
      })
      clients.push(client)
      const connect = await connectOf(clientId)
      assert.equal(connect.remoteAddress, '::1')
      assert.equal(connect.remotePort, local.localPort)
    })
  }

  test('TLS through send-proxy-v2: the header comes before the ClientHello; mqttd terminates TLS', async () => {
    const clientId = 'tls-v2'
    let tcp: Socket | undefined
    const { client } = await clientOver(
      () => {
        tcp = netConnect({ host: '127.0.0.1', port: f.tls, localAddress: clientHost })
        return tlsConnect({ socket: tcp, host: '127.0.0.1', ca: tlsPem.ca, ALPNProtocols: ['mqtt'] })
      },
      { clientId },
    )
    clients.push(client)
    const connect = await connectOf(clientId)
    assert.equal(connect.transport, 'tls')
    assert.equal(connect.remoteAddress, clientHost)
    assert.equal(connect.remotePort, tcp!.localPort)
  })

  test('WebSocket through send-proxy-v2: the header comes before the HTTP upgrade', async () => {
    const clientId = 'ws-v2'
    const client = await mqtt.connectAsync(`ws://127.0.0.1:${f.ws}/mqtt`, {
      clientId,
      reconnectPeriod: 0,
      wsOptions: { localAddress: clientHost },
    })
    clients.push(client)
    const connect = await connectOf(clientId)
    assert.equal(connect.transport, 'ws')
    assert.equal(connect.remoteAddress, clientHost)
    const items = (await adminJson(server, `/connections?clientId=${clientId}`)).items as Array<{
      remoteAddress: string
    }>
    assert.equal(items[0]?.remoteAddress, clientHost)
  })

  test('secure WebSocket through send-proxy-v2: the header, then TLS, then the HTTP upgrade', async () => {
    const clientId = 'wss-v2'
    const client = await mqtt.connectAsync(`wss://127.0.0.1:${f.wss}/mqtt`, {
      clientId,
      reconnectPeriod: 0,
      ca: tlsPem.ca,
      wsOptions: { localAddress: clientHost },
    })
    clients.push(client)
    const connect = await connectOf(clientId)
    assert.equal(connect.transport, 'wss')
    assert.equal(connect.remoteAddress, clientHost)
  })

  test("no connection is ever reported with HAProxy's address", () => {
    const seen = events.events.filter((e) => e.event === 'connect').map((e) => e.remoteAddress)
    assert.ok(seen.length >= 7, `connections seen: ${seen}`)
    assert.ok(!seen.includes(proxyHost), `seen: ${seen}`)
  })
})

describe('a proxyProtocol listener reached without the proxy', { skip }, () => {
  let server: TestServer
  let events: EventLog
  const scope = suiteScope()

  before(async () => {
    events = collectEvents(scope.t)
    server = await startTestServer(null, {
      workers: 1,
      admin: true,
      handlers: [{ module: recorder, options: { channel: events.channel } }],
      config: { listeners: proxiedListeners(), limits: { connectTimeoutMs: 1500 } },
    })
  })
  after(async () => {
    await server?.close()
    await scope.run()
  })

  test('an MQTT CONNECT without a header: closed at once, logged, counted as proxy_header_invalid', async (t) => {
    const raw = await rawClient(t, server.port('tcp'))
    raw.send(connectPacket(4, { clientId: 'no-header' }))
    assert.equal(await raw.next('connack'), null, 'closed, no CONNACK')
    await raw.closed
    const m = await metrics(server)
    assert.equal(
      sumOf(m, 'mqttd_connections_rejected_total', { listener: 'tcp', reason: 'proxy_header_invalid' }),
      1,
    )
  })

  test('a client that never completes its header is closed after connectTimeoutMs, counted as proxy_header_timeout', async (t) => {
    const raw = await rawClient(t, server.port('ws'))
    raw.write(Buffer.from('PROXY TCP4 198.51.100.1 '))
    await raw.closed
    const m = await metrics(server)
    assert.equal(
      sumOf(m, 'mqttd_connections_rejected_total', { listener: 'ws', reason: 'proxy_header_timeout' }),
      1,
    )
  })

  test('a header split over several writes, then MQTT: the address of the header is the peer', async (t) => {
    const raw = await rawClient(t, server.port('tcp'))
    const header = Buffer.from('PROXY TCP6 2001:db8::17 2001:db8::1 40001 1883\r\n', 'latin1')
    for (const piece of [header.subarray(0, 3), header.subarray(3, 20), header.subarray(20)]) {
      raw.write(piece)
      await new Promise((resolve) => setImmediate(resolve))
    }
    raw.send(connectPacket(4, { clientId: 'split-header' }))
    const connack = await raw.next('connack')
    assert.equal(connack?.returnCode, 0)
    const connect = await events.waitFor((e) => e.event === 'connect' && e.clientId === 'split-header')
    assert.equal(connect.remoteAddress, '2001:db8::17')
    assert.equal(connect.remotePort, 40001)
  })

  test('v2 LOCAL (a proxy health check) keeps the connection’s own address', async (t) => {
    const raw = await rawClient(t, server.port('tcp'))
    const local = Buffer.from([
      0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0, 0,
    ])
    raw.write(local)
    raw.send(connectPacket(4, { clientId: 'local-command' }))
    assert.equal((await raw.next('connack'))?.returnCode, 0)
    const connect = await events.waitFor((e) => e.event === 'connect' && e.clientId === 'local-command')
    assert.equal(connect.remoteAddress, '127.0.0.1')
    assert.equal(connect.remotePort, raw.socket.localPort)
  })

  test('after the refusals the worker still serves: a good header and a client connect', async (t) => {
    const raw = await rawClient(t, server.port('tcp'))
    raw.write(Buffer.from('PROXY TCP4 192.0.2.55 192.0.2.1 5555 1883\r\n', 'latin1'))
    raw.send(connectPacket(5, { clientId: 'still-serving' }))
    assert.equal((await raw.next('connack'))?.cmd, 'connack')
    const connect = await events.waitFor((e) => e.event === 'connect' && e.clientId === 'still-serving')
    assert.equal(connect.remoteAddress, '192.0.2.55')
  })
})

describe('limits.connectionRatePerAddress behind HAProxy', { skip }, () => {
  test('counts the client address from the header, not the proxy’s: one client limited, another admitted', async (t) => {
    const events = collectEvents(t)
    const server = await startTestServer(t, {
      workers: 2,
      admin: true,
      handlers: [{ module: recorder, options: { channel: events.channel } }],
      config: {
        listeners: [{ name: 'tcp', type: 'tcp', host: '127.0.0.1', port: 0, proxyProtocol: true }],
        limits: { connectionRatePerAddress: 1 },
      },
    })
    const port = await freePort()
    const config = `global
  maxconn 64
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend mqtt
  bind 127.0.0.1:${port}
  default_backend mqttd
backend mqttd
  source ${proxyHost}
  server mqttd 127.0.0.1:${server.port('tcp')} send-proxy-v2
`
    // the readiness probe comes from 127.0.0.1: it takes 127.0.0.1's token, not those below
    await startHaproxy(t, binary!, config, [{ host: '127.0.0.1', port }])
    const from = (localAddress: string, clientId: string) =>
      clientOver(() => netConnect({ host: '127.0.0.1', port, localAddress }), { clientId })
    // the bucket holds one token and refills one per second: of the connections from one address
    // within T seconds, at most 1 + T get in, however the machine's load spreads them
    const started = performance.now()
    const first = await from('127.0.0.5', 'rate-first')
    t.after(() => first.client.endAsync())
    const attempts = 10
    const again = await Promise.allSettled(
      Array.from({ length: attempts }, (_, i) => from('127.0.0.5', `rate-again-${i}`)),
    )
    const seconds = (performance.now() - started) / 1000
    for (const r of again) if (r.status === 'fulfilled') t.after(() => r.value.client.endAsync())
    const refused = again.filter((r) => r.status === 'rejected')
    const admitted = 1 + attempts - refused.length
    assert.ok(admitted <= 1 + Math.ceil(seconds), `${admitted} admitted in ${seconds.toFixed(2)} s`)
    assert.ok(refused.length > 0, `none of ${attempts} refused in ${seconds.toFixed(2)} s`)
    for (const r of refused)
      assert.match(String((r as PromiseRejectedResult).reason), /closed before CONNACK/)
    // another client behind the same proxy has its own bucket
    const other = await from('127.0.0.6', 'rate-other')
    t.after(() => other.client.endAsync())
    const m = await metrics(server)
    assert.equal(
      sumOf(m, 'mqttd_connections_rejected_total', { listener: 'tcp', reason: 'rate_limited' }),
      refused.length,
    )
    // the hooks saw the admitted ones with their own addresses
    const connects = (address: string) => (e: { event: string; remoteAddress?: unknown }) =>
      e.event === 'connect' && e.remoteAddress === address
    await events.waitForCount(connects('127.0.0.5'), admitted)
    await events.waitForCount(connects('127.0.0.6'), 1)
  })
})
