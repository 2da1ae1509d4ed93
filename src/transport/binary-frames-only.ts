import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'

/**
 * [3.1.1 MQTT-6.0.0-1] [5.0 MQTT-6.0.0-1]: MQTT Control Packets travel in
 * binary frames; on any other data frame the connection closes. ws hands text
 * frames to `createWebSocketStream`'s stream as if they were binary, so this
 * listener, put before the stream's, closes the WebSocket with 1003
 * (unsupported data; the close frame is handed to the socket at once) and
 * destroys the stream before the stream's listener runs, so nothing of the
 * frame is parsed.
 */
export function closeOnTextFrames(ws: WebSocket, stream: Duplex): void {
  ws.prependListener('message', (_data: unknown, isBinary: boolean) => {
    if (isBinary) return
    ws.close(1003, 'MQTT needs binary frames')
    stream.destroy()
  })
}
