/**
 * MQTT topic ↔ NATS subject, with the rules of nats-server's own MQTT support
 * (server/mqtt.go, `mqttToNATSSubjectConversion` / `natsSubjectToMQTTTopic`):
 * `/` separates tokens (`.` in NATS), a `.` inside a level becomes `//`, and an
 * empty level (leading, trailing or doubled `/`) becomes the token `/`. So
 * `a/b` ↔ `a.b`, `a.b/c` ↔ `a//b.c`, `/a` ↔ `/.a`, `a/` ↔ `a./`, `a//b` ↔ `a./.b`.
 *
 * NATS cannot carry whitespace or control characters in a subject, and a
 * token that is exactly `*` or `>` would be a wildcard. Such levels are
 * escaped (each such character becomes `_`) and the message carries its real
 * topic in a header: the mapping of those topics is not reversible, but it
 * maps a topic and every filter matching it the same way, level by level, so
 * the subscription still receives it; the receiver then matches the real
 * topic with MQTT's rules (src/broker), which also keeps `$` topics out of
 * wildcard subscriptions [5.0 MQTT-4.7.2-1].
 */

/** Whether a character cannot appear in a NATS subject token. */
function unsafe(code: number): boolean {
  return code <= 0x20 || code === 0x7f
}

/** One MQTT level as a NATS token; `escaped` is set when the mapping is not the reversible one. */
function token(level: string, state: { escaped: boolean }): string {
  if (level.length === 0) return '/'
  if (level === '*' || level === '>') {
    state.escaped = true
    return '_'
  }
  let out = ''
  let from = 0
  for (let i = 0; i < level.length; i++) {
    const c = level.charCodeAt(i)
    if (c === 0x2e) {
      out += `${level.slice(from, i)}//`
      from = i + 1
    } else if (unsafe(c)) {
      out += `${level.slice(from, i)}_`
      from = i + 1
      state.escaped = true
    }
  }
  return from === 0 ? level : out + level.slice(from)
}

/** A topic name's subject; `exact` is false when the topic had to be escaped (see above). */
export function topicToSubject(topic: string): { subject: string; exact: boolean } {
  const state = { escaped: false }
  const subject = topic
    .split('/')
    .map((level) => token(level, state))
    .join('.')
  return { subject, exact: !state.escaped }
}

/**
 * The subjects a filter needs: `+` → `*`, `#` → `>`; MQTT's `#` also matches
 * the parent level (`a/#` matches `a`) [5.0 MQTT-4.7.1-2] [3.1.1 MQTT-4.7.1-2],
 * NATS's `>` does not, so `a/#` takes two subjects, `a` and `a.>`.
 */
export function filterToSubjects(filter: string): string[] {
  const state = { escaped: false }
  const levels = filter.split('/')
  const tokens = levels.map((level) => (level === '+' ? '*' : level === '#' ? '>' : token(level, state)))
  if (levels.length > 1 && levels[levels.length - 1] === '#')
    return [tokens.slice(0, -1).join('.'), tokens.join('.')]
  return [tokens.join('.')]
}

/** A subject back to its topic (the inverse of {@link topicToSubject} for exact mappings). */
export function subjectToTopic(subject: string): string {
  let out = ''
  for (let i = 0; i < subject.length; i++) {
    const c = subject[i]!
    if (c === '/') {
      const next = subject[i + 1]
      if (next === '.') {
        // the token `/` (an empty level) followed by a separator
        out += '/'
        i++
      } else if (next === '/') {
        out += '.'
        i++
      }
      // a lone `/` is the token of an empty level at the end: nothing to add
    } else if (c === '.') out += '/'
    else out += c
  }
  return out
}
