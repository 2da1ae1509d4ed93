/**
 * The handler modules a server runs: the config's list, then the built-in
 * broker unless `broker: false`.
 */
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { MqttdConfig } from '../config/schema.ts'
import type { HandlerSpec } from '../handlers/loader.ts'

// `.ts` when running from the sources, `.js` in the built package (dist/).
export const brokerModule = fileURLToPath(
  new URL(`../broker/index${extname(import.meta.url)}`, import.meta.url),
)

export function handlerSpecs(config: MqttdConfig): HandlerSpec[] {
  const specs = config.handlers.map((entry) => (typeof entry === 'string' ? { module: entry } : { ...entry }))
  if (config.broker !== false) {
    specs.push({ module: brokerModule, options: config.broker === true ? {} : config.broker })
  }
  return specs
}
