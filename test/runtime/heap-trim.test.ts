import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { getHeapStatistics } from 'node:v8'
import { startHeapTrim } from '../../src/runtime/heap-trim.ts'

const MB = 1024 * 1024

/** Objects that live a little while, as connections under churn do: the heap grows by tens of MB. */
function burst(): number {
  let live: unknown[] = []
  let made = 0
  for (let i = 0; i < 300_000; i++) {
    live.push({ id: i, list: new Array(16).fill(i), name: `c${i}` })
    made++
    if (live.length > 20_000) live = live.slice(10_000)
  }
  return made
}

test('after a burst, the idle thread gives its heap back and leaves no global gc behind', async () => {
  const stop = startHeapTrim({ intervalMs: 20, growthBytes: 8 * MB })
  try {
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'gc is not exposed to other code')
    // let the start-up trim run first, so the next one is the burst's
    await sleep(200)
    const before = getHeapStatistics().total_heap_size
    burst()
    const grown = getHeapStatistics().total_heap_size
    assert.ok(grown - before > 8 * MB, `the burst grew the heap (${Math.round((grown - before) / MB)} MB)`)
    // bounded wait for the trim (a condition, not a duration)
    for (let i = 0; i < 250 && getHeapStatistics().total_heap_size > before + 4 * MB; i++) await sleep(20)
    const after = getHeapStatistics().total_heap_size
    assert.ok(
      after <= before + 4 * MB,
      `heap back to ${Math.round(after / MB)} MB from ${Math.round(grown / MB)} MB`,
    )
  } finally {
    stop()
  }
})

test('threads that start trimming at the same time all get gc: the flag is toggled under one lock', async () => {
  const { Worker } = await import('node:worker_threads')
  const { exposedGc, gcFlagLock } = await import('../../src/runtime/heap-trim.ts')
  const module = new URL('../../src/runtime/heap-trim.ts', import.meta.url).href
  // every thread loaded the module, then all take gc 300 times at once, the main thread too
  const go = new Int32Array(new SharedArrayBuffer(4))
  const source = `
    const { workerData, parentPort } = require('node:worker_threads')
    import(workerData.module).then(({ exposedGc }) => {
      parentPort.postMessage('ready')
      Atomics.wait(workerData.go, 0, 0)
      let failed = 0
      for (let i = 0; i < 300; i++) {
        try { if (typeof exposedGc(workerData.lock) !== 'function') failed++ } catch { failed++ }
      }
      parentPort.postMessage(failed)
    })`
  const lock = gcFlagLock()
  const threads = Array.from(
    { length: 4 },
    () => new Worker(source, { eval: true, workerData: { module, lock, go } }),
  )
  const next = () =>
    threads.map(
      (w) =>
        new Promise<unknown>((resolve, reject) => {
          w.once('message', resolve)
          w.once('error', reject)
        }),
    )
  await Promise.all(next())
  const results = next()
  Atomics.store(go, 0, 1)
  Atomics.notify(go, 0)
  let mainFailed = 0
  for (let i = 0; i < 300; i++) {
    try {
      if (typeof exposedGc(lock) !== 'function') mainFailed++
    } catch {
      mainFailed++
    }
  }
  const failed = await Promise.all(results)
  await Promise.all(threads.map((w) => w.terminate()))
  assert.deepEqual(failed, [0, 0, 0, 0], 'no worker found the flag turned off under it')
  assert.equal(mainFailed, 0)
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined')
})
