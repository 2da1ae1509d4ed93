// Broker: sessions, subscriptions, retained messages and bytes, queues. The
// gauges are read by name from the metrics; one this server does not expose
// shows "n/a" (the broker may be off, or a version may name it differently).
import { fill, h, table } from '../dom.js'
import { bytes, num } from '../format.js'

/** @param {HTMLElement} el @param {import('./context.js').Context} ctx */
export function mount(el, ctx) {
  const figures = h('div', { class: 'narrow' })
  const drops = h('div', { class: 'narrow' })
  const other = h('div', { class: 'narrow' })
  fill(
    el,
    h('h1', {}, 'Broker'),
    figures,
    h('h2', {}, 'Dropped messages by reason'),
    drops,
    h('h2', {}, 'Other broker gauges'),
    other,
  )
  return {
    intervalMs: 3000,
    async refresh() {
      const { broker, dropped } = await ctx.api('/status')
      const row = (/** @type {string} */ label, /** @type {string} */ field, /** @type {string} */ value) => [
        label,
        h('td', { class: 'num', 'data-field': field }, value),
      ]
      fill(
        figures,
        table(
          ['Figure', 'Value'],
          [
            row('Sessions', 'sessions', num(broker.sessions)),
            row('Subscriptions', 'subscriptions', num(broker.subscriptions)),
            row('Retained messages', 'retained-messages', num(broker.retainedMessages)),
            row('Retained bytes', 'retained-bytes', bytes(broker.retainedBytes)),
            row('Queued messages', 'queued-messages', num(broker.queuedMessages)),
            row('Queue drops (queue full, slow consumer)', 'queue-drops', num(broker.queueDrops)),
          ],
          'none',
          'broker',
        ),
      )
      fill(
        drops,
        table(
          ['Reason', 'Since start'],
          Object.entries(dropped)
            .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
            .map(([reason, n]) => [reason, h('td', { class: 'num', 'data-reason': reason }, num(n))]),
          'none',
          'broker-dropped',
        ),
      )
      fill(
        other,
        table(
          ['Metric', 'Value', 'Meaning'],
          broker.other.map((/** @type {any} */ g) => [
            h('td', {}, h('code', {}, g.name)),
            h('td', { class: 'num' }, num(g.value)),
            g.help,
          ]),
          'none',
          'broker-other',
        ),
      )
    },
  }
}
