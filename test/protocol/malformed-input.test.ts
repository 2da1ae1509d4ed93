// Malformed input the specifications say must close the connection, sent by a raw client, one
// case per fresh connection, each followed (in the same write) by a PUBLISH and a PINGREQ: the
// connection closes with the exact reason code, and neither follower is acted on (no PINGRESP;
// the PUBLISH never reaches a subscriber, checked with a sentinel published after the close).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { connectPacket, type RawClient, rawClient } from '../helpers/raw-client.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Version = 4 | 5

const illFormed: Record<string, number[]> = {
  'a stray FF': [0xff],
  'C3 28 (a lead byte without its continuation)': [0xc3, 0x28],
  'a surrogate ED A0 80': [0xed, 0xa0, 0x80],
  'an overlong C0 AF': [0xc0, 0xaf],
}

function str(bytes: number[]): number[] {
  return [bytes.length >> 8, bytes.length & 255, ...bytes]
}
const ascii = (s: string) => [...Buffer.from(s)]

function packet(type: number, body: number[]): Buffer {
  const len: number[] = []
  let n = body.length
  do {
    len.push((n & 127) | (n > 127 ? 128 : 0))
    n >>= 7
  } while (n > 0)
  return Buffer.from([type, ...len, ...body])
}

const props = (v: Version, p: number[] = []) => (v === 5 ? [p.length, ...p] : [])

/** A CONNECT with `clientId` (and optional username and will topic) given as raw bytes. */
function rawConnect(
  v: Version | number,
  clientId: number[],
  extra: { username?: number[]; willTopic?: number[] } = {},
) {
  const flags = 0x02 | (extra.username ? 0x80 : 0) | (extra.willTopic ? 0x04 : 0)
  const v5 = v === 5
  const body = [...str(ascii('MQTT')), v, flags, 0, 0, ...(v5 ? [0] : []), ...str(clientId)]
  if (extra.willTopic) body.push(...(v5 ? [0] : []), ...str(extra.willTopic), ...str([0x78]))
  if (extra.username) body.push(...str(extra.username))
  return packet(0x10, body)
}

const publish = (v: Version, topic: number[], p: number[] = []) =>
  packet(0x30, [...str(topic), ...props(v, p), ...ascii('payload')])
const subscribe = (v: Version, filter: number[]) => packet(0x82, [0, 1, ...props(v), ...str(filter), 0])
const unsubscribe = (v: Version, filter: number[]) => packet(0xa2, [0, 1, ...props(v), ...str(filter)])

/** What follows each violation in the same write: both must go unanswered. */
function followers(v: Version): Buffer {
  return Buffer.concat([
    mqttPacket.generate(
      {
        cmd: 'publish',
        topic: 'watch/leak',
        payload: Buffer.from('leak'),
        qos: 0,
        retain: false,
        dup: false,
      } as Packet,
      { protocolVersion: v },
    ),
    Buffer.from([0xc0, 0]),
  ])
}

interface Expect {
  /** The last packet the client reads before the close, if any. */
  last?: { cmd: 'disconnect' | 'connack'; reasonCode?: number; returnCode?: number }
}

async function watcher(t: Parameters<typeof rawClient>[0], server: TestServer): Promise<RawClient> {
  const w = await rawClient(t, server.port(), 4)
  w.send(connectPacket(4))
  await w.next('connack')
  w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'watch/#', qos: 0 }] })
  await w.next('suback')
  return w
}

