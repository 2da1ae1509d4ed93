import type { Handler, HandlerFactory } from './types.ts'

/**
 * Types a handler module's default export. Pass the hooks directly, or a
 * factory that receives the handler's `options` from the config and the
 * worker context and returns the hooks.
 *
 * @example
 * export default defineHandler({
 *   onConnect (ctx, packet) {
 *     if (packet.username !== 'admin') return { reasonCode: 0x86 }
 *   }
 * })
 */
export function defineHandler<T extends Handler | HandlerFactory>(definition: T): T {
  return definition
}
