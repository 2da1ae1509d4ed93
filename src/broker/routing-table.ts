/**
 * What this worker knows of the other workers' subscriptions: per filter,
 * how many subscriptions each worker holds (plain and per share group). It is
 * replicated from the deltas every worker broadcasts (see cluster.ts), and
 * tells a publisher which workers a message must go to.
 */
import { parseFilter } from '../protocol/topic.ts'
import { TopicTrie } from './topic-trie.ts'

interface RemoteEntry {
  filter: string
  workers: Map<number, number>
  groups: Map<string, Map<number, number>>
}

/** Where a message goes: workers with plain subscribers, and per share group the chosen worker (read-only for the caller). */
export interface RemoteTargets {
  workers: Set<number>
  /** [group, filter] → worker chosen for it, weighted by member count. */
  shared: Map<number, [string, string][]>
}

/** The targets of a topic no other worker subscribes to (shared: never modified). */
const NO_TARGETS: RemoteTargets = { workers: new Set(), shared: new Map() }

/** Topics whose plain targets are kept (the set is dropped when full, as the trie's match cache). */
const PLAIN_CACHE_SIZE = 4096

function bump(map: Map<number, number>, worker: number, delta: number): void {
  const n = (map.get(worker) ?? 0) + delta
  if (n > 0) map.set(worker, n)
  else map.delete(worker)
}

export class RoutingTable {
  readonly #trie = new TopicTrie<RemoteEntry>()
  /** worker → raw filter → count, to replace or drop one worker's share wholesale. */
  readonly #byWorker = new Map<number, Map<string, number>>()
  #size = 0
  /** Per topic, the other workers a publish goes to when no matching filter has a share group. */
  readonly #plain = new Map<string, readonly number[]>()

  /** Subscriptions the other workers hold, as announced (for the server-wide subscription cap). */
  get size(): number {
    return this.#size
  }

  /** Applies a change of `delta` subscriptions of `worker` to raw filter `raw`. */
  apply(worker: number, raw: string, delta: number): void {
    const parsed = parseFilter(raw)
    if (parsed === undefined || delta === 0) return
    if (this.#plain.size > 0) this.#plain.clear()
    let filters = this.#byWorker.get(worker)
    if (filters === undefined) {
      filters = new Map()
      this.#byWorker.set(worker, filters)
    }
    const before = filters.get(raw) ?? 0
    const total = before + delta
    if (total > 0) filters.set(raw, total)
    else filters.delete(raw)
    this.#size += Math.max(0, total) - before
    const entry = this.#trie.getOrCreate(parsed.filter, () => ({
      filter: parsed.filter,
      workers: new Map(),
      groups: new Map(),
    }))
    if (parsed.group === undefined) bump(entry.workers, worker, delta)
    else {
      let group = entry.groups.get(parsed.group)
      if (group === undefined) {
        group = new Map()
        entry.groups.set(parsed.group, group)
      }
      bump(group, worker, delta)
      if (group.size === 0) entry.groups.delete(parsed.group)
    }
    if (entry.workers.size === 0 && entry.groups.size === 0) this.#trie.delete(parsed.filter)
  }

  /** Replaces everything known of `worker` with `filters` (a snapshot it sent). */
  replaceWorker(worker: number, filters: [string, number][]): void {
    this.removeWorker(worker)
    for (const [raw, count] of filters) this.apply(worker, raw, count)
  }

  removeWorker(worker: number): void {
    const filters = this.#byWorker.get(worker)
    if (filters === undefined) return
    for (const [raw, count] of [...filters]) this.apply(worker, raw, -count)
    this.#byWorker.delete(worker)
  }

  /**
   * The workers other than `self` a publish to `topic` goes to, when no filter
   * matching it has a share group; undefined otherwise (`targets()` then draws
   * a member per group for each message). Kept per topic until the table
   * changes: a flood to one topic builds no Set, Map or array per message. The
   * array is shared: read-only.
   */
  plainTargets(topic: string, self: number): readonly number[] | undefined {
    const cached = this.#plain.get(topic)
    if (cached !== undefined) return cached
    const entries = this.#trie.matches(topic)
    const workers: number[] = []
    for (const entry of entries) {
      if (entry.groups.size > 0) return undefined
      for (const worker of entry.workers.keys())
        if (worker !== self && !workers.includes(worker)) workers.push(worker)
    }
    if (this.#plain.size >= PLAIN_CACHE_SIZE) this.#plain.clear()
    this.#plain.set(topic, workers)
    return workers
  }

  /**
   * The workers `topic` must go to. For each share group, one worker is
   * chosen at random weighted by its member count, with this worker's own
   * `localMembers` in the draw; a draw won by this worker is left out.
   */
  targets(topic: string, localMembers: (filter: string, group: string) => number): RemoteTargets {
    const entries = this.#trie.matches(topic)
    // Most publishes on a one-worker server, or to topics nobody elsewhere wants: nothing to build
    if (entries.length === 0) return NO_TARGETS
    const result: RemoteTargets = { workers: new Set(), shared: new Map() }
    for (const entry of entries) {
      for (const worker of entry.workers.keys()) result.workers.add(worker)
      for (const [group, counts] of entry.groups) {
        const local = localMembers(entry.filter, group)
        let total = local
        for (const n of counts.values()) total += n
        let pick = Math.floor(Math.random() * total) - local
        if (pick < 0) continue
        for (const [worker, n] of counts) {
          pick -= n
          if (pick < 0) {
            let list = result.shared.get(worker)
            if (list === undefined) {
              list = []
              result.shared.set(worker, list)
            }
            list.push([group, entry.filter])
            break
          }
        }
      }
    }
    return result
  }

  /** Workers holding members of share group `group` of `filter`. */
  groupHolders(filter: string, group: string): number[] {
    const counts = this.#trie.get(filter)?.groups.get(group)
    return counts === undefined ? [] : [...counts.keys()]
  }
}