async function expectClosed(
  t: Parameters<typeof rawClient>[0],
  server: TestServer,
  watch: RawClient,
  version: Version,
  violation: Buffer,
  expect: Expect,
  connectFirst = true,
): Promise<void> {
  const client = await rawClient(t, server.port(), version)
  if (connectFirst) {
    client.send(connectPacket(version))
    assert.equal((await client.next('connack'))?.cmd, 'connack')
  }
  const before = client.received.length
  client.write(Buffer.concat([violation, followers(version)]))
  await client.closed
  const after = client.received.slice(before) as Array<Packet & Record<string, unknown>>
  if (expect.last === undefined) assert.deepEqual(after, [], 'closed without a packet')
  else {
    assert.equal(after.length, 1, `one packet before the close: ${JSON.stringify(after)}`)
    const { cmd, ...codes } = expect.last
    assert.equal(after[0]!.cmd, cmd)
    for (const [k, want] of Object.entries(codes)) assert.equal(after[0]![k], want, k)
  }
  // the PINGREQ after the violation was not answered; the PUBLISH was not routed: the
  // sentinel published now arrives with nothing before it
  assert.ok(!client.received.some((p) => p.cmd === 'pingresp'), 'PINGREQ answered')
  watch.received.length = 0
  watch.send({
    cmd: 'publish',
    topic: 'watch/sentinel',
    payload: 'sentinel',
    qos: 0,
    retain: false,
    dup: false,
  })
  const first = await watch.next('publish')
  assert.equal(first?.topic, 'watch/sentinel', `routed after the violation: ${first?.topic}`)
}

const expectFor = (version: Version, reasonCode: number): Expect =>
  version === 5 ? { last: { cmd: 'disconnect', reasonCode } } : {}

test('ill-formed UTF-8 closes the connection [3.1.1 MQTT-1.5.3-1] [5.0 MQTT-1.5.4-1]', async (t) => {
  const server = await startTestServer(t, { workers: 1, broker: true })
  const watch = await watcher(t, server)
  for (const version of [4, 5] as const) {
    for (const [name, bytes] of Object.entries(illFormed)) {
      await t.test(`MQTT ${version}: ${name} in a PUBLISH topic`, async () => {
        await expectClosed(
          t,
          server,
          watch,
          version,
          publish(version, [...ascii('watch/'), ...bytes]),
          expectFor(version, 0x81),
        )
      })
    }
    const bad = illFormed['a stray FF']!
    await t.test(`MQTT ${version}: in a SUBSCRIBE filter`, async () => {
      await expectClosed(
        t,
        server,
        watch,
        version,
        subscribe(version, [...ascii('x/'), ...bad]),
        expectFor(version, 0x81),
      )
    })
    await t.test(`MQTT ${version}: in an UNSUBSCRIBE filter`, async () => {
      await expectClosed(
        t,
        server,
        watch,
        version,
        unsubscribe(version, [...ascii('x/'), ...bad]),
        expectFor(version, 0x81),
      )
    })
    await t.test(`MQTT ${version}: in a will topic`, async () => {
      const connect = rawConnect(version, ascii('will-cid'), { willTopic: [...ascii('w/'), ...bad] })
      await expectClosed(
        t,
        server,
        watch,
        version,
        connect,
        version === 5 ? { last: { cmd: 'connack', reasonCode: 0x81 } } : {},
        false,
      )
    })
    await t.test(`MQTT ${version}: in a user name`, async () => {
      const connect = rawConnect(version, ascii('user-cid'), { username: [...ascii('u'), ...bad] })
      await expectClosed(
        t,
        server,
        watch,
        version,
        connect,
        version === 5 ? { last: { cmd: 'connack', reasonCode: 0x81 } } : {},
        false,
      )
    })
    await t.test(`MQTT ${version}: in a client id (v5: CONNACK 0x85)`, async () => {
      const connect = rawConnect(version, [...ascii('cid'), ...bad])
      await expectClosed(
        t,
        server,
        watch,
        version,
        connect,
        version === 5 ? { last: { cmd: 'connack', reasonCode: 0x85 } } : {},
        false,
      )
    })
  }
  await t.test('MQTT 5: in a user property of a PUBLISH', async () => {
    const userProperty = [0x26, ...str(ascii('k')), ...str([...ascii('v'), 0xff])]
    await expectClosed(t, server, watch, 5, publish(5, ascii('watch/up'), userProperty), expectFor(5, 0x81))
  })
  await t.test('MQTT 5: in a content type of a PUBLISH', async () => {
    await expectClosed(
      t,
      server,
      watch,
      5,
      publish(5, ascii('watch/ct'), [0x03, ...str([0xc0, 0xaf])]),
      expectFor(5, 0x81),
    )
  })
})

