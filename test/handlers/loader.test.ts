// resolveHandlerUrl: a handler given by package name resolves as an `import` written in a module
// in the config's folder would (its node_modules folders, the ESM conditions), never from mqttd's
// own location.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { importHandler, resolveHandlerUrl } from '../../src/handlers/loader.ts'

const dir = mkdtempSync(join(tmpdir(), 'mqttd-loader-'))
const configDir = join(dir, 'app', 'config')
mkdirSync(configDir, { recursive: true })
after(() => rmSync(dir, { recursive: true, force: true }))

function pkg(where: string, name: string, manifest: Record<string, unknown>, files: Record<string, string>) {
  const root = join(where, 'node_modules', name)
  mkdirSync(root, { recursive: true })
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name, version: '1.0.0', ...manifest }))
  for (const [file, text] of Object.entries(files)) writeFileSync(join(root, file), text)
  return root
}

const handlerSource = (name: string) => `export default { name: '${name}', onConnect() {} }\n`

test('an ESM-only package (exports: { import }) beside the config resolves and loads', async () => {
  const root = pkg(
    configDir,
    'esm-only-handler',
    { type: 'module', exports: { import: './main.js' } },
    {
      'main.js': handlerSource('esm-only'),
    },
  )
  assert.equal(
    await resolveHandlerUrl('esm-only-handler', configDir),
    pathToFileURL(join(root, 'main.js')).href,
  )
  const definition = await importHandler('esm-only-handler', configDir)
  assert.equal((definition as { name: string }).name, 'esm-only')
})

test('a dual package resolves to its import entry, not its require entry', async () => {
  const root = pkg(
    configDir,
    'dual-handler',
    { exports: { import: './esm.mjs', require: './cjs.cjs' } },
    { 'esm.mjs': handlerSource('esm'), 'cjs.cjs': 'module.exports = {}\n' },
  )
  assert.equal(await resolveHandlerUrl('dual-handler', configDir), pathToFileURL(join(root, 'esm.mjs')).href)
})

test('node_modules folders above the config folder count, as for any import', async () => {
  const root = pkg(
    join(dir, 'app'),
    'parent-handler',
    { type: 'module', exports: './h.js' },
    {
      'h.js': handlerSource('parent'),
    },
  )
  assert.equal(await resolveHandlerUrl('parent-handler', configDir), pathToFileURL(join(root, 'h.js')).href)
  // a subpath export
  pkg(
    configDir,
    'sub-handler',
    { type: 'module', exports: { './auth': { import: './auth.js' } } },
    {
      'auth.js': handlerSource('sub'),
    },
  )
  assert.match(await resolveHandlerUrl('sub-handler/auth', configDir), /sub-handler\/auth\.js$/)
})

test("a package only mqttd itself depends on is not found from the config's folder", async () => {
  // pino is in mqttd's node_modules, not in the app's: the config cannot name it by accident.
  await assert.rejects(resolveHandlerUrl('pino', configDir), /Cannot find package 'pino'/)
  await assert.rejects(
    importHandler('no-such-handler-package', configDir),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MQTTD_ERR_HANDLER_LOAD')
      assert.match(err.message, /no-such-handler-package/)
      return true
    },
  )
})
