/**
 * The main thread's accept path: one `net.Server` per listener whose accepted
 * TCP handles are taken without a `net.Socket` (raw-accept.ts), admission
 * limits, and the hand-off of the handles to the workers. The main thread
 * never reads a byte: once read from (or buffered into), a connection can no
 * longer be transferred.
 *
 * The handles go to the workers over their hand-off ports (handoff-channel.ts),
 * each to the worker holding the fewest connections, those accepted in one
 * event-loop turn together at its end (`setImmediate`): a burst of accepts
 * costs one message per worker, not one per connection. Until then the
 * handles stay untouched (never started reading), so they stay transferable.
 * While no worker takes any (at start, or all of them restarting) they wait,
 * up to `limits.handoffQueue`. The ledger (connection-ledger.ts) counts each
 * connection until its worker reports it ended, for the admission limits and
 * the drain.
 */
import { createServer, type Server } from 'node:net'
import type { Logger } from 'pino'
import type { ListenerConfig, ListenerType } from '../config/schema.ts'
import { type EndedConnections, HandoffPorts } from '../control/handoff-channel.ts'
import { mqttdErrorWithCause } from '../errors.ts'
import type { MainMetrics } from '../metrics/main-metrics.ts'
import { acceptRaw, closeHandle, peerAddress } from '../transport/raw-accept.ts'
import type { TcpHandle } from '../transport/transferred-socket.ts'
import type { ConnectionTask, HandoffTask } from '../workers/worker-data.ts'
import { ConnectionLedger } from './connection-ledger.ts'
import type { AdmissionControl } from './limits.ts'

export interface BoundListener {
  name: string
  type: ListenerType
  host: string
  port: number
}

export interface AcceptorOptions {
  /** The server instance's id: the workers' port offers name it. */
  instanceId: string
  admission: AdmissionControl
  metrics: MainMetrics
  log: Logger
  /** Sockets that may wait while no worker takes any, before new ones are refused. */
  handoffQueue: number
  onHandoff?: ((handle: TcpHandle, listener: string) => void) | undefined
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', reject)
      const address = server.address()
      resolve(typeof address === 'object' && address !== null ? address.port : port)
    })
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))
}

/** An accepted connection waiting for the end of the turn (or for a worker). */
interface Accepted {
  handle: TcpHandle
  listener: string
  /** `performance.timeOrigin + performance.now()` at accept (epoch ms). */
  acceptedAt: number
  checkAddress: boolean
  /** The socket may lack the listening socket's TCP_NODELAY (raw-accept.ts): the worker sets it. */
  setNoDelay: boolean
}

/** A listener's hand-off: what each of its connections needs, made once per listener. */
interface Route {
  name: string
  proxied: boolean
}

export class Acceptor {
  readonly bound: BoundListener[] = []
  readonly #options: AcceptorOptions
  readonly #servers: Server[] = []
  readonly #ledger: ConnectionLedger
  readonly #ports: HandoffPorts
  #accepting = true
  /** Accepted and not posted yet: this turn's, and those no worker could take. */
  #pending: Accepted[] = []
  #flushing = false
  #idle: (() => void) | undefined

