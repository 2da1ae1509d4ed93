/** Types for config.js. */
export interface K6Config {
  url: string
  mqttVersion: 4 | 5
  connections: number
  rampS: number
  holdS: number
  vus: number
  publishers: number
  subscribers: number
  consumers: number
  messages: number
  intervalMs: number
  payload: number
  qos: number
  graceS: number
  keepalive: number
}
export function assertLoopbackUrl(url: string): string
export function readConfig(env: Record<string, string | undefined>, defaultUrl: string): K6Config
