/**
 * Validates a config object against {@link ConfigSchema}, fills defaults and
 * checks the rules a JSON schema cannot say (TLS material per listener type,
 * unique listener names). Errors name the path and the problem:
 * `listeners[1].port: must be <= 65535`.
 */
import { isAbsolute, resolve } from 'node:path'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { brokerOptionsSchema } from '../broker/options.ts'
import { mqttdError } from '../errors.ts'
import { ConfigSchema, type MqttdConfig } from './schema.ts'

// The compiled validator (a generated function of ~100 KB of source, with its Ajv instance) is
// needed at start, on a reload and by --check; held weakly, it leaves the main thread's heap after
// start instead of staying for the server's life. Compiling it again costs 40-70 ms.
let compiled: WeakRef<ValidateFunction<MqttdConfig>> | undefined

function configValidator(): ValidateFunction<MqttdConfig> {
  let validate = compiled?.deref()
  if (validate === undefined) {
    validate = new Ajv({ useDefaults: true, allErrors: true, strict: false }).compile<MqttdConfig>(
      ConfigSchema,
    )
    compiled = new WeakRef(validate)
  }
  return validate
}

/** `/listeners/1/port` → `listeners[1].port` */
export function formatPath(instancePath: string): string {
  let out = ''
  for (const part of instancePath.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~')
    out += /^\d+$/.test(key) ? `[${key}]` : out === '' ? key : `.${key}`
  }
  return out
}

function describe(error: ErrorObject): string {
  const at = formatPath(error.instancePath)
  const join = (key: string) => (at === '' ? key : `${at}.${key}`)
  switch (error.keyword) {
    case 'additionalProperties':
      return `${join(String(error.params.additionalProperty))}: unknown key`
    case 'required':
      return `${join(String(error.params.missingProperty))}: is required`
    case 'enum':
      return `${at || '(root)'}: must be one of ${(error.params.allowedValues as unknown[]).join(', ')}`
    default:
      return `${at || '(root)'}: ${error.message ?? 'is invalid'}`
  }
}

/** Collapses the per-branch noise of anyOf/const into one line per path. */
function schemaErrors(errors: ErrorObject[]): string[] {
  const lines: string[] = []
  const consts = new Map<string, unknown[]>()
  const types = new Map<string, string[]>()
  const anyOf = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath))
  for (const error of errors) {
    if (error.keyword === 'type' && anyOf.has(error.instancePath)) {
      const list = types.get(error.instancePath) ?? []
      list.push(String(error.params.type))
      types.set(error.instancePath, list)
      continue
    }
    if (error.keyword === 'const') {
      const list = consts.get(error.instancePath) ?? []
      list.push(error.params.allowedValue)
      consts.set(error.instancePath, list)
      continue
    }
    if (error.keyword === 'anyOf' && (consts.has(error.instancePath) || types.has(error.instancePath)))
      continue
    lines.push(describe(error))
  }
  for (const [path, allowed] of types) {
    // An object branch that failed on its own keys says more than "must be boolean".
    if (errors.some((e) => e.instancePath.startsWith(`${path}/`))) continue
    lines.push(`${formatPath(path) || '(root)'}: must be ${allowed.join(' or ')}`)
  }
  for (const [path, allowed] of consts) {
    lines.push(`${formatPath(path) || '(root)'}: must be one of ${allowed.join(', ')}`)
  }
  return [...new Set(lines)]
}

function resolveFile(baseDir: string, file: string): string {
  return isAbsolute(file) ? file : resolve(baseDir, file)
}

function isRelativeModule(spec: string): boolean {
  return spec.startsWith('./') || spec.startsWith('../') || isAbsolute(spec) || spec.startsWith('file:')
}

