/**
 * How an accepted connection crosses to a worker: its TCP handle alone.
 *
 * Node can transfer a whole `net.Socket` (24.20+ / 26.6+), but the receiving
 * side then builds a socket by adding its ~30 fields one by one to an object
 * made without its constructor: V8 turns it into a dictionary-mode object
 * (a 1.6 KB property table per connection and a hash lookup for every field
 * the stream code reads). The transfer itself only moves the handle
 * (`net.Socket`'s transfer list is `[this._handle]`), and a TCP handle is
 * transferable on its own: the main thread takes the accepted handle without
 * building a socket (raw-accept.ts) and posts it, and the worker builds the
 * one socket it uses with `new Socket({ handle })`, as `net.Server` builds the
 * sockets it accepts.
 *
 * What Node checks before it transfers a socket holds by construction here:
 * the main thread never reads or writes a handle it accepted.
 */
import { Socket } from 'node:net'

/** An accepted TCP handle (Node's `TCPWrap`), transferable in a `postMessage` transfer list. */
export interface TcpHandle {
  /** Bytes read from the connection so far: 0 for a handle the main thread hands off. */
  readonly bytesRead: number
}

/**
 * The socket for a handle that arrived from the main thread. It is not
 * reading (the main thread never started it) and stays so until it is read
 * from (`manualStart`).
 */
export function socketFromHandle(handle: TcpHandle): Socket {
  return new Socket({ handle, allowHalfOpen: false, manualStart: true } as unknown as ConstructorParameters<
    typeof Socket
  >[0])
}
