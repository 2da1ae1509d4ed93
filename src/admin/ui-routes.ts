/**
 * The status page's static files at `/ui/`: plain HTML, CSS and ES modules
 * shipped in `src/admin/ui/`, plus uPlot served from its npm package, so the
 * page loads nothing from outside the admin server and needs no build step.
 *
 * The files are read once at start and served from memory, by exact name only
 * (no path from the request ever reaches the file system). They are public:
 * the page itself holds no data and asks for the admin token before calling
 * the API. Every answer carries a strict Content-Security-Policy (scripts,
 * styles and fetches from this origin only, no inline code, no framing).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply } from 'fastify'

/** The page's Content-Security-Policy: same origin only, nothing inline, no framing, no forms. */
export const uiContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
}

interface Asset {
  body: Buffer
  type: string
}

function readTree(dir: string, root = dir, into = new Map<string, Asset>()): Map<string, Asset> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name)
    if (entry.isDirectory()) readTree(full, root, into)
    else {
      const type = contentTypes[extname(entry.name)]
      if (type !== undefined)
        into.set(relative(root, full).split(sep).join('/'), { body: readFileSync(full), type })
    }
  }
  return into
}

/** The page's files by their path under `/ui/`, read from the package and from uPlot's. */
export function loadUiAssets(): Map<string, Asset> {
  const assets = readTree(fileURLToPath(new URL('./ui/', import.meta.url)))
  // resolved from this file, so it works when mqttd itself is installed as a dependency
  const require = createRequire(import.meta.url)
  assets.set('vendor/uplot.js', {
    body: readFileSync(require.resolve('uplot/dist/uPlot.esm.js')),
    type: contentTypes['.js']!,
  })
  assets.set('vendor/uplot.css', {
    body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')),
    type: contentTypes['.css']!,
  })
  return assets
}

function send(reply: FastifyReply, asset: Asset): FastifyReply {
  return reply
    .header('content-security-policy', uiContentSecurityPolicy)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-cache')
    .type(asset.type)
    .send(asset.body)
}

/** Registers `GET /ui/` and its files on the admin app. */
export function registerUiRoutes(app: FastifyInstance): void {
  const assets = loadUiAssets()
  const index = assets.get('index.html')!
  const config = { public: true }
  app.get('/ui', { config, schema: { description: 'Redirects to /ui/.' } }, (_request, reply) =>
    // relative, so it also works behind a proxy that mounts the admin API under a prefix
    reply.redirect('ui/'),
  )
  app.get('/ui/', { config, schema: { description: 'The status page.' } }, (_request, reply) =>
    send(reply, index),
  )
  app.get<{ Params: { '*': string } }>(
    '/ui/*',
    { config, schema: { description: "The status page's scripts, styles and chart library." } },
    (request, reply) => {
      const asset = assets.get(request.params['*'])
      if (asset === undefined) return reply.callNotFound()
      return send(reply, asset)
    },
  )
}
