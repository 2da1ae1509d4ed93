/** A persistent session's journal, writing to the broker's store under its client id. */
import type { SessionJournal } from '../session.ts'
import type { BrokerStore } from './types.ts'

export function journalFor(store: BrokerStore, clientId: string): SessionJournal {
  return {
    subscribed: (filter, sub) => store.putSubscription(clientId, filter, sub),
    unsubscribed: (filter) => store.deleteSubscription(clientId, filter),
    // one literal of the stored shape (the session's delivery stays the session's)
    added: (d) =>
      store.addOutbound(clientId, {
        message: d.message,
        qos: d.qos,
        retain: d.retain,
        subscriptionIds: d.subscriptionIds,
        seq: d.seq,
        packetId: undefined,
        state: 'publish',
      }),
    changed: (seq, packetId, state) => store.updateOutbound(clientId, seq, packetId, state),
    removed: (seq) => store.deleteOutbound(clientId, seq),
    cleared: () => store.clearOutbound(clientId),
    inboundReceived: (packetId) => store.putInbound(clientId, packetId),
    inboundReleased: (packetId) => store.deleteInbound(clientId, packetId),
    detached: () => store.release(clientId),
  }
}
