import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { type DurableServer, durableDir, kill9, startDurable } from './durable-server.ts'

const subscribers = [
  { clientId: 'flood-v4', protocolVersion: 4 as const },
  { clientId: 'flood-v5', protocolVersion: 5 as const },
]

function subOptions(s: (typeof subscribers)[number]): mqtt.IClientOptions {
  return {
    clientId: s.clientId,
    protocolVersion: s.protocolVersion,
    clean: false,
    reconnectPeriod: 0,
    ...(s.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
  }
}

/** Publishes `total` messages without waiting for each; kills the server once `killAfter` were acknowledged. */
async function floodAndKill(
  server: DurableServer,
  qos: 1 | 2,
  total: number,
  killAfter: number,
): Promise<Set<string>> {
  const pub = mqtt.connect(server.url, {
    clientId: `flood-pub-${qos}`,
    reconnectPeriod: 0,
    protocolVersion: 4,
  })
  await new Promise((resolve) => pub.once('connect', resolve))
  pub.on('error', () => {})
  const acked = new Set<string>()
  const killed = new Promise<void>((resolve) => {
    // A publisher closed unacknowledged (a refused publish) ends the flood too
    pub.once('close', () => resolve())
    for (let i = 0; i < total; i++) {
      const payload = `m-${i}`
      pub.publish('flood/x', payload, { qos }, (err) => {
        if (err !== undefined && err !== null) return
        acked.add(payload)
        if (acked.size === killAfter) resolve()
      })
    }
  })
  await killed
  await kill9(server)
  // Acknowledgements read before the socket closed count too: all of them must survive
  pub.end(true)
  return acked
}

/** Resumes the session and collects flood/x until a sentinel published after the resume. */
async function collect(server: DurableServer, s: (typeof subscribers)[number]): Promise<string[]> {
  const client = mqtt.connect(server.url, subOptions(s))
  const received: string[] = []
  let done: () => void = () => {}
  const ended = new Promise<void>((resolve) => {
    done = resolve
  })
  client.on('message', (_topic, payload) => {
    const text = payload.toString()
    if (text === 'end') done()
    else received.push(text)
  })
  const connack = await new Promise<mqtt.IConnackPacket>((resolve) => client.once('connect', resolve))
  assert.equal(connack.sessionPresent, true, `${s.clientId}: session present after kill -9`)
  const marker = await mqtt.connectAsync(server.url, { reconnectPeriod: 0 })
  await marker.publishAsync('flood/x', 'end', { qos: 1 })
  await ended
  await marker.endAsync()
  await client.endAsync()
  return received
}

const runs = [
  { qos: 1, sync: 'batch' },
  { qos: 2, sync: 'batch' },
  // always: acknowledgements wait for the WAL's fdatasync after the commit, off the event loop
  { qos: 1, sync: 'always' },
] as const

for (const { qos, sync } of runs) {
  test(`kill -9 during a QoS ${qos} flood to offline persistent subscribers (3.1.1 clean session 0, 5.0 session expiry, sync ${sync}): every acknowledged message is delivered after restart${qos === 2 ? ', exactly once' : ''}`, {
    timeout: 300_000,
  }, async (t) => {
    const dir = durableDir(
      `workers: 2\nbroker: { maxQueuedMessages: 100000 }\npersistence: { sync: ${sync} }\n`,
    )
    let server = await startDurable(t, dir)
    for (const s of subscribers) {
      const client = await mqtt.connectAsync(server.url, subOptions(s))
      await client.subscribeAsync('flood/x', { qos })
      await client.endAsync()
    }
    const acked = await floodAndKill(server, qos, qos === 1 ? 10_000 : 3000, qos === 1 ? 1500 : 300)
    server = await startDurable(t, dir)
    for (const s of subscribers) {
      const received = await collect(server, s)
      const got = new Set(received)
      const lost = [...acked].filter((p) => !got.has(p))
      assert.deepEqual(lost, [], `${s.clientId}: ${lost.length} of ${acked.size} acknowledged messages lost`)
      if (qos === 2) assert.equal(received.length, got.size, `${s.clientId}: a QoS 2 message came twice`)
    }
    server.child.kill('SIGTERM')
    await server.exited
  })
}
