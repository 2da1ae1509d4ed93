/**
 * A small, strict parser of the Prometheus text exposition format (0.0.4) and
 * of OpenMetrics 1.0 text, for tests: it throws on any line it cannot read, on
 * a sample that belongs to no declared family, and on a duplicate series.
 */

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Family {
  name: string
  type: string
  help: string
  samples: Sample[]
}

export interface Exposition {
  families: Map<string, Family>
  samples: Sample[]
}

const sampleSuffixes: Record<string, readonly string[]> = {
  counter: ['', '_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  summary: ['', '_sum', '_count', '_created'],
  untyped: [''],
  unknown: [''],
  info: ['_info'],
  stateset: [''],
  gaugehistogram: ['_bucket', '_gsum', '_gcount'],
}

function parseValue(text: string, line: string): number {
  // Both formats read these case-insensitively (Go's ParseFloat; ABNF literals); prom-client writes 'Nan'.
  const lower = text.toLowerCase()
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY
  if (lower === '-inf') return Number.NEGATIVE_INFINITY
  if (lower === 'nan') return Number.NaN
  const v = Number(text)
  if (text === '' || Number.isNaN(v)) throw new Error(`bad sample value in: ${line}`)
  return v
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {}
  let i = 0
  while (i < text.length) {
    const m = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(text.slice(i))
    if (m === null) throw new Error(`bad label in: ${line}`)
    i += m[0].length
    let value = ''
    for (;;) {
      if (i >= text.length) throw new Error(`unterminated label value in: ${line}`)
      const c = text[i++]!
      if (c === '"') break
      if (c === '\\') {
        const e = text[i++]
        if (e === 'n') value += '\n'
        else if (e === '\\' || e === '"') value += e
        else throw new Error(`bad escape in: ${line}`)
      } else value += c
    }
    if (Object.hasOwn(labels, m[1]!)) throw new Error(`duplicate label ${m[1]} in: ${line}`)
    labels[m[1]!] = value
    const rest = text.slice(i)
    const sep = /^\s*,?\s*/.exec(rest)![0]
    i += sep.length
  }
  return labels
}

function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  for (const [suffix, cut] of [
    ['', 0],
    ['_total', 6],
    ['_created', 8],
    ['_bucket', 7],
    ['_sum', 4],
    ['_count', 6],
    ['_info', 5],
  ] as const) {
    if (!name.endsWith(suffix)) continue
    const family = families.get(name.slice(0, name.length - cut))
    if (family !== undefined && (sampleSuffixes[family.type] ?? ['']).includes(suffix)) return family
  }
  return undefined
}

/** Parses an exposition; throws with the offending line on any error. */
export function parseExposition(
  text: string,
  format: 'prometheus' | 'openmetrics' = 'prometheus',
): Exposition {
  const families = new Map<string, Family>()
  const samples: Sample[] = []
  const seen = new Set<string>()
  const lines = text.split('\n')
  if (format === 'openmetrics') {
    if (lines.at(-1) !== '' || lines.at(-2) !== '# EOF')
      throw new Error('OpenMetrics text must end with "# EOF\\n"')
    lines.splice(-2)
  }
  for (const line of lines) {
    if (line.trim() === '') {
      if (format === 'openmetrics') throw new Error('blank line in OpenMetrics text')
      continue
    }
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$/.exec(line)
      if (m === null) {
        if (format === 'openmetrics') throw new Error(`bad comment line: ${line}`)
        continue
      }
      const [, kind, name, rest = ''] = m
      let family = families.get(name!)
      if (family === undefined) {
        family = { name: name!, type: 'untyped', help: '', samples: [] }
        families.set(name!, family)
      }
      if (kind === 'HELP') family.help = rest
      else if (kind === 'TYPE') {
        if (!(rest in sampleSuffixes)) throw new Error(`unknown type in: ${line}`)
        family.type = rest
      }
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (\S+))?$/.exec(line)
    if (m === null) throw new Error(`bad sample line: ${line}`)
    const [, name, labelText = '', valueText] = m
    const sample: Sample = {
      name: name!,
      labels: parseLabels(labelText, line),
      value: parseValue(valueText!, line),
    }
    const family = familyOf(sample.name, families)
    if (family === undefined) throw new Error(`sample of an undeclared family: ${line}`)
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`)
    seen.add(key)
    family.samples.push(sample)
    samples.push(sample)
  }
  return { families, samples }
}

function matches(sample: Sample, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(labels)) if (sample.labels[k] !== v) return false
  return true
}

/** The value of the one series `name` whose labels include `labels`; throws if none or several. */
export function sampleValue(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number {
  const found = exposition.samples.filter((s) => s.name === name && matches(s, labels))
  if (found.length !== 1) {
    throw new Error(`${found.length} series match ${name}${JSON.stringify(labels)}`)
  }
  return found[0]!.value
}

/** The sum over every series `name` whose labels include `labels` (0 when none). */
export function sumOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  let total = 0
  for (const s of exposition.samples) if (s.name === name && matches(s, labels)) total += s.value
  return total
}

/** Every series `name` whose labels include `labels`. */
export function seriesOf(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  return exposition.samples.filter((s) => s.name === name && matches(s, labels))
}
