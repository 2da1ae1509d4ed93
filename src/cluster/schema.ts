/**
 * The `cluster:` section: this node's name and how it reaches NATS. Without
 * it the server is one node, exactly as before (docs/cluster.md).
 */
import { type Static, Type } from '@sinclair/typebox'

export const ClusterSchema = Type.Object(
  {
    nodeId: Type.String({
      pattern: '^[A-Za-z0-9_-]{1,64}$',
      description:
        'Name of this node, unique in the cluster (letters, digits, `_`, `-`): it marks the messages this node sends, and the session directory says which node holds a client.',
    }),
    nats: Type.Object(
      {
        servers: Type.Array(Type.String({ minLength: 1 }), {
          minItems: 1,
          description: 'NATS server URLs (`nats://host:4222`, or `host:port`); JetStream must be enabled.',
        }),
        user: Type.Optional(Type.String({ minLength: 1, description: 'NATS user name.' })),
        pass: Type.Optional(
          Type.String({ minLength: 1, description: 'NATS password (redacted when shown).' }),
        ),
        token: Type.Optional(Type.String({ minLength: 1, description: 'NATS token (redacted when shown).' })),
        tls: Type.Optional(
          Type.Object(
            {
              ca: Type.Optional(
                Type.String({ minLength: 1, description: 'CA PEM path to verify the servers.' }),
              ),
              cert: Type.Optional(Type.String({ minLength: 1, description: 'Client certificate PEM path.' })),
              key: Type.Optional(Type.String({ minLength: 1, description: 'Client private key PEM path.' })),
            },
            {
              additionalProperties: false,
              description: 'Connect with TLS; paths relative to the config file.',
            },
          ),
        ),
        connectTimeoutMs: Type.Integer({
          minimum: 100,
          default: 5000,
          description: 'Start-up fails (MQTTD_ERR_CLUSTER_CONNECT) when no server answers within this time.',
        }),
      },
      { additionalProperties: false },
    ),
    replicas: Type.Integer({
      minimum: 1,
      maximum: 5,
      default: 1,
      description:
        'Copies JetStream keeps of the QoS 1/2 stream and the buckets (retained, sessions, nodes), at most the NATS cluster size: 3 with a 3-server NATS cluster survives the loss of one. Applies when they are created.',
    }),
    publishTimeoutMs: Type.Integer({
      minimum: 100,
      default: 4000,
      description:
        'Keep it below limits.hookTimeoutMs. Longest a QoS 1/2 publish waits for JetStream to store it for the other nodes (e.g. while NATS restarts); beyond, v5 PUBACK/PUBREC 0x80, v3.1.1 the connection is closed so the client sends it again.',
    }),
    deadWorkerAfterMs: Type.Integer({
      minimum: 500,
      default: 30_000,
      description:
        "A worker (of any node) whose NATS subscriptions have been gone this long while its JetStream consumer is still there is taken for dead: a survivor adopts its persistent sessions and the messages its consumer held for them. Long enough to ride out a NATS restart or a network blip (a worker reconnects within 250 ms of NATS being back); a slow worker is never taken for dead (only a missing subscription counts, not a late answer). At most half of consumerIdleMs (refused otherwise): the dead worker's consumer, with its messages, must still be there when a survivor adopts it. Also how long a shared subscription's group consumer waits for a worker that stopped reporting on the messages its members hold before it delivers them to another member's worker (set it alike on every node).",
    }),
    consumerIdleMs: Type.Integer({
      minimum: 1000,
      default: 300_000,
      description:
        "JetStream removes a consumer nobody pulled from for this long: a dead worker's that nobody adopted (with the messages it held), a shared subscription's group without members. Applies to consumers created after a change.",
    }),
  },
  {
    additionalProperties: false,
    description:
      'Run as one node of a cluster over NATS: routing, shared subscriptions, retained messages and the session directory cluster-wide. See docs/cluster.md.',
  },
)

export type ClusterConfig = Static<typeof ClusterSchema>
