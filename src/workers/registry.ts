/**
 * The connections of one worker, for the admin API (list, kick) and drain.
 */
import type {
  ConnectionInfo,
  ConnectionsListReply,
  ConnectionsListRequest,
  DrainResult,
} from '../control/protocol.ts'
import { ReasonCode } from '../mqtt/reason-codes.ts'
import type { ConnectionRunner } from '../protocol/connection-runner.ts'

export class ConnectionRegistry {
  // keyed by the connection's sequence number: no id string is built per connection
  readonly #runners = new Map<number, ConnectionRunner>()

  add(runner: ConnectionRunner): void {
    this.#runners.set(runner.seq, runner)
  }

  delete(runner: ConnectionRunner): void {
    this.#runners.delete(runner.seq)
  }

  get size(): number {
    return this.#runners.size
  }

  /**
   * Connected clients in start order, a page at a time. `after` is the
   * sequence number of the last connection of the previous page (ids are
   * `<workerId>-<seq>`, so a page survives connections closing meanwhile).
   */
  list(query: ConnectionsListRequest): ConnectionsListReply {
    const items: ConnectionsListReply['items'] = []
    const after = query.after ?? -1
    for (const [seq, runner] of this.#runners) {
      if (seq <= after || runner.phase !== 'connected') continue
      if (query.clientId !== undefined && runner.ctx.clientId !== query.clientId) continue
      if (query.search !== undefined && !runner.ctx.clientId.includes(query.search)) continue
      if (items.length >= query.limit) return { items, more: true }
      items.push({ seq, ...infoOf(runner) })
    }
    return { items, more: false }
  }

  /** The `limit` most recently started connected clients, newest first (one pass, `limit` kept). */
  recent(limit: number): Array<ConnectionInfo & { seq: number }> {
    const kept: ConnectionRunner[] = []
    for (const runner of this.#runners.values()) {
      if (runner.phase !== 'connected') continue
      if (kept.length === limit) kept.shift()
      kept.push(runner)
    }
    return kept.reverse().map((runner) => ({ seq: runner.seq, ...infoOf(runner) }))
  }

  /** Disconnects every connection of `clientId` (v5: DISCONNECT 0x98); returns how many. */
  kick(clientId: string): number {
    let n = 0
    for (const runner of this.#runners.values()) {
      if (runner.ctx.clientId !== clientId || runner.phase !== 'connected') continue
      runner.close(ReasonCode.administrativeAction, 'Administrative action', 'administrative')
      n++
    }
    return n
  }

  /**
   * Closes every connection (v5: DISCONNECT 0x8B "Server shutting down";
   * 3.x: closed) and resolves when all closed or after `timeoutMs`, when the
   * rest are destroyed.
   */
  async drain(timeoutMs: number): Promise<DrainResult> {
    const runners = [...this.#runners.values()]
    for (const runner of runners)
      runner.close(ReasonCode.serverShuttingDown, 'Server shutting down', 'server-shutdown')
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs)
    })
    const all = Promise.all(runners.map((r) => r.closed))
    const outcome = await Promise.race([all, timedOut])
    clearTimeout(timer)
    if (outcome !== 'timeout') return { closed: runners.length, destroyed: 0 }
    let destroyed = 0
    for (const runner of runners) {
      if (runner.phase === 'closed') continue
      runner.connection.destroy()
      destroyed++
    }
    return { closed: runners.length - destroyed, destroyed }
  }
}

function infoOf(runner: ConnectionRunner): ConnectionInfo {
  const ctx = runner.ctx
  return {
    clientId: ctx.clientId,
    workerId: ctx.workerId,
    transport: ctx.transport,
    listener: ctx.listener,
    remoteAddress: ctx.remoteAddress ?? null,
    protocolVersion: ctx.protocolVersion,
    connectedSince: new Date(runner.connectedSince).toISOString(),
    keepalive: ctx.connectPacket?.keepalive ?? 0,
    bytesIn: runner.connection.bytesReceived,
    bytesOut: runner.connection.bytesSent,
  }
}
