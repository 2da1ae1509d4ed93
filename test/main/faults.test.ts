import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { collectEvents } from '../helpers/events.ts'
import { connectPacket, rawClient } from '../helpers/raw-client.ts'
import { startTestServer } from '../helpers/server.ts'

const fixture = (name: string) => new URL(`../fixtures/handlers/${name}`, import.meta.url).pathname

/** The fault-injecting handler, then the recorder that reports hook calls on `channel`. */
const faultsAndRecorder = (channel: string) => [
  fixture('faults.ts'),
  { module: fixture('recorder.ts'), options: { channel } },
]

test('a hook that throws closes only its connection (v5 DISCONNECT 0x83) and is counted; others go on', async (t) => {
  const events = collectEvents(t)
  const server = await startTestServer(t, {
    workers: 1,
    handlers: faultsAndRecorder(events.channel),
  })
  const victim = await rawClient(t, server.port(), 5)
  victim.send(connectPacket(5, { clientId: 'victim' }))
  await victim.next('connack')
  const bystander = await mqtt.connectAsync(server.url(), { reconnectPeriod: 0, clientId: 'bystander' })
  t.after(() => bystander.endAsync())

  victim.send({ cmd: 'publish', topic: 'fault/throw', payload: 'x', qos: 1, messageId: 1 })
  assert.equal((await victim.next('disconnect'))?.reasonCode, 0x83)
  await victim.closed
  const close = await events.waitFor((e) => e.event === 'close' && e.clientId === 'victim')
  assert.equal(close.reason, 'hook-error')
  assert.match(String(close.error), /Hook onPublish of handler faults failed: publish hook exploded/)

  await bystander.publishAsync('still/fine', 'ok', { qos: 1 })
  const metrics = await server.control.request('metrics', null, { expectedWorkers: 1, timeoutMs: 2000 })
  const families = [...metrics.replies.values()][0]!
  const hookErrors = families.find((m) => m.name === 'mqttd_hook_errors_total')
  assert.ok(hookErrors, 'hook errors are a metric')
  assert.equal(
    hookErrors.values.find((v) => v.labels.hook === 'onPublish' && v.labels.module === 'faults')?.value,
    1,
  )
})

test('a hook that rejects during CONNECT: v5 CONNACK 0x83, v3.1.1 CONNACK 0x03', async (t) => {
  const server = await startTestServer(t, { workers: 1, handlers: [fixture('faults.ts')] })
  const v5 = await rawClient(t, server.port(), 5)
  v5.send(connectPacket(5, { username: 'reject-me' }))
  assert.equal((await v5.next('connack'))?.reasonCode, 0x83)
  await v5.closed
  const v4 = await rawClient(t, server.port(), 4)
  v4.send(connectPacket(4, { username: 'reject-me' }))
  assert.equal((await v4.next('connack'))?.returnCode, 3)
  await v4.closed
})

test('a hook that never settles times out after limits.hookTimeoutMs and closes its connection', async (t) => {
  const events = collectEvents(t)
  const server = await startTestServer(t, {
    workers: 1,
    handlers: faultsAndRecorder(events.channel),
    config: { limits: { hookTimeoutMs: 300 } },
  })
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5, { clientId: 'hang' }))
  await client.next('connack')
  const started = Date.now()
  client.send({ cmd: 'publish', topic: 'fault/hang', payload: 'x', qos: 1, messageId: 1 })
  assert.equal((await client.next('disconnect'))?.reasonCode, 0x83)
  assert.ok(Date.now() - started >= 250)
  const close = await events.waitFor((e) => e.event === 'close' && e.clientId === 'hang')
  assert.match(String(close.error), /Hook onPublish of handler faults did not settle within 300 ms/)
})

test('a worker that crashes: only its clients are disconnected, the pool replaces it, new clients are served', async (t) => {
  const events = collectEvents(t)
  const server = await startTestServer(t, {
    workers: 2,
    handlers: faultsAndRecorder(events.channel),
  })
  // connect until both workers have a client
  const clients: mqtt.MqttClient[] = []
  t.after(() => Promise.all(clients.map((c) => c.endAsync(true))))
  const byWorker = new Map<number, mqtt.MqttClient>()
  for (let i = 0; i < 20 && byWorker.size < 2; i++) {
    const clientId = `crash-${i}`
    const client = await mqtt.connectAsync(server.url(), { reconnectPeriod: 0, clientId })
    clients.push(client)
    const connect = await events.waitFor((e) => e.event === 'connect' && e.clientId === clientId)
    if (!byWorker.has(connect.workerId as number)) byWorker.set(connect.workerId as number, client)
  }
  assert.equal(byWorker.size, 2, 'connections are spread over both workers')
  const [doomedWorker, survivorWorker] = [...byWorker.keys()]
  const doomed = byWorker.get(doomedWorker!)!
  const survivor = byWorker.get(survivorWorker!)!
  const doomedClosed = new Promise<void>((resolve) => doomed.once('close', () => resolve()))
  let survivorClosed = false
  survivor.once('close', () => {
    survivorClosed = true
  })
  doomed.publish('fault/crash', 'x', { qos: 0 })
  await doomedClosed
  await survivor.publishAsync('still/alive', 'ok', { qos: 1 })
  assert.equal(survivorClosed, false)

  // the pool starts a replacement (counted once it is up); a new client is served
  const deadline = Date.now() + 10_000
  let restarts = ''
  while (Date.now() < deadline) {
    restarts = await server.metrics.registry.getSingleMetricAsString('mqttd_worker_restarts_total')
    if (/mqttd_worker_restarts_total 1$/m.test(restarts)) break
    await new Promise((r) => setTimeout(r, 50))
  }
  assert.match(restarts, /mqttd_worker_restarts_total 1$/m)
  const after = server.workerThreadIds().sort()
  assert.equal(after.length, 2)
  assert.ok(!after.includes(doomedWorker!), 'the crashed worker is gone')
  const fresh = await mqtt.connectAsync(server.url(), { reconnectPeriod: 0, clientId: 'after-crash' })
  clients.push(fresh)
  await fresh.publishAsync('hello', 'again', { qos: 1 })
})

