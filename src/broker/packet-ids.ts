/**
 * Packet identifiers for the QoS 1/2 messages the server sends to one client:
 * non-zero 16-bit values [3.1.1 MQTT-2.3.1-1], never reused while the message that
 * holds one is unacknowledged [3.1.1 MQTT-2.3.1-2].
 */
export class PacketIdAllocator {
  // made at the first id: an idle session sends nothing, and an empty Set costs about 0.15 KB
  #used: Set<number> | undefined
  #next = 1

  /** Number of identifiers in use. */
  get size(): number {
    return this.#used?.size ?? 0
  }

  /** A free identifier, or undefined when all 65535 are in use. */
  allocate(): number | undefined {
    this.#used ??= new Set()
    const used = this.#used
    if (used.size >= 0xffff) return undefined
    let id = this.#next
    while (used.has(id)) id = id === 0xffff ? 1 : id + 1
    used.add(id)
    this.#next = id === 0xffff ? 1 : id + 1
    return id
  }

  /** Marks `id` as used (when restoring a session's in-flight messages). */
  reserve(id: number): void {
    this.#used ??= new Set()
    this.#used.add(id)
  }

  release(id: number): void {
    this.#used?.delete(id)
  }

  has(id: number): boolean {
    return this.#used?.has(id) ?? false
  }
}
