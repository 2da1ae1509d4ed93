// Configuration: the effective config as the server runs it, secrets redacted
// by the server (src/config/redact.ts) before it leaves the process.
import { fill, h } from '../dom.js'

/** @param {HTMLElement} el @param {import('./context.js').Context} ctx */
export function mount(el, ctx) {
  const pre = h('pre', { class: 'config', 'data-testid': 'config' })
  fill(
    el,
    h('h1', {}, 'Configuration'),
    h(
      'p',
      { class: 'hint' },
      'The effective configuration, defaults filled in. Secrets are shown as [redacted].',
    ),
    pre,
  )
  let loaded = false
  return {
    intervalMs: 30000,
    async refresh() {
      if (loaded) return
      fill(pre, JSON.stringify(await ctx.api('/config'), null, 2))
      loaded = true
    },
  }
}
