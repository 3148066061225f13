import { mkdir } from 'node:fs/promises'
import { errors, type Locator, type Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { launchChromium } from '../helpers/browser.js'
import { createCredential } from '../helpers/rest.js'

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url)
const STATUS = '.live-responses-table tbody .response-col_status'

/**
 * Saves what an element shows, for whoever reads CI's artifacts. An element's screenshot first
 * waits for the element to stay put over two animation frames, which a headless Chromium on a
 * starved CPU may not produce (CI once waited out 30 s on one, and the checks after it did not
 * run): then the whole page is saved instead.
 */
async function screenshot(t: Test, element: Locator, name: string) {
  await mkdir(ARTIFACTS, { recursive: true })
  const path = new URL(`swagger-ui-${name}.png`, ARTIFACTS).pathname
  try {
    await element.screenshot({ path, timeout: 10_000 })
  } catch (error) {
    if (!(error instanceof errors.TimeoutError)) throw error
    t.comment(`swagger-ui-${name}.png: the element did not hold still for 10 s; the whole page is saved instead`)
    await element.page().screenshot({ path, fullPage: true, timeout: 10_000 })
  }
}

/**
 * Clicks a visible control as a DOM click event. Playwright's `click()` first waits for the
 * element to stay put over two animation frames, and headless Chromium on a starved CPU can stop
 * producing frames: in CI such a click once waited out its 30 s. The page's own handlers (React's,
 * a form's submit) run the same for this event.
 */
async function press(control: Locator) {
  await control.waitFor({ state: 'visible' })
  await control.dispatchEvent('click')
}

/** Opens an operation, presses "Try it out", lets `fill` fill it in, presses "Execute"; the status shown. */
async function execute(page: Page, id: string, fill: (operation: Locator) => Promise<void> = async () => {}) {
  const operation = page.locator(`#operations-${id}`)
  if (!(await operation.locator('.try-out__btn').isVisible())) await press(operation.locator('.opblock-summary-control'))
  await press(operation.locator('.try-out__btn'))
  await fill(operation)
  await press(operation.locator('button.execute'))
  const status = operation.locator(STATUS).first()
  await status.waitFor({ timeout: 30_000 })
  return { operation, status: (await status.innerText()).trim(), body: await operation.locator('.live-responses-table tbody .response-col_description').first().innerText() }
}

t.test('Swagger UI against the live app: document, 401 in the page, authorize, a reload that forgets it, REST and api.php', async (t) => {
  const test = await buildTestApp(t)
  const { body: credential } = await createCredential(test)
  const address = await test.app.listen({ port: 0, host: '127.0.0.1' })

  const browser = await launchChromium(t)
  const page = await browser.newPage({ viewport: { width: 1280, height: 2000 } })
  const consoleErrors: string[] = []
  page.on('console', (message) => void (message.type() === 'error' && consoleErrors.push(message.text())))
  page.on('pageerror', (error) => consoleErrors.push(error.message))
  // A Basic challenge would open the browser's dialog, and the request would wait on it.
  page.on('dialog', (dialog) => void consoleErrors.push(`dialog: ${dialog.message()}`))
  await page.goto(`${address}/docs/`)

  await page.locator('#operations-credentials-listCredentials').waitFor()
  t.equal(await page.locator('.topbar input.download-url-input').inputValue(), '/openapi.json', 'the top bar shows /openapi.json')
  await screenshot(t, page.locator('.topbar'), 'document-url')

  const unauthorized = await execute(page, 'credentials-listCredentials')
  t.equal(unauthorized.status, '401', 'Execute before Authorize shows 401 in the page, no hang')
  t.match(unauthorized.body, /"status": 401/, 'with the problem')
  await screenshot(t, unauthorized.operation, 'unauthorized')
  const plain = await test.app.inject({ url: '/oauth/credentials' })
  t.match(plain.headers['www-authenticate'], /^Basic realm=/, 'a plain HTTP client still gets the Basic challenge')

  const authorize = async () => {
    await press(page.locator('.auth-wrapper .authorize'))
    const dialog = page.locator('.dialog-ux')
    await dialog.locator('input[type=text]').fill(test.admin.identifier)
    await dialog.locator('input[type=password]').fill(test.admin.secret)
    await press(dialog.locator('button.authorize'))
    await press(dialog.locator('button.btn-done'))
  }
  await authorize()
  t.ok(await page.locator('.auth-wrapper .authorize.locked').isVisible(), 'authorized')

  // What persistAuthorization saved in an earlier version of the page, the secret in plain text.
  const saved = { basicAuth: { name: 'basicAuth', schema: { type: 'http', scheme: 'basic' }, value: { username: test.admin.identifier, password: test.admin.secret } } }
  await page.evaluate((value) => localStorage.setItem('authorized', value), JSON.stringify(saved))
  await page.reload()
  await page.locator('#operations-credentials-updateCredential').waitFor()
  t.notOk(await page.locator('.auth-wrapper .authorize.locked').isVisible(), 'a reload forgets the authorization')
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))
  t.notMatch(stored, test.admin.secret, 'the browser\'s storage holds no secret, not even one saved by an earlier version')
  await authorize()
  const patched = await execute(page, 'credentials-updateCredential', async (operation) => {
    await operation.locator('tr[data-param-name="credentialId"] input').fill(String(credential.credentialId))
    await operation.locator('textarea.body-param__text').fill(JSON.stringify({ name: 'Renamed in Swagger UI' }))
  })
  t.equal(patched.status, '200', 'PATCH once authorized again: 200')
  t.match(patched.body, /Renamed in Swagger UI/)
  await screenshot(t, patched.operation, 'patch')
  const [row] = await test.sql<{ name: string }>('SELECT name FROM credential WHERE id = $1', [credential.credentialId])
  t.equal(row?.name, 'Renamed in Swagger UI', 'the change reached the database')
  const [event] = await test.sql<{ actor: string; source: string }>(
    "SELECT actor, source FROM audit_event WHERE credential_id = $1 AND action = 'update'",
    [credential.credentialId],
  )
  t.same(event, { actor: test.admin.identifier, source: 'rest' })

  const legacy = await execute(page, 'legacy-legacyApiPost', async (operation) => {
    await operation.locator('tr[data-property-name="action"] select').selectOption('ListOAuthCredentials')
    await operation.locator('tr[data-property-name="responsetype"] select').selectOption('json')
  })
  t.equal(legacy.status, '200', 'api.php from its form fields, with the credential given in Authorize')
  t.match(legacy.body, /"result": "success"/)
  t.match(legacy.body, /Renamed in Swagger UI/)
  await screenshot(t, legacy.operation, 'legacy-form')

  // Chromium logs every 4xx response; the one 401 is the unauthorized "Execute" above.
  const expected = 'Failed to load resource: the server responded with a status of 401 (Unauthorized)'
  t.same(consoleErrors, [expected], 'no console errors (no CSP refusal), no browser dialog')
})
