// Number, byte, duration and protocol formatting shared by the views.

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 })

/** @param {number | null | undefined} n */
export function num(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return 'n/a'
  return Number.isInteger(n) ? integer.format(n) : decimal.format(n)
}

/** @param {number | null | undefined} n */
export function bytes(n) {
  if (n === null || n === undefined) return 'n/a'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? integer.format(v) : decimal.format(v)} ${units[i]}`
}

/** @param {number} seconds */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds))
  const d = Math.floor(s / 86400)
  const hh = Math.floor((s % 86400) / 3600)
  const mm = Math.floor((s % 3600) / 60)
  const ss = s % 60
  if (d > 0) return `${d}d ${hh}h ${mm}m`
  if (hh > 0) return `${hh}h ${mm}m ${ss}s`
  if (mm > 0) return `${mm}m ${ss}s`
  return `${ss}s`
}

/** @param {string} iso */
export function since(iso) {
  const t = Date.parse(iso)
  return `${new Date(t).toLocaleString('en-GB', { hour12: false })} (${duration((Date.now() - t) / 1000)} ago)`
}

/** @param {number} v */
export function protocol(v) {
  return v === 5 ? 'MQTT 5.0' : v === 4 ? 'MQTT 3.1.1' : v === 3 ? 'MQTT 3.1' : `v${v}`
}

/** @param {number} ratio 0..1 */
export function percent(ratio) {
  return `${decimal.format(ratio * 100)} %`
}
