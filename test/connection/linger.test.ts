import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { lingerClose, lingeringStreams, lingerOverflows } from '../../src/connection/linger.ts'

let server: Server
const accepted: Socket[] = []

before(async () => {
  server = createServer((s) => accepted.push(s))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
})
after(() => server.close())

async function pair(): Promise<[Socket, Socket]> {
  const n = accepted.length
  const client = tcpConnect((server.address() as { port: number }).port, '127.0.0.1')
  await once(client, 'connect')
  while (accepted.length === n) await new Promise((r) => setImmediate(r))
  return [accepted[n]!, client]
}

describe('lingerClose', () => {
  it('ends the write side after what was written, discards what arrives, and closes when the peer does', async () => {
    const [ours, peer] = await pair()
    const received: Buffer[] = []
    peer.on('data', (b: Buffer) => received.push(b))
    const peerEnded = once(peer, 'end')
    ours.write(Buffer.from([0xe0, 0]))
    assert.equal(lingerClose(ours, { lingerMs: 60_000, maxLingering: 10 }), true)
    assert.equal(lingeringStreams(), 1)
    peer.write(Buffer.alloc(100_000)) // still sending: discarded, no reset
    await peerEnded
    assert.deepEqual([...Buffer.concat(received)], [0xe0, 0])
    const closed = once(ours, 'close')
    peer.end()
    await closed
    assert.equal(lingeringStreams(), 0)
    peer.destroy()
  })

  it('destroys the socket after lingerMs when the peer never closes', async () => {
    const [ours, peer] = await pair()
    peer.on('data', () => {})
    const closed = once(ours, 'close')
    assert.equal(lingerClose(ours, { lingerMs: 50, maxLingering: 10 }), true)
    await closed
    assert.equal(ours.destroyed, true)
    assert.equal(lingeringStreams(), 0)
    peer.destroy()
  })

  it('beyond maxLingering destroys at once and counts the overflow', async () => {
    const [first, firstPeer] = await pair()
    const [second, secondPeer] = await pair()
    const overflowsBefore = lingerOverflows()
    assert.equal(lingerClose(first, { lingerMs: 60_000, maxLingering: 1 }), true)
    assert.equal(lingerClose(second, { lingerMs: 60_000, maxLingering: 1 }), false)
    assert.equal(second.destroyed, true)
    assert.equal(lingerOverflows(), overflowsBefore + 1)
    const closed = once(first, 'close')
    firstPeer.end()
    await closed
    firstPeer.destroy()
    secondPeer.destroy()
  })

  it('lingerMs 0 closes at once without counting an overflow', async () => {
    const [ours, peer] = await pair()
    const overflowsBefore = lingerOverflows()
    assert.equal(lingerClose(ours, { lingerMs: 0, maxLingering: 10 }), false)
    assert.equal(ours.destroyed, true)
    assert.equal(lingerOverflows(), overflowsBefore)
    peer.destroy()
  })
})
