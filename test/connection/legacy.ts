// mqtt-connection 4.1.0, the library Connection replaces: loaded only to show, in the
// tests, that a scenario fails there. CommonJS without types.

import { createRequire } from 'node:module'
import type { Duplex } from 'node:stream'

export interface LegacyConnection extends NodeJS.EventEmitter {
  destroyed: boolean
  publish(opts: object, cb?: (err?: Error) => void): unknown
  destroy(): void
}

const require = createRequire(import.meta.url)
export const LegacyConnection = require('mqtt-connection') as (
  stream: Duplex,
  opts?: object,
) => LegacyConnection
