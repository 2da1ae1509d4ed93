#!/usr/bin/env node
/**
 * `npm run bench:connections`: what a connection costs mqttd, in one run, next to a
 * bare Node `net.Server` floor and (with `--baseline DIR`) another checkout measured
 * interleaved with this one:
 *
 * - RSS per idle connection at several counts (default 1k, 10k, 19k), workers 1 and 2;
 * - RSS of an idle server before any client (default config), workers 1, 2 and 4;
 * - server CPU per connection (connect, CONNECT/CONNACK, close) over TCP, TLS and WS,
 *   read from /proc/PID/stat (CPU time, so a busy machine does not inflate it);
 * - RSS after 30k connect/close cycles (20 in parallel) and after 20 s idle, 2 workers;
 * - a reconnect storm: 15k clients within 5 s, all must get CONNACK, `/healthz`
 *   latency (max, p99) polled every 20 ms throughout;
 * - QoS 0 fan-in at a fixed rate (server CPU per delivered message, p99), the
 *   throughput cost of memory settings.
 *
 * Every server is fresh per figure, pinned to CPU 0; the generator (load-tests/generator)
 * to CPU 1. Loopback only, bounded in count and time; it stops by itself.
 *
 * usage: npm run bench:connections -- [--baseline DIR] [--sections a,b] [--counts 1000,10000,19000]
 *        [--variant JSON]... [--dist] [--kinds tcp,tls,ws] [--cpu-count 5000] [--idle-hold 1] [--quick] [--out FILE]
 *
 * A variant is `{"name", "root"?, "flags"?: [node flags for the main thread], "config"?: {merged
 * into the mqttd config}, "dist"?: run dist/ (the build), not the sources}`; `--dist` sets it for all. without `--variant`, the variants are `before` (the `--baseline`
 * checkout, if given) and `after` (this checkout).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { generate, type MeasureContext } from '../compare/measure.ts'
import { pressureWindow } from '../compare/pressure.ts'
import { freePort, freePorts } from '../free-ports.ts'
import { cpuSeconds, rssBytes } from '../generator/proc-stats.ts'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '..', '..')
const SECTIONS = ['server-idle', 'breakdown', 'idle', 'cpu', 'churn', 'storm', 'fanin'] as const
type Section = (typeof SECTIONS)[number]

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    sections: { type: 'string', default: SECTIONS.join(',') },
    counts: { type: 'string', default: '1000,10000,19000' },
    variant: { type: 'string', multiple: true, default: [] },
    quick: { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    dist: { type: 'boolean', default: false },
    kinds: { type: 'string', default: 'tcp,tls,ws' },
    'cpu-count': { type: 'string', default: '5000' },
    'idle-hold': { type: 'string', default: '1' },
    out: { type: 'string' },
  },
})

interface Variant {
  name: string
  root: string
  flags: string[]
  config: Record<string, unknown>
  /** Run the JavaScript build (`dist/`, what an installed package runs) instead of the sources. */
  dist: boolean
}
const variants: Variant[] =
  values.variant.length > 0
    ? values.variant.map((v) => {
        const o = JSON.parse(v) as Partial<Variant>
        return {
          name: o.name ?? 'v',
          root: resolve(o.root ?? repo),
          flags: o.flags ?? [],
          config: o.config ?? {},
          dist: o.dist ?? values.dist,
        }
      })
    : [
        ...(values.baseline
          ? [{ name: 'before', root: resolve(values.baseline), flags: [], config: {}, dist: values.dist }]
          : []),
        { name: 'after', root: repo, flags: [], config: {}, dist: values.dist },
      ]
for (const v of variants) {
  if (v.dist && !existsSync(join(v.root, 'dist', 'cli', 'main.js')))
    throw new Error(`${v.root}/dist missing: run npm run build there first`)
}
const sections = values.sections.split(',') as Section[]
for (const s of sections) if (!SECTIONS.includes(s)) throw new Error(`unknown section ${s}`)
const quick = values.quick
const counts = values.counts.split(',').map(Number)
/** Seconds the idle clients stay after the 2 s settle; above 1, a second row reads RSS at the end of it. */
const idleHold = Number(values['idle-hold'])

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
const pin = !values['no-pin'] && availableParallelism() >= 2 && hasTaskset()
const serverCpus = pin ? '0' : null
const log = (line: string) => process.stderr.write(`${line}\n`)
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')

