// A node killed with kill -9 while persistent sessions had messages queued and in flight on it: their
// clients reconnect to another node and get every message a publisher had been acknowledged.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { hasNatsServer, type MqttdNode, startNats, startNode, startNodes } from '../helpers/nats.ts'
import { WaitList } from '../helpers/wait-list.ts'
import { connectClient } from './client.ts'

const skip = hasNatsServer() ? false : 'nats-server is not installed'

interface Got {
  payload: string
  dup: boolean
}

/**
 * A subscriber that acknowledges each QoS 1 message a few milliseconds after it
 * arrived (mqtt.js's handleMessage): mqtt.js reads no further packet meanwhile, so the server keeps the
 * rest in flight and queued for it. `received`: acknowledged (so delivered).
 */
function slowSubscriber(url: string, options: IClientOptions, delayMs: number) {
  const received = new WaitList<Got>()
  const unacked = new Set<string>()
  let frozen = false
  const client: MqttClient = mqtt.connect(url, { reconnectPeriod: 0, ...options })
  // mqtt.js sends the PUBACK when this calls back, and reads no further packet meanwhile
  client.handleMessage = (packet, callback) => {
    if (packet.cmd !== 'publish') return callback()
    const payload = packet.payload.toString()
    unacked.add(payload)
    const ack = () => {
      // its node is gone: the PUBACK would go nowhere
      if (frozen) return
      unacked.delete(payload)
      received.push({ payload, dup: packet.dup })
      callback()
    }
    if (delayMs === 0) ack()
    else setTimeout(ack, delayMs)
  }
  const connack = new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  // the socket dies with the node: not an error of the test
  client.on('error', () => {})
  /** Stops acknowledging; returns what arrived and was not acknowledged. */
  const freeze = (): string[] => {
    frozen = true
    return [...unacked]
  }
  return { client, received, freeze, connack }
}

const v3 = { protocolVersion: 4, clean: false } as const
const v5 = {
  protocolVersion: 5,
  clean: false,
  properties: { sessionExpiryInterval: 300, receiveMaximum: 5 },
} as const

for (const [label, protocol, publisherOn] of [
  ['v3.1.1 clean session 0, publisher on the other node', v3, 'b'],
  ['v5 with a session expiry (Receive Maximum 5), publisher on the other node', v5, 'b'],
  ['v5 with a session expiry (Receive Maximum 5), publisher on the same node until it dies', v5, 'a'],
] as const) {
  test(`kill -9 of the node holding a persistent session (${label}): everything the publisher had acknowledged reaches the subscriber on the other node, the messages in flight again with DUP [3.1.1 MQTT-4.4.0-1] [5.0 MQTT-4.4.0-1]`, {
    skip,
  }, async (t) => {
    const nats = await startNats()
    t.after(() => nats.close())
    const [a, b] = (await startNodes(['a', 'b'], nats.url)) as [MqttdNode, MqttdNode]
    t.after(() => Promise.all([a.kill(), b.kill()]))
    const clientId = `dead-${protocol.protocolVersion}-${publisherOn}`
    const options: IClientOptions = { clientId, ...(protocol as IClientOptions) }

    const first = slowSubscriber(a.url, options, 20)
    assert.equal((await first.connack).sessionPresent, false)
    await first.client.subscribeAsync('dn/#', { qos: 1 })

    let pub = await connectClient((publisherOn === 'a' ? a : b).url, { clientId: `${clientId}-pub` })
    t.after(() => pub.end())
    const acked: string[] = []
    let inFlight: string[] = []
    const total = 400
    const killAt = 200
    for (let i = 0; i < total; i++) {
      if (i === killAt) {
        // a window of acknowledged messages the subscriber has not acknowledged yet (queued or in flight on A)
        assert.ok(
          first.received.items.length < killAt,
          `the subscriber is behind: ${first.received.items.length}`,
        )
        inFlight = first.freeze()
        await a.kill('SIGKILL')
        if (publisherOn === 'a') {
          // its node died under it: it goes on on the other one
          await pub.end().catch(() => {})
          pub = await connectClient(b.url, { clientId: `${clientId}-pub` })
        }
      }
      await pub.client.publishAsync('dn/t', `m${i}`, { qos: 1 })
      acked.push(`m${i}`)
    }
    first.client.end(true)

    const back = slowSubscriber(b.url, options, 0)
    t.after(() => back.client.endAsync(true))
    assert.equal((await back.connack).sessionPresent, true)
    const before = new Set(first.received.items.map((g) => g.payload))
    const owed = new Set(acked.filter((p) => !before.has(p)))
    const items = back.received.items
    // each owed message counted once (a re-delivery may come twice: QoS 1 is at least once)
    await back.received
      .waitForCount(
        (g) => owed.has(g.payload) && items.find((x) => x.payload === g.payload) === g,
        owed.size,
        30_000,
        () => '',
      )
      .catch(() => {})
    const after = new Map(back.received.items.map((g) => [g.payload, g]))
    t.diagnostic(
      `acknowledged ${acked.length}; before the kill ${before.size}; owed ${owed.size}; in flight at the kill ${inFlight.length}; received after ${items.length} (${items.length - after.size} twice)`,
    )
    const missing = [...owed].filter((p) => !after.has(p))
    assert.deepEqual(
      missing,
      [],
      `acknowledged ${acked.length}, received ${before.size} before the kill and ${after.size} after; ${missing.length} missing`,
    )
    // what A had sent without its acknowledgement comes again marked as a re-delivery
    for (const p of inFlight) assert.equal(after.get(p)?.dup, true, `${p} again with DUP`)
  })
}

