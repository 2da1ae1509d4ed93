#!/usr/bin/env node
// `npm run build` (and `npm pack` through prepack): compiles the whole of src/ into dist/ as
// JavaScript with .d.ts and declaration maps (tsconfig.build.json), then copies what tsc does not
// emit: files that are not TypeScript (plain .js, assets) and hand-written .d.ts files.
// dist/ is rebuilt from scratch so that a moved or deleted source leaves nothing behind.
import { spawnSync } from 'node:child_process'
import { cpSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const src = join(root, 'src')
const dist = join(root, 'dist')

rmSync(dist, { recursive: true, force: true })
const tsc = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
})
if (tsc.status !== 0) process.exit(tsc.status ?? 1)
cpSync(src, dist, {
  recursive: true,
  filter: (file) => !file.endsWith('.ts') || file.endsWith('.d.ts'),
})
