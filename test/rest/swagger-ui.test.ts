import { mkdir } from 'node:fs/promises'
import { chromium } from 'playwright-core'
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { createCredential } from '../helpers/rest.js'

// Debian's chromium, headless, with nothing that reaches out to the network.
const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
}
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url)

t.test('Swagger UI: authorize, try out PATCH against the live app, see 200', async (t) => {
  const test = await buildTestApp(t)
  const { body: credential } = await createCredential(test)
  const address = await test.app.listen({ port: 0, host: '127.0.0.1' })

  const browser = await chromium.launch(CHROMIUM)
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1280, height: 2000 } })
  await page.goto(`${address}/docs/`)

  await page.locator('.auth-wrapper .authorize').click()
  const dialog = page.locator('.dialog-ux')
  await dialog.locator('input[type=text]').fill(test.admin.identifier)
  await dialog.locator('input[type=password]').fill(test.admin.secret)
  await dialog.locator('button.authorize').click()
  await dialog.locator('button.btn-done').click()

  const operation = page.locator('#operations-credentials-updateCredential')
  await operation.locator('.opblock-summary').click()
  await operation.locator('.try-out__btn').click()
  await operation.locator('tr[data-param-name="credentialId"] input').fill(String(credential.credentialId))
  await operation.locator('textarea.body-param__text').fill(JSON.stringify({ name: 'Renamed in Swagger UI' }))
  await operation.locator('button.execute').click()

  const status = operation.locator('.live-responses-table tbody .response-col_status').first()
  await status.waitFor({ timeout: 30_000 })
  t.equal((await status.innerText()).trim(), '200', 'Swagger UI shows 200')
  t.match(await operation.locator('.live-responses-table tbody .response-col_description').first().innerText(), /Renamed in Swagger UI/)

  await mkdir(ARTIFACTS, { recursive: true })
  await operation.screenshot({ path: new URL('swagger-ui-patch.png', ARTIFACTS).pathname })

  const [row] = await test.sql<{ name: string }>('SELECT name FROM credential WHERE id = $1', [credential.credentialId])
  t.equal(row?.name, 'Renamed in Swagger UI', 'the change reached the database')
  const [event] = await test.sql<{ actor: string; source: string }>(
    "SELECT actor, source FROM audit_event WHERE credential_id = $1 AND action = 'update'",
    [credential.credentialId],
  )
  t.same(event, { actor: test.admin.identifier, source: 'rest' })
})
