/**
 * Starts a real pooled server for a test: N workers, listeners on port 0,
 * the given handler modules, logs silenced, admin off unless asked; torn
 * down by `t.after`. Reused by every area's tests.
 */
import type { TestContext } from 'node:test'
import type { MqttdConfigInput } from '../../src/config/schema.ts'
import { type RunningServer, type StartOptions, startServer } from '../../src/main/server.ts'

export interface TestServerOptions {
  workers?: number
  /** Handler module paths (absolute, or relative to test/) or `{ module, options }`. */
  handlers?: MqttdConfigInput['handlers']
  /** Listener types to open, each on 127.0.0.1 port 0; default ['tcp']. TLS ones need `tls`. */
  listeners?: Array<'tcp' | 'tls' | 'ws' | 'wss'>
  /** Key/cert/ca paths for tls/wss listeners, plus requestCert. */
  tls?: { key: string; cert: string; ca?: string; requestCert?: boolean }
  /** Include the built-in broker; default false (the framework's defaults only). */
  broker?: boolean | Record<string, unknown>
  admin?: boolean
  /** Extra config merged over the above (limits, shutdown, …). */
  config?: MqttdConfigInput
  start?: StartOptions
}

export interface TestServer extends RunningServer {
  /** Port of the first listener of `type`. */
  port(type?: 'tcp' | 'tls' | 'ws' | 'wss'): number
  /** `mqtt://127.0.0.1:port` etc. for the first listener of `type` (ws/wss include the path). */
  url(type?: 'tcp' | 'tls' | 'ws' | 'wss'): string
}

const scheme = { tcp: 'mqtt', tls: 'mqtts', ws: 'ws', wss: 'wss' } as const

export async function startTestServer(
  t: TestContext | null,
  options: TestServerOptions = {},
): Promise<TestServer> {
  const types = options.listeners ?? ['tcp']
  const config: MqttdConfigInput = {
    workers: options.workers ?? 2,
    listeners: types.map((type) => ({
      name: type,
      type,
      host: '127.0.0.1',
      port: 0,
      ...(type === 'tls' || type === 'wss'
        ? {
            key: options.tls?.key,
            cert: options.tls?.cert,
            ca: options.tls?.ca,
            requestCert: options.tls?.requestCert ?? false,
          }
        : {}),
    })) as MqttdConfigInput['listeners'],
    handlers: options.handlers ?? [],
    broker: options.broker ?? false,
    admin: { enabled: options.admin ?? false, host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    // Tests that want a store give their own temp dir; none writes into the repository
    persistence: false,
    ...options.config,
  }
  const server = await startServer(config, {
    baseDir: new URL('..', import.meta.url).pathname,
    ...options.start,
  })
  t?.after(() => server.close())
  const find = (type: keyof typeof scheme) => {
    const listener = server.listeners.find((l) => l.type === type)
    if (listener === undefined) throw new Error(`no ${type} listener in this test server`)
    return listener
  }
  return Object.assign(server, {
    port: (type: keyof typeof scheme = 'tcp') => find(type).port,
    url: (type: keyof typeof scheme = 'tcp') => {
      const l = find(type)
      const path = type === 'ws' || type === 'wss' ? '/mqtt' : ''
      return `${scheme[type]}://127.0.0.1:${l.port}${path}`
    },
  })
}
