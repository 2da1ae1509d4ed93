/**
 * The pooled server's main thread: listeners that accept with
 * `pauseOnConnect` and hand each socket, unread, to a piscina worker in the
 * same tick; admission limits; worker readiness; drain and close.
 */
import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import pino, { type Logger } from 'pino'
import { Piscina } from 'piscina'
import { type RunningAdmin, startAdmin } from '../admin/start-admin.ts'
import type { MqttdConfig, MqttdConfigInput } from '../config/schema.ts'
import { validateConfig } from '../config/validate.ts'
import { ControlClient } from '../control/control-channel.ts'
import { validateHandlers } from '../handlers/loader.ts'
import { MainMetrics } from '../metrics/main-metrics.ts'
import type { WorkerData, WorkerListener } from '../workers/worker-data.ts'
import { Acceptor, type BoundListener } from './acceptor.ts'
import { handlerSpecs } from './handler-specs.ts'
import { AdmissionControl } from './limits.ts'
import { readTlsMaterial } from './tls-material.ts'
import { requestEveryWorker, waitForWorkers } from './worker-ready.ts'
import { WorkerRestarts } from './worker-restarts.ts'

const workerFile = fileURLToPath(new URL('../workers/worker.ts', import.meta.url))

export interface StartOptions {
  logger?: Logger
  /** Directory relative handler paths and TLS files resolve from; default: the current directory. */
  baseDir?: string
  /** Time allowed for the workers to load handlers and run `init`; default 30 s. */
  startTimeoutMs?: number
  /** Main-thread metrics to count into; default: a new registry. */
  metrics?: MainMetrics
  /**
   * Called in the main thread for every accepted socket, just before it is
   * transferred (tests assert that no byte was read: `socket.bytesRead === 0`).
   */
  onHandoff?: (socket: Socket, listener: string) => void
  /**
   * Called once the admin API listens, before the workers are ready (its
   * `/readyz` answers 503 until they are and the listeners are bound). Start-up
   * may still fail after it; the admin listener is then closed.
   */
  onAdminListening?: (address: { host: string; port: number }) => void
}

export type { BoundListener }

export interface RunningServer {
  readonly instanceId: string
  readonly config: MqttdConfig
  /** Listeners with their actual bound ports (port 0 in the config picks one). */
  readonly listeners: BoundListener[]
  /** The admin API's address, or null when it is disabled or not available. */
  readonly admin: { host: string; port: number } | null
  readonly metrics: MainMetrics
  readonly control: ControlClient
  readonly pool: Piscina
  /** threadIds of the pool's current workers. */
  workerThreadIds(): number[]
  /** Stops accepting, tells every worker to disconnect its clients, waits up to the drain timeout. */
  drain(): Promise<void>
  /** Drains (if not done) and stops the workers. */
  close(): Promise<void>
}

/**
 * Starts a server from a config (validated here; defaults filled).
 * @throws MQTTD_ERR_CONFIG_INVALID, MQTTD_ERR_HANDLER_*, MQTTD_ERR_TLS_FILE, MQTTD_ERR_LISTEN, MQTTD_ERR_WORKER_START
 */
