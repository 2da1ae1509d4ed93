/**
 * Loads handler modules named in the config: resolves a path or package
 * name, imports it, checks the default export's shape, and (in a worker)
 * turns a factory into hooks and runs `init`. The main thread loads every
 * module once to validate before any worker starts, so a bad module stops
 * start-up with an error that names it.
 */
import { existsSync } from 'node:fs'
import { basename, extname, isAbsolute, join, sep } from 'node:path'
import { pathToFileURL } from 'node:url'
import { mqttdError, mqttdErrorWithCause } from '../errors.ts'
import type { LoadedHandler } from './chain.ts'
import { type Handler, type HandlerDefinition, hookNames, type WorkerContext } from './types.ts'

/** A handler entry after config validation: absolute path or package name, with options. */
export interface HandlerSpec {
  module: string
  options?: Record<string, unknown>
}

const lifecycleKeys = ['init', 'shutdown'] as const
const allowedKeys = new Set<string>(['name', 'manualAcks', ...lifecycleKeys, ...hookNames])

/** The default name of a handler: file name without extension, or the package name. */
export function defaultHandlerName(spec: string): string {
  if (isAbsolute(spec) || spec.startsWith('file:')) {
    const file = basename(spec)
    const name = file.slice(0, file.length - extname(file).length)
    return name === 'index' ? basename(join(spec, '..')) : name
  }
  return spec
}

/**
 * Resolves a spec to an importable URL. A package name resolves as an `import` written in a
 * module in `baseDir` (the config file's folder) would: from its node_modules folders, with
 * the ESM conditions (`import`, `node`), so an ESM-only package (`exports: { import }`) loads.
 * Node's own `import.meta.resolve` takes no parent URL without a flag, hence import-meta-resolve.
 * @throws when the package cannot be found or its `exports` has no matching entry
 */
export async function resolveHandlerUrl(spec: string, baseDir: string): Promise<string> {
  if (spec.startsWith('file:')) return spec
  if (isAbsolute(spec)) return pathToFileURL(spec).href
  // Loaded for package names only: the built-in modules and paths (all a worker of the default
  // config imports) need none of its ~0.9 MB of heap per thread
  const { resolve } = await import('import-meta-resolve')
  return resolve(spec, pathToFileURL(join(baseDir, sep)).href)
}

/**
 * A path written without `./` (`handlers/x.ts`) is a package name to Node.
 * When that lookup failed and such a file exists beside the config, say so.
 */
function relativePathHint(spec: string, baseDir: string): string {
  if (isAbsolute(spec) || spec.startsWith('file:') || spec.startsWith('.')) return ''
  return existsSync(join(baseDir, spec)) ? `; did you mean ./${spec}?` : ''
}

/** Checks a hooks object; returns the problems (empty when valid). */
export function handlerProblems(handler: unknown): string[] {
  if (typeof handler !== 'object' || handler === null || Array.isArray(handler)) {
    return [`the default export must be a hooks object or a factory function, got ${describeValue(handler)}`]
  }
  const problems: string[] = []
  for (const [key, value] of Object.entries(handler)) {
    if (!allowedKeys.has(key)) {
      problems.push(
        `unknown key "${key}" (allowed: name, manualAcks, init, shutdown, ${hookNames.join(', ')})`,
      )
    } else if (key === 'name') {
      if (typeof value !== 'string' || value === '') problems.push('"name" must be a non-empty string')
    } else if (key === 'manualAcks') {
      if (typeof value !== 'boolean' && value !== undefined) {
        problems.push(`"manualAcks" must be a boolean, got ${describeValue(value)}`)
      }
    } else if (typeof value !== 'function' && value !== undefined) {
      problems.push(`"${key}" must be a function, got ${describeValue(value)}`)
    }
  }
  return problems
}

function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}

/**
 * Imports the module and checks its default export.
 * @throws MQTTD_ERR_HANDLER_LOAD when it cannot be imported, MQTTD_ERR_HANDLER_SHAPE when the export is wrong
 */
export async function importHandler(spec: string, baseDir: string): Promise<HandlerDefinition> {
  let mod: Record<string, unknown>
  try {
    mod = (await import(await resolveHandlerUrl(spec, baseDir))) as Record<string, unknown>
  } catch (err) {
    const message = (err as Error)?.message ?? String(err)
    throw mqttdErrorWithCause('MQTTD_ERR_HANDLER_LOAD', err, spec, message + relativePathHint(spec, baseDir))
  }
  let definition = mod.default
  // CommonJS compiled from ESM/TypeScript: module.exports = { __esModule, default: handler }
  if (typeof definition === 'object' && definition !== null && 'default' in definition) {
    definition = (definition as { default: unknown }).default
  }
  if (definition === undefined) {
    throw mqttdError(
      'MQTTD_ERR_HANDLER_SHAPE',
      spec,
      'it has no default export (export default defineHandler(...))',
    )
  }
  if (typeof definition === 'function') return definition as HandlerDefinition
  const problems = handlerProblems(definition)
  if (problems.length > 0) throw mqttdError('MQTTD_ERR_HANDLER_SHAPE', spec, problems.join('; '))
  return definition as HandlerDefinition
}

/** Validates every module in the main thread (imports each once; factories are not called). */
export async function validateHandlers(specs: readonly HandlerSpec[], baseDir: string): Promise<void> {
  for (const spec of specs) await importHandler(spec.module, baseDir)
}

/**
 * In a worker: imports each module, calls factories with their options, runs
 * `init`, in config order.
 * @throws MQTTD_ERR_HANDLER_LOAD, MQTTD_ERR_HANDLER_SHAPE, MQTTD_ERR_HANDLER_INIT
 */
export async function instantiateHandlers(
  specs: readonly HandlerSpec[],
  baseDir: string,
  makeContext: (options: Record<string, unknown>) => WorkerContext,
): Promise<Array<LoadedHandler & { context: WorkerContext }>> {
  const loaded: Array<LoadedHandler & { context: WorkerContext }> = []
  for (const spec of specs) {
    const definition = await importHandler(spec.module, baseDir)
    const context = makeContext(spec.options ?? {})
    let handler: Handler
    if (typeof definition === 'function') {
      try {
        handler = await definition(context.options, context)
      } catch (err) {
        throw mqttdErrorWithCause(
          'MQTTD_ERR_HANDLER_INIT',
          err,
          spec.module,
          (err as Error)?.message ?? String(err),
        )
      }
      const problems = handlerProblems(handler)
      if (problems.length > 0) {
        throw mqttdError(
          'MQTTD_ERR_HANDLER_SHAPE',
          spec.module,
          `the factory returned: ${problems.join('; ')}`,
        )
      }
    } else {
      handler = definition
    }
    const name = handler.name ?? defaultHandlerName(spec.module)
    try {
      await handler.init?.(context)
    } catch (err) {
      throw mqttdErrorWithCause('MQTTD_ERR_HANDLER_INIT', err, name, (err as Error)?.message ?? String(err))
    }
    loaded.push({ name, handler, context })
  }
  return loaded
}