test('U+0000 in a string closes the connection [3.1.1 MQTT-1.5.3-2] [5.0 MQTT-1.5.4-2]', async (t) => {
  const server = await startTestServer(t, { workers: 1, broker: true })
  const watch = await watcher(t, server)
  for (const version of [4, 5] as const) {
    await t.test(`MQTT ${version}: in a PUBLISH topic`, async () => {
      const violation = publish(version, [...ascii('watch/'), 0])
      await expectClosed(t, server, watch, version, violation, expectFor(version, 0x81))
    })
    await t.test(`MQTT ${version}: in a SUBSCRIBE filter`, async () => {
      const violation = subscribe(version, [...ascii('x/'), 0])
      await expectClosed(t, server, watch, version, violation, expectFor(version, 0x81))
    })
    await t.test(`MQTT ${version}: in a client id (v5: CONNACK 0x85)`, async () => {
      const last = version === 5 ? { last: { cmd: 'connack', reasonCode: 0x85 } as const } : {}
      await expectClosed(t, server, watch, version, rawConnect(version, [...ascii('cid'), 0]), last, false)
    })
  }
  await t.test('MQTT 5: in a user property of a PUBLISH', async () => {
    const userProperty = [0x26, ...str(ascii('k')), ...str([...ascii('v'), 0])]
    await expectClosed(t, server, watch, 5, publish(5, ascii('watch/up'), userProperty), expectFor(5, 0x81))
  })
})

test('client ids that differ only in ill-formed bytes never share a session', async (t) => {
  const server = await startTestServer(t, { workers: 1, broker: true })
  for (const tail of [0xff, 0xfe]) {
    const client = await rawClient(t, server.port(), 5)
    client.write(rawConnect(5, [...ascii('cid'), tail]))
    assert.equal((await client.next('connack'))?.reasonCode, 0x85)
    await client.closed
  }
})

test('[3.1.1 MQTT-3.1.2-2] a CONNECT with a protocol level the server does not support gets CONNACK 0x01, then the close', async (t) => {
  const server = await startTestServer(t, { workers: 1, broker: true })
  const watch = await watcher(t, server)
  for (const level of [0, 2]) {
    await expectClosed(
      t,
      server,
      watch,
      4,
      rawConnect(level, ascii(`level-${level}`)),
      { last: { cmd: 'connack', returnCode: 1 } },
      false,
    )
  }
})

test('[5.0 MQTT-3.1.2-2] a CONNECT with a protocol level above 5 gets CONNACK 0x84, then the close', async (t) => {
  const server = await startTestServer(t, { workers: 1, broker: true })
  const watch = await watcher(t, server)
  await expectClosed(
    t,
    server,
    watch,
    5,
    rawConnect(6, ascii('level-6')),
    { last: { cmd: 'connack', reasonCode: 0x84 } },
    false,
  )
})

