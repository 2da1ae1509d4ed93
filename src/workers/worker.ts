/**
 * The piscina worker entry: one named task per transport (`tcp`, `tls`,
 * `ws`, `wss`), each living as long as its connection. At load the worker
 * instantiates the handler modules (factories, `init`) once; tasks wait for
 * that. Control requests (ready, connection list, kick, info, drain, metrics)
 * arrive on the instance's BroadcastChannel.
 */
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { threadId, workerData } from 'node:worker_threads'
import pino, { type Logger } from 'pino'
import { ControlServer } from '../control/control-channel.ts'
import type { DrainResult } from '../control/protocol.ts'
import { HandlerChain } from '../handlers/chain.ts'
import { instantiateHandlers } from '../handlers/loader.ts'
import type { Handler, Transport, WorkerContext } from '../handlers/types.ts'
import { serveWorkerMetrics, WorkerMetrics } from '../metrics/worker-metrics.ts'
import { ConnectionRunner, type Endpoint } from '../protocol/connection-runner.ts'
import { peerCertificateOf, TlsTransport } from '../transport/tls.ts'
import { WebSocketTransport } from '../transport/websocket.ts'
import { ConnectionRegistry } from './registry.ts'
import type { ConnectionTask, WorkerData } from './worker-data.ts'

const data = workerData as WorkerData
const log: Logger = pino({ level: data.logLevel, base: { worker: threadId } })
const metrics = new WorkerMetrics({ workerId: threadId })
const registry = new ConnectionRegistry()
const control = new ControlServer(data.instanceId, threadId)
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
      await transport.ready()
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
  }))
  loadedHandlers = loaded
  chain = new HandlerChain(loaded, { timeoutMs: data.limits.hookTimeoutMs, observer: metrics })
  log.debug({ handlers: loaded.map((h) => h.name) }, 'worker ready')
}

const ready = init()
let isReady = false
ready.then(
  () => {
    isReady = true
  },
  () => {}, // reported through the ready request and to each task
)
const ignore = () => {}

control.handle('worker:ready', async () => {
  await ready
  return { threadId }
})
control.handle('connections:list', (query) => registry.list(query))
control.handle('connections:recent', ({ limit }) => registry.recent(limit))
control.handle('connections:kick', ({ clientId }) => registry.kick(clientId))
control.handle('workers:info', () => ({ threadId, ...metrics.load() }))
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

/** Runs one connection to its end. */
async function serve(endpoint: Endpoint): Promise<void> {
  const runner = new ConnectionRunner({
    seq: ++sequence,
    ...endpoint,
    chain: chain!,
    limits: data.limits,
    workerId: threadId,
    log,
    metrics,
  })
  registry.add(runner)
  metrics.connectionOpened(endpoint.listener, endpoint.transport)
  try {
    await runner.start()
    await runner.closed
  } finally {
    registry.delete(runner)
    metrics.connectionClosed(endpoint.listener, endpoint.transport)
  }
}

/** Common start of every task: wait for init, count the hand-off, refuse while draining. */
async function begin(task: ConnectionTask): Promise<Socket | null> {
  const { socket } = task
  metrics.observeHandoff(Math.max(0, performance.timeOrigin + performance.now() - task.acceptedAt) / 1000)
  // once ready, no await: the task goes on in the tick its socket arrived
  if (!isReady) {
    try {
      await ready
    } catch (err) {
      socket.destroy()
      throw err
    }
  }
  if (draining) {
    socket.destroy()
    return null
  }
  socket.setNoDelay(true)
  // a transferred socket must be read or destroyed: errors before the Connection attaches must not throw
  socket.on('error', ignore)
  return socket
}

function plain(socket: Socket, transport: Transport, listener: string): Endpoint {
  return {
    stream: socket,
    transport,
    listener,
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    peerCertificate: null,
  }
}

/** Task `tcp`: MQTT straight on the socket. */
export async function tcp(task: ConnectionTask): Promise<void> {
  const socket = await begin(task)
  if (socket !== null) await serve(plain(socket, 'tcp', task.listener))
}

/** Task `tls`: TLS handshake in this worker, then MQTT. */
export async function tls(task: ConnectionTask): Promise<void> {
  const socket = await begin(task)
  if (socket === null) return
  const secure = await tlsTransports
    .get(task.listener)!
    .accept(socket)
    .catch((err: Error) => {
      log.debug({ err, listener: task.listener, remote: socket.remoteAddress }, 'TLS handshake failed')
      socket.destroy()
      return null
    })
  if (secure === null) return
  await serve({
    ...plain(socket, 'tls', task.listener),
    stream: secure,
    peerCertificate: peerCertificateOf(secure),
  })
}

async function websocket(
  task: ConnectionTask,
  socket: Socket,
  stream: Socket,
  transport: Transport,
): Promise<void> {
  const upgrade = await wsTransports.get(task.listener)!.accept(stream)
  if (upgrade === null) return // plain HTTP, answered and closed
  upgrade.stream.on('error', () => {})
  const endpoint = plain(socket, transport, task.listener)
  endpoint.stream = upgrade.stream
  if (transport === 'wss') endpoint.peerCertificate = peerCertificateOf(stream as unknown as TLSSocket)
  await serve(endpoint)
}

/** Task `ws`: HTTP upgrade to WebSocket in this worker, then MQTT over binary frames. */
export async function ws(task: ConnectionTask): Promise<void> {
  const socket = await begin(task)
  if (socket !== null) await websocket(task, socket, socket, 'ws')
}

/** Task `wss`: TLS, then the WebSocket upgrade, then MQTT. */
export async function wss(task: ConnectionTask): Promise<void> {
  const socket = await begin(task)
  if (socket === null) return
  const secure = await tlsTransports
    .get(task.listener)!
    .accept(socket)
    .catch(() => {
      socket.destroy()
      return null
    })
  if (secure !== null) await websocket(task, socket, secure as unknown as Socket, 'wss')
}
