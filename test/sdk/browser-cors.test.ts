import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium } from 'playwright-core'
import t from 'tap'
import ts from 'typescript'
import { messages } from '../../src/credentials/errors.js'
import { buildTestApp } from '../helpers/app.js'
import { basic } from '../helpers/rest.js'

// Debian's chromium, headless, with nothing that reaches out to the network.
const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
}
const SDK = new URL('../../sdk/hey-api/', import.meta.url)

/** The browser app: create → read the ETag → PATCH with If-Match → the same PATCH again (412). */
const PAGE = `<!doctype html><title>SDK consumer</title><script type="module">
import { createClient } from '/sdk/client/index.js'
import { createCredential, getCredential, updateCredential } from '/sdk/index.js'
window.scenario = async (baseUrl, user, secret) => {
  const client = createClient({ baseUrl, auth: () => user + ':' + secret })
  const created = await createCredential({ client, body: { name: 'Browser app', grantType: 'authorization_code', scope: 'openid' } })
  const path = { credentialId: created.data.credentialId }
  const read = await getCredential({ client, path })
  const etag = read.response.headers.get('etag')
  const change = { client, path, headers: { 'If-Match': etag }, body: { description: 'Changed from a browser' } }
  const patched = await updateCredential(change)
  const stale = await updateCredential(change)
  return {
    created: created.response.status,
    location: created.response.headers.get('location'),
    etag,
    bodyEtag: read.data.etag,
    patched: patched.response.status,
    newEtag: patched.response.headers.get('etag'),
    stale: stale.response.status,
    staleDetail: stale.error.detail,
  }
}
window.ready = true
</script>`

/** A second origin: serves the page and the hey-api client, compiled from sdk/hey-api/ on request. */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((request, response) => {
    const url = request.url ?? '/'
    if (url === '/') return response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE)
    const file = url.startsWith('/sdk/') && url.endsWith('.js') ? new URL(url.slice(5).replace(/\.js$/, '.ts'), SDK) : undefined
    if (!file?.href.startsWith(SDK.href)) return response.writeHead(404).end()
    readFile(file, 'utf8').then(
      (source) => {
        const { outputText } = ts.transpileModule(source, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        })
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(outputText)
      },
      () => response.writeHead(404).end(),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

t.test('a page from another origin drives the REST resource through the hey-api client in Chromium', async (t) => {
  const { server, origin } = await pageServer()
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const test = await buildTestApp(t, { CORS_ORIGINS: origin })
  const api = await test.app.listen({ port: 0, host: '127.0.0.1' })
  t.not(new URL(api).origin, origin, 'the page and the API are different origins')

  const browser = await chromium.launch(CHROMIUM)
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${origin}/`)
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: 30_000 })

  const run = (baseUrl: string) =>
    page.evaluate(
      ([baseUrl, user, secret]) => (window as unknown as { scenario: (...args: string[]) => Promise<Record<string, unknown>> }).scenario(baseUrl, user, secret),
      [baseUrl, test.admin.identifier, test.admin.secret] as const,
    )
  const result = await run(api)
  const credentialId = Number(/\/(\d+)$/.exec(String(result.location))?.[1])
  t.same(result, {
    created: 201,
    location: `/oauth/credentials/${credentialId}`,
    etag: `"${credentialId}-1"`,
    bodyEtag: `"${credentialId}-1"`,
    patched: 200,
    newEtag: `"${credentialId}-2"`,
    stale: 412,
    staleDetail: messages.versionMismatch,
  })
  const [row] = await test.sql<{ description: string }>('SELECT description FROM credential WHERE id = $1', [credentialId])
  t.equal(row?.description, 'Changed from a browser', 'the first PATCH was written, the stale one was not')

  // The same page against an app that lists no origin: the browser refuses to let it read anything.
  const closed = await buildTestApp(t)
  const closedApi = await closed.app.listen({ port: 0, host: '127.0.0.1' })
  const refused = await page.evaluate(
    (url) => fetch(url, { method: 'POST', headers: { authorization: 'Basic eDp5', 'content-type': 'application/json' }, body: '{}' })
      .then(() => 'read', (error: Error) => error.message),
    `${closedApi}/oauth/credentials`,
  )
  t.equal(refused, 'Failed to fetch', 'without CORS_ORIGINS the browser blocks the call')
  t.same(await closed.sql('SELECT id FROM credential'), [], 'the preflight failed, so nothing was sent or written')
})

t.test('preflight: allowed for the listed origins only; no CORS headers by default', async (t) => {
  const origin = 'https://app.example.com'
  const test = await buildTestApp(t, { CORS_ORIGINS: `https://other.example.com, ${origin}` })
  const preflight = (app: typeof test.app, from: string) =>
    app.inject({
      method: 'OPTIONS',
      url: '/oauth/credentials/1',
      headers: {
        origin: from,
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'authorization, if-match, content-type',
      },
    })
  const allowed = await preflight(test.app, origin)
  t.equal(allowed.statusCode, 204)
  t.equal(allowed.headers['access-control-allow-origin'], origin)
  t.match(allowed.headers['access-control-allow-methods'], /PATCH/)
  t.same(String(allowed.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/).sort(), [
    'authorization',
    'content-type',
    'if-match',
    'x-request-id',
  ])

  const stranger = await preflight(test.app, 'https://evil.example.com')
  t.equal(stranger.headers['access-control-allow-origin'], undefined, 'an origin not listed gets no permission')

  const read = await test.app.inject({
    method: 'GET',
    url: '/oauth/credentials',
    headers: { origin, authorization: basic(test.admin) },
  })
  t.equal(read.statusCode, 200)
  t.equal(read.headers['access-control-allow-origin'], origin)
  t.same(String(read.headers['access-control-expose-headers']).split(/,\s*/), ['ETag', 'Location', 'Link', 'Retry-After', 'X-Request-Id'])

  const plain = await buildTestApp(t)
  const closed = await preflight(plain.app, origin)
  t.equal(closed.statusCode, 405, 'no CORS: OPTIONS is a method the resource does not take')
  t.notOk(
    Object.keys(closed.headers).some((name) => name.startsWith('access-control-')),
    'and no CORS header is sent',
  )
})
