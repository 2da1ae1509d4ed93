// prom-client's classes come from their own files (src/metrics/prom.ts): the package's index loads
// its Pushgateway, cluster aggregator and default metrics, 64 Node modules, into every thread.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'
import * as prom from '../../src/metrics/prom.ts'
import * as promMain from '../../src/metrics/prom-main.ts'

const require = createRequire(import.meta.url)

test("the classes loaded file by file are prom-client's own (a release that moves a file fails here)", () => {
  const index = require('prom-client') as typeof import('prom-client')
  assert.equal(prom.Registry, index.Registry)
  assert.equal(prom.Counter, index.Counter)
  assert.equal(prom.Gauge, index.Gauge)
  assert.equal(prom.Histogram, index.Histogram)
  assert.equal(promMain.collectDefaultMetrics, index.collectDefaultMetrics)
  assert.equal(promMain.AggregatorRegistry, index.AggregatorRegistry)
})

test("a worker's metrics and the broker load neither prom-client's index, node:http, zlib, cluster, nor the config's libraries", async () => {
  const modules = [
    new URL('../../src/metrics/worker-metrics.ts', import.meta.url).href,
    new URL('../../src/broker/index.ts', import.meta.url).href,
  ]
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads')
     const urls = []
     require('node:module').registerHooks({
       resolve(specifier, context, next) {
         const out = next(specifier, context)
         urls.push(out.url)
         return out
       },
     })
     Promise.all(${JSON.stringify(modules)}.map((m) => import(m))).then(() => parentPort.postMessage({
       builtins: process.moduleLoadList,
       files: [...Object.keys(require('node:module')._cache), ...urls],
     }))`,
    { eval: true },
  )
  const loaded = await new Promise<{ builtins: string[]; files: string[] }>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  await worker.terminate()
  // the sentinel: the broker did load prom-client's classes, so the lists are the real ones
  assert.ok(loaded.files.some((f) => f.endsWith('/prom-client/lib/counter.js')))
  assert.deepEqual(
    loaded.files.filter((f) => /\/prom-client\/(index|lib\/pushgateway|lib\/cluster)\.js$/.test(f)),
    [],
  )
  // nor what the main thread alone uses: the config's schema library, YAML, package resolution
  assert.deepEqual(
    loaded.files.filter((f) => /\/node_modules\/(@sinclair\/typebox|yaml|import-meta-resolve|ajv)\//.test(f)),
    [],
  )
  for (const name of [
    'NativeModule http',
    'NativeModule https',
    'NativeModule zlib',
    'NativeModule cluster',
  ]) {
    assert.ok(!loaded.builtins.includes(name), `${name} is loaded`)
  }
})
