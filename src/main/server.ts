/**
 * The pooled server's main thread: listeners whose accepted TCP handles go,
 * unread, to the workers (acceptor.ts); admission limits; worker readiness;
 * drain and close.
 */
import { randomUUID } from 'node:crypto'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import type { Logger } from 'pino'
import { Piscina } from 'piscina'
import { type RunningAdmin, startAdmin } from '../admin/start-admin.ts'
import type { ReloadReport, ReloadResult } from '../admin/types.ts'
import { assertSafeExposure, authSettings } from '../auth/exposure.ts'
import { withFileTexts } from '../auth/state.ts'
import { startCheckpointer } from '../broker/store/checkpointer.ts'
import { prepareStore, storeFile } from '../broker/store/store-file.ts'
import { loadConfig } from '../config/load.ts'
import type { MqttdConfig, MqttdConfigInput } from '../config/schema.ts'
import { validateConfig } from '../config/validate.ts'
import { AdmissionServer } from '../control/admission-channel.ts'
import { ControlClient } from '../control/control-channel.ts'
import { mqttdError } from '../errors.ts'
import { validateHandlers } from '../handlers/loader.ts'
import { createLogger, wantsPretty } from '../log/logger.ts'
import { MainMetrics, packageVersion } from '../metrics/main-metrics.ts'
import { MetricsAggregator } from '../metrics/metrics-aggregator.ts'
import { gcFlagLock, startHeapTrim } from '../runtime/heap-trim.ts'
import type { TcpHandle } from '../transport/transferred-socket.ts'
import type { WorkerData, WorkerListener } from '../workers/worker-data.ts'
import { Acceptor, type BoundListener } from './acceptor.ts'
import { brokerModule, handlerSpecs, persistenceOf, specsToCheck } from './handler-specs.ts'
import { AdmissionControl } from './limits.ts'
import { mainLimitKeys, planReload, type WorkerReload, workerLimitKeys } from './reload.ts'
import { SysPublisher } from './sys-publisher.ts'
import { readTlsMaterial } from './tls-material.ts'
import { requestEveryWorker, waitForWorkers } from './worker-ready.ts'
import { WorkerSlots } from './worker-slots.ts'

// `.ts` when running from the sources, `.js` in the built package (dist/).
const workerFile = fileURLToPath(new URL(`../workers/worker${extname(import.meta.url)}`, import.meta.url))

export interface StartOptions {
  logger?: Logger
  /** Directory relative handler paths and TLS files resolve from; default: the current directory. */
  baseDir?: string
  /** Time allowed for the workers to load handlers and run `init`; default 30 s. */
  startTimeoutMs?: number
  /** Main-thread metrics to count into; default: a new registry. */
  metrics?: MainMetrics
  /**
   * Called in the main thread for every accepted connection, just before its
   * TCP handle is transferred to a worker (tests assert that no byte was read:
   * `handle.bytesRead === 0`). The main thread makes no `net.Socket` for it.
   */
  onHandoff?: (handle: TcpHandle, listener: string) => void
  /**
   * Called once the admin API listens, before the workers are ready (its
   * `/readyz` answers 503 until they are and the listeners are bound). Start-up
   * may still fail after it; the admin listener is then closed.
   */
  onAdminListening?: (address: { host: string; port: number }) => void
  /**
   * The config file the server was started from: {@link RunningServer.reload}
   * (SIGHUP, `POST /reload`) re-reads it, with the environment overrides.
   * Absent: the server cannot reload.
   */
  configFile?: string | null
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
  /**
   * Re-reads the config file and applies what can change live; a config that
   * does not validate (or names a bad file) is refused and the running one
   * stays. Reloads run one at a time.
   */
  reload(): Promise<ReloadResult>
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
  assertSafeExposure(config)
  const auth = authSettings(config)
  // a bad password or ACL file stops start-up here, naming the file and line
  let authNow = auth === null ? null : withFileTexts(auth)
  const log = options.logger ?? createLogger(config.log)
  const metrics = options.metrics ?? new MainMetrics({ listeners: config.listeners.map((l) => l.name!) })
  const specs = handlerSpecs(config, baseDir)
  await validateHandlers(specsToCheck(specs), baseDir)
  // A cluster node needs NATS: start-up fails here, naming the servers, when it is not there
  const clusterNode =
    config.cluster === undefined
      ? undefined
      : // imported only here: the NATS client is ~2.4 MB of heap a single node never uses
        await (await import('../cluster/node.ts')).ClusterNode.start(
          config.cluster,
          baseDir,
          log.child({ component: 'cluster' }),
        )
  // A bad store stops start-up here with one coded error, before any worker opens it
  const persistence = persistenceOf(config)
  const releaseLock = persistence === undefined ? () => {} : prepareStore(persistence)
  const stopCheckpoints =
    persistence === undefined
      ? () => {}
      : startCheckpointer(storeFile(persistence), persistence.sync, (err) =>
          log.error({ err, file: storeFile(persistence) }, 'store checkpoint failed'),
        )
  const releaseStore = () => {
    stopCheckpoints()
    releaseLock()
  }

