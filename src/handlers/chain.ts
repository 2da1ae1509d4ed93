/**
 * Runs one hook across the loaded handlers, in config order, with the result
 * semantics of the contract (see types.ts): `undefined` goes on, `{ stop }`
 * ends the chain, a reason code >= 0x80 refuses and ends it, a lower code
 * sets the acknowledgement's code and goes on, `{ continueAuth }` asks the
 * client for another AUTH step. A hook that throws, rejects or outlives the
 * hook timeout raises MQTTD_ERR_HOOK_FAILED / MQTTD_ERR_HOOK_TIMEOUT naming
 * the hook and the handler.
 */
import { MqttdError, mqttdError, mqttdErrorWithCause } from '../errors.ts'
import { ackWait, isAckWait } from './ack-wait.ts'
import type { ContinueAuth, Handler, HookName, ReasonResult } from './types.ts'

/** A handler ready to run: its hooks and the name used in logs and metrics. */
export interface LoadedHandler {
  name: string
  handler: Handler
}

/** Observer of hook runs (metrics); optional so the chain stays testable alone. */
export interface HookObserver {
  observeHook(hook: HookName, module: string, seconds: number): void
  hookError(hook: HookName, module: string): void
}

export interface ChainOutcome {
  /** The last reason set by a handler; >= 0x80 means refused. */
  reason: ReasonResult | undefined
  continueAuth: ContinueAuth['continueAuth'] | undefined
}

/** A failed hook: which one, in which handler. */
export class HookError extends MqttdError {
  readonly hook: HookName
  readonly handler: string
  constructor(base: MqttdError, hook: HookName, handler: string) {
    super(base.code, base.message, { cause: base.cause })
    this.hook = hook
    this.handler = handler
  }
}

type AnyHook = (...args: unknown[]) => unknown

/** The hooks whose results decide (refuse, set a code, continue authentication). */
export type DecisionHook = 'onConnect' | 'onAuth' | 'onPublish' | 'onSubscribe' | 'onUnsubscribe'
/** The hooks that are told, whose results are ignored. */
export type NotifyHook = Exclude<HookName, DecisionHook>
/** What a hook receives, from its signature in {@link Handler}. */
export type HookArgs<H extends HookName> = Parameters<NonNullable<Handler[H]>>

interface Entry {
  name: string
  fn: AnyHook
  handler: Handler
}

/** Applies one hook's result to `outcome`; true when it ends the chain. */
function settles(outcome: ChainOutcome, value: unknown): boolean {
  const result = value as Record<string, unknown> | undefined | null
  if (result === undefined || result === null) return false
  if (typeof result.continueAuth === 'object' && result.continueAuth !== null) {
    outcome.continueAuth = result.continueAuth as ChainOutcome['continueAuth']
    return true
  }
  if (typeof result.reasonCode === 'number') {
    outcome.reason = result as unknown as ReasonResult
    return result.reasonCode >= 0x80 || result.stop === true
  }
  return result.stop === true
}

/** What a notification whose hooks all answered synchronously returns (shared, settled). */
const DONE: Promise<void> = Promise.resolve()
const NONE: readonly HookError[] = Object.freeze([])
const NO_FAILURES: Promise<readonly HookError[]> = Promise.resolve(NONE)

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  )
}

export class HandlerChain {
  readonly handlers: readonly LoadedHandler[]
  /** Some handler acknowledges packets itself ({@link Handler.manualAcks}): the framework sends none. */
  readonly manualAcks: boolean
  readonly #byHook = new Map<HookName, Entry[]>()
  readonly #timeoutMs: number
  /** The last acknowledgement wait of a single-hook decision, and the outcome wait made of it. */
  #lastAckWait: { hook: HookName; value: PromiseLike<unknown>; outcome: Promise<ChainOutcome> } | undefined
  readonly #observer: HookObserver | undefined

  constructor(handlers: readonly LoadedHandler[], options: { timeoutMs: number; observer?: HookObserver }) {
    this.handlers = handlers
    this.#timeoutMs = options.timeoutMs
    this.#observer = options.observer
    this.manualAcks = handlers.some((h) => h.handler.manualAcks === true)
    for (const { name, handler } of handlers) {
      for (const [key, fn] of Object.entries(handler)) {
        if (typeof fn !== 'function' || key === 'init' || key === 'shutdown') continue
        const list = this.#byHook.get(key as HookName) ?? []
        list.push({ name, fn: fn as AnyHook, handler })
        this.#byHook.set(key as HookName, list)
      }
    }
  }

  /** How long a hook may take (limits.hookTimeoutMs); acknowledgement waits are bounded by it too. */
  get timeoutMs(): number {
    return this.#timeoutMs
  }

