/**
 * The state of one connection's protocol: where it is in its life and what
 * CONNECT settled. One object per connection, owned by the runner; the flows
 * (connect-flow, message-flow) move it on through the {@link ProtocolHost}.
 */

/** Where a connection is in its life. */
export type Phase = 'awaiting-connect' | 'connecting' | 'authenticating' | 'connected' | 'closing' | 'closed'

export class ConnectionState {
  phase: Phase = 'awaiting-connect'
  /** CONNACK 0x00 was sent: the client was connected once (onClose reports it). */
  wasConnected = false
  /** A CONNACK (success or refusal) was sent: from now on only DISCONNECT may end a v5 connection. */
  connackSent = false
  /** The keepalive in force (the client's, or the server's cap), ms; 0: none. */
  keepaliveMs = 0
  /** The client's v5 Maximum Packet Size; 0: none. */
  maxOutgoingPacket = 0
  /** Why the connection ends, reported to onClose. */
  closeError: Error | undefined

  /** Closing or closed: nothing more is processed or sent. */
  get ending(): boolean {
    return this.phase === 'closing' || this.phase === 'closed'
  }
}
