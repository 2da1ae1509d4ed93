// In a cluster a QoS 1 PUBACK waits for JetStream; the publisher's connection reads on meanwhile.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hasNatsServer, type MqttdNode, startNats, startNodes } from '../helpers/nats.ts'
import { connectClient } from './client.ts'

const skip = hasNatsServer() ? false : 'nats-server is not installed'

test('a QoS 1 PUBACK waiting for JetStream does not hold back the packets after it; PUBACKs stay in order [5.0 MQTT-4.6.0-2]', {
  skip,
}, async (t) => {
  const nats = await startNats()
  t.after(() => nats.close())
  const [a] = (await startNodes(['a'], nats.url)) as [MqttdNode]
  t.after(() => a.kill())
  const local = await connectClient(a.url)
  t.after(() => local.end())
  await local.client.subscribeAsync('pl/local', { qos: 0 })
  const pub = await connectClient(a.url)
  t.after(() => pub.end())

  // JetStream away: the PUBACKs of QoS 1 publishes wait (until NATS is back or publishTimeoutMs)
  await nats.stop()
  const events: string[] = []
  const acked = (name: string) => () => events.push(name)
  pub.client.publish('pl/x', 'q1', { qos: 1 }, acked('puback 1'))
  pub.client.publish('pl/x', 'q2', { qos: 1 }, acked('puback 2'))
  pub.client.publish('pl/local', 'after', { qos: 0 })
  // local delivery needs no NATS: it arrives while both PUBACKs still wait
  await local.waitFor((m) => m.payload === 'after')
  events.push('local delivery')
  await nats.start()
  await pub.client.publishAsync('pl/x', 'sentinel', { qos: 1 })
  assert.deepEqual(events, ['local delivery', 'puback 1', 'puback 2'])
})
