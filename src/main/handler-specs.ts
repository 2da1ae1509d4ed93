/**
 * The handler modules a server runs: the config's list, then the built-in
 * broker unless `broker: false`.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { MqttdConfig } from '../config/schema.ts'
import type { HandlerSpec } from '../handlers/loader.ts'

export const brokerModule = fileURLToPath(new URL('../broker/index.ts', import.meta.url))

export function handlerSpecs(config: MqttdConfig): { specs: HandlerSpec[]; brokerMissing: boolean } {
  const specs = config.handlers.map((entry) => (typeof entry === 'string' ? { module: entry } : { ...entry }))
  if (config.broker === false) return { specs, brokerMissing: false }
  // until the broker lands, an absent module leaves the framework defaults (accept, acknowledge)
  if (!existsSync(brokerModule)) return { specs, brokerMissing: true }
  const options = config.broker === true ? {} : config.broker
  specs.push({ module: brokerModule, options })
  return { specs, brokerMissing: false }
}
