/**
 * Worker-thread entry: runs one shard of publishers or connectors so the
 * generator can use more than one core. Talks to shards.ts by messages:
 * ready -> go -> done (pub) and go -> connected -> release -> closed (conn).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { type ConnectorOptions, Connectors } from './connectors.ts'
import { Histogram } from './histogram.ts'
import { connectPublishers, type PublisherShardOptions, runPublishers } from './publishers.ts'

interface ShardData {
  kind: 'pub' | 'conn'
  options: PublisherShardOptions | ConnectorOptions
  counters: Int32Array
  slot: number
  holdKeepalive: number
}

const data = workerData as ShardData
const port = parentPort!

function next(type: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (msg: { type: string }) => {
      if (msg.type === type) {
        port.off('message', on)
        resolve()
      }
    }
    port.on('message', on)
  })
}

try {
  if (data.kind === 'pub') {
    const opts = data.options as PublisherShardOptions
    const hist = new Histogram()
    const pubs = await connectPublishers(opts, hist)
    port.postMessage({ type: 'ready' })
    await next('go')
    const result = await runPublishers(opts, pubs, data.counters, data.slot, hist)
    port.postMessage({ type: 'done', result })
  } else {
    const opts = data.options as ConnectorOptions
    const c = new Connectors()
    await next('go')
    const timer = setInterval(() => {
      data.counters[data.slot * 2] = c.connected
      data.counters[data.slot * 2 + 1] = c.failed
    }, 200)
    const result = await c.open(opts)
    clearInterval(timer)
    data.counters[data.slot * 2] = c.connected
    data.counters[data.slot * 2 + 1] = c.failed
    c.keepAlive(data.holdKeepalive)
    port.postMessage({ type: 'connected', result })
    await next('release')
    const closedByServer = c.closedByServer
    c.closeAll()
    await c.waitClosed(5000)
    port.postMessage({ type: 'closed', closedByServer })
  }
} catch (err) {
  port.postMessage({ type: 'error', message: (err as Error).message })
}
