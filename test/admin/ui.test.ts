/**
 * The status page in a real headless Chromium against the real pooled server:
 * mqtt.js clients make known traffic, the page must show the same numbers as
 * the admin API and the metrics, its chart must move while a publisher runs,
 * search and kick must work, and with a token nothing shows until it is given.
 * Every test also fails on any console error, page error or failed request.
 */
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import mqtt, { type IDisconnectPacket } from 'mqtt'
import type { Page } from 'playwright-core'
import { openBrowser, skipWithoutChromium } from '../helpers/browser.ts'
import { parseExposition, sumOf } from '../helpers/prom-text.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

// Functions given to page.waitForFunction/evaluate run in the browser; this file is
// type-checked without the DOM library, so declare the little they use.
interface PageElement {
  textContent: string | null
  getAttribute(name: string): string | null
}
declare const document: {
  querySelector(selector: string): PageElement | null
  querySelectorAll(selector: string): PageElement[]
}
declare const sessionStorage: { getItem(key: string): string | null }

const skip = skipWithoutChromium()
const wait = { timeout: 30_000 }

async function connect(t: TestContext, url: string, clientId: string, protocolVersion: 4 | 5) {
  const client = await mqtt.connectAsync(url, {
    clientId,
    protocolVersion,
    reconnectPeriod: 0,
    keepalive: 60,
  })
  t.after(() => client.endAsync(true))
  return client
}

async function server(t: TestContext, token?: string): Promise<TestServer & { base: string }> {
  const s = await startTestServer(t, {
    workers: 2,
    listeners: ['tcp', 'ws'],
    broker: true,
    config: { admin: { enabled: true, host: '127.0.0.1', port: 0, ...(token ? { token } : {}) } },
  })
  assert.ok(s.admin !== null)
  return Object.assign(s, { base: `http://127.0.0.1:${s.admin.port}` })
}

/** Waits until the element's text is exactly `expected`. */
async function waitText(page: Page, selector: string, expected: string): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, text]) => document.querySelector(sel!)?.textContent === text,
      [selector, expected],
      wait,
    )
  } catch (err) {
    const actual = await page
      .locator(selector)
      .first()
      .textContent({ timeout: 1000 })
      .catch(() => null)
    assert.fail(
      `${selector}: expected ${JSON.stringify(expected)}, page shows ${JSON.stringify(actual)} (${err})`,
    )
  }
}

