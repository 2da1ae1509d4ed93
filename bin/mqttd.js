#!/usr/bin/env node
// The CLI entry stays plain JavaScript so that an old Node reaches the version check.
import { assertSupportedNode } from '../src/runtime/node-support.js'

assertSupportedNode('mqttd')
// Node strips TypeScript types only outside node_modules: an installed package runs the
// JavaScript build in dist/, a clone of the repository runs its sources.
const installed = import.meta.url.includes('/node_modules/')
const { main } = await import(installed ? '../dist/cli/main.js' : '../src/cli/main.ts')
await main(process.argv.slice(2))
