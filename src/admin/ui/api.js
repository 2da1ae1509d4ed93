// Calls to the admin API from the page. With `admin.token` set the token is
// asked for once, kept in this tab's sessionStorage (never in the URL, never
// in a cookie) and sent as the Bearer header.

const storageKey = 'mqttd.adminToken'

// the API sits one level above the page (/ui/), wherever a proxy mounts it
const base = new URL('../', import.meta.url)

/** Thrown when the API answers 401: the page asks for the token. */
export class AuthRequired extends Error {}

/** @type {string | null} */
let token = sessionStorage.getItem(storageKey)

/** @param {string | null} value */
export function setToken(value) {
  token = value
  if (value === null) sessionStorage.removeItem(storageKey)
  else sessionStorage.setItem(storageKey, value)
}

/**
 * @param {string} path API path such as `/status`
 * @param {RequestInit} [init]
 * @returns {Promise<any>} the JSON body, or null for 204
 */
export async function api(path, init = {}) {
  const headers = new Headers(init.headers)
  if (token !== null) headers.set('authorization', `Bearer ${token}`)
  headers.set('accept', 'application/json')
  const res = await fetch(new URL(path.replace(/^\//, ''), base), {
    ...init,
    headers,
    cache: 'no-store',
    credentials: 'omit',
  })
  if (res.status === 401) throw new AuthRequired('the admin API wants a token')
  if (res.status === 204) return null
  const body = await res.json().catch(() => null)
  if (!res.ok) {
    const err = new Error(body?.message ?? `${res.status} ${res.statusText}`)
    Object.assign(err, { status: res.status, code: body?.code })
    throw err
  }
  return body
}
