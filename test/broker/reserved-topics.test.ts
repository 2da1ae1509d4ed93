/**
 * Client publishes to `$` topics: refused (v5 0x87; 3.1.1 acknowledged and
 * dropped) unless a handler or `broker.allowReservedPublish` allows them; the
 * refusals are counted. Real clients: mqtt.js v3.1.1 and v5, mosquitto_pub.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { type TestContext, test } from 'node:test'
import { promisify } from 'node:util'
import mqtt from 'mqtt'
import { hasMosquitto } from '../helpers/mosquitto.ts'
import { parseExposition, sampleValue } from '../helpers/prom-text.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { connectClient } from './helpers.ts'

const run = promisify(execFile)

function start(t: TestContext): Promise<TestServer> {
  return startTestServer(t, {
    workers: 2,
    admin: true,
    broker: { sysInterval: 0, allowReservedPublish: ['$open/#'] },
    handlers: ['./broker/fixtures/worker-id.ts', './broker/fixtures/allow-reserved.ts'],
  })
}

async function refusals(server: TestServer, packet: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${server.admin!.port}/metrics`)
  const exposition = parseExposition(await res.text())
  return sampleValue(exposition, 'mqttd_broker_refusals_total', { packet, reason: 'reserved_topic' })
}

test('[5.0 MQTT-4.7.2-1] v5 PUBLISH to $SYS: PUBACK 0x87 Not authorized, not delivered, counted; allowed `$` topics pass', async (t) => {
  const server = await start(t)
  const sub = await connectClient(t, server, { protocolVersion: 5, clientId: 'sub' })
  await sub.client.subscribeAsync(['$SYS/#', '$open/#', '$granted/#'], { qos: 1 })
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  await assert.rejects(pub.client.publishAsync('$SYS/broker/uptime', 'fake', { qos: 1 }), (err: Error) => {
    assert.equal((err as { code?: number }).code, 0x87)
    return true
  })
  pub.client.publish('$SYS/broker/clients/connected', 'fake', { qos: 0 })
  // allowed by the config filter and by a handler's mark; the last one is the sentinel
  await pub.client.publishAsync('$open/a', 'config', { qos: 1 })
  await pub.client.publishAsync('$granted/b', 'handler', { qos: 1 })
  await sub.inbox.waitFor(2)
  assert.deepEqual(
    sub.inbox.packets.map((p) => p.topic),
    ['$open/a', '$granted/b'],
  )
  assert.equal(pub.client.connected, true, 'the refusal does not close the connection')
  assert.equal(await refusals(server, 'publish'), 2)
})

test('[3.1.1 MQTT-3.3.5-2] v3.1.1 PUBLISH to $SYS: acknowledged as usual, dropped, counted', async (t) => {
  const server = await start(t)
  const sub = await connectClient(t, server, { protocolVersion: 4, clientId: 'sub' })
  await sub.client.subscribeAsync(['$SYS/#', '$open/#'], { qos: 2 })
  const pub = await connectClient(t, server, { protocolVersion: 4, clientId: 'pub' })
  // QoS 1 and 2 complete their flows: 3.1.1 cannot tell the client it was not authorized
  await pub.client.publishAsync('$SYS/broker/version', 'fake', { qos: 1 })
  await pub.client.publishAsync('$SYS/broker/version', 'fake', { qos: 2 })
  await pub.client.publishAsync('$open/sentinel', 'ok', { qos: 1 })
  await sub.inbox.waitFor(1)
  assert.deepEqual(
    sub.inbox.packets.map((p) => p.topic),
    ['$open/sentinel'],
  )
  assert.equal(await refusals(server, 'publish'), 2)
})

test('a will on a `$` topic is refused at CONNECT (v5 0x87, 3.1.1 0x05) unless allowed', async (t) => {
  const server = await start(t)
  for (const [protocolVersion, code] of [
    [5, 0x87],
    [4, 0x05],
  ] as const) {
    const client = mqtt.connect(server.url(), {
      protocolVersion,
      reconnectPeriod: 0,
      clientId: `will-${protocolVersion}`,
      will: { topic: '$SYS/broker/uptime', payload: Buffer.from('x'), qos: 0, retain: false },
    })
    t.after(() => client.end(true))
    const err = await new Promise<Error & { code?: number }>((resolve) => client.once('error', resolve))
    assert.equal(err.code, code)
  }
  const allowed = await mqtt.connectAsync(server.url(), {
    protocolVersion: 5,
    reconnectPeriod: 0,
    clientId: 'will-ok',
    will: { topic: '$granted/will', payload: Buffer.from('x'), qos: 0, retain: false },
  })
  await allowed.endAsync()
  assert.equal(await refusals(server, 'will'), 2)
})

test('mosquitto_pub -V mqttv5 to $SYS is told "Not authorized"; mosquitto_sub on # never sees `$` topics [3.1.1 MQTT-4.7.2-1] [5.0 MQTT-4.7.2-1]', async (t) => {
  if (!(await hasMosquitto())) return t.skip('mosquitto-clients not installed')
  const server = await start(t)
  const port = String(server.port())
  const sub = await connectClient(t, server, { protocolVersion: 5, clientId: 'wild' })
  await sub.client.subscribeAsync(['#', '+/+'], { qos: 1 })
  const refused = await run('mosquitto_pub', [
    '-p',
    port,
    '-V',
    'mqttv5',
    '-q',
    '1',
    '-t',
    '$SYS/x',
    '-m',
    'x',
  ])
    .then(({ stderr }) => stderr)
    .catch((err: { stderr: string }) => err.stderr)
  assert.match(refused, /not authori[sz]ed/i)
  // a `$` topic allowed to clients still does not match `#` or `+/+`; the plain one is the sentinel
  await run('mosquitto_pub', ['-p', port, '-V', 'mqttv5', '-q', '1', '-t', '$open/x', '-m', 'hidden'])
  await run('mosquitto_pub', ['-p', port, '-V', 'mqttv311', '-q', '1', '-t', 'plain/x', '-m', 'seen'])
  await sub.inbox.waitFor(1)
  assert.deepEqual(
    sub.inbox.packets.map((p) => p.topic),
    ['plain/x'],
  )
})
