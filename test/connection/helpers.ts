import { once } from 'node:events'
import { Duplex, duplexPair } from 'node:stream'

/** Collects what `stream` yields until at least `length` bytes arrived. */
export async function readBytes(stream: Duplex, length: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  if (length === 0) return Buffer.alloc(0)
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    chunks.push(chunk)
    total += chunk.length
    if (total >= length) break
  }
  return Buffer.concat(chunks)
}

/** An in-memory socket pair: what one side writes, the other reads. */
export function socketPair(): [Duplex, Duplex] {
  return duplexPair()
}

/**
 * A raw stream whose writable side records every write (see `written()`) and
 * whose readable side is fed with `feed()`.
 */
export class RecordingStream extends Duplex {
  readonly writes: Buffer[] = []
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writes.push(chunk)
    cb()
  }
  feed(bytes: Buffer | number[]): void {
    this.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes))
  }
  written(): Buffer {
    return Buffer.concat(this.writes)
  }
}

/** Resolves with the first argument of the next `event`. */
export async function next<T>(emitter: NodeJS.EventEmitter, event: string): Promise<T> {
  const [value] = (await once(emitter, event)) as [T]
  return value
}

/** Waits until pending ticks and I/O callbacks ran. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** A small deterministic PRNG (mulberry32), so random tests are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Resolves on `close` (unlike events.once, an `error` before it does not reject). */
export function closed(emitter: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => emitter.once('close', () => resolve()))
}
