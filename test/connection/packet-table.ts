// Wire fixtures for every packet type in v3.1.1 (and 3.1 CONNECT) and v5, with every
// MQTT 5 property mqtt-connection's README lists. Ported from mqtt-packet's test.js
// (MIT, https://github.com/mqttjs/mqtt-packet), bytes annotated field by field.

export interface TableEntry {
  name: string
  version: 3 | 4 | 5
  packet: Record<string, unknown> & { cmd: string }
  bytes: number[]
}

export const packetTable: TableEntry[] = [
  {
    name: 'minimal connect',
    version: 3,
    packet: {
      cmd: 'connect',
      retain: false,
      qos: 0,
      dup: false,
      length: 18,
      protocolId: 'MQIsdp',
      protocolVersion: 3,
      clean: false,
      keepalive: 30,
      clientId: 'test',
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      16, 18, // Header
      0, 6, // Protocol ID length
      77, 81, 73, 115, 100, 112, // Protocol ID
      3, // Protocol version
      0, // Connect flags
      0, 30, // Keepalive
      0, 4, // Client ID length
      116, 101, 115, 116 // Client ID
    ],
  },
  {
    name: 'connect MQTT 5',
    version: 5,
    packet: {
      cmd: 'connect',
      retain: false,
      qos: 0,
      dup: false,
      length: 125,
      protocolId: 'MQTT',
      protocolVersion: 5,
      will: {
        retain: true,
        qos: 2,
        properties: {
          willDelayInterval: 1234,
          payloadFormatIndicator: false,
          messageExpiryInterval: 4321,
          contentType: 'test',
          responseTopic: 'topic',
          correlationData: Buffer.from([1, 2, 3, 4]),
          userProperties: {
            test: 'test',
          },
        },
        topic: 'topic',
        payload: Buffer.from([4, 3, 2, 1]),
      },
      clean: true,
      keepalive: 30,
      properties: {
        sessionExpiryInterval: 1234,
        receiveMaximum: 432,
        maximumPacketSize: 100,
        topicAliasMaximum: 456,
        requestResponseInformation: true,
        requestProblemInformation: true,
        userProperties: {
          test: 'test',
        },
        authenticationMethod: 'test',
        authenticationData: Buffer.from([1, 2, 3, 4]),
      },
      clientId: 'test',
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      16, 125, // Header
      0, 4, // Protocol ID length
      77, 81, 84, 84, // Protocol ID
      5, // Protocol version
      54, // Connect flags
      0, 30, // Keepalive
      47, // properties length
      17, 0, 0, 4, 210, // sessionExpiryInterval
      33, 1, 176, // receiveMaximum
      39, 0, 0, 0, 100, // maximumPacketSize
      34, 1, 200, // topicAliasMaximum
      25, 1, // requestResponseInformation
      23, 1, // requestProblemInformation,
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116, // userProperties,
      21, 0, 4, 116, 101, 115, 116, // authenticationMethod
      22, 0, 4, 1, 2, 3, 4, // authenticationData
      0, 4, // Client ID length
      116, 101, 115, 116, // Client ID
      47, // will properties
      24, 0, 0, 4, 210, // will delay interval
      1, 0, // payload format indicator
      2, 0, 0, 16, 225, // message expiry interval
      3, 0, 4, 116, 101, 115, 116, // content type
      8, 0, 5, 116, 111, 112, 105, 99, // response topic
      9, 0, 4, 1, 2, 3, 4, // corelation data
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116, // user properties
      0, 5, // Will topic length
      116, 111, 112, 105, 99, // Will topic
      0, 4, // Will payload length
      4, 3, 2, 1// Will payload
    ],
  },
  {
    name: 'no clientId with 3.1.1',
    version: 4,
    packet: {
      cmd: 'connect',
      retain: false,
      qos: 0,
      dup: false,
      length: 12,
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      clientId: '',
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      16, 12, // Header
      0, 4, // Protocol ID length
      77, 81, 84, 84, // Protocol ID
      4, // Protocol version
      2, // Connect flags
      0, 30, // Keepalive
      0, 0 // Client ID length
    ],
  },
  {
    name: 'maximal connect',
    version: 3,
    packet: {
      cmd: 'connect',
      retain: false,
      qos: 0,
      dup: false,
      length: 54,
      protocolId: 'MQIsdp',
      protocolVersion: 3,
      will: {
        retain: true,
        qos: 2,
        topic: 'topic',
        payload: Buffer.from('payload'),
      },
      clean: true,
      keepalive: 30,
      clientId: 'test',
      username: 'username',
      password: Buffer.from('password'),
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      16, 54, // Header
      0, 6, // Protocol ID length
      77, 81, 73, 115, 100, 112, // Protocol ID
      3, // Protocol version
      246, // Connect flags
      0, 30, // Keepalive
      0, 4, // Client ID length
      116, 101, 115, 116, // Client ID
      0, 5, // Will topic length
      116, 111, 112, 105, 99, // Will topic
      0, 7, // Will payload length
      112, 97, 121, 108, 111, 97, 100, // Will payload
      0, 8, // Username length
      117, 115, 101, 114, 110, 97, 109, 101, // Username
      0, 8, // Password length
      112, 97, 115, 115, 119, 111, 114, 100 // Password
    ],
  },
  {
    name: 'maximal connect 3.1.1',
    version: 4,
    packet: {
      cmd: 'connect',
      retain: false,
      qos: 0,
      dup: false,
      length: 28,
      protocolId: 'MQTT',
      protocolVersion: 4,
      will: { retain: false, qos: 1, topic: 'w', payload: Buffer.from('bye') },
      clean: true,
      keepalive: 60,
      clientId: 'c1',
      username: 'u',
      password: Buffer.from('p'),
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      16, 28, // Header
      0, 4, // Protocol ID length
      77, 81, 84, 84, // Protocol ID (MQTT)
      4, // Protocol version
      206, // Connect flags: username, password, will QoS 1, will, clean
      0, 60, // Keepalive
      0, 2, // Client ID length
      99, 49, // Client ID (c1)
      0, 1, // Will topic length
      119, // Will topic (w)
      0, 3, // Will payload length
      98, 121, 101, // Will payload (bye)
      0, 1, // Username length
      117, // Username (u)
      0, 1, // Password length
      112, // Password (p)
    ],
  },
  {
    name: 'connack with return code 0',
    version: 4,
    packet: {
      cmd: 'connack',
      retain: false,
      qos: 0,
      dup: false,
      length: 2,
      sessionPresent: false,
      returnCode: 0,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      32, 2, 0, 0
    ],
  },
  {
    name: 'connack MQTT 5 with properties',
    version: 5,
    packet: {
      cmd: 'connack',
      retain: false,
      qos: 0,
      dup: false,
      length: 87,
      sessionPresent: false,
      reasonCode: 0,
      properties: {
        sessionExpiryInterval: 1234,
        receiveMaximum: 432,
        maximumQoS: 2,
        retainAvailable: true,
        maximumPacketSize: 100,
        assignedClientIdentifier: 'test',
        topicAliasMaximum: 456,
        reasonString: 'test',
        userProperties: {
          test: 'test',
        },
        wildcardSubscriptionAvailable: true,
        subscriptionIdentifiersAvailable: true,
        sharedSubscriptionAvailable: false,
        serverKeepAlive: 1234,
        responseInformation: 'test',
        serverReference: 'test',
        authenticationMethod: 'test',
        authenticationData: Buffer.from([1, 2, 3, 4]),
      },
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      32, 87, 0, 0,
      84, // properties length
      17, 0, 0, 4, 210, // sessionExpiryInterval
      33, 1, 176, // receiveMaximum
      36, 2, // Maximum qos
      37, 1, // retainAvailable
      39, 0, 0, 0, 100, // maximumPacketSize
      18, 0, 4, 116, 101, 115, 116, // assignedClientIdentifier
      34, 1, 200, // topicAliasMaximum
      31, 0, 4, 116, 101, 115, 116, // reasonString
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116, // userProperties
      40, 1, // wildcardSubscriptionAvailable
      41, 1, // subscriptionIdentifiersAvailable
      42, 0, // sharedSubscriptionAvailable
      19, 4, 210, // serverKeepAlive
      26, 0, 4, 116, 101, 115, 116, // responseInformation
      28, 0, 4, 116, 101, 115, 116, // serverReference
      21, 0, 4, 116, 101, 115, 116, // authenticationMethod
      22, 0, 4, 1, 2, 3, 4 // authenticationData
    ],
  },
  {
    name: 'connack with return code 0 session present bit set',
    version: 4,
    packet: {
      cmd: 'connack',
      retain: false,
      qos: 0,
      dup: false,
      length: 2,
      sessionPresent: true,
      returnCode: 0,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      32, 2, 1, 0
    ],
  },
  {
    name: 'connack with return code 5',
    version: 4,
    packet: {
      cmd: 'connack',
      retain: false,
      qos: 0,
      dup: false,
      length: 2,
      sessionPresent: false,
      returnCode: 5,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      32, 2, 0, 5
    ],
  },
  {
    name: 'minimal publish',
    version: 4,
    packet: {
      cmd: 'publish',
      retain: false,
      qos: 0,
      dup: false,
      length: 10,
      topic: 'test',
      payload: Buffer.from('test'),
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      48, 10, // Header
      0, 4, // Topic length
      116, 101, 115, 116, // Topic (test)
      116, 101, 115, 116 // Payload (test)
    ],
  },
  {
    name: 'publish MQTT 5 properties',
    version: 5,
    packet: {
      cmd: 'publish',
      retain: true,
      qos: 2,
      dup: true,
      length: 86,
      topic: 'test',
      payload: Buffer.from('test'),
      messageId: 10,
      properties: {
        payloadFormatIndicator: true,
        messageExpiryInterval: 4321,
        topicAlias: 100,
        responseTopic: 'topic',
        correlationData: Buffer.from([1, 2, 3, 4]),
        userProperties: {
          test: ['test', 'test', 'test'],
        },
        subscriptionIdentifier: 120,
        contentType: 'test',
      },
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      61, 86, // Header
      0, 4, // Topic length
      116, 101, 115, 116, // Topic (test)
      0, 10, // Message ID
      73, // properties length
      1, 1, // payloadFormatIndicator
      2, 0, 0, 16, 225, // message expiry interval
      35, 0, 100, // topicAlias
      8, 0, 5, 116, 111, 112, 105, 99, // response topic
      9, 0, 4, 1, 2, 3, 4, // correlationData
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116, // userProperties
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116, // userProperties
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116, // userProperties
      11, 120, // subscriptionIdentifier
      3, 0, 4, 116, 101, 115, 116, // content type
      116, 101, 115, 116 // Payload (test)
    ],
  },
  {
    name: 'maximal publish',
    version: 4,
    packet: {
      cmd: 'publish',
      retain: true,
      qos: 2,
      length: 12,
      dup: true,
      topic: 'test',
      messageId: 10,
      payload: Buffer.from('test'),
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      61, 12, // Header
      0, 4, // Topic length
      116, 101, 115, 116, // Topic
      0, 10, // Message ID
      116, 101, 115, 116 // Payload
    ],
  },
  {
    name: 'empty publish',
    version: 4,
    packet: {
      cmd: 'publish',
      retain: false,
      qos: 0,
      dup: false,
      length: 6,
      topic: 'test',
      payload: Buffer.alloc(0),
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      48, 6, // Header
      0, 4, // Topic length
      116, 101, 115, 116 // Topic
      // Empty payload
    ],
  },
  {
    name: 'puback',
    version: 4,
    packet: {
      cmd: 'puback',
      retain: false,
      qos: 0,
      dup: false,
      length: 2,
      messageId: 2,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      64, 2, // Header
      0, 2 // Message ID
    ],
  },
  {
    name: 'puback MQTT 5 properties',
    version: 5,
    packet: {
      cmd: 'puback',
      retain: false,
      qos: 0,
      dup: false,
      length: 24,
      messageId: 2,
      reasonCode: 16,
      properties: {
        reasonString: 'test',
        userProperties: {
          test: 'test',
        },
      },
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      64, 24, // Header
      0, 2, // Message ID
      16, // reason code
      20, // properties length
      31, 0, 4, 116, 101, 115, 116, // reasonString
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116 // userProperties
    ],
  },
  {
    name: 'pubrec',
    version: 4,
    packet: {
      cmd: 'pubrec',
      retain: false,
      qos: 0,
      dup: false,
      length: 2,
      messageId: 2,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      80, 2, // Header
      0, 2 // Message ID
    ],
  },
  {
    name: 'pubrec MQTT 5 properties',
    version: 5,
    packet: {
      cmd: 'pubrec',
      retain: false,
      qos: 0,
      dup: false,
      length: 24,
      messageId: 2,
      reasonCode: 16,
      properties: {
        reasonString: 'test',
        userProperties: {
          test: 'test',
        },
      },
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      80, 24, // Header
      0, 2, // Message ID
      16, // reason code
      20, // properties length
      31, 0, 4, 116, 101, 115, 116, // reasonString
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116 // userProperties
    ],
  },
  {
    name: 'pubrel',
    version: 4,
    packet: {
      cmd: 'pubrel',
      retain: false,
      qos: 1,
      dup: false,
      length: 2,
      messageId: 2,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      98, 2, // Header
      0, 2 // Message ID
    ],
  },
  {
    name: 'pubrel MQTT5 properties',
    version: 5,
    packet: {
      cmd: 'pubrel',
      retain: false,
      qos: 1,
      dup: false,
      length: 24,
      messageId: 2,
      reasonCode: 0x92,
      properties: {
        reasonString: 'test',
        userProperties: {
          test: 'test',
        },
      },
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      98, 24, // Header
      0, 2, // Message ID
      0x92, // reason code
      20, // properties length
      31, 0, 4, 116, 101, 115, 116, // reasonString
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116 // userProperties
    ],
  },
  {
    name: 'pubcomp',
    version: 4,
    packet: {
      cmd: 'pubcomp',
      retain: false,
      qos: 0,
      dup: false,
      length: 2,
      messageId: 2,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      112, 2, // Header
      0, 2 // Message ID
    ],
  },
  {
    name: 'pubcomp MQTT 5 properties',
    version: 5,
    packet: {
      cmd: 'pubcomp',
      retain: false,
      qos: 0,
      dup: false,
      length: 24,
      messageId: 2,
      reasonCode: 0x92,
      properties: {
        reasonString: 'test',
        userProperties: {
          test: 'test',
        },
      },
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      112, 24, // Header
      0, 2, // Message ID
      0x92, // reason code
      20, // properties length
      31, 0, 4, 116, 101, 115, 116, // reasonString
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116 // userProperties
    ],
  },
  {
    name: 'subscribe to one topic',
    version: 4,
    packet: {
      cmd: 'subscribe',
      retain: false,
      qos: 1,
      dup: false,
      length: 9,
      subscriptions: [
        {
          topic: 'test',
          qos: 0,
        },
      ],
      messageId: 6,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      130, 9, // Header (subscribeqos=1length=9)
      0, 6, // Message ID (6)
      0, 4, // Topic length,
      116, 101, 115, 116, // Topic (test)
      0 // Qos (0)
    ],
  },
  {
    name: 'subscribe to three topics',
    version: 4,
    packet: {
      cmd: 'subscribe',
      retain: false,
      qos: 1,
      dup: false,
      length: 23,
      subscriptions: [
        {
          topic: 'test',
          qos: 0,
        },
        {
          topic: 'uest',
          qos: 1,
        },
        {
          topic: 'tfst',
          qos: 2,
        },
      ],
      messageId: 6,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      130, 23, // Header (publishqos=1length=9)
      0, 6, // Message ID (6)
      0, 4, // Topic length,
      116, 101, 115, 116, // Topic (test)
      0, // Qos (0)
      0, 4, // Topic length
      117, 101, 115, 116, // Topic (uest)
      1, // Qos (1)
      0, 4, // Topic length
      116, 102, 115, 116, // Topic (tfst)
      2 // Qos (2)
    ],
  },
  {
    name: 'subscribe to 3 topics by MQTT 5',
    version: 5,
    packet: {
      cmd: 'subscribe',
      retain: false,
      qos: 1,
      dup: false,
      length: 40,
      subscriptions: [
        {
          topic: 'test',
          qos: 0,
          nl: false,
          rap: true,
          rh: 1,
        },
        {
          topic: 'uest',
          qos: 1,
          nl: false,
          rap: false,
          rh: 0,
        },
        {
          topic: 'tfst',
          qos: 2,
          nl: true,
          rap: false,
          rh: 0,
        },
      ],
      messageId: 6,
      properties: {
        subscriptionIdentifier: 145,
        userProperties: {
          test: 'test',
        },
      },
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      130, 40, // Header (subscribeqos=1length=9)
      0, 6, // Message ID (6)
      16, // properties length
      11, 145, 1, // subscriptionIdentifier
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116, // userProperties
      0, 4, // Topic length,
      116, 101, 115, 116, // Topic (test)
      24, // settings(qos: 0, noLocal: false, Retain as Published: true, retain handling: 1)
      0, 4, // Topic length
      117, 101, 115, 116, // Topic (uest)
      1, // Qos (1)
      0, 4, // Topic length
      116, 102, 115, 116, // Topic (tfst)
      6 // Qos (2), No Local: true
    ],
  },
  {
    name: 'suback',
    version: 4,
    packet: {
      cmd: 'suback',
      retain: false,
      qos: 0,
      dup: false,
      length: 5,
      granted: [0, 1, 2],
      messageId: 6,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      144, 5, // Header
      0, 6, // Message ID
      0, 1, 2
    ],
  },
  {
    name: 'suback (2)',
    version: 5,
    packet: {
      cmd: 'suback',
      retain: false,
      qos: 0,
      dup: false,
      length: 7,
      granted: [0, 1, 2, 128],
      messageId: 6,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      144, 7, // Header
      0, 6, // Message ID
      0, // Property length
      0, 1, 2, 128 // Granted qos (0, 1, 2) and a rejected being 0x80
    ],
  },
  {
    name: 'suback MQTT 5',
    version: 5,
    packet: {
      cmd: 'suback',
      retain: false,
      qos: 0,
      dup: false,
      length: 27,
      granted: [0, 1, 2, 128],
      messageId: 6,
      properties: {
        reasonString: 'test',
        userProperties: {
          test: 'test',
        },
      },
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      144, 27, // Header
      0, 6, // Message ID
      20, // properties length
      31, 0, 4, 116, 101, 115, 116, // reasonString
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116, // userProperties
      0, 1, 2, 128 // Granted qos (0, 1, 2) and a rejected being 0x80
    ],
  },
  {
    name: 'unsubscribe',
    version: 4,
    packet: {
      cmd: 'unsubscribe',
      retain: false,
      qos: 1,
      dup: false,
      length: 14,
      unsubscriptions: ['tfst', 'test'],
      messageId: 7,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      162, 14,
      0, 7, // Message ID (7)
      0, 4, // Topic length
      116, 102, 115, 116, // Topic (tfst)
      0, 4, // Topic length,
      116, 101, 115, 116 // Topic (test)
    ],
  },
  {
    name: 'unsubscribe MQTT 5',
    version: 5,
    packet: {
      cmd: 'unsubscribe',
      retain: false,
      qos: 1,
      dup: false,
      length: 28,
      unsubscriptions: ['tfst', 'test'],
      messageId: 7,
      properties: {
        userProperties: {
          test: 'test',
        },
      },
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      162, 28,
      0, 7, // Message ID (7)
      13, // properties length
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116, // userProperties
      0, 4, // Topic length
      116, 102, 115, 116, // Topic (tfst)
      0, 4, // Topic length,
      116, 101, 115, 116 // Topic (test)
    ],
  },
  {
    name: 'unsuback',
    version: 4,
    packet: {
      cmd: 'unsuback',
      retain: false,
      qos: 0,
      dup: false,
      length: 2,
      messageId: 8,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      176, 2, // Header
      0, 8 // Message ID
    ],
  },
  {
    name: 'unsuback MQTT 5',
    version: 5,
    packet: {
      cmd: 'unsuback',
      retain: false,
      qos: 0,
      dup: false,
      length: 25,
      messageId: 8,
      properties: {
        reasonString: 'test',
        userProperties: {
          test: 'test',
        },
      },
      granted: [0, 128],
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      176, 25, // Header
      0, 8, // Message ID
      20, // properties length
      31, 0, 4, 116, 101, 115, 116, // reasonString
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116, // userProperties
      0, 128 // success and error
    ],
  },
  {
    name: 'pingreq',
    version: 4,
    packet: {
      cmd: 'pingreq',
      retain: false,
      qos: 0,
      dup: false,
      length: 0,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      192, 0 // Header
    ],
  },
  {
    name: 'pingresp',
    version: 4,
    packet: {
      cmd: 'pingresp',
      retain: false,
      qos: 0,
      dup: false,
      length: 0,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      208, 0 // Header
    ],
  },
  {
    name: 'disconnect',
    version: 4,
    packet: {
      cmd: 'disconnect',
      retain: false,
      qos: 0,
      dup: false,
      length: 0,
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      224, 0 // Header
    ],
  },
  {
    name: 'disconnect MQTT 5',
    version: 5,
    packet: {
      cmd: 'disconnect',
      retain: false,
      qos: 0,
      dup: false,
      length: 34,
      reasonCode: 0,
      properties: {
        sessionExpiryInterval: 145,
        reasonString: 'test',
        userProperties: {
          test: 'test',
        },
        serverReference: 'test',
      },
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      224, 34, // Header
      0, // reason code
      32, // properties length
      17, 0, 0, 0, 145, // sessionExpiryInterval
      31, 0, 4, 116, 101, 115, 116, // reasonString
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116, // userProperties
      28, 0, 4, 116, 101, 115, 116// serverReference
    ],
  },
  {
    name: 'auth MQTT 5',
    version: 5,
    packet: {
      cmd: 'auth',
      retain: false,
      qos: 0,
      dup: false,
      length: 36,
      reasonCode: 0,
      properties: {
        authenticationMethod: 'test',
        authenticationData: Buffer.from([0, 1, 2, 3]),
        reasonString: 'test',
        userProperties: {
          test: 'test',
        },
      },
    },
    // biome-ignore format: keep the wire annotations one field per line
    bytes: [
      240, 36, // Header
      0, // reason code
      34, // properties length
      21, 0, 4, 116, 101, 115, 116, // auth method
      22, 0, 4, 0, 1, 2, 3, // auth data
      31, 0, 4, 116, 101, 115, 116, // reasonString
      38, 0, 4, 116, 101, 115, 116, 0, 4, 116, 101, 115, 116 // userProperties
    ],
  },
]
