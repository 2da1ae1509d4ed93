/**
 * The hand-off channel: one MessagePort between the main thread and each
 * worker. The main thread posts the sockets it accepted (in the transfer
 * list); the worker posts back the connections that ended.
 *
 * A pool task per hand-off (piscina's `run`) costs a task record and a
 * promise in the main thread and a result message back, one more wake-up of
 * the main thread per connection; a connection-long task also kept its record
 * and its suspended handler for as long as the connection lived. A port
 * carries only the sockets, and nothing comes back until connections end,
 * one post per worker and event-loop turn with that turn's count per
 * listener (a close is a callback of its own: a microtask would post once per
 * connection).
 *
 * The worker makes the channel and offers one end to the main thread
 * (`postMessageToThread`) once its handlers are initialised, so a worker that
 * cannot start never gets a socket. The port's `close` (the worker thread
 * ended) tells the main thread that everything the worker held ended.
 */
import { MessageChannel, type MessagePort, postMessageToThread } from 'node:worker_threads'

/** One worker's connection ends of one turn: how many, by listener. */
export type EndedConnections = Record<string, number>

/** What a worker posts to the main thread to offer its end of the channel. */
interface PortOffer {
  mqttdHandoff: string
  threadId: number
  port: MessagePort
}

function isOffer(value: unknown, instanceId: string): value is PortOffer {
  return (
    typeof value === 'object' && value !== null && (value as Partial<PortOffer>).mqttdHandoff === instanceId
  )
}

/** A worker's side: receives hand-offs (`T`: workers/worker-data.ts `HandoffTask`), reports connection ends once per turn. */
export class HandoffReceiver<T> {
  readonly #port: MessagePort
  readonly #offer: MessagePort
  #ended: EndedConnections | undefined

  constructor(receive: (handoff: T) => void) {
    const { port1, port2 } = new MessageChannel()
    this.#port = port1
    this.#offer = port2
    port1.on('message', receive)
  }

  /**
   * Hands the main thread its end of the channel; from then on it sends
   * sockets here. Once: the port moves with the first attempt. No timeout, as
   * one that expired could still be delivered later, and the main thread
   * listens from before any worker can offer; rejects only when it does not
   * listen (it is shutting down).
   */
  offer(instanceId: string, threadId: number): Promise<void> {
    const offer: PortOffer = { mqttdHandoff: instanceId, threadId, port: this.#offer }
    return postMessageToThread(0, offer, [this.#offer])
  }

  /** A connection the main thread handed here ended (or never started). */
  ended(listener: string): void {
    if (this.#ended === undefined) {
      this.#ended = {}
      setImmediate(this.#flush)
    }
    this.#ended[listener] = (this.#ended[listener] ?? 0) + 1
  }

  readonly #flush = (): void => {
    const ended = this.#ended
    this.#ended = undefined
    if (ended !== undefined) this.#port.postMessage(ended)
  }
}

export interface HandoffPortsEvents {
  /** A worker's port arrived: it takes sockets from now on. */
  ready(threadId: number): void
  /** A worker reported connections that ended. */
  ended(threadId: number, ended: EndedConnections): void
  /** A worker's port closed: the thread ended, and every connection it held with it. */
  gone(threadId: number): void
}

/** The main thread's side: one port per live worker. */
export class HandoffPorts {
  readonly #instanceId: string
  readonly #events: HandoffPortsEvents
  readonly #ports = new Map<number, MessagePort>()
  #closed = false

  constructor(instanceId: string, events: HandoffPortsEvents) {
    this.#instanceId = instanceId
    this.#events = events
    process.on('workerMessage', this.#onWorkerMessage)
  }

  /** threadIds of the workers that take sockets now. */
  threadIds(): IterableIterator<number> {
    return this.#ports.keys()
  }

  get size(): number {
    return this.#ports.size
  }

  /** Whether worker `threadId` takes sockets (its port is open). */
  has(threadId: number): boolean {
    return this.#ports.has(threadId)
  }

  /** Posts `handoff` to worker `threadId`, `transfer` (its TCP handles) moved with it; false when it has no port. */
  post(threadId: number, handoff: unknown, transfer: readonly object[]): boolean {
    const port = this.#ports.get(threadId)
    if (port === undefined) return false
    port.postMessage(handoff, transfer as never)
    return true
  }

  readonly #onWorkerMessage = (value: unknown): void => {
    if (!isOffer(value, this.#instanceId)) return
    const { threadId, port } = value
    if (this.#closed) {
      port.close()
      return
    }
    this.#ports.set(threadId, port)
    port.on('message', (ended: EndedConnections) => this.#events.ended(threadId, ended))
    // after the listener, which refs the port: the listeners keep the process alive, a worker's port must not
    port.unref()
    port.once('close', () => {
      if (this.#ports.get(threadId) === port) this.#ports.delete(threadId)
      this.#events.gone(threadId)
    })
    this.#events.ready(threadId)
  }

  /** Stops taking offers and closes every port. */
  close(): void {
    this.#closed = true
    process.off('workerMessage', this.#onWorkerMessage)
    for (const port of this.#ports.values()) port.close()
    this.#ports.clear()
  }
}
