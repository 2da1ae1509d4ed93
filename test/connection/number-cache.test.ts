// mqtt-packet's writer builds, on its first generate, a table of 65,536 two-byte Buffers (about 7 MB
// of heap in each thread that generates a packet). A Connection turns that cache off: packets
// mqtt-packet writes (CONNACK, SUBACK, …) allocate their 2-byte ids instead.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { Connection } from '../../src/connection/connection.ts'
import { RecordingStream, tick } from './helpers.ts'

const numbers = createRequire(import.meta.url)('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> }

test('packets written through mqtt-packet leave its 65,536-Buffer number cache empty', async () => {
  assert.equal(mqttPacket.writeToStream.cacheNumbers, false)
  const stream = new RecordingStream()
  const connection = Connection(stream)
  connection.connack({ returnCode: 0, sessionPresent: false })
  connection.suback({ messageId: 300, granted: [0, 1] })
  await tick()
  const written = stream.written()
  // CONNACK, then SUBACK with packet id 300 (0x01 0x2c), written without the cache
  assert.deepEqual([...written], [0x20, 0x02, 0x00, 0x00, 0x90, 0x04, 0x01, 0x2c, 0x00, 0x01])
  assert.equal(Object.keys(numbers.cache).length, 0)
})
