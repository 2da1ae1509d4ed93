/**
 * CPU pressure (Linux PSI, /proc/pressure/cpu): the share of wall time in
 * which some runnable task waited for a CPU. On a machine shared with other
 * work it tells whether a figure was measured in quiet or under contention.
 */
import { readFileSync } from 'node:fs'

function stallMicros(): number | null {
  try {
    const m = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'))
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** Starts a window; `read()` returns the stalled share of it in percent, or null without PSI. */
export function pressureWindow(): { read(): number | null } {
  const t0 = performance.now()
  const s0 = stallMicros()
  return {
    read() {
      const s1 = stallMicros()
      if (s0 === null || s1 === null) return null
      const wallUs = (performance.now() - t0) * 1000
      return Math.round(((s1 - s0) / wallUs) * 1000) / 10
    },
  }
}
