/**
 * The piscina worker entry (the pool runs no task on it). At load the worker
 * instantiates the handler modules (factories, `init`) once, then offers the
 * main thread its hand-off port (handoff-channel.ts). Sockets arrive there,
 * a turn's accepts at a time; each connection starts by its listener's
 * transport (`tcp`, `tls`, `ws`, `wss`), and its end goes back to the main
 * thread's count. Control requests (ready, connection list, kick, info,
 * drain, metrics) arrive on the instance's BroadcastChannel.
 */
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { threadId, workerData } from 'node:worker_threads'
import type { Logger } from 'pino'
import { loadAuthData, setAuth } from '../auth/state.ts'
import { AdmissionClient } from '../control/admission-channel.ts'
import { ControlServer } from '../control/control-channel.ts'
import { HandoffReceiver } from '../control/handoff-channel.ts'
import type { DrainResult, WorkerReload } from '../control/protocol.ts'
import { mqttdError } from '../errors.ts'
import { HandlerChain } from '../handlers/chain.ts'
import { instantiateHandlers } from '../handlers/loader.ts'
import type { Handler, Transport, WorkerContext } from '../handlers/types.ts'
import { createLogger } from '../log/logger.ts'
import { serveWorkerMetrics, WorkerMetrics } from '../metrics/worker-metrics.ts'
import { ConnectionRunner, type Endpoint } from '../protocol/connection-runner.ts'
import { startHeapTrim } from '../runtime/heap-trim.ts'
import { ProxyHeaderReadError, readProxyHeader } from '../transport/proxy-header-reader.ts'
import { peerCertificateOf, TlsTransport } from '../transport/tls.ts'
import { socketFromHandle } from '../transport/transferred-socket.ts'
import { WebSocketTransport } from '../transport/websocket.ts'
import { ConnectionRegistry } from './registry.ts'
import type { ConnectionTask, HandoffTask, WorkerData } from './worker-data.ts'

const data = workerData as WorkerData
const log: Logger = createLogger({ level: data.logLevel, pretty: data.logPretty }, { worker: threadId })
const metrics = new WorkerMetrics({ workerId: threadId })
const registry = new ConnectionRegistry()
const control = new ControlServer(data.instanceId, threadId)
const handoffPort = new HandoffReceiver<HandoffTask>((h) => connections(h))
const proxiedListeners = new Set(data.listeners.filter((l) => l.proxyProtocol).map((l) => l.name))
// only a worker with proxyProtocol listeners asks the main thread about client addresses
const admissionClient = proxiedListeners.size > 0 ? new AdmissionClient(data.instanceId, threadId) : undefined
const tlsTransports = new Map<string, TlsTransport>()
const wsTransports = new Map<string, WebSocketTransport>()
let chain: HandlerChain | undefined
let loadedHandlers: Array<{ name: string; handler: Handler; context: WorkerContext }> = []
let sequence = 0
let draining = false

async function init(): Promise<void> {
  for (const listener of data.listeners) {
    if (listener.tls !== undefined) {
      const alpn = listener.type === 'wss' ? ['http/1.1'] : ['mqtt']
      tlsTransports.set(listener.name, new TlsTransport(listener.tls, data.limits.connectTimeoutMs, alpn))
    }
    if (listener.type === 'ws' || listener.type === 'wss') {
      const transport = new WebSocketTransport({
        path: listener.path,
        maxPayload: data.limits.maxPacketSize,
        upgradeTimeoutMs: data.limits.connectTimeoutMs,
      })
      wsTransports.set(listener.name, transport)
    }
  }
  const loaded = await instantiateHandlers(data.handlers, data.baseDir, (options) => ({
    workerId: threadId,
    workerCount: data.workerCount,
    instanceId: data.instanceId,
    log,
    metrics: metrics.registry,
    options,
    limits: { ...data.limits },
  }))
  loadedHandlers = loaded
  chain = new HandlerChain(loaded, { timeoutMs: data.limits.hookTimeoutMs, observer: metrics })
  log.debug({ handlers: loaded.map((h) => h.name) }, 'worker ready')
}

const ready = init()
if (data.trimIdleHeap) startHeapTrim({ lock: data.gcFlagLock })
let isReady = false
ready.then(
  () => {
    isReady = true
    offerHandoff()
  },
  () => {}, // reported through the ready request: a worker that cannot start gets no socket
)

/** Once the handlers are up: sockets may come. */
function offerHandoff(): void {
  handoffPort.offer(data.instanceId, threadId).catch((err: Error) => {
    // the main thread stopped listening: it is shutting down, no socket will come
    log.debug({ err }, 'the main thread did not take the hand-off port')
  })
}
const ignore = () => {}

control.handle('worker:ready', async () => {
  await ready
  return { threadId }
})
control.handle('connections:list', (query) => registry.list(query))
control.handle('connections:recent', ({ limit }) => registry.recent(limit))
control.handle('connections:kick', ({ clientId }) => registry.kick(clientId))
control.handle('workers:info', () => ({ threadId, ...metrics.load() }))
control.handle('config:reload', async (reload) => {
  await ready
  applyReload(reload)
  return { threadId }
})

