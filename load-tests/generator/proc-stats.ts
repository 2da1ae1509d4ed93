/**
 * CPU and memory of a process from /proc (Linux). CPU is read as utime+stime
 * clock ticks so the generator can report the server's CPU next to its own
 * without any agent in the server.
 */
import { readFileSync } from 'node:fs'

/** USER_HZ: 100 on every Linux x86-64/arm64 build we run on. */
const CLOCK_TICKS = 100

/** CPU seconds (user + system, all threads) used so far by `pid`, or null if it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm may contain spaces and parentheses: fields start after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is state (field 3); utime is field 14, stime field 15
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return null
  }
}

/** Resident set size of `pid` in bytes (VmRSS), or null if it is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    return m ? Number(m[1]) * 1024 : null
  } catch {
    return null
  }
}

/** This process's CPU seconds, all threads. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** Measures CPU use of this process and, optionally, of a server process over an interval. */
export class CpuMeter {
  readonly #serverPid: number | undefined
  #t0 = 0
  #self0 = 0
  #server0: number | null = null

  constructor(serverPid?: number) {
    this.#serverPid = serverPid
    this.reset()
  }

  reset(): void {
    this.#t0 = performance.now()
    this.#self0 = selfCpuSeconds()
    this.#server0 = this.#serverPid === undefined ? null : cpuSeconds(this.#serverPid)
  }

  /** Percent of one core since the last reset (100 = one core fully busy). */
  read(): {
    seconds: number
    generatorPct: number
    serverPct: number | null
    generatorSeconds: number
    serverSeconds: number | null
  } {
    const seconds = (performance.now() - this.#t0) / 1000
    const self = selfCpuSeconds() - this.#self0
    let server: number | null = null
    if (this.#serverPid !== undefined && this.#server0 !== null) {
      const now = cpuSeconds(this.#serverPid)
      if (now !== null) server = now - this.#server0
    }
    return {
      seconds,
      generatorPct: round1((self / seconds) * 100),
      serverPct: server === null ? null : round1((server / seconds) * 100),
      // CPU time is what a process ran, not what it waited: it stays meaningful when the machine is busy
      generatorSeconds: Math.round(self * 1000) / 1000,
      serverSeconds: server === null ? null : Math.round(server * 100) / 100,
    }
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10
}