interface Running {
  pid: number
  port: number
  ports: Record<string, number>
  adminPort: number | null
  stop(): Promise<void>
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

function spawnPinned(argv: string[], cwd: string): ChildProcess {
  const cmd = `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${argv.map(shellQuote).join(' ')}`
  const full = serverCpus === null ? ['bash', '-c', cmd] : ['taskset', '-c', serverCpus, 'bash', '-c', cmd]
  return spawn(full[0]!, full.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy()
      done(true)
    })
    s.once('error', () => done(false))
  })
}

async function started(
  child: ChildProcess,
  port: number,
  dir: string,
  output: () => string,
): Promise<Running> {
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    rmSync(dir, { recursive: true, force: true })
  }
  const until = Date.now() + 60_000
  while (!(await tcpOpen(port))) {
    if (child.exitCode !== null || Date.now() > until) {
      await stop()
      throw new Error(`server did not listen on ${port}: ${output().slice(-800)}`)
    }
    await sleep(100)
  }
  return { pid: child.pid!, port, ports: {}, adminPort: null, stop }
}

function capture(child: ChildProcess): () => string {
  let out = ''
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-4000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  return () => out
}

async function startBare(): Promise<Running> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'cc-bare-'))
  const child = spawnPinned([process.execPath, join(here, 'bare-server.ts'), String(port)], repo)
  return started(child, port, dir, capture(child))
}

const fixture = (f: string) => join(repo, 'test', 'fixtures', 'tls', f)

type Merge = Record<string, unknown>
function merge(a: Merge, b: Merge): Merge {
  const out: Merge = { ...a }
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k]
    out[k] =
      v !== null && typeof v === 'object' && !Array.isArray(v) && prev !== null && typeof prev === 'object'
        ? merge(prev as Merge, v as Merge)
        : v
  }
  return out
}

/**
 * Starts mqttd from `variant.root` with one listener of each kind asked for;
 * `defaults` leaves broker and persistence at their defaults (the idle-server figure).
 */
async function startMqttd(
  variant: Variant,
  workers: number,
  kinds: Array<'tcp' | 'tls' | 'ws'> = ['tcp'],
  defaults = false,
): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'cc-mqttd-'))
  const ports: Record<string, number> = {}
  const listeners = []
  // one per listener and one for the admin API
  const free = await freePorts(kinds.length + 1)
  const adminPort = free.pop()!
  for (const [i, kind] of kinds.entries()) {
    ports[kind] = free[i]!
    listeners.push({
      name: kind,
      type: kind,
      host: '127.0.0.1',
      port: ports[kind],
      ...(kind === 'ws' ? { path: '/mqtt' } : {}),
      ...(kind === 'tls' ? { key: fixture('server-key.pem'), cert: fixture('server.pem') } : {}),
    })
  }
  const base: Merge = {
    workers,
    listeners,
    admin: { host: '127.0.0.1', port: adminPort },
    log: { level: 'warn' },
    ...(defaults ? { persistence: { dir: join(dir, 'data') } } : { persistence: false }),
  }
  const config = merge(base, variant.config)
  const file = join(dir, 'mqttd.json')
  writeFileSync(file, JSON.stringify(config))
  // bin/mqttd.js runs the sources in a clone; an installed package runs dist/ (no type stripping per thread)
  const entry = variant.dist
    ? [
        '--input-type=module',
        '-e',
        `const { main } = await import(${JSON.stringify(join(variant.root, 'dist', 'cli', 'main.js'))}); await main(process.argv.slice(1))`,
        // what follows is the script's, not node's
        '--',
      ]
    : [join(variant.root, 'bin', 'mqttd.js')]
  const child = spawnPinned([process.execPath, ...variant.flags, ...entry, '--config', file], variant.root)
  const output = capture(child)
  const running = await started(child, ports[kinds[0]!]!, dir, output)
  // the listeners bind before the workers are up: wait for /readyz
  const until = Date.now() + 60_000
  while (Date.now() < until) {
    const ok = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    )
    if (ok) break
    await sleep(100)
  }
  return { ...running, ports, adminPort }
}