/** A reload's live changes: for the connections that start from now on (the ACL: for every check). */
function applyReload(reload: WorkerReload): void {
  // parsed first: a file the main thread validated cannot fail here, but if it does nothing changes
  const auth = reload.auth === undefined ? undefined : loadAuthData(reload.auth)
  if (auth !== undefined) setAuth(auth)
  for (const [name, material] of Object.entries(reload.tls ?? {}))
    tlsTransports.get(name)?.setMaterial(material)
  if (reload.logLevel !== undefined) log.level = reload.logLevel
  if (reload.limits !== undefined) data.limits = { ...data.limits, ...reload.limits }
}

let drained: Promise<DrainResult> | undefined
// idempotent: the main thread repeats the request to workers that have not answered yet
control.handle('drain', ({ timeoutMs }) => {
  drained ??= drain(timeoutMs)
  return drained
})

async function drain(timeoutMs: number): Promise<DrainResult> {
  draining = true
  // shutdown hooks run while connections are still open (handlers may flush state)
  for (const { name, handler, context } of loadedHandlers) {
    try {
      await handler.shutdown?.(context)
    } catch (err) {
      log.error({ err, handler: name }, 'handler shutdown failed')
    }
  }
  return registry.drain(timeoutMs)
}
serveWorkerMetrics(control, metrics)

/**
 * Starts the connection's runner. Its end is reported by {@link ended}, which
 * the runner calls: nothing per connection waits on a promise for as long
 * as the connection lives.
 */
function serve(endpoint: Endpoint): true {
  const runner = new ConnectionRunner({
    seq: ++sequence,
    ...endpoint,
    chain: chain!,
    // shared, not copied: a reload replaces data.limits, so a connection keeps the limits it started with
    limits: data.limits,
    workerId: threadId,
    log,
    metrics,
    logPayloads: data.logPayloads,
    onEnded: ended,
  })
  registry.add(runner)
  metrics.connectionOpened(endpoint.listener, endpoint.transport)
  // packets wait for the setup hooks inside the runner; start() never rejects
  void runner.start()
  return true
}

/** A served connection closed and onClose ran: the main thread hears of it (its admission counts). */
function ended(runner: ConnectionRunner): void {
  const { listener, transport } = runner.ctx
  registry.delete(runner)
  metrics.connectionClosed(listener, transport)
  handoffPort.ended(listener)
}

/** A connection's socket and the client's address: the peer's, or what a PROXY header said. */
interface Peer {
  socket: Socket
  remoteAddress: string | undefined
  remotePort: number | undefined
}

/**
 * Common start of every connection: wait for init, count the hand-off, refuse while draining, read a
 * PROXY header. A promise only while init is pending or for a PROXY header: a plain connection goes
 * on in the turn its socket arrived, with no promise or microtask of its own (#15: three promises and
 * two closures per connection, the worker's connect path measured with a sampling heap profile).
 */
function begin(task: ConnectionTask, socket: Socket): Peer | null | Promise<Peer | null> {
  metrics.observeHandoff(Math.max(0, performance.timeOrigin + performance.now() - task.acceptedAt) / 1000)
  if (isReady) return admit(task, socket)
  return ready.then(
    () => admit(task, socket),
    (err: unknown) => {
      socket.destroy()
      throw err
    },
  )
}

/** The part of {@link begin} once the worker is ready. */
function admit(task: ConnectionTask, socket: Socket): Peer | null | Promise<Peer | null> {
  if (draining) {
    socket.destroy()
    return null
  }
  // accepted sockets inherit TCP_NODELAY from the listening one (raw-accept.ts): one syscall less each
  if (task.setNoDelay === true) socket.setNoDelay(true)
  // a transferred socket must be read or destroyed: errors before the Connection attaches must not throw
  socket.on('error', ignore)
  const peer: Peer = { socket, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort }
  return proxiedListeners.has(task.listener) ? behindProxy(task, peer) : peer
}

/**
 * A proxyProtocol listener: the PROXY header comes first, before TLS,
 * WebSocket or MQTT. A connection without a valid one is closed, logged
 * and counted; LOCAL (v2) and UNKNOWN (v1) keep the proxy's own address.
 */
