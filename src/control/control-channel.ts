/**
 * Request/reply between the main thread and every worker thread.
 *
 * piscina has no broadcast and its task channel carries sockets, so control
 * traffic (metrics snapshots, connection lists, kick, drain) goes over one
 * BroadcastChannel per server instance: the main thread posts a request,
 * each worker that serves that request type answers on a reply channel. The
 * instance id keeps two servers in one process (tests) apart. Both channels
 * are unref'd so they never keep a thread alive on their own.
 */
import { BroadcastChannel } from 'node:worker_threads'
import { onBroadcast } from '../runtime/broadcast-receive.ts'
import type { ControlMap, ControlProtocol } from './protocol.ts'

export interface ControlRequest {
  kind: 'request'
  id: number
  type: string
  payload: unknown
  /** threadId of the one worker that should answer; every worker when absent. */
  target?: number
}

export interface ControlReply {
  kind: 'reply'
  id: number
  workerId: number
  ok: boolean
  result?: unknown
  error?: { code: string; message: string }
}

export interface ControlResult<T> {
  /** Answers by worker threadId. */
  replies: Map<number, T>
  /** Workers that answered with an error, by threadId. */
  errors: Map<number, { code: string; message: string }>
  /** How many of the expected workers did not answer in time. */
  missing: number
}

function channelNames(instanceId: string): { requests: string; replies: string } {
  return { requests: `mqttd:${instanceId}:control`, replies: `mqttd:${instanceId}:control-reply` }
}

interface Pending {
  expected: number
  result: ControlResult<unknown>
  resolve: (r: ControlResult<unknown>) => void
  timer: NodeJS.Timeout
}

/** The main thread's side: ask all (or one) workers and collect answers until all replied or the timeout. */
export class ControlClient<M extends ControlMap<M> = ControlProtocol> {
  readonly #requests: BroadcastChannel
  readonly #replies: BroadcastChannel
  readonly #pending = new Map<number, Pending>()
  #nextId = 1

  constructor(instanceId: string) {
    const names = channelNames(instanceId)
    this.#requests = new BroadcastChannel(names.requests)
    this.#replies = new BroadcastChannel(names.replies)
    this.#requests.unref()
    this.#replies.unref()
    onBroadcast<ControlReply>(this.#replies, (reply) => this.#onReply(reply))
  }

  /**
   * Sends `type` to `expectedWorkers` workers (or to `target` alone) and
   * resolves when all answered or after `timeoutMs` with what arrived.
   */
  request<K extends keyof M & string>(
    type: K,
    payload: M[K]['request'],
    options: { expectedWorkers: number; timeoutMs: number; target?: number },
  ): Promise<ControlResult<M[K]['reply']>> {
    const id = this.#nextId++
    const expected = options.target === undefined ? options.expectedWorkers : 1
    const result: ControlResult<unknown> = { replies: new Map(), errors: new Map(), missing: expected }
    if (expected <= 0) return Promise.resolve(result as ControlResult<M[K]['reply']>)
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settle(id), options.timeoutMs)
      this.#pending.set(id, { expected, result, resolve: resolve as Pending['resolve'], timer })
      const message: ControlRequest = { kind: 'request', id, type, payload }
      if (options.target !== undefined) message.target = options.target
      this.#requests.postMessage(message)
    })
  }

  #onReply(reply: ControlReply): void {
    const pending = this.#pending.get(reply.id)
    if (pending === undefined) return // a late answer after the timeout
    if (reply.ok) pending.result.replies.set(reply.workerId, reply.result)
    else if (reply.error) pending.result.errors.set(reply.workerId, reply.error)
    pending.result.missing = pending.expected - pending.result.replies.size - pending.result.errors.size
    if (pending.result.missing <= 0) this.#settle(reply.id)
  }

  #settle(id: number): void {
    const pending = this.#pending.get(id)
    if (pending === undefined) return
    this.#pending.delete(id)
    clearTimeout(pending.timer)
    pending.result.missing = Math.max(0, pending.result.missing)
    pending.resolve(pending.result)
  }

  close(): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id)
    this.#requests.close()
    this.#replies.close()
  }
}

/** Answers one request type: the reply, or a promise of it; a throw becomes the error reply. */
export type ControlHandler<Req, Reply> = (payload: Req) => Reply | Promise<Reply>

let current: ControlServer | undefined

/**
 * The ControlServer of this worker thread (the last one built), for modules
 * loaded as handlers that answer a request of their own (the broker's `$SYS`
 * updates); undefined outside a server's worker.
 */
export function currentControlServer(): ControlServer | undefined {
  return current
}

/** A worker's side: answers the request types it has handlers for. */
export class ControlServer<M extends ControlMap<M> = ControlProtocol> {
  readonly #requests: BroadcastChannel
  readonly #replies: BroadcastChannel
  // erased per type: a request's payload is whatever the client sent for that type
  readonly #handlers = new Map<string, ControlHandler<unknown, unknown>>()
  readonly #workerId: number

  constructor(instanceId: string, workerId: number) {
    const names = channelNames(instanceId)
    this.#workerId = workerId
    this.#requests = new BroadcastChannel(names.requests)
    this.#replies = new BroadcastChannel(names.replies)
    this.#requests.unref()
    this.#replies.unref()
    onBroadcast<ControlRequest>(this.#requests, (request) => {
      void this.#onRequest(request)
    })
    // the server's workers build one, with the server's protocol
    current = this as unknown as ControlServer
  }

  /** Serves requests of `type`; the handler's value (or promise) is the reply. */
  handle<K extends keyof M & string>(type: K, handler: ControlHandler<M[K]['request'], M[K]['reply']>): void {
    this.#handlers.set(type, handler as ControlHandler<unknown, unknown>)
  }

  async #onRequest(request: ControlRequest): Promise<void> {
    if (request.target !== undefined && request.target !== this.#workerId) return
    const handler = this.#handlers.get(request.type)
    if (handler === undefined) return
    const reply: ControlReply = { kind: 'reply', id: request.id, workerId: this.#workerId, ok: true }
    try {
      reply.result = await handler(request.payload)
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown }
      reply.ok = false
      reply.error = {
        code: typeof e?.code === 'string' ? e.code : 'ERR_UNKNOWN',
        message: typeof e?.message === 'string' ? e.message : String(err),
      }
    }
    this.#replies.postMessage(reply)
  }

  close(): void {
    this.#requests.close()
    this.#replies.close()
  }
}
