// The version check that runs before anything else (bin/mqttd.js, npm's pre-scripts): who reads
// MQTTD_ERR_NODE_VERSION decides what it must say. A user of the installed package can only install
// a Node; a developer in a clone can also use the Node that `npm ci` brings.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { delimiter, join } from 'node:path'
import { test } from 'node:test'
import { isSupportedNode, nodeVersionAdvice } from '../../src/runtime/node-support.js'

test('supported versions: 24.20+ on 24.x, 26.6+ on 26.x, anything later', () => {
  for (const v of ['24.20.0', '24.21.3', '26.6.0', '26.10.0', '27.0.0']) assert.ok(isSupportedNode(v), v)
  for (const v of ['20.20.2', '22.12.0', '24.19.9', '25.9.0', '26.5.1']) assert.ok(!isSupportedNode(v), v)
})

test('installed under node_modules: install a supported Node, nothing about clones or npm ci', () => {
  const advice = nodeVersionAdvice('file:///srv/app/node_modules/mqttd/src/runtime/node-support.js')
  assert.match(advice, /^Install Node 26\.6 or later/)
  assert.doesNotMatch(advice, /npm ci|clone/)
})

test('in a clone: the npm scripts, or installing a Node', () => {
  const advice = nodeVersionAdvice('file:///home/dev/mqttd/src/runtime/node-support.js')
  assert.match(advice, /^In a clone of mqttd, run it through npm \(npm start \/ npm test\)/)
  assert.match(advice, /Elsewhere, install Node 26\.6 or later/)
})

test('bin/mqttd.js on an unsupported Node stops with exit 1 and the clone advice', (t) => {
  const old = (process.env.PATH ?? '')
    .split(delimiter)
    .map((d) => join(d, 'node'))
    .find((file) => {
      try {
        return !isSupportedNode(
          execFileSync(file, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim(),
        )
      } catch {
        return false
      }
    })
  if (old === undefined) {
    t.skip('no unsupported node on PATH')
    return
  }
  const bin = new URL('../../bin/mqttd.js', import.meta.url).pathname
  const result = spawnSync(old, [bin, '--version'], { encoding: 'utf8' })
  assert.equal(result.status, 1)
  assert.match(result.stderr, /^MQTTD_ERR_NODE_VERSION: mqttd needs Node >= 24\.20 \(24\.x\) or >= 26\.6/)
  assert.match(result.stderr, /In a clone of mqttd/)
})
