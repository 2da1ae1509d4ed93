#!/usr/bin/env node
// Runs the whole suite with node:test. Without a terminal (CI, pipes) it uses the
// TAP reporter so the closing `# pass N` / `# fail N` lines are in the log.
import { spawnSync } from 'node:child_process'
import { assertSupportedNode } from '../src/runtime/node-support.js'

assertSupportedNode('the test suite')
const reporter = process.stdout.isTTY ? 'spec' : 'tap'
const patterns = process.argv.slice(2)
const args = [
  '--test',
  `--test-reporter=${reporter}`,
  '--test-concurrency=2',
  '--test-timeout=120000',
  ...(patterns.length > 0 ? patterns : ['test/**/*.test.ts']),
]
// `import 'mqttd'` inside the repository resolves to src/ under this condition (see .npmrc), also
// when this script is started with node directly rather than through npm.
const condition = '--conditions=mqttd-source'
const nodeOptions = process.env.NODE_OPTIONS ?? ''
const env = {
  ...process.env,
  NODE_OPTIONS: nodeOptions.includes(condition) ? nodeOptions : `${nodeOptions} ${condition}`.trim(),
}
const { status, signal } = spawnSync(process.execPath, args, { stdio: 'inherit', env })
process.exit(status ?? (signal ? 1 : 0))
