/**
 * The handler modules a server runs: the built-in auth when the config has
 * `auth:`, the config's list, then the built-in broker unless `broker: false`.
 */
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { authSettings } from '../auth/exposure.ts'
import { parseBrokerOptions } from '../broker/options.ts'
import type { PersistenceOptions } from '../broker/store/store-file.ts'
import type { MqttdConfig } from '../config/schema.ts'
import type { HandlerSpec } from '../handlers/loader.ts'

// `.ts` when running from the sources, `.js` in the built package (dist/).
const ext = extname(import.meta.url)
export const brokerModule = fileURLToPath(new URL(`../broker/index${ext}`, import.meta.url))
export const authModule = fileURLToPath(new URL(`../auth/handler${ext}`, import.meta.url))

/** The broker's store settings (resolved by validateConfig), when the broker runs and persistence is on. */
export function persistenceOf(config: MqttdConfig): PersistenceOptions | undefined {
  if (config.broker === false || config.persistence === false) return undefined
  return config.persistence as PersistenceOptions
}

/** `baseDir`: where the config's relative paths start (the cluster's TLS files). */
export function handlerSpecs(config: MqttdConfig, baseDir = process.cwd()): HandlerSpec[] {
  const specs = config.handlers.map((entry) => (typeof entry === 'string' ? { module: entry } : { ...entry }))
  const auth = authSettings(config)
  // first: refusals stand before any user handler or the broker sees the client
  if (auth !== null) specs.unshift({ module: authModule, options: { ...auth } })
  if (config.broker !== false) {
    // Validated here, once: a worker then need not load the schema library (broker/index.ts)
    const options: Record<string, unknown> = {
      ...parseBrokerOptions(config.broker === true ? {} : config.broker),
      optionsResolved: true,
    }
    // The store is the broker's: it gets the resolved top-level section
    const persistence = persistenceOf(config)
    if (persistence !== undefined) options.persistence = persistence
    // Likewise the cluster (top-level too: the main thread uses it)
    if (config.cluster !== undefined) options.cluster = { ...config.cluster, baseDir }
    specs.push({ module: brokerModule, options })
  }
  return specs
}

/**
 * The specs whose modules the main thread imports at start to check them (the
 * workers import them all): a user's module fails there with one coded error.
 * The built-in modules ship with this package and are tested; the broker alone
 * would load the whole broker, mqtt-packet and its streams into the main
 * thread, which never runs them.
 */
export function specsToCheck(specs: readonly HandlerSpec[]): HandlerSpec[] {
  return specs.filter((spec) => spec.module !== brokerModule && spec.module !== authModule)
}
