/**
 * An MQTT client over WebSocket for stock k6 (`k6/websockets`), with the
 * same surface as the xk6-mqtt extension's `Client` (`on`, `connect`,
 * `subscribe`/`subscribeAsync`, `publish`/`publishAsync`, `end`, `connected`)
 * so one scenario file drives either flavour.
 *
 * The WebSocket class is injected: k6 scripts pass k6's, the Node tests pass
 * a shim over the `ws` package. Binary frames only; the subprotocol `mqtt` is
 * sent as a Sec-WebSocket-Protocol header.
 */
import { encode, PacketReader, toArrayBuffer } from './mqtt-codec.js'

/**
 * @param {new (url: string, protocols: null, params: object) => any} WebSocketImpl
 * @returns a Client class bound to that WebSocket implementation
 */
export function wsClientClass(WebSocketImpl) {
  return class WsMqttClient {
    /** @param {{ client_id?: string, protocol_version?: number, username?: string, password?: string }} [options] */
    constructor(options = {}) {
      this.clientId = options.client_id ?? ''
      this.protocolVersion = options.protocol_version ?? 4
      this.username = options.username
      this.password = options.password
      this.handlers = {}
      this.ws = null
      this.isConnected = false
      this.nextId = 1
      this.pending = {}
      this.pingTimer = null
      this.ended = false
    }

    get connected() {
      return this.isConnected
    }

    /** @param {'connect'|'message'|'end'|'error'|'reconnect'} event */
    on(event, listener) {
      this.handlers[event] = listener
    }

    emit(event, ...args) {
      const h = this.handlers[event]
      if (h) h(...args)
    }

    /** @param {string} url ws://host:port/path @param {{ keepalive?: number, clean_session?: boolean }} [options] */
    connect(url, options = {}) {
      const keepalive = options.keepalive ?? 60
      const reader = new PacketReader(this.protocolVersion)
      const ws = new WebSocketImpl(url, null, { headers: { 'Sec-WebSocket-Protocol': 'mqtt' } })
      this.ws = ws
      ws.binaryType = 'arraybuffer'
      ws.onopen = () => {
        const connect = {
          cmd: 'connect',
          protocolVersion: this.protocolVersion,
          clientId: this.clientId,
          clean: options.clean_session !== false,
          keepalive,
        }
        if (this.username !== undefined) connect.username = this.username
        if (this.password !== undefined) connect.password = this.password
        this.send(connect)
      }
      ws.onmessage = (event) => {
        let packets
        try {
          packets = reader.push(event.data)
        } catch (err) {
          this.fail('connect', err)
          return
        }
        for (const p of packets) this.handle(p, keepalive)
      }
      ws.onerror = (event) =>
        this.fail('connect', new Error(event?.error ?? event?.message ?? 'websocket error'))
      ws.onclose = () => this.closed()
    }

    handle(p, keepalive) {
      switch (p.cmd) {
        case 'connack': {
          const code = this.protocolVersion === 5 ? p.reasonCode : p.returnCode
          if (code !== 0) {
            this.fail('connect', new Error(`CONNACK refused: ${code}`))
            this.ws.close()
            return
          }
          this.isConnected = true
          if (keepalive > 0)
            this.pingTimer = setInterval(() => this.send({ cmd: 'pingreq' }), (keepalive * 1000) / 2)
          this.emit('connect')
          return
        }
        case 'publish':
          if (p.qos === 1) this.send({ cmd: 'puback', messageId: p.messageId })
          else if (p.qos === 2) this.send({ cmd: 'pubrec', messageId: p.messageId })
          this.emit('message', p.topic, toArrayBuffer(p.payload))
          return
        case 'pubrel':
          this.send({ cmd: 'pubcomp', messageId: p.messageId })
          return
        case 'pubrec':
          this.send({ cmd: 'pubrel', messageId: p.messageId })
          return
        case 'puback':
        case 'pubcomp':
        case 'suback':
        case 'unsuback':
          this.settle(p.messageId, p)
          return
      }
    }

    settle(id, packet) {
      const done = this.pending[id]
      if (done) {
        delete this.pending[id]
        done(packet)
      }
    }

    send(packet) {
      if (!this.ws) return
      this.ws.send(toArrayBuffer(encode(packet, this.protocolVersion)))
    }

    fail(method, err) {
      this.emit('error', { name: 'MQTTError', message: err.message ?? String(err), method })
    }

    closed() {
      if (this.pingTimer !== null) clearInterval(this.pingTimer)
      this.pingTimer = null
      this.isConnected = false
      if (!this.ended) {
        this.ended = true
        this.emit('end')
      }
    }

    id() {
      const id = this.nextId
      this.nextId = id === 65535 ? 1 : id + 1
      return id
    }

    /** Resolves once the SUBACK arrives; rejects if any filter is refused. */
    subscribeAsync(topic, options = {}) {
      const topics = Array.isArray(topic) ? topic : [topic]
      const messageId = this.id()
      return new Promise((resolve, reject) => {
        this.pending[messageId] = (suback) => {
          if (suback.granted.some((g) => g >= 0x80))
            reject(new Error(`subscription refused: ${suback.granted}`))
          else resolve()
        }
        this.send({
          cmd: 'subscribe',
          messageId,
          subscriptions: topics.map((t) => ({ topic: t, qos: options.qos ?? 0 })),
        })
      })
    }

    subscribe(topic, options = {}) {
      this.subscribeAsync(topic, options).catch((err) => this.fail('subscribe', err))
    }

    /** Resolves when the publish is acknowledged (QoS 1/2) or written (QoS 0). */
    publishAsync(topic, payload, options = {}) {
      const qos = options.qos ?? 0
      const packet = { cmd: 'publish', topic, payload, qos, retain: options.retain === true }
      if (qos === 0) {
        this.send(packet)
        return Promise.resolve()
      }
      packet.messageId = this.id()
      return new Promise((resolve) => {
        this.pending[packet.messageId] = () => resolve()
        this.send(packet)
      })
    }

    publish(topic, payload, options = {}) {
      this.publishAsync(topic, payload, options)
    }

    end() {
      if (!this.ws) return
      if (this.isConnected) this.send({ cmd: 'disconnect' })
      this.ws.close()
    }

    endAsync() {
      return new Promise((resolve) => {
        const prev = this.handlers.end
        this.handlers.end = () => {
          if (prev) prev()
          resolve()
        }
        this.end()
      })
    }
  }
}
