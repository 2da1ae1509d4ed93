#!/usr/bin/env node
/**
 * `npm run bench:persistence`: QoS 1 to persistent sessions (3.1.1 clean
 * session 0), fan-in (10 publishers → 1 subscriber) and point to point (10
 * publishers, each to its own subscriber), against mqttd memory-only,
 * `persistence.sync: batch`, `sync: always`, and mosquitto with
 * `persistence true`, interleaved round by round in one run (the machine may be
 * shared: compare within a round). Prints delivered msg/s, the ratio to
 * memory-only, end-to-end and PUBACK p99.
 *
 * usage: npm run bench:persistence -- [--rounds 3] [--duration 5] [--workers 2] [--out FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { type StartOptions, startServer, unavailable } from '../compare/targets.ts'
import { main as generate } from '../generator/main.ts'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    workers: { type: 'string', default: '2' },
    out: { type: 'string' },
  },
})
const rounds = Math.max(1, Math.min(9, Number(values.rounds)))
const workers = Number(values.workers)
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
  delivered: number
  e2eP99Ms: number
  ackP99Ms: number
  lossPct: number
}

const samples = new Map<string, Sample[]>()

async function measure(target: Target, scenario: ScenarioName): Promise<Sample> {
  const server = await startServer(target.server, {
    cpus: null,
    mqttdWorkers: workers,
    mqttdConfig: {},
    // A busy shared machine starts two worker threads slowly
    startTimeoutMs: 90_000,
    ...target.options,
  })
  try {
    const { result } = await generate([
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
      values.duration,
      '--server-pid',
      String(server.pid),
      '--quiet',
      '--out',
      join(here, '..', 'results', `persistence-last.json`),
      ...scenarios[scenario],
    ])
    const r = result as {
      receivedPerSecond: number
      lossPct: number
      latency: { p99Ms: number }
      ackLatency: { p99Ms: number } | null
    }
    return {
      delivered: r.receivedPerSecond,
      e2eP99Ms: r.latency.p99Ms,
      ackP99Ms: r.ackLatency?.p99Ms ?? 0,
      lossPct: r.lossPct,
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
        const s = await measure(target, scenario)
        const key = `${scenario}\u0000${target.name}`
        samples.set(key, [...(samples.get(key) ?? []), s])
        log(
          `round ${round} ${scenario} ${target.name}: ${s.delivered} msg/s, e2e p99 ${s.e2eP99Ms.toFixed(1)} ms, PUBACK p99 ${s.ackP99Ms.toFixed(1)} ms, loss ${s.lossPct}%`,
        )
      } catch (err) {
        log(`round ${round} ${scenario} ${target.name}: failed: ${(err as Error).message}`)
      }
    }
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

const lines = [
  '| scenario | server | delivered msg/s (median) | vs memory-only | e2e p99 ms | PUBACK p99 ms | loss % |',
  '| --- | --- | --- | --- | --- | --- | --- |',
]
for (const scenario of Object.keys(scenarios) as ScenarioName[]) {
  const base = median((samples.get(`${scenario}\u0000mqttd memory`) ?? []).map((s) => s.delivered))
  for (const target of targets) {
    const list = samples.get(`${scenario}\u0000${target.name}`)
    if (list === undefined) continue
    const rate = median(list.map((s) => s.delivered))
    const ratio = base > 0 ? `${Math.round((rate / base) * 100)} %` : '—'
    lines.push(
      `| ${scenario} | ${target.name} | ${rate} | ${ratio} | ${median(list.map((s) => s.e2eP99Ms)).toFixed(1)} | ${median(list.map((s) => s.ackP99Ms)).toFixed(1)} | ${median(list.map((s) => s.lossPct))} |`,
    )
  }
}
const table = lines.join('\n')
process.stdout.write(`\n${table}\n`)
const file = values.out ?? join(here, '..', 'results', `persistence-${startedAt.replace(/[:.]/g, '-')}.json`)
mkdirSync(dirname(file), { recursive: true })
writeFileSync(
  file,
  `${JSON.stringify({ startedAt, rounds, workers, samples: Object.fromEntries(samples), table }, null, 2)}\n`,
)
log(`result written to ${file}`)
