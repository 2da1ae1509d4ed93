/**
 * A reader for the few HAProxy config lines the deploy tests check: sections
 * (`frontend`, `backend`, ...) and their keyword lines, comments dropped.
 */
export interface HaproxySection {
  kind: string
  name: string
  lines: string[][]
}

export function parseHaproxyConfig(text: string): HaproxySection[] {
  const sections: HaproxySection[] = []
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim()
    if (line === '') continue
    const words = line.split(/\s+/)
    if (!/^\s/.test(raw)) sections.push({ kind: words[0]!, name: words[1] ?? '', lines: [] })
    else sections.at(-1)?.lines.push(words)
  }
  return sections
}

/** The first line of `section` starting with `keyword`, or undefined. */
export function lineOf(section: HaproxySection, ...keyword: string[]): string[] | undefined {
  return section.lines.find((l) => keyword.every((k, i) => l[i] === k))
}