async function scrape(base: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/metrics`, { headers })
  assert.equal(res.status, 200)
  return parseExposition(await res.text())
}

test('status page: numbers equal the API for mqtt.js traffic, chart moves, search and kick work, no errors', {
  skip,
}, async (t) => {
  const s = await server(t)
  const offline = await mqtt.connectAsync(s.url('tcp'), {
    clientId: 'ui-offline',
    protocolVersion: 4,
    clean: false,
    reconnectPeriod: 0,
  })
  await offline.subscribeAsync('ui/test', { qos: 0 })
  await offline.endAsync()
  const sub = await connect(t, s.url('tcp'), 'ui-sub', 4)
  const pub = await connect(t, s.url('ws'), 'ui-pub', 5)
  const victim = await connect(t, s.url('tcp'), 'ui-victim-1', 5)
  await sub.subscribeAsync('ui/test', { qos: 1 })
  let received = 0
  const all = new Promise<void>((resolve) =>
    sub.on('message', () => {
      if (++received === 20) resolve()
    }),
  )
  for (let i = 0; i < 20; i++) await pub.publishAsync('ui/test', `m${i}`, { qos: 1 })
  await all

  // the API's own figures for that traffic
  const metrics = await scrape(s.base)
  assert.equal(sumOf(metrics, 'mqttd_messages_received_total'), 20)
  assert.equal(sumOf(metrics, 'mqttd_messages_sent_total'), 20)
  const { workers } = (await (await fetch(`${s.base}/workers`)).json()) as {
    workers: { connections: number }[]
  }
  assert.equal(
    workers.reduce((n, w) => n + w.connections, 0),
    3,
  )

  const browser = await openBrowser(t)
  const { page } = browser
  await page.goto(`${s.base}/ui/`)

  await t.test('overview shows what the API counts', async () => {
    await waitText(page, '[data-field=connections]', '3')
    await waitText(page, '[data-field=messages-in]', '20')
    await waitText(page, '[data-field=messages-out]', '20')
    await waitText(page, '[data-field=workers]', '2')
    await waitText(page, '[data-listener=tcp]', '2')
    await waitText(page, '[data-listener=ws]', '1')
    const version = (await page.locator('[data-field=version]').textContent()) ?? ''
    const build = metrics.samples.find((x) => x.name === 'mqttd_build_info')
    assert.equal(version, build?.labels.version)
    // QoS 0 to the offline persistent session: dropped as client_offline, by the API and on the page
    assert.equal(sumOf(metrics, 'mqttd_messages_dropped_total', { reason: 'client_offline' }), 20)
    await waitText(page, '[data-testid=dropped] [data-reason=client_offline]', '20')
    // the table fills from its own poll of /connections, which may come after the counters'
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=recent] tbody tr td:first-child').length >= 3,
      null,
      wait,
    )
    const recent = await page.locator('[data-testid=recent] tbody tr td:first-child').allTextContents()
    assert.deepEqual(recent.toSorted(), ['ui-pub', 'ui-sub', 'ui-victim-1'])
    // the ws listener's address carries its path
    assert.match(
      (await page.locator('[data-testid=listeners]').textContent()) ?? '',
      /127\.0\.0\.1:\d+\/mqtt/,
    )
  })

  await t.test('the message rate chart moves while a publisher runs', async () => {
    const chart = page.locator('[data-testid=chart-messages]')
    await page.waitForFunction(
      () => Number(document.querySelector('[data-testid=chart-messages]')?.getAttribute('data-points')) > 0,
      null,
      wait,
    )
    const before = await chart.locator('canvas').screenshot()
    const pointsBefore = Number(await chart.getAttribute('data-points'))
    const timer = setInterval(() => pub.publish('ui/rate', 'x', { qos: 0 }), 5)
    t.after(() => clearInterval(timer))
    // the newest "in" rate is above zero and new points arrived
    await page.waitForFunction(
      (n) => {
        const el = document.querySelector('[data-testid=chart-messages]')
        return (
          Number(el?.getAttribute('data-points')) > n &&
          Number(el?.getAttribute('data-last')?.split(',')[0]) > 0
        )
      },
      pointsBefore,
      wait,
    )
    const after = await chart.locator('canvas').screenshot()
    assert.notDeepEqual(after, before, 'the chart was redrawn with the new rate')
    assert.notEqual(await page.locator('[data-field=rate-in]').textContent(), '0/s')
    await browser.screenshot('status-overview')
    clearInterval(timer)
  })

  await t.test('workers view sums to the connections', async () => {
    await page.goto(`${s.base}/ui/#/workers`)
    await waitText(page, '[data-field=connections]', '3')
    const cells = await page.locator('[data-worker-connections]').allTextContents()
    assert.equal(cells.length, 2)
    assert.equal(
      cells.reduce((n, c) => n + Number(c), 0),
      3,
    )
    await browser.screenshot('status-workers')
  })

  await t.test('broker view shows the broker figures, n/a where not exposed', async () => {
    await page.goto(`${s.base}/ui/#/broker`)
    await page.waitForSelector('[data-field=queue-drops]', wait)
    for (const field of [
      'sessions',
      'subscriptions',
      'retained-messages',
      'retained-bytes',
      'queued-messages',
    ]) {
      const text = (await page.locator(`[data-field=${field}]`).textContent()) ?? ''
      assert.match(text, /^(n\/a|[\d,.]+( [KMG]?i?B)?)$/, `${field}: ${text}`)
    }
    await browser.screenshot('status-broker')
  })

  await t.test('configuration view shows the effective config', async () => {
    await page.goto(`${s.base}/ui/#/config`)
    await page.waitForFunction(
      () => (document.querySelector('[data-testid=config]')?.textContent ?? '').length > 0,
      null,
      wait,
    )
    const shown = JSON.parse((await page.locator('[data-testid=config]').textContent()) ?? '')
    assert.equal(shown.workers, 2)
    assert.equal(shown.admin.ui, true)
    await browser.screenshot('status-config')
  })

  await t.test('clients page through the keyset cursor: Next and Previous', async () => {
    await page.goto(`${s.base}/ui/#/clients?size=2`)
    const ids = () => page.locator('[data-testid=clients] td.client-id').allTextContents()
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=clients] td.client-id').length === 2,
      null,
      wait,
    )
    const first = await ids()
    await page.click('#page-next:not([disabled])')
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=clients] td.client-id').length === 1,
      null,
      wait,
    )
    const second = await ids()
    assert.deepEqual([...first, ...second].toSorted(), ['ui-pub', 'ui-sub', 'ui-victim-1'])
    assert.equal(await page.locator('#page-next').isDisabled(), true, 'the last page')
    await page.click('#page-prev')
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=clients] td.client-id').length === 2,
      null,
      wait,
    )
    assert.deepEqual(await ids(), first)
  })

  await t.test('search finds a client, kick disconnects it with 0x98 and it leaves the list', async () => {
    await page.goto(`${s.base}/ui/#/clients`)
    await page.waitForSelector('[data-testid=clients] td.client-id', wait)
    await page.fill('#client-search', 'victim')
    await page.press('#client-search', 'Enter')
    await page.waitForFunction(
      () => {
        const ids = [...document.querySelectorAll('[data-testid=clients] td.client-id')].map(
          (e) => e.textContent,
        )
        return ids.length === 1 && ids[0] === 'ui-victim-1'
      },
      null,
      wait,
    )
    const row = await page.locator('[data-testid=clients] tbody tr').first().textContent()
    assert.match(row ?? '', /tcp/)
    assert.match(row ?? '', /MQTT 5\.0/)
    await browser.screenshot('status-clients')

    const disconnected = new Promise<IDisconnectPacket>((resolve) => victim.once('disconnect', resolve))
    await page.click('[data-kick="ui-victim-1"]')
    await page.waitForSelector('#confirm[open]', wait)
    await page.click('#confirm-ok')
    const packet = await disconnected
    assert.equal(packet.reasonCode, 0x98)
    await page.waitForSelector('[data-testid=clients] td.empty', wait)
    const res = await fetch(`${s.base}/connections?clientId=ui-victim-1`)
    assert.deepEqual(((await res.json()) as { items: unknown[] }).items, [])
  })

  assert.deepEqual(browser.problems, [], 'no console error, page error or failed request')
})

