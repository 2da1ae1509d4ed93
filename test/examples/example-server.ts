/**
 * Starts the real server (one worker, loopback, ephemeral ports) with example handler modules,
 * for the example tests.
 */
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { MqttdConfigInput } from '../../src/config/schema.ts'
import { startServer } from '../../src/main/server.ts'
import '../helpers/source-condition.ts'

export const examplesDir = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '../..'),
  'examples/handlers',
)

export interface ExampleServer {
  /** mqtt://127.0.0.1:<port> of the TCP listener. */
  mqttUrl: string
  /** http://127.0.0.1:<port> of the admin API ('' when the server has none). */
  adminUrl: string
  close(): Promise<void>
}

/** A handler entry for an example module by file name, with options. */
export function example(file: string, options?: Record<string, unknown>) {
  const module = join(examplesDir, file)
  return options === undefined ? module : { module, options }
}

export async function startExampleServer(config: MqttdConfigInput): Promise<ExampleServer> {
  const server = await startServer({
    workers: 1,
    listeners: [{ name: 'mqtt', type: 'tcp', host: '127.0.0.1', port: 0 }],
    admin: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    shutdown: { drainTimeoutMs: 1000 },
    // Examples run memory-only: no store written into the repository, none shared between test files
    persistence: false,
    ...config,
  })
  const tcp = server.listeners.find((l) => l.type === 'tcp')!
  return {
    mqttUrl: `mqtt://127.0.0.1:${tcp.port}`,
    adminUrl: server.admin === null ? '' : `http://127.0.0.1:${server.admin.port}`,
    close: () => server.close(),
  }
}

/** The value of one sample in the admin /metrics text, or undefined. */
export async function metricValue(adminUrl: string, sample: string): Promise<number | undefined> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text()
  for (const line of text.split('\n')) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1))
  }
  return undefined
}
