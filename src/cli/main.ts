/**
 * The `mqttd` command: start a server from a config file (or the embedded
 * default), check a config, or print the effective config.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import closeWithGrace from 'close-with-grace'
import { assertSafeExposure, authSettings } from '../auth/exposure.ts'
import { loadAuthData } from '../auth/state.ts'
import { checkStoreDir } from '../broker/store/store-file.ts'
import { type LoadedConfig, loadConfig } from '../config/load.ts'
import { redactConfig } from '../config/redact.ts'
import { errorTable, isErrorCode, mqttdError } from '../errors.ts'
import { validateHandlers } from '../handlers/loader.ts'
import { createLogger } from '../log/logger.ts'
import { handlerSpecs, persistenceOf, specsToCheck } from '../main/handler-specs.ts'
import { startServer } from '../main/server.ts'
import { readTlsMaterial } from '../main/tls-material.ts'

export const helpText = `Usage: mqttd [options]
       mqttd passwd [--sha512] FILE USER

MQTT connection server: pooled TCP/TLS/WebSocket listeners, handler modules, built-in broker.

Options:
  -c, --config <file>   Config file (YAML or JSON). Without it: TCP 127.0.0.1:1883,
                        WS 127.0.0.1:8083/mqtt, admin 127.0.0.1:9883, built-in broker.
      --check           Validate the config (schema, handler modules, TLS files) and exit.
      --print-config    Print the effective config (defaults and environment applied, secrets
                        redacted) and exit.
      --json            With --print-config: print JSON instead of YAML.
  -h, --help            Show this help.
  -v, --version         Show the version.

Environment overrides: MQTTD_WORKERS, MQTTD_LOG_LEVEL, MQTTD_MAX_CONNECTIONS, MQTTD_MAX_PACKET_SIZE,
MQTTD_DRAIN_TIMEOUT_MS, MQTTD_ADMIN_ENABLED, MQTTD_ADMIN_HOST, MQTTD_ADMIN_PORT, MQTTD_ADMIN_TOKEN,
MQTTD_AUTH_PASSWORD_FILE, MQTTD_AUTH_ACL_FILE, MQTTD_AUTH_ALLOW_ANONYMOUS, MQTTD_LOG_PRETTY.
SIGTERM/SIGINT drain the server (MQTT 5 clients get DISCONNECT 0x8B); a second signal exits at once.
SIGHUP re-reads the config file and applies what can change live (password and ACL files, TLS
certificates, log level, limits, admin token); a bad new config is refused and the old one stays.

mqttd passwd FILE USER creates or updates USER in a mosquitto password file ($7$ PBKDF2-SHA512).
`

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

/** Writes a coded error with how to solve it; returns the exit code. */
function report(err: unknown): number {
  const e = err as { code?: string; message?: string }
  const code = typeof e?.code === 'string' ? e.code : 'ERR_UNKNOWN'
  process.stderr.write(`mqttd: ${code}: ${e?.message ?? String(err)}\n`)
  if (isErrorCode(code)) process.stderr.write(`  ${errorTable[code].solve}\n`)
  return 1
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        check: { type: 'boolean', default: false },
        'print-config': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    }).values
  } catch (err) {
    throw mqttdError('MQTTD_ERR_CLI_USAGE', (err as Error).message)
  }
}

/** Everything `--check` verifies without opening a socket. */
async function check(loaded: LoadedConfig): Promise<void> {
  const specs = handlerSpecs(loaded.config)
  assertSafeExposure(loaded.config)
  const auth = authSettings(loaded.config)
  if (auth !== null) loadAuthData(auth)
  await validateHandlers(specsToCheck(specs), loaded.baseDir)
  for (const listener of loaded.config.listeners) {
    if (listener.type === 'tls' || listener.type === 'wss') readTlsMaterial(listener)
  }
  const persistence = persistenceOf(loaded.config)
  if (persistence !== undefined) checkStoreDir(persistence.dir)
}

/** Runs the CLI; sets `process.exitCode` (the server keeps the process alive until a signal). */
export async function main(argv: string[]): Promise<void> {
  let loaded: LoadedConfig
  if (argv[0] === 'passwd') {
    try {
      // imported for this subcommand only: a running server needs neither readline nor the hashing
      const { passwd } = await import('./passwd.ts')
      await passwd(argv.slice(1), { stdin: process.stdin, stderr: process.stderr })
    } catch (err) {
      process.exitCode = report(err)
    }
    return
  }
  try {
    const args = parse(argv)
    if (args.help) {
      process.stdout.write(helpText)
      return
    }
    if (args.version) {
      process.stdout.write(`${version()}\n`)
      return
    }
    loaded = loadConfig(args.config)
    if (args['print-config']) {
      const shown = redactConfig(loaded.config)
      process.stdout.write(
        args.json ? `${JSON.stringify(shown, null, 2)}\n` : (await import('yaml')).stringify(shown),
      )
      return
    }
    if (args.check) {
      await check(loaded)
      process.stdout.write(`mqttd: ${loaded.file ?? 'the embedded default config'} is valid\n`)
      return
    }
  } catch (err) {
    process.exitCode = report(err)
    return
  }

  const logger = createLogger(loaded.config.log)
  if (loaded.file !== null) logger.info({ config: loaded.file, env: loaded.env }, 'config loaded')
  // signal handlers first: a SIGTERM that comes while the server starts (or right after its
  // "listening" line) must drain, not kill the process
  const starting = startServer(loaded.config, {
    logger,
    baseDir: loaded.baseDir,
    configFile: loaded.file,
  })
  const grace = closeWithGrace(
    {
      // SIGHUP reloads (below) instead of shutting down
      skip: ['SIGHUP'],
      delay: loaded.config.shutdown.drainTimeoutMs + 10_000,
      logger: { error: (m: unknown) => logger.error(m) },
    },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'fatal error, shutting down')
      else logger.info({ signal }, 'shutting down: draining clients')
      const server = await starting.catch(() => undefined)
      await server?.close()
      logger.flush?.()
    },
  )
  // until the server runs, a SIGHUP is ignored rather than ending the process
  const ignoreHup = () => logger.warn('SIGHUP while starting: ignored')
  process.on('SIGHUP', ignoreHup)
  let server: Awaited<typeof starting>
  try {
    server = await starting
  } catch (err) {
    process.off('SIGHUP', ignoreHup)
    grace.uninstall()
    logger.flush?.()
    process.exitCode = report(err)
    return
  }
  process.off('SIGHUP', ignoreHup)
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'reloading the config')
    void server.reload()
  })
}
