// Workers: connections, event-loop utilisation and restarts per worker thread.
import { fill, h, stat, table } from '../dom.js'
import { num, percent } from '../format.js'

/** @param {HTMLElement} el @param {import('./context.js').Context} ctx */
export function mount(el, ctx) {
  const figures = h('div', { class: 'stats' })
  const list = h('div')
  fill(el, h('h1', {}, 'Workers'), figures, list)
  return {
    intervalMs: 2000,
    async refresh() {
      const { workers } = await ctx.api('/workers')
      let connections = 0
      let restarts = 0
      for (const w of workers) {
        connections += w.connections
        restarts += w.restarts
      }
      fill(
        figures,
        stat('Workers', 'workers', num(workers.length)),
        stat('Connections', 'connections', num(connections)),
        stat('Restarts', 'restarts', num(restarts)),
      )
      fill(
        list,
        table(
          ['Worker', 'Thread', 'Connections', 'Event-loop utilisation', 'Restarts', 'Responding'],
          workers.map((/** @type {any} */ w) => [
            String(w.id),
            String(w.threadId),
            h('td', { class: 'num', 'data-worker-connections': w.id }, num(w.connections)),
            h(
              'td',
              {},
              h('meter', {
                min: 0,
                max: 1,
                low: 0.6,
                high: 0.85,
                optimum: 0.2,
                value: w.eventLoopUtilization,
              }),
              ' ',
              percent(w.eventLoopUtilization),
            ),
            h('td', { class: 'num' }, num(w.restarts)),
            w.responding === false ? h('td', { class: 'bad' }, 'no (last known figures)') : 'yes',
          ]),
          'no workers',
          'workers',
        ),
      )
    },
  }
}