function crossChecks(config: MqttdConfig, baseDir: string): string[] {
  const problems: string[] = []
  const names = new Map<string, number>()
  config.listeners.forEach((listener, i) => {
    listener.name ??= `${listener.type}-${listener.port}`
    const seen = names.get(listener.name)
    if (seen !== undefined)
      problems.push(`listeners[${i}].name: "${listener.name}" is already used by listeners[${seen}]`)
    names.set(listener.name, i)
    const secure = listener.type === 'tls' || listener.type === 'wss'
    for (const key of ['key', 'cert'] as const) {
      if (secure && listener[key] === undefined)
        problems.push(`listeners[${i}].${key}: is required for type ${listener.type}`)
      if (listener[key] !== undefined) listener[key] = resolveFile(baseDir, listener[key])
    }
    if (!secure) {
      for (const key of ['key', 'cert', 'ca'] as const) {
        if (listener[key] !== undefined)
          problems.push(`listeners[${i}].${key}: only allowed for types tls and wss`)
      }
    }
    if (listener.ca !== undefined) {
      listener.ca = Array.isArray(listener.ca)
        ? listener.ca.map((f) => resolveFile(baseDir, f))
        : resolveFile(baseDir, listener.ca)
    }
  })
  if (config.auth !== undefined) {
    for (const key of ['passwordFile', 'aclFile'] as const) {
      const file = config.auth[key]
      if (file !== undefined) config.auth[key] = resolveFile(baseDir, file)
    }
  }
  config.handlers = config.handlers.map((entry) => {
    const item = typeof entry === 'string' ? { module: entry } : entry
    const module = isRelativeModule(item.module) ? resolveFile(baseDir, item.module) : item.module
    return item.options === undefined ? { module } : { module, options: item.options }
  })
  if (config.persistence !== false) {
    const p = config.persistence
    config.persistence = {
      dir: resolveFile(baseDir, p.dir ?? 'data'),
      sync: p.sync ?? 'batch',
      maxBytes: p.maxBytes ?? 1024 * 1024 * 1024,
    }
  }
  // A publish the broker holds back for a slow subscriber keeps its onPublish hook waiting; past
  // the hook timeout the publisher's connection would be closed instead of slowed down.
  // The same holds for the broker's waits on other workers (session hand-over, SUBACK routing).
  if (config.broker !== false) {
    const broker = config.broker === true ? {} : config.broker
    for (const key of ['publishWaitMs', 'clusterTimeoutMs'] as const) {
      const set = broker[key]
      const wait = typeof set === 'number' ? set : brokerOptionsSchema.properties[key].default
      if (wait >= config.limits.hookTimeoutMs) {
        problems.push(
          `broker.${key}: must be < limits.hookTimeoutMs (${wait} >= ${config.limits.hookTimeoutMs})`,
        )
      }
    }
  }
  // A dead worker's consumer must still be there when the survivors have waited deadWorkerAfterMs
  // and looked once more: JetStream removes it, with the messages it held, after consumerIdleMs.
  const cluster = config.cluster
  if (cluster !== undefined && cluster.deadWorkerAfterMs * 2 > cluster.consumerIdleMs) {
    problems.push(
      `cluster.deadWorkerAfterMs: must be at most half of cluster.consumerIdleMs (${cluster.deadWorkerAfterMs} > ${cluster.consumerIdleMs} / 2)`,
    )
  }
  return problems
}

/**
 * Validates `input` (not modified), returns the effective config with
 * defaults filled and relative paths resolved against `baseDir`.
 * @throws MQTTD_ERR_CONFIG_INVALID listing every problem, one per line
 */
export function validateConfig(
  input: unknown,
  options: { baseDir?: string; source?: string } = {},
): MqttdConfig {
  const config = structuredClone(input ?? {}) as MqttdConfig
  const where = options.source === undefined ? '' : ` in ${options.source}`
  const validateSchema = configValidator()
  if (!validateSchema(config)) {
    throw mqttdError('MQTTD_ERR_CONFIG_INVALID', where, schemaErrors(validateSchema.errors ?? []).join('\n'))
  }
  const problems = crossChecks(config, options.baseDir ?? process.cwd())
  if (problems.length > 0) throw mqttdError('MQTTD_ERR_CONFIG_INVALID', where, problems.join('\n'))
  return config
}
