/**
 * A small Dockerfile reader for tests: enough of the syntax to replay this repository's
 * Dockerfile without a Docker engine (continuation lines, comments, exec/shell form, COPY flags).
 */
import { readFileSync } from 'node:fs'
import { matchesGlob } from 'node:path'

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, … */
  keyword: string
  /** The text after the keyword, continuation lines joined. */
  args: string
  line: number
}

export interface Stage {
  image: string
  name: string | undefined
  instructions: Instruction[]
}

export function parseDockerfile(path: string): Stage[] {
  const stages: Stage[] = []
  const lines = readFileSync(path, 'utf8').split('\n')
  for (let i = 0; i < lines.length; i++) {
    const start = i
    let text = lines[i]!.trim()
    if (text === '' || text.startsWith('#')) continue
    while (text.endsWith('\\')) {
      text = text.slice(0, -1)
      i++
      // Comment lines inside a continuation are dropped, as BuildKit does.
      while (lines[i]?.trim().startsWith('#')) i++
      text += ` ${lines[i]?.trim() ?? ''}`
    }
    const match = /^(\w+)\s+(.*)$/s.exec(text)
    if (!match) throw new Error(`Dockerfile line ${start + 1}: cannot parse ${text}`)
    const instruction = { keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start + 1 }
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(/\s+/)
      stages.push({ image: image!, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] })
    } else {
      const stage = stages.at(-1)
      if (!stage) throw new Error(`Dockerfile line ${start + 1}: ${instruction.keyword} before FROM`)
      stage.instructions.push(instruction)
    }
  }
  return stages
}

/** Exec form (`["a", "b"]`) as an array; shell form as `null`. */
export function execForm(args: string): string[] | null {
  if (!args.startsWith('[')) return null
  const parsed: unknown = JSON.parse(args)
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
    throw new Error(`not an exec-form array: ${args}`)
  }
  return parsed
}

/** Splits leading `--flag=value` options from the rest, e.g. for COPY and HEALTHCHECK. */
export function splitFlags(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {}
  let rest = args
  for (let m = /^--([\w-]+)=(\S+)\s+/.exec(rest); m; m = /^--([\w-]+)=(\S+)\s+/.exec(rest)) {
    flags[m[1]!] = m[2]!
    rest = rest.slice(m[0].length)
  }
  return { flags, rest }
}

/**
 * Whether `.dockerignore` rules leave a context-relative file out of the build context: the last
 * matching rule wins, `!` re-includes, and a rule matching a folder covers everything in it.
 */
export function isIgnored(file: string, rules: readonly string[]): boolean {
  let ignored = false
  for (const raw of rules) {
    const negated = raw.startsWith('!')
    const pattern = (negated ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '')
    const parts = file.split('/')
    const hit = parts.some((_, n) => matchesGlob(parts.slice(0, n + 1).join('/'), pattern))
    if (hit) ignored = !negated
  }
  return ignored
}

export function readDockerignore(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
}
