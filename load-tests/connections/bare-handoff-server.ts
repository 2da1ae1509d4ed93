/**
 * The floor of mqttd's design, where bare-server.ts is the floor of one thread:
 * the main thread accepts each TCP handle without a socket (mqttd's own
 * raw-accept.ts), posts the handles of a turn to one worker thread over a
 * `MessagePort` at the turn's end, and the worker builds a `net.Socket` around
 * each (mqttd's own transferred-socket.ts), answers the first chunk with a
 * 3.1.1 CONNACK and PINGREQ with PINGRESP, and reports the connections that
 * ended once per turn, as mqttd's hand-off does, for a connection limit. No
 * parser, no per-connection object, no metrics: what a main-thread accept and a hand-off
 * cost before any MQTT.
 *
 *   node load-tests/connections/bare-handoff-server.ts <port>
 */
import { createServer } from 'node:net'
import { isMainThread, MessageChannel, type MessagePort, parentPort, Worker } from 'node:worker_threads'
import { acceptRaw, closeHandle } from '../../src/transport/raw-accept.ts'
import { socketFromHandle, type TcpHandle } from '../../src/transport/transferred-socket.ts'
import { answerLikeABroker } from './bare-answer.ts'

/** A connection limit, as mqttd's admission keeps one: the main thread counts open connections for it. */
const MAX_OPEN = 100_000

function main(): void {
  const worker = new Worker(new URL(import.meta.url))
  const { port1, port2 } = new MessageChannel()
  worker.postMessage(port2, [port2])
  let open = 0
  // the ends of a turn come as one count, as mqttd's ledger hears them
  port1.on('message', (ended: number) => {
    open -= ended
  })
  let pending: TcpHandle[] = []
  const flush = (): void => {
    const handles = pending
    pending = []
    port1.postMessage(handles, handles as never)
  }
  const server = createServer()
  server.listen({ host: '127.0.0.1', port: Number(process.argv[2]), backlog: 4096 }, () => {
    acceptRaw(
      server,
      (handle) => {
        if (open >= MAX_OPEN) {
          closeHandle(handle)
          return
        }
        open++
        if (pending.length === 0) setImmediate(flush)
        pending.push(handle)
      },
      () => {},
    )
  })
  process.on('SIGTERM', () => process.exit(0))
}

function serve(port: MessagePort): void {
  let ended = 0
  const report = (): void => {
    port.postMessage(ended)
    ended = 0
  }
  const closed = (): void => {
    if (ended++ === 0) setImmediate(report)
  }
  port.on('message', (handles: TcpHandle[]) => {
    for (const handle of handles) {
      const socket = socketFromHandle(handle)
      answerLikeABroker(socket)
      socket.on('close', closed)
    }
  })
}

if (isMainThread) main()
else parentPort!.once('message', serve)
