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

function extraRows(
  f: FigureName,
  targets: string[],
  head: string[],
  results: Record<string, Record<string, Cell>>,
): string[][] {
  const labels: string[] = []
  for (const t of targets) {
    const cell = results[t]?.[f]
    if (cell && 'extras' in cell)
      for (const e of cell.extras ?? []) if (!labels.includes(e.label)) labels.push(e.label)
  }
  return labels.map((label) => {
    const get = (t: string) => {
      const cell = results[t]?.[f]
      return cell && 'extras' in cell ? cell.extras?.find((e) => e.label === label) : undefined
    }
    const row = [label]
    for (const t of targets) {
      const e = get(t)
      row.push(!e || e.value === null ? 'n/a' : (e.text ?? `${e.value.toLocaleString('en-US')} ${e.unit}`))
    }
    const v = (t: string) => get(t)?.value ?? null
    if (head.includes('mqttd/mosquitto')) row.push(ratio(v('mqttd'), v('mosquitto')))
    if (head.includes('mqttd/aedes')) row.push(ratio(v('mqttd'), v('aedes')))
    if (head.includes('mosquitto/aedes')) row.push(ratio(v('mosquitto'), v('aedes')))
    if (head.includes('mqttd/bare')) row.push(ratio(v('mqttd'), v('bare')))
    if (head.includes('mqttd/bare-handoff')) row.push(ratio(v('mqttd'), v('bare-handoff')))
    return row
  })
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
  if (targets.includes('mqttd') && targets.includes('bare')) head.push('mqttd/bare')
  if (targets.includes('mqttd') && targets.includes('bare-handoff')) head.push('mqttd/bare-handoff')
  const rows: string[][] = [head]
  for (const f of figures) {
    const row: string[] = [FIGURES[f].title]
    for (const t of targets) row.push(fmt(results[t]?.[f]))
    const v = (t: string) => value(results[t]?.[f])
    if (head.includes('mqttd/mosquitto')) row.push(ratio(v('mqttd'), v('mosquitto')))
    if (head.includes('mqttd/aedes')) row.push(ratio(v('mqttd'), v('aedes')))
    if (head.includes('mosquitto/aedes')) row.push(ratio(v('mosquitto'), v('aedes')))
    if (head.includes('mqttd/bare')) row.push(ratio(v('mqttd'), v('bare')))
    if (head.includes('mqttd/bare-handoff')) row.push(ratio(v('mqttd'), v('bare-handoff')))
    rows.push(row)
    rows.push(...extraRows(f, targets, head, results))
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
    'Ratios are mqttd ÷ other on the same row (for B/conn and µs lower is better).',
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
