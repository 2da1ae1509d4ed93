/**
 * The handler modules a server runs: the config's list, then the built-in
 * broker unless `broker: false`.
 */
import { fileURLToPath } from 'node:url'
import type { MqttdConfig } from '../config/schema.ts'
import type { HandlerSpec } from '../handlers/loader.ts'

export const brokerModule = fileURLToPath(new URL('../broker/index.ts', import.meta.url))

export function handlerSpecs(config: MqttdConfig): HandlerSpec[] {
  const specs = config.handlers.map((entry) => (typeof entry === 'string' ? { module: entry } : { ...entry }))
  if (config.broker !== false) {
    specs.push({ module: brokerModule, options: config.broker === true ? {} : config.broker })
  }
  return specs
}