async function behindProxy(task: ConnectionTask, peer: Peer): Promise<Peer | null> {
  const { socket } = peer
  const proxy = `${peer.remoteAddress}:${peer.remotePort}`
  let header: Awaited<ReturnType<typeof readProxyHeader>>
  try {
    header = await readProxyHeader(socket, data.limits.connectTimeoutMs)
  } catch (err) {
    socket.destroy()
    if (!(err instanceof ProxyHeaderReadError)) throw err
    if (err.reason === 'closed') {
      log.debug({ listener: task.listener, proxy, reason: err.message }, 'closed before a PROXY header')
      return null
    }
    metrics.connectionRejected(task.listener, `proxy_header_${err.reason}`)
    const coded = mqttdError('MQTTD_ERR_PROXY_HEADER', task.listener, proxy, err.message)
    log.warn({ err: coded, listener: task.listener, proxy }, 'PROXY header refused: connection closed')
    return null
  }
  // LOCAL / UNKNOWN: the proxy's own address stands
  const client: Peer =
    header.source === null
      ? peer
      : { socket, remoteAddress: header.source.address, remotePort: header.source.port }
  if (task.checkAddress === true && admissionClient !== undefined && header.source !== null) {
    const refusal = await admissionClient.ask(task.listener, header.source.address, 1000)
    if (refusal !== null) {
      // counted by the main thread, which keeps the per-address buckets
      socket.destroy()
      log.debug(
        { listener: task.listener, remote: client.remoteAddress, proxy, refusal },
        'connection refused',
      )
      return null
    }
  }
  // the header (and the address check) took time: a drain may have begun, the peer may have left
  if (draining || socket.destroyed) {
    socket.destroy()
    return null
  }
  return client
}

function plain(peer: Peer, transport: Transport, listener: string): Endpoint {
  return {
    stream: peer.socket,
    transport,
    listener,
    remoteAddress: peer.remoteAddress,
    remotePort: peer.remotePort,
    peerCertificate: null,
  }
}

/** MQTT straight on the socket: served in this turn unless {@link begin} must wait. */
function tcp(task: ConnectionTask, socket: Socket): boolean | Promise<boolean> {
  const peer = begin(task, socket)
  if (peer instanceof Promise) {
    return peer.then((waited) => waited !== null && serve(plain(waited, 'tcp', task.listener)))
  }
  return peer !== null && serve(plain(peer, 'tcp', task.listener))
}

/** TLS handshake in this worker, then MQTT. */
async function tls(task: ConnectionTask, socket: Socket): Promise<boolean> {
  const peer = await begin(task, socket)
  if (peer === null) return false
  const secure = await tlsTransports
    .get(task.listener)!
    .accept(socket)
    .catch((err: Error) => {
      log.debug({ err, listener: task.listener, remote: peer.remoteAddress }, 'TLS handshake failed')
      socket.destroy()
      return null
    })
  if (secure === null) return false
  return serve({
    ...plain(peer, 'tls', task.listener),
    stream: secure,
    peerCertificate: peerCertificateOf(secure),
  })
}

async function websocket(
  task: ConnectionTask,
  peer: Peer,
  stream: Socket,
  transport: Transport,
): Promise<boolean> {
  const upgrade = await wsTransports.get(task.listener)!.accept(stream)
  if (upgrade === null) return false // plain HTTP, answered and closed
  upgrade.stream.on('error', () => {})
  const endpoint = plain(peer, transport, task.listener)
  endpoint.stream = upgrade.stream
  if (transport === 'wss') endpoint.peerCertificate = peerCertificateOf(stream as unknown as TLSSocket)
  return serve(endpoint)
}

/** HTTP upgrade to WebSocket in this worker, then MQTT over binary frames. */
async function ws(task: ConnectionTask, socket: Socket): Promise<boolean> {
  const peer = await begin(task, socket)
  return peer !== null && websocket(task, peer, peer.socket, 'ws')
}

/** TLS, then the WebSocket upgrade, then MQTT. */
async function wss(task: ConnectionTask, socket: Socket): Promise<boolean> {
  const peer = await begin(task, socket)
  if (peer === null) return false
  const secure = await tlsTransports
    .get(task.listener)!
    .accept(peer.socket)
    .catch(() => {
      peer.socket.destroy()
      return null
    })
  return secure !== null && websocket(task, peer, secure as unknown as Socket, 'wss')
}

/** A transport's start of a connection: true once its runner serves it (the runner reports its end then). */
const starters: Record<string, (task: ConnectionTask, socket: Socket) => boolean | Promise<boolean>> = {
  tcp,
  tls,
  ws,
  wss,
}
/** Each listener's transport, by name. */
const startOf = new Map(data.listeners.map((l) => [l.name, starters[l.type]!]))

/**
 * Starts each connection of a hand-off. Every connection handed over is
 * reported ended exactly once, whatever happens to it: the main thread's
 * admission counts depend on it. One that is served is reported by its
 * runner ({@link ended}); one refused or failed before, here. A plain TCP
 * connection is served in this loop; for the others the promise and closures
 * here live until the connection is served, not for the connection's life.
 */
function connections(handoff: HandoffTask): void {
  for (const task of handoff.connections) {
    const socket = socketFromHandle(task.handle)
    let started: boolean | Promise<boolean>
    try {
      started = startOf.get(task.listener)!(task, socket)
    } catch (err) {
      started = Promise.reject(err)
    }
    if (typeof started === 'boolean') {
      if (!started) handoffPort.ended(task.listener)
      continue
    }
    started.then(
      (served) => {
        if (!served) handoffPort.ended(task.listener)
      },
      (err: unknown) => {
        socket.destroy()
        log.debug({ err, listener: task.listener }, 'connection failed')
        handoffPort.ended(task.listener)
      },
    )
  }
}