function ctxFor(server: Running, port = server.port): MeasureContext {
  return { port, pid: server.pid, cpus: pin ? '1' : null, quick, log }
}

const mb = (b: number | null) => (b === null ? null : Math.round((b / 1048576) * 10) / 10)

type Row = { figure: string; unit: string; values: Record<string, number | string | null>; note?: string }
const rows: Row[] = []
const raw: Record<string, unknown>[] = []
function row(figure: string, unit: string, vals: Record<string, number | string | null>, note?: string) {
  rows.push({ figure, unit, values: vals, note })
  log(`  => ${figure}: ${JSON.stringify(vals)} ${unit}`)
}

/**
 * RSS per idle connection: (RSS 2 s after the last CONNACK − RSS before) / connections; `held`:
 * the same at the end of the hold (`--idle-hold`), past the threads' first idle heap trim when
 * it is long enough (the young generations a connect burst grew are given back then).
 */
async function idlePerConnection(
  server: Running,
  n: number,
): Promise<{ perConn: number | null; held: number | null; r: Merge }> {
  const r = await generate(ctxFor(server), [
    'idle',
    '--connections',
    String(n),
    '--concurrency',
    '100',
    '--settle',
    '2',
    '--hold',
    String(idleHold),
    '--timeout',
    '30000',
    '--duration',
    '180',
  ])
  const idle = r.idle as Record<string, number | null>
  const ok = (r.connected as number) === n
  if (!ok) log(`  only ${r.connected}/${n} connected: ${(r.errors as string[])[0] ?? ''}`)
  const held =
    ok && idle.rssHeldBytes !== null && idle.rssBeforeBytes !== null
      ? Math.round((idle.rssHeldBytes! - idle.rssBeforeBytes!) / n)
      : null
  return { perConn: ok ? idle.rssPerConnectionBytes! : null, held, r }
}

async function sectionIdle(): Promise<void> {
  for (const n of counts) {
    const bare = await startBare()
    await sleep(500)
    const b = await idlePerConnection(bare, n).finally(() => bare.stop())
    raw.push({ section: 'idle', target: 'bare', n, result: b.r })
    for (const workers of [1, 2]) {
      const vals: Record<string, number | null> = { bare: b.perConn }
      const held: Record<string, number | null> = { bare: b.held }
      for (const v of variants) {
        const s = await startMqttd(v, workers)
        // past every thread's first idle heap trim, so the baseline is the steady idle server: the
        // trims look every 5 s from each thread's start, and a worker's first interval holds its
        // start-up work (not idle), so its first trim comes about 10 s after it started; at 7 s the
        // baseline was taken before or after it by chance (±30 MB, ±3 KB per connection at 10,000)
        await sleep(12_000)
        const m = await idlePerConnection(s, n).finally(() => s.stop())
        raw.push({ section: 'idle', target: v.name, workers, n, result: m.r })
        vals[v.name] = m.perConn
        held[v.name] = m.held
      }
      row(`RSS per idle connection, ${n.toLocaleString('en-US')} conns, workers ${workers}`, 'B', vals)
      if (idleHold > 1) row(`  … ${idleHold + 2} s after the last CONNACK`, 'B', held)
    }
  }
}

async function sectionServerIdle(): Promise<void> {
  for (const workers of [1, 2, 4]) {
    const vals: Record<string, number | null> = {}
    for (const v of variants) {
      const s = await startMqttd(v, workers, ['tcp', 'ws'], true)
      // what an operator sees a little after start: the JIT, the first GCs (and heap trim) done
      await sleep(10_000)
      vals[v.name] = mb(rssBytes(s.pid))
      await s.stop()
    }
    row(`RSS of the idle server (default config), workers ${workers}`, 'MB', vals)
  }
  const bare = await startBare()
  await sleep(3000)
  row('RSS of a bare Node net.Server, no client', 'MB', { bare: mb(rssBytes(bare.pid)) })
  await bare.stop()
}

