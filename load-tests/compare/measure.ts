/**
 * The figures bench:compare reports, each measured by running the load
 * generator (load-tests/generator/cli.ts) as a child process pinned to its own
 * CPU, against a server started fresh for that figure.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'generator', 'cli.ts')

/** A secondary value shown on its own row under its figure, with the same ratios. */
export interface Extra {
  label: string
  value: number | null
  unit: string
  lowerIsBetter?: boolean
  /** Shown instead of the bare value (e.g. with a loss figure). */
  text?: string
}

export interface Figure {
  /** Headline value (higher is better unless `lowerIsBetter`). */
  value: number | null
  unit: string
  lowerIsBetter?: boolean
  /** What held the figure down: server CPU, generator CPU, threshold, machine. */
  limitedBy: string
  detail: Record<string, unknown>
  extras?: Extra[]
}

export interface MeasureContext {
  port: number
  pid: number
  /** CPU list for the generator's taskset, or null. */
  cpus: string | null
  quick: boolean
  log: (line: string) => void
}

/** Runs the generator once and returns its JSON result. */
export async function generate(ctx: MeasureContext, args: string[]): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'lt-gen-'))
  const out = join(dir, 'result.json')
  const argv = [
    process.execPath,
    cli,
    ...args,
    '--port',
    String(ctx.port),
    '--server-pid',
    String(ctx.pid),
    '--out',
    out,
    '--quiet',
  ]
  // like the servers: open-file limit at the hard limit, pinned when asked
  const shell = ['bash', '-c', `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`, 'generator', ...argv]
  const full = ctx.cpus === null ? shell : ['taskset', '-c', ctx.cpus, ...shell]
  try {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr!.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-2000)
      })
      // every generator run is bounded by --duration; this is a last resort
      const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000)
      child.on('exit', (c) => {
        clearTimeout(timer)
        resolve({ code: c, stderr })
      })
    })
    if (code !== 0)
      throw new Error(`generator failed (${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`)
    return JSON.parse(readFileSync(out, 'utf8'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

type Lat = { p50Ms: number; p99Ms: number; maxMs: number; count: number }
type Cpu = {
  generatorPct: number
  serverPct: number | null
  serverSeconds?: number | null
  serverSecondsWithClose?: number | null
}

/** Server CPU microseconds per unit of work: robust to a busy machine, unlike rates. */
function cpuPer(
  r: Record<string, unknown> | undefined,
  units: unknown,
  field: 'serverSeconds' | 'serverSecondsWithClose' = 'serverSeconds',
): number | null {
  const s = (r?.cpu as Cpu | undefined)?.[field]
  const n = Number(units)
  if (s === null || s === undefined || !(n > 0)) return null
  return Math.round((s / n) * 1e6 * 10) / 10
}

/** Names the bottleneck from CPU use (100 % = the one core each side is pinned to). */
export function bottleneck(cpu: Cpu, fallback: string): string {
  if ((cpu.serverPct ?? 0) >= 85) return `server CPU (${cpu.serverPct}%)`
  if (cpu.generatorPct >= 85) return `generator CPU (${cpu.generatorPct}%)`
  return `${fallback} (server ${cpu.serverPct}%, generator ${cpu.generatorPct}%)`
}

const FANIN = ['pub', '--publishers', '10', '--subscribers', '1', '--payload', '64', '--qos', '0']

/**
 * QoS 0 fan-in, 10 publishers × 64 B → 1 subscriber: the highest total rate
 * the server delivers with p99 < 20 ms, < 0.1 % loss and ≥ 95 % of the asked
 * rate. Doubles from a start rate until a step fails, then bisects.
 */
export async function fanInRate(ctx: MeasureContext): Promise<Figure> {
  const stepS = ctx.quick ? 1 : 3
  const ceiling = 2_000_000
  let pass: { rate: number; r: Record<string, unknown> } | null = null
  let fail: { rate: number; r: Record<string, unknown>; why: string } | null = null
  const tryOnce = async (rate: number) => {
    const perPub = Math.ceil((rate / 10) * stepS)
    const r = await generate(ctx, [
      ...FANIN,
      '--rate',
      String(rate),
      '--messages',
      String(perPub),
      '--duration',
      String(stepS + 5),
    ])
    const lat = r.latency as Lat
    const achieved = (r.received as number) / stepS
    const why =
      lat.p99Ms >= 20
        ? `p99 ${lat.p99Ms} ms`
        : (r.lossPct as number) > 0.1
          ? `loss ${r.lossPct}%`
          : (r.sendSeconds as number) > stepS * 1.05
            ? `generator could not send on time (${r.sendSeconds}s for ${stepS}s)`
            : ''
    ctx.log(
      `  fan-in ${rate}/s: recv ${r.received}/${r.expected}, p99 ${lat.p99Ms} ms, ~${Math.round(achieved)}/s ${why ? `FAIL ${why}` : 'ok'}`,
    )
    return { r, why }
  }
  // a step fails only if it fails twice: on a shared machine one scheduling
  // stall of a few tens of ms is enough to lift a p99
  const tryRate = async (rate: number) => {
    const first = await tryOnce(rate)
    return first.why ? tryOnce(rate) : first
  }
  let rate = ctx.quick ? 5000 : 10_000
  // warm-up, not counted: a fresh Node server runs its first seconds unoptimised
  ctx.log('  warm-up:')
  await tryOnce(rate)
  while (rate <= ceiling) {
    const { r, why } = await tryRate(rate)
    if (why) {
      fail = { rate, r, why }
      break
    }
    pass = { rate, r }
    rate *= 2
  }
  // bisect between the last pass and the first failure
  for (let i = 0; i < (ctx.quick ? 1 : 3) && fail; i++) {
    const lo = pass?.rate ?? 0
    const mid = Math.round((lo + fail.rate) / 2 / 1000) * 1000
    if (mid <= lo || mid >= fail.rate) break
    const { r, why } = await tryRate(mid)
    if (why) fail = { rate: mid, r, why }
    else pass = { rate: mid, r }
  }
  const at = pass?.r ?? fail?.r ?? {}
  const failCpu = (fail?.r.cpu ?? { generatorPct: 0, serverPct: 0 }) as Cpu
  return {
    value: pass?.rate ?? null,
    unit: 'msg/s',
    limitedBy: fail ? `${fail.why} at ${fail.rate}/s; ${bottleneck(failCpu, 'latency')}` : 'search ceiling',
    extras: [
      {
        label: '  server CPU per delivered message (at that rate)',
        value: cpuPer(pass?.r, pass?.r.received),
        unit: 'µs',
        lowerIsBetter: true,
      },
    ],
    detail: {
      passRate: pass?.rate ?? null,
      failRate: fail?.rate ?? null,
      latencyAtPass: at.latency,
      cpuAtPass: at.cpu,
      cpuAtFail: fail?.r.cpu ?? null,
    },
  }
}

/** QoS 1, 10 publishers × 64 B with 100 in flight each → 1 QoS 1 subscriber, unpaced. */
export async function qos1Throughput(ctx: MeasureContext): Promise<Figure> {
  const seconds = ctx.quick ? 2 : 5
  const r = await generate(ctx, [
    ...FANIN.slice(0, -1),
    '1',
    '--window',
    '100',
    '--messages',
    '2000000',
    '--duration',
    String(seconds),
  ])
  ctx.log(
    `  qos1: acked ${r.ackedPerSecond}/s received ${r.receivedPerSecond}/s lost ${r.lost} p99 ${(r.latency as Lat).p99Ms} ms`,
  )
  return {
    value: r.ackedPerSecond as number,
    unit: 'msg/s',
    limitedBy: bottleneck(r.cpu as Cpu, 'window/latency'),
    extras: [
      {
        label: '  … delivered to the subscriber',
        value: r.receivedPerSecond as number,
        unit: 'msg/s',
        text: `${(r.receivedPerSecond as number).toLocaleString('en-US')} msg/s, loss ${r.lossPct}%`,
      },
      {
        label: '  server CPU per delivered message',
        value: cpuPer(r, r.received),
        unit: 'µs',
        lowerIsBetter: true,
      },
    ],
    detail: {
      acked: r.acked,
      received: r.received,
      expected: r.expected,
      lost: r.lost,
      receivedPerSecond: r.receivedPerSecond,
      latency: r.latency,
      ackLatency: r.ackLatency,
      cpu: r.cpu,
    },
  }
}

/**
 * Connect rate: 5,000 connections (CONNECT→CONNACK, 100 handshakes in flight), then closed,
 * measured after a first 5,000 that are not counted in the rate. The first are a fresh server's
 * (its code unoptimised, its heap growing) and are reported on their own row: a server lives
 * through many more connections than it does cold, and a floor that does almost nothing is warm
 * at once, so the cold round alone says more about the JIT than about a connection's cost.
 */
export async function connectRate(ctx: MeasureContext): Promise<Figure> {
  const n = ctx.quick ? 1000 : 5000
  // 16 source addresses (~450k ports): with 4, the targets measured last (after 60,000 connections
  // to each one before, with the warm-up and the idle figure, repeated) ran at a tenth of their
  // rate; our reading (not measured): a bind before connect finding its ports still in TIME_WAIT
  const round = () =>
    generate(ctx, [
      'conn',
      '--connections',
      String(n),
      '--concurrency',
      '100',
      '--source-ips',
      '16',
      '--duration',
      '60',
    ])
  const cold = await round()
  ctx.log(`  connect (cold, not counted): ${cold.connected}/${n} at ${cold.connectionsPerSecond}/s`)
  const r = await round()
  ctx.log(
    `  connect: ${r.connected}/${n} at ${r.connectionsPerSecond}/s, p99 ${(r.connectLatency as Lat).p99Ms} ms`,
  )
  const failed = (r.failed as number) + (cold.failed as number)
  return {
    value: failed > 0 ? null : (r.connectionsPerSecond as number),
    unit: 'conn/s',
    limitedBy:
      failed > 0
        ? `${failed} failed: ${[...(r.errors as string[]), ...(cold.errors as string[])][0]}`
        : bottleneck(r.cpu as Cpu, 'handshake latency'),
    extras: [
      {
        label: '  server CPU per connection (connect, CONNACK, close)',
        value: cpuPer(r, r.connected, 'serverSecondsWithClose'),
        unit: 'µs',
        lowerIsBetter: true,
      },
      {
        label: `  … the first ${n.toLocaleString('en')} after start (cold)`,
        value: cpuPer(cold, cold.connected, 'serverSecondsWithClose'),
        unit: 'µs',
        lowerIsBetter: true,
      },
    ],
    detail: {
      connected: r.connected,
      failed: r.failed,
      connectLatency: r.connectLatency,
      cpu: r.cpu,
      cold: {
        connected: cold.connected,
        failed: cold.failed,
        connectionsPerSecond: cold.connectionsPerSecond,
        cpu: cold.cpu,
      },
    },
  }
}

/** Server RSS growth per idle connection at 10,000 connections. */
export async function idleRss(ctx: MeasureContext): Promise<Figure> {
  const n = ctx.quick ? 2000 : 10_000
  const r = await generate(ctx, [
    'idle',
    '--connections',
    String(n),
    '--concurrency',
    '100',
    '--settle',
    '2',
    '--hold',
    '2',
    '--duration',
    '120',
  ])
  const idle = r.idle as Record<string, number | null>
  ctx.log(
    `  idle: ${r.connected}/${n} connected, ${idle.rssPerConnectionBytes} B/conn, idle server CPU ${idle.idleServerCpuPct}%`,
  )
  return {
    value: (r.connected as number) < n ? null : idle.rssPerConnectionBytes!,
    unit: 'B/conn',
    lowerIsBetter: true,
    limitedBy:
      (r.connected as number) < n
        ? `only ${r.connected}/${n} connected: ${(r.errors as string[])[0] ?? ''}`
        : 'memory (RSS after settle minus RSS before connecting)',
    detail: { connected: r.connected, failed: r.failed, ...idle },
  }
}

/** `floor`: the figure is also measured against the floors (`bare`, `bare-handoff`: a connection figure, no routing). */
export const FIGURES = {
  'fanin-qos0': { title: 'QoS0 fan-in 10×64 B→1, max rate with p99<20 ms', run: fanInRate, floor: false },
  'qos1-window100': { title: 'QoS1 10×64 B→1, window 100, acked msg/s', run: qos1Throughput, floor: false },
  'connect-5000': { title: 'connect rate, 5,000 connections', run: connectRate, floor: true },
  'idle-10000': { title: 'RSS per idle connection at 10,000', run: idleRss, floor: true },
} as const

export type FigureName = keyof typeof FIGURES