  /** Whether any handler implements `hook`. */
  has(hook: HookName): boolean {
    return this.#byHook.has(hook)
  }

  /**
   * Runs a decision hook (onConnect, onAuth, onPublish, onSubscribe, onUnsubscribe).
   * While every hook answers synchronously the outcome comes back as a value, not a
   * promise: this runs for every PUBLISH, and most hooks (the broker's among them)
   * decide at once. A failed hook always comes back as a rejected promise.
   */
  decide<H extends DecisionHook>(hook: H, ...args: HookArgs<H>): ChainOutcome | Promise<ChainOutcome> {
    const outcome: ChainOutcome = { reason: undefined, continueAuth: undefined }
    const entries = this.#byHook.get(hook)
    if (entries === undefined) return outcome
    try {
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i]!
        const value = this.#callSync(hook, entry, args)
        if (isThenable(value)) {
          // the last hook decided and only its acknowledgement waits: so does the outcome (ack-wait.ts),
          // one reaction for both the value and the failure (this runs per QoS 1 message)
          if (isAckWait(value) && i === entries.length - 1) {
            // a handler that gives consecutive packets the same wait (the broker: a client's
            // publishes of one group commit) gets the same outcome wait back: one reaction for all
            const last = this.#lastAckWait
            if (last !== undefined && last.value === value && last.hook === hook && i === 0)
              return last.outcome
            const derived = ackWait(
              value.then(
                (v) => {
                  if (this.#lastAckWait?.outcome === derived) this.#lastAckWait = undefined
                  settles(outcome, v)
                  return outcome
                },
                (err: unknown) => {
                  if (this.#lastAckWait?.outcome === derived) this.#lastAckWait = undefined
                  return Promise.reject(this.#failed(hook, entry, err))
                },
              ),
              entry.name,
            )
            if (i === 0) this.#lastAckWait = { hook, value, outcome: derived }
            return derived
          }
          return this.#decideRest(hook, entries, i, this.#own(hook, entry, value), outcome, args)
        }
        if (settles(outcome, value)) return outcome
      }
    } catch (err) {
      return Promise.reject(err)
    }
    return outcome
  }

  /** The rest of {@link decide} once a hook answered with a promise: `pending` is entry `i`'s answer. */
  async #decideRest(
    hook: HookName,
    entries: readonly Entry[],
    i: number,
    pending: PromiseLike<unknown>,
    outcome: ChainOutcome,
    args: unknown[],
  ): Promise<ChainOutcome> {
    if (settles(outcome, await pending)) return outcome
    for (let j = i + 1; j < entries.length; j++) {
      if (settles(outcome, await this.#call(hook, entries[j]!, args))) return outcome
    }
    return outcome
  }

  /**
   * Runs a notification hook on every handler that has it; the first failure
   * is thrown. Hooks that answer synchronously run back to back and the result
   * is a shared settled promise: no async frame or promise per call.
   */
  notify<H extends NotifyHook>(hook: H, ...args: HookArgs<H>): Promise<void> {
    return this.#notify(hook, args) ?? DONE
  }

  /**
   * {@link notify}, but `undefined` when every hook answered synchronously: the per-connection
   * paths (CONNECT, PINGREQ) go on in the same turn instead of awaiting a settled promise.
   */
  notifyNow<H extends NotifyHook>(hook: H, ...args: HookArgs<H>): Promise<void> | undefined {
    return this.#notify(hook, args)
  }

  #notify(hook: HookName, args: unknown[]): Promise<void> | undefined {
    const entries = this.#byHook.get(hook)
    if (entries === undefined) return undefined
    for (let i = 0; i < entries.length; i++) {
      let value: unknown
      try {
        value = this.#callSync(hook, entries[i]!, args)
      } catch (err) {
        return Promise.reject(err)
      }
      if (isThenable(value)) return this.#notifyRest(hook, entries, i, value, args)
    }
    return undefined
  }

  /** The rest of {@link notify} once entry `i` answered with a promise. */
  async #notifyRest(
    hook: HookName,
    entries: readonly Entry[],
    i: number,
    pending: PromiseLike<unknown>,
    args: unknown[],
  ): Promise<void> {
    await this.#own(hook, entries[i]!, pending)
    for (let j = i + 1; j < entries.length; j++) await this.#call(hook, entries[j]!, args)
  }

  /** Like {@link notify} but runs every handler even when one fails; returns the failures. */
  notifyAll<H extends NotifyHook>(hook: H, ...args: HookArgs<H>): Promise<readonly HookError[]> {
    const result = this.#notifyAll(hook, args)
    if (result === NONE) return NO_FAILURES
    return Array.isArray(result) ? Promise.resolve(result) : (result as Promise<readonly HookError[]>)
  }

