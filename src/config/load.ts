/**
 * Reads a config file (YAML or JSON), applies environment overrides and
 * validates. Without a file the embedded default applies (TCP 1883, WS 8083,
 * admin 9883, all on loopback, the built-in broker).
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, extname, resolve } from 'node:path'
import { mqttdError, mqttdErrorWithCause } from '../errors.ts'
import { applyEnv } from './env.ts'
import type { MqttdConfig } from './schema.ts'
import { validateConfig } from './validate.ts'

// The YAML parser is loaded when a YAML file is read, not at start: the embedded default and JSON
// files need none of its ~0.85 MB of heap in a server that runs for months (yaml is CommonJS)
const require = createRequire(import.meta.url)

export interface LoadedConfig {
  config: MqttdConfig
  /** Absolute path of the file read, or null for the embedded default. */
  file: string | null
  /** Directory handler modules and TLS files are resolved from. */
  baseDir: string
  /** Environment overrides that were applied. */
  env: string[]
}

/** Parses config text; `.json` as JSON, everything else as YAML (a superset of JSON). */
export function parseConfigText(text: string, file: string): unknown {
  try {
    if (extname(file).toLowerCase() === '.json') return JSON.parse(text)
    const { parse } = require('yaml') as typeof import('yaml')
    return parse(text, { prettyErrors: true })
  } catch (err) {
    throw mqttdErrorWithCause('MQTTD_ERR_CONFIG_PARSE', err, file, (err as Error).message)
  }
}

/**
 * Loads the effective config from `file` (or the embedded default when
 * absent), with `env` overrides.
 * @throws MQTTD_ERR_CONFIG_READ, MQTTD_ERR_CONFIG_PARSE, MQTTD_ERR_CONFIG_INVALID
 */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let raw: unknown = {}
  let path: string | null = null
  if (file !== undefined) {
    path = resolve(file)
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (err) {
      throw mqttdErrorWithCause('MQTTD_ERR_CONFIG_READ', err, path, (err as Error).message)
    }
    raw = parseConfigText(text, path)
    if (raw === null || raw === undefined) raw = {}
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      throw mqttdError(
        'MQTTD_ERR_CONFIG_INVALID',
        ` in ${path}`,
        '(root): must be an object (a mapping of keys)',
      )
    }
  }
  const baseDir = path === null ? process.cwd() : dirname(path)
  const { config, applied } = applyEnv(raw as Record<string, unknown>, env)
  const source =
    (path ?? 'the embedded default config') +
    (applied.length > 0 ? ` (environment: ${applied.join(', ')})` : '')
  return { config: validateConfig(config, { baseDir, source }), file: path, baseDir, env: applied }
}
