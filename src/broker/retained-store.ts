/**
 * Retained messages of one worker. Every worker keeps a full replica (see
 * docs/broker-design.md); writes carry a version so that replicas applying
 * concurrent writes in different orders still converge (last writer wins).
 */

import { matchesFilter } from '../protocol/topic.ts'
import type { BrokerMessage } from './message.ts'
import { isExpired } from './message.ts'
import { retainedEntrySize } from './retained-size.ts'

/** Orders writes: later `time` wins, `worker` breaks ties. */
export interface RetainVersion {
  time: number
  worker: number
}

export interface RetainedLimits {
  maxMessages: number
  maxBytes: number
}

interface Entry {
  message: BrokerMessage
  version: RetainVersion
  bytes: number
}

/** Outcome of a write: stored/deleted, ignored as older, or refused by the limits. */
export type RetainOutcome = 'stored' | 'deleted' | 'stale' | 'limit'

function newer(a: RetainVersion, b: RetainVersion): boolean {
  return a.time > b.time || (a.time === b.time && a.worker > b.worker)
}

/** Counted against `maxBytes`: what the entry really costs, overhead included (retained-size.ts). */
function sizeOf(message: BrokerMessage): number {
  return retainedEntrySize(message)
}

export class RetainedStore {
  readonly #entries = new Map<string, Entry>()
  // Deletions are remembered briefly so an older write arriving late cannot resurrect a topic.
  readonly #tombstones = new Map<string, RetainVersion>()
  readonly #limits: RetainedLimits
  #bytes = 0

  constructor(limits: RetainedLimits) {
    this.#limits = limits
  }

  get size(): number {
    return this.#entries.size
  }

  get bytes(): number {
    return this.#bytes
  }

  /**
   * Stores, replaces, or (empty payload) deletes the retained message of its
   * topic [3.1.1 MQTT-3.3.1-5] [3.1.1 MQTT-3.3.1-7] [3.1.1 MQTT-3.3.1-10] [5.0 MQTT-3.3.1-5] [5.0 MQTT-3.3.1-6]. A new topic beyond the
   * limits is refused; a replacement is accepted if its size fits.
   */
  set(message: BrokerMessage, version: RetainVersion): RetainOutcome {
    const topic = message.topic
    const current = this.#entries.get(topic)
    const tomb = this.#tombstones.get(topic)
    if (
      (current !== undefined && !newer(version, current.version)) ||
      (tomb !== undefined && !newer(version, tomb))
    ) {
      return 'stale'
    }
    if (message.payload.byteLength === 0) {
      // A zero-byte retained message is never stored [3.1.1 MQTT-3.3.1-10] [3.1.1 MQTT-3.3.1-11] [5.0 MQTT-3.3.1-6] [5.0 MQTT-3.3.1-7]
      if (current !== undefined) this.#remove(topic, current)
      this.#tombstones.set(topic, version)
      if (this.#tombstones.size > this.#limits.maxMessages) {
        this.#tombstones.delete(this.#tombstones.keys().next().value!)
      }
      return 'deleted'
    }
    const bytes = sizeOf(message)
    const freed = current?.bytes ?? 0
    const count = this.#entries.size + (current === undefined ? 1 : 0)
    if (count > this.#limits.maxMessages || this.#bytes - freed + bytes > this.#limits.maxBytes)
      return 'limit'
    if (current !== undefined) this.#remove(topic, current)
    this.#tombstones.delete(topic)
    this.#entries.set(topic, { message: { ...message, retain: true }, version, bytes })
    this.#bytes += bytes
    return 'stored'
  }

  get(topic: string): BrokerMessage | undefined {
    return this.#entries.get(topic)?.message
  }

  /** Retained messages matching `filter`, expired ones dropped on the way [5.0 MQTT-3.3.2-5]. */
  match(filter: string, now: number): BrokerMessage[] {
    const out: BrokerMessage[] = []
    const exact = !filter.includes('+') && !filter.includes('#')
    if (exact) {
      const entry = this.#entries.get(filter)
      if (entry !== undefined) this.#collect(filter, entry, now, out)
      return out
    }
    for (const [topic, entry] of this.#entries) {
      if (matchesFilter(filter, topic)) this.#collect(topic, entry, now, out)
    }
    return out
  }

  #collect(topic: string, entry: Entry, now: number, out: BrokerMessage[]): void {
    if (isExpired(entry.message, now)) this.#remove(topic, entry)
    else out.push(entry.message)
  }

  #remove(topic: string, entry: Entry): void {
    this.#entries.delete(topic)
    this.#bytes -= entry.bytes
  }

  /** Every stored message with its version, to seed a new replica. */
  snapshot(): [BrokerMessage, RetainVersion][] {
    return [...this.#entries.values()].map((e) => [e.message, e.version])
  }
}
