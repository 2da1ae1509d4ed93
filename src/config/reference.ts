/**
 * A flat reference of every config key from {@link ConfigSchema}: path,
 * type, default and description, for generated docs (`docs/config.md`) and
 * `--help`-style listings. Reads the schema only, so it never drifts.
 */
import { ConfigSchema } from './schema.ts'

export interface ConfigKey {
  /** `limits.maxPacketSize`, `listeners[].port`, … */
  path: string
  type: string
  default?: unknown
  description?: string
  /** Bounds, pattern and allowed values, as text. */
  constraints?: string
}

interface SchemaNode {
  type?: string
  anyOf?: SchemaNode[]
  const?: unknown
  properties?: Record<string, SchemaNode>
  items?: SchemaNode
  default?: unknown
  description?: string
  minimum?: number
  maximum?: number
  pattern?: string
}

function typeOf(node: SchemaNode): string {
  if (node.anyOf !== undefined) {
    if (node.anyOf.every((n) => n.const !== undefined)) return 'enum'
    return [...new Set(node.anyOf.map(typeOf))].join(' | ')
  }
  if (node.type === 'array' && node.items !== undefined) return `${typeOf(node.items)}[]`
  return node.type ?? 'any'
}

function constraintsOf(node: SchemaNode): string | undefined {
  const parts: string[] = []
  if (node.anyOf?.every((n) => n.const !== undefined))
    parts.push(node.anyOf.map((n) => String(n.const)).join(', '))
  if (node.minimum !== undefined) parts.push(`>= ${node.minimum}`)
  if (node.maximum !== undefined) parts.push(`<= ${node.maximum}`)
  if (node.pattern !== undefined) parts.push(`matches ${node.pattern}`)
  return parts.length > 0 ? parts.join('; ') : undefined
}

function walk(node: SchemaNode, path: string, out: ConfigKey[]): void {
  if (path !== '') {
    const key: ConfigKey = { path, type: typeOf(node) }
    if (node.default !== undefined) key.default = node.default
    if (node.description !== undefined) key.description = node.description
    const constraints = constraintsOf(node)
    if (constraints !== undefined) key.constraints = constraints
    out.push(key)
  }
  for (const [name, child] of Object.entries(node.properties ?? {}))
    walk(child, path === '' ? name : `${path}.${name}`, out)
  if (node.type === 'array' && node.items?.properties !== undefined) {
    for (const [name, child] of Object.entries(node.items.properties)) walk(child, `${path}[].${name}`, out)
  }
}

/** Every config key, parents before children, in schema order. */
export function configReference(): ConfigKey[] {
  const out: ConfigKey[] = []
  walk(ConfigSchema as unknown as SchemaNode, '', out)
  return out
}
