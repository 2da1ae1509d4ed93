import type { Duplex } from 'node:stream'

/** How long and how many closed-but-draining streams a thread keeps (config `limits.lingerMs` / `limits.maxLingering`). */
export interface LingerLimits {
  /** Longest time a stream lingers, in ms; 0: destroy at once. */
  lingerMs: number
  /** Streams lingering at once in this thread; beyond it they are destroyed at once. */
  maxLingering: number
}

let lingering = 0
let overflows = 0

/** Streams of this thread lingering now. */
export function lingeringStreams(): number {
  return lingering
}

/** Streams destroyed at once because {@link LingerLimits.maxLingering} streams lingered already. */
export function lingerOverflows(): number {
  return overflows
}

function discard(): void {}

/**
 * Closes `stream` gracefully: ends its write side (after what was written,
 * e.g. a refusing CONNACK or a DISCONNECT), discards whatever still arrives
 * until the peer closes or `lingerMs` passed, then destroys it. Destroying a
 * TCP socket with unread bytes makes the kernel send a reset, and a reset can
 * wipe the packet the peer has not read yet. Returns false when the stream was
 * destroyed at once (limit reached, or lingering disabled).
 */
export function lingerClose(stream: Duplex, limits: LingerLimits): boolean {
  if (stream.destroyed) return false
  if (limits.lingerMs <= 0 || lingering >= limits.maxLingering) {
    if (limits.lingerMs > 0) overflows++
    stream.destroy()
    return false
  }
  lingering++
  const timer = setTimeout(() => stream.destroy(), limits.lingerMs)
  timer.unref()
  stream.once('close', () => {
    clearTimeout(timer)
    lingering--
  })
  // a reset from the peer while we drain is an expected end, not a failure
  stream.on('error', discard)
  stream.on('data', discard)
  // the peer closed its side: nothing more to wait for
  stream.once('end', () => stream.destroy())
  stream.resume()
  stream.end()
  return true
}