/**
 * What the parts of an idle server cost: RSS 10 s after start (1 worker, default config) with one
 * part taken away at a time, from the sources and from dist/ (the build an installed package runs).
 */
async function sectionBreakdown(): Promise<void> {
  const last = variants[variants.length - 1]!
  const parts: Array<[string, Merge, Array<'tcp' | 'tls' | 'ws'>]> = [
    ['default config (TCP + WS listeners, admin API, broker, SQLite store)', {}, ['tcp', 'ws']],
    ['  without the WS listener', {}, ['tcp']],
    ['  without the admin API', { admin: { enabled: false } }, ['tcp', 'ws']],
    ['  without the broker', { broker: false }, ['tcp', 'ws']],
    ['  without the store (persistence: false)', { persistence: false }, ['tcp', 'ws']],
    [
      '  TCP only, no admin, no broker, no store',
      { admin: { enabled: false }, broker: false, persistence: false },
      ['tcp'],
    ],
  ]
  const builds = [false, ...(existsSync(join(last.root, 'dist', 'cli', 'main.js')) ? [true] : [])]
  for (const [label, config, kinds] of parts) {
    const vals: Record<string, number | null> = {}
    for (const dist of builds) {
      const v: Variant = { ...last, dist, config: merge(last.config, config) }
      const s = await startMqttd(v, 1, kinds, (config as { persistence?: unknown }).persistence !== false)
      await sleep(10_000)
      vals[dist ? 'dist' : 'src'] = mb(rssBytes(s.pid))
      await s.stop()
    }
    row(`idle RSS, 1 worker: ${label}`, 'MB', vals)
  }
}

/** Runs `argv` (a Node script and its arguments) pinned to the generator's CPU; resolves with its stdout. */
function runClient(argv: string[]): Promise<string> {
  const full = pin ? ['taskset', '-c', '1', process.execPath, ...argv] : [process.execPath, ...argv]
  return new Promise((done, fail) => {
    const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) done(out)
      else fail(new Error(`${argv[0]} exited with ${code}`))
    })
  })
}

async function sectionCpu(): Promise<void> {
  const n = quick ? 2000 : Number(values['cpu-count'])
  const conn = (server: Running, kind: string, count: number) =>
    generate(ctxFor(server, server.ports[kind]), [
      'conn',
      '--transport',
      kind,
      '--connections',
      String(count),
      '--concurrency',
      '100',
      '--timeout',
      '30000',
      '--duration',
      '120',
    ])
  for (const kind of values.kinds.split(',') as Array<'tcp' | 'tls' | 'ws'>) {
    const cpu: Record<string, number | null> = {}
    const rate: Record<string, number | null> = {}
    for (const v of variants) {
      const s = await startMqttd(v, 1, [kind])
      try {
        await conn(s, kind, 1000) // warm-up: JIT, first GCs
        await sleep(1000)
        // the server's CPU time over the whole run: connect, CONNECT/CONNACK and (the generator
        // closes every connection at its end) close, with a second for the last closes
        const cpu0 = cpuSeconds(s.pid)
        const r = await conn(s, kind, n)
        await sleep(1000)
        const cpu1 = cpuSeconds(s.pid)
        raw.push({ section: 'cpu', target: v.name, kind, result: r, serverCpuSeconds: [cpu0, cpu1] })
        const ok = (r.failed as number) === 0
        cpu[v.name] =
          ok && cpu0 !== null && cpu1 !== null
            ? Math.round(((cpu1 - cpu0) / (r.connected as number)) * 1e6)
            : null
        rate[v.name] = ok ? (r.connectionsPerSecond as number) : null
      } finally {
        await s.stop()
      }
    }
    row(`server CPU per connection (connect, CONNACK, close), ${kind.toUpperCase()}, 1 worker`, 'µs', cpu)
    row(`  connect rate, ${kind.toUpperCase()}, ${n} conns, 100 in flight`, 'conn/s', rate)
  }
}

