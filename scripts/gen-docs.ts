/**
 * Generates the reference pages that must never drift from the code:
 * - docs/configuration.md from the config schema (src/config/schema.ts, a JSON Schema built with
 *   TypeBox, one `description` per key);
 * - docs/errors.md from the error table (src/errors.ts).
 *
 *   node scripts/gen-docs.ts           write both files
 *   node scripts/gen-docs.ts --check   exit 1 when a committed file differs from its generated text
 *
 * test/docs/generated.test.ts runs the check, so a change to the schema or the error table must
 * come with the regenerated pages.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigSchema } from '../src/config/schema.ts'
import { errorTable } from '../src/errors.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** The parts of JSON Schema this schema uses. */
interface Schema {
  type?: string
  description?: string
  default?: unknown
  const?: unknown
  anyOf?: Schema[]
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  patternProperties?: Record<string, Schema>
  minimum?: number
  maximum?: number
  minLength?: number
  minItems?: number
  pattern?: string
}

/**
 * Defaults computed on the machine that loads the schema: printed as the rule, not the number,
 * so the page is the same everywhere.
 */
const machineDefaults: Record<string, string> = {
  workers: 'available parallelism (`os.availableParallelism()`)',
}

const code = (value: unknown) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ')

/** A short type for the table: `integer 0–65535`, `'tcp' | 'tls'`, `string[]`, … */
export function typeOf(schema: Schema): string {
  if (schema.anyOf) {
    if (schema.anyOf.every((s) => s.const !== undefined))
      return schema.anyOf.map((s) => code(s.const)).join(' | ')
    return schema.anyOf.map(typeOf).join(' or ')
  }
  switch (schema.type) {
    case 'integer':
    case 'number': {
      const { minimum: min, maximum: max } = schema
      if (min !== undefined && max !== undefined) return `${schema.type} ${min}–${max}`
      if (min !== undefined) return `${schema.type} ≥ ${min}`
      return schema.type
    }
    case 'string':
      return schema.pattern ? `string (${code(schema.pattern)})` : 'string'
    case 'array':
      if (!schema.items) return 'array'
      return schema.items.anyOf
        ? `list of (${typeOf(schema.items)})`
        : `${typeOf(schema.items).replace(/ .*/, '')}[]`
    case 'object':
      return schema.patternProperties || !schema.properties ? 'object (any keys)' : 'object'
    default:
      return schema.type ?? 'any'
  }
}

interface Row {
  key: string
  type: string
  default: string
  description: string
}

/** One row per key, nested objects flattened to `a.b`, array items to `a[].b`. */
function rows(schema: Schema, prefix: string, out: Row[]): Row[] {
  const required = new Set(schema.required ?? [])
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const key = prefix + name
    let fallback: string
    if (machineDefaults[key] !== undefined) fallback = machineDefaults[key]
    else if (prop.default !== undefined && !(typeof prop.default === 'object' && prop.type === 'object')) {
      fallback =
        prop.type === 'array' && Array.isArray(prop.default) && prop.default.length > 1
          ? 'see below'
          : code(prop.default)
    } else fallback = required.has(name) && prop.default === undefined ? '**required**' : '—'
    out.push({ key, type: typeOf(prop), default: fallback, description: prop.description ?? '' })
    if (prop.type === 'object' && prop.properties) rows(prop, `${key}.`, out)
    // `broker: true | { …options }`: document the object branch's keys too
    for (const branch of prop.anyOf ?? [])
      if (branch.type === 'object' && branch.properties) rows(branch, `${key}.`, out)
    if (prop.type === 'array' && prop.items?.type === 'object' && prop.items.properties)
      rows(prop.items, `${key}[].`, out)
  }
  return out
}

function table(list: Row[]): string {
  const lines = ['| key | type | default | description |', '| --- | --- | --- | --- |']
  for (const r of list)
    lines.push(`| \`${r.key}\` | ${cell(r.type)} | ${cell(r.default)} | ${cell(r.description)} |`)
  return lines.join('\n')
}

