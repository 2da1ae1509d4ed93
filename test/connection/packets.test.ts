// Every packet type, v3.1/v3.1.1 and v5, parsed and generated through Connection
// against annotated wire bytes (see packet-table.ts).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Connection } from '../../src/connection/connection.ts'
import { RecordingStream, tick } from './helpers.ts'
import { packetTable, type TableEntry } from './packet-table.ts'

/** Deep copy with plain prototypes (mqtt-packet builds user properties on null-prototype objects). */
function normalize(value: unknown): unknown {
  if (Buffer.isBuffer(value) || value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map(normalize)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = normalize(v)
  return out
}

function expectedParse(entry: TableEntry): unknown {
  const expected = normalize(entry.packet) as Record<string, unknown>
  if (typeof expected.username === 'string' || expected.username == null) return expected
  return { ...expected, username: String(expected.username) }
}

async function parseThrough(entry: TableEntry, chunkSize: number): Promise<unknown[]> {
  const raw = new RecordingStream()
  // a server learns the version from CONNECT; the other packets need it configured
  const conn = Connection(raw, entry.packet.cmd === 'connect' ? {} : { protocolVersion: entry.version })
  const got: unknown[] = []
  const errors: Error[] = []
  conn.on('error', (err) => errors.push(err))
  conn.on(entry.packet.cmd as 'data', (packet) => {
    const copy = normalize({ ...packet }) as Record<string, unknown>
    if (copy.cmd !== 'publish') {
      delete copy.topic
      delete copy.payload
    }
    got.push(copy)
  })
  await tick()
  const bytes = Buffer.from(entry.bytes)
  for (let off = 0; off < bytes.length; off += chunkSize) raw.feed(bytes.subarray(off, off + chunkSize))
  await tick()
  assert.deepEqual(errors, [])
  conn.destroy()
  return got
}

for (const entry of packetTable) {
  describe(`${entry.packet.cmd} v${entry.version}: ${entry.name}`, () => {
    it('parses the wire bytes into the packet (one chunk)', async () => {
      assert.deepEqual(await parseThrough(entry, entry.bytes.length), [expectedParse(entry)])
    })

    it('parses the wire bytes into the packet (byte by byte)', async () => {
      assert.deepEqual(await parseThrough(entry, 1), [expectedParse(entry)])
    })

    it('generates the wire bytes from the packet, leaving the options object untouched', async () => {
      const raw = new RecordingStream()
      const conn = Connection(raw, { protocolVersion: entry.version })
      const { cmd, ...opts } = entry.packet
      const snapshot = normalize(opts)
      const send = conn[cmd as 'publish'] as (opts: object) => boolean
      assert.equal(send.call(conn, opts), true)
      await tick()
      assert.deepEqual([...raw.written()], entry.bytes)
      assert.deepEqual(normalize(opts), snapshot)
      assert.equal('cmd' in opts, false)
      conn.destroy()
    })
  })
}
