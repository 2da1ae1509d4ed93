/**
 * What an idle Connection keeps between packets: not the shared outbound slab
 * its last packet was copied into. Small packets are copied into a 64 KB slab
 * shared by the thread's connections; a connection that kept pointing at it
 * would keep a whole slab alive once the pool moved on (one per idle
 * connection in the worst case). Structure, not time: a WeakRef to that slab
 * must be cleared by a full GC while the connection is still open.
 */
import assert from 'node:assert/strict'
import { Duplex } from 'node:stream'
import { test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Connection } from '../../src/connection/connection.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** A raw stream that hands each write to `seen` and keeps nothing. */
class Sink extends Duplex {
  readonly seen: (chunk: Buffer) => void
  constructor(seen: (chunk: Buffer) => void) {
    super()
    this.seen = seen
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.seen(chunk)
    cb()
  }
}

test('an idle connection does not keep the outbound slab of its last packet', async () => {
  let slab: WeakRef<ArrayBufferLike> | undefined
  const idle = Connection(new Sink((chunk) => (slab ??= new WeakRef(chunk.buffer))))
  idle.connack({ returnCode: 0 })
  await turn()
  assert.ok(slab?.deref() !== undefined, 'the CONNACK went out of the shared slab')
  // another connection fills the pool past that slab (1 KiB payloads are copied, not referenced)
  const busy = Connection(new Sink(() => {}))
  for (let i = 0; i < 80; i++)
    busy.publish({ topic: 't', payload: Buffer.alloc(1024), qos: 0, retain: false })
  await turn()
  for (let i = 0; i < 3 && slab.deref() !== undefined; i++) {
    await turn()
    gc()
  }
  assert.equal(slab.deref(), undefined, 'the idle connection let its slab go')
  assert.equal(idle.destroyed, false, 'the connection itself is still open')
  idle.destroy()
  busy.destroy()
})

test('the listeners a Connection puts on its raw stream are shared by every connection, not closures of each', () => {
  const [a, b] = [new Sink(() => {}), new Sink(() => {})]
  const ca = new Connection(a)
  const cb = new Connection(b)
  for (const event of ['error', 'close', 'end', 'drain']) {
    assert.equal(a.listenerCount(event), 1, event)
    assert.equal(a.listeners(event)[0], b.listeners(event)[0], `one '${event}' function for both`)
  }
  ca.destroy()
  cb.destroy()
})

test('a second Connection on the same raw stream: both hear its error and close', async () => {
  const raw = new Sink(() => {})
  const first = new Connection(raw)
  const second = new Connection(raw)
  const errors: string[] = []
  first.on('error', () => errors.push('first'))
  second.on('error', () => errors.push('second'))
  const closed = Promise.all(
    [first, second].map((c) => new Promise<void>((resolve) => c.once('close', () => resolve()))),
  )
  raw.destroy(new Error('reset'))
  await closed
  assert.deepEqual(errors.sort(), ['first', 'second'])
  assert.equal(first.destroyed && second.destroyed, true)
})
