import { Transform, type TransformCallback } from 'node:stream'
import { writeToStream } from 'mqtt-packet'
import { MqttdError, mqttdErrorWithCause } from '../errors.ts'
import { generateError } from './generate-error.ts'
import { OutboundBuffer } from './outbound-buffer.ts'
import { PacketParser } from './packet-parser.ts'
import type { GenerateStreamOptions, OutgoingPacket, Packet, ParseStreamOptions } from './types.ts'

/** A parse stream that can switch protocol version in place, as mqtt-connection's does. */
export interface ParseStream extends Transform {
  setOptions(opts: ParseStreamOptions): void
}

/**
 * An object-mode Transform: Buffers in, parsed packets out (mqtt-connection's
 * `parseStream`). A parse error destroys the stream with a coded error
 * (`MQTTD_ERR_MALFORMED_PACKET` or `MQTTD_ERR_PACKET_TOO_LARGE`).
 */
export function parseStream(opts?: ParseStreamOptions): ParseStream {
  const parser = new PacketParser({ protocolVersion: opts?.protocolVersion ?? 4 }, opts?.maxPacketSize)
  const stream = new Transform({
    objectMode: true,
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      parser.parse(chunk)
      cb(failure)
    },
  }) as ParseStream
  let failure: Error | null = null
  parser.on('packet', (packet: Packet) => {
    if (failure === null) stream.push(packet)
  })
  parser.on('error', (err: Error) => {
    failure ??=
      err instanceof MqttdError ? err : mqttdErrorWithCause('MQTTD_ERR_MALFORMED_PACKET', err, err.message)
  })
  stream.setOptions = (o: ParseStreamOptions) => {
    parser.settings = { protocolVersion: o.protocolVersion ?? 4 }
  }
  return stream
}

/**
 * An object-mode Transform: packets in, Buffers out (mqtt-connection's
 * `generateStream`). An invalid packet destroys the stream with
 * `MQTTD_ERR_INVALID_PACKET` (the original stalls instead).
 */
export function generateStream(opts?: GenerateStreamOptions): Transform {
  const generateOptions = { protocolVersion: opts?.protocolVersion ?? 4 }
  const out = new OutboundBuffer()
  const sink = out as unknown as NodeJS.WritableStream
  return new Transform({
    objectMode: true,
    transform(packet: OutgoingPacket, _enc: BufferEncoding, cb: TransformCallback) {
      // writeToStream (not generate) so `userProperties: {}`-style failures are seen too
      out.begin()
      const ok = writeToStream(packet as Parameters<typeof writeToStream>[0], sink, generateOptions)
      if (!ok || out.error !== null) {
        out.rollback()
        cb(generateError(packet?.cmd, out.error))
        return
      }
      const chunks = out.take()
      cb(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))
    },
  })
}
