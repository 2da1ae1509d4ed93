/**
 * Accepting without a `net.Socket`: the main thread takes each accepted TCP
 * handle straight from the listening handle, as Node's own cluster module
 * does for its round-robin hand-out (`lib/internal/cluster/round_robin_handle.js`
 * sets the listening handle's `onconnection`).
 *
 * `net.Server` wraps every accepted handle in a `net.Socket` (stream state,
 * event emitter, timers) before it emits `connection`; mqttd's main thread
 * only passes the handle on to a worker, so it built a socket and destroyed
 * it again for every connection: about 10 µs of main-thread CPU per connection
 * of the ~30 an accept and close cost (measured with a bare `net.Server` that
 * closes each accepted handle at the end of the turn, 15,000 connections
 * after 5,000 of warm-up, three runs: 28.9–30.9 against 19.0–19.8 µs), and
 * the young-generation garbage that came with it. A handle taken this way is
 * never read (no `readStart`), so it stays transferable.
 */
import type { Server } from 'node:net'
import { getSystemErrorName } from 'node:util'
import type { TcpHandle } from './transferred-socket.ts'

/** The parts of Node's TCPWrap used here (net.js and the cluster module use them the same way). */
interface HandleInternals {
  close(callback?: () => void): void
  getpeername(out: { address?: string }): number
}

/** The listening side: what `net.Server` keeps in `_handle` once it listens. */
interface ListeningHandle {
  onconnection: (status: number, handle: TcpHandle | undefined) => void
  /** uv_tcp_nodelay(): 0, or a negative errno. */
  setNoDelay(enable: boolean): number
}

/**
 * Replaces a listening server's `connection` path: `onAccept` gets each
 * accepted handle (not reading); `onError` an accept that failed (EMFILE,
 * ENFILE, …: the error net.Server would emit on the server).
 *
 * Also sets TCP_NODELAY on the listening socket: Linux copies it into every
 * socket the listener accepts, so the worker need not make a setsockopt()
 * call per connection (about 3 % of a worker's CPU per connection, measured
 * with `--cpu-prof` at 30,000 connections). `inheritsNoDelay` is false for
 * a handle that may not have it: when it could not be set, and for what the
 * kernel completed between `listen()` and now, which the listener's first
 * poll takes (the accept loop runs until the queue is empty, and a poll
 * phase lies between the two immediates below). The worker sets it on those.
 * @throws when the server is not listening or Node's internals changed shape
 */
export function acceptRaw(
  server: Server,
  onAccept: (handle: TcpHandle, inheritsNoDelay: boolean) => void,
  onError: (err: NodeJS.ErrnoException) => void,
): void {
  const listening = (server as unknown as { _handle?: Partial<ListeningHandle> | null })._handle
  if (listening === null || listening === undefined || typeof listening.onconnection !== 'function') {
    throw new Error('acceptRaw: the server is not listening on a handle with onconnection')
  }
  const set = typeof listening.setNoDelay === 'function' && listening.setNoDelay(true) === 0
  let inherits = false
  if (set) setImmediate(() => setImmediate(() => (inherits = true)))
  listening.onconnection = (status, handle) => {
    if (status < 0 || handle === undefined) {
      const name = getSystemErrorName(status)
      onError(Object.assign(new Error(`accept ${name}`), { code: name, errno: status, syscall: 'accept' }))
      return
    }
    onAccept(handle, inherits)
  }
}

/** The peer's address of an accepted handle (a getpeername() syscall), undefined when it is gone. */
export function peerAddress(handle: TcpHandle): string | undefined {
  const out: { address?: string } = {}
  return (handle as unknown as HandleInternals).getpeername(out) === 0 ? out.address : undefined
}

/** Closes an accepted handle the main thread will not hand off (a refusal, a shutdown). */
export function closeHandle(handle: TcpHandle): void {
  ;(handle as unknown as HandleInternals).close()
}
