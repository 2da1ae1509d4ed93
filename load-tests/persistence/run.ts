#!/usr/bin/env node
/**
 * `npm run bench:persistence`: QoS 1 to persistent sessions (3.1.1 clean
 * session 0), fan-in (10 publishers → 1 subscriber) and point to point (10
 * publishers, each to its own subscriber), against mqttd memory-only,
 * `persistence.sync: batch`, `sync: always`, and mosquitto with
 * `persistence true`, interleaved round by round in one run (the machine may be
 * shared: compare within a round). Prints delivered msg/s, the ratio to
 * memory-only, end-to-end and PUBACK p50/p99, the server's CPU per message,
 * and for mqttd with a store its own commit timings (mqttd_store_commit_seconds
 * from the admin API: group commits per second, mean time until durable).
 *
 * A server that does not start (a busy machine) is tried once more, then its
 * row says `failed` rather than vanishing from the table.
 *
 * Each server first runs the same scenario for `--warmup` seconds (default 2,
 * unmeasured, its own client ids and topics): a fresh server's first seconds
 * run unoptimised code, and the durable path has more of it to compile.
 *
 * usage: npm run bench:persistence -- [--rounds 3] [--duration 5] [--warmup 2] [--workers 2] [--out FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { type RunningServer, type StartOptions, startServer, unavailable } from '../compare/targets.ts'
import { main as generate } from '../generator/main.ts'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    workers: { type: 'string', default: '2' },
    out: { type: 'string' },
  },
})
const rounds = Math.max(1, Math.min(9, Number(values.rounds)))
const workers = Number(values.workers)
const warmup = Math.max(0, Math.min(30, Number(values.warmup)))
const here = dirname(fileURLToPath(import.meta.url))
const log = (line: string) => process.stderr.write(`${line}\n`)

interface Target {
  name: string
  server: 'mqttd' | 'mosquitto'
  options: Partial<StartOptions>
}

const targets: Target[] = [
  { name: 'mqttd memory', server: 'mqttd', options: { mqttdConfig: { persistence: false } } },
  { name: 'mqttd batch', server: 'mqttd', options: { mqttdConfig: { persistence: { sync: 'batch' } } } },
  { name: 'mqttd always', server: 'mqttd', options: { mqttdConfig: { persistence: { sync: 'always' } } } },
  { name: 'mosquitto persistence', server: 'mosquitto', options: { mosquittoPersistence: true } },
]

const scenarios = {
  'fan-in': ['--publishers', '10', '--subscribers', '1'],
  'point-to-point': ['--publishers', '10', '--pairs'],
} as const
type ScenarioName = keyof typeof scenarios

interface Sample {
  round: number
  delivered: number
  e2eP50Ms: number
  e2eP99Ms: number
  ackP50Ms: number
  ackP99Ms: number
  lossPct: number
  /** Server CPU per delivered message, µs (100% = one core). */
  cpuUsPerMsg: number
  /** Group commits per second and their mean time until durable (mqttd with a store). */
  commitsPerSecond: number | undefined
  commitMeanMs: number | undefined
}

const samples = new Map<string, Sample[]>()
const failures = new Map<string, string[]>()

/** The store's commit histogram (sum, count) from the admin API, summed over the workers. */
async function commitTotals(server: RunningServer): Promise<{ sum: number; count: number } | undefined> {
  if (server.adminPort === undefined) return undefined
  try {
    const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text()
    const value = (name: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
    }
    const sum = value('mqttd_store_commit_seconds_sum')
    const count = value('mqttd_store_commit_seconds_count')
    return sum === undefined || count === undefined ? undefined : { sum, count }
  } catch {
    return undefined
  }
}

async function start(target: Target): Promise<RunningServer> {
  const options: StartOptions = {
    cpus: null,
    mqttdWorkers: workers,
    mqttdConfig: {},
    // A busy shared machine starts two worker threads slowly
    startTimeoutMs: 90_000,
    ...target.options,
  }
  try {
    return await startServer(target.server, options)
  } catch (err) {
    log(`${target.name}: start failed (${(err as Error).message.split('\n')[0]}), trying once more`)
    return startServer(target.server, options)
  }
}

/** The generator's arguments: one scenario against one server for `seconds`. */
function generatorArgs(
  server: RunningServer,
  scenario: ScenarioName,
  seconds: number,
  out: string,
): string[] {
  return [
    'pub',
    '--port',
    String(server.port),
    '--qos',
    '1',
    '--persistent',
    '--payload',
    '64',
    '--window',
    '100',
    '--messages',
    '2000000',
    '--duration',
    String(seconds),
    '--server-pid',
    String(server.pid),
    '--quiet',
    '--out',
    join(here, '..', 'results', out),
    ...scenarios[scenario],
  ]
}

