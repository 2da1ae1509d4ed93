/**
 * mosquitto's `acl_file` format and its checks (plugins/acl-file in
 * eclipse-mosquitto), so an existing file means the same here:
 *
 * ```
 * # comment
 * topic read $SYS/#          ← before any `user` line: clients without a username
 * user alice
 * topic readwrite alice/#    ← alice only
 * topic deny alice/secret
 * pattern write devices/%c/# ← every client; %c client id, %u username
 * ```
 *
 * `topic [read|write|readwrite|deny] <filter>` (no access word: readwrite).
 * For each check, `deny` rules come first; then the client's own rules (its
 * `user` section, or the anonymous section when it has no username), then
 * the patterns; no matching rule denies. A client id or username holding `+`
 * or `#` is denied everything once patterns exist (it could otherwise widen
 * a pattern). Wildcards at the first level never match a `$` topic.
 */
import { isValidFilter, matchesFilter } from '../protocol/topic.ts'

export type AclAccess = 'read' | 'write'

interface Rule {
  filter: string
  /** Empty: deny. */
  access: ReadonlySet<AclAccess>
}

interface PatternRule extends Rule {
  levels: string[]
  usesUsername: boolean
}

/** A parsed ACL file: per-user rules, the anonymous rules and the patterns, deny rules first in each. */
export interface AclRules {
  readonly users: ReadonlyMap<string, Rule[]>
  readonly anonymous: Rule[]
  readonly patterns: PatternRule[]
}

const accessWords: Record<string, AclAccess[]> = {
  read: ['read'],
  write: ['write'],
  readwrite: ['read', 'write'],
  deny: [],
}

function add<T extends Rule>(list: T[], rule: T): void {
  // mosquitto puts deny rules at the front of each list
  if (rule.access.size === 0) list.unshift(rule)
  else list.push(rule)
}

/** Parses ACL file text; throws an Error naming the line of the first problem. */
export function parseAclFile(text: string): AclRules {
  const users = new Map<string, Rule[]>()
  const anonymous: Rule[] = []
  const patterns: PatternRule[] = []
  let current: Rule[] = anonymous
  const lines = text.split(/\r?\n/)
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trimEnd()
    if (line.startsWith('#')) continue
    const at = `line ${n + 1}`
    const match = /^ *(\S+) *(.*)$/.exec(line)
    if (match === null) continue // blank
    const [, keyword, rest] = match as unknown as [string, string, string]
    if (keyword === 'user') {
      const name = rest.trim()
      if (name === '') throw new Error(`${at}: missing username`)
      current = users.get(name) ?? []
      users.set(name, current)
      continue
    }
    if (keyword !== 'topic' && keyword !== 'pattern') throw new Error(`${at}: invalid line "${line}"`)
    const words = /^(\S+)(?: +(.*))?$/.exec(rest)
    if (words === null) throw new Error(`${at}: empty topic`)
    let accessWord = 'readwrite'
    let filter = words[1]!
    if (words[2] !== undefined && words[2].trim() !== '') {
      accessWord = words[1]!
      filter = words[2].trim()
      if (accessWords[accessWord] === undefined) {
        throw new Error(`${at}: invalid access type "${accessWord}" (read, write, readwrite or deny)`)
      }
    }
    if (!isValidFilter(filter)) throw new Error(`${at}: invalid topic filter "${filter}"`)
    const access = new Set(accessWords[accessWord])
    if (keyword === 'topic') {
      add(current, { filter, access })
    } else {
      const levels = filter.split('/')
      add(patterns, { filter, access, levels, usesUsername: levels.includes('%u') })
    }
  }
  return { users, anonymous, patterns }
}

/** Who is asking: the client id and the username (undefined when it gave none). */
export interface AclSubject {
  clientId: string
  username: string | undefined
}

/** `+`/`#` may not stand in for a level; mosquitto matches %c/%u as a whole level of the topic. */
function matchesPattern(rule: PatternRule, topic: string, subject: AclSubject): boolean {
  const t = topic.split('/')
  const f = rule.levels
  // a $ topic is only reached by a rule that names $ itself
  if (topic.charCodeAt(0) === 0x24 /* $ */ && rule.filter.charCodeAt(0) !== 0x24) return false
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!
    if (level === '#') return true
    if (i >= t.length) return false
    if (level === '+') continue
    if (level === '%c' || level === '%u') {
      const value = level === '%c' ? subject.clientId : subject.username
      if (value === undefined || value === '' || value !== t[i]) return false
      continue
    }
    if (level !== t[i]) return false
  }
  return f.length === t.length
}

/** Whether `subject` may `access` the topic name `topic`, by mosquitto's acl_file rules. */
export function aclAllows(rules: AclRules, subject: AclSubject, topic: string, access: AclAccess): boolean {
  const own = subject.username === undefined ? rules.anonymous : rules.users.get(subject.username)
  if (own !== undefined) {
    for (const rule of own) {
      if (topic.charCodeAt(0) === 0x24 && rule.filter.charCodeAt(0) !== 0x24) continue
      if (!matchesFilter(rule.filter, topic)) continue
      if (rule.access.size === 0) return false
      if (rule.access.has(access)) return true
    }
  }
  if (rules.patterns.length === 0) return false
  if (/[+#]/.test(subject.clientId) || (subject.username !== undefined && /[+#]/.test(subject.username))) {
    return false
  }
  for (const rule of rules.patterns) {
    if (rule.usesUsername && subject.username === undefined) continue
    if (!matchesPattern(rule, topic, subject)) continue
    if (rule.access.size === 0) return false
    if (rule.access.has(access)) return true
  }
  return false
}
