/**
 * Topic access rules shared by the example auth handlers: MQTT topic-filter matching, and
 * `%u` / `%c` substitution (user name, client id) in rule filters, as in mosquitto's ACLs.
 */

/** Who is asking, for `%u` and `%c`. */
export interface AclSubject {
  username: string
  clientId: string
}

/** Filters a subject may publish to and subscribe to (MQTT wildcards allowed in both). */
export interface AclRules {
  publish: readonly string[]
  subscribe: readonly string[]
}

/**
 * Replaces `%u` and `%c` in a rule. A user name or client id containing `+`, `#` or `/` would widen
 * the rule, so such a subject gets a rule that matches nothing.
 */
export function substitute(rule: string, subject: AclSubject): string | null {
  if (!rule.includes('%')) return rule
  for (const value of [subject.username, subject.clientId]) {
    if (/[+#/]/.test(value)) return null
  }
  return rule.replaceAll('%u', subject.username).replaceAll('%c', subject.clientId)
}

/**
 * Whether a topic name matches a topic filter. Wildcards at the first level do not match topics
 * starting with `$` [3.1.1 MQTT-4.7.2-1] [5.0 MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length) return false
    if (f[i] !== '+' && f[i] !== t[i]) return false
  }
  return f.length === t.length
}

/**
 * Whether every topic that `requested` can match is also matched by `rule`, so that a
 * subscription to `requested` cannot receive anything the rule forbids.
 */
export function filterCovers(rule: string, requested: string): boolean {
  if (requested.startsWith('$') && (rule.startsWith('+') || rule.startsWith('#'))) return false
  const r = rule.split('/')
  const q = requested.split('/')
  for (let i = 0; i < r.length; i++) {
    if (r[i] === '#') return true
    if (i >= q.length) return false
    if (q[i] === '#') return false
    if (r[i] === '+') continue
    if (q[i] === '+' || r[i] !== q[i]) return false
  }
  return r.length === q.length
}

/** May `subject` publish to `topic`? */
export function mayPublish(rules: AclRules, subject: AclSubject, topic: string): boolean {
  return rules.publish.some((rule) => {
    const filter = substitute(rule, subject)
    return filter !== null && topicMatches(filter, topic)
  })
}

/** May `subject` subscribe to `filter`? */
export function maySubscribe(rules: AclRules, subject: AclSubject, filter: string): boolean {
  return rules.subscribe.some((rule) => {
    const allowed = substitute(rule, subject)
    return allowed !== null && filterCovers(allowed, filter)
  })
}
