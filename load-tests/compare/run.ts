#!/usr/bin/env node
/**
 * `npm run bench:compare`: starts mqttd, mosquitto and aedes one after
 * another, measures the same figures against each (a fresh server per
 * figure), and prints a table with the ratios mqttd / mosquitto and
 * mqttd / aedes. On a machine with 2+ CPUs the server is pinned to CPU 0 and
 * the generator to CPU 1 (taskset) so the figures repeat.
 *
 * `bare` (a Node `net.Server` answering CONNECT and PINGREQ only) is measured for the connection
 * figures (connect rate, idle RSS) as their floor.
 *
 * usage: npm run bench:compare -- [--targets mqttd,mosquitto,aedes,bare] [--figures fanin-qos0,...]
 *        [--quick] [--repeat N] [--no-pin] [--mqttd-workers 1] [--out FILE]
 *
 * With --repeat N each figure is measured N times (fresh server each time) and
 * the median run is reported; all runs are kept in the JSON result.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { FIGURES, type Figure, type FigureName } from './measure.ts'
import { pressureWindow } from './pressure.ts'
import { renderTable } from './table.ts'
import {
  FLOOR_TARGETS,
  type RunningServer,
  startServer,
  TARGET_NAMES,
  type TargetName,
  unavailable,
} from './targets.ts'

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: TARGET_NAMES.join(',') },
    figures: { type: 'string', default: Object.keys(FIGURES).join(',') },
    quick: { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    'mqttd-workers': { type: 'string', default: '1' },
    repeat: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
})

const targets = values.targets.split(',') as TargetName[]
const figures = values.figures.split(',') as FigureName[]
for (const t of targets) if (!TARGET_NAMES.includes(t)) throw new Error(`unknown target ${t}`)
for (const f of figures)
  if (!(f in FIGURES)) throw new Error(`unknown figure ${f} (${Object.keys(FIGURES).join(', ')})`)

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
const generatorCpus = pin ? '1' : null
const log = (line: string) => process.stderr.write(`${line}\n`)

const startedAt = new Date().toISOString()
log(
  `bench:compare ${startedAt}: targets ${targets.join(', ')}; figures ${figures.join(', ')}${values.quick ? ' (quick)' : ''}; ` +
    (pin ? 'server pinned to CPU 0, generator to CPU 1' : 'not pinned'),
)

const repeat = Math.max(1, Math.min(9, Number(values.repeat)))
const results: Record<string, Record<string, Figure | { error: string }>> = {}
const allRuns: Record<string, Array<Figure | { error: string }>> = {}
const startFailed = new Set<TargetName>()
const notes: Record<string, string> = {}
for (const name of targets) {
  results[name] = {}
  const why = unavailable(name)
  if (why) {
    notes[name] = why
    log(`${name}: SKIPPED, ${why}`)
    continue
  }
  for (const figure of figures) {
    // the floors answer CONNECT and PINGREQ only: they are the floor of the connection figures
    if (FLOOR_TARGETS.has(name) && !FIGURES[figure].floor) continue
    log(`${name}: ${FIGURES[figure].title}`)
    const runs: Array<Figure | { error: string }> = []
    for (let k = 0; k < repeat; k++) {
      // a server that did not start once will not start for the next figure either
      if (startFailed.has(name)) runs.push({ error: `not started: ${notes[name]}` })
      else runs.push(await measureOnce(name, figure))
    }
    results[name][figure] = pickMedian(runs)
    if (repeat > 1) allRuns[`${name}/${figure}`] = runs
  }
}

async function measureOnce(name: TargetName, figure: FigureName): Promise<Figure | { error: string }> {
  let server: RunningServer | null = null
  const psi = pressureWindow()
  try {
    server = await startServer(name, {
      cpus: serverCpus,
      mqttdWorkers: Number(values['mqttd-workers']),
      mqttdConfig: {},
    })
    notes[name] = server.description
    const fig = await FIGURES[figure].run({
      port: server.port,
      pid: server.pid,
      cpus: generatorCpus,
      quick: values.quick,
      log,
    })
    const pressure = psi.read()
    fig.detail.cpuPressurePct = pressure
    if (pressure !== null && pressure >= 10) fig.limitedBy += `; machine busy (CPU pressure ${pressure}%)`
    return fig
  } catch (err) {
    const message = (err as Error).message
    log(`  ${name} ${figure} failed: ${message}`)
    if (!server) {
      notes[name] = `did not start: ${message.slice(0, 300)}`
      startFailed.add(name)
    }
    return { error: message }
  } finally {
    await server?.stop()
  }
}

/**
 * The median run. Failed runs (no value, or an error) rank worst: a figure
 * that failed in most repeats is reported as failed.
 */
function pickMedian(runs: Array<Figure | { error: string }>): Figure | { error: string } {
  const score = (r: Figure | { error: string }) => {
    if (!('value' in r) || r.value === null) return -Number.MAX_VALUE
    return r.lowerIsBetter ? -r.value : r.value
  }
  const sorted = [...runs].sort((a, b) => score(a) - score(b))
  const median = sorted[Math.floor(sorted.length / 2)]!
  if (runs.length > 1 && 'detail' in median)
    median.detail.allValues = runs.map((r) => ('value' in r ? r.value : null))
  return median
}

const table = renderTable(targets, figures, results, notes)
process.stdout.write(`\n${table}\n`)

const here = dirname(fileURLToPath(import.meta.url))
const file = values.out ?? join(here, '..', 'results', `compare-${startedAt.replace(/[:.]/g, '-')}.json`)
mkdirSync(dirname(file), { recursive: true })
writeFileSync(
  file,
  `${JSON.stringify(
    {
      startedAt,
      quick: values.quick,
      pinned: pin ? { server: serverCpus, generator: generatorCpus } : null,
      cpus: availableParallelism(),
      node: process.version,
      targets: notes,
      repeat,
      results,
      allRuns,
      table,
    },
    null,
    2,
  )}\n`,
)
log(`result written to ${file}`)
