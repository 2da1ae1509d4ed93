import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { type DurableServer, durableDir, kill9, startDurable, stop } from './durable-server.ts'

interface Sub {
  clientId: string
  protocolVersion: 4 | 5
}

const subs: Sub[] = [
  { clientId: 'keep-v4', protocolVersion: 4 },
  { clientId: 'keep-v5', protocolVersion: 5 },
]

function options(sub: Sub): mqtt.IClientOptions {
  return {
    clientId: sub.clientId,
    protocolVersion: sub.protocolVersion,
    clean: false,
    reconnectPeriod: 0,
    ...(sub.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
  }
}

/** Connects a persistent subscriber and collects what arrives on d/q until the sentinel `end-<tag>`. */
async function resume(
  server: DurableServer,
  sub: Sub,
  tag: string,
): Promise<{ present: boolean; received: string[] }> {
  const client = mqtt.connect(server.url, options(sub))
  const received: string[] = []
  let sentinel: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    sentinel = resolve
  })
  client.on('message', (topic, payload) => {
    if (topic !== 'd/q') return
    const text = payload.toString()
    if (text === `end-${tag}`) sentinel()
    // An earlier sentinel may come again: the client may have closed before its PUBACK went out
    else if (!text.startsWith('end-')) received.push(text)
  })
  const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  // The sentinel is queued behind whatever the session held, so its arrival means all of it came
  const marker = await mqtt.connectAsync(server.url, { reconnectPeriod: 0 })
  await marker.publishAsync('d/q', `end-${tag}`, { qos: 1 })
  await done
  await marker.endAsync()
  await client.endAsync()
  return { present: connack.sessionPresent, received }
}

async function publish(server: DurableServer, prefix: string, count: number): Promise<void> {
  const pub = await mqtt.connectAsync(server.url, { reconnectPeriod: 0 })
  for (let i = 0; i < count; i++) await pub.publishAsync('d/q', `${prefix}-${i}`, { qos: 1 })
  await pub.endAsync()
}

async function retainedOf(server: DurableServer): Promise<string> {
  const client = await mqtt.connectAsync(server.url, { reconnectPeriod: 0 })
  const got = new Promise<string>((resolve) => client.once('message', (_t, p) => resolve(p.toString())))
  await client.subscribeAsync('d/r', { qos: 1 })
  const value = await got
  await client.endAsync()
  return value
}

test('[3.1.1 MQTT-3.2.2-2] [5.0 MQTT-3.2.2-2] retained messages, subscriptions, queued messages and session present survive a SIGTERM restart and a kill -9 restart', {
  timeout: 300_000,
}, async (t) => {
  const dir = durableDir('workers: 2\n')
  let server = await startDurable(t, dir)
  for (const sub of subs) {
    const client = await mqtt.connectAsync(server.url, options(sub))
    await client.subscribeAsync('d/q', { qos: 1 })
    await client.endAsync()
  }
  const retainer = await mqtt.connectAsync(server.url, { reconnectPeriod: 0 })
  await retainer.publishAsync('d/r', 'kept', { qos: 1, retain: true })
  await retainer.endAsync()
  await publish(server, 'a', 20)

  assert.equal(await stop(server), 0)
  server = await startDurable(t, dir)
  assert.equal(await retainedOf(server), 'kept')
  for (const sub of subs) {
    const { present, received } = await resume(server, sub, 'a')
    assert.equal(present, true, `${sub.clientId}: session present after SIGTERM restart`)
    assert.deepEqual(
      received,
      Array.from({ length: 20 }, (_, i) => `a-${i}`),
      `${sub.clientId}: queued messages, in order`,
    )
  }

  // Offline again, more messages, then the process dies without any shutdown
  await publish(server, 'b', 20)
  await kill9(server)
  server = await startDurable(t, dir)
  assert.equal(await retainedOf(server), 'kept')
  for (const sub of subs) {
    const { present, received } = await resume(server, sub, 'b')
    assert.equal(present, true, `${sub.clientId}: session present after kill -9 restart`)
    assert.deepEqual(
      received,
      Array.from({ length: 20 }, (_, i) => `b-${i}`),
      `${sub.clientId}: queued messages, in order`,
    )
  }
  assert.equal(await stop(server), 0)
})
