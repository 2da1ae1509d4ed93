/** Prints one progress line per second to stderr while a scenario runs. */
import { selfCpuSeconds } from './proc-stats.ts'

interface Sample {
  line: string
  counters: Record<string, number>
  dt: number
}

export function startProgress(quiet: boolean, sample: (dt: number) => Sample): { stop(): void } {
  if (quiet) return { stop() {} }
  const t0 = performance.now()
  let last = t0
  let lastCpu = selfCpuSeconds()
  let prev: Record<string, number> = {}
  const timer = setInterval(() => {
    const now = performance.now()
    const dt = (now - last) / 1000
    const s = sample(dt)
    const rates = Object.entries(s.counters)
      .map(([k, v]) => `${k}/s ${Math.round((v - (prev[k] ?? 0)) / dt)}`)
      .join('  ')
    const cpu = selfCpuSeconds()
    const cpuPct = Math.round(((cpu - lastCpu) / dt) * 100)
    process.stderr.write(`[${((now - t0) / 1000).toFixed(1)}s] ${s.line}  ${rates}  gen-cpu ${cpuPct}%\n`)
    prev = s.counters
    last = now
    lastCpu = cpu
  }, 1000)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
