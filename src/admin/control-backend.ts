/**
 * An {@link AdminBackend} over the control channel: the main thread asks the
 * workers (connection lists, kick, load) and the metrics aggregator, so the
 * server only has to say which workers are live and whether it is ready.
 *
 * Paging across workers: connections are ordered by (worker threadId, the
 * worker's connection sequence). The cursor carries, per worker, the sequence
 * of the last connection already returned, so each worker is asked only for
 * what comes after it and no connection is listed twice or skipped while
 * clients come and go between pages.
 */
import type { ControlClient } from '../control/control-channel.ts'
import type { ConnectionsListRequest, WorkerLoad } from '../control/protocol.ts'
import { mqttdError } from '../errors.ts'
import type { MetricsAggregator } from '../metrics/metrics-aggregator.ts'
import type { AdminBackend, ConnectionInfo, ConnectionsPage, ConnectionsQuery, WorkerInfo } from './types.ts'

export interface ControlBackendOptions {
  control: ControlClient
  aggregator: MetricsAggregator
  /** threadIds of the live workers, in slot order. */
  workerThreadIds: () => readonly number[]
  isReady: () => boolean
  /** Start-up finished (see AdminBackend.isLive); default: always. */
  isLive?: () => boolean
  /** Restarts of the worker in slot `id` (default 0). */
  restarts?: (id: number, threadId: number) => number
  /** Longest wait for workers per request, ms; default 1000. */
  timeoutMs?: number
}

type Cursor = Record<string, number>

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url')
}

function decodeCursor(text: string): Cursor {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const entries = Object.entries(value)
      if (entries.every(([k, v]) => /^\d+$/.test(k) && Number.isSafeInteger(v))) return value as Cursor
    }
  } catch {
    // falls through to the coded error
  }
  throw mqttdError('MQTTD_ERR_ADMIN_BAD_REQUEST', 'cursor is not a cursor returned by GET /connections')
}

export function createControlBackend(options: ControlBackendOptions): AdminBackend {
  const { control, aggregator } = options
  const timeoutMs = options.timeoutMs ?? 1000
  const lastLoad = new Map<number, WorkerLoad>()

  return {
    isReady: options.isReady,
    ...(options.isLive === undefined ? {} : { isLive: options.isLive }),

    metrics: (accept) => aggregator.scrape(accept),

    async workers(): Promise<WorkerInfo[]> {
      const ids = options.workerThreadIds()
      const result = await control.request('workers:info', null, {
        expectedWorkers: ids.length,
        timeoutMs,
      })
      for (const known of lastLoad.keys()) if (!ids.includes(known)) lastLoad.delete(known)
      return ids.map((threadId, id) => {
        const reply = result.replies.get(threadId)
        if (reply !== undefined) lastLoad.set(threadId, reply)
        const load = reply ?? lastLoad.get(threadId)
        return {
          id,
          threadId,
          connections: load?.connections ?? 0,
          eventLoopUtilization: load?.eventLoopUtilization ?? 0,
          restarts: options.restarts?.(id, threadId) ?? 0,
          responding: reply !== undefined,
        }
      })
    },

    async connections(query: ConnectionsQuery): Promise<ConnectionsPage> {
      const after = query.cursor === undefined ? {} : decodeCursor(query.cursor)
      const ids = [...options.workerThreadIds()].sort((a, b) => a - b)
      const answers = await Promise.all(
        ids.map(async (threadId) => {
          const payload: ConnectionsListRequest = { limit: query.limit }
          const seq = after[threadId]
          if (seq !== undefined) payload.after = seq
          if (query.clientId !== undefined) payload.clientId = query.clientId
          if (query.search !== undefined) payload.search = query.search
          const result = await control.request('connections:list', payload, {
            expectedWorkers: 1,
            target: threadId,
            timeoutMs,
          })
          return { threadId, reply: result.replies.get(threadId) }
        }),
      )
      const merged: Array<{ threadId: number; seq: number; info: ConnectionInfo }> = []
      let more = false
      for (const { threadId, reply } of answers) {
        if (reply === undefined) continue // a stuck worker: list the others rather than nothing
        more ||= reply.more
        for (const { seq, ...info } of reply.items) merged.push({ threadId, seq, info })
      }
      merged.sort((a, b) => a.threadId - b.threadId || a.seq - b.seq)
      const page = merged.slice(0, query.limit)
      more ||= merged.length > query.limit
      const next: Cursor = { ...after }
      for (const item of page) next[item.threadId] = item.seq
      return { items: page.map((p) => p.info), nextCursor: more ? encodeCursor(next) : null }
    },

    async recent(limit: number): Promise<ConnectionInfo[]> {
      const result = await control.request(
        'connections:recent',
        { limit },
        { expectedWorkers: options.workerThreadIds().length, timeoutMs },
      )
      const all: ConnectionInfo[] = []
      for (const items of result.replies.values()) for (const { seq: _seq, ...info } of items) all.push(info)
      // ISO 8601 UTC strings order as their instants do
      all.sort((a, b) =>
        a.connectedSince < b.connectedSince ? 1 : a.connectedSince > b.connectedSince ? -1 : 0,
      )
      return all.slice(0, limit)
    },

    async kick(clientId: string): Promise<boolean> {
      const result = await control.request(
        'connections:kick',
        { clientId },
        { expectedWorkers: options.workerThreadIds().length, timeoutMs },
      )
      let kicked = 0
      for (const n of result.replies.values()) kicked += n
      return kicked > 0
    },
  }
}
