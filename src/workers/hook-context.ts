/**
 * The per-connection context every hook receives. One object per
 * connection; its logger is created on first use so that idle connections
 * cost no pino child.
 */
import type { PeerCertificate } from 'node:tls'
import type { IConnectPacket, Packet } from 'mqtt-packet'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Connection } from '../connection/connection.ts'
import type { CloseReason, ConnectContext, ProtocolVersion, Transport } from '../handlers/types.ts'

/** What the runner gives the context: its send and close. */
export interface ContextActions {
  send(packet: Packet): Promise<boolean>
  close(reasonCode?: number, reasonString?: string, reason?: CloseReason): void
}

export interface ContextInit {
  id: string
  transport: Transport
  listener: string
  remoteAddress: string | undefined
  remotePort: number | undefined
  peerCertificate: PeerCertificate | null
  workerId: number
  connection: Connection
  metrics: Registry
  workerLog: Logger
  actions: ContextActions
}

export class ConnectionContext implements ConnectContext {
  readonly id: string
  clientId = ''
  readonly transport: Transport
  readonly listener: string
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly peerCertificate: PeerCertificate | null
  protocolVersion: ProtocolVersion = 4
  connectPacket: IConnectPacket | undefined
  readonly workerId: number
  readonly state: Record<string, unknown> = {}
  readonly connection: Connection
  readonly metrics: Registry
  readonly connack: { sessionPresent: boolean; properties: Record<string, unknown> } = {
    sessionPresent: false,
    properties: {},
  }
  readonly #workerLog: Logger
  readonly #actions: ContextActions
  #log: Logger | undefined
  #logClientId = ''

  constructor(init: ContextInit) {
    this.id = init.id
    this.transport = init.transport
    this.listener = init.listener
    this.remoteAddress = init.remoteAddress
    this.remotePort = init.remotePort
    this.peerCertificate = init.peerCertificate
    this.workerId = init.workerId
    this.connection = init.connection
    this.metrics = init.metrics
    this.#workerLog = init.workerLog
    this.#actions = init.actions
  }

  get log(): Logger {
    // rebind once the client id is known (or changed by a handler)
    if (this.#log === undefined || this.#logClientId !== this.clientId) {
      this.#logClientId = this.clientId
      this.#log = this.#workerLog.child({
        conn: this.id,
        clientId: this.clientId || undefined,
        remote: this.remoteAddress,
        listener: this.listener,
      })
    }
    return this.#log
  }

  send(packet: Packet): Promise<boolean> {
    return this.#actions.send(packet)
  }

  close(reasonCode?: number, reasonString?: string, reason?: CloseReason): void {
    this.#actions.close(reasonCode, reasonString, reason)
  }
}
