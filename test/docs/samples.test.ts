// Slow test (a server start or two per page): runs every code sample of the hand-written docs,
// so the docs cannot rot. Each page gets a work folder that looks like a project depending on
// mqttd (node_modules/mqttd and node_modules/.bin/mqttd link to this repository), fixed ports
// in samples (1883, 8083, 9883, 8883, 8084) are swapped for free ones, and `run=server` samples
// must stop cleanly on SIGTERM. See markdown-samples.ts for the fence attributes.
import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { basename, delimiter, dirname, join, resolve } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { freePorts } from '../../load-tests/free-ports.ts'
import { readSamples, type Sample } from './markdown-samples.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
// Inside the repository (so the samples resolve its node_modules), one folder per run so that
// concurrent runs in the same tree stay apart.
mkdirSync(join(root, '.tmp'), { recursive: true })
const work = mkdtempSync(join(root, '.tmp/docs-samples-'))
const execFileAsync = promisify(execFile)

// Paths relative to the repository root.
export const pages = [
  'README.md',
  'docs/getting-started.md',
  'docs/handlers.md',
  'docs/operations.md',
  'docs/architecture.md',
  'docs/migrating-from-mqtt-connection.md',
]
const fixedPorts = [1883, 8083, 9883, 8883, 8084]
// CI installs every tool a sample needs (.ci/run): there a missing one fails instead of skipping.
const inCI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'
// External MQTT clients the samples call: a sample using one must say so with needs=.
const externalTools = ['mosquitto_pub', 'mosquitto_sub', 'mosquitto_rr']

