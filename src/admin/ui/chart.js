// A small time-series chart over uPlot (served from the admin server's
// /ui/vendor/, no CDN). The chart keeps its own copy of the points and exposes
// the latest values as data attributes, which the tests read.
import uPlot from './vendor/uplot.js'

const palette = ['#2f6fde', '#e8833a', '#2a9d5c', '#c0392b']

/**
 * @param {HTMLElement} host
 * @param {{ title: string, series: string[], unit: (n: number) => string, testid: string }} options
 */
export function timeChart(host, options) {
  /** @type {number[][]} */
  const data = [[], ...options.series.map(() => [])]
  const width = () => Math.max(280, host.clientWidth - 8)
  const plot = new uPlot(
    {
      title: options.title,
      width: width(),
      height: 220,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [{}, { size: 70, values: (_u, ticks) => ticks.map((t) => options.unit(t)) }],
      series: [
        {},
        ...options.series.map((label, i) => ({
          label,
          stroke: palette[i % palette.length],
          width: 2,
          value: (_u, v) => (v === null || v === undefined ? '–' : options.unit(v)),
        })),
      ],
    },
    data,
    host,
  )
  host.dataset.testid = options.testid
  const resize = new ResizeObserver(() => plot.setSize({ width: width(), height: 220 }))
  resize.observe(host)
  return {
    /**
     * Appends points (x in epoch seconds), keeping the last `keep`.
     * @param {{ x: number, ys: number[] }[]} points @param {number} keep
     */
    push(points, keep) {
      for (const p of points) {
        data[0].push(p.x)
        for (let i = 0; i < p.ys.length; i++) data[i + 1].push(p.ys[i])
      }
      const extra = data[0].length - keep
      if (extra > 0) for (const col of data) col.splice(0, extra)
      plot.setData(data)
      host.dataset.points = String(data[0].length)
      host.dataset.last = data
        .slice(1)
        .map((col) => String(col.at(-1) ?? 0))
        .join(',')
    },
    destroy() {
      resize.disconnect()
      plot.destroy()
    },
  }
}
