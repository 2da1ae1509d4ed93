/** Formats bench:compare results as a plain-text table with ratios. */
import type { Figure } from './measure.ts'
import { FIGURES, type FigureName } from './measure.ts'

type Cell = Figure | { error: string } | undefined

function value(cell: Cell): number | null {
  return cell && 'value' in cell ? cell.value : null
}

function fmt(cell: Cell): string {
  if (!cell) return 'n/a'
  if ('error' in cell) return 'error'
  if (cell.value === null) return 'failed'
  return `${cell.value.toLocaleString('en-US')} ${cell.unit}`
}

function ratio(a: number | null, b: number | null): string {
  if (a === null || b === null || b === 0) return 'n/a'
  return `${(a / b).toFixed(2)}×`
}

/** QoS 1: what reached the subscriber, next to what was acknowledged to publishers. */
function deliveredRow(
  targets: string[],
  head: string[],
  results: Record<string, Record<string, Cell>>,
): string[] {
  const get = (t: string): { v: number | null; text: string } => {
    const cell = results[t]?.['qos1-window100']
    if (!cell || !('detail' in cell)) return { v: null, text: 'n/a' }
    const d = cell.detail as { receivedPerSecond?: number; lost?: number; expected?: number }
    if (d.receivedPerSecond === undefined) return { v: null, text: 'n/a' }
    const loss = d.expected ? ((d.lost ?? 0) / d.expected) * 100 : 0
    return {
      v: d.receivedPerSecond,
      text: `${d.receivedPerSecond.toLocaleString('en-US')} msg/s, loss ${loss.toFixed(1)}%`,
    }
  }
  const row = ['  … of which delivered to the subscriber']
  for (const t of targets) row.push(get(t).text)
  if (head.includes('mqttd/mosquitto')) row.push(ratio(get('mqttd').v, get('mosquitto').v))
  if (head.includes('mqttd/aedes')) row.push(ratio(get('mqttd').v, get('aedes').v))
  if (head.includes('mosquitto/aedes')) row.push(ratio(get('mosquitto').v, get('aedes').v))
  return row
}

export function renderTable(
  targets: string[],
  figures: FigureName[],
  results: Record<string, Record<string, Cell>>,
  notes: Record<string, string>,
): string {
  const head = ['figure', ...targets]
  if (targets.includes('mqttd') && targets.includes('mosquitto')) head.push('mqttd/mosquitto')
  if (targets.includes('mqttd') && targets.includes('aedes')) head.push('mqttd/aedes')
  if (targets.includes('mosquitto') && targets.includes('aedes')) head.push('mosquitto/aedes')
  const rows: string[][] = [head]
  for (const f of figures) {
    const row: string[] = [FIGURES[f].title]
    for (const t of targets) row.push(fmt(results[t]?.[f]))
    const v = (t: string) => value(results[t]?.[f])
    if (head.includes('mqttd/mosquitto')) row.push(ratio(v('mqttd'), v('mosquitto')))
    if (head.includes('mqttd/aedes')) row.push(ratio(v('mqttd'), v('aedes')))
    if (head.includes('mosquitto/aedes')) row.push(ratio(v('mosquitto'), v('aedes')))
    rows.push(row)
    if (f === 'qos1-window100') rows.push(deliveredRow(targets, head, results))
  }
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  const out = [
    line(rows[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ]
  out.push(
    '',
    'Ratios are mqttd ÷ other on the same figure (for B/conn lower is better).',
    '',
    'What limited each figure:',
  )
  for (const t of targets) {
    for (const f of figures) {
      const cell = results[t]?.[f]
      if (!cell) continue
      out.push(`- ${t} / ${f}: ${'error' in cell ? `error: ${cell.error.slice(0, 200)}` : cell.limitedBy}`)
    }
  }
  out.push('', 'Targets:')
  for (const t of targets) out.push(`- ${t}: ${notes[t] ?? 'not run'}`)
  return out.join('\n')
}