export function renderConfiguration(): string {
  const schema = ConfigSchema as unknown as Schema
  const all = rows(schema, '', [])
  const top = Object.keys(schema.properties ?? {})
  const sections = top.map((name) => {
    const prop = schema.properties![name]!
    const own = all.filter(
      (r) => r.key === name || r.key.startsWith(`${name}.`) || r.key.startsWith(`${name}[]`),
    )
    let extra = ''
    if (prop.type === 'array' && Array.isArray(prop.default) && prop.default.length > 1) {
      extra = `\n\nDefault:\n\n\`\`\`json norun="generated: the default value"\n${JSON.stringify(prop.default, null, 2)}\n\`\`\``
    }
    if (name === 'handlers') {
      extra +=
        '\n\nEach entry is a module path (relative to the config file, e.g. `./handlers/auth.ts`) or ' +
        'package name, or `{ module, options }`; `options` is given to the handler. See ' +
        '[handlers.md](handlers.md).'
    }
    return `## \`${name}\`\n\n${table(own)}${extra}`
  })
  return `${[
    '# Configuration reference',
    '',
    '<!-- Generated by scripts/gen-docs.ts from src/config/schema.ts: edit the schema, then run',
    '     `node scripts/gen-docs.ts`. -->',
    '',
    'mqttd reads a YAML or JSON file (`mqttd --config mqttd.yaml`). Every key is optional unless marked',
    '**required**; unknown keys are errors (`MQTTD_ERR_CONFIG_INVALID`, listing every problem). Relative',
    'paths (handler modules, TLS files) are relative to the config file. `mqttd --print-config` shows the',
    'effective config; environment variables that override keys are listed in',
    '[operations.md](operations.md#the-command).',
    '',
    ...sections.flatMap((s) => [s, '']),
  ]
    .join('\n')
    .trimEnd()}\n`
}

export function renderErrors(): string {
  const lines = [
    '# Errors',
    '',
    '<!-- Generated by scripts/gen-docs.ts from src/errors.ts: edit the table, then run',
    '     `node scripts/gen-docs.ts`. -->',
    '',
    'Every error mqttd raises carries a stable `code`. `%s` marks where the message names the',
    'specifics. Where an error answers a client on the wire, MQTT 5 clients get the reason code shown.',
    '',
    '| code | message | MQTT 5 reason code | what to do |',
    '| --- | --- | --- | --- |',
  ]
  for (const [name, spec] of Object.entries(errorTable)) {
    const reason =
      'reasonCode' in spec ? `0x${spec.reasonCode.toString(16).toUpperCase().padStart(2, '0')}` : ''
    lines.push(`| \`${name}\` | ${cell(spec.message)} | ${reason} | ${cell(spec.solve)} |`)
  }
  return `${lines.join('\n')}\n`
}

/** Formats Markdown as the repository's linter (`biome check`) wants it: aligned tables. */
export function formatMarkdown(file: string, text: string): string {
  return execFileSync(join(root, 'node_modules/.bin/biome'), ['format', `--stdin-file-path=${file}`], {
    cwd: root,
    input: text,
    encoding: 'utf8',
  })
}

export const generated: Record<string, () => string> = {
  'docs/configuration.md': () => formatMarkdown('docs/configuration.md', renderConfiguration()),
  'docs/errors.md': () => formatMarkdown('docs/errors.md', renderErrors()),
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check')
  let stale = 0
  for (const [file, render] of Object.entries(generated)) {
    const path = join(root, file)
    const text = render()
    if (check) {
      let current = ''
      try {
        current = readFileSync(path, 'utf8')
      } catch {}
      if (current !== text) {
        stale++
        process.stderr.write(`${file} is out of date: run node scripts/gen-docs.ts\n`)
      }
    } else {
      writeFileSync(path, text)
      process.stdout.write(`wrote ${file}\n`)
    }
  }
  process.exitCode = stale > 0 ? 1 : 0
}
