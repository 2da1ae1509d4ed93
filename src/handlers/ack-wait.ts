/**
 * A hook's promise that only delays the acknowledgement. The hook decided and
 * did its work (the broker routed the message) before it returned; the promise
 * says when the PUBACK may go (the store committed it, the congested
 * subscribers it reached were relieved). The connection then reads its next
 * packets while the PUBACK waits, so a client's window of QoS 1 messages is
 * committed in one group instead of one message per group commit.
 * Acknowledgements still leave in the order the packets came (ordered-acks.ts).
 */
const mark = Symbol('mqttd.ackWait')

type Marked = { [mark]?: string }

/**
 * Marks `promise` as an acknowledgement wait of handler `handler` (named in the
 * timeout error should it never settle) and returns it.
 */
export function ackWait<T>(promise: Promise<T>, handler = 'broker'): Promise<T> {
  // a property, not a WeakSet entry: one per QoS 1 message, and a WeakSet add cost 3% of a worker
  ;(promise as Promise<T> & Marked)[mark] = handler
  return promise
}

/** Whether `value` was marked with {@link ackWait}. */
export function isAckWait(value: unknown): value is Promise<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as Marked)[mark] === 'string'
}

/** The handler whose acknowledgement wait `value` is. */
export function ackWaitHandler(value: Promise<unknown>): string {
  return (value as Marked)[mark] ?? 'unknown'
}
