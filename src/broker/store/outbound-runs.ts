/**
 * Outbound messages are stored in runs: the messages one group commit adds for
 * one session go into one row (their seqs in `seqs`, the messages in `body`),
 * and what happens to them afterwards (a packet id given, PUBREC received,
 * acknowledged) is a few bytes per message in the run's marks row, rewritten
 * once per group. A run's rows go when every message in it is acknowledged.
 *
 * A row per message cost an insert and a delete per message, each splitting
 * and rewriting B-tree pages: about 1.8 µs and 43 WAL pages per group of 330
 * messages to 10 sessions, against 0.4 µs and 16 pages for runs (measured with
 * node:sqlite, the layouts side by side; see docs/broker-design.md).
 *
 * Layouts (all integers little-endian):
 * - `seqs`: per message, its seq minus the run's first seq (u32);
 * - `body`: per message, packet id (u16, 0: none), state (u8, 1: pubrel), the
 *   length of its stored body (u32), the body (message-codec.ts);
 * - `marks`: per message, flags (u8: GONE, CHANGED, PUBREL) and packet id (u16).
 */

import type { BrokerMessage } from '../message.ts'
import { type BodyWriter, decodeBody } from './message-codec.ts'
import type { StoredDelivery } from './types.ts'

/** The message was acknowledged (or dropped): it is not restored. */
export const GONE = 1
/** The packet id and state in the marks replace those in the body. */
export const CHANGED = 2
/** With CHANGED: PUBREC came, PUBREL is due. */
export const PUBREL = 4

/** A run stops growing here (a larger single message is a run of its own). */
const MAX_RUN_MESSAGES = 1024
const MAX_RUN_BYTES = 256 * 1024
const ENTRY_HEADER = 7

/** A stored run as a worker knows it while it holds the session. */
export interface Run {
  id: number
  first: number
  /** seq − first of each message, ascending. */
  deltas: Uint32Array
  /** 3 bytes a message (see above). */
  marks: Uint8Array
  live: number
  /** Whether its marks row exists in the file. */
  marked: boolean
}

/** One session's runs, ordered by first seq. */
export class RunBook {
  readonly runs: Run[] = []

  /** The run holding `seq` and the message's index in it, or undefined (gone with its run, or never stored). */
  find(seq: number): { run: Run; index: number } | undefined {
    const runs = this.runs
    // acknowledgements mostly come for the oldest run: look there first
    let lo = 0
    let hi = runs.length - 1
    if (hi < 0) return undefined
    if (seq >= runs[0]!.first && (hi === 0 || seq < runs[1]!.first)) hi = 0
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (runs[mid]!.first <= seq) lo = mid
      else hi = mid - 1
    }
    const run = runs[lo]!
    const delta = seq - run.first
    if (delta < 0) return undefined
    const deltas = run.deltas
    let a = 0
    let b = deltas.length - 1
    while (a <= b) {
      const mid = (a + b) >> 1
      const d = deltas[mid]!
      if (d === delta) return (run.marks[mid * 3]! & GONE) === 0 ? { run, index: mid } : undefined
      if (d < delta) a = mid + 1
      else b = mid - 1
    }
    return undefined
  }

  add(run: Run): void {
    // runs come in seq order (a session's seqs only grow): the end, unless a failed commit left a gap
    const runs = this.runs
    let i = runs.length
    while (i > 0 && runs[i - 1]!.first > run.first) i--
    runs.splice(i, 0, run)
  }

  remove(run: Run): void {
    const i = this.runs.indexOf(run)
    if (i !== -1) this.runs.splice(i, 1)
  }
}

/** The columns of one run row, ready to insert. */
export interface EncodedRun {
  first: number
  count: number
  seqs: Uint8Array
  body: Uint8Array
  deltas: Uint32Array
}

/**
 * Encodes deliveries (ascending seq) into runs, into scratch buffers reused
 * from call to call (SQLite copies the bytes when the insert runs).
 */
export class RunWriter {
  readonly #bodies: BodyWriter
  #body = Buffer.allocUnsafeSlow(64 * 1024)
  #seqs = Buffer.allocUnsafeSlow(4 * MAX_RUN_MESSAGES)

