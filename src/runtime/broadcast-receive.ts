/**
 * Receiving on a `BroadcastChannel` without a `MessageEvent` per message.
 *
 * Node wraps every message a `BroadcastChannel` receives in a `MessageEvent`,
 * and that class comes from Node's bundled undici: the first message a thread
 * receives loads the whole bundle (an 800 KB script) into that isolate.
 * Measured in a fresh worker thread: +2.6 MB of V8 heap and +13.5 MB of
 * process RSS, paid by the main thread and every worker of an idle server,
 * since the control channel answers `worker:ready` at start. The channel's
 * own port (the handle it listens on) hands its listeners the data itself,
 * so listening there skips the event and the bundle. Node does not expose
 * the handle: it is found by its symbol's description, and a Node whose
 * channel has no such handle gets the standard `onmessage` instead.
 */
import type { BroadcastChannel } from 'node:worker_threads'

interface ChannelPort {
  on(event: 'message', listener: (data: unknown) => void): unknown
  off(event: 'message', listener: (...args: unknown[]) => void): unknown
  hasRef(): boolean
  unref(): void
}

function ownSymbol(target: object, description: string): unknown {
  const key = Object.getOwnPropertySymbols(target).find((s) => s.description === description)
  return key === undefined ? undefined : (target as Record<symbol, unknown>)[key]
}

function channelPort(
  channel: BroadcastChannel,
): { port: ChannelPort; listener: (...args: unknown[]) => void } | null {
  const port = ownSymbol(channel, 'kHandle') as Partial<ChannelPort> | undefined
  const listener = ownSymbol(channel, 'kOnMessage')
  if (
    port === undefined ||
    typeof port.on !== 'function' ||
    typeof port.off !== 'function' ||
    typeof port.hasRef !== 'function' ||
    typeof port.unref !== 'function' ||
    typeof listener !== 'function'
  ) {
    return null
  }
  return { port: port as ChannelPort, listener: listener as (...args: unknown[]) => void }
}

/**
 * Calls `receive` with the data of every message `channel` receives, in
 * place of `channel.onmessage`; keeps the channel's ref state (a `message`
 * listener on a port refs it). Set it once per channel. `messageerror`
 * events still go to the channel's own listeners.
 */
export function onBroadcast<T>(channel: BroadcastChannel, receive: (data: T) => void): void {
  const found = channelPort(channel)
  if (found === null) {
    channel.onmessage = (event) => receive((event as { data: T }).data)
    return
  }
  const { port, listener } = found
  const refed = port.hasRef()
  port.off('message', listener)
  port.on('message', receive as (data: unknown) => void)
  if (!refed) port.unref()
}
