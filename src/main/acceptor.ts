/**
 * The main thread's accept path: one raw `net.Server` per listener with
 * `pauseOnConnect`, admission limits, and the hand-off of each socket to the
 * pool in the same tick as the accept. The main thread never reads a byte:
 * once read from (or buffered into), a socket can no longer be transferred.
 */
import { createServer, type Server, type Socket } from 'node:net'
import type { Logger } from 'pino'
import type { Piscina } from 'piscina'
import type { ListenerConfig, ListenerType } from '../config/schema.ts'
import { mqttdErrorWithCause } from '../errors.ts'
import type { MainMetrics } from '../metrics/main-metrics.ts'
import type { ConnectionTask } from '../workers/worker-data.ts'
import type { AdmissionControl } from './limits.ts'

type RunOptions = NonNullable<Parameters<Piscina['run']>[1]>

export interface BoundListener {
  name: string
  type: ListenerType
  host: string
  port: number
}

export interface AcceptorOptions {
  pool: Piscina
  admission: AdmissionControl
  metrics: MainMetrics
  log: Logger
  onHandoff?: ((socket: Socket, listener: string) => void) | undefined
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

/** A listener's hand-off: what each of its connections needs, made once per listener. */
interface Route {
  name: string
  type: ListenerType
  proxied: boolean
  /** The connection task settled (the connection closed). */
  settled: () => void
  /** The connection task failed (queue full, worker error). */
  failed: (err: Error) => void
}

export class Acceptor {
  readonly bound: BoundListener[] = []
  readonly #options: AcceptorOptions
  readonly #servers: Server[] = []
  #accepting = true
  #inFlight = 0
  #idle: (() => void) | undefined

  constructor(options: AcceptorOptions) {
    this.#options = options
  }

  /** Whether new connections are accepted (false once {@link stop} was called). */
  get accepting(): boolean {
    return this.#accepting
  }

  /** Connection tasks not settled yet (their connections are open or closing). */
  get inFlight(): number {
    return this.#inFlight
  }

  /**
   * Binds every listener, in order.
   * @throws MQTTD_ERR_LISTEN naming the listener and address; the ones bound so far are closed
   */
  async listen(listeners: readonly ListenerConfig[]): Promise<BoundListener[]> {
    for (const listener of listeners) {
      const name = listener.name!
      const server = createServer({ pauseOnConnect: true })
      const route: Route = {
        name,
        type: listener.type,
        proxied: listener.proxyProtocol === true,
        settled: () => this.#settled(name),
        failed: (err: Error) => this.#failed(name, err, undefined),
      }
      server.on('connection', (socket: Socket) => this.#handOff(socket, route))
      server.on('error', (err) => this.#options.log.error({ err, listener: name }, 'listener error'))
      let port: number
      try {
        port = await listen(server, listener.host, listener.port)
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

  /** Resolves when every connection task settled, or after `timeoutMs`. */
  waitIdle(timeoutMs: number): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      this.#idle = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  #handOff(socket: Socket, route: Route): void {
    const { admission, metrics, pool } = this.#options
    const { name, proxied } = route
    // reading remoteAddress is a getpeername() syscall: only when a per-address rate needs it.
    // Behind a proxy it is the proxy's address: the worker asks about the client's once it read the header.
    const refusal = !this.#accepting
      ? 'max_connections'
      : admission.ratesAddresses && !proxied
        ? admission.admit(name, socket.remoteAddress, Date.now())
        : admission.admit(name, undefined, 0)
    if (refusal !== null) {
      socket.destroy()
      metrics.rejected(name, refusal)
      return
    }
    this.#options.onHandoff?.(socket, name)
    metrics.accepted(name)
    this.#inFlight++
    const task: ConnectionTask = {
      socket,
      listener: name,
      acceptedAt: performance.timeOrigin + performance.now(),
    }
    if (proxied && admission.ratesAddresses) task.checkAddress = true
    const transfer = [socket]
    // same tick as the accept: the socket is paused and untouched; `name` picks the transport's task
    const settled = pool.run(task, {
      transferList: transfer as unknown as RunOptions['transferList'],
      name: route.type,
    })
    // Posted at once (a worker had room): what is left here is a destroyed husk of about 2 KB that
    // piscina's task record would keep, through this transfer list, as long as the connection lives.
    // A queued task still needs its socket until it is posted.
    let held: Socket | undefined = socket
    if (socket.destroyed) {
      transfer.length = 0
      held = undefined
    }
    // one then per open connection rather than a catch/finally chain; a posted task shares its
    // listener's two callbacks (no closures and context kept per connection), a queued one also
    // needs its socket if it fails
    if (held === undefined) settled.then(route.settled, route.failed)
    else settled.then(route.settled, (err: Error) => this.#failed(name, err, held))
  }

  #failed(name: string, err: Error, held: Socket | undefined): void {
    held?.destroy()
    if (/queue/i.test(err.message)) this.#options.metrics.rejected(name, 'queue_full')
    else this.#options.log.debug({ err, listener: name }, 'connection task failed')
    this.#settled(name)
  }

  #settled(name: string): void {
    this.#options.admission.release(name)
    this.#inFlight--
    if (this.#inFlight === 0) this.#idle?.()
  }
}
