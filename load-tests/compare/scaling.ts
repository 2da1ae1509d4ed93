#!/usr/bin/env node
/**
 * `npm run bench:scaling`: what a second worker thread costs and gives. The
 * same three workloads against mqttd with `workers: 1` and `workers: 2`, first
 * with the whole server pinned to one CPU (so both configurations get exactly
 * one core: the ratio is the price of crossing workers), then with the server
 * on both CPUs and the generator competing for them (the generator's share is
 * printed). Configurations are interleaved round by round and the median of
 * `--repeat` rounds is reported, because the machine may be shared.
 *
 * usage: npm run bench:scaling -- [--repeat 3] [--seconds 4] [--warmup 2] [--one-core] [--workloads a,b] [--baseline DIR] [--paced 0.5] [--out FILE]
 *
 * `--baseline DIR` also runs the one-core rows against another checkout of
 * mqttd (its bin/mqttd.js), interleaved with this one: a before/after in one run.
 *
 * Unpaced, a run's p99 is mostly queueing (the generator publishes as fast as it can), which says
 * nothing about what crossing workers adds to a message's wait. So each workload then runs paced on
 * one core, both configurations at the same rate: `--paced` (default 0.5; 0: off) times the median
 * rate of two workers just measured, and the second table compares their p50 and p99 at that rate.
 *
 * Each server first runs the same workload for `--warmup` seconds (default 2),
 * unmeasured: what is compared is the steady state. Without it a few-second
 * figure carries the JIT's start-up, which a server with two workers pays
 * twice (each worker thread compiles the same code in its own isolate).
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { generate } from './measure.ts'
import { pressureWindow } from './pressure.ts'
import { startServer } from './targets.ts'

const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '2' },
    baseline: { type: 'string' },
    workloads: { type: 'string' },
    'one-core': { type: 'boolean', default: false },
    paced: { type: 'string', default: '0.5' },
    out: { type: 'string' },
  },
})

const repeat = Math.max(1, Math.min(9, Number(values.repeat)))
const seconds = Math.max(1, Math.min(30, Number(values.seconds)))
const warmup = Math.max(0, Math.min(30, Number(values.warmup)))
const pacedShare = Math.max(0, Math.min(0.95, Number(values.paced) || 0))
const log = (line: string) => process.stderr.write(`${line}\n`)

interface Workload {
  name: string
  title: string
  unit: string
  /** Messages delivered per message published (the rate's unit over the generator's `--rate`). */
  perPublish: number
  args: string[]
}

const common = ['pub', '--payload', '64', '--messages', '5000000', '--duration', String(seconds)]
const WORKLOADS: Workload[] = [
  {
    name: 'fanin-qos0',
    title: 'QoS 0 fan-in, 10 publishers → 1 subscriber',
    unit: 'msg/s',
    perPublish: 1,
    args: [...common, '--publishers', '10', '--subscribers', '1', '--qos', '0'],
  },
  {
    name: 'fanout-qos0',
    title: 'QoS 0 fan-out, 1 publisher → 10 subscribers',
    unit: 'deliveries/s',
    perPublish: 10,
    args: [...common, '--publishers', '1', '--subscribers', '10', '--qos', '0'],
  },
  {
    name: 'fanin-qos1',
    title: 'QoS 1 fan-in (subscriber QoS 1), window 100',
    unit: 'msg/s',
    perPublish: 1,
    args: [...common, '--publishers', '10', '--subscribers', '1', '--qos', '1', '--window', '100'],
  },
]
const workloads =
  values.workloads === undefined
    ? WORKLOADS
    : WORKLOADS.filter((w) => values.workloads!.split(',').includes(w.name))

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
if (availableParallelism() < 2 || !hasTaskset()) {
  log('bench:scaling needs 2 CPUs and taskset (server on one, generator on the other)')
  process.exit(1)
}

interface Config {
  label: string
  workers: number
  serverCpus: string
  generatorCpus: string | null
  root?: string
}

const here = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const configs: Config[] = [
  { label: '1 core, workers 1', workers: 1, serverCpus: '1', generatorCpus: '0' },
  { label: '1 core, workers 2', workers: 2, serverCpus: '1', generatorCpus: '0' },
  { label: '2 cores, workers 1', workers: 1, serverCpus: '0,1', generatorCpus: null },
  { label: '2 cores, workers 2', workers: 2, serverCpus: '0,1', generatorCpus: null },
]
if (values['one-core']) configs.splice(2, 2)
if (values.baseline !== undefined) {
  configs.push(
    {
      label: 'baseline 1 core, workers 1',
      workers: 1,
      serverCpus: '1',
      generatorCpus: '0',
      root: values.baseline,
    },
    {
      label: 'baseline 1 core, workers 2',
      workers: 2,
      serverCpus: '1',
      generatorCpus: '0',
      root: values.baseline,
    },
  )
}

