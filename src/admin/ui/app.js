// The status page: a hash router over five views, each polling the admin API
// while it is shown. Nothing here loads all clients at once: the views ask for
// aggregates (/status, /rates, /workers) or for one page of /connections.
import { AuthRequired, api, setToken } from './api.js'
import { fill, h } from './dom.js'
import * as broker from './views/broker.js'
import * as clients from './views/clients.js'
import * as config from './views/config.js'
import * as overview from './views/overview.js'
import * as workers from './views/workers.js'

/**
 * @typedef {import('./views/context.js').View} View
 * @typedef {import('./views/context.js').Context} Context
 */

/** @type {Record<string, { mount(el: HTMLElement, ctx: Context): View }>} */
const views = { overview, workers, clients, broker, config }

const main = /** @type {HTMLElement} */ (document.getElementById('view'))
const state = /** @type {HTMLElement} */ (document.getElementById('conn-state'))
const login = /** @type {HTMLDialogElement} */ (document.getElementById('login'))
const confirmDialog = /** @type {HTMLDialogElement} */ (document.getElementById('confirm'))

/** @type {{ name: string, view: View, timer?: number, generation: number } | null} */
let current = null
let generation = 0
let waitingForToken = false

/** @param {string} text @param {'ok' | 'error' | 'pending'} kind */
function setState(text, kind) {
  state.textContent = text
  state.dataset.state = kind
}

/** @type {Context['confirm']} */
function confirm(title, text, ok) {
  fill(/** @type {HTMLElement} */ (document.getElementById('confirm-title')), title)
  fill(/** @type {HTMLElement} */ (document.getElementById('confirm-text')), text)
  fill(/** @type {HTMLElement} */ (document.getElementById('confirm-ok')), ok)
  confirmDialog.showModal()
  return new Promise((resolve) => {
    const form = /** @type {HTMLFormElement} */ (document.getElementById('confirm-form'))
    const cancel = /** @type {HTMLButtonElement} */ (document.getElementById('confirm-cancel'))
    const done = (/** @type {boolean} */ answer) => {
      form.removeEventListener('submit', onSubmit)
      cancel.removeEventListener('click', onCancel)
      confirmDialog.removeEventListener('cancel', onCancel)
      confirmDialog.close()
      resolve(answer)
    }
    const onSubmit = (/** @type {Event} */ e) => {
      e.preventDefault()
      done(true)
    }
    const onCancel = (/** @type {Event} */ e) => {
      e.preventDefault()
      done(false)
    }
    form.addEventListener('submit', onSubmit)
    cancel.addEventListener('click', onCancel)
    confirmDialog.addEventListener('cancel', onCancel)
  })
}

function askForToken() {
  if (waitingForToken) return
  waitingForToken = true
  setState('token required', 'pending')
  fill(
    main,
    h('p', { class: 'locked', 'data-testid': 'locked' }, 'The admin API needs a token to show anything.'),
  )
  login.showModal()
  document.getElementById('login-token')?.focus()
}

document.getElementById('login-form')?.addEventListener('submit', async (e) => {
  e.preventDefault()
  const input = /** @type {HTMLInputElement} */ (document.getElementById('login-token'))
  const error = /** @type {HTMLElement} */ (document.getElementById('login-error'))
  setToken(input.value.trim())
  try {
    await api('/readyz').catch((err) => {
      // 503 while starting or draining still proves the token
      if (err instanceof AuthRequired) throw err
    })
  } catch {
    setToken(null)
    error.hidden = false
    input.select()
    return
  }
  error.hidden = true
  input.value = ''
  login.close()
  waitingForToken = false
  route()
})
// the page cannot work without the token: Escape does not close the dialog
login.addEventListener('cancel', (e) => e.preventDefault())

/** @param {{ name: string, view: View, generation: number }} active */
async function tick(active) {
  if (current?.generation !== active.generation) return
  try {
    await active.view.refresh()
    if (current?.generation !== active.generation) return
    setState('live', 'ok')
  } catch (err) {
    if (current?.generation !== active.generation) return
    if (err instanceof AuthRequired) {
      current = null
      askForToken()
      return
    }
    setState(`error: ${err instanceof Error ? err.message : String(err)}`, 'error')
  }
  if (current?.generation === active.generation) {
    current.timer = window.setTimeout(() => tick(active), active.view.intervalMs)
  }
}

function route() {
  const name = location.hash.replace(/^#\/?/, '').split('?')[0] || 'overview'
  const module = views[name] ?? views.overview
  if (current !== null) {
    window.clearTimeout(current.timer)
    current.view.destroy?.()
  }
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle(
      'active',
      /** @type {HTMLElement} */ (a).dataset.view === (views[name] ? name : 'overview'),
    )
  }
  if (waitingForToken) return
  fill(main)
  const el = h('section', { class: `view view-${name}`, 'data-view': name })
  main.append(el)
  generation++
  const active = { name, view: module.mount(el, { api, confirm }), generation }
  current = active
  void tick(active)
}

window.addEventListener('hashchange', route)
route()
