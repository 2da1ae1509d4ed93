import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { generated, renderConfiguration, renderErrors, typeOf } from '../../scripts/gen-docs.ts'
import { ConfigSchema } from '../../src/config/schema.ts'
import { errorTable } from '../../src/errors.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

for (const [file, render] of Object.entries(generated)) {
  test(`${file} is the output of scripts/gen-docs.ts (run it after changing the source)`, () => {
    assert.equal(readFileSync(join(root, file), 'utf8'), render())
  })
}

test('the configuration page has a row for every key of the schema, nested ones included', () => {
  const page = renderConfiguration()
  const walk = (schema: Record<string, unknown>, prefix: string): string[] => {
    const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>
    return Object.entries(props).flatMap(([name, prop]) => {
      const key = prefix + name
      const items = prop.items as Record<string, unknown> | undefined
      return [
        key,
        ...(prop.properties ? walk(prop, `${key}.`) : []),
        ...(items?.properties ? walk(items, `${key}[].`) : []),
      ]
    })
  }
  const keys = walk(ConfigSchema as unknown as Record<string, unknown>, '')
  assert.ok(keys.includes('limits.maxPacketSize') && keys.includes('listeners[].port'))
  for (const key of keys)
    assert.match(page, new RegExp(`^\\| \`${key.replace(/[[\].]/g, '\\$&')}\` \\|`, 'm'), key)
  // a machine-dependent default is described, not printed
  assert.match(page, /\| `workers` \| integer 1–1024 \| available parallelism/)
})

/** A table cell as Markdown needs it: no pipe, no line break. */
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ')

test('the errors page lists every code with its reason code', () => {
  const page = renderErrors()
  for (const [code, spec] of Object.entries(errorTable)) {
    const reason =
      'reasonCode' in spec ? `0x${spec.reasonCode.toString(16).toUpperCase().padStart(2, '0')}` : ''
    assert.ok(page.includes(`| \`${code}\` | ${cell(spec.message)} | ${reason} |`), code)
  }
})

test('typeOf renders ranges, literals and lists', () => {
  assert.equal(typeOf({ type: 'integer', minimum: 0, maximum: 9 }), 'integer 0–9')
  assert.equal(typeOf({ anyOf: [{ const: 'a' }, { const: 'b' }] }), '`a` | `b`')
  assert.equal(typeOf({ type: 'array', items: { type: 'string' } }), 'string[]')
})

test('gen-docs --check agrees: exit 0, nothing printed', async () => {
  const run = promisify(execFile)
  const { stdout, stderr } = await run(process.execPath, [join(root, 'scripts/gen-docs.ts'), '--check'])
  assert.equal(stdout + stderr, '')
})
