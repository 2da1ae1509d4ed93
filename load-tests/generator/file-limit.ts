/**
 * Open-file limit checks. Node already lifts its soft RLIMIT_NOFILE to the
 * hard limit at start-up; past that only a privileged shell can raise it
 * (`bash -c 'ulimit -n 65536; exec …'`, which is how compare/run.ts starts
 * servers). Here we read the limit so a run that cannot fit says so up front.
 */
import { readFileSync } from 'node:fs'

/** Soft and hard open-file limits of `pid` (default: this process). */
export function fileLimits(pid: number | 'self' = 'self'): { soft: number; hard: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/limits`, 'utf8')
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text)
    if (!m) return null
    const n = (s: string) => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s))
    return { soft: n(m[1]!), hard: n(m[2]!) }
  } catch {
    return null
  }
}

/** Warns on stderr when `needed` descriptors will not fit this process's limit. */
export function checkFileLimit(needed = 0): void {
  const limits = fileLimits()
  if (limits && needed > 0 && limits.soft < needed + 64) {
    process.stderr.write(
      `warning: open-file limit ${limits.soft} (hard ${limits.hard}) is below the ${needed} connections asked for; ` +
        `start through: bash -c 'ulimit -n 65536 && exec npm run load -- …'\n`,
    )
  }
}
