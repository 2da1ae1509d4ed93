import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { collectEvents } from '../helpers/events.ts'
import { connectPacket, rawClient } from '../helpers/raw-client.ts'
import { startTestServer } from '../helpers/server.ts'

const fixture = (name: string) => new URL(`../fixtures/handlers/${name}`, import.meta.url).pathname

async function rejected(
  server: { metrics: { registry: { getSingleMetricAsString(n: string): Promise<string> } } },
  reason: string,
): Promise<number> {
  const text = await server.metrics.registry.getSingleMetricAsString('mqttd_connections_rejected_total')
  const line = text.split('\n').find((l) => l.includes(`reason="${reason}"`))
  return line === undefined ? 0 : Number(line.split(' ').at(-1))
}

/** A raw v3.1.1 CONNECT; resolves with whether a CONNACK came (false: closed without one). */
async function tryConnect(t: Parameters<typeof rawClient>[0], port: number): Promise<boolean> {
  const client = await rawClient(t, port, 4)
  client.send(connectPacket(4))
  return (await client.next('connack', 10_000).catch(() => null)) !== null
}

for (const [how, topic] of [
  ['throws', 'fault/crash'],
  ['calls process.exit', 'fault/exit'],
] as const) {
  test(`hand-off: a worker that ${how} gives back the admissions of the connections it held, once`, async (t) => {
    const events = collectEvents(t)
    const server = await startTestServer(t, {
      workers: 2,
      handlers: [
        fixture('faults.ts'),
        { module: fixture('recorder.ts'), options: { channel: events.channel } },
      ],
      config: { limits: { maxConnections: 4 } },
    })
    const clients: mqtt.MqttClient[] = []
    t.after(() => Promise.all(clients.map((c) => c.endAsync(true))))
    const workerOf = new Map<mqtt.MqttClient, number>()
    for (let i = 0; i < 4; i++) {
      const clientId = `held-${i}`
      const client = await mqtt.connectAsync(server.url(), { reconnectPeriod: 0, clientId })
      clients.push(client)
      const connect = await events.waitFor((e) => e.event === 'connect' && e.clientId === clientId)
      workerOf.set(client, connect.workerId as number)
    }
    // one at a time, each to the worker holding fewer
    const doomedWorker = workerOf.get(clients[0]!)!
    const doomed = clients.filter((c) => workerOf.get(c) === doomedWorker)
    assert.equal(doomed.length, 2, 'two connections on each worker')
    assert.equal(await tryConnect(t, server.port()), false, 'the fifth is refused')
    assert.equal(await rejected(server, 'max_connections'), 1)

    await Promise.all([
      ...doomed.map((c) => new Promise<void>((resolve) => c.once('close', () => resolve()))),
      doomed[0]!.publishAsync(topic, 'x', { qos: 0 }),
    ])
    // the two the dead worker held are free again (once its port closed), and only those two
    let admitted = 0
    const deadline = Date.now() + 10_000
    while (admitted < 2 && Date.now() < deadline) {
      if (await tryConnect(t, server.port())) admitted++
    }
    assert.equal(admitted, 2, 'the dead worker gave back both admissions')
    const refusedBefore = await rejected(server, 'max_connections')
    assert.equal(await tryConnect(t, server.port()), false, 'still at the limit: nothing was released twice')
    assert.equal(await rejected(server, 'max_connections'), refusedBefore + 1)
  })
}

test('hand-off: while no worker takes sockets they wait, up to limits.handoffQueue; beyond it they are refused (queue_full); the waiting ones are served by the replacement', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-handoff-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const gate = join(dir, 'open')
  writeFileSync(gate, '')
  const server = await startTestServer(t, {
    workers: 1,
    handlers: [fixture('faults.ts'), { module: fixture('init-gate.ts'), options: { file: gate } }],
    config: { limits: { handoffQueue: 2 } },
  })
  const victim = await mqtt.connectAsync(server.url(), { reconnectPeriod: 0 })
  // the replacement's handlers wait for the gate: until then no worker takes sockets
  rmSync(gate)
  await Promise.all([
    new Promise<void>((resolve) => victim.once('close', () => resolve())),
    victim.publishAsync('fault/crash', 'x', { qos: 0 }),
  ])
  const waiting = [rawClient(t, server.port(), 4), rawClient(t, server.port(), 4)]
  const opened = await Promise.all(waiting)
  for (const c of opened) c.send(connectPacket(4))
  // the main thread counted both before the third arrives: the third is refused at once
  const third = await rawClient(t, server.port(), 4)
  await third.closed
  assert.equal(await rejected(server, 'queue_full'), 1)
  assert.deepEqual(third.received, [])
  writeFileSync(gate, '')
  for (const c of opened) assert.equal((await c.next('connack', 10_000))?.cmd, 'connack')
})
