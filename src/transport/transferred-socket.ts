/**
 * A socket that arrived from the main thread (a transferred `net.Socket`)
 * is rebuilt around its handle before anything reads it. Node deserializes a
 * transferred socket by adding its ~30 fields one by one to an object made
 * without its constructor, and past V8's limit for such objects it turns into
 * a dictionary-mode object: 1.6 KB of property table per connection (the
 * largest single item of an idle connection's heap in the worker, measured
 * with load-tests/connections/heap-diff.ts) and a hash lookup for every
 * field the stream code reads on each read and write. `new Socket({ handle })`
 * is how `net.Server` builds the sockets it accepts: the same fields,
 * assigned in the constructor, in fast mode.
 */
import { Socket } from 'node:net'

/** The parts of a net.Socket this relies on that Node does not document (net.Server uses them). */
interface SocketInternals {
  _handle: object | null
}

/**
 * Returns a socket built by the constructor around `socket`'s handle, which
 * `socket` gives up. The handle is not reading (the main thread accepted it
 * with `pauseOnConnect`) and stays so until the new socket is read from
 * (`manualStart`), as the transferred one would.
 */
export function rebuildTransferred(socket: Socket): Socket {
  const internals = socket as unknown as SocketInternals
  const handle = internals._handle
  if (handle === null || socket.destroyed) return socket
  internals._handle = null
  return new Socket({
    handle,
    allowHalfOpen: socket.allowHalfOpen,
    manualStart: true,
  } as ConstructorParameters<typeof Socket>[0])
}
