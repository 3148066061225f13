import t from 'tap'
import { buildTestApp, freshDatabaseFor } from '../helpers/app.js'
import { cli } from '../helpers/cli.js'
import { callRest } from '../helpers/rest.js'

/*
 * Backups through the CLI, across both databases whatever TEST_DATABASE_URL says: PGlite →
 * PostgreSQL → PGlite keeps every credential, API credential and event, and clients still
 * authenticate with their secrets afterwards.
 */

interface Line {
  type: string
  [field: string]: unknown
}
const linesOf = (backup: string): Line[] => backup.trimEnd().split('\n').map((line) => JSON.parse(line) as Line)
/** The records of a backup, without its format and end lines (whose time and counts differ). */
const recordsOf = (backup: string, ...types: string[]) => linesOf(backup).filter((line) => types.includes(line.type))

t.test('PGlite → PostgreSQL → PGlite keeps everything, and clients still authenticate', async (t) => {
  // 1. Data made through the service on PGlite: every kind of field, a rotation in its grace
  //    period, a deleted credential whose trail remains, API credentials with limits, a revoked one.
  const source = await freshDatabaseFor(t, { on: 'pglite' })
  const a = await buildTestApp(t, {}, source)
  const portal = await callRest(a, {
    method: 'POST',
    url: '/oauth/credentials',
    body: {
      grantType: 'authorization_code',
      name: 'Billing portal',
      description: 'the customer portal',
      scope: 'clientarea:profile clientarea:invoices openid',
      logoUri: 'https://app.example.com/logo.png',
      redirectUri: ['https://app.example.com/callback', 'http://127.0.0.1:8080/cb'],
    },
  })
  t.equal(portal.status, 201)
  const sso = await callRest(a, { method: 'POST', url: '/oauth/credentials', body: { grantType: 'single_sign_on', serviceId: 7, scope: 'clientarea:sso' } })
  const rotated = await callRest(a, { method: 'POST', url: `/oauth/credentials/${sso.body.credentialId}/secret`, body: { graceSeconds: 3600 } })
  t.equal(rotated.status, 200)
  const gone = await callRest(a, { method: 'POST', url: '/oauth/credentials', body: { grantType: 'single_sign_on', serviceId: 8, scope: 'openid' } })
  t.equal((await callRest(a, { method: 'DELETE', url: `/oauth/credentials/${gone.body.credentialId}` })).status, 204)
  const auth = (clientIdentifier: unknown, clientSecret: unknown) => ({
    method: 'POST' as const,
    url: '/oauth/credentials/authenticate',
    body: { clientIdentifier, clientSecret },
  })
  t.equal((await callRest(a, auth(portal.body.clientIdentifier, portal.body.clientSecret))).status, 200, 'sets lastUsedAt')
  await a.app.apiClients.create({ identifier: 'billing-sync', description: 'nightly', permissions: ['ListOAuthCredentials'], allowedIps: ['10.0.0.7', '::1'] })
  await a.app.apiClients.create({ identifier: 'retired' })
  await a.app.apiClients.revoke('retired')
  await a.app.close()

  // 2. Export from PGlite.
  const first = await cli({ database: source.database }, ['export', '--with-events'])
  t.equal(first.code, 0, first.stderr)
  const firstLines = linesOf(first.stdout)
  t.match(firstLines[0], { type: 'format', format: 'oauth-credential-service/backup', version: 1, events: true })
  t.match(firstLines.at(-1), { type: 'end', credentials: 2, apiCredentials: 3, events: 5 })
  t.notMatch(first.stdout, String(portal.body.clientSecret), 'no secret, only hashes')
  t.notMatch(first.stdout, String(rotated.body.clientSecret))
  const [portalLine, ssoLine] = recordsOf(first.stdout, 'credential')
  t.match(portalLine, { secretHash: /^[0-9a-f]{64}$/, previousSecretHash: null, lastUsedAt: /^\d{4}-/, redirectUris: ['https://app.example.com/callback', 'http://127.0.0.1:8080/cb'] })
  t.match(ssoLine, { previousSecretHash: /^[0-9a-f]{64}$/, previousSecretExpiresAt: /^\d{4}-/, version: 2 })
  t.match(recordsOf(first.stdout, 'apiCredential'), [
    { identifier: 'test-admin', permissions: ['*'] },
    { identifier: 'billing-sync', description: 'nightly', permissions: ['ListOAuthCredentials'], allowedIps: ['10.0.0.7', '::1'], revokedAt: null },
    { identifier: 'retired', revokedAt: /^\d{4}-/ },
  ])

  // 3. Into PostgreSQL: a dry run writes nothing, the import writes all, a second one nothing.
  const middle = await freshDatabaseFor(t, { on: 'postgresql' })
  const dry = await cli({ database: middle.database }, ['import', '--dry-run'], first.stdout)
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, /^Credentials: 2 to create, 0 unchanged\n[^]*\nEvents: 5 to create, 0 unchanged\nDry run: nothing was written\.\n$/)
  t.same(recordsOf((await cli({ database: middle.database }, ['export', '--with-events'])).stdout, 'credential', 'apiCredential', 'event'), [], 'the dry run wrote nothing')
  const imported = await cli({ database: middle.database }, ['import'], first.stdout)
  t.equal(imported.code, 0, imported.stderr)
  t.match(imported.stdout, /Imported\.\n$/)
  const second = (await cli({ database: middle.database }, ['export', '--with-events'])).stdout
  const again = await cli({ database: middle.database }, ['import'], first.stdout)
  t.match(again.stdout, /^Credentials: 0 to create, 2 unchanged\nAPI credentials: 0 to create, 3 unchanged\nEvents: 0 to create, 5 unchanged\nImported\.\n$/)
  t.equal((await cli({ database: middle.database }, ['export', '--with-events'])).stdout.split('\n').slice(1).join('\n'),
    second.split('\n').slice(1).join('\n'), 're-importing changed nothing')

  t.same(recordsOf(second, 'credential', 'apiCredential'), recordsOf(first.stdout, 'credential', 'apiCredential'), 'PostgreSQL holds the same data')
  const secondEvents = recordsOf(second, 'event')
  t.same(secondEvents.slice(0, 5), recordsOf(first.stdout, 'event'), 'the trail, ids kept')
  t.match(secondEvents.slice(5), [
    { id: 6, credentialId: portal.body.credentialId, source: 'import', action: 'create', actor: 'cli' },
    { id: 7, credentialId: sso.body.credentialId, source: 'import', action: 'create', actor: 'cli' },
  ], 'the import is in the trail, after every imported event')

  // 4. Back into PGlite: the same data again, and the service works on it.
  const last = await freshDatabaseFor(t, { on: 'pglite' })
  t.equal((await cli({ database: last.database }, ['import'], second)).code, 0)
  const third = (await cli({ database: last.database }, ['export', '--with-events'])).stdout
  t.same(recordsOf(third, 'credential', 'apiCredential'), recordsOf(first.stdout, 'credential', 'apiCredential'), 'PGlite again holds the same data')
  const thirdEvents = recordsOf(third, 'event')
  t.same(thirdEvents.slice(0, 7), secondEvents, 'the trail again, ids kept')
  t.match(thirdEvents.slice(7), [{ id: 8, source: 'import' }, { id: 9, source: 'import' }])

  const c = await buildTestApp(t, {}, last)
  t.equal((await callRest(c, auth(portal.body.clientIdentifier, portal.body.clientSecret))).status, 200, 'the secret still works')
  t.equal((await callRest(c, auth(sso.body.clientIdentifier, rotated.body.clientSecret))).status, 200, 'the rotated secret works')
  t.equal((await callRest(c, auth(sso.body.clientIdentifier, sso.body.clientSecret))).status, 200, 'the previous one too, in its grace period')
  t.equal((await callRest(c, auth(portal.body.clientIdentifier, sso.body.clientSecret))).status, 401)
  const next = await callRest(c, { method: 'POST', url: '/oauth/credentials', body: { grantType: 'single_sign_on', serviceId: 9, scope: 'openid' } })
  t.equal(next.body.credentialId, Number(gone.body.credentialId) + 1, 'ids continue past every imported one, the deleted one too')
  const events = await callRest(c, { method: 'GET', url: `/oauth/credentials/${gone.body.credentialId}/events` })
  t.match(events.body, { items: [{ action: 'delete' }, { action: 'create' }] }, 'the deleted credential’s trail came along')
})