interface Run {
  rate: number
  p50Ms: number
  p99Ms: number
  lost: number
  serverPct: number | null
  generatorPct: number
  serverUsPerMsg: number | null
  pressurePct: number | null
}

type Lat = { p50Ms: number; p99Ms: number }
type Cpu = { generatorPct: number; serverPct: number | null; serverSeconds?: number | null }

/** `rate`: the generator's total publish rate (messages/s); 0: unpaced. */
async function measure(config: Config, w: Workload, rate = 0): Promise<Run> {
  const workloadArgs = rate > 0 ? [...w.args, '--rate', String(rate)] : w.args
  const server = await startServer('mqttd', {
    cpus: config.serverCpus,
    mqttdWorkers: config.workers,
    mqttdConfig: {},
    ...(config.root === undefined ? {} : { root: config.root }),
  })
  try {
    if (warmup > 0) {
      const args = [...workloadArgs]
      args[args.indexOf('--duration') + 1] = String(warmup)
      await generate(
        { port: server.port, pid: server.pid, cpus: config.generatorCpus, quick: false, log },
        args,
      )
    }
    const pressure = pressureWindow()
    const r = await generate(
      { port: server.port, pid: server.pid, cpus: config.generatorCpus, quick: false, log },
      workloadArgs,
    )
    const cpu = r.cpu as Cpu
    const received = r.received as number
    return {
      rate: r.receivedPerSecond as number,
      p50Ms: (r.latency as Lat).p50Ms,
      p99Ms: (r.latency as Lat).p99Ms,
      lost: r.lost as number,
      serverPct: cpu.serverPct,
      generatorPct: cpu.generatorPct,
      serverUsPerMsg:
        cpu.serverSeconds == null || received === 0
          ? null
          : Math.round((cpu.serverSeconds / received) * 1e7) / 10,
      pressurePct: pressure.read(),
    }
  } finally {
    await server.stop()
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)]!
}

const startedAt = new Date().toISOString()
log(
  `bench:scaling ${startedAt}: ${repeat} round(s) of ${seconds} s per figure after ${warmup} s of warm-up, configurations interleaved; ` +
    'one core: server on CPU 1, generator on CPU 0; two cores: both unpinned on CPUs 0-1',
)
const runs = new Map<string, Run[]>()
for (let k = 0; k < repeat; k++) {
  for (const w of workloads) {
    for (const c of configs) {
      const key = `${w.name}|${c.label}`
      try {
        const run = await measure(c, w)
        log(
          `  round ${k + 1} ${w.name} [${c.label}]: ${run.rate.toLocaleString('en-US')} ${w.unit}, p99 ${run.p99Ms} ms, lost ${run.lost}, server ${run.serverPct}% ` +
            `(${run.serverUsPerMsg} µs/msg), generator ${run.generatorPct}%, CPU pressure ${run.pressurePct}%`,
        )
        runs.set(key, [...(runs.get(key) ?? []), run])
      } catch (err) {
        log(`  round ${k + 1} ${w.name} [${c.label}]: ERROR ${(err as Error).message}`)
      }
    }
  }
}

// Paced: both one-core configurations of this checkout at the same rate, a share of what two workers moved
const paced = new Map<string, Run[]>()
const pacedRate = new Map<string, number>()
if (pacedShare > 0) {
  for (const w of workloads) {
    const two = summary(w, configs[1]!)
    if (two === undefined) continue
    pacedRate.set(w.name, Math.max(1, Math.round((pacedShare * two.rate) / w.perPublish)))
  }
  for (let k = 0; k < repeat; k++) {
    for (const w of workloads) {
      const rate = pacedRate.get(w.name)
      if (rate === undefined) continue
      for (const c of configs.slice(0, 2)) {
        try {
          const run = await measure(c, w, rate)
          log(
            `  paced round ${k + 1} ${w.name} [${c.label}] at ${rate.toLocaleString('en-US')} publishes/s: ` +
              `${run.rate.toLocaleString('en-US')} ${w.unit}, p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, lost ${run.lost}, ` +
              `server ${run.serverPct}% (${run.serverUsPerMsg} µs/msg)`,
          )
          paced.set(`${w.name}|${c.label}`, [...(paced.get(`${w.name}|${c.label}`) ?? []), run])
        } catch (err) {
          log(`  paced round ${k + 1} ${w.name} [${c.label}]: ERROR ${(err as Error).message}`)
        }
      }
    }
  }
}