test('[5.0 MQTT-3.1.4-1] a malformed MQTT 5 CONNECT is answered with CONNACK 0x81 (5.0 §4.13.1) before the close; [3.1.1 MQTT-3.1.4-1] 3.1.1 is closed without one', async (t) => {
  const server = await startTestServer(t, { workers: 1, broker: true })
  const watch = await watcher(t, server)
  // a CONNECT with raw flags and the rest of the variable header/payload as given
  const withFlags = (v: Version, flags: number, rest: number[]) =>
    packet(0x10, [...str(ascii('MQTT')), v, flags, 0, 0, ...rest])
  const cid = (v: Version, id: string) => [...props(v), ...str(ascii(id))]
  const cases: [string, (v: Version) => Buffer][] = [
    [
      '[3.1.1 MQTT-3.1.2-3] [5.0 MQTT-3.1.2-3] the reserved flag set',
      (v) => withFlags(v, 0x03, cid(v, 'reserved')),
    ],
    [
      '[3.1.1 MQTT-3.1.2-15] [5.0 MQTT-3.1.2-13] Will Retain without the Will Flag',
      (v) => withFlags(v, 0x22, cid(v, 'wr')),
    ],
    [
      '[3.1.1 MQTT-3.1.2-13] [5.0 MQTT-3.1.2-11] Will QoS without the Will Flag',
      (v) => withFlags(v, 0x0a, cid(v, 'wq')),
    ],
    [
      '[3.1.1 MQTT-3.1.2-14] [5.0 MQTT-3.1.2-12] Will QoS 3',
      (v) => withFlags(v, 0x1e, [...cid(v, 'wq3'), ...props(v), ...str(ascii('w/t')), ...str(ascii('x'))]),
    ],
    [
      'a client id cut short by the remaining length',
      (v) => withFlags(v, 0x02, [...props(v), 0, 9, ...ascii('abc')]),
    ],
  ]
  for (const version of [4, 5] as const) {
    for (const [name, make] of cases) {
      await t.test(`MQTT ${version}: ${name}`, async () => {
        const last = version === 5 ? { last: { cmd: 'connack', reasonCode: 0x81 } as const } : {}
        await expectClosed(t, server, watch, version, make(version), last, false)
      })
    }
  }
  await t.test('[3.1.1 MQTT-3.1.2-22] MQTT 4: a password without a user name', async () => {
    const connect = withFlags(4, 0x42, [...str(ascii('pw-only')), ...str(ascii('secret'))])
    await expectClosed(t, server, watch, 4, connect, {}, false)
  })
  await t.test('MQTT 5: an unknown property id in a CONNECT', async () => {
    const connect = packet(0x10, [...str(ascii('MQTT')), 5, 0x02, 0, 0, 2, 0x7e, 0, ...str(ascii('unknown'))])
    const last = { cmd: 'connack', reasonCode: 0x81 } as const
    await expectClosed(t, server, watch, 5, connect, { last }, false)
  })
})

test('[3.1.1 MQTT-3.8.3-3] [5.0 MQTT-3.8.3-2] [3.1.1 MQTT-3.10.3-2] [5.0 MQTT-3.10.3-2] SUBSCRIBE or UNSUBSCRIBE without a topic filter closes before anything after it is acted on', async (t) => {
  const server = await startTestServer(t, { workers: 1, broker: true })
  const watch = await watcher(t, server)
  for (const version of [4, 5] as const) {
    await t.test(`MQTT ${version}: SUBSCRIBE`, async () => {
      await expectClosed(
        t,
        server,
        watch,
        version,
        packet(0x82, [0, 1, ...props(version)]),
        expectFor(version, 0x82),
      )
    })
    await t.test(`MQTT ${version}: UNSUBSCRIBE`, async () => {
      await expectClosed(
        t,
        server,
        watch,
        version,
        packet(0xa2, [0, 1, ...props(version)]),
        expectFor(version, 0x82),
      )
    })
  }
})