test('status page with admin.token: nothing shows until the token is given, never in URL or cookie', {
  skip,
}, async (t) => {
  const token = 'ui-secret-token-4711'
  const s = await server(t, token)
  await connect(t, s.url('tcp'), 'ui-token-client', 5)
  const browser = await openBrowser(t)
  const { page } = browser
  const dataAnswers: number[] = []
  page.on('response', (r) => {
    if (!r.url().includes('/ui/')) dataAnswers.push(r.status())
  })
  await page.goto(`${s.base}/ui/`)
  await page.waitForSelector('#login[open]', wait)
  await page.waitForSelector('[data-testid=locked]', wait)
  assert.equal(await page.locator('[data-field]').count(), 0, 'no figure shown without the token')
  assert.ok(
    dataAnswers.length > 0 && dataAnswers.every((status) => status === 401),
    `answers: ${dataAnswers}`,
  )
  await browser.screenshot('status-login')

  await page.fill('#login-token', 'wrong-token')
  await page.click('#login-form button[type=submit]')
  await page.waitForSelector('#login-error:not([hidden])', wait)
  assert.equal(await page.locator('[data-field]').count(), 0)

  await page.fill('#login-token', token)
  await page.click('#login-form button[type=submit]')
  await waitText(page, '[data-field=connections]', '1')
  assert.equal(await page.evaluate(() => sessionStorage.getItem('mqttd.adminToken')), token)
  assert.ok(!page.url().includes(token))
  assert.deepEqual(await browser.context.cookies(), [])

  await page.goto(`${s.base}/ui/#/config`)
  await page.waitForFunction(
    () => (document.querySelector('[data-testid=config]')?.textContent ?? '').length > 0,
    null,
    wait,
  )
  const config = (await page.locator('[data-testid=config]').textContent()) ?? ''
  assert.ok(!config.includes(token), 'the token is not shown')
  assert.equal(JSON.parse(config).admin.token, '[redacted]')

  // the kick needs the token too
  const res = await fetch(`${s.base}/connections/ui-token-client`, { method: 'DELETE' })
  assert.equal(res.status, 401)
  const left = await fetch(`${s.base}/connections?clientId=ui-token-client`, {
    headers: { authorization: `Bearer ${token}` },
  })
  assert.equal(((await left.json()) as { items: unknown[] }).items.length, 1)
  // the refusals before the token were the only HTTP errors
  const unexpected = browser.problems.filter((p) => !/\b401\b/.test(p))
  assert.deepEqual(unexpected, [])
})

