/**
 * The `mqttd` command: start a server from a config file (or the embedded
 * default), check a config, or print the effective config.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { stringify } from 'yaml'
import { checkStoreDir } from '../broker/store/store-file.ts'
import { type LoadedConfig, loadConfig } from '../config/load.ts'
import { errorTable, isErrorCode, mqttdError } from '../errors.ts'
import { validateHandlers } from '../handlers/loader.ts'
import { handlerSpecs, persistenceOf } from '../main/handler-specs.ts'
import { startServer } from '../main/server.ts'
import { readTlsMaterial } from '../main/tls-material.ts'

export const helpText = `Usage: mqttd [options]

MQTT connection server: pooled TCP/TLS/WebSocket listeners, handler modules, built-in broker.

Options:
  -c, --config <file>   Config file (YAML or JSON). Without it: TCP 127.0.0.1:1883,
                        WS 127.0.0.1:8083/mqtt, admin 127.0.0.1:9883, built-in broker.
      --check           Validate the config (schema, handler modules, TLS files) and exit.
      --print-config    Print the effective config (defaults and environment applied) and exit.
      --json            With --print-config: print JSON instead of YAML.
  -h, --help            Show this help.
  -v, --version         Show the version.

Environment overrides: MQTTD_WORKERS, MQTTD_LOG_LEVEL, MQTTD_MAX_CONNECTIONS, MQTTD_MAX_PACKET_SIZE,
MQTTD_DRAIN_TIMEOUT_MS, MQTTD_ADMIN_ENABLED, MQTTD_ADMIN_HOST, MQTTD_ADMIN_PORT, MQTTD_ADMIN_TOKEN.
SIGTERM/SIGINT drain the server (MQTT 5 clients get DISCONNECT 0x8B); a second signal exits at once.
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
  await validateHandlers(specs, loaded.baseDir)
  for (const listener of loaded.config.listeners) {
    if (listener.type === 'tls' || listener.type === 'wss') readTlsMaterial(listener)
  }
  const persistence = persistenceOf(loaded.config)
  if (persistence !== undefined) checkStoreDir(persistence.dir)
}

/** Runs the CLI; sets `process.exitCode` (the server keeps the process alive until a signal). */
export async function main(argv: string[]): Promise<void> {
  let loaded: LoadedConfig
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
      process.stdout.write(
        args.json ? `${JSON.stringify(loaded.config, null, 2)}\n` : stringify(loaded.config),
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

  const logger = pino({ level: loaded.config.log.level })
  // signal handlers first: a SIGTERM that comes while the server starts (or right after its
  // "listening" line) must drain, not kill the process
  const starting = startServer(loaded.config, { logger, baseDir: loaded.baseDir })
  const grace = closeWithGrace(
    {
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
  try {
    await starting
  } catch (err) {
    grace.uninstall()
    logger.flush?.()
    process.exitCode = report(err)
    return
  }
  if (loaded.file !== null) logger.info({ config: loaded.file, env: loaded.env }, 'config loaded')
}
