/**
 * The per-connection context every hook receives. One object per
 * connection, built for every accepted socket, so it allocates nothing a
 * connection may never use: the id string, the logger (a pino child), the
 * `state` scratch object and the CONNACK shaping are created on first use.
 */
import type { PeerCertificate } from 'node:tls'
import type { IConnectPacket, Packet } from 'mqtt-packet'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Connection } from '../connection/connection.ts'
import type { ProtocolVersion } from '../connection/types.ts'
import type { CloseReason, ConnectContext, Transport } from '../handlers/types.ts'

/** What the context reads of the connection it belongs to (the ConnectionRunner): its send and close. */
export interface ContextOwner {
  send(packet: Packet): Promise<boolean>
  closeFromHook(reasonCode?: number, reasonString?: string, reason?: CloseReason): void
}

/** Where the connection came from (the runner's options). */
export interface ContextInit {
  /** The connection's number in its worker; `id` is `<workerId>-<seq>`. */
  seq: number
  transport: Transport
  listener: string
  remoteAddress: string | undefined
  remotePort: number | undefined
  peerCertificate: PeerCertificate | null
  workerId: number
  log: Logger
}

export class ConnectionContext implements ConnectContext {
  clientId = ''
  protocolVersion: ProtocolVersion = 4
  connectPacket: IConnectPacket | undefined
  readonly connection: Connection
  readonly metrics: Registry
  readonly #init: ContextInit
  readonly #owner: ContextOwner
  #id: string | undefined
  #state: Record<string, unknown> | undefined
  #connack: { sessionPresent: boolean; properties: Record<string, unknown> } | undefined
  #awaitingRelease: Set<number> | undefined
  #log: Logger | undefined
  #logClientId = ''

  constructor(init: ContextInit, connection: Connection, metrics: Registry, owner: ContextOwner) {
    this.#init = init
    this.connection = connection
    this.metrics = metrics
    this.#owner = owner
  }

  get id(): string {
    this.#id ??= `${this.#init.workerId}-${this.#init.seq}`
    return this.#id
  }

  get transport(): Transport {
    return this.#init.transport
  }

  get listener(): string {
    return this.#init.listener
  }

  get remoteAddress(): string | undefined {
    return this.#init.remoteAddress
  }

  get remotePort(): number | undefined {
    return this.#init.remotePort
  }

  get peerCertificate(): PeerCertificate | null {
    return this.#init.peerCertificate
  }

  get workerId(): number {
    return this.#init.workerId
  }

  get state(): Record<string, unknown> {
    this.#state ??= {}
    return this.#state
  }

  get connack(): { sessionPresent: boolean; properties: Record<string, unknown> } {
    this.#connack ??= { sessionPresent: false, properties: {} }
    return this.#connack
  }

  get awaitingRelease(): Set<number> {
    this.#awaitingRelease ??= new Set()
    return this.#awaitingRelease
  }

  /** The ids a handler restored in onConnect, without allocating when there are none. */
  get restoredAwaitingRelease(): Set<number> | undefined {
    return this.#awaitingRelease
  }

  /** Whether a hook shaped the CONNACK (set sessionPresent or a property). */
  get connackShaped(): boolean {
    return this.#connack !== undefined
  }

  /**
   * The CONNACK is out: the handshake's scratch (the CONNACK's shape, the restored QoS 2 ids) is let
   * go rather than held for the connection's life. A hook that asks for it later gets a fresh one.
   */
  handshakeDone(): void {
    this.#connack = undefined
    this.#awaitingRelease = undefined
  }

  get log(): Logger {
    // rebind once the client id is known (or changed by a handler)
    if (this.#log === undefined || this.#logClientId !== this.clientId) {
      this.#logClientId = this.clientId
      this.#log = this.#init.log.child({
        conn: this.id,
        clientId: this.clientId || undefined,
        remote: this.remoteAddress,
        listener: this.listener,
      })
    }
    return this.#log
  }

  send(packet: Packet): Promise<boolean> {
    return this.#owner.send(packet)
  }

  close(reasonCode?: number, reasonString?: string, reason?: CloseReason): void {
    this.#owner.closeFromHook(reasonCode, reasonString, reason)
  }
}