function summary(w: Workload, c: Config, from: Map<string, Run[]> = runs): Run | undefined {
  const list = from.get(`${w.name}|${c.label}`)
  if (list === undefined || list.length === 0) return undefined
  const n = (f: (r: Run) => number | null) => {
    const xs = list.map(f).filter((x): x is number => x !== null)
    return xs.length === 0 ? null : median(xs)
  }
  return {
    rate: n((r) => r.rate)!,
    p50Ms: n((r) => r.p50Ms)!,
    p99Ms: n((r) => r.p99Ms)!,
    lost: Math.max(...list.map((r) => r.lost)),
    serverPct: n((r) => r.serverPct),
    generatorPct: n((r) => r.generatorPct)!,
    serverUsPerMsg: n((r) => r.serverUsPerMsg),
    pressurePct: n((r) => r.pressurePct),
  }
}

const rows: string[][] = [
  [
    'workload',
    'cores',
    'workers: 1',
    'workers: 2',
    'ratio',
    'p99 w1 / w2',
    'p99 ratio',
    'lost (w1/w2)',
    'µs/msg w1 / w2',
    'generator CPU',
  ],
]
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
for (const w of workloads) {
  const pairs: [string, Config, Config][] = []
  for (let i = 0; i + 1 < configs.length; i += 2) {
    const c = configs[i]!
    pairs.push([
      `${c.serverCpus === '1' ? '1' : '2'}${c.root === undefined ? '' : ' (baseline)'}`,
      c,
      configs[i + 1]!,
    ])
  }
  for (const [cores, c1, c2] of pairs) {
    const a = summary(w, c1)
    const b = summary(w, c2)
    if (a === undefined || b === undefined) {
      rows.push([
        w.title,
        cores,
        a ? fmt(a.rate) : 'error',
        b ? fmt(b.rate) : 'error',
        'n/a',
        '',
        '',
        '',
        '',
        '',
      ])
      continue
    }
    rows.push([
      `${w.title} (${w.unit})`,
      cores,
      fmt(a.rate),
      fmt(b.rate),
      (b.rate / a.rate).toFixed(2),
      `${a.p99Ms} / ${b.p99Ms} ms`,
      (b.p99Ms / a.p99Ms).toFixed(2),
      `${a.lost} / ${b.lost}`,
      `${a.serverUsPerMsg} / ${b.serverUsPerMsg}`,
      cores === '2'
        ? `${a.generatorPct}% / ${b.generatorPct}%`
        : `own core (${a.generatorPct}% / ${b.generatorPct}%)`,
    ])
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
const out = [
  line(rows[0]!),
  `| ${widths.map((n) => '-'.repeat(n)).join(' | ')} |`,
  ...rows.slice(1).map(line),
]
process.stdout.write(`${out.join('\n')}\n`)
process.stdout.write(
  'ratio = workers 2 / workers 1 (throughput, higher is better; p99 lower is better). Generator CPU: 100 = one core; ' +
    'on two cores the generator shares the CPUs with the server.\n',
)
if (paced.size > 0) {
  const prows: string[][] = [
    [
      'workload (one core, paced)',
      'publishes/s',
      'delivered w1 / w2',
      'p50 w1 / w2',
      'p99 w1 / w2',
      'p99 ratio',
      'lost (w1/w2)',
    ],
  ]
  for (const w of workloads) {
    const a = summary(w, configs[0]!, paced)
    const b = summary(w, configs[1]!, paced)
    if (a === undefined || b === undefined) continue
    prows.push([
      w.title,
      fmt(pacedRate.get(w.name)!),
      `${fmt(a.rate)} / ${fmt(b.rate)}`,
      `${a.p50Ms} / ${b.p50Ms} ms`,
      `${a.p99Ms} / ${b.p99Ms} ms`,
      (b.p99Ms / a.p99Ms).toFixed(2),
      `${a.lost} / ${b.lost}`,
    ])
  }
  const pw = prows[0]!.map((_, i) => Math.max(...prows.map((r) => r[i]!.length)))
  const pline = (r: string[]) => `| ${r.map((c, i) => c.padEnd(pw[i]!)).join(' | ')} |`
  process.stdout.write(
    `\n${[pline(prows[0]!), `| ${pw.map((n) => '-'.repeat(n)).join(' | ')} |`, ...prows.slice(1).map(pline)].join('\n')}\n` +
      `paced: both configurations at ${pacedShare} times the median rate of two workers above (medians of ${repeat} round(s)).\n`,
  )
}

const file =
  values.out ?? join(here, 'load-tests', 'results', `scaling-${startedAt.replace(/[:.]/g, '-')}.json`)
mkdirSync(dirname(file), { recursive: true })
writeFileSync(
  file,
  JSON.stringify(
    {
      startedAt,
      repeat,
      seconds,
      configs,
      runs: Object.fromEntries(runs),
      paced: Object.fromEntries(paced),
      pacedShare,
    },
    null,
    2,
  ),
)
log(`results: ${file}`)
