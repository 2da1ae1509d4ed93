/**
 * What one retained message costs a worker, as `broker.retained.maxBytes`
 * counts it: a fixed per-entry overhead plus its topic, payload and
 * properties.
 *
 * The overhead is measured, not derived (bench/retained-memory.ts, Node
 * 26.10, 50,000 messages, RSS of the whole server before and after, divided
 * by messages and by workers): about 1.9 KB per copy for a 10-byte payload,
 * 1.6–2.0 KB for 100 bytes, 3.1 KB for 1,000 bytes, so roughly 1.8 KB plus
 * the payload. It covers the store's entry, version and message objects, the
 * payload's ArrayBuffer and its allocation, the map slot, and the heap room
 * V8 keeps for them. Counting payload bytes alone (as before) let a store
 * "limited" to 64 MB hold over 1 GB per worker.
 */
import type { BrokerMessage, MessageProperties } from './message.ts'

/** Bytes per retained entry beyond its topic, payload and properties (measured; see above). */
export const RETAINED_ENTRY_OVERHEAD = 1800

/** Bytes per property and per user property pair beyond their text (object slot and string header). */
const PROPERTY_OVERHEAD = 32

function propertiesSize(props: MessageProperties | undefined): number {
  if (props === undefined) return 0
  let size = PROPERTY_OVERHEAD
  if (props.contentType !== undefined) size += PROPERTY_OVERHEAD + props.contentType.length
  if (props.responseTopic !== undefined) size += PROPERTY_OVERHEAD + props.responseTopic.length
  if (props.correlationData !== undefined) size += PROPERTY_OVERHEAD + props.correlationData.byteLength
  if (props.payloadFormatIndicator !== undefined) size += PROPERTY_OVERHEAD
  for (const [key, value] of Object.entries(props.userProperties ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) size += PROPERTY_OVERHEAD + key.length + v.length
  }
  return size
}

/** The accounted size of `message` in the retained store. */
export function retainedEntrySize(message: BrokerMessage): number {
  return (
    RETAINED_ENTRY_OVERHEAD +
    message.topic.length +
    message.payload.byteLength +
    propertiesSize(message.properties)
  )
}