for (const [where, sameNode] of [
  ['on two other nodes at once: one node adopts both, the other takes its session from it', false],
  [
    'on two workers of one node at once: one worker adopts both, the other takes its session once the adoption delivered',
    true,
  ],
] as const) {
  test(`two persistent sessions of one killed worker resuming ${where}; neither loses an acknowledged message`, {
    skip,
  }, async (t) => {
    const nats = await startNats()
    t.after(() => nats.close())
    // A with one worker: both sessions on the same worker; B with two
    const nodes = await Promise.all([
      startNode('a', nats.url, { workers: 1 }),
      startNode('b', nats.url, { workers: 2 }),
      startNode('c', nats.url, { workers: 1 }),
    ])
    const [a, b, c] = nodes
    t.after(() => Promise.all(nodes.map((n) => n.kill())))
    const options = (clientId: string): IClientOptions => ({ clientId, ...v5 })
    const subs = ['pair-1', 'pair-2'].map((id) => slowSubscriber(a.url, options(id), 20))
    for (const s of subs) {
      await s.connack
      await s.client.subscribeAsync('pair/#', { qos: 1 })
    }
    const pub = await connectClient(c.url, { clientId: 'pair-pub' })
    t.after(() => pub.end())
    const acked: string[] = []
    for (let i = 0; i < 200; i++) {
      await pub.client.publishAsync('pair/t', `m${i}`, { qos: 1 })
      acked.push(`m${i}`)
    }
    for (const s of subs) s.freeze()
    await a.kill('SIGKILL')
    for (const s of subs) s.client.end(true)
    // both at once: the adoption's lock picks one worker, the other waits for it (B's two workers
    // each take one of the two connections: its pool gives a connection to the least busy worker)
    const back = [
      slowSubscriber(b.url, options('pair-1'), 0),
      slowSubscriber((sameNode ? b : c).url, options('pair-2'), 0),
    ]
    t.after(() => Promise.all(back.map((s) => s.client.endAsync(true))))
    for (const s of back) assert.equal((await s.connack).sessionPresent, true)
    for (const [i, s] of back.entries()) {
      const before = new Set(subs[i]!.received.items.map((g) => g.payload))
      const owed = new Set(acked.filter((p) => !before.has(p)))
      const items = s.received.items
      await s.received
        .waitForCount(
          (g) => owed.has(g.payload) && items.find((x) => x.payload === g.payload) === g,
          owed.size,
          30_000,
          () => '',
        )
        .catch(() => {})
      const got = new Set(items.map((g) => g.payload))
      const missing = [...owed].filter((p) => !got.has(p))
      t.diagnostic(
        `pair-${i + 1}: before the kill ${before.size}; owed ${owed.size}; missing ${missing.length}`,
      )
      assert.deepEqual(missing, [], `pair-${i + 1}: ${missing.length} of ${owed.size} missing`)
    }
  })
}
