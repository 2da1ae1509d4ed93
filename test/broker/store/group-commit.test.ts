import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { RawClient } from '../../helpers/raw-client.ts'
import { durableDir, metricValue, startDurable } from './durable-server.ts'

/**
 * A client's window of QoS 1 publishes to persistent sessions goes to disk in
 * one group commit (the connection reads on while the PUBACKs wait for it), and
 * the PUBACKs still leave in the order the PUBLISHes came. Processed one at a
 * time, as before, each publish waited for a commit of its own: 50 commits.
 */
for (const version of [4, 5] as const) {
  const tag = version === 4 ? '[3.1.1 MQTT-4.6.0-2]' : '[5.0 MQTT-4.6.0-2]'
  test(`${tag} MQTT ${version === 4 ? '3.1.1' : '5'}: 50 QoS 1 publishes in one write are committed in a few groups and acknowledged in order`, async (t) => {
    const dir = durableDir('workers: 1\n')
    const server = await startDurable(t, dir)
    const port = Number(new URL(server.url).port)
    // an offline persistent subscriber: every publish adds a row to its queue
    const sub = await mqtt.connectAsync(server.url, {
      clientId: `group-sub-${version}`,
      protocolVersion: version,
      clean: false,
      reconnectPeriod: 0,
      ...(version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
    })
    await sub.subscribeAsync('group/#', { qos: 1 })
    await sub.endAsync()

    const { client } = await RawClient.connect(t, port, {
      clientId: `group-pub-${version}`,
      protocolVersion: version,
    })
    const commits = /^mqttd_store_commit_seconds_count/
    const before = (await metricValue(server, commits)) ?? 0
    const ids = Array.from({ length: 50 }, (_, i) => i + 1)
    client.write(
      Buffer.concat(
        ids.map((messageId) =>
          mqttPacket.generate(
            {
              cmd: 'publish',
              topic: `group/${messageId}`,
              payload: Buffer.from('m'),
              qos: 1,
              messageId,
              retain: false,
              dup: false,
            },
            { protocolVersion: version },
          ),
        ),
      ),
    )
    const acks = await client.waitFor((p) => p.cmd === 'puback', 50)
    assert.deepEqual(
      acks.map((p) => p.messageId),
      ids,
      'PUBACKs in the order of the PUBLISHes',
    )
    const after = (await metricValue(server, commits)) ?? 0
    assert.ok(after - before < 10, `${after - before} group commits for 50 publishes`)

    // every one of them is stored: the subscriber gets all 50 when it returns
    const back = mqtt.connect(server.url, {
      clientId: `group-sub-${version}`,
      protocolVersion: version,
      clean: false,
      reconnectPeriod: 0,
      manualConnect: true,
      ...(version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
    })
    const topics: string[] = []
    const all = new Promise<void>((resolve) =>
      back.on('message', (topic) => {
        topics.push(topic)
        if (topics.length === 50) resolve()
      }),
    )
    back.connect()
    await all
    assert.deepEqual(
      topics,
      ids.map((id) => `group/${id}`),
    )
    await back.endAsync()
  })
}

for (const version of [4, 5] as const) {
  const spec = version === 4 ? '3.1.1' : '5.0'
  const once = version === 4 ? '[3.1.1 MQTT-4.3.3-2]' : '[5.0 MQTT-4.3.3-10]'
  test(`[${spec} MQTT-4.6.0-2] ${once} MQTT ${spec}: 50 QoS 2 publishes and a re-send of the first in one write: a few group commits, PUBRECs in order, each message stored once`, async (t) => {
    const dir = durableDir('workers: 1\n')
    const server = await startDurable(t, dir)
    const port = Number(new URL(server.url).port)
    const persistent = {
      clientId: `group2-sub-${version}`,
      protocolVersion: version,
      clean: false,
      reconnectPeriod: 0,
      ...(version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
    }
    const sub = await mqtt.connectAsync(server.url, persistent)
    await sub.subscribeAsync('group2/#', { qos: 2 })
    await sub.endAsync()

    const { client } = await RawClient.connect(t, port, {
      clientId: `group2-pub-${version}`,
      protocolVersion: version,
    })
    const commits = /^mqttd_store_commit_seconds_count/
    const before = (await metricValue(server, commits)) ?? 0
    const ids = Array.from({ length: 50 }, (_, i) => i + 1)
    const publish = (messageId: number, dup: boolean) =>
      mqttPacket.generate(
        {
          cmd: 'publish',
          topic: `group2/${messageId}`,
          payload: Buffer.from('m'),
          qos: 2,
          messageId,
          retain: false,
          dup,
        },
        { protocolVersion: version },
      )
    // the re-send is read while the first copy's PUBREC still waits for the commit
    client.write(Buffer.concat([...ids.map((id) => publish(id, false)), publish(1, true)]))
    const recs = await client.waitFor((p) => p.cmd === 'pubrec', 51)
    assert.deepEqual(
      recs.map((p) => p.messageId),
      [...ids, 1],
      'PUBRECs in the order of the PUBLISHes',
    )
    const after = (await metricValue(server, commits)) ?? 0
    assert.ok(after - before < 10, `${after - before} group commits for 50 publishes`)
    client.write(
      Buffer.concat(
        ids.map((messageId) =>
          mqttPacket.generate({ cmd: 'pubrel', messageId }, { protocolVersion: version }),
        ),
      ),
    )
    const comps = await client.waitFor((p) => p.cmd === 'pubcomp', 50)
    assert.deepEqual(
      comps.map((p) => p.messageId),
      ids,
    )

    // stored once each: the subscriber gets the 50, then the sentinel published after them
    const back = mqtt.connect(server.url, { ...persistent, manualConnect: true })
    const topics: string[] = []
    const sentinel = new Promise<void>((resolve) =>
      back.on('message', (topic) => {
        topics.push(topic)
        if (topic === 'group2/sentinel') resolve()
      }),
    )
    back.connect()
    await new Promise((resolve) => back.once('connect', resolve))
    const last = await mqtt.connectAsync(server.url, { reconnectPeriod: 0 })
    await last.publishAsync('group2/sentinel', 's', { qos: 2 })
    await last.endAsync()
    await sentinel
    assert.deepEqual(topics, [...ids.map((id) => `group2/${id}`), 'group2/sentinel'])
    await back.endAsync()
  })
}

test('[3.1.1 MQTT-4.6.0-2] publishes followed by DISCONNECT in one write: every PUBACK is sent before the connection ends', async (t) => {
  const dir = durableDir('workers: 1\n')
  const server = await startDurable(t, dir)
  const port = Number(new URL(server.url).port)
  const sub = await mqtt.connectAsync(server.url, { clientId: 'bye-sub', clean: false, reconnectPeriod: 0 })
  await sub.subscribeAsync('bye/#', { qos: 1 })
  await sub.endAsync()
  const { client } = await RawClient.connect(t, port, { clientId: 'bye-pub', protocolVersion: 4 })
  const ids = Array.from({ length: 20 }, (_, i) => i + 1)
  client.write(
    Buffer.concat([
      ...ids.map((messageId) =>
        mqttPacket.generate(
          {
            cmd: 'publish',
            topic: `bye/${messageId}`,
            payload: Buffer.from('m'),
            qos: 1,
            messageId,
            retain: false,
            dup: false,
          },
          { protocolVersion: 4 },
        ),
      ),
      mqttPacket.generate({ cmd: 'disconnect' }, { protocolVersion: 4 }),
    ]),
  )
  // the connection's end is the sentinel: whatever PUBACKs come, came before it
  await client.closed
  assert.deepEqual(
    client.received.filter((p) => p.cmd === 'puback').map((p) => p.messageId),
    ids,
  )
})
