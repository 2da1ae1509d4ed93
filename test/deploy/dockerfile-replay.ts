/**
 * Replays a parsed Dockerfile on the local file system, one temp folder per stage standing in
 * for its root file system: WORKDIR, COPY (from the build context or an earlier stage), ENV,
 * USER, EXPOSE, HEALTHCHECK, ENTRYPOINT and CMD. RUN runs with `sh -c` in the stage's workdir,
 * its absolute paths moved under the stage root. What this cannot check (the base image, file
 * ownership, the engine's networking) stays for a real `docker build`.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { basename, join, posix, relative } from 'node:path'
import { execForm, isIgnored, type Stage, splitFlags } from './dockerfile-model.ts'

export interface ReplayedImage {
  /** The final stage's root file system. */
  rootfs: string
  workdir: string
  env: Record<string, string>
  user: string | undefined
  expose: number[]
  healthcheck: { flags: Record<string, string>; command: string[] } | undefined
  entrypoint: string[]
  cmd: string[]
  /** Every RUN command, in order, as written. */
  runs: string[]
  /** VOLUME paths. */
  volumes: string[]
}

export interface ReplayOptions {
  context: string
  dockerignore: readonly string[]
  /** Where the stage roots go. */
  tmp: string
  /** Environment for RUN commands (PATH must find npm). */
  env: NodeJS.ProcessEnv
}

function listFiles(dir: string, base = dir): string[] {
  if (!statSync(dir).isDirectory()) return [relative(base, dir)]
  return readdirSync(dir).flatMap((name) => listFiles(join(dir, name), base))
}

export function replayBuild(stages: readonly Stage[], options: ReplayOptions): ReplayedImage {
  const roots = new Map<string, string>()
  let image: ReplayedImage | undefined
  stages.forEach((stage, index) => {
    const rootfs = join(options.tmp, `stage-${index}`)
    // what every base image has
    mkdirSync(join(rootfs, 'tmp'), { recursive: true })
    const state: ReplayedImage = {
      rootfs,
      workdir: '/',
      env: {},
      user: undefined,
      expose: [],
      healthcheck: undefined,
      entrypoint: [],
      cmd: [],
      runs: [],
      volumes: [],
    }
    const inRoot = (path: string) => join(rootfs, posix.resolve(state.workdir, path))
    for (const { keyword, args, line } of stage.instructions) {
      const where = `Dockerfile line ${line}`
      switch (keyword) {
        case 'WORKDIR':
          state.workdir = posix.resolve(state.workdir, args)
          mkdirSync(inRoot('.'), { recursive: true })
          break
        case 'ENV':
          for (const [, k, v] of args.matchAll(/(\w+)=(\S+)/g)) state.env[k!] = v!
          break
        case 'USER':
          state.user = args
          break
        case 'EXPOSE':
          state.expose.push(...args.split(/\s+/).map((p) => Number.parseInt(p, 10)))
          break
        case 'COPY': {
          const { flags, rest } = splitFlags(args)
          const paths = execForm(rest) ?? rest.split(/\s+/)
          const dest = paths.pop()!
          const destIsDir = dest.endsWith('/') || paths.length > 1
          for (const src of paths) {
            let from: string
            if (flags.from !== undefined) {
              const stageRoot = roots.get(flags.from)
              if (!stageRoot) throw new Error(`${where}: unknown stage ${flags.from}`)
              from = join(stageRoot, src)
            } else {
              from = join(options.context, src)
              for (const file of listFiles(from, options.context)) {
                if (isIgnored(file, options.dockerignore)) {
                  throw new Error(`${where}: ${file} is left out of the build context by .dockerignore`)
                }
              }
            }
            const isDir = statSync(from).isDirectory()
            const target = destIsDir && !isDir ? join(inRoot(dest), basename(src)) : inRoot(dest)
            cpSync(from, target, { recursive: true, verbatimSymlinks: true })
          }
          break
        }
        case 'RUN': {
          state.runs.push(args)
          const command = args.replace(/(^|\s)\//g, `$1${rootfs}/`)
          execFileSync('sh', ['-c', command], {
            cwd: inRoot('.'),
            env: { ...options.env, ...state.env },
            stdio: 'pipe',
          })
          break
        }
        case 'VOLUME': {
          state.volumes.push(...(execForm(args) ?? args.split(/\s+/)))
          break
        }
        case 'HEALTHCHECK': {
          const { flags, rest } = splitFlags(args)
          const command = execForm(rest.replace(/^CMD\s+/, ''))
          if (!command) throw new Error(`${where}: HEALTHCHECK must use exec form`)
          state.healthcheck = { flags, command }
          break
        }
        case 'ENTRYPOINT':
        case 'CMD': {
          const argv = execForm(args)
          if (!argv) throw new Error(`${where}: ${keyword} must use exec form so SIGTERM reaches node`)
          if (keyword === 'ENTRYPOINT') state.entrypoint = argv
          else state.cmd = argv
          break
        }
        default:
          throw new Error(`${where}: the replay does not know ${keyword}`)
      }
    }
    roots.set(stage.name ?? String(index), rootfs)
    roots.set(String(index), rootfs)
    image = state
  })
  if (!image) throw new Error('Dockerfile has no stage')
  return image
}
