/**
 * conn: open N connections at a rate (or as fast as `concurrency` allows),
 * report connections per second and connect→CONNACK latency, then hold or
 * close them.
 * idle: open N connections, let the server settle, and report its RSS growth
 * per connection (needs --server-pid) and its CPU while they sit idle.
 */
import { Histogram } from './histogram.ts'
import type { ConnConfig } from './options.ts'
import { CpuMeter, rssBytes } from './proc-stats.ts'
import { startProgress } from './progress.ts'
import { startConnectorShards } from './shards.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function runConn(cfg: ConnConfig, runId: string) {
  const rssBefore = cfg.serverPid === undefined ? null : rssBytes(cfg.serverPid)
  const cpu = new CpuMeter(cfg.serverPid)
  const t0 = performance.now()
  const deadline = t0 + cfg.durationS * 1000
  const shards = startConnectorShards(
    {
      target: cfg.target,
      protocolVersion: cfg.protocolVersion,
      runId,
      from: 0,
      to: cfg.connections,
      rate: cfg.rate,
      concurrency: cfg.concurrency,
      keepalive: cfg.keepalive,
      sourceIps: cfg.sourceIps,
      timeoutMs: cfg.timeoutMs,
      durationMs: cfg.durationS * 1000,
    },
    cfg.threads,
    cfg.holdS > 0 || cfg.scenario === 'idle' ? cfg.keepalive : 0,
  )
  const count = () => {
    let ok = 0
    let failed = 0
    for (let i = 0; i < shards.counters.length; i += 2) {
      ok += shards.counters[i]!
      failed += shards.counters[i + 1]!
    }
    return { ok, failed }
  }
  const progress = startProgress(cfg.quiet, (dt) => {
    const c = count()
    const rss = cfg.serverPid === undefined ? null : rssBytes(cfg.serverPid)
    const line = `connected ${c.ok}  failed ${c.failed}${rss === null ? '' : `  server-rss ${mb(rss)} MB`}`
    return { line, counters: { conn: c.ok }, dt }
  })
  const results = await shards.connected
  const connectUsage = cpu.read()
  const connected = results.reduce((s, r) => s + r.connected, 0)
  const failed = results.reduce((s, r) => s + r.failed, 0)
  const elapsedMs = Math.max(...results.map((r) => r.elapsedMs))
  const latency = new Histogram()
  for (const r of results) latency.merge(r.connectLatency)

  let idle: Record<string, unknown> | null = null
  if (cfg.scenario === 'idle' && cfg.serverPid !== undefined) {
    await sleep(Math.min(cfg.settleS * 1000, Math.max(0, deadline - performance.now())))
    const rssSettled = rssBytes(cfg.serverPid)
    cpu.reset()
    await sleep(Math.min(cfg.holdS * 1000, Math.max(0, deadline - performance.now())))
    const rssHeld = rssBytes(cfg.serverPid)
    const idleUsage = cpu.read()
    const growth = rssSettled !== null && rssBefore !== null ? rssSettled - rssBefore : null
    idle = {
      rssBeforeBytes: rssBefore,
      rssSettledBytes: rssSettled,
      rssHeldBytes: rssHeld,
      rssPerConnectionBytes: growth === null || connected === 0 ? null : Math.round(growth / connected),
      idleServerCpuPct: idleUsage.serverPct,
      idleGeneratorCpuPct: idleUsage.generatorPct,
    }
  } else if (cfg.holdS > 0) {
    await sleep(Math.min(cfg.holdS * 1000, Math.max(0, deadline - performance.now())))
  }
  const closedByServer = await shards.release()
  // A connection's cost includes its close. With nothing held, read the server's CPU again once it
  // has handled the closes: when its CPU time stops moving (it is read in 10 ms ticks), at most 3 s.
  const withClose =
    cfg.scenario === 'conn' && cfg.holdS === 0 && cfg.serverPid !== undefined
      ? await untilServerQuiet(cpu)
      : null
  progress.stop()
  const errors = results.flatMap((r) => r.errors)
  return {
    connections: cfg.connections,
    connected,
    failed,
    closedByServerWhileHeld: closedByServer,
    targetRate: cfg.rate,
    concurrency: cfg.concurrency,
    sourceIps: cfg.sourceIps.length,
    connectSeconds: Math.round(elapsedMs) / 1000,
    connectionsPerSecond: elapsedMs > 0 ? Math.round(connected / (elapsedMs / 1000)) : 0,
    connectLatency: latency.summary(),
    cpu: {
      generatorPct: connectUsage.generatorPct,
      serverPct: connectUsage.serverPct,
      generatorSeconds: connectUsage.generatorSeconds,
      serverSeconds: connectUsage.serverSeconds,
      /** From the first connect to the server's last close (conn without --hold), else null. */
      serverSecondsWithClose: withClose,
    },
    idle,
    errors: errors.slice(0, 20),
  }
}

/** The server's CPU seconds since `cpu`'s start, read once two reads 100 ms apart agree. */
async function untilServerQuiet(cpu: CpuMeter): Promise<number | null> {
  const until = performance.now() + 3000
  let last = cpu.read().serverSeconds
  while (performance.now() < until) {
    await sleep(100)
    const now = cpu.read().serverSeconds
    if (now === last) break
    last = now
  }
  return last
}

function mb(bytes: number): string {
  return (bytes / 1048576).toFixed(1)
}
