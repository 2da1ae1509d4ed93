import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { durableDir, startDurable, workerOf } from './durable-server.ts'

const faults = new URL('../../fixtures/handlers/faults.ts', import.meta.url).pathname

const subOptions: mqtt.IClientOptions = {
  clientId: 'wd-sub',
  protocolVersion: 5,
  clean: false,
  reconnectPeriod: 0,
  properties: { sessionExpiryInterval: 3600 },
}

test('a worker killed mid-traffic: its persistent client resumes its session on a live worker and loses nothing acknowledged', {
  timeout: 300_000,
}, async (t) => {
  const dir = durableDir(
    `workers: 2\nbroker: { maxQueuedMessages: 100000 }\nhandlers: [${JSON.stringify(faults)}]\n`,
  )
  const server = await startDurable(t, dir)
  const received = new Set<string>()
  const onMessage = (_topic: string, payload: Buffer) => received.add(payload.toString())
  const sub = await mqtt.connectAsync(server.url, subOptions)
  sub.on('message', onMessage)
  await sub.subscribeAsync('wd/x', { qos: 1 })
  const subWorker = await workerOf(server, 'wd-sub')
  assert.ok(subWorker !== undefined)

  // A publisher on the other worker, and a client on the subscriber's worker to crash it with
  const clients: mqtt.MqttClient[] = []
  t.after(() => Promise.all(clients.map((c) => c.endAsync(true))))
  let pub: mqtt.MqttClient | undefined
  let doomed: mqtt.MqttClient | undefined
  for (let i = 0; i < 40 && (pub === undefined || doomed === undefined); i++) {
    const clientId = `wd-${i}`
    const client = await mqtt.connectAsync(server.url, { clientId, reconnectPeriod: 0, protocolVersion: 4 })
    client.on('error', () => {})
    clients.push(client)
    const worker = await workerOf(server, clientId)
    if (worker === subWorker) doomed ??= client
    else pub ??= client
  }
  assert.ok(pub !== undefined && doomed !== undefined, 'clients on both workers')

  const acked = new Set<string>()
  const total = 6000
  let settled = 0
  const allSettled = new Promise<void>((resolve) => {
    let crashed = false
    for (let i = 0; i < total; i++) {
      const payload = `m-${i}`
      pub!.publish('wd/x', payload, { qos: 1 }, (err) => {
        if (err === undefined || err === null) acked.add(payload)
        if (!crashed && acked.size >= 1000) {
          crashed = true
          doomed!.publish('fault/crash', 'x', { qos: 0 })
        }
        if (++settled === total) resolve()
      })
    }
    // A refused publish (the dead worker never confirmed it) closes the 3.1.1 publisher: the rest never settle
    pub!.once('close', () => resolve())
  })
  await new Promise<void>((resolve) => sub.once('close', () => resolve()))
  await allSettled
  assert.ok(acked.size >= 1000)
  t.diagnostic(`${acked.size} of ${total} publishes acknowledged, ${settled} settled when the worker died`)

  // The client comes back (to whichever worker takes it) and finds its session
  const again = mqtt.connect(server.url, subOptions)
  again.on('message', onMessage)
  let sentinel: () => void = () => {}
  const ended = new Promise<void>((resolve) => {
    sentinel = resolve
  })
  again.on('message', (_topic, payload) => {
    if (payload.toString() === 'end') sentinel()
  })
  const connack = await new Promise<mqtt.IConnackPacket>((resolve) => again.once('connect', resolve))
  clients.push(again)
  assert.equal(connack.sessionPresent, true, 'the session survived its worker')
  const marker = await mqtt.connectAsync(server.url, { reconnectPeriod: 0 })
  clients.push(marker)
  await marker.publishAsync('wd/x', 'end', { qos: 1 })
  await ended
  const lost = [...acked].filter((p) => !received.has(p))
  assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acknowledged messages lost`)
})