async function sectionChurn(): Promise<void> {
  const n = quick ? 5000 : 30_000
  const idleS = quick ? 5 : 20
  const start: Record<string, number | null> = {}
  const after: Record<string, number | null> = {}
  const later: Record<string, number | null> = {}
  const rate: Record<string, number | null> = {}
  for (const v of variants) {
    const s = await startMqttd(v, 2)
    try {
      await sleep(2000)
      start[v.name] = mb(rssBytes(s.pid))
      // each cycle: connect, CONNECT, CONNACK, close; 20 at a time
      const out = await runClient([
        join(repo, 'bench', 'server-client.ts'),
        'churn',
        String(s.port),
        String(n),
        '20',
      ])
      const r = JSON.parse(out) as { perSecond: number; failures: number }
      raw.push({ section: 'churn', target: v.name, result: r })
      if (r.failures > 0) log(`  churn ${v.name}: ${r.failures} failed`)
      rate[v.name] = r.perSecond
      after[v.name] = mb(rssBytes(s.pid))
      await sleep(idleS * 1000)
      later[v.name] = mb(rssBytes(s.pid))
    } finally {
      await s.stop()
    }
  }
  row('churn (2 workers): RSS at start', 'MB', start)
  row(`  RSS after ${n.toLocaleString('en-US')} connect/close cycles, 20 in parallel`, 'MB', after)
  row(`  RSS after ${idleS} s idle`, 'MB', later)
  const growth: Record<string, number | null> = {}
  for (const v of variants) {
    const a = later[v.name]
    const b = start[v.name]
    growth[v.name] =
      a === null || a === undefined || b === null || b === undefined ? null : Math.round((a - b) * 10) / 10
  }
  row('  growth kept after idle', 'MB', growth)
  row('  cycles per second', 'conn/s', rate)
}

/** Polls /healthz one request at a time, every `everyMs`, until stopped. */
function pollHealth(
  port: number,
  everyMs: number,
): { stop(): Promise<{ max: number; p99: number; count: number; failed: number }> } {
  const lat: number[] = []
  let failed = 0
  let running = true
  const loop = (async () => {
    while (running) {
      const t0 = performance.now()
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) })
        await res.arrayBuffer()
        if (res.status !== 200) failed++
      } catch {
        failed++
      }
      lat.push(performance.now() - t0)
      await sleep(everyMs)
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      lat.sort((a, b) => a - b)
      const p = (q: number) =>
        Math.round((lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? 0) * 10) / 10
      return { max: p(1), p99: p(0.99), count: lat.length, failed }
    },
  }
}

async function sectionStorm(): Promise<void> {
  const n = quick ? 3000 : 15_000
  const windowS = 5
  const connected: Record<string, number | null> = {}
  const max: Record<string, number | null> = {}
  const p99: Record<string, number | null> = {}
  const connP99: Record<string, number | null> = {}
  for (const v of variants) {
    const s = await startMqttd(v, 2)
    try {
      await sleep(1000)
      const health = pollHealth(s.adminPort!, 20)
      const r = await generate(ctxFor(s), [
        'conn',
        '--connections',
        String(n),
        '--rate',
        String(Math.ceil(n / windowS)),
        '--concurrency',
        '2000',
        '--hold',
        '1',
        '--timeout',
        '30000',
        '--duration',
        '90',
      ])
      const h = await health.stop()
      raw.push({ section: 'storm', target: v.name, result: r, health: h })
      connected[v.name] = r.connected as number
      max[v.name] = h.failed > 0 ? null : h.max
      p99[v.name] = h.p99
      connP99[v.name] = (r.connectLatency as { p99Ms: number }).p99Ms
      log(`  storm ${v.name}: ${r.connected}/${n} in ${r.connectSeconds} s, healthz ${JSON.stringify(h)}`)
    } finally {
      await s.stop()
    }
  }
  row(
    `reconnect storm: ${n.toLocaleString('en-US')} clients in ${windowS} s (2 workers), CONNACKed`,
    'clients',
    connected,
  )
  row('  /healthz latency max during the storm', 'ms', max)
  row('  /healthz latency p99 during the storm', 'ms', p99)
  row('  CONNECT→CONNACK p99 during the storm', 'ms', connP99)
}