  constructor(bodies: BodyWriter) {
    this.#bodies = bodies
  }

  /** Calls `write` once per run, in seq order; each run's buffers are valid only during its call. */
  write(deliveries: Iterable<StoredDelivery>, write: (run: EncodedRun) => void): void {
    let first = 0
    let count = 0
    let at = 0
    const flush = () => {
      const deltas = new Uint32Array(count)
      for (let i = 0; i < count; i++) deltas[i] = this.#seqs.readUInt32LE(i * 4)
      write({
        first,
        count,
        seqs: this.#seqs.subarray(0, count * 4),
        body: this.#body.subarray(0, at),
        deltas,
      })
      count = 0
      at = 0
    }
    let previous: BrokerMessage | undefined
    for (const d of deliveries) {
      let body = this.#bodies.encode(d, previous)
      if (count > 0 && (count === MAX_RUN_MESSAGES || at + ENTRY_HEADER + body.byteLength > MAX_RUN_BYTES)) {
        flush()
        // a run decodes on its own: its first message carries its topic and origin
        body = this.#bodies.encode(d)
      }
      previous = d.message
      if (count === 0) first = d.seq
      const need = at + ENTRY_HEADER + body.byteLength
      if (need > this.#body.length) {
        const grown = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(need)))
        this.#body.copy(grown, 0, 0, at)
        this.#body = grown
      }
      const b = this.#body
      this.#seqs.writeUInt32LE(d.seq - first, count * 4)
      b.writeUInt16LE(d.packetId ?? 0, at)
      b[at + 2] = d.state === 'pubrel' ? 1 : 0
      b.writeUInt32LE(body.byteLength, at + 3)
      b.set(body, at + ENTRY_HEADER)
      at += ENTRY_HEADER + body.byteLength
      count++
    }
    if (count > 0) flush()
  }
}

/** A run as read from the file: its seqs, and its marks (all zero without a marks row). */
export function runOf(id: number, first: number, seqs: Uint8Array, marks: Uint8Array | null): Run {
  const count = seqs.byteLength / 4
  const view = Buffer.from(seqs.buffer, seqs.byteOffset, seqs.byteLength)
  const deltas = new Uint32Array(count)
  for (let i = 0; i < count; i++) deltas[i] = view.readUInt32LE(i * 4)
  const own = new Uint8Array(count * 3)
  let live = count
  if (marks !== null) {
    own.set(marks.subarray(0, count * 3))
    for (let i = 0; i < count; i++) if (own[i * 3]! & GONE) live--
  }
  return { id, first, deltas, marks: own, live, marked: marks !== null }
}

/** The messages of a run still to deliver, with their packet ids and states after the marks. */
export function decodeRun(
  first: number,
  seqs: Uint8Array,
  body: Uint8Array,
  marks: Uint8Array | null,
): StoredDelivery[] {
  const s = Buffer.from(seqs.buffer, seqs.byteOffset, seqs.byteLength)
  const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  const out: StoredDelivery[] = []
  let previous: BrokerMessage | undefined
  let at = 0
  for (let i = 0; i * 4 < s.byteLength; i++) {
    const length = b.readUInt32LE(at + 3)
    const flags = marks === null ? 0 : marks[i * 3]!
    // every message is decoded, gone or not: the next one may use its topic or origin
    const stored = decodeBody(b.subarray(at + ENTRY_HEADER, at + ENTRY_HEADER + length), previous)
    previous = stored.message
    if ((flags & GONE) === 0) {
      let packetId = b.readUInt16LE(at)
      let pubrel = b[at + 2] === 1
      if (flags & CHANGED) {
        packetId = marks![i * 3 + 1]! | (marks![i * 3 + 2]! << 8)
        pubrel = (flags & PUBREL) !== 0
      }
      out.push({
        ...stored,
        seq: first + s.readUInt32LE(i * 4),
        packetId: packetId === 0 ? undefined : packetId,
        state: pubrel ? 'pubrel' : 'publish',
      })
    }
    at += ENTRY_HEADER + length
  }
  return out
}