/** The commands of `names` that are not executable files on `path`. */
function missingCommands(names: readonly string[], path: string): string[] {
  return names.filter(
    (name) =>
      !path.split(delimiter).some((dir) => {
        try {
          accessSync(join(dir, name), constants.X_OK)
          return true
        } catch {
          return false
        }
      }),
  )
}
const codeLangs = new Set(['ts', 'js', 'sh', 'yaml', 'json'])

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000
  for (;;) {
    assert.equal(child.exitCode, null, `server sample exited early:\n${log()}`)
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => r(s.destroy() === s))
      s.once('error', () => r(false))
    })
    if (ok) return
    assert.ok(Date.now() < deadline, `server sample never listened on ${port}:\n${log()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A work folder laid out like a project with mqttd installed. */
function project(name: string): string {
  const dir = join(work, name)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true })
  symlinkSync(root, join(dir, 'node_modules/mqttd'))
  symlinkSync(join(root, 'bin/mqttd.js'), join(dir, 'node_modules/.bin/mqttd'))
  symlinkSync(process.execPath, join(dir, 'node_modules/.bin/node'))
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: `docs-${name}`, private: true, type: 'module' }),
  )
  return dir
}

after(() => rmSync(work, { recursive: true, force: true }))

for (const page of pages) {
  describe(page, () => {
    const samples = readSamples(join(root, page))

    test('every code block runs, is a file the page uses, or says why it cannot run', () => {
      for (const s of samples) {
        if (!codeLangs.has(s.lang)) continue
        const declared =
          s.run !== undefined || s.file !== undefined || (s.norun !== undefined && s.norun !== '')
        assert.ok(declared, `${page}:${s.line}: \`\`\`${s.lang} block needs run, file= or norun="why"`)
        for (const tool of externalTools) {
          if (s.run === undefined || !new RegExp(`\\b${tool}\\b`).test(s.code)) continue
          assert.ok(s.needs.includes(tool), `${page}:${s.line}: the sample calls ${tool}: add needs=${tool}`)
        }
      }
    })

    test('its samples run', { timeout: 90_000 }, async (t) => {
      const dir = project(basename(page, '.md'))
      const ports = await freePorts(fixedPorts.length)
      const rewrite = (code: string) =>
        fixedPorts.reduce(
          (text, port, i) => text.replace(new RegExp(`\\b${port}\\b`, 'g'), String(ports[i])),
          code,
        )
      const env = {
        ...process.env,
        // `import 'mqttd'` in a sample reaches this repository through the node_modules/mqttd link:
        // its sources, as in every test (see .npmrc), also when this file runs without npm.
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=mqttd-source`.trim(),
        PATH: `${join(dir, 'node_modules/.bin')}:${join(root, 'node_modules/.bin')}:${process.env.PATH}`,
        // npx must find the linked mqttd, never fetch a package
        npm_config_offline: 'true',
        npm_config_update_notifier: 'false',
      }
      const servers: Array<{ child: ChildProcess; sample: Sample; log: () => string }> = []
      const skipped: string[] = []
      let failure: unknown
      try {
        let n = 0
        for (const sample of samples) {
          const where = `${page}:${sample.line}`
          if (sample.file !== undefined) {
            mkdirSync(dirname(join(dir, sample.file)), { recursive: true })
            writeFileSync(join(dir, sample.file), rewrite(sample.code))
          }
          if (sample.run === undefined) continue
          const missing = missingCommands(sample.needs, env.PATH)
          if (missing.length > 0) {
            assert.ok(!inCI, `${where} needs ${missing.join(', ')}, which CI must install (.ci/run)`)
            skipped.push(
              `${where} (${missing.join(', ')} not found; Debian: apt-get install mosquitto-clients)`,
            )
            continue
          }
          const code = rewrite(sample.code)
          if (sample.run === 'server') {
            const child = spawn('bash', ['-c', `exec ${code.trim()}`], {
              cwd: dir,
              env,
              stdio: ['ignore', 'pipe', 'pipe'],
            })
            const out: Buffer[] = []
            child.stdout!.on('data', (b: Buffer) => out.push(b))
            child.stderr!.on('data', (b: Buffer) => out.push(b))
            const log = () => Buffer.concat(out).toString()
            servers.push({ child, sample, log })
            // Server samples on these pages listen on 1883 (swapped for ports[0]).
            await waitForPort(ports[0]!, child, log)
            continue
          }
          let cmd: string
          let args: string[]
          if (sample.lang === 'ts' || sample.lang === 'js') {
            const file = join(dir, `sample-${++n}.${sample.lang}`)
            writeFileSync(file, code)
            cmd = process.execPath
            args = [file]
          } else {
            cmd = 'bash'
            args = ['-euo', 'pipefail', '-c', code]
          }
          await execFileAsync(cmd, args, { cwd: dir, env, timeout: 30_000 }).catch((err) => {
            assert.fail(`${where} failed (${err.code ?? err.signal}):\n${code}\n${err.stdout}\n${err.stderr}`)
          })
        }
        if (skipped.length > 0) t.skip(`the other samples ran; skipped ${skipped.join('; ')}`)
      } catch (err) {
        failure = err
        throw err
      } finally {
        for (const { child, sample, log } of servers) {
          if (child.exitCode !== null || child.signalCode !== null) continue
          const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
          child.kill('SIGTERM')
          const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 15_000)
          const code = await exited
          clearTimeout(timer)
          try {
            process.kill(-child.pid!, 'SIGKILL') // anything left in its group
          } catch {}
          // An earlier failure is the one to report.
          if (failure === undefined) {
            assert.equal(code, 0, `${page}:${sample.line}: server did not exit 0 on SIGTERM:\n${log()}`)
          }
        }
      }
    })
  })
}

test('the TypeScript samples typecheck', { timeout: 60_000 }, async () => {
  // Runs after the pages above wrote their files; tsc sees them as a project using mqttd.
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      extends: join(root, 'tsconfig.json'),
      // src's ambient declarations (mqtt-packet internals) come along with the 'mqttd' import
      include: ['**/*.ts', join(root, 'src/**/*.d.ts')],
      exclude: ['**/node_modules'],
    }),
  )
  const tsc = join(root, 'node_modules/.bin/tsc')
  await execFileAsync(tsc, ['--noEmit', '-p', join(work, 'tsconfig.json')], { cwd: root }).catch((err) => {
    assert.fail(`tsc:\n${err.stdout}${err.stderr}`)
  })
})
