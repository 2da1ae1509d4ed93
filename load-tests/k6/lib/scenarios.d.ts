/** Types for scenarios.js. */
import type { K6Config } from './config.js'

export interface Metric {
  add(value: number): void
}
export interface Metrics {
  connectMs: Metric
  latencyMs: Metric
  sent: Metric
  received: Metric
}
export interface Ctx {
  vu: number
  iter: number
  prefix: string
}
// biome-ignore lint/suspicious/noExplicitAny: k6 check() takes predicates over any value
export type Check = (value: any, sets: Record<string, (v: any) => boolean>) => void
// biome-ignore lint/suspicious/noExplicitAny: the xk6-mqtt Client or our WebSocket one
export type ClientClass = new (options?: Record<string, unknown>) => any

type Scenario = (Client: ClientClass, cfg: K6Config, ctx: Ctx, m: Metrics, check: Check) => Promise<unknown>
type Listener = (
  Client: ClientClass,
  cfg: K6Config,
  ctx: Ctx,
  m: Metrics,
  check: Check,
  listenS: number,
) => Promise<unknown>

export const connectStorm: Scenario
export const p2pQos1: Scenario
export const fanOutPublisher: Scenario
export const fanInPublisher: Scenario
export const fanOutSubscriber: Listener
export const fanInConsumer: Listener
export function publisher(kind: string): Scenario
export function subscriber(kind: string, shared: boolean): Listener
export function listenSeconds(cfg: K6Config): number
export function connectStormOptions(cfg: K6Config): Record<string, unknown>
export function p2pOptions(cfg: K6Config): Record<string, unknown>
export function pubSubOptions(cfg: K6Config, subscribers: number, perMessage: number): Record<string, unknown>
export function makeMetrics(Trend: unknown, Counter: unknown): Metrics
