/**
 * The subscriptions of this worker's sessions, indexed by filter. Shared
 * subscriptions [5.0 MQTT-4.8.2-1] sit under their filter, grouped by share name.
 */

import type { ParsedFilter } from '../protocol/topic.ts'
import type { Session, Subscription } from './session.ts'
import { TopicTrie } from './topic-trie.ts'

export interface Subscriber {
  session: Session
  sub: Subscription
}

export interface SharedGroup {
  members: Map<string, Subscriber>
  /** The members in join order, for round-robin without copying the map per message. */
  order: Subscriber[]
  /** Round-robin cursor over `order`. */
  next: number
}

export interface FilterEntry {
  filter: string
  subscribers: Map<string, Subscriber>
  groups: Map<string, SharedGroup>
}

export class SubscriptionIndex {
  readonly #trie = new TopicTrie<FilterEntry>()
  #size = 0

  /** Subscriptions held (plain and shared), for the broker's quotas and gauges. */
  get size(): number {
    return this.#size
  }

  add(parsed: ParsedFilter, session: Session, sub: Subscription): void {
    const entry = this.#trie.getOrCreate(parsed.filter, () => ({
      filter: parsed.filter,
      subscribers: new Map(),
      groups: new Map(),
    }))
    const subscriber = { session, sub }
    if (parsed.group === undefined) {
      if (!entry.subscribers.has(session.clientId)) this.#size++
      entry.subscribers.set(session.clientId, subscriber)
      return
    }
    let group = entry.groups.get(parsed.group)
    if (group === undefined) {
      group = { members: new Map(), order: [], next: 0 }
      entry.groups.set(parsed.group, group)
    }
    const previous = group.members.get(session.clientId)
    group.members.set(session.clientId, subscriber)
    if (previous === undefined) {
      group.order.push(subscriber)
      this.#size++
    } else group.order[group.order.indexOf(previous)] = subscriber
  }

  remove(parsed: ParsedFilter, clientId: string): boolean {
    const entry = this.#trie.get(parsed.filter)
    if (entry === undefined) return false
    let removed: boolean
    if (parsed.group === undefined) removed = entry.subscribers.delete(clientId)
    else {
      const group = entry.groups.get(parsed.group)
      const member = group?.members.get(clientId)
      removed = member !== undefined
      if (group !== undefined && member !== undefined) {
        group.members.delete(clientId)
        group.order.splice(group.order.indexOf(member), 1)
        if (group.members.size === 0) entry.groups.delete(parsed.group)
      }
    }
    if (removed) this.#size--
    if (entry.subscribers.size === 0 && entry.groups.size === 0) this.#trie.delete(parsed.filter)
    return removed
  }

  /** The entries whose filter matches `topic` (cached by the trie; do not modify). */
  matches(topic: string): readonly FilterEntry[] {
    return this.#trie.matches(topic)
  }

  group(filter: string, group: string): SharedGroup | undefined {
    return this.#trie.get(filter)?.groups.get(group)
  }
}

/**
 * Picks the next member of a share group, round-robin, preferring members
 * that are online so a message does not wait in an offline session while
 * another member could take it.
 */
export function pickMember(group: SharedGroup): Subscriber | undefined {
  const members = group.order
  if (members.length === 0) return undefined
  const start = group.next % members.length
  for (let i = 0; i < members.length; i++) {
    const candidate = members[(start + i) % members.length]!
    if (candidate.session.online) {
      group.next = start + i + 1
      return candidate
    }
  }
  group.next = start + 1
  return members[start]
}
