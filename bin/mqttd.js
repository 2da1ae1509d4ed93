#!/usr/bin/env node
// The CLI entry stays plain JavaScript so that an old Node reaches the version check.
import { assertSupportedNode } from '../src/runtime/node-support.js'

assertSupportedNode('mqttd')
const { main } = await import('../src/cli/main.ts')
await main(process.argv.slice(2))
