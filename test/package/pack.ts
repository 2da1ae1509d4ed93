/**
 * Packs mqttd as `npm pack` does for the registry and installs the tarball into fresh apps, for
 * the package tests (no symlink to the repository anywhere in an app).
 *
 * The pack runs in a copy of the working tree (node_modules linked for the build tools) so
 * that its prepack build writes dist/ there: the repository keeps no dist/ that could go stale,
 * and two test files packing at once do not race on it.
 */
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, symlinkSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const execFileAsync = promisify(execFile)

/** Folders of the working tree that play no part in a pack. */
const notCopied = new Set(['node_modules', '.git', 'dist', '.tmp', 'coverage'])

/**
 * The environment of a user's shell with this project's Node first on PATH: none of the npm
 * variables or NODE_OPTIONS that `npm test` sets (they carry this repository's mqttd-source
 * condition and config, which no user has).
 */
export function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || key === 'NODE_OPTIONS' || key === 'INIT_CWD') continue
    env[key] = value
  }
  env.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`
  return { ...env, ...extra }
}

export async function run(
  cmd: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number },
): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(cmd, args, {
    cwd: options.cwd,
    env: options.env ?? userEnv(),
    timeout: options.timeout ?? 180_000,
    maxBuffer: 32 * 1024 * 1024,
  })
}

export interface PackedFile {
  path: string
  size: number
}

export interface Packed {
  tarball: string
  /** What `npm pack --json` reports. */
  files: PackedFile[]
  size: number
  unpackedSize: number
}

/** `npm pack` of the working tree into `tmp`. */
export async function pack(tmp: string): Promise<Packed> {
  const tree = join(tmp, 'tree')
  cpSync(repoRoot, tree, {
    recursive: true,
    filter: (file) => {
      const top = relative(repoRoot, file).split(sep)[0]!
      return !notCopied.has(top)
    },
  })
  symlinkSync(join(repoRoot, 'node_modules'), join(tree, 'node_modules'))
  const out = join(tmp, 'out')
  mkdirSync(out)
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', out], { cwd: tree })
  // prepack's build output comes before the JSON on stdout
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as Array<{
    filename: string
    files: PackedFile[]
    size: number
    unpackedSize: number
  }>
  return {
    tarball: join(out, info!.filename),
    files: info!.files,
    size: info!.size,
    unpackedSize: info!.unpackedSize,
  }
}