async function sectionFanin(): Promise<void> {
  const rate = quick ? 20_000 : 40_000
  const seconds = quick ? 2 : 4
  const cpu: Record<string, number | null> = {}
  const p99: Record<string, number | null> = {}
  const lost: Record<string, number | null> = {}
  for (const v of variants) {
    const s = await startMqttd(v, 1)
    try {
      const args = [
        'pub',
        '--publishers',
        '10',
        '--subscribers',
        '1',
        '--payload',
        '64',
        '--qos',
        '0',
        '--rate',
        String(rate),
      ]
      await generate(ctxFor(s), [...args, '--messages', String(rate / 10), '--duration', '10']) // warm-up
      const r = await generate(ctxFor(s), [
        ...args,
        '--messages',
        String((rate / 10) * seconds),
        '--duration',
        String(seconds + 10),
      ])
      raw.push({ section: 'fanin', target: v.name, result: r })
      const sec = (r.cpu as { serverSeconds: number | null }).serverSeconds
      cpu[v.name] = sec === null ? null : Math.round((sec / (r.received as number)) * 1e7) / 10
      p99[v.name] = (r.latency as { p99Ms: number }).p99Ms
      lost[v.name] = r.lossPct as number
    } finally {
      await s.stop()
    }
  }
  row(
    `QoS 0 fan-in 10×64 B→1 at ${rate.toLocaleString('en-US')} msg/s: server CPU per delivered message`,
    'µs',
    cpu,
  )
  row('  p99 latency', 'ms', p99)
  row('  loss', '%', lost)
}

const RUN: Record<Section, () => Promise<void>> = {
  'server-idle': sectionServerIdle,
  breakdown: sectionBreakdown,
  idle: sectionIdle,
  cpu: sectionCpu,
  churn: sectionChurn,
  storm: sectionStorm,
  fanin: sectionFanin,
}

const startedAt = new Date().toISOString()
log(
  `bench:connections ${startedAt}: variants ${variants.map((v) => `${v.name}=${v.root}${v.dist ? ' (dist)' : ''}${v.flags.length ? ` ${v.flags.join(' ')}` : ''}${Object.keys(v.config).length ? ` ${JSON.stringify(v.config)}` : ''}`).join('; ')}; ${pin ? 'server on CPU 0, generator on CPU 1' : 'not pinned'}`,
)
const loads: Record<string, { before: string; after: string; cpuPressurePct: number | null }> = {}
for (const s of sections) {
  log(`[${s}] load average ${load()}`)
  const before = load()
  const psi = pressureWindow()
  await RUN[s]()
  loads[s] = { before, after: load(), cpuPressurePct: psi.read() }
}

const names = ['bare', 'src', 'dist', ...variants.map((v) => v.name)].filter((n) =>
  rows.some((r) => n in r.values),
)
const fmt = (x: number | string | null | undefined) =>
  x === undefined ? '' : x === null ? 'n/a' : typeof x === 'number' ? x.toLocaleString('en-US') : x
const first = variants[0]!.name
const last = variants[variants.length - 1]!.name
const header = ['figure', 'unit', ...names, ...(variants.length > 1 ? [`${last}/${first}`] : [])]
const lines = [header, header.map(() => '---')]
for (const r of rows) {
  const a = r.values[first]
  const b = r.values[last]
  const ratio = typeof a === 'number' && typeof b === 'number' && a !== 0 ? `${(b / a).toFixed(2)}×` : ''
  lines.push([
    r.figure,
    r.unit,
    ...names.map((n) => fmt(r.values[n])),
    ...(variants.length > 1 ? [ratio] : []),
  ])
}
process.stdout.write(`${lines.map((l) => `| ${l.join(' | ')} |`).join('\n')}\n\n`)
for (const [s, l] of Object.entries(loads)) {
  process.stdout.write(
    `- ${s}: load average ${l.before} → ${l.after}; CPU pressure ${l.cpuPressurePct ?? 'n/a'} %\n`,
  )
}
const outFile =
  values.out ?? join(repo, 'load-tests', 'results', `connections-${startedAt.replace(/[:.]/g, '-')}.json`)
mkdirSync(dirname(outFile), { recursive: true })
writeFileSync(outFile, JSON.stringify({ startedAt, variants, pin, rows, loads, raw }, null, 2))
log(`results: ${outFile}`)
