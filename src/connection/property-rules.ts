/**
 * Which MQTT 5 properties each packet may carry, and which may repeat
 * (MQTT 5.0 §2.2.2.2 and its property table). A property identifier not valid
 * for the packet type is a Malformed Packet (§2.2.2.2); a property given more
 * than once where the spec says "It is a Protocol Error to include [it] more
 * than once", or a Subscription Identifier of 0 (§3.8.2.1.2), is a Protocol
 * Error. The spec numbers none of these as normative statements. Names are
 * mqtt-packet's.
 */
const ACKS = ['puback', 'pubrec', 'pubrel', 'pubcomp', 'suback', 'unsuback']
const WILL = 'will'

const allowedIn: Record<string, readonly string[]> = {
  payloadFormatIndicator: ['publish', WILL],
  messageExpiryInterval: ['publish', WILL],
  contentType: ['publish', WILL],
  responseTopic: ['publish', WILL],
  correlationData: ['publish', WILL],
  subscriptionIdentifier: ['publish', 'subscribe'],
  sessionExpiryInterval: ['connect', 'connack', 'disconnect'],
  assignedClientIdentifier: ['connack'],
  serverKeepAlive: ['connack'],
  authenticationMethod: ['connect', 'connack', 'auth'],
  authenticationData: ['connect', 'connack', 'auth'],
  requestProblemInformation: ['connect'],
  willDelayInterval: [WILL],
  requestResponseInformation: ['connect'],
  responseInformation: ['connack'],
  serverReference: ['connack', 'disconnect'],
  reasonString: ['connack', ...ACKS, 'disconnect', 'auth'],
  receiveMaximum: ['connect', 'connack'],
  topicAliasMaximum: ['connect', 'connack'],
  topicAlias: ['publish'],
  maximumQoS: ['connack'],
  retainAvailable: ['connack'],
  userProperties: [
    'connect',
    'connack',
    'publish',
    WILL,
    ...ACKS,
    'subscribe',
    'unsubscribe',
    'disconnect',
    'auth',
  ],
  maximumPacketSize: ['connect', 'connack'],
  wildcardSubscriptionAvailable: ['connack'],
  subscriptionIdentifiersAvailable: ['connack'],
  sharedSubscriptionAvailable: ['connack'],
}

/** What is wrong with a property list: malformed (0x81) or a protocol error (0x82). */
export interface PropertyViolation {
  malformed: boolean
  what: string
}

/**
 * What is wrong with the property list mqtt-packet parsed for `where` (a
 * packet's cmd, or 'will' for the will properties of a CONNECT), or null.
 */
export function propertyViolation(
  where: string,
  properties: Record<string, unknown>,
): PropertyViolation | null {
  for (const name of Object.keys(properties)) {
    if (!allowedIn[name]?.includes(where)) {
      const packet = where === WILL ? 'the will properties' : where.toUpperCase()
      return { malformed: true, what: `${name} is not allowed in ${packet}` }
    }
    const value = properties[name]
    // mqtt-packet collects a repeated property into an array (user properties into their object)
    if (
      Array.isArray(value) &&
      name !== 'userProperties' &&
      !(name === 'subscriptionIdentifier' && where === 'publish')
    ) {
      return { malformed: false, what: `${name} given more than once` }
    }
    if (name === 'subscriptionIdentifier' && (value === 0 || (Array.isArray(value) && value.includes(0)))) {
      return { malformed: false, what: 'subscription identifier 0' }
    }
  }
  return null
}
