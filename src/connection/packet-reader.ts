import { type PacketSink, parseFast, slowRunEnd } from './fast-path.ts'
import { PacketParser } from './packet-parser.ts'
import type { Packet } from './types.ts'

type ParserSettings = PacketParser['settings']

/** What a reader reports to, and asks of, its connection. */
export interface ReaderHost {
  /** A parsed packet. */
  packet(packet: Packet): void
  /** A parse error: the packet stream cannot be trusted past it. */
  error(err: Error): void
  /** Whether the connection closed (a listener may close it mid-chunk): reading stops. */
  closed(): boolean
}

/**
 * mqtt-packet's parser between two packets holds nothing of its connection
 * but its settings (protocol version, bridge mode). So a reader borrows this
 * worker-wide spare for a run of whole packets and gives it back, and holds a
 * parser of its own only while a packet is split across chunks: no parser
 * (EventEmitter, BufferList, packet object) is built per connection, and an
 * idle connection keeps none. A parse re-entered from a listener (an
 * in-memory pair) finds the spare taken and builds its own.
 */
let spareParser: PacketParser | undefined

/**
 * The inbound side of a Connection (the twin of packet-writer.ts): turns the
 * raw stream's chunks into packets. At a packet boundary the fast path parses
 * what it can straight from the chunk; the packets it leaves are given to
 * mqtt-packet's parser as runs of whole packets, so the fast path resumes
 * right after them (and after a CONNECT, with the version it set). A packet
 * split across chunks is completed by giving the parser exactly its missing
 * bytes. mqtt-packet's internals stay behind packet-parser.ts.
 */
export class PacketReader implements PacketSink {
  /** Raw bytes read. */
  bytesReceived = 0
  /** Largest packet accepted, fixed header included. */
  readonly maxPacketSize: number
  #host: ReaderHost
  #settings: ParserSettings
  /** The parser in use: borrowed for a run of whole packets, kept while a packet is split. */
  #parser: PacketParser | undefined

  constructor(host: ReaderHost, settings: ParserSettings, maxPacketSize: number) {
    this.#host = host
    this.#settings = settings
    this.maxPacketSize = maxPacketSize
  }

  /** A packet from the fast path (parseFast): false once the connection closed. */
  fastPacket(packet: Packet): boolean {
    this.#host.packet(packet)
    return !this.#host.closed()
  }

  /** The parser settings (protocol version, bridge mode); set by CONNECT/CONNACK or `setOptions`. */
  get settings(): ParserSettings {
    return this.#settings
  }

  set settings(settings: ParserSettings) {
    this.#settings = settings
    // a packet in progress continues with them: the parser is kept, no buffered byte is lost
    if (this.#parser !== undefined) this.#parser.settings = settings
  }

  /** Reads one chunk of the raw stream (from the Connection's `'data'` listener). */
  read(chunk: Buffer): void {
    this.bytesReceived += chunk.length
    const host = this.#host
    const end = chunk.length
    let off = 0
    while (off < end) {
      let parser = this.#parser
      let next: number
      if (parser === undefined) {
        const v5 = this.#settings.protocolVersion === 5
        off = parseFast(chunk, off, v5, this.maxPacketSize, this)
        if (off === end || host.closed()) return
        next = slowRunEnd(chunk, off, v5, this.maxPacketSize)
        parser = this.#borrowParser()
      } else {
        const missing = parser.missingBodyBytes
        // inside a fixed header split across chunks: byte by byte (≤ 4 bytes)
        next = missing === undefined ? off + 1 : Math.min(off + missing, end)
      }
      parser.parse(off === 0 && next === end ? chunk : chunk.subarray(off, next))
      off = next
      if (this.#parser === parser) this.#returnParser(parser)
      if (host.closed()) return
    }
  }

  #borrowParser(): PacketParser {
    let parser = spareParser
    if (parser === undefined) {
      parser = new PacketParser(this.#settings)
      PacketReader.#listen(parser)
    } else {
      spareParser = undefined
      parser.settings = this.#settings
    }
    parser.owner = this
    parser.maxPacketSize = this.maxPacketSize
    this.#parser = parser
    return parser
  }

  /** Gives the parser back once it is between packets; keeps it while a packet is incomplete (or it failed). */
  #returnParser(parser: PacketParser): void {
    if (!parser.idle) return
    // mqtt-packet replaces its settings with a parsed CONNECT: they are this connection's from now on
    this.#settings = parser.settings
    this.#parser = undefined
    parser.owner = undefined
    spareParser ??= parser
  }

  /** A parser's events go to whichever reader uses it at the time. */
  static #listen(parser: PacketParser): void {
    parser.on('packet', (packet: Packet) => (parser.owner as PacketReader).#host.packet(packet))
    parser.on('error', (err: Error) => (parser.owner as PacketReader).#host.error(err))
  }
}
