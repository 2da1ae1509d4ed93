/**
 * Keyset paging of connection lists: items are ordered by (clientId,
 * workerId, connection start) and the cursor is the key of the last item
 * returned, so a page stays correct while clients come and go between
 * requests. Usable in each worker (to bound its answer to `limit`) and again
 * in the main thread over the merged answers.
 */
import { mqttdError } from '../errors.ts'
import type { ConnectionInfo, ConnectionsPage, ConnectionsQuery } from './types.ts'

type Key = [clientId: string, workerId: number, connectedSince: string]

function keyOf(c: ConnectionInfo): Key {
  return [c.clientId, c.workerId, c.connectedSince]
}

function compare(a: Key, b: Key): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1
  if (a[1] !== b[1]) return a[1] - b[1]
  return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0
}

export function encodeCursor(c: ConnectionInfo): string {
  return Buffer.from(JSON.stringify(keyOf(c))).toString('base64url')
}

/** @throws MQTTD_ERR_ADMIN_BAD_REQUEST when the cursor is not one this API issued. */
export function decodeCursor(cursor: string): Key {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown
    if (
      Array.isArray(key) &&
      key.length === 3 &&
      typeof key[0] === 'string' &&
      typeof key[1] === 'number' &&
      typeof key[2] === 'string'
    ) {
      return key as Key
    }
  } catch {
    // falls through to the coded error
  }
  throw mqttdError('MQTTD_ERR_ADMIN_BAD_REQUEST', 'cursor is not a cursor returned by GET /connections')
}

/** One page of `all` (any order) for `query`. */
export function pageConnections(all: Iterable<ConnectionInfo>, query: ConnectionsQuery): ConnectionsPage {
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
  const selected: ConnectionInfo[] = []
  for (const c of all) {
    if (query.clientId !== undefined && c.clientId !== query.clientId) continue
    if (after !== undefined && compare(keyOf(c), after) <= 0) continue
    selected.push(c)
  }
  selected.sort((a, b) => compare(keyOf(a), keyOf(b)))
  const items = selected.slice(0, query.limit)
  const last = items.at(-1)
  return {
    items,
    nextCursor: selected.length > query.limit && last !== undefined ? encodeCursor(last) : null,
  }
}
