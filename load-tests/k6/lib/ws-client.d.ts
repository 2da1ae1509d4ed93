/** Types for ws-client.js. */
import type { ClientClass } from './scenarios.js'

/** k6's WebSocket class, or a Node shim with its constructor signature. */
export type WebSocketClass = new (
  url: string,
  protocols: null,
  params: { headers: Record<string, string> },
) => unknown

export function wsClientClass(WebSocketImpl: WebSocketClass): ClientClass