test('connections are spread over the workers, the main thread reads no byte before hand-off', async (t) => {
  const events = collectEvents(t)
  const handoffs: number[] = []
  const server = await startTestServer(t, {
    workers: 2,
    handlers: [{ module: fixture('recorder.ts'), options: { channel: events.channel } }],
    start: {
      onHandoff: (handle) => handoffs.push(handle.bytesRead),
    },
  })
  const clients = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      mqtt.connectAsync(server.url(), { reconnectPeriod: 0, clientId: `spread-${i}` }),
    ),
  )
  t.after(() => Promise.all(clients.map((c) => c.endAsync())))
  const connects = await events.waitForCount((e) => e.event === 'connect', 8)
  const perWorker = new Map<number, number>()
  for (const c of connects)
    perWorker.set(c.workerId as number, (perWorker.get(c.workerId as number) ?? 0) + 1)
  assert.deepEqual([...perWorker.keys()].sort(), server.workerThreadIds().sort())
  for (const n of perWorker.values())
    assert.ok(n >= 2, `balanced by open connections: ${[...perWorker.values()]}`)
  assert.ok(connects.every((c) => c.isMainThread === false))
  assert.equal(handoffs.length, 8)
  assert.ok(handoffs.every((bytesRead) => bytesRead === 0))
})

test('limits.maxConnections refuses connections beyond the limit in the main thread', async (t) => {
  const server = await startTestServer(t, { workers: 1, config: { limits: { maxConnections: 2 } } })
  const a = await mqtt.connectAsync(server.url(), { reconnectPeriod: 0 })
  const b = await mqtt.connectAsync(server.url(), { reconnectPeriod: 0 })
  t.after(() => Promise.all([a.endAsync(), b.endAsync()]))
  const third = await rawClient(t, server.port(), 4)
  third.send(connectPacket(4))
  await third.closed
  assert.deepEqual(third.received, [])
  const rejected = await server.metrics.registry.getSingleMetricAsString('mqttd_connections_rejected_total')
  assert.match(rejected, /reason="max_connections"[^\n]* 1/)
  await a.endAsync()
  // a slot frees up once the connection's task ended in the worker
  const deadline = Date.now() + 5000
  let connack: Record<string, unknown> | null = null
  while (connack === null && Date.now() < deadline) {
    const next = await rawClient(t, server.port(), 4)
    next.send(connectPacket(4))
    connack = await next.next('connack', 1000).catch(() => null)
  }
  assert.equal(connack?.returnCode, 0)
})

test('limits.connectionRatePerAddress refuses a burst from one address', async (t) => {
  const server = await startTestServer(t, { workers: 1, config: { limits: { connectionRatePerAddress: 3 } } })
  const results = await Promise.all(
    Array.from({ length: 6 }, async () => {
      const client = await rawClient(t, server.port(), 4)
      client.send(connectPacket(4))
      return (await client.next('connack', 3000).catch(() => null)) !== null
    }),
  )
  const accepted = results.filter(Boolean).length
  assert.equal(accepted, 3, `accepted ${accepted} of 6`)
  const rejected = await server.metrics.registry.getSingleMetricAsString('mqttd_connections_rejected_total')
  assert.match(rejected, /reason="rate_limited"[^\n]* 3/)
})

test('GET /workers counts restarts per slot: a replacement inherits the slot, after a throw or process.exit alike', async (t) => {
  const server = await startTestServer(t, { workers: 1, admin: true, handlers: [fixture('faults.ts')] })
  const workers = async () => {
    const res = await fetch(`http://127.0.0.1:${server.admin!.port}/workers`)
    return ((await res.json()) as { workers: Array<{ id: number; threadId: number; restarts: number }> })
      .workers
  }
  assert.deepEqual(
    (await workers()).map((w) => [w.id, w.restarts]),
    [[0, 0]],
  )
  // process.exit leaves no thread id to recognise the worker by (Node reports -1): it must count all the same
  for (const [expected, fault] of [
    [1, 'fault/crash'],
    [2, 'fault/exit'],
    [3, 'fault/exit'],
  ] as const) {
    const [before] = server.workerThreadIds()
    const client = await mqtt.connectAsync(server.url(), {
      reconnectPeriod: 0,
      clientId: `crash-${expected}`,
    })
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
    client.publish(fault, 'x', { qos: 0 })
    await closed
    client.end(true)
    let listed: Array<{ id: number; threadId: number; restarts: number }> = []
    for (let i = 0; i < 200; i++) {
      listed = await workers()
      if (listed.length === 1 && listed[0]!.threadId !== before) break
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.equal(listed.length, 1)
    assert.notEqual(listed[0]!.threadId, before, 'the dead worker was replaced')
    assert.deepEqual([listed[0]!.id, listed[0]!.restarts], [0, expected])
    const metric = await server.metrics.registry.getSingleMetricAsString('mqttd_worker_restarts_total')
    assert.match(metric, new RegExp(`mqttd_worker_restarts_total ${expected}$`, 'm'))
  }
})
