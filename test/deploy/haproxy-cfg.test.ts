// The shipped deploy/haproxy.cfg, run by a real HAProxy in front of a real mqttd: only the
// addresses change (compose service names and Docker's DNS become 127.0.0.1 and free ports), and
// a stats socket is added to read the health checks. Its health check must pass with the admin
// token and fail without it, and clients through both frontends must reach mqttd with their own
// address.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { freePorts } from '../../load-tests/free-ports.ts'
import { collectEvents } from '../helpers/events.ts'
import { haproxyBinary, haproxyStats, startHaproxy } from '../helpers/haproxy.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const shipped = readFileSync(new URL('../../deploy/haproxy.cfg', import.meta.url), 'utf8')
const recorder = new URL('../fixtures/handlers/recorder.ts', import.meta.url).pathname
const binary = haproxyBinary()
const skip = binary === null ? 'haproxy is not installed (Debian: apt-get install haproxy)' : false
const token = 'a-test-admin-token'

/** deploy/haproxy.cfg with local addresses: what a test may change, and nothing else. */
function localConfig(server: TestServer, ports: { mqtt: number; ws: number }, dir: string): string {
  const replaced = shipped
    .replace(/^global\n/m, `global\n  stats socket ${join(dir, 'admin.sock')} level admin\n`)
    .replace(/^ {2}bind :1883$/m, `  bind 127.0.0.1:${ports.mqtt}`)
    .replace(/^ {2}bind :8083$/m, `  bind 127.0.0.1:${ports.ws}`)
    .replace(/ resolvers docker/, '')
    .replace(/^resolvers docker\n(?: {2}.*\n)+/m, '')
    .replace(/ port 9883 /, ` port ${server.admin!.port} `)
    .replace(/ mqttd-\d:1883$/gm, ` 127.0.0.1:${server.port('tcp')}`)
    .replace(/ mqttd-\d:8083$/gm, ` 127.0.0.1:${server.port('ws')}`)
  // the log goes to HAProxy's stdout, which the test does not read
  assert.doesNotMatch(replaced, /mqttd-\d:|resolvers|:9883 |bind :/, 'every address was replaced')
  return replaced
}

/** Waits until every server's health check reports `status` (e.g. L7OK), as HAProxy's stats say. */
async function checksReach(socket: string, status: string): Promise<void> {
  const deadline = Date.now() + 20_000
  for (;;) {
    const servers = (await haproxyStats(socket)).filter(
      (r) => r.svname !== 'FRONTEND' && r.svname !== 'BACKEND',
    )
    assert.equal(servers.length, 6, 'three servers in each of the two backends')
    if (servers.every((s) => s.check_status === status)) return
    if (Date.now() > deadline) {
      throw new Error(
        `health checks: ${servers.map((s) => `${s.pxname}/${s.svname} ${s.check_status}`).join(', ')}`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

test('deploy/haproxy.cfg: the /readyz health check passes with the admin token; clients through both frontends keep their address', {
  skip,
}, async (t) => {
  const events = collectEvents(t)
  const server = await startTestServer(t, {
    workers: 1,
    handlers: [{ module: recorder, options: { channel: events.channel } }],
    config: {
      listeners: [
        { name: 'tcp', type: 'tcp', host: '127.0.0.1', port: 0, proxyProtocol: true },
        { name: 'ws', type: 'ws', host: '127.0.0.1', port: 0, path: '/mqtt', proxyProtocol: true },
      ],
      admin: { enabled: true, host: '127.0.0.1', port: 0, token },
    },
  })
  const [mqttPort, wsPort] = (await freePorts(2)) as [number, number]
  const ports = { mqtt: mqttPort, ws: wsPort }
  const listening = [ports.mqtt, ports.ws].map((port) => ({ host: '127.0.0.1', port }))
  const { dir } = await startHaproxy(t, binary!, (d) => localConfig(server, ports, d), listening, {
    MQTTD_ADMIN_TOKEN: token,
  })
  await checksReach(join(dir, 'admin.sock'), 'L7OK')

  const tcp = new mqtt.MqttClient(
    () => netConnect({ host: '127.0.0.1', port: ports.mqtt, localAddress: '127.0.0.2' }),
    { clientId: 'through-deploy-cfg', reconnectPeriod: 0 },
  )
  t.after(() => tcp.endAsync())
  await new Promise((resolve, reject) => {
    tcp.once('connect', resolve)
    tcp.once('error', reject)
  })
  const ws = await mqtt.connectAsync(`ws://127.0.0.1:${ports.ws}/mqtt`, {
    clientId: 'through-deploy-cfg-ws',
    reconnectPeriod: 0,
    wsOptions: { localAddress: '127.0.0.4' },
  })
  t.after(() => ws.endAsync())
  const seen = await events.waitForCount((e) => e.event === 'connect', 2)
  assert.deepEqual(seen.map((e) => [e.clientId, e.transport, e.remoteAddress]).sort(), [
    ['through-deploy-cfg', 'tcp', '127.0.0.2'],
    ['through-deploy-cfg-ws', 'ws', '127.0.0.4'],
  ])
})

test('deploy/haproxy.cfg: without the right admin token the health check fails (401), so a node is never marked ready by mistake', {
  skip,
}, async (t) => {
  const server = await startTestServer(t, {
    workers: 1,
    config: {
      listeners: [
        { name: 'tcp', type: 'tcp', host: '127.0.0.1', port: 0, proxyProtocol: true },
        { name: 'ws', type: 'ws', host: '127.0.0.1', port: 0, path: '/mqtt', proxyProtocol: true },
      ],
      admin: { enabled: true, host: '127.0.0.1', port: 0, token },
    },
  })
  const [mqttPort, wsPort] = (await freePorts(2)) as [number, number]
  const ports = { mqtt: mqttPort, ws: wsPort }
  const listening = [ports.mqtt, ports.ws].map((port) => ({ host: '127.0.0.1', port }))
  const { dir } = await startHaproxy(t, binary!, (d) => localConfig(server, ports, d), listening, {
    MQTTD_ADMIN_TOKEN: 'not-the-token',
  })
  // L7STS: the check got an HTTP answer whose status is not 2xx/3xx
  await checksReach(join(dir, 'admin.sock'), 'L7STS')
})
