import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { collectEvents } from '../helpers/events.ts'
import { startTestServer } from '../helpers/server.ts'
import { tlsFiles, tlsPem } from '../helpers/tls.ts'

const recorder = new URL('../fixtures/handlers/recorder.ts', import.meta.url).pathname

for (const transport of ['tcp', 'tls', 'ws', 'wss'] as const) {
  for (const protocolVersion of [4, 5] as const) {
    test(`mqtt.js v${protocolVersion === 4 ? '3.1.1' : '5'} over ${transport}: connect, subscribe, publish QoS 0/1/2 in a worker thread`, async (t) => {
      const events = collectEvents(t)
      const server = await startTestServer(t, {
        workers: 1,
        listeners: [transport],
        tls: { key: tlsFiles.key, cert: tlsFiles.cert },
        handlers: [{ module: recorder, options: { channel: events.channel } }],
      })
      const client = await mqtt.connectAsync(server.url(transport), {
        protocolVersion,
        reconnectPeriod: 0,
        clientId: `c-${transport}-${protocolVersion}`,
        ca: tlsPem.ca,
      })
      t.after(() => client.endAsync())
      const connect = await events.waitFor((e) => e.event === 'connect')
      assert.equal(connect.transport, transport)
      assert.equal(connect.listener, transport)
      assert.equal(connect.protocolVersion, protocolVersion)
      assert.equal(connect.clientId, `c-${transport}-${protocolVersion}`)
      assert.equal(connect.isMainThread, false, 'hooks run in a worker thread')
      assert.ok(server.workerThreadIds().includes(connect.workerId as number))
      assert.equal(connect.remoteAddress, '127.0.0.1')

      const granted = await client.subscribeAsync({ 'x/0': { qos: 0 }, 'x/1': { qos: 1 }, 'x/2': { qos: 2 } })
      assert.deepEqual(
        granted.map((g) => g.qos),
        [0, 1, 2],
      )
      for (const qos of [0, 1, 2] as const) await client.publishAsync(`x/${qos}`, `m${qos}`, { qos })
      const published = await events.waitForCount((e) => e.event === 'publish', 3)
      assert.deepEqual(
        published.map((e) => e.payload),
        ['m0', 'm1', 'm2'],
      )
    })
  }
}

test('mqtts with client certificates: the hook sees the peer certificate; a client without one is refused', async (t) => {
  const events = collectEvents(t)
  const server = await startTestServer(t, {
    workers: 1,
    listeners: ['tls'],
    tls: { key: tlsFiles.key, cert: tlsFiles.cert, ca: tlsFiles.ca, requestCert: true },
    handlers: [{ module: recorder, options: { channel: events.channel } }],
  })
  const client = await mqtt.connectAsync(server.url('tls'), {
    reconnectPeriod: 0,
    ca: tlsPem.ca,
    key: tlsPem.clientKey,
    cert: tlsPem.clientCert,
  })
  t.after(() => client.endAsync())
  const connect = await events.waitFor((e) => e.event === 'connect')
  assert.equal(connect.peerCN, 'test-client')

  const anonymous = mqtt.connect(server.url('tls'), {
    reconnectPeriod: 0,
    ca: tlsPem.ca,
    connectTimeout: 3000,
  })
  const outcome = await new Promise<string>((resolve) => {
    anonymous.once('connect', () => resolve('connected'))
    anonymous.once('error', () => resolve('error'))
    anonymous.once('close', () => resolve('closed'))
  })
  anonymous.end(true)
  assert.notEqual(outcome, 'connected')
})

test('TLS below 1.2 is refused by the default minVersion', async (t) => {
  const server = await startTestServer(t, {
    workers: 1,
    listeners: ['tls'],
    tls: { key: tlsFiles.key, cert: tlsFiles.cert },
  })
  const { connect } = await import('node:tls')
  const error = await new Promise<Error | null>((resolve) => {
    const socket = connect({
      port: server.port('tls'),
      host: '127.0.0.1',
      ca: tlsPem.ca,
      maxVersion: 'TLSv1.1',
      minVersion: 'TLSv1',
    })
    socket.once('secureConnect', () => {
      socket.destroy()
      resolve(null)
    })
    socket.once('error', (err) => resolve(err))
  })
  assert.ok(error, 'the TLS 1.1 handshake fails')
})

test('a plain HTTP GET on a WebSocket listener gets 426 and a short text', async (t) => {
  const server = await startTestServer(t, { workers: 1, listeners: ['ws'] })
  const res = await fetch(`http://127.0.0.1:${server.port('ws')}/mqtt`)
  assert.equal(res.status, 426)
  assert.match(await res.text(), /MQTT over WebSocket/)
  const other = await fetch(`http://127.0.0.1:${server.port('ws')}/elsewhere`)
  assert.equal(other.status, 404)
})

test("a WebSocket upgrade on another path than the listener's is refused with 404", async (t) => {
  const server = await startTestServer(t, { workers: 1, listeners: ['ws'] })
  const { WebSocket } = await import('ws')
  const ws = new WebSocket(`ws://127.0.0.1:${server.port('ws')}/elsewhere`, ['mqtt'])
  const status = await new Promise<number>((resolve, reject) => {
    ws.once('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0)
      req.destroy()
    })
    ws.once('open', () => reject(new Error('upgraded on the wrong path')))
  })
  assert.equal(status, 404)
})

test('WebSocket subprotocols mqtt, mqttv3.1 and none are accepted', async (t) => {
  const server = await startTestServer(t, { workers: 1, listeners: ['ws'] })
  const { WebSocket } = await import('ws')
  for (const protocols of [['mqtt'], ['mqttv3.1'], []]) {
    const ws = new WebSocket(server.url('ws'), protocols)
    const chosen = await new Promise<string>((resolve, reject) => {
      ws.once('open', () => resolve(ws.protocol))
      ws.once('error', reject)
    })
    assert.equal(chosen, protocols[0] ?? '')
    ws.terminate()
  }
})

test('a WebSocket-port connection that never upgrades is closed after connectTimeoutMs', async (t) => {
  const server = await startTestServer(t, {
    workers: 1,
    listeners: ['ws'],
    config: { limits: { connectTimeoutMs: 300 } },
  })
  const { connect } = await import('node:net')
  const socket = connect({ port: server.port('ws'), host: '127.0.0.1' })
  t.after(() => socket.destroy())
  socket.on('error', () => {})
  const started = Date.now()
  await new Promise((resolve) => socket.once('close', resolve))
  assert.ok(Date.now() - started >= 250)
})