test('the status page is served with a strict CSP and nosniff, and can be turned off alone', async (t) => {
  const s = await server(t)
  for (const path of ['/ui/', '/ui/app.js', '/ui/style.css', '/ui/vendor/uplot.js']) {
    const res = await fetch(`${s.base}${path}`)
    assert.equal(res.status, 200, path)
    const csp = res.headers.get('content-security-policy') ?? ''
    assert.match(csp, /default-src 'none'/, path)
    assert.match(csp, /script-src 'self'(;|$)/, path)
    assert.match(csp, /style-src 'self'(;|$)/, path)
    assert.match(csp, /frame-ancestors 'none'/, path)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, path)
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path)
  }
  const redirect = await fetch(`${s.base}/ui`, { redirect: 'manual' })
  assert.equal(redirect.status, 302)
  assert.equal(redirect.headers.get('location'), 'ui/')
  const status = await fetch(`${s.base}/status`)
  assert.equal(status.headers.get('x-content-type-options'), 'nosniff')
  // only files shipped with the page: no path reaches the file system
  for (const path of ['/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/views/../../admin-server.ts']) {
    assert.equal((await fetch(`${s.base}${path}`)).status, 404, path)
  }

  const off = await startTestServer(t, {
    config: { admin: { enabled: true, host: '127.0.0.1', port: 0, ui: false } },
  })
  const offBase = `http://127.0.0.1:${off.admin?.port}`
  assert.equal((await fetch(`${offBase}/ui/`)).status, 404)
  assert.equal((await fetch(`${offBase}/status`)).status, 200, 'the API stays')
  const none = await startTestServer(t, { config: { admin: { enabled: false, host: '127.0.0.1', port: 0 } } })
  assert.equal(none.admin, null, 'no admin API, no page')
})

test('GET /rates counts the messages of known traffic, per second, kept in the main thread', async (t) => {
  const s = await server(t)
  const pub = await connect(t, s.url('tcp'), 'rates-pub', 4)
  const start = Date.now()
  for (let i = 0; i < 30; i++) await pub.publishAsync('rates/x', 'y', { qos: 1 })
  let counted = 0
  for (let i = 0; i < 200 && counted < 30; i++) {
    const body = (await (await fetch(`${s.base}/rates?since=${start - 1000}`)).json()) as {
      intervalMs: number
      capacity: number
      samples: { t: number; ms: number; messagesIn: number; dropped: Record<string, number> }[]
    }
    assert.equal(body.capacity, 900)
    counted = body.samples.reduce((n, x) => n + x.messagesIn, 0)
    if (counted < 30) await new Promise((r) => setTimeout(r, 100))
  }
  assert.equal(counted, 30)
  const res = (await (await fetch(`${s.base}/rates`)).json()) as { samples: { connections: number }[] }
  assert.equal(res.samples.at(-1)?.connections, 1)
})