  const workerListeners: WorkerListener[] = config.listeners.map((l) => {
    const entry: WorkerListener = {
      name: l.name!,
      type: l.type,
      path: l.path,
      proxyProtocol: l.proxyProtocol,
    }
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
    logPretty: wantsPretty(config.log.pretty),
    logPayloads: config.log.payloads,
    trimIdleHeap: config.memory.trimIdleHeap,
    gcFlagLock: gcFlagLock(),
  }
  // before the workers exist: their isolates read it when created; the main isolate's heap reads it at each GC
  if (config.memory.optimizeForSize) setFlagsFromString('--optimize-for-size')
  // V8 pretenures a site whose objects survived a scavenge: a subscriber queue fed in batches from
  // another worker made the queued messages' sites old-generation ones, and every cross-worker QoS 1
  // message then paid a major GC's share (docs/operations.md, measured)
  setFlagsFromString(
    config.memory.allocationSitePretenuring
      ? '--allocation-site-pretenuring'
      : '--no-allocation-site-pretenuring',
  )
  const pool = new Piscina({
    filename: workerFile,
    minThreads: config.workers,
    maxThreads: config.workers,
    idleTimeout: Number.MAX_SAFE_INTEGER,
    // a worker parked in Atomics.wait would stall its sockets
    atomics: 'disabled',
    // no tasks run on it: sockets go over each worker's hand-off port (acceptor.ts), so the pool
    // starts, restarts and stops the threads
    recordTiming: false,
    workerData,
    // a young generation V8 would grow under connection churn and never give back (docs/operations.md)
    ...(config.memory.workerYoungGenerationMb > 0
      ? { resourceLimits: { maxYoungGenerationSizeMb: config.memory.workerYoungGenerationMb } }
      : {}),
  })
  pool.on('error', (err: Error) => log.error({ err }, 'worker pool error'))
  const slots = new WorkerSlots(config.workers, () => pool.threads)
  // in slot order, so GET /workers and the connection pages list workers by their stable number
  const liveThreadIds = () => slots.list().map((s) => s.threadId)
  let started = false
  let ready = false
  let admin: RunningAdmin | null = null
  let closing: Promise<void> | undefined
  // what reloads changed since start: a replacement worker starts from workerData and gets this
  let sinceStart: WorkerReload = {}
  pool.on('workerCreate', (worker: { id: number }) => {
    if (!started) return
    log.info({ threadId: worker.id }, 'a replacement worker thread is up')
    if (Object.keys(sinceStart).length > 0) {
      void control.request('config:reload', sinceStart, {
        expectedWorkers: 1,
        target: worker.id,
        timeoutMs: options.startTimeoutMs ?? 30_000,
      })
    }
  })
  pool.on('workerDestroy', (worker: { id: number }) => {
    if (!started || closing !== undefined) return
    // counted on death: piscina lists the replacement at once (it is ready, and 'workerCreate' fires, later)
    metrics.workerRestarted()
    log.warn({ threadId: worker.id }, 'a worker thread died; the pool replaces it')
    // a dead worker's counters stay in the totals (the aggregator also notices it leaving the live list)
    if (worker.id >= 0) aggregator.workerExited(worker.id)
  })
  const control = new ControlClient(instanceId)
  // one merge of every worker's metrics, for /metrics and for the `$SYS` tree
  const aggregator = new MetricsAggregator(metrics, control, liveThreadIds, {
    workerIndex: (threadId) => slots.indexOf(threadId),
  })
  // the broker's options as handlerSpecs resolved them (no broker: no `$SYS` tree)
  const brokerOptions = specs.find((spec) => spec.module === brokerModule)?.options
  const sysInterval = (brokerOptions?.sysInterval as number | undefined) ?? 0
  const sys = new SysPublisher({
    intervalSeconds: sysInterval,
    collect: () => aggregator.collect(),
    control,
    workerThreadIds: liveThreadIds,
    version: packageVersion(),
    log,
  })
  const admission = new AdmissionControl({
    maxConnections: config.limits.maxConnections,
    perListener: new Map(
      config.listeners.filter((l) => l.maxConnections !== undefined).map((l) => [l.name!, l.maxConnections!]),
    ),
    ratePerAddress: config.limits.connectionRatePerAddress,
  })
  // proxyProtocol listeners: workers ask about the client address their PROXY header gave
  const addressAdmission = new AdmissionServer(instanceId, (listener, address) => {
    const refusal = admission.admitAddress(address, Date.now())
    if (refusal !== null) metrics.rejected(listener, refusal)
    return refusal
  })
  const acceptor = new Acceptor({
    instanceId,
    admission,
    metrics,
    log,
    handoffQueue: config.limits.handoffQueue,
    onHandoff: options.onHandoff,
  })
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
      restarts: (_slot, threadId) => slots.restartsOf(threadId),
      workerIndex: (threadId) => slots.indexOf(threadId),
      aggregator,
      logger: log.child({ component: 'admin' }),
      effectiveConfig: config,
      listeners: () =>
        acceptor.bound.map((l) => {
          const path = config.listeners.find((c) => c.name === l.name)?.path
          return l.type === 'ws' || l.type === 'wss' ? { ...l, ...(path === undefined ? {} : { path }) } : l
        }),
      reload: () => reload(),
      ...(clusterNode === undefined ? {} : { cluster: () => clusterNode.nodes() }),
    })
    if (admin !== null) options.onAdminListening?.(admin.server.address)
    await waitForWorkers(control, config.workers, options.startTimeoutMs ?? 30_000)
    started = true
    bound = await acceptor.listen(config.listeners)
    await clusterNode?.announce(bound.map((l) => `${l.type}://${l.host}:${l.port}`))
    ready = true
    sys.start()
  } catch (err) {
    closing = Promise.resolve() // a worker destroyed from here on is no restart
    await acceptor.stop()
    await admin?.close()
    control.close()
    addressAdmission.close()
    acceptor.close()
    await pool.destroy()
    await clusterNode?.close()
    releaseStore()
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
    `mqttd listening: ${bound.map((l) => listenerUrl(l, config)).join(', ')}; ${config.workers} workers`,
  )

  let draining: Promise<void> | undefined
  const drain = () => {
    draining ??= (async () => {
      await sys.stop()
      await acceptor.stop()
      const timeoutMs = config.shutdown.drainTimeoutMs
      const replies = await requestEveryWorker(
        control,
        liveThreadIds,
        'drain',
        { timeoutMs },
        timeoutMs + 2000,
      )
      // the workers closed their connections; their reports are on their way back
      await acceptor.waitIdle(Math.min(timeoutMs, 2000))
      let closed = 0
      for (const r of replies.values()) closed += r.closed + r.destroyed
      const missing = pool.threads.length - replies.size
      log.info({ connections: closed, missingWorkers: missing, stillOpen: acceptor.inFlight }, 'drained')
    })()
    return draining
  }
  const stopHeapTrim = config.memory.trimIdleHeap ? startHeapTrim() : () => {}
  const close = () => {
    closing ??= (async () => {
      stopHeapTrim()
      await drain()
      await admin?.close()
      control.close()
      addressAdmission.close()
      acceptor.close()
      await pool.destroy()
      await clusterNode?.close()
      releaseStore()
      log.info('mqttd stopped')
    })()
    return closing
  }

  let tlsNow = new Map(
    workerListeners.filter((l) => l.tls !== undefined).map((l) => [l.name, l.tls!] as const),
  )
  const applyReload = async (): Promise<ReloadResult> => {
    try {
      if (options.configFile === undefined) {
        throw mqttdError('MQTTD_ERR_RELOAD', 'the server was not started from a config file')
      }
      const next = loadConfig(options.configFile ?? undefined).config
      assertSafeExposure(next)
      const plan = planReload(config, next, { auth: authNow, tls: tlsNow })
      if (Object.keys(plan.worker).length > 0) {
        const ids = liveThreadIds()
        const result = await control.request('config:reload', plan.worker, {
          expectedWorkers: ids.length,
          timeoutMs: 10_000,
        })
        const failed = [...result.errors.values()][0]
        if (failed !== undefined)
          throw mqttdError('MQTTD_ERR_RELOAD', `a worker refused it: ${failed.message}`)
        if (result.missing > 0)
          log.warn({ missing: result.missing }, 'reload: workers did not confirm in time')
        sinceStart = mergeReloads(sinceStart, plan.worker)
      }
      // the main thread's part; what runs (config) now says what was applied
      if (plan.applied.includes('log.level')) {
        log.level = next.log.level
        config.log.level = next.log.level
      }
      for (const key of [...workerLimitKeys, ...mainLimitKeys]) {
        ;(config.limits as Record<string, number>)[key] = (next.limits as Record<string, number>)[key]!
      }
      admission.setLimits({
        maxConnections: config.limits.maxConnections,
        ratePerAddress: config.limits.connectionRatePerAddress,
      })
      if (plan.applied.includes('admin.token')) {
        admin?.server.setToken(next.admin.token)
        config.admin.token = next.admin.token
      }
      config.shutdown.drainTimeoutMs = next.shutdown.drainTimeoutMs
      if (authNow !== null && next.auth !== undefined) config.auth = next.auth
      authNow = plan.auth
      tlsNow = plan.tls
      const report: ReloadReport = {
        file: options.configFile,
        applied: plan.applied,
        restartNeeded: plan.restartNeeded,
      }
      log.info(report, 'config reloaded')
      return { ok: true, report }
    } catch (err) {
      const e = err as { code?: string; message?: string }
      const error = {
        code: e.code === 'MQTTD_ERR_RELOAD' ? e.code : 'MQTTD_ERR_RELOAD',
        message:
          e.code === 'MQTTD_ERR_RELOAD'
            ? String(e.message)
            : mqttdError('MQTTD_ERR_RELOAD', `${e.code ?? 'ERR_UNKNOWN'}: ${e.message ?? String(err)}`)
                .message,
      }
      log.error({ err: error }, 'reload refused; the running config stays')
      return { ok: false, error }
    }
  }
  let reloading: Promise<unknown> = Promise.resolve()
  function reload(): Promise<ReloadResult> {
    const run = reloading.then(applyReload)
    reloading = run
    return run
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
    reload,
  }
}

/** How the start-up line shows a listener: `ws://127.0.0.1:8083/mqtt`. */
function listenerUrl(l: BoundListener, config: MqttdConfig): string {
  const host = l.host.includes(':') ? `[${l.host}]` : l.host
  const path =
    l.type === 'ws' || l.type === 'wss' ? (config.listeners.find((c) => c.name === l.name)?.path ?? '') : ''
  return `${l.type}://${host}:${l.port}${path}`
}

function mergeReloads(a: WorkerReload, b: WorkerReload): WorkerReload {
  const out: WorkerReload = { ...a, ...b }
  if (a.tls !== undefined || b.tls !== undefined) out.tls = { ...a.tls, ...b.tls }
  if (a.limits !== undefined || b.limits !== undefined) out.limits = { ...a.limits, ...b.limits }
  return out
}
