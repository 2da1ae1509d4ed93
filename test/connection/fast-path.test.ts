// The fast paths (PUBLISH/PUBACK parsed from the chunk, encoded into the slab)
// must be indistinguishable from mqtt-packet: random packets, compared with
// mqtt-packet's own parser and generator, in v3.1.1 and v5.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { Connection } from '../../src/connection/connection.ts'
import type { ProtocolVersion } from '../../src/connection/types.ts'
import { prng, RecordingStream, tick } from './helpers.ts'

type Rand = () => number
type AnyPacket = Parameters<typeof mqttPacket.generate>[0]

const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
const int = (rand: Rand, max: number) => Math.floor(rand() * (max + 1))

function randomString(rand: Rand): string {
  const alphabets = ['abc/+#', 'a/b/c/d/e', 'zürich/€/ü', '日本/語', 'x']
  const alphabet = [...pick(rand, alphabets)]
  return Array.from({ length: int(rand, 20) + 1 }, () => pick(rand, alphabet)).join('')
}

function randomPayload(rand: Rand): Buffer | string | undefined {
  const size = pick(rand, [0, 1, 5, 15, 16, 17, 100, 2047, 2048, 5000, 70_000])
  const kind = int(rand, 3)
  if (kind === 0 && size < 200) return randomString(rand)
  if (kind === 1 && size === 0) return undefined
  const buf = Buffer.alloc(size)
  for (let i = 0; i < size; i++) buf[i] = int(rand, 255)
  return buf
}

function randomPublish(rand: Rand, version: ProtocolVersion) {
  const qos = pick(rand, [0, 1, 2] as const)
  const packet: Record<string, unknown> = {
    cmd: 'publish',
    topic: randomString(rand),
    payload: randomPayload(rand),
    qos,
    dup: rand() < 0.2,
    retain: rand() < 0.3,
  }
  if (qos > 0) packet.messageId = int(rand, 65535)
  if (version === 5 && rand() < 0.3)
    packet.properties = { contentType: 'text/plain', topicAlias: int(rand, 100) + 1 }
  return packet as unknown as AnyPacket
}

function randomPacket(rand: Rand, version: ProtocolVersion): AnyPacket {
  const r = rand()
  if (r < 0.6) return randomPublish(rand, version)
  if (r < 0.75) {
    const p: Record<string, unknown> = { cmd: 'puback', messageId: int(rand, 65535) }
    if (version === 5) p.reasonCode = pick(rand, [0, 0x10, 0x80, undefined])
    if (version === 5 && rand() < 0.2) p.properties = { reasonString: randomString(rand) }
    return p as unknown as AnyPacket
  }
  if (r < 0.8) return { cmd: 'pingreq' }
  if (r < 0.85) return { cmd: 'pubrel', messageId: int(rand, 65535) } as AnyPacket
  if (r < 0.95)
    return {
      cmd: 'subscribe',
      messageId: int(rand, 65534) + 1,
      subscriptions: [{ topic: randomString(rand), qos: pick(rand, [0, 1, 2] as const) }],
    }
  return { cmd: 'unsubscribe', messageId: int(rand, 65534) + 1, unsubscriptions: [randomString(rand)] }
}

/** What mqtt-packet's own parser makes of `wire`, given in one piece. */
function referenceParse(wire: Buffer, version: ProtocolVersion): unknown[] {
  const parser = mqttPacket.parser({ protocolVersion: version })
  const out: unknown[] = []
  parser.on('packet', (p) => out.push(p))
  parser.on('error', (err) => {
    throw err
  })
  parser.parse(wire)
  return out
}

for (const version of [4, 5] as const) {
  describe(`fast paths match mqtt-packet (v${version})`, () => {
    it('parses random packet streams cut at random points exactly like mqtt-packet', async () => {
      const rand = prng(1000 + version)
      for (let round = 0; round < 30; round++) {
        const packets = Array.from({ length: 40 }, () => randomPacket(rand, version))
        const wire = Buffer.concat(packets.map((p) => mqttPacket.generate(p, { protocolVersion: version })))
        const expected = referenceParse(wire, version)
        const raw = new RecordingStream()
        const conn = Connection(raw, { protocolVersion: version })
        const got: unknown[] = []
        conn.on('data', (p) => got.push(p))
        await tick()
        for (let off = 0; off < wire.length; ) {
          const size = pick(rand, [1, 2, 3, 7, 64, 500, 4096, 70_000])
          raw.feed(wire.subarray(off, off + size))
          off += size
        }
        await tick()
        assert.deepStrictEqual(got, expected, `round ${round}`)
        conn.destroy()
      }
    })

    it('generates random packets byte for byte like mqtt-packet', async () => {
      const rand = prng(2000 + version)
      const raw = new RecordingStream()
      const conn = Connection(raw, { protocolVersion: version })
      const expected: Buffer[] = []
      for (let i = 0; i < 400; i++) {
        const packet = randomPacket(rand, version)
        expected.push(mqttPacket.generate(packet, { protocolVersion: version }))
        const { cmd, ...opts } = packet as unknown as { cmd: 'publish' } & Record<string, unknown>
        ;(conn[cmd] as (o: object) => boolean)(opts)
      }
      await tick()
      assert.deepStrictEqual(raw.written(), Buffer.concat(expected))
      conn.destroy()
    })
  })
}

describe('outbound pool shared by connections', () => {
  it("keeps each connection's bytes apart when sends (and failed sends) interleave", async () => {
    const rand = prng(3000)
    const conns = [4, 5, 4].map((version) => {
      const raw = new RecordingStream()
      const conn = Connection(raw, { protocolVersion: version as 4 | 5 })
      conn.on('error', () => {})
      return { raw, conn, version: version as 4 | 5, expected: [] as Buffer[] }
    })
    for (let i = 0; i < 3000; i++) {
      const c = pick(rand, conns)
      if (rand() < 0.1) {
        // invalid: rolled back, leaves nothing
        c.conn.publish({ topic: 'a', qos: 1 })
        continue
      }
      const packet = randomPacket(rand, c.version)
      c.expected.push(mqttPacket.generate(packet, { protocolVersion: c.version }))
      const { cmd, ...opts } = packet as unknown as { cmd: 'publish' } & Record<string, unknown>
      ;(c.conn[cmd] as (o: object) => boolean)(opts)
      if (rand() < 0.05) await tick()
    }
    await tick()
    for (const c of conns) {
      const got = c.raw.written()
      const want = Buffer.concat(c.expected)
      let at = 0
      while (at < want.length && got[at] === want[at]) at++
      assert.equal(
        at,
        want.length,
        `v${c.version}: ${got.length} bytes written, ${want.length} expected, first difference at ${at}`,
      )
      assert.equal(got.length, want.length)
      c.conn.destroy()
    }
  })
})