test('MQTT 5 property errors close: a property the packet does not allow is malformed (0x81), a repeat or Subscription Identifier 0 a protocol error (0x82)', async (t) => {
  const server = await startTestServer(t, { workers: 1, broker: true })
  const watch = await watcher(t, server)
  const int32 = (id: number, n: number) => [id, n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255]
  const connect = (cid: string, properties: number[]) =>
    packet(0x10, [...str(ascii('MQTT')), 5, 0x02, 0, 0, properties.length, ...properties, ...str(ascii(cid))])
  await t.test('Session Expiry Interval in a PUBLISH (5.0 §2.2.2.2): DISCONNECT 0x81', async () => {
    await expectClosed(t, server, watch, 5, publish(5, ascii('watch/p'), int32(0x11, 60)), expectFor(5, 0x81))
  })
  await t.test('Content Type twice in a PUBLISH (5.0 §3.3.2.3.9): DISCONNECT 0x82', async () => {
    const twice = [0x03, ...str(ascii('a')), 0x03, ...str(ascii('b'))]
    await expectClosed(t, server, watch, 5, publish(5, ascii('watch/p'), twice), expectFor(5, 0x82))
  })
  await t.test('Subscription Identifier 0 in a SUBSCRIBE (5.0 §3.8.2.1.2): DISCONNECT 0x82', async () => {
    const sub = packet(0x82, [0, 1, 2, 0x0b, 0, ...str(ascii('x/y')), 0])
    await expectClosed(t, server, watch, 5, sub, expectFor(5, 0x82))
  })
  await t.test(
    '[5.0 MQTT-3.3.4-6] a Subscription Identifier in a client PUBLISH: DISCONNECT 0x82',
    async () => {
      await expectClosed(t, server, watch, 5, publish(5, ascii('watch/p'), [0x0b, 5]), expectFor(5, 0x82))
    },
  )
  await t.test(
    '[5.0 MQTT-3.3.4-6] a Subscription Identifier in a client QoS 1 PUBLISH: no PUBACK, DISCONNECT 0x82',
    async () => {
      const qos1 = packet(0x32, [...str(ascii('watch/p')), 0, 7, 2, 0x0b, 5, ...ascii('payload')])
      await expectClosed(t, server, watch, 5, qos1, expectFor(5, 0x82))
    },
  )
  await t.test('Topic Alias in a CONNECT (5.0 §2.2.2.2): CONNACK 0x81', async () => {
    const last = { cmd: 'connack', reasonCode: 0x81 } as const
    await expectClosed(t, server, watch, 5, connect('alias-cid', [0x23, 0, 1]), { last }, false)
  })
  await t.test('Receive Maximum twice in a CONNECT (5.0 §3.1.2.11.3): CONNACK 0x82', async () => {
    const last = { cmd: 'connack', reasonCode: 0x82 } as const
    await expectClosed(t, server, watch, 5, connect('twice-cid', [0x21, 0, 5, 0x21, 0, 6]), { last }, false)
  })
})

test('[3.1.1 MQTT-6.0.0-1] [5.0 MQTT-6.0.0-1] an MQTT packet in a WebSocket text frame closes the connection; nothing after it is acted on', async (t) => {
  const server = await startTestServer(t, { workers: 1, broker: true, listeners: ['tcp', 'ws'] })
  const watch = await watcher(t, server)
  const { WebSocket } = await import('ws')
  for (const version of [4, 5] as const) {
    for (const textFirst of [true, false]) {
      const ws = new WebSocket(server.url('ws'), ['mqtt'])
      t.after(() => ws.terminate())
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve())
        ws.once('error', reject)
      })
      const received: Buffer[] = []
      ws.on('message', (data: Buffer) => received.push(data))
      const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)))
      const connect = mqttPacket.generate(connectPacket(version) as unknown as Packet, {
        protocolVersion: version,
      })
      if (textFirst) {
        // the CONNECT itself in a text frame (its bytes are ASCII, so a valid text frame)
        ws.send(connect, { binary: false })
      } else {
        ws.send(connect, { binary: true })
        await new Promise<void>((resolve) => ws.once('message', () => resolve())) // CONNACK
        // a PUBLISH in a text frame (ASCII bytes: a valid text frame, so ws itself lets it through)
        const publish = {
          cmd: 'publish',
          topic: 'watch/text',
          payload: 'x',
          qos: 0,
          retain: false,
          dup: false,
        }
        ws.send(mqttPacket.generate(publish as Packet, { protocolVersion: version }), { binary: false })
      }
      ws.send(followers(version), { binary: true })
      const code = await closed
      assert.equal(code, 1003, `MQTT ${version}: close code`)
      // nothing answered after the text frame: no CONNACK (textFirst), no PINGRESP
      assert.equal(
        received.length,
        textFirst ? 0 : 1,
        `MQTT ${version}: ${received.map((b) => b.toString('hex'))}`,
      )
      watch.received.length = 0
      watch.send({
        cmd: 'publish',
        topic: 'watch/sentinel',
        payload: 'sentinel',
        qos: 0,
        retain: false,
        dup: false,
      })
      assert.equal((await watch.next('publish'))?.topic, 'watch/sentinel')
    }
  }
})
