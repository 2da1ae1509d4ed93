/** Size of one slab of the shared pool that small packet parts are copied into. */
const SLAB_SIZE = 64 * 1024
/** Parts at least this large are queued by reference instead of copied. */
export const COPY_LIMIT = 2048

/**
 * One pool per thread, shared by every connection (like Node's Buffer pool):
 * a connection appends to its pending segment while nobody else wrote to the
 * pool since; otherwise it seals that segment and starts a new one at the
 * pool's end. An idle connection therefore holds no slab of its own, and a
 * slab lives as long as some segment of it waits in a raw stream's buffer.
 */
const pool = { slab: Buffer.allocUnsafeSlow(SLAB_SIZE), pos: 0 }
/** What an emptied buffer points at instead of a slab: holding a slab would keep its 64 KB alive. */
const NO_SLAB = Buffer.alloc(0)

/**
 * The "stream" mqtt-packet's `writeToStream` writes one packet into. It
 * collects the packet's many small parts (header byte, length, topic, id, …)
 * in the pool, so a whole batch of packets reaches the raw stream as one or a
 * few writes, and it can drop a packet that failed half-way
 * (`begin()`/`rollback()`), so invalid packets never leave partial bytes.
 *
 * It has no `cork()` on purpose: writeToStream would then schedule a
 * `nextTick` per packet.
 */
export class OutboundBuffer {
  /** Error reported by writeToStream (through `destroy(err)`) for the current packet. */
  error: Error | null = null
  #slab: Buffer = pool.slab
  #start = 0
  #pos = 0
  #chunks: Buffer[] = []
  #queued = 0
  #markSlab: Buffer = pool.slab
  #markStart = 0
  #markPos = 0
  #markChunks = 0
  #markQueued = 0
  #markPoolSlab: Buffer = pool.slab
  #markPoolPos = 0

  /** Bytes waiting to be flushed. */
  get length(): number {
    return this.#queued + this.#pos - this.#start
  }

  /** Marks the start of a packet. */
  begin(): void {
    this.error = null
    this.#markSlab = this.#slab
    this.#markStart = this.#start
    this.#markPos = this.#pos
    this.#markChunks = this.#chunks.length
    this.#markQueued = this.#queued
    this.#markPoolSlab = pool.slab
    this.#markPoolPos = pool.pos
  }

  /** Drops everything written since `begin()`. Bytes before the mark are never overwritten, so they stay valid. */
  rollback(): void {
    // nothing else ran since begin() (it is synchronous): give the bytes back to the pool
    if (pool.slab === this.#markPoolSlab) pool.pos = this.#markPoolPos
    this.#slab = this.#markSlab
    this.#start = this.#markStart
    this.#pos = this.#markPos
    this.#chunks.length = this.#markChunks
    this.#queued = this.#markQueued
  }

  write(chunk: Buffer | string): boolean {
    if (typeof chunk === 'string') {
      const max = chunk.length * 3
      if (max < COPY_LIMIT) {
        this.#ensure(max)
        this.commit(this.#pos + this.#slab.write(chunk, this.#pos))
        return true
      }
      chunk = Buffer.from(chunk)
    }
    const len = chunk.length
    if (len >= COPY_LIMIT) {
      this.#seal()
      this.#chunks.push(chunk)
      this.#queued += len
      return true
    }
    this.#ensure(len)
    const slab = this.#slab
    let pos = this.#pos
    // byte loop beats TypedArray#set for the 1–4 byte parts that dominate
    if (len < 16) for (let i = 0; i < len; i++) slab[pos++] = chunk[i]!
    else {
      slab.set(chunk, pos)
      pos += len
    }
    this.commit(pos)
    return true
  }

  /**
   * Room for `n` contiguous bytes: returns the slab to write into from
   * {@link OutboundBuffer.pos}; call `commit(newPos)` afterwards.
   */
  reserve(n: number): Buffer {
    if (n > SLAB_SIZE) {
      // a dedicated buffer, outside the pool
      this.#seal()
      this.#slab = Buffer.allocUnsafeSlow(n)
      this.#start = 0
      this.#pos = 0
    } else this.#ensure(n)
    return this.#slab
  }

  /** Where the next byte goes in the slab returned by `reserve()`. */
  get pos(): number {
    return this.#pos
  }

  commit(pos: number): void {
    this.#pos = pos
    if (this.#slab === pool.slab) pool.pos = pos
  }

  /** writeToStream reports invalid packets by destroying its stream. */
  destroy(err?: Error): void {
    if (err) this.error = err
  }

  /**
   * Forgets the slabs it points at; call once {@link take} emptied it. A buffer kept between
   * writes (an idle connection's) would otherwise keep the slab of its last packet alive, one
   * 64 KB slab per connection in the worst case.
   */
  clear(): void {
    this.error = null
    this.#slab = NO_SLAB
    this.#start = 0
    this.#pos = 0
    this.#markSlab = NO_SLAB
    this.#markPoolSlab = NO_SLAB
  }

  /** Takes every pending byte as a list of buffers (usually one). */
  take(): Buffer[] {
    this.#seal()
    const chunks = this.#chunks
    this.#chunks = []
    this.#queued = 0
    return chunks
  }

  #ensure(n: number): void {
    if (this.#slab !== pool.slab || this.#pos !== pool.pos) {
      // another connection wrote to the pool since (or we used a dedicated buffer): new segment
      this.#seal()
      this.#slab = pool.slab
      this.#start = pool.pos
      this.#pos = pool.pos
    }
    if (this.#pos + n > this.#slab.length) {
      this.#seal()
      pool.slab = Buffer.allocUnsafeSlow(SLAB_SIZE)
      pool.pos = 0
      this.#slab = pool.slab
      this.#start = 0
      this.#pos = 0
    }
  }

  #seal(): void {
    if (this.#pos > this.#start) {
      this.#chunks.push(this.#slab.subarray(this.#start, this.#pos))
      this.#queued += this.#pos - this.#start
    }
    this.#start = this.#pos
  }
}

/** Emptied buffers for the next connection that writes (see {@link acquireOutbound}). */
const spares: OutboundBuffer[] = []
const MAX_SPARES = 64

/**
 * An empty buffer to write a batch into. A connection holds one only from its first packet of a
 * tick to the flush: an idle connection holds none (0.17 KB less each), and the busy ones take
 * turns with a few spares instead of allocating one per batch.
 */
export function acquireOutbound(): OutboundBuffer {
  return spares.pop() ?? new OutboundBuffer()
}

/** Gives back a buffer {@link OutboundBuffer.take} emptied. */
export function releaseOutbound(out: OutboundBuffer): void {
  out.clear()
  if (spares.length < MAX_SPARES) spares.push(out)
}
