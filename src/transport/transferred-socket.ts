/**
 * How an accepted socket crosses to a worker: its TCP handle alone.
 *
 * Node can transfer a whole `net.Socket` (24.20+ / 26.6+), but the receiving
 * side then builds a socket by adding its ~30 fields one by one to an object
 * made without its constructor: V8 turns it into a dictionary-mode object
 * (a 1.6 KB property table per connection and a hash lookup for every field
 * the stream code reads), which mqttd then rebuilt around its handle with the
 * constructor, a second socket per connection. The transfer itself only
 * moves the handle (`net.Socket`'s transfer list is `[this._handle]`), and a
 * TCP handle is transferable on its own: the main thread detaches it from the
 * accepted socket and posts it, and the worker builds the one socket it uses
 * with `new Socket({ handle })`, as `net.Server` builds the sockets it accepts.
 *
 * What Node checks before it transfers a socket holds by construction here:
 * the main thread accepts with `pauseOnConnect` and never reads or writes.
 */
import { Socket } from 'node:net'

/** A TCP handle (Node's `TCPWrap`), transferable in a `postMessage` transfer list. */
export type TcpHandle = object

/** The parts of a net.Socket this relies on that Node does not document (net.Server uses them). */
interface SocketInternals {
  _handle: TcpHandle | null
}

/**
 * Takes the handle of an accepted, untouched socket for a transfer and
 * destroys the socket (what Node's own socket transfer does to its source).
 * Null when the socket has none (destroyed).
 */
export function detachHandle(socket: Socket): TcpHandle | null {
  const internals = socket as unknown as SocketInternals
  const handle = internals._handle
  internals._handle = null
  socket.destroy()
  return handle
}

/**
 * The socket for a handle that arrived from the main thread. It is not
 * reading (accepted with `pauseOnConnect`) and stays so until it is read
 * from (`manualStart`).
 */
export function socketFromHandle(handle: TcpHandle): Socket {
  return new Socket({ handle, allowHalfOpen: false, manualStart: true } as ConstructorParameters<
    typeof Socket
  >[0])
}
