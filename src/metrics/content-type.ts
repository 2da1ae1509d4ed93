/**
 * Picks the exposition format from a scraper's Accept header. Prometheus 2.5+
 * sends e.g. `application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*\/*;q=0.1`:
 * OpenMetrics wins when it is listed with a quality at least that of plain text.
 */
import { Registry } from './prom.ts'

export type ExpositionFormat = 'prometheus' | 'openmetrics'

export const prometheusContentType = Registry.PROMETHEUS_CONTENT_TYPE
export const openMetricsContentType = Registry.OPENMETRICS_CONTENT_TYPE

function quality(params: string[]): number {
  for (const p of params) {
    const [k, v] = p.split('=')
    if (k?.trim().toLowerCase() === 'q') {
      const q = Number(v?.trim())
      return Number.isFinite(q) ? q : 0
    }
  }
  return 1
}

export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (accept === undefined || accept === '') return 'prometheus'
  let open = 0
  let text = 0
  for (const entry of accept.split(',')) {
    const [type = '', ...params] = entry.split(';')
    const mediaType = type.trim().toLowerCase()
    const q = quality(params)
    if (mediaType === 'application/openmetrics-text') open = Math.max(open, q)
    else if (mediaType === 'text/plain' || mediaType === 'text/*' || mediaType === '*/*')
      text = Math.max(text, q)
  }
  return open > 0 && open >= text ? 'openmetrics' : 'prometheus'
}
