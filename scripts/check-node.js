#!/usr/bin/env node
// Run by npm's pre-scripts: stops early, with the reason, on a Node that cannot run mqttd.
import { assertSupportedNode } from '../src/runtime/node-support.js'

assertSupportedNode(process.env.npm_lifecycle_event ? `npm ${process.env.npm_lifecycle_event}` : 'mqttd')