  /**
   * {@link notifyAll}, with the failures as a value when every hook answered synchronously (an
   * empty list when none failed): the close of each connection goes on in the same turn.
   */
  notifyAllNow<H extends NotifyHook>(
    hook: H,
    ...args: HookArgs<H>
  ): readonly HookError[] | Promise<readonly HookError[]> {
    return this.#notifyAll(hook, args)
  }

  #notifyAll(hook: HookName, args: unknown[]): readonly HookError[] | Promise<readonly HookError[]> {
    const entries = this.#byHook.get(hook)
    if (entries === undefined) return NONE
    let failures: HookError[] | undefined
    for (let i = 0; i < entries.length; i++) {
      let value: unknown
      try {
        value = this.#callSync(hook, entries[i]!, args)
      } catch (err) {
        failures ??= []
        failures.push(err as HookError)
        continue
      }
      if (isThenable(value)) return this.#notifyAllRest(hook, entries, i, value, args, failures ?? [])
    }
    return failures ?? NONE
  }

  /** The rest of {@link notifyAll} once entry `i` answered with a promise. */
  async #notifyAllRest(
    hook: HookName,
    entries: readonly Entry[],
    i: number,
    pending: PromiseLike<unknown>,
    args: unknown[],
    failures: HookError[],
  ): Promise<readonly HookError[]> {
    try {
      await this.#own(hook, entries[i]!, pending)
    } catch (err) {
      failures.push(err as HookError)
    }
    for (let j = i + 1; j < entries.length; j++) {
      try {
        await this.#call(hook, entries[j]!, args)
      } catch (err) {
        failures.push(err as HookError)
      }
    }
    return failures
  }

  /**
   * A promise {@link #callSync} returned: an acknowledgement wait comes back from it unwrapped, and
   * its failure is still this hook's (a HookError); other promises were wrapped there already.
   */
  #own(hook: HookName, entry: Entry, value: PromiseLike<unknown>): PromiseLike<unknown> {
    return isAckWait(value)
      ? value.then(undefined, (err: unknown) => Promise.reject(this.#failed(hook, entry, err)))
      : value
  }

  /**
   * Calls one hook: its value when it answers synchronously, else a promise of
   * it (timed, observed). Throws the hook's failure as a HookError.
   */
  #callSync(hook: HookName, entry: Entry, args: unknown[]): unknown {
    const started = this.#observer === undefined ? 0 : performance.now()
    let value: unknown
    try {
      value = entry.fn.apply(entry.handler, args)
    } catch (err) {
      throw this.#failed(hook, entry, err)
    }
    if (isThenable(value)) {
      if (!isAckWait(value)) return this.#settle(hook, entry, value, started)
      // It decided before returning (ack-wait.ts): timed as an answer given now, and no timeout
      // timer per message for a wait that is the store's (a commit) or the broker's own. Returned as
      // it is: the caller maps its failure to a HookError (decide)
      this.#observer?.observeHook(hook, entry.name, (performance.now() - started) / 1000)
      return value
    }
    this.#observer?.observeHook(hook, entry.name, (performance.now() - started) / 1000)
    return value
  }

  async #settle(
    hook: HookName,
    entry: Entry,
    value: PromiseLike<unknown>,
    started: number,
  ): Promise<unknown> {
    try {
      const result = await this.#withTimeout(hook, entry.name, value)
      this.#observer?.observeHook(hook, entry.name, (performance.now() - started) / 1000)
      return result
    } catch (err) {
      throw this.#failed(hook, entry, err)
    }
  }

  /** Counts a hook's failure and wraps it as a HookError naming the hook and the handler. */
  #failed(hook: HookName, entry: Entry, err: unknown): HookError {
    this.#observer?.hookError(hook, entry.name)
    if (err instanceof HookError) return err
    const base =
      err instanceof MqttdError && err.code === 'MQTTD_ERR_HOOK_TIMEOUT'
        ? err
        : mqttdErrorWithCause(
            'MQTTD_ERR_HOOK_FAILED',
            err,
            hook,
            entry.name,
            (err as Error)?.message ?? String(err),
          )
    return new HookError(base, hook, entry.name)
  }

  async #call(hook: HookName, entry: Entry, args: unknown[]): Promise<unknown> {
    const value = this.#callSync(hook, entry, args)
    return isThenable(value) ? this.#own(hook, entry, value) : value
  }

  #withTimeout(hook: HookName, name: string, value: PromiseLike<unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(mqttdError('MQTTD_ERR_HOOK_TIMEOUT', hook, name, this.#timeoutMs)),
        this.#timeoutMs,
      )
      value.then(
        (v) => {
          clearTimeout(timer)
          resolve(v)
        },
        (e: unknown) => {
          clearTimeout(timer)
          reject(e)
        },
      )
    })
  }
}
