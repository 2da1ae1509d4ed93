/**
 * Inbound QoS 2 across a crash: the packet ids a publisher's persistent
 * session received (PUBREC sent) and not yet released are committed with the
 * message, so after `kill -9` a re-sent PUBLISH is acknowledged without being
 * delivered again, its PUBREL gets PUBCOMP 0x00, and a PUBCOMP's release is
 * committed too (the id may be reused for a new message after a crash).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { connectPacket, type RawClient, rawClient } from '../../helpers/raw-client.ts'
import { type DurableServer, durableDir, kill9, startDurable, stop } from './durable-server.ts'

const TOPIC = 'in2/q'

function portOf(server: DurableServer): number {
  return Number(new URL(server.url).port)
}

/** A raw publisher resuming its persistent session; asserts Session Present as expected. */
async function publisher(
  t: Parameters<typeof startDurable>[0],
  server: DurableServer,
  version: 4 | 5,
  present: boolean,
): Promise<RawClient> {
  const client = await rawClient(t, portOf(server), version)
  client.send(
    connectPacket(version, {
      clientId: `in2-pub-v${version}`,
      clean: false,
      ...(version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
    }),
  )
  const connack = await client.next('connack', 20_000)
  assert.equal(connack?.sessionPresent, present, `v${version} publisher: session present`)
  return client
}

async function expectAck(client: RawClient, cmd: 'pubrec' | 'pubcomp', messageId: number, what: string) {
  const ack = await client.next(cmd, 20_000)
  assert.ok(ack !== null, `${what}: ${cmd} before the connection closed`)
  assert.equal(ack.messageId, messageId, `${what}: ${cmd} packet id`)
  // v5: success, never 0x92 Packet Identifier not found
  assert.equal((ack.reasonCode as number | undefined) ?? 0, 0, `${what}: ${cmd} reason code`)
}

function publish(client: RawClient, messageId: number, payload: string, dup = false): void {
  client.send({ cmd: 'publish', topic: TOPIC, payload: Buffer.from(payload), qos: 2, messageId, dup })
}

const subscriberOptions: mqtt.IClientOptions = {
  clientId: 'in2-sub',
  protocolVersion: 5,
  clean: false,
  reconnectPeriod: 0,
  properties: { sessionExpiryInterval: 3600 },
}

test('[3.1.1 MQTT-4.3.3-2] [5.0 MQTT-4.3.3-10] [5.0 MQTT-4.3.3-11] a QoS 2 PUBLISH whose PUBREC went out before a kill -9 is not delivered again when re-sent, its PUBREL gets PUBCOMP, and a released id is free after the next crash', {
  timeout: 300_000,
}, async (t) => {
  const dir = durableDir('workers: 2\n')
  let server = await startDurable(t, dir)
  // A persistent subscriber that is offline: what the publishers send is queued in the store
  const sub = await mqtt.connectAsync(server.url, subscriberOptions)
  await sub.subscribeAsync(TOPIC, { qos: 2 })
  await sub.endAsync()

  // Run 1: PUBLISH 7 and 8 acknowledged with PUBREC, then the process dies before any PUBREL
  for (const version of [4, 5] as const) {
    const p = await publisher(t, server, version, false)
    publish(p, 7, `v${version}-seven`)
    await expectAck(p, 'pubrec', 7, `v${version} run 1 id 7`)
    publish(p, 8, `v${version}-eight`)
    await expectAck(p, 'pubrec', 8, `v${version} run 1 id 8`)
  }
  await kill9(server)

  // Run 2: 7 is re-sent (DUP) then released; 8 is released without a re-send; then the process dies
  server = await startDurable(t, dir)
  for (const version of [4, 5] as const) {
    const p = await publisher(t, server, version, true)
    publish(p, 7, `v${version}-seven`, true)
    await expectAck(p, 'pubrec', 7, `v${version} run 2 re-sent id 7`)
    p.send({ cmd: 'pubrel', messageId: 7 })
    await expectAck(p, 'pubcomp', 7, `v${version} run 2 id 7`)
    p.send({ cmd: 'pubrel', messageId: 8 })
    await expectAck(p, 'pubcomp', 8, `v${version} run 2 id 8`)
  }
  await kill9(server)

  // Run 3: the released id 7 carries a new message, which is delivered
  server = await startDurable(t, dir)
  for (const version of [4, 5] as const) {
    const p = await publisher(t, server, version, true)
    publish(p, 7, `v${version}-seven-again`)
    await expectAck(p, 'pubrec', 7, `v${version} run 3 id 7`)
    p.send({ cmd: 'pubrel', messageId: 7 })
    await expectAck(p, 'pubcomp', 7, `v${version} run 3 id 7`)
  }

  // The subscriber gets each message exactly once; the sentinel is queued behind them
  const received: string[] = []
  const client = mqtt.connect(server.url, subscriberOptions)
  const done = new Promise<void>((resolve) => {
    client.on('message', (_topic, payload) => {
      const text = payload.toString()
      if (text === 'end') resolve()
      else received.push(text)
    })
  })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  const marker = await mqtt.connectAsync(server.url, { reconnectPeriod: 0 })
  await marker.publishAsync(TOPIC, 'end', { qos: 1 })
  await done
  await marker.endAsync()
  await client.endAsync()
  assert.deepEqual([...received].sort(), [
    'v4-eight',
    'v4-seven',
    'v4-seven-again',
    'v5-eight',
    'v5-seven',
    'v5-seven-again',
  ])
  assert.equal(await stop(server), 0)
})
