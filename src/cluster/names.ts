/** The NATS names mqttd uses: one place, so docs/cluster.md and the code agree. */

/** JetStream stream carrying QoS 1/2 messages between nodes; subjects `$MQTTD.q.<mapped topic>`. */
export const QOS_STREAM = 'MQTTD_Q'
export const QOS_PREFIX = '$MQTTD.q.'
/** Key-value bucket of retained messages (key: the topic, base64url). */
export const RETAINED_BUCKET = 'MQTTD_retained'
/** Key-value bucket of the session directory (key: the client id, base64url; value: the node). */
export const SESSIONS_BUCKET = 'MQTTD_sessions'
/** Key-value bucket of the live nodes (key: node id), each entry refreshed by its node. */
export const NODES_BUCKET = 'MQTTD_nodes'
/** A worker's durable consumer of the QoS stream, `<node>_<link>` (link: 8 hex digits, new at each start). */
export const WORKER_CONSUMER = /^(.+)_([0-9a-f]{8})$/
/** The name of worker `link`'s durable consumer on node `node` (what WORKER_CONSUMER parses). */
export function workerConsumer(node: string, link: string): string {
  return `${node}_${link}`
}
/** A share group's consumer of the QoS stream: `mqttd_` and 24 hex digits of a hash (nats-bridge.ts groupName). */
export const GROUP_CONSUMER = /^mqttd_[0-9a-f]{24}$/
/** Requests to one node: `$MQTTD.node.<nodeId>.<what>`. */
export const nodeSubject = (nodeId: string, what: string): string => `$MQTTD.node.${nodeId}.${what}`

/** Header with the sending worker (`<nodeId>|<link>|<seq>`): the echo filter and the duplicate filter. */
export const SOURCE_HEADER = 'Mqttd-Src'
/** Header with the real topic, when the subject is an escaped one (subjects.ts). */
export const TOPIC_HEADER = 'Mqttd-Topic'
/** Header with QoS, retain flag, expiry and v5 properties (JSON), when there are any beyond the defaults. */
export const META_HEADER = 'Mqttd-Meta'
/** Header of a QoS 1/2 message: the publishing node's other workers it was routed to over their ports (`1,3`). */
export const WORKERS_HEADER = 'Mqttd-Workers'

/** base64url of a string: KV keys allow only `[-/_=.A-Za-z0-9]`. */
export function kvKey(text: string): string {
  return Buffer.from(text).toString('base64url')
}

export function fromKvKey(key: string): string {
  return Buffer.from(key, 'base64url').toString()
}