  constructor(options: AcceptorOptions) {
    this.#options = options
    this.#ledger = new ConnectionLedger((listener, count) => options.admission.release(listener, count))
    this.#ports = new HandoffPorts(options.instanceId, {
      ready: () => this.#schedule(),
      ended: (threadId: number, ended: EndedConnections) => {
        this.#ledger.ended(threadId, ended)
        this.#checkIdle()
      },
      gone: (threadId: number) => {
        this.#ledger.gone(threadId)
        this.#checkIdle()
      },
    })
  }

  /** Whether new connections are accepted (false once {@link stop} was called). */
  get accepting(): boolean {
    return this.#accepting
  }

  /** Connections accepted and not ended yet (waiting for a worker, open, or closing). */
  get inFlight(): number {
    return this.#pending.length + this.#ledger.open
  }

  /**
   * Binds every listener, in order.
   * @throws MQTTD_ERR_LISTEN naming the listener and address; the ones bound so far are closed
   */
  async listen(listeners: readonly ListenerConfig[]): Promise<BoundListener[]> {
    for (const listener of listeners) {
      const name = listener.name!
      const server = createServer()
      const route: Route = {
        name,
        proxied: listener.proxyProtocol === true,
      }
      const failed = (err: Error) => this.#options.log.error({ err, listener: name }, 'listener error')
      server.on('error', failed)
      let port: number
      try {
        port = await listen(server, listener.host, listener.port)
        acceptRaw(server, (handle, noDelay) => this.#handOff(handle, route, noDelay), failed)
      } catch (err) {
        await this.stop()
        const address = `${listener.host}:${listener.port}`
        throw mqttdErrorWithCause('MQTTD_ERR_LISTEN', err, name, address, (err as Error).message)
      }
      this.#servers.push(server)
      this.bound.push({ name, type: listener.type, host: listener.host, port })
    }
    return this.bound
  }

  /** Stops accepting: closes the listening sockets (accepted connections are the workers'). */
  async stop(): Promise<void> {
    this.#accepting = false
    await Promise.all(this.#servers.map(closeServer))
  }

  /** Stops the hand-off (the workers are going): sockets still waiting for one are closed. */
  close(): void {
    this.#ports.close()
    const waiting = this.#pending
    this.#pending = []
    for (const task of waiting) {
      closeHandle(task.handle)
      this.#options.admission.release(task.listener)
    }
    this.#checkIdle()
  }

  /** Resolves when every connection task settled, or after `timeoutMs`. */
  waitIdle(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      this.#idle = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  #handOff(handle: TcpHandle, route: Route, inheritsNoDelay: boolean): void {
    const { admission, metrics, handoffQueue } = this.#options
    const { name, proxied } = route
    // sockets wait only while no worker takes any (each turn's are posted at its end)
    if (this.#ports.size === 0 && this.#pending.length >= handoffQueue) {
      closeHandle(handle)
      metrics.rejected(name, 'queue_full')
      return
    }
    // reading remoteAddress is a getpeername() syscall: only when a per-address rate needs it.
    // Behind a proxy it is the proxy's address: the worker asks about the client's once it read the header.
    const refusal = !this.#accepting
      ? 'max_connections'
      : admission.ratesAddresses && !proxied
        ? admission.admit(name, peerAddress(handle), Date.now())
        : admission.admit(name, undefined, 0)
    if (refusal !== null) {
      closeHandle(handle)
      metrics.rejected(name, refusal)
      return
    }
    this.#options.onHandoff?.(handle, name)
    metrics.accepted(name)
    this.#pending.push({
      handle,
      listener: name,
      acceptedAt: performance.timeOrigin + performance.now(),
      checkAddress: proxied && admission.ratesAddresses,
      setNoDelay: !inheritsNoDelay,
    })
    this.#schedule()
  }

  #schedule(): void {
    if (this.#flushing || this.#pending.length === 0) return
    this.#flushing = true
    setImmediate(this.#flush)
  }

  /** The waiting sockets, each to the least loaded worker (counting this flush's), one post per worker. */
  readonly #flush = (): void => {
    this.#flushing = false
    if (this.#ports.size === 0) return // they wait for a worker's port (#schedule on its arrival)
    const tasks = this.#pending
    this.#pending = []
    const ledger = this.#ledger
    if (tasks.length === 1) {
      this.#post(ledger.leastLoaded(this.#ports.threadIds())!, tasks)
      return
    }
    const planned = new Map<number, Accepted[]>()
    const extra = new Map<number, number>()
    for (const task of tasks) {
      const target = ledger.leastLoaded(this.#ports.threadIds(), extra)!
      extra.set(target, (extra.get(target) ?? 0) + 1)
      let group = planned.get(target)
      if (group === undefined) {
        group = []
        planned.set(target, group)
      }
      group.push(task)
    }
    for (const [target, group] of planned) this.#post(target, group)
  }

  #post(threadId: number, accepted: Accepted[]): void {
    if (!this.#ports.has(threadId)) {
      // the port closed since the plan: another worker takes them
      this.#pending.push(...accepted)
      this.#schedule()
      return
    }
    const connections: ConnectionTask[] = []
    const handles: TcpHandle[] = []
    const listeners: string[] = []
    for (const { handle, listener, acceptedAt, checkAddress, setNoDelay } of accepted) {
      const task: ConnectionTask = { handle, listener, acceptedAt }
      if (checkAddress) task.checkAddress = true
      if (setNoDelay) task.setNoDelay = true
      connections.push(task)
      handles.push(handle)
      listeners.push(listener)
    }
    const handoff: HandoffTask = { connections }
    this.#ports.post(threadId, handoff, handles)
    this.#ledger.posted(threadId, listeners)
    this.#checkIdle()
  }

  #checkIdle(): void {
    if (this.inFlight === 0) this.#idle?.()
  }
}
