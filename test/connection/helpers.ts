import { once } from 'node:events'
import { type Duplex, duplexPair } from 'node:stream'

/** Collects everything written to `stream` until `length` bytes arrived. */
export async function readBytes(stream: Duplex, length: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
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

/** Resolves with the first argument of the next `event`. */
export async function next<T>(emitter: NodeJS.EventEmitter, event: string): Promise<T> {
  const [value] = (await once(emitter, event)) as [T]
  return value
}

/** Turns a packet object into a plain object (drops the Packet prototype) for deepEqual. */
export function plain(packet: object): Record<string, unknown> {
  return { ...packet }
}
