/**
 * Bookkeeping of the client → server QoS 1/2 flow: topic aliases, the
 * Receive Maximum window and the packet ids of QoS 2 messages awaiting
 * PUBREL (exactly once: a re-sent PUBLISH with such an id is acknowledged
 * again, never delivered again). Pure state, no I/O, so it is tested alone.
 */

export type AliasResult = { ok: true; topic: string } | { ok: false; reason: 'invalid' | 'unknown' }

export class InboundFlow {
  readonly #receiveMaximum: number
  readonly #topicAliasMaximum: number
  #aliases: Map<number, string> | undefined
  /** QoS 1/2 PUBLISH packets received whose PUBACK/PUBREC is not yet sent. */
  #pending = 0
  #awaitingRel: Set<number> | undefined
  /** QoS 2 ids routed whose PUBREC still waits (ack-wait.ts): counted as received already. */
  #recWaiting: Set<number> | undefined

  constructor(options: { receiveMaximum: number; topicAliasMaximum: number }) {
    this.#receiveMaximum = options.receiveMaximum
    this.#topicAliasMaximum = options.topicAliasMaximum
  }

  /**
   * Resolves a v5 topic alias: a non-empty topic (re)binds the alias, an
   * empty one uses it. Alias 0 or above the maximum is invalid [5.0 MQTT-3.3.2-8] [5.0 MQTT-3.3.2-9]; every alias from 1 to the maximum is accepted [5.0 MQTT-3.3.2-12].
   */
  resolveAlias(alias: number, topic: string): AliasResult {
    if (alias === 0 || alias > this.#topicAliasMaximum) return { ok: false, reason: 'invalid' }
    this.#aliases ??= new Map()
    if (topic !== '') {
      this.#aliases.set(alias, topic)
      return { ok: true, topic }
    }
    const known = this.#aliases.get(alias)
    return known === undefined ? { ok: false, reason: 'unknown' } : { ok: true, topic: known }
  }

  /** A QoS 1/2 PUBLISH arrived (before it is processed). */
  arrived(): void {
    this.#pending++
  }

  /** Whether a QoS 2 id is still awaiting PUBREL: the PUBLISH is a re-send. */
  isDuplicate(messageId: number): boolean {
    return this.#awaitingRel?.has(messageId) === true
  }

  /**
   * Whether the client has more unacknowledged QoS 1/2 PUBLISH packets than
   * the Receive Maximum allows [5.0 MQTT-3.3.4-9]. Call right after {@link arrived}.
   */
  exceeded(): boolean {
    return this.#pending + (this.#awaitingRel?.size ?? 0) > this.#receiveMaximum
  }

  /** PUBACK (QoS 1) or a failing PUBREC (QoS 2) was sent: the message left the window. */
  acknowledged(): void {
    if (this.#pending > 0) this.#pending--
  }

  /** A successful PUBREC was sent for a QoS 2 message: it stays in the window until PUBREL. */
  received(messageId: number): void {
    this.acknowledged()
    this.#awaitingRel ??= new Set()
    this.#awaitingRel.add(messageId)
  }

  /**
   * A QoS 2 PUBLISH was routed and its PUBREC waits for a commit: the id
   * counts as received from now on, so a re-send read meanwhile is not routed
   * a second time [3.1.1 MQTT-4.3.3-2] [5.0 MQTT-4.3.3-10]; {@link settled} ends the wait.
   */
  receiving(messageId: number): void {
    this.received(messageId)
    this.#recWaiting ??= new Set()
    this.#recWaiting.add(messageId)
  }

  /** Whether `messageId`'s PUBREC still waits ({@link receiving}). */
  isReceiving(messageId: number): boolean {
    return this.#recWaiting?.has(messageId) === true
  }

  /**
   * The PUBREC that waited is decided: `accepted` false (a refusal, 0x80 or
   * above) forgets the id, as if it never counted as received, so a re-send
   * is a new message.
   */
  settled(messageId: number, accepted: boolean): void {
    this.#recWaiting?.delete(messageId)
    if (!accepted) this.#awaitingRel?.delete(messageId)
  }

  /** The resumed session's ids whose PUBREC was sent on an earlier connection. */
  restore(ids: Iterable<number>): void {
    for (const id of ids) {
      this.#awaitingRel ??= new Set()
      this.#awaitingRel.add(id)
    }
  }

  /** PUBREL arrived; returns whether the id was awaiting it (else PUBCOMP 0x92). */
  released(messageId: number): boolean {
    return this.#awaitingRel?.delete(messageId) === true
  }

  get inFlight(): number {
    return this.#pending + (this.#awaitingRel?.size ?? 0)
  }
}