export async function startServer(
  input: MqttdConfigInput | MqttdConfig,
  options: StartOptions = {},
): Promise<RunningServer> {
  const baseDir = options.baseDir ?? process.cwd()
  const config = validateConfig(input, { baseDir })
  const log = options.logger ?? pino({ level: config.log.level })
  const metrics = options.metrics ?? new MainMetrics({ listeners: config.listeners.map((l) => l.name!) })
  const specs = handlerSpecs(config)
  await validateHandlers(specs, baseDir)

  const workerListeners: WorkerListener[] = config.listeners.map((l) => {
    const entry: WorkerListener = { name: l.name!, type: l.type, path: l.path }
    if (l.type === 'tls' || l.type === 'wss') entry.tls = readTlsMaterial(l)
    return entry
  })
  const instanceId = randomUUID()
  const workerData: WorkerData = {
    instanceId,
    workerCount: config.workers,
    baseDir,
    handlers: specs,
    listeners: workerListeners,
    limits: config.limits,
    logLevel: config.log.level,
  }
  const pool = new Piscina({
    filename: workerFile,
    minThreads: config.workers,
    maxThreads: config.workers,
    idleTimeout: Number.MAX_SAFE_INTEGER,
    // a worker parked in Atomics.wait would stall its sockets
    atomics: 'disabled',
    concurrentTasksPerWorker: config.limits.maxConnections,
    maxQueue: config.limits.handoffQueue,
    workerData,
  })
  pool.on('error', (err: Error) => log.error({ err }, 'worker pool error'))
  const liveThreadIds = () => pool.threads.map((w) => w.threadId)
  let started = false
  let ready = false
  let admin: RunningAdmin | null = null
  let closing: Promise<void> | undefined
  const restarts = new WorkerRestarts(liveThreadIds)
  pool.on('workerCreate', (worker: { id: number }) => {
    if (started) log.info({ threadId: worker.id }, 'a replacement worker thread is up')
  })
  pool.on('workerDestroy', (worker: { id: number }) => {
    if (!started || closing !== undefined) return
    // counted on death: piscina lists the replacement at once (it is ready, and 'workerCreate' fires, later)
    metrics.workerRestarted()
    restarts.died(worker.id)
    log.warn({ threadId: worker.id }, 'a worker thread died; the pool replaces it')
    // a dead worker's counters stay in the totals (the aggregator also notices it leaving the live list)
    if (worker.id >= 0) admin?.aggregator.workerExited(worker.id)
  })
  const control = new ControlClient(instanceId)
  const admission = new AdmissionControl({
    maxConnections: config.limits.maxConnections,
    perListener: new Map(
      config.listeners.filter((l) => l.maxConnections !== undefined).map((l) => [l.name!, l.maxConnections!]),
    ),
    ratePerAddress: config.limits.connectionRatePerAddress,
  })
  const acceptor = new Acceptor({ pool, admission, metrics, log, onHandoff: options.onHandoff })
  let bound: BoundListener[]
  try {
    // the admin API comes up first: /healthz answers and /readyz says 503 while the workers start
    admin = await startAdmin({
      config: config.admin,
      metrics,
      control,
      workerThreadIds: liveThreadIds,
      isReady: () => ready && acceptor.accepting,
      isLive: () => ready,
      restarts: (_slot, threadId) => restarts.of(threadId),
      logger: log,
      effectiveConfig: config,
      listeners: () =>
        acceptor.bound.map((l) => {
          const path = config.listeners.find((c) => c.name === l.name)?.path
          return l.type === 'ws' || l.type === 'wss' ? { ...l, ...(path === undefined ? {} : { path }) } : l
        }),
    })
    if (admin !== null) options.onAdminListening?.(admin.server.address)
    await waitForWorkers(control, config.workers, options.startTimeoutMs ?? 30_000)
    started = true
    bound = await acceptor.listen(config.listeners)
    ready = true
  } catch (err) {
    closing = Promise.resolve() // a worker destroyed from here on is no restart
    await acceptor.stop()
    await admin?.close()
    control.close()
    await pool.destroy()
    throw err
  }
  const adminAddress = admin === null ? null : admin.server.address
  log.info(
    {
      listeners: bound,
      workers: config.workers,
      handlers: specs.map((s) => s.module),
      admin: adminAddress,
    },
    `mqttd listening: ${bound.map((l) => `${l.type}://${l.host}:${l.port}`).join(', ')}; ${config.workers} workers`,
  )

  let draining: Promise<void> | undefined
  const drain = () => {
    draining ??= (async () => {
      await acceptor.stop()
      const timeoutMs = config.shutdown.drainTimeoutMs
      const replies = await requestEveryWorker(
        control,
        liveThreadIds,
        'drain',
        { timeoutMs },
        timeoutMs + 2000,
      )
      // the workers closed their connections; the task results are on their way back
      await acceptor.waitIdle(Math.min(timeoutMs, 2000))
      let closed = 0
      for (const r of replies.values()) closed += r.closed + r.destroyed
      const missing = pool.threads.length - replies.size
      log.info({ connections: closed, missingWorkers: missing, stillOpen: acceptor.inFlight }, 'drained')
    })()
    return draining
  }
  const close = () => {
    closing ??= (async () => {
      await drain()
      await admin?.close()
      control.close()
      await pool.destroy()
      log.info('mqttd stopped')
    })()
    return closing
  }

  return {
    instanceId,
    config,
    listeners: bound,
    admin: adminAddress,
    metrics,
    control,
    pool,
    workerThreadIds: liveThreadIds,
    drain,
    close,
  }
}
