import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'

const helper = new URL('../../src/runtime/broadcast-receive.ts', import.meta.url).href

/** Runs `body` (an ES module's code) in a fresh worker thread; resolves with its one message and exit code. */
async function inWorker(body: string): Promise<{ message: unknown; code: number }> {
  const source = `import { parentPort, BroadcastChannel } from 'node:worker_threads'\nimport { onBroadcast } from ${JSON.stringify(helper)}\n${body}`
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`))
  let message: unknown
  worker.on('message', (m) => {
    message = m
  })
  const [code] = (await once(worker, 'exit')) as [number]
  return { message, code }
}

test('messages arrive with their data, and the thread does not load undici for a MessageEvent', async () => {
  const { message, code } = await inWorker(`
    const a = new BroadcastChannel('t'), b = new BroadcastChannel('t')
    const got = []
    onBroadcast(a, (data) => {
      got.push(data)
      if (got.length < 2) return
      const undici = process.moduleLoadList.some((m) => m.includes('undici'))
      parentPort.postMessage({ got, undici })
      a.close()
      b.close()
    })
    b.postMessage({ n: 1 })
    b.postMessage({ n: 2 })
  `)
  assert.equal(code, 0)
  assert.deepEqual(message, { got: [{ n: 1 }, { n: 2 }], undici: false })
})

test('an unref()ed channel stays unref()ed: it does not keep the thread alive', async () => {
  // the worker's exit is the sentinel: a channel that kept a ref would keep it running
  const { message, code } = await inWorker(`
    const a = new BroadcastChannel('u')
    a.unref()
    onBroadcast(a, () => {})
    parentPort.postMessage('set')
  `)
  assert.equal(message, 'set')
  assert.equal(code, 0)
})
