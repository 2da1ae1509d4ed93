/**
 * Topic names and topic filters: validation, shared-subscription parsing and
 * single-filter matching. The trie in topic-trie.ts does bulk matching; this
 * file holds the rules both rely on.
 */

/** A parsed subscription filter: `$share/{group}/{filter}` or a plain filter. */
export interface ParsedFilter {
  /** The filter messages are matched against (without the `$share/group/` prefix). */
  filter: string
  /** The share name, for a shared subscription. */
  group: string | undefined
}

const SHARE_PREFIX = '$share/'

/**
 * Whether `topic` is a valid topic name for PUBLISH: at least one character
 * [3.1.1 MQTT-4.7.3-1] [5.0 MQTT-4.7.3-1], no wildcard characters [3.1.1 MQTT-3.3.2-2] [5.0 MQTT-3.3.2-2], no U+0000 [3.1.1 MQTT-4.7.3-2] [5.0 MQTT-4.7.3-2].
 */
export function isValidTopicName(topic: string): boolean {
  if (topic.length === 0) return false
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i)
    if (c === 0x2b /* + */ || c === 0x23 /* # */ || c === 0) return false
  }
  return true
}

/**
 * Whether `filter` is a valid (non-shared) topic filter: non-empty [3.1.1 MQTT-4.7.3-1] [5.0 MQTT-4.7.3-1],
 * `#` alone in the last level [3.1.1 MQTT-4.7.1-2] [5.0 MQTT-4.7.1-1], `+` alone in its level [3.1.1 MQTT-4.7.1-3] [5.0 MQTT-4.7.1-2],
 * no U+0000 [3.1.1 MQTT-4.7.3-2] [5.0 MQTT-4.7.3-2].
 */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0) return false
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!
    if (level.includes('\u0000')) return false
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return false
    if (level.includes('+') && level !== '+') return false
  }
  return true
}

/**
 * Splits a subscription filter into share group and filter, or returns
 * undefined when it is invalid. A share name is non-empty and holds no `/`,
 * `+` or `#`; the filter after it is a valid, non-empty filter [5.0 MQTT-4.8.2-1] [5.0 MQTT-4.8.2-2].
 */
export function parseFilter(raw: string): ParsedFilter | undefined {
  if (!raw.startsWith(SHARE_PREFIX)) {
    return isValidFilter(raw) ? { filter: raw, group: undefined } : undefined
  }
  const rest = raw.slice(SHARE_PREFIX.length)
  const slash = rest.indexOf('/')
  if (slash <= 0) return undefined
  const group = rest.slice(0, slash)
  if (group.includes('+') || group.includes('#')) return undefined
  const filter = rest.slice(slash + 1)
  return isValidFilter(filter) ? { filter, group } : undefined
}

/**
 * Whether topic name `topic` matches `filter`. `+` matches one level, `#` the
 * parent level and any number of levels below [3.1.1 MQTT-4.7.1-2] [5.0 MQTT-4.7.1-1]; wildcards at the
 * first level never match a topic starting with `$` [3.1.1 MQTT-4.7.2-1] [5.0 MQTT-4.7.2-1].
 */
export function matchesFilter(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 0x24 /* $ */ && (filter[0] === '+' || filter[0] === '#')) return false
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    const level = f[i]
    if (level === '#') return true
    if (i >= t.length) return false
    if (level !== '+' && level !== t[i]) return false
  }
  return f.length === t.length
}
