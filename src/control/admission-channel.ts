/**
 * The per-address connection rate for listeners behind a proxy. The main
 * thread admits by address before the hand-off, but on a `proxyProtocol`
 * listener the address it sees is the proxy's; the client's is known only
 * once a worker read the PROXY header. So that worker asks the main thread,
 * which keeps the one set of per-address buckets for every listener and
 * worker, and answers. Asked only when the main thread flagged the task (a
 * rate is set), so an unlimited server never pays the round trip.
 *
 * One BroadcastChannel per server instance carries both directions; each
 * worker picks its answers by thread id and request id. Unref'd, like the
 * control channel.
 */
import { BroadcastChannel } from 'node:worker_threads'
import { onBroadcast } from '../runtime/broadcast-receive.ts'

/** The one refusal an address check gives (the count limits were applied at accept). */
export type AddressRefusal = 'rate_limited'

interface AdmissionAsk {
  kind: 'ask'
  id: number
  workerId: number
  listener: string
  address: string
}

interface AdmissionAnswer {
  kind: 'answer'
  id: number
  workerId: number
  refusal: AddressRefusal | null
}

type AdmissionMessage = AdmissionAsk | AdmissionAnswer

function channelName(instanceId: string): string {
  return `mqttd:${instanceId}:admission`
}

/** The main thread's side: answers each ask with the admission decision for that address. */
export class AdmissionServer {
  readonly #channel: BroadcastChannel

  constructor(instanceId: string, decide: (listener: string, address: string) => AddressRefusal | null) {
    this.#channel = new BroadcastChannel(channelName(instanceId))
    this.#channel.unref()
    onBroadcast<AdmissionMessage>(this.#channel, (message) => {
      if (message.kind !== 'ask') return
      const answer: AdmissionAnswer = {
        kind: 'answer',
        id: message.id,
        workerId: message.workerId,
        refusal: decide(message.listener, message.address),
      }
      this.#channel.postMessage(answer)
    })
  }

  close(): void {
    this.#channel.close()
  }
}

/** A worker's side: asks whether a proxied client's address may connect now. */
export class AdmissionClient {
  readonly #channel: BroadcastChannel
  readonly #workerId: number
  readonly #pending = new Map<number, (refusal: AddressRefusal | null) => void>()
  #nextId = 1

  constructor(instanceId: string, workerId: number) {
    this.#workerId = workerId
    this.#channel = new BroadcastChannel(channelName(instanceId))
    this.#channel.unref()
    onBroadcast<AdmissionMessage>(this.#channel, (message) => {
      if (message.kind !== 'answer' || message.workerId !== this.#workerId) return
      this.#pending.get(message.id)?.(message.refusal)
    })
  }

  /**
   * The main thread's decision for `address` on `listener`. Without an answer
   * within `timeoutMs` (the main thread stalled) the client is admitted: the
   * count limits were already applied at accept, and a rate limit that fails
   * open loses no client.
   */
  ask(listener: string, address: string, timeoutMs: number): Promise<AddressRefusal | null> {
    const id = this.#nextId++
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(null), timeoutMs)
      const settle = (refusal: AddressRefusal | null) => {
        clearTimeout(timer)
        this.#pending.delete(id)
        resolve(refusal)
      }
      this.#pending.set(id, settle)
      const ask: AdmissionAsk = { kind: 'ask', id, workerId: this.#workerId, listener, address }
      this.#channel.postMessage(ask)
    })
  }

  close(): void {
    this.#channel.close()
  }
}
