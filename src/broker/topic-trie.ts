/**
 * A trie of topic filters, one level per node, each node holding one value
 * of type T. Matching a topic walks only the branches that can match (the
 * exact level, `+` and `#`), so its cost grows with the topic's depth, not
 * with the number of filters.
 *
 * Matches are cached per topic name: a broker sees the same topics again and
 * again (a device publishes to its own few topics), and a hit costs one Map
 * lookup instead of a split and a walk with a Map lookup per level. A cached
 * match holds the matching values themselves, which stay valid while no
 * filter gains or loses its value, so any such change empties the cache; the
 * values' own contents (subscribers, counts) may change freely. The cache is
 * bounded: past `MATCH_CACHE_SIZE` topics it starts over, so a workload of
 * ever-new topics pays one Map insert per miss and never grows memory.
 */

/** Topics whose matches are kept; past this the cache is emptied (see above). */
const MATCH_CACHE_SIZE = 4096

const NO_MATCH: readonly never[] = []

interface Node<T> {
  children: Map<string, Node<T>>
  value: T | undefined
}

function newNode<T>(): Node<T> {
  return { children: new Map(), value: undefined }
}

export class TopicTrie<T> {
  readonly #root: Node<T> = newNode()
  #size = 0
  #cache = new Map<string, readonly T[]>()

  /** Number of filters holding a value. */
  get size(): number {
    return this.#size
  }

  get(filter: string): T | undefined {
    let node: Node<T> | undefined = this.#root
    for (const level of filter.split('/')) {
      node = node.children.get(level)
      if (node === undefined) return undefined
    }
    return node.value
  }

  /** The value at `filter`, created with `make` when there is none. */
  getOrCreate(filter: string, make: () => T): T {
    let node = this.#root
    for (const level of filter.split('/')) {
      let child = node.children.get(level)
      if (child === undefined) {
        child = newNode()
        node.children.set(level, child)
      }
      node = child
    }
    if (node.value === undefined) {
      node.value = make()
      this.#size++
      this.#cache.clear()
    }
    return node.value
  }

  /** Removes the value at `filter` and prunes the branches left empty. */
  delete(filter: string): boolean {
    const path: Node<T>[] = [this.#root]
    const levels = filter.split('/')
    for (const level of levels) {
      const child = path[path.length - 1]!.children.get(level)
      if (child === undefined) return false
      path.push(child)
    }
    const leaf = path[path.length - 1]!
    if (leaf.value === undefined) return false
    leaf.value = undefined
    this.#size--
    this.#cache.clear()
    for (let i = levels.length; i > 0; i--) {
      const node = path[i]!
      if (node.value !== undefined || node.children.size > 0) break
      path[i - 1]!.children.delete(levels[i - 1]!)
    }
    return true
  }

  /**
   * Calls `visit` with the value of every filter matching topic name `topic`.
   * Wildcards at the first level never match a `$` topic [3.1.1 MQTT-4.7.2-1] [5.0 MQTT-4.7.2-1].
   */
  match(topic: string, visit: (value: T) => void): void {
    const values = this.matches(topic)
    for (let i = 0; i < values.length; i++) visit(values[i]!)
  }

  /** The values of every filter matching `topic` (cached; do not modify). */
  matches(topic: string): readonly T[] {
    const cached = this.#cache.get(topic)
    if (cached !== undefined) return cached
    let values: T[] | undefined
    if (this.#size > 0)
      this.#walk(this.#root, topic.split('/'), 0, topic.charCodeAt(0) === 0x24, (value) => {
        if (values === undefined) values = [value]
        else values.push(value)
      })
    const result = values ?? NO_MATCH
    if (this.#cache.size >= MATCH_CACHE_SIZE) this.#cache.clear()
    this.#cache.set(topic, result)
    return result
  }

  #walk(node: Node<T>, levels: string[], depth: number, dollar: boolean, visit: (value: T) => void): void {
    const wildcardsAllowed = !(dollar && depth === 0)
    if (wildcardsAllowed) {
      // `#` matches the parent level too: "a/#" matches "a" [3.1.1 MQTT-4.7.1-2] [5.0 MQTT-4.7.1-1]
      const hash = node.children.get('#')
      if (hash?.value !== undefined) visit(hash.value)
    }
    if (depth === levels.length) {
      if (node.value !== undefined) visit(node.value)
      return
    }
    const exact = node.children.get(levels[depth]!)
    if (exact !== undefined) this.#walk(exact, levels, depth + 1, dollar, visit)
    if (wildcardsAllowed) {
      const plus = node.children.get('+')
      if (plus !== undefined) this.#walk(plus, levels, depth + 1, dollar, visit)
    }
  }

  /** Every (filter, value) pair. */
  *entries(): Generator<[string, T]> {
    const stack: [Node<T>, string[]][] = [[this.#root, []]]
    while (stack.length > 0) {
      const [node, path] = stack.pop()!
      if (node.value !== undefined && path.length > 0) yield [path.join('/'), node.value]
      for (const [level, child] of node.children) stack.push([child, [...path, level]])
    }
  }
}
