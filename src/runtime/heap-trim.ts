/**
 * Gives a thread's V8 heap back to the operating system after a burst (a
 * reconnect storm, connection churn). V8 grows an isolate's heap under churn
 * and keeps the pages: measured, 30,000 connect/close cycles took a 2-worker
 * server from 228 to 509 MB and it stayed there. An ordinary full GC frees the
 * objects but not the pages; a "last resort" GC (the one V8 runs before it
 * gives up on memory) also releases the pages. This runs one, from a timer,
 * only when the thread is idle and its heap grew by `growthBytes` since the
 * last trim (and once after start): no cost while the thread is busy, at most
 * one full GC per `growthBytes` of growth.
 */
import { performance } from 'node:perf_hooks'
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

type Gc = (options: { type: 'major'; execution: 'async'; flavor: 'last-resort' }) => Promise<void>

export interface HeapTrimOptions {
  /** How often to look. */
  intervalMs: number
  /** Heap growth (total heap size, bytes) since the last trim that makes a trim worth it. */
  growthBytes: number
  /** Event-loop utilization (0–1) over the last interval below which the thread counts as idle. */
  idleUtilization: number
  /** The process's flag lock (gcFlagLock() of the main thread): required in a worker thread. */
  lock: Int32Array
}

const defaults = { intervalMs: 5000, growthBytes: 32 * 1024 * 1024, idleUtilization: 0.05 }

let processLock: Int32Array | undefined

/**
 * The lock every thread of the process holds while it turns `--expose-gc` on
 * and off. V8 flags are process-wide: without it one thread turned the flag
 * off between another's "on" and that thread's context creation, and a worker
 * starting beside another died with "gc is not defined". The main thread
 * makes it; workers get it in their workerData.
 */
export function gcFlagLock(): Int32Array {
  processLock ??= new Int32Array(new SharedArrayBuffer(4))
  return processLock
}

function locked<T>(lock: Int32Array, run: () => T): T {
  // held for one context creation (about a millisecond), so a short wait is enough
  while (Atomics.compareExchange(lock, 0, 0, 1) !== 0) Atomics.wait(lock, 0, 1, 5)
  try {
    return run()
  } finally {
    Atomics.store(lock, 0, 0)
    Atomics.notify(lock, 0)
  }
}

/**
 * `gc` without `--expose-gc` on the command line: the flag is on only while one
 * context is made, so handler code does not find a global `gc`.
 */
export function exposedGc(lock: Int32Array = gcFlagLock()): Gc {
  // started with --expose-gc: leave the flag as it is
  const own = (globalThis as { gc?: unknown }).gc
  if (typeof own === 'function') return own as Gc
  return locked(lock, () => {
    setFlagsFromString('--expose-gc')
    try {
      return runInNewContext('gc') as Gc
    } finally {
      setFlagsFromString('--no-expose-gc')
    }
  })
}

/** Starts trimming this thread's heap when idle; returns the stop function. */
export function startHeapTrim(options: Partial<HeapTrimOptions> = {}): () => void {
  const { intervalMs, growthBytes, idleUtilization, lock } = { ...defaults, ...options }
  const gc = exposedGc(lock)
  let baseline = 0
  // the first idle interval trims whatever the heap's size, giving back what start-up (module loading,
  // JIT) left: a heap that starts below growthBytes (a worker that loads little) was never trimmed
  let started = false
  let last = performance.eventLoopUtilization()
  let running = false
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization()
    const busy = performance.eventLoopUtilization(now, last).utilization
    last = now
    if (running) return
    const total = getHeapStatistics().total_heap_size
    // a heap that shrank by itself is the new reference
    if (total < baseline) baseline = total
    if (busy > idleUtilization || (started && total - baseline < growthBytes)) return
    started = true
    running = true
    gc({ type: 'major', execution: 'async', flavor: 'last-resort' }).then(
      () => {
        running = false
        // what is left is live: grow from here before the next trim
        baseline = getHeapStatistics().total_heap_size
      },
      () => {
        running = false
      },
    )
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
