/**
 * A real headless Chromium for the status page tests: Debian's `chromium`
 * driven by playwright-core, a fresh profile per browser, and a record of
 * every console error, page error, failed request and HTTP error answer.
 *
 * Outside CI the tests skip with a message when the browser is missing; in CI
 * (CI=true, `.ci/run` installs it) they must run.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

export const chromiumPath = process.env.MQTTD_CHROMIUM ?? '/usr/bin/chromium'

/** A `skip` option for `test()`: false when Chromium is there or in CI, else the reason. */
export function skipWithoutChromium(): false | string {
  if (existsSync(chromiumPath) || process.env.CI === 'true') return false
  return `Chromium not found at ${chromiumPath}: browser tests skipped (apt-get install chromium; in CI they run)`
}

/** Where the test run writes its screenshots (not in the repository). */
export const screenshotDir = process.env.MQTTD_UI_SCREENSHOTS ?? join(tmpdir(), 'mqttd-ui-screenshots')

export interface Browser {
  context: BrowserContext
  page: Page
  /** Console errors, uncaught page errors, failed requests and HTTP answers >= 400, in order. */
  problems: string[]
  screenshot(name: string): Promise<string>
}

export async function openBrowser(t: TestContext): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'mqttd-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1360, height: 900 },
  })
  t.after(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  const page = context.pages()[0] ?? (await context.newPage())
  const problems: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`)
  })
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  page.on('requestfailed', (request) =>
    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ''}`),
  )
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`)
  })
  mkdirSync(screenshotDir, { recursive: true })
  t.diagnostic(`screenshots: ${screenshotDir}`)
  return {
    context,
    page,
    problems,
    async screenshot(name) {
      const path = join(screenshotDir, `${name}.png`)
      await page.screenshot({ path, fullPage: true })
      return path
    },
  }
}
