/**
 * Reads the fenced code blocks of a Markdown file with their info-string attributes:
 *
 *   ```ts run                 run with Node (after the servers of the page started)
 *   ```sh run                 run with bash -euo pipefail
 *   ```sh run=server          start in the background; stopped with SIGTERM at the end (must exit 0)
 *   ```yaml file=mqttd.yaml   written to the page's work folder before anything runs after it
 *   ```sh run needs=a,b       needs the commands a and b on PATH: skipped with a message where
 *                             they are missing, a failure where CI is set (CI installs them)
 *   ```sh norun="reason"      shown only; the reason says why it cannot run here
 *   ```text                   diagrams and output, not code
 */
import { readFileSync } from 'node:fs'

export interface Sample {
  lang: string
  code: string
  /** 1-based line of the opening fence. */
  line: number
  run: 'yes' | 'server' | undefined
  file: string | undefined
  norun: string | undefined
  /** Commands the sample needs on PATH (`needs=mosquitto_pub,mosquitto_sub`). */
  needs: string[]
}

function attribute(info: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|\\s)${name}(?:=(?:"([^"]*)"|(\\S+)))?(?=\\s|$)`).exec(info)
  if (!m) return undefined
  return m[1] ?? m[2] ?? ''
}

export function readSamples(path: string): Sample[] {
  const lines = readFileSync(path, 'utf8').split('\n')
  const samples: Sample[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)(.*)$/.exec(lines[i]!)
    if (!open) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!)
    if (i >= lines.length) throw new Error(`${path}:${start + 1}: unclosed code fence`)
    const info = open[2]!.trim()
    const run = attribute(info, 'run')
    samples.push({
      lang: open[1]!,
      code: `${body.join('\n')}\n`,
      line: start + 1,
      run: run === undefined ? undefined : run === 'server' ? 'server' : 'yes',
      file: attribute(info, 'file'),
      norun: attribute(info, 'norun'),
      needs: (attribute(info, 'needs') ?? '').split(',').filter((c) => c !== ''),
    })
  }
  return samples
}
