// A persistent session moving between nodes under a QoS 1/2 flood: every message the publisher was
// acknowledged reaches the subscriber once (at QoS 1 a second copy only as a DUP resend of one in flight),
// however far each node's consumer had read the stream when the session left and arrived.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt, { type IClientOptions, type MqttClient, Store } from 'mqtt'
import { hasNatsServer, type MqttdNode, startNats, startNodes } from '../helpers/nats.ts'
import { connectClient } from './client.ts'

const skip = hasNatsServer() ? false : 'nats-server is not installed'

interface Got {
  payload: string
  dup: boolean
}

/** Connects the subscriber's client id to `url`, resuming its session; every message it gets joins `got`. */
async function resume(url: string, options: IClientOptions, got: Got[]): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, ...options })
  client.on('message', (_topic, payload, packet) =>
    got.push({ payload: payload.toString(), dup: packet.dup }),
  )
  // the connection it replaces is closed by the server (0x8E): not an error of the test
  client.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  return client
}

/**
 * What arrived against what the publisher was acknowledged: missing ones, and second copies (at QoS 1
 * those without DUP: a resend of one in flight may come again).
 */
function count(acked: readonly string[], got: readonly Got[], qos: 1 | 2) {
  const copies = new Map<string, Got[]>()
  for (const g of got) copies.set(g.payload, [...(copies.get(g.payload) ?? []), g])
  const missing = acked.filter((p) => !copies.has(p))
  // QoS 1 comes again only as a resend of a message in flight, with DUP 1 [5.0 MQTT-4.4.0-1]; QoS 2 once
  const twice = [...copies]
    .filter(([, cs]) => (qos === 2 ? cs.length > 1 : cs.slice(1).some((c) => !c.dup)))
    .map(([p]) => p)
  // one publisher's messages in the order it sent them [5.0 MQTT-4.6.0-6]: each first copy after the one before
  const firsts = [...copies.keys()].filter((p) => p !== 'end').map((p) => Number(p.slice(1)))
  const late = firsts.filter((n, i) => i > 0 && n < firsts[i - 1]!)
  return { missing, twice, late }
}

for (const [label, publisherOn, qos] of [
  ['QoS 1 flood from a publisher on a third node', 'c', 1],
  ['QoS 1 flood from a publisher on one of the two nodes', 'a', 1],
  ['QoS 2 flood from a publisher on a third node', 'c', 2],
] as const) {
  test(`a persistent session moving between two nodes ten times under a ${label} misses nothing, gets nothing twice (at QoS 1 but for a DUP resend) and keeps the publisher's order [5.0 MQTT-4.4.0-1] [5.0 MQTT-3.1.2-5] [5.0 MQTT-4.6.0-6]`, {
    skip,
  }, async (t) => {
    const nats = await startNats()
    t.after(() => nats.close())
    const nodes = await startNodes(['a', 'b', 'c'], nats.url)
    t.after(() => Promise.all(nodes.map((n) => n.kill())))
    const [a, b, c] = nodes as [MqttdNode, MqttdNode, MqttdNode]
    const options: IClientOptions = {
      clientId: `mover-${publisherOn}-${qos}`,
      // one client moving: a QoS 2 message whose PUBREL comes on the next connection is delivered there
      incomingStore: new Store(),
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    }
    const got: Got[] = []
    let sub = await resume(a.url, options, got)
    const subs = [sub]
    t.after(() => Promise.all(subs.map((s) => s.endAsync(true).catch(() => {}))))
    await sub.subscribeAsync('mv/#', { qos })

    const pub = await connectClient((publisherOn === 'c' ? c : a).url, {
      clientId: `mover-${publisherOn}-${qos}-pub`,
    })
    t.after(() => pub.end())
    const acked: string[] = []
    const total = 4000
    const moves = 10
    // 20 publishes in flight at a time: the stream grows while a session moves
    let next = 0
    const publishing = Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < total) {
          const p = `m${next++}`
          await pub.client.publishAsync('mv/t', p, { qos })
          acked.push(p)
        }
      }),
    )
    const until = async (n: number) => {
      while (acked.length < n) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    for (let i = 1; i <= moves; i++) {
      await until((total * i) / (moves + 2))
      sub = await resume((i % 2 === 1 ? b : a).url, options, got)
      subs.push(sub)
    }
    await publishing
    // the publisher's messages keep their order to one subscriber: once the sentinel came, all came
    await pub.client.publishAsync('mv/t', 'end', { qos })
    const last = sub
    await new Promise<void>((resolve) => {
      const check = () => (got.some((g) => g.payload === 'end') ? resolve() : undefined)
      last.on('message', check)
      check()
    })
    const { missing, twice, late } = count(acked, got, qos)
    assert.deepEqual(
      { missing: missing.length, twice: twice.length, late: late.length },
      { missing: 0, twice: 0, late: 0 },
      `missing ${missing.slice(0, 20).join(' ')}; twice ${twice.slice(0, 20).join(' ')}; out of order ${late.slice(0, 20).join(' ')}`,
    )
  })
}
