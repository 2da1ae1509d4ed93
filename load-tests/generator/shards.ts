/**
 * Splits publishers or connections over `threads` shards. One shard runs in
 * this thread (no worker start-up cost); more run in worker threads. Progress
 * is read from a SharedArrayBuffer the shards write to.
 */
import { Worker } from 'node:worker_threads'
import { type ConnectorOptions, type ConnectorResult, Connectors } from './connectors.ts'
import { Histogram } from './histogram.ts'
import {
  connectPublishers,
  type PublisherShardOptions,
  type PublisherShardResult,
  runPublishers,
} from './publishers.ts'

const workerUrl = new URL('./shard-worker.ts', import.meta.url)

/** Splits `items` into `n` nearly equal consecutive slices. */
export function split<T>(items: T[], n: number): T[][] {
  const out: T[][] = []
  const size = Math.ceil(items.length / n)
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

interface Channel {
  wait(type: string): Promise<Record<string, unknown>>
  send(type: string): void
  terminate(): Promise<void>
}

function spawn(data: Record<string, unknown>): Channel {
  const worker = new Worker(workerUrl, { workerData: data })
  const inbox: Record<string, unknown>[] = []
  const waiters: Array<{
    type: string
    resolve: (m: Record<string, unknown>) => void
    reject: (e: Error) => void
  }> = []
  let failure: Error | null = null
  const fail = (err: Error) => {
    failure = err
    for (const w of waiters.splice(0)) w.reject(err)
  }
  worker.on('message', (m: Record<string, unknown>) => {
    if (m.type === 'error') return fail(new Error(String(m.message)))
    const i = waiters.findIndex((w) => w.type === m.type)
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m)
    else inbox.push(m)
  })
  worker.on('error', fail)
  worker.on('exit', (code) => {
    if (code !== 0) fail(new Error(`shard worker exited with code ${code}`))
  })
  return {
    wait(type) {
      const i = inbox.findIndex((m) => m.type === type)
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]!)
      if (failure) return Promise.reject(failure)
      return new Promise((resolve, reject) => waiters.push({ type, resolve, reject }))
    },
    send(type) {
      worker.postMessage({ type })
    },
    async terminate() {
      await worker.terminate()
    },
  }
}

/** Publisher shards: connect all, then `go()`, then `done` resolves with every shard's result. */
export async function startPublisherShards(base: PublisherShardOptions, threads: number) {
  const slices = split(base.indices, Math.max(1, threads))
  const counters = new Int32Array(new SharedArrayBuffer(slices.length * 2 * 4))
  if (slices.length === 1) {
    const hist = new Histogram()
    const pubs = await connectPublishers(base, hist)
    let start!: () => void
    const started = new Promise<void>((r) => {
      start = r
    })
    const done = started.then(() => runPublishers(base, pubs, counters, 0, hist)).then((r) => [r])
    return { counters, go: start, done }
  }
  const channels = slices.map((indices, slot) =>
    spawn({ kind: 'pub', options: { ...base, indices }, counters, slot, holdKeepalive: 0 }),
  )
  await Promise.all(channels.map((c) => c.wait('ready')))
  const done = Promise.all(
    channels.map(async (c) => {
      const m = await c.wait('done')
      await c.terminate()
      return m.result as PublisherShardResult
    }),
  )
  return {
    counters,
    go: () => {
      for (const c of channels) c.send('go')
    },
    done,
  }
}

/** Connector shards: `connected` resolves once the connect phase ends; `release()` closes all. */
export function startConnectorShards(base: ConnectorOptions, threads: number, holdKeepalive: number) {
  const total = base.to - base.from
  const n = Math.max(1, Math.min(threads, total))
  const counters = new Int32Array(new SharedArrayBuffer(n * 2 * 4))
  const ranges = Array.from({ length: n }, (_, k) => ({
    from: base.from + Math.floor((total * k) / n),
    to: base.from + Math.floor((total * (k + 1)) / n),
  }))
  if (n === 1) {
    const c = new Connectors()
    const timer = setInterval(() => {
      counters[0] = c.connected
      counters[1] = c.failed
    }, 200)
    const connected = c.open(base).then((r) => {
      clearInterval(timer)
      counters[0] = c.connected
      counters[1] = c.failed
      c.keepAlive(holdKeepalive)
      return [r]
    })
    return {
      counters,
      connected,
      async release(): Promise<number> {
        const byServer = c.closedByServer
        c.closeAll()
        await c.waitClosed(5000)
        return byServer
      },
    }
  }
  const channels = ranges.map((r, slot) =>
    spawn({
      kind: 'conn',
      options: { ...base, ...r, rate: base.rate / n },
      counters,
      slot,
      holdKeepalive,
    }),
  )
  for (const c of channels) c.send('go')
  const connected = Promise.all(
    channels.map(async (c) => (await c.wait('connected')).result as ConnectorResult),
  )
  return {
    counters,
    connected,
    async release(): Promise<number> {
      for (const c of channels) c.send('release')
      const closed = await Promise.all(channels.map((c) => c.wait('closed')))
      await Promise.all(channels.map((c) => c.terminate()))
      return closed.reduce((s, m) => s + Number(m.closedByServer), 0)
    },
  }
}
