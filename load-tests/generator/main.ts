/**
 * Runs one scenario from command-line arguments, prints a summary and writes
 * the JSON result (load-tests/results/ unless --out is given).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Config, parseConfig } from './options.ts'
import { runConn } from './scenario-conn.ts'
import { runPub } from './scenario-pub.ts'

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results')

export interface RunOutput {
  file: string
  result: Record<string, unknown>
}

/** Parses `argv`, runs the scenario, writes the JSON result and returns it. */
export async function main(argv: string[]): Promise<RunOutput> {
  const cfg: Config = parseConfig(argv)
  const runId = `${process.pid.toString(36)}${Date.now().toString(36).slice(-5)}`
  const startedAt = new Date().toISOString()
  const data = cfg.scenario === 'pub' ? await runPub(cfg, runId) : await runConn(cfg, runId)
  const result = {
    scenario: cfg.scenario,
    label: cfg.label,
    startedAt,
    target: cfg.target,
    mqttVersion: cfg.protocolVersion,
    threads: cfg.threads,
    serverPid: cfg.serverPid ?? null,
    node: process.version,
    ...data,
  }
  const file = cfg.out ?? join(resultsDir, `${cfg.label}-${startedAt.replace(/[:.]/g, '-')}.json`)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
  if (!cfg.quiet) printSummary(result)
  return { file, result }
}

function printSummary(r: Record<string, unknown>): void {
  const lines: string[] = [`== ${r.label} (${r.scenario}) against ${JSON.stringify(r.target)}`]
  const lat = (name: string, l: unknown) => {
    if (!l || typeof l !== 'object') return
    const s = l as Record<string, number>
    lines.push(`${name}: p50 ${s.p50Ms} ms  p99 ${s.p99Ms} ms  max ${s.maxMs} ms  (n=${s.count})`)
  }
  if (r.scenario === 'pub') {
    lines.push(
      `sent ${r.sent} (${r.sentPerSecond}/s)  received ${r.received}/${r.expected} (${r.receivedPerSecond}/s)  lost ${r.lost} (${r.lossPct}%)  dup ${r.duplicates}`,
    )
    if (r.acked !== null) lines.push(`acked ${r.acked} (${r.ackedPerSecond}/s)`)
    lat('end-to-end latency', r.latency)
    lat('PUBLISH→PUBACK', r.ackLatency)
  } else {
    lines.push(
      `connected ${r.connected}/${r.connections} in ${r.connectSeconds}s (${r.connectionsPerSecond}/s)  failed ${r.failed}`,
    )
    lat('connect→CONNACK', r.connectLatency)
    if (r.idle) {
      const i = r.idle as Record<string, number | null>
      lines.push(
        `server RSS ${i.rssBeforeBytes} → ${i.rssSettledBytes} bytes: ${i.rssPerConnectionBytes} bytes per connection; idle server CPU ${i.idleServerCpuPct}%`,
      )
    }
  }
  const cpu = r.cpu as { generatorPct: number; serverPct: number | null }
  lines.push(`cpu: generator ${cpu.generatorPct}%  server ${cpu.serverPct ?? 'n/a'}% (100% = one core)`)
  const errors = r.errors as string[]
  if (errors.length > 0) lines.push(`errors: ${errors.join('; ')}`)
  process.stdout.write(`${lines.join('\n')}\n`)
}
