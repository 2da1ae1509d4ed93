#!/usr/bin/env node
/** `npm run load -- <pub|conn|idle> [options]`: see options.ts for the flags. */
import { checkFileLimit } from './file-limit.ts'
import { main } from './main.ts'

const i = process.argv.indexOf('--connections')
checkFileLimit(i > 0 ? Number(process.argv[i + 1]) : 0)
try {
  const { file } = await main(process.argv.slice(2))
  process.stderr.write(`result written to ${file}\n`)
  process.exit(0)
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`)
  process.exit(1)
}
