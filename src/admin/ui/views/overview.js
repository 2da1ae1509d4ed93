// Overview: version, uptime, totals, listeners, the newest clients, message
// and byte rate charts (history from /rates, kept by the server for 15
// minutes), drops and refusals by reason.
import { timeChart } from '../chart.js'
import { fill, h, stat, table } from '../dom.js'
import { bytes, duration, num, protocol, since } from '../format.js'

/** @param {HTMLElement} el @param {import('./context.js').Context} ctx */
export function mount(el, ctx) {
  const figures = h('div', { class: 'stats' })
  const msgHost = h('div', { class: 'chart' })
  const byteHost = h('div', { class: 'chart' })
  const listeners = h('div')
  const recent = h('div')
  const dropped = h('div')
  const rejected = h('div')
  fill(
    el,
    h('h1', {}, 'Overview'),
    figures,
    h('div', { class: 'charts' }, msgHost, byteHost),
    h(
      'div',
      { class: 'grid2' },
      h('div', {}, h('h2', {}, 'Listeners'), listeners),
      h('div', {}, h('h2', {}, 'Most recently connected'), recent),
    ),
    h(
      'div',
      { class: 'grid2' },
      h('div', {}, h('h2', {}, 'Dropped messages by reason'), dropped),
      h('div', {}, h('h2', {}, 'Refused connections by reason'), rejected),
    ),
  )
  const perSecond = (/** @type {number} */ n) => `${num(n)}/s`
  const bytesPerSecond = (/** @type {number} */ n) => `${bytes(n)}/s`
  const messages = timeChart(msgHost, {
    title: 'Messages per second',
    series: ['in', 'out'],
    unit: perSecond,
    testid: 'chart-messages',
  })
  const traffic = timeChart(byteHost, {
    title: 'Bytes per second',
    series: ['in', 'out'],
    unit: bytesPerSecond,
    testid: 'chart-bytes',
  })
  /** @type {any[]} */
  let samples = []
  let capacity = 900

  return {
    intervalMs: 2000,
    async refresh() {
      const lastT = samples.at(-1)?.t
      const [status, rates, newest] = await Promise.all([
        ctx.api('/status'),
        ctx.api(lastT === undefined ? '/rates' : `/rates?since=${lastT}`),
        ctx.api('/connections/recent?limit=10'),
      ])
      capacity = rates.capacity
      samples = samples.concat(rates.samples).slice(-capacity)
      const rate = (/** @type {any} */ s, /** @type {string} */ key) =>
        s.ms > 0 ? (s[key] * 1000) / s.ms : 0
      const points = (/** @type {string[]} */ keys) =>
        rates.samples.map((/** @type {any} */ s) => ({ x: s.t / 1000, ys: keys.map((k) => rate(s, k)) }))
      messages.push(points(['messagesIn', 'messagesOut']), capacity)
      traffic.push(points(['bytesIn', 'bytesOut']), capacity)
      const last = samples.at(-1)

      fill(
        figures,
        stat('mqttd version', 'version', status.version),
        stat('Node.js', 'node', status.node),
        stat('Uptime', 'uptime', duration(status.uptimeSeconds)),
        stat('Workers', 'workers', num(status.workers)),
        stat('Connections', 'connections', num(status.connections)),
        stat('Messages in', 'messages-in', num(status.totals.messagesIn)),
        stat('Messages out', 'messages-out', num(status.totals.messagesOut)),
        stat('Bytes in', 'bytes-in', bytes(status.totals.bytesIn)),
        stat('Bytes out', 'bytes-out', bytes(status.totals.bytesOut)),
        stat('In now', 'rate-in', last ? perSecond(rate(last, 'messagesIn')) : 'n/a'),
        stat('Out now', 'rate-out', last ? perSecond(rate(last, 'messagesOut')) : 'n/a'),
      )
      fill(
        listeners,
        table(
          ['Name', 'Type', 'Address', 'Connections', 'Accepted'],
          status.listeners.map((/** @type {any} */ l) => [
            l.name,
            l.type,
            `${l.host}:${l.port}${l.path ?? ''}`,
            h('td', { 'data-listener': l.name, class: 'num' }, num(l.connections)),
            h('td', { class: 'num' }, num(l.accepted)),
          ]),
          'not listening yet',
          'listeners',
        ),
      )
      fill(
        recent,
        table(
          ['Client id', 'Connected', 'Listener', 'Address', 'Protocol'],
          newest.items.map((/** @type {any} */ c) => [
            c.clientId,
            since(c.connectedSince),
            c.listener,
            c.remoteAddress ?? '',
            protocol(c.protocolVersion),
          ]),
          'no clients connected',
          'recent',
        ),
      )
      const windowed = (/** @type {'dropped' | 'rejected'} */ key) => {
        /** @type {Record<string, number>} */
        const sums = {}
        for (const s of samples) for (const [r, n] of Object.entries(s[key])) sums[r] = (sums[r] ?? 0) + n
        return sums
      }
      const reasons = (
        /** @type {Record<string, number>} */ total,
        /** @type {Record<string, number>} */ recentSums,
        /** @type {string} */ testid,
      ) =>
        table(
          ['Reason', 'Since start', 'Last 15 min'],
          // reasons that never happened would only hide the ones that did
          Object.entries(total)
            .filter(([, n]) => n > 0)
            .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
            .map(([reason, n]) => [
              reason,
              h('td', { class: 'num', 'data-reason': reason }, num(n)),
              h('td', { class: 'num' }, num(recentSums[reason] ?? 0)),
            ]),
          'none',
          testid,
        )
      fill(dropped, reasons(status.dropped, windowed('dropped'), 'dropped'))
      fill(rejected, reasons(status.rejected, windowed('rejected'), 'rejected'))
    },
    destroy() {
      messages.destroy()
      traffic.destroy()
    },
  }
}
