/**
 * The server's logger: JSON lines (pino) by default, for files and
 * containers; human-readable lines (pino-pretty) when `log.pretty` is true,
 * or when it is unset and stdout is a terminal. Values under keys that
 * usually hold secrets are censored wherever they appear in a line's fields.
 */
import { createRequire } from 'node:module'
import pino, { type Logger } from 'pino'
import type PinoPretty from 'pino-pretty'

// loaded only when wanted: JSON logging (containers, files) does not pay for its import
const require = createRequire(import.meta.url)

/** Fields never written as they are (a handler logging a packet or a config must not leak them). */
export const redactedPaths = [
  'password',
  'token',
  'authorization',
  '*.password',
  '*.token',
  '*.authorization',
  '*.*.password',
  '*.*.token',
  'headers.authorization',
  'req.headers.authorization',
]

/** Whether lines should be human-readable: `log.pretty`, else whether stdout is a terminal. */
export function wantsPretty(setting: boolean | undefined): boolean {
  return setting ?? process.stdout.isTTY === true
}

/** Creates a logger for `level`, pretty or JSON; `bindings` go on every line (e.g. the worker). */
export function createLogger(
  options: { level: string; pretty?: boolean | undefined },
  bindings?: Record<string, unknown>,
): Logger {
  const base = {
    level: options.level,
    redact: { paths: redactedPaths, censor: '[redacted]' },
    ...(bindings === undefined ? {} : { base: bindings }),
  }
  if (!wantsPretty(options.pretty)) return pino(base)
  const pretty = require('pino-pretty') as typeof PinoPretty
  return pino(base, pretty({ colorize: process.stdout.isTTY === true, sync: true }))
}

/**
 * A packet as the trace lines show it: its fields without the password, and
 * without the payload unless `payloads` (then as UTF-8 when it decodes, else base64).
 */
export function packetSummary(packet: object, payloads: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(packet)) {
    if (key === 'password') continue
    if (key === 'payload' || (key === 'will' && value !== undefined)) {
      if (key === 'will') {
        const { payload, ...rest } = value as { payload?: Buffer }
        out.will = payloads
          ? { ...rest, payload: printable(payload) }
          : { ...rest, payloadBytes: payload?.length ?? 0 }
      } else if (payloads) out.payload = printable(value as Buffer | string)
      else
        out.payloadBytes =
          typeof value === 'string' ? Buffer.byteLength(value) : ((value as Buffer)?.length ?? 0)
      continue
    }
    out[key] = value
  }
  return out
}

function printable(payload: Buffer | string | undefined): string | undefined {
  if (payload === undefined || typeof payload === 'string') return payload
  const text = payload.toString('utf8')
  return Buffer.from(text, 'utf8').equals(payload) ? text : `base64:${payload.toString('base64')}`
}