async function measure(target: Target, scenario: ScenarioName, round: number): Promise<Sample> {
  const server = await start(target)
  try {
    if (warmup > 0) await generate(generatorArgs(server, scenario, warmup, 'persistence-warmup.json'))
    const before = await commitTotals(server)
    const { result } = await generate(
      generatorArgs(server, scenario, Number(values.duration), 'persistence-last.json'),
    )
    const r = result as {
      receivedPerSecond: number
      seconds: number
      lossPct: number
      latency: { p50Ms: number; p99Ms: number }
      ackLatency: { p50Ms: number; p99Ms: number } | null
      cpu: { serverPct: number | null }
    }
    const after = await commitTotals(server)
    const commits = before !== undefined && after !== undefined ? after.count - before.count : undefined
    return {
      round,
      delivered: r.receivedPerSecond,
      e2eP50Ms: r.latency.p50Ms,
      e2eP99Ms: r.latency.p99Ms,
      ackP50Ms: r.ackLatency?.p50Ms ?? 0,
      ackP99Ms: r.ackLatency?.p99Ms ?? 0,
      lossPct: r.lossPct,
      cpuUsPerMsg: r.receivedPerSecond > 0 ? ((r.cpu.serverPct ?? 0) * 1e4) / r.receivedPerSecond : 0,
      commitsPerSecond: commits === undefined ? undefined : commits / r.seconds,
      commitMeanMs:
        commits === undefined || commits === 0 ? undefined : ((after!.sum - before!.sum) / commits) * 1000,
    }
  } finally {
    await server.stop()
  }
}

const startedAt = new Date().toISOString()
log(`bench:persistence ${startedAt}: ${rounds} rounds, ${values.duration} s each, mqttd ${workers} workers`)
for (let round = 1; round <= rounds; round++) {
  for (const scenario of Object.keys(scenarios) as ScenarioName[]) {
    for (const target of targets) {
      const why = unavailable(target.server)
      if (why !== null) {
        log(`${target.name}: skipped, ${why}`)
        continue
      }
      try {
        const s = await measure(target, scenario, round)
        const key = `${scenario}\u0000${target.name}`
        samples.set(key, [...(samples.get(key) ?? []), s])
        const commits =
          s.commitsPerSecond === undefined
            ? ''
            : `, ${Math.round(s.commitsPerSecond)} commits/s of ${s.commitMeanMs?.toFixed(2) ?? '-'} ms`
        log(
          `round ${round} ${scenario} ${target.name}: ${s.delivered} msg/s, e2e p50/p99 ${s.e2eP50Ms.toFixed(1)}/${s.e2eP99Ms.toFixed(1)} ms, PUBACK p50/p99 ${s.ackP50Ms.toFixed(1)}/${s.ackP99Ms.toFixed(1)} ms, server ${s.cpuUsPerMsg.toFixed(1)} µs/msg, loss ${s.lossPct}%${commits}`,
        )
      } catch (err) {
        const why = (err as Error).message.split('\n')[0] ?? String(err)
        const key = `${scenario}\u0000${target.name}`
        failures.set(key, [...(failures.get(key) ?? []), why])
        log(`round ${round} ${scenario} ${target.name}: failed: ${why}`)
      }
    }
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

/**
 * The ratio to memory-only is the median of the per-round ratios: each round
 * runs its targets back to back, so a busy moment of the machine hits a round
 * rather than one target.
 */
function ratioToMemory(scenario: ScenarioName, target: string): string {
  const base = samples.get(`${scenario}\u0000mqttd memory`) ?? []
  const list = samples.get(`${scenario}\u0000${target}`) ?? []
  const ratios: number[] = []
  for (const s of list) {
    const b = base.find((x) => x.round === s.round)
    if (b !== undefined && b.delivered > 0) ratios.push(s.delivered / b.delivered)
  }
  return ratios.length === 0 ? '—' : `${Math.round(median(ratios) * 100)} %`
}

const ms = (xs: number[]) => median(xs).toFixed(1)
const lines = [
  '| scenario | server | delivered msg/s (median) | vs memory-only | e2e p50 / p99 ms | PUBACK p50 / p99 ms | server µs/msg | store commits/s, mean ms | loss % |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
]
for (const scenario of Object.keys(scenarios) as ScenarioName[]) {
  for (const target of targets) {
    const key = `${scenario}\u0000${target.name}`
    const list = samples.get(key)
    if (list === undefined) {
      const why = failures.get(key)
      if (why !== undefined) lines.push(`| ${scenario} | ${target.name} | failed: ${why[0]} | | | | | | |`)
      continue
    }
    const commits = list.flatMap((s) => (s.commitsPerSecond === undefined ? [] : [s.commitsPerSecond]))
    const commitMs = list.flatMap((s) => (s.commitMeanMs === undefined ? [] : [s.commitMeanMs]))
    const store =
      commits.length === 0 ? '—' : `${Math.round(median(commits))}, ${median(commitMs).toFixed(2)}`
    lines.push(
      `| ${scenario} | ${target.name} | ${median(list.map((s) => s.delivered))} | ${ratioToMemory(scenario, target.name)} | ${ms(list.map((s) => s.e2eP50Ms))} / ${ms(list.map((s) => s.e2eP99Ms))} | ${ms(list.map((s) => s.ackP50Ms))} / ${ms(list.map((s) => s.ackP99Ms))} | ${ms(list.map((s) => s.cpuUsPerMsg))} | ${store} | ${median(list.map((s) => s.lossPct))} |`,
    )
  }
}
const table = lines.join('\n')
process.stdout.write(`\n${table}\n`)
const file = values.out ?? join(here, '..', 'results', `persistence-${startedAt.replace(/[:.]/g, '-')}.json`)
mkdirSync(dirname(file), { recursive: true })
writeFileSync(
  file,
  `${JSON.stringify({ startedAt, rounds, workers, samples: Object.fromEntries(samples), failures: Object.fromEntries(failures), table }, null, 2)}\n`,
)
log(`result written to ${file}`)
