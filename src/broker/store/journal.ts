/** A persistent session's journal, writing to the broker's store under its client id. */
import type { SessionJournal } from '../session.ts'
import type { BrokerStore } from './types.ts'

export function journalFor(store: BrokerStore, clientId: string): SessionJournal {
  return {
    subscribed: (filter, sub) => store.putSubscription(clientId, filter, sub),
    unsubscribed: (filter) => store.deleteSubscription(clientId, filter),
    added: (delivery) => store.addOutbound(clientId, { ...delivery, packetId: undefined, state: 'publish' }),
    changed: (seq, packetId, state) => store.updateOutbound(clientId, seq, packetId, state),
    removed: (seq) => store.deleteOutbound(clientId, seq),
    cleared: () => store.clearOutbound(clientId),
    inboundReceived: (packetId) => store.putInbound(clientId, packetId),
    inboundReleased: (packetId) => store.deleteInbound(clientId, packetId),
  }
}
