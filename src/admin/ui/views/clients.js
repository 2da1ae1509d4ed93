// Clients: one page of /connections at a time (its keyset cursor; nothing
// loads every client), search by client id (the server filters), kick with a
// confirmation (DELETE /connections/:clientId, v5 clients get DISCONNECT 0x98).
import { fill, h, table } from '../dom.js'
import { bytes, protocol, since } from '../format.js'

// #/clients?size=N picks another page size (1..1000, the API's limit)
function pageSize() {
  const size = Number(new URLSearchParams(location.hash.split('?')[1] ?? '').get('size'))
  return Number.isInteger(size) && size >= 1 && size <= 1000 ? size : 50
}

/** @param {HTMLElement} el @param {import('./context.js').Context} ctx */
export function mount(el, ctx) {
  const search = /** @type {HTMLInputElement} */ (
    h('input', {
      type: 'search',
      id: 'client-search',
      placeholder: 'client id contains…',
      autocomplete: 'off',
      'aria-label': 'Search client id',
    })
  )
  const list = h('div')
  const pager = h('div', { class: 'pager' })
  const message = h('p', { class: 'hint', 'data-testid': 'clients-message' })
  /** Cursors of the pages before the current one ([] on the first page); `cursor` is the current page's. */
  /** @type {(string | undefined)[]} */
  let previous = []
  /** @type {string | undefined} */
  let cursor
  /** @type {string | null} */
  let next = null
  let term = ''

  const form = h(
    'form',
    {
      class: 'search',
      role: 'search',
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault()
        term = search.value.trim()
        previous = []
        cursor = undefined
        run()
      },
    },
    search,
    h('button', { type: 'submit' }, 'Search'),
  )
  fill(el, h('h1', {}, 'Clients'), form, message, list, pager)

  /** @param {string} clientId */
  async function kick(clientId) {
    const ok = await ctx.confirm(
      'Disconnect client',
      `Disconnect "${clientId}"? MQTT 5 clients receive DISCONNECT 0x98 (administrative action); it may reconnect.`,
      'Disconnect',
    )
    if (!ok) return
    try {
      await ctx.api(`/connections/${encodeURIComponent(clientId)}`, { method: 'DELETE' })
      fill(message, `Disconnected ${clientId}.`)
    } catch (err) {
      fill(message, `Could not disconnect ${clientId}: ${err instanceof Error ? err.message : String(err)}`)
    }
    await load()
  }

  // a click's load reports its failure here (the periodic refresh reports in the header)
  const run = () => {
    load().catch((err) =>
      fill(message, `Could not load clients: ${err instanceof Error ? err.message : String(err)}`),
    )
  }

  async function load() {
    const params = new URLSearchParams({ limit: String(pageSize()) })
    if (cursor !== undefined) params.set('cursor', cursor)
    if (term !== '') params.set('search', term)
    const page = await ctx.api(`/connections?${params}`)
    next = page.nextCursor
    fill(
      list,
      table(
        [
          'Client id',
          'Connected since',
          'Transport',
          'Listener',
          'Address',
          'Protocol',
          'Worker',
          'Bytes in',
          'Bytes out',
          '',
        ],
        page.items.map((/** @type {any} */ c) => [
          h('td', { class: 'client-id' }, c.clientId),
          since(c.connectedSince),
          c.transport,
          c.listener,
          c.remoteAddress ?? '',
          protocol(c.protocolVersion),
          String(c.workerId),
          h('td', { class: 'num' }, bytes(c.bytesIn)),
          h('td', { class: 'num' }, bytes(c.bytesOut)),
          h(
            'td',
            {},
            h(
              'button',
              {
                type: 'button',
                class: 'danger small',
                'data-kick': c.clientId,
                onclick: () => kick(c.clientId),
              },
              'Kick',
            ),
          ),
        ]),
        term === '' ? 'no clients connected' : `no client id contains "${term}"`,
        'clients',
      ),
    )
    fill(
      pager,
      h('span', {}, `page ${previous.length + 1} · ${page.items.length} shown`),
      h(
        'button',
        {
          type: 'button',
          id: 'page-first',
          disabled: previous.length === 0,
          onclick: () => go([], undefined),
        },
        'First',
      ),
      h(
        'button',
        {
          type: 'button',
          id: 'page-prev',
          disabled: previous.length === 0,
          onclick: () => go(previous.slice(0, -1), previous.at(-1)),
        },
        'Previous',
      ),
      h(
        'button',
        {
          type: 'button',
          id: 'page-next',
          disabled: next === null,
          onclick: () => go([...previous, cursor], next ?? undefined),
        },
        'Next',
      ),
    )
  }

  /** @param {(string | undefined)[]} before @param {string | undefined} at */
  function go(before, at) {
    previous = before
    cursor = at
    run()
  }

  return { intervalMs: 5000, refresh: load }
}
