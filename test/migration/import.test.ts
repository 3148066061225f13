import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { AuditRetention } from '../../src/credentials/retention.js'
import { credentialStorage } from '../../src/credentials/storage.js'
import { PROJECT_ROOT } from '../../src/paths.js'
import { buildTestApp, freshDatabaseEnv, freshDatabaseFor } from '../helpers/app.js'
import { cli } from '../helpers/cli.js'
import { ensurePhp, startLegacyUpstream } from '../helpers/legacy-upstream.js'
import { callRest } from '../helpers/rest.js'

// A dozen CLI runs, each opening the database afresh: room for a loaded machine.
t.setTimeout(300_000)

// Two clients as the original's ListOAuthCredentials (json) lists them, secrets included.
const sso = {
  credentialId: 5,
  name: 'Single Sign On',
  description: '',
  grantTypes: 'single_sign_on',
  scope: 'clientarea:sso',
  clientIdentifier: `WHMCS.${randomBytes(16).toString('base64')}`,
  clientSecret: randomBytes(64).toString('base64'),
  uuid: null,
  serviceId: 12,
  logoUri: '',
  redirectUri: [],
  rsaKeyPairId: 0,
  createdAt: '18th November 2016 9:32:24am',
  updatedAt: '2nd January 2017 1:04:05pm',
}
const portal = {
  ...sso,
  credentialId: 9,
  name: 'Billing portal',
  description: 'the customer app',
  grantTypes: 'authorization_code',
  scope: 'clientarea:profile openid',
  clientIdentifier: `WHMCS.${randomBytes(16).toString('base64')}`,
  clientSecret: randomBytes(64).toString('base64'),
  serviceId: 0,
  logoUri: 'https://app.example.com/logo.png',
  redirectUri: ['https://app.example.com/callback', 'com.example.app:/cb'],
  createdAt: '2018-03-04 05:06:07',
  updatedAt: '2019-08-09 10:11:12',
}

t.test('import-legacy: from the original, all or nothing, again and again; its clients then work here', async (t) => {
  const upstream = await startLegacyUpstream(t, [sso, portal])
  const dir = t.testdir()
  const fresh = await freshDatabaseFor(t)
  const config = loadConfig({ LEGACY_UPSTREAM_SECRET: upstream.secret })
  const { database } = fresh
  const importLegacy = async (...extra: string[]) => {
    const argv = ['import-legacy', ...(extra.includes('--file') ? [] : ['--url', upstream.url, '--identifier', upstream.identifier]), ...extra]
    const result = await cli({ config, database }, argv)
    t.notMatch(result.stdout + result.stderr, sso.clientSecret.slice(0, 16), 'no secret is ever printed')
    return result
  }

  const dry = await importLegacy('--dry-run')
  t.equal(dry.code, 0)
  t.match(dry.stdout, /^Credentials: 2 to create, 0 to update, 0 unchanged\n {2}create 5 WHMCS\.\S+ "Single Sign On"\n {2}create 9 WHMCS\.\S+ "Billing portal"\n/)
  t.match(dry.stdout, /"Billing portal"\nDry run: nothing was written\.\n$/, 'credentials only: the original has no API credentials or events to import')

  await upstream.setClients([sso, portal, { ...portal, credentialId: 11, clientIdentifier: 'WHMCS.x', scope: 'clientarea:everything' }, { ...portal, credentialId: 12, clientIdentifier: 'WHMCS.y', grantTypes: 'password' }])
  const invalid = await importLegacy()
  t.equal(invalid.code, 1, 'an unknown scope or grant type refuses the whole import')
  t.match(invalid.stderr, 'credential 11 (clients[2]): The requested scope "clientarea:everything" is invalid.')
  t.match(invalid.stderr, 'credential 12 (clients[3]): The requested grant type "password" is invalid.')
  t.match(invalid.stderr, /Refused: nothing was written\.\n$/)

  await upstream.setClients([sso, portal])
  const first = await importLegacy()
  t.equal(first.code, 0)
  t.match(first.stdout, /^Credentials: 2 to create, 0 to update, 0 unchanged\n/, 'the refused run wrote nothing')
  t.match(first.stdout, /Imported\.\n$/)

  const again = await importLegacy()
  t.match(again.stdout, /^Credentials: 0 to create, 0 to update, 2 unchanged\n/, 'a re-run is idempotent')

  const renamed = { ...portal, name: 'Billing portal (new)', updatedAt: '2020-01-01 00:00:00' }
  await upstream.setClients([sso, renamed])
  const changed = await importLegacy()
  t.match(changed.stdout, /^Credentials: 0 to create, 1 to update, 1 unchanged\n {2}update 9 WHMCS\.\S+: name, updatedAt\n/, 'a change made meanwhile is caught')

  await upstream.setClients([sso, { ...renamed, clientIdentifier: 'WHMCS.other' }, { ...renamed, credentialId: 20 }])
  const conflicts = await importLegacy()
  t.equal(conflicts.code, 1)
  t.match(conflicts.stderr, `credential 9 (clients[1]): id 9 holds ${portal.clientIdentifier}, the import has WHMCS.other`)
  t.match(conflicts.stderr, `credential 20 (clients[2]): ${portal.clientIdentifier} is credential 9 here`)

  // A saved answer, taken straight from the original.
  const saved = path.join(dir, 'list.json')
  await upstream.setClients([sso, renamed])
  const answer = await fetch(upstream.url, {
    method: 'POST',
    body: new URLSearchParams({ action: 'ListOAuthCredentials', identifier: upstream.identifier, secret: upstream.secret, responsetype: 'json' }),
  })
  await writeFile(saved, await answer.text())
  t.match((await importLegacy('--file', saved, '--dry-run')).stdout, /^Credentials: 0 to create, 0 to update, 2 unchanged\n/)
  await writeFile(saved, JSON.stringify({ result: 'success', clients: [{ ...sso, clientSecret: undefined }] }))
  const unreadable = await importLegacy('--file', saved)
  t.equal(unreadable.code, 1)
  t.equal(unreadable.stderr, 'Nothing was imported.\nclients[0] (credentialId 5): clientSecret is missing (the original returns each secret: is this its own answer?)\n')

  const fromUpstream = ['import-legacy', '--url', upstream.url, '--identifier', upstream.identifier]
  const noSecret = await cli({ database }, fromUpstream)
  t.equal(noSecret.code, 1)
  t.equal(noSecret.stderr, `Set LEGACY_UPSTREAM_SECRET to the secret of "${upstream.identifier}" (it is never taken from the command line).\n`)
  const wrongSecret = await cli({ config: loadConfig({ LEGACY_UPSTREAM_SECRET: 'not-the-secret' }), database }, fromUpstream)
  t.equal(wrongSecret.stderr, 'Nothing was imported.\nThe original answered HTTP 403: Authentication Failed\n')

  // Afterwards, on the service.
  const test = await buildTestApp(t, {}, fresh)
  for (const client of [sso, portal]) {
    const authenticated = await callRest(test, {
      method: 'POST',
      url: '/oauth/credentials/authenticate',
      body: { clientIdentifier: client.clientIdentifier, clientSecret: client.clientSecret },
    })
    t.equal(authenticated.status, 200, `${client.name} authenticates with its original secret`)
  }
  const stored = await callRest(test, { method: 'GET', url: '/oauth/credentials/9' })
  t.match(stored.body, {
    credentialId: 9,
    clientIdentifier: portal.clientIdentifier,
    name: 'Billing portal (new)',
    description: 'the customer app',
    grantType: 'authorization_code',
    scope: 'clientarea:profile openid',
    serviceId: null,
    logoUri: 'https://app.example.com/logo.png',
    redirectUri: ['https://app.example.com/callback', 'com.example.app:/cb'],
    createdAt: '2018-03-04T05:06:07.000Z',
    updatedAt: '2020-01-01T00:00:00.000Z',
  })
  const events = await test.sql<{ action: string; source: string; changed_fields: string[] }>(
    'SELECT action, source, changed_fields FROM audit_event WHERE credential_id = 9 ORDER BY id',
  )
  t.same(events, [
    { action: 'create', source: 'import', changed_fields: [] },
    { action: 'update', source: 'import', changed_fields: ['name', 'updatedAt'] },
  ])

  // The seed's own PHP example, run by PHP as written, updates the imported credential by its original id.
  await ensurePhp(t)
  await test.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = test.app.server.address() as { port: number }
  const { stdout } = await promisify(execFile)('php', [path.join(PROJECT_ROOT, 'test/fixtures/seed-update-example.php')], {
    env: { PATH: process.env.PATH, API_URL: `http://127.0.0.1:${port}/includes/api.php`, API_IDENTIFIER: test.admin.identifier, API_SECRET: test.admin.secret, CREDENTIAL_ID: '9' },
    timeout: 30_000,
  })
  const reply = JSON.parse(stdout) as Record<string, string>
  t.same(Object.keys(reply), ['result', 'credentialId', 'newClientSecret'])
  t.equal(reply.credentialId, '9')
  t.equal((await test.app.credentials.authenticate(portal.clientIdentifier, reply.newClientSecret as string))?.name, 'Credential name')

  const created = await callRest(test, {
    method: 'POST',
    url: '/oauth/credentials',
    body: { grantType: 'single_sign_on', serviceId: 1, scope: 'clientarea:sso' },
  })
  t.equal(created.body.credentialId, 10, 'new ids continue past the highest imported one')

  // Step 4 of docs/migration.md, once callers change credentials here: a re-import takes what
  // changed at the original, and never undoes a change or deletion made here.
  t.equal((await callRest(test, { method: 'DELETE', url: '/oauth/credentials/5' })).status, 204)
  const later = { ...portal, credentialId: 30, clientIdentifier: 'WHMCS.later', name: 'Created at the original later' }
  await upstream.setClients([{ ...sso, description: 'changed at the original' }, { ...renamed, description: 'changed at the original' }, later])
  const reimported = await importLegacy()
  t.equal(reimported.code, 0)
  t.match(
    reimported.stdout,
    new RegExp(
      '^Credentials: 1 to create, 0 to update, 0 unchanged, 2 changed here since imported \\(kept\\)\n' +
        ' {2}create 30 WHMCS\\.later "Created at the original later"\n' +
        ' {2}keep 5 WHMCS\\.\\S+: deleted here \\(delete by rest "[^"]+" at \\d{4}-[^)]+\\); not created again\n' +
        ' {2}keep 9 WHMCS\\.\\S+: changed here \\(update by legacy "[^"]+" at \\d{4}-[^)]+\\); the original\'s [a-zA-Z, ]*clientSecret[a-zA-Z, ]* not taken\n',
    ),
  )
  t.match(reimported.stdout, /Imported\.\n$/)
  t.equal((await callRest(test, { method: 'GET', url: '/oauth/credentials/5' })).status, 404, 'a credential deleted here stays deleted')
  t.equal((await test.app.credentials.authenticate(portal.clientIdentifier, reply.newClientSecret as string))?.name, 'Credential name', 'the secret reset here still holds')
  t.equal(await test.app.credentials.authenticate(portal.clientIdentifier, portal.clientSecret), null, 'and the original\'s old secret does not come back')
  t.equal((await callRest(test, { method: 'GET', url: '/oauth/credentials/30' })).status, 200, 'what the original created meanwhile is imported')

  // A restore (`import` of a backup, as when moving to PostgreSQL) writes events of its own: no change made here.
  await test.sql("INSERT INTO audit_event (credential_id, actor, action, changed_fields, source) VALUES (30, 'cli', 'create', '{}', 'import')")
  await upstream.setClients([{ ...renamed, description: 'changed at the original' }, { ...later, name: 'Renamed at the original' }])
  const afterRestore = await importLegacy()
  t.match(afterRestore.stdout, /^Credentials: 0 to create, 1 to update, 0 unchanged, 1 changed here since imported \(kept\)\n {2}update 30 WHMCS\.later: name\n {2}keep 9 /)
  // Audit retention prunes the oldest events first: the imports' go before the changes made here
  // since, which still say that 5 was deleted and 9 changed here.
  await test.sql("UPDATE audit_event SET created_at = now() - interval '40 days' WHERE source = 'import'")
  const pruned = await new AuditRetention(credentialStorage(test.app.database), 30, test.app.log).prune()
  t.ok(pruned.deleted >= 4, `the imports' events pruned (${pruned.deleted})`)
  t.same(await test.sql("SELECT count(*)::int AS n FROM audit_event WHERE source = 'import' AND credential_id IN (5, 9)"), [{ n: 0 }])
  await upstream.setClients([sso, portal])
  const afterRetention = await importLegacy()
  t.match(afterRetention.stdout, /^Credentials: 0 to create, 0 to update, 0 unchanged, 2 changed here since imported \(kept\)\n {2}keep 5 [^\n]+not created again\n {2}keep 9 /)
  t.equal((await callRest(test, { method: 'GET', url: '/oauth/credentials/5' })).status, 404, 'still deleted')
  t.equal(await test.app.credentials.authenticate(portal.clientIdentifier, portal.clientSecret), null, 'the original\'s old secret still does not come back')
})

t.test('import-legacy --delete-gone: a credential deleted at the original is deleted here too, unless it was changed here since', async (t) => {
  const upstream = await startLegacyUpstream(t, [sso, portal])
  const fresh = await freshDatabaseFor(t)
  const config = loadConfig({ LOG_LEVEL: 'silent', LEGACY_UPSTREAM_SECRET: upstream.secret })
  const importLegacy = (...extra: string[]) =>
    cli({ config, database: fresh.database }, ['import-legacy', '--url', upstream.url, '--identifier', upstream.identifier, ...extra])
  t.equal((await importLegacy()).code, 0)
  const test = await buildTestApp(t, {}, fresh)
  const madeHere = await callRest(test, { method: 'POST', url: '/oauth/credentials', body: { grantType: 'single_sign_on', serviceId: 1, scope: 'clientarea:sso' } })
  t.equal(madeHere.status, 201)

  await upstream.setClients([portal])
  const reported = await importLegacy()
  t.equal(reported.stdout, `Credentials: 0 to create, 0 to update, 1 unchanged, 1 gone from the original (not deleted)\n  gone 5 ${sso.clientIdentifier} "Single Sign On": not in the original's list; kept\nImported.\n`)
  t.equal((await callRest(test, { method: 'GET', url: '/oauth/credentials/5' })).status, 200, 'without --delete-gone it is only reported')
  const dry = await importLegacy('--delete-gone', '--dry-run')
  t.equal(dry.stdout, `Credentials: 0 to create, 0 to update, 1 unchanged, 1 to delete\n  delete 5 ${sso.clientIdentifier} "Single Sign On": gone from the original\nDry run: nothing was written.\n`)
  t.equal((await callRest(test, { method: 'GET', url: '/oauth/credentials/5' })).status, 200, 'a dry run deletes nothing')
  const done = await importLegacy('--delete-gone')
  t.equal(done.code, 0)
  t.match(done.stdout, /1 to delete\n {2}delete 5 [^\n]+\nImported\.\n$/)
  t.equal((await callRest(test, { method: 'GET', url: '/oauth/credentials/5' })).status, 404)
  t.equal(await test.app.credentials.authenticate(sso.clientIdentifier, sso.clientSecret), null, 'its client no longer authenticates')
  const trail = await test.sql<{ action: string; source: string; actor: string }>('SELECT action, source, actor FROM audit_event WHERE credential_id = 5 ORDER BY id')
  t.same(trail.at(-1), { action: 'delete', source: 'import', actor: 'import-legacy' }, 'recorded as the import\'s deletion')
  t.equal((await callRest(test, { method: 'GET', url: `/oauth/credentials/${madeHere.body.credentialId}` })).status, 200, 'what was made here is never the original\'s to delete')

  // Gone from the original, but changed here since it was imported: kept, and said so.
  t.equal((await callRest(test, { method: 'PATCH', url: '/oauth/credentials/9', body: { description: 'changed here' } })).status, 200)
  const other = { ...sso, credentialId: 40, clientIdentifier: 'WHMCS.other' }
  await upstream.setClients([other])
  const kept = await importLegacy('--delete-gone')
  t.equal(kept.code, 0)
  t.match(kept.stdout, /^Credentials: 1 to create, 0 to update, 0 unchanged, 1 changed here since imported \(kept\)\n {2}create 40 [^\n]+\n {2}keep 9 \S+: gone from the original, but changed here \(update by rest "[^"]+" at [^)]+\); not deleted\nImported\.\n$/)
  t.equal((await callRest(test, { method: 'GET', url: '/oauth/credentials/9' })).status, 200)

  // An empty list is more likely a wrong installation than an emptied one.
  await upstream.setClients([])
  const empty = await importLegacy('--delete-gone')
  t.equal(empty.code, 1)
  t.equal(empty.stderr, 'Nothing was imported: the original lists no credentials, and --delete-gone would delete every imported one.\n')
  t.equal((await callRest(test, { method: 'GET', url: '/oauth/credentials/40' })).status, 200)
})

t.test('import-legacy: an answer that breaks off or stalls, and a --url or --utc-offset it cannot take, are one line each', async (t) => {
  // Half of a complete answer, then the connection is cut (/cut) or left open (/stall).
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
    response.write('{"result":"success","clients":[')
    if (request.url === '/cut') setTimeout(() => response.socket?.destroy(), 100)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const fresh = await freshDatabaseFor(t)
  const config = loadConfig({ LOG_LEVEL: 'silent', LEGACY_UPSTREAM_SECRET: 'a-secret', LEGACY_UPSTREAM_TIMEOUT_MS: '500' })
  const ask = (...options: string[]) => cli({ config, database: fresh.database }, ['import-legacy', '--identifier', 'importer', ...options])

  const cut = await ask('--url', `${base}/cut`)
  t.equal(cut.code, 1)
  t.match(cut.stderr, new RegExp(`^Nothing was imported\\.\\nThe original at ${base}/cut broke off its answer: [^\\n]+\\n$`))
  const stalled = await ask('--url', `${base}/stall`)
  t.equal(stalled.code, 1)
  t.equal(stalled.stderr, `Nothing was imported.\nThe original at ${base}/stall broke off its answer: no complete answer within 500 ms\n`)

  for (const url of [`${base}/api.php?action=x`, `http://user:password@127.0.0.1/api.php`, 'ftp://127.0.0.1/api.php']) {
    const refused = await ask('--url', url)
    t.equal(refused.code, 2, `${url}: a usage error, as LEGACY_UPSTREAM_URL would be`)
    t.equal(refused.stderr, "--url is not the original's http(s) …/includes/api.php URL, without query, fragment or user name.\n")
  }
  const zone = await ask('--url', `${base}/cut`, '--utc-offset', 'Europe/Berlin')
  t.equal(zone.code, 2)
  t.equal(zone.stderr, '--utc-offset "Europe/Berlin" is not ±HH:MM.\n')
})

t.test('`npm run -s cli -- import-legacy` piped to a slow reader: the whole report arrives', async (t) => {
  const databaseEnv = await freshDatabaseEnv(t)
  const dir = await mkdtemp(path.join(tmpdir(), 'import-legacy-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // A report of about 1 MB, written at once: a pipe takes 64 KiB of it.
  const clients = Array.from({ length: 8000 }, (_, index) => ({
    ...sso,
    credentialId: index + 1,
    name: `Client ${index + 1} ${'x'.repeat(100)}`,
    clientIdentifier: `WHMCS.client-${index + 1}`,
  }))
  const file = path.join(dir, 'list.json')
  await writeFile(file, JSON.stringify({ result: 'success', clients }))
  // As a user's shell has it (without this suite's TypeScript hooks and coverage), read like `| less`:
  // nothing for a few seconds, then everything.
  const { NODE_OPTIONS: _hooks, NODE_V8_COVERAGE: _coverage, ...env } = process.env
  const piped = 'set -o pipefail; npm run -s cli -- import-legacy --file "$1" --dry-run | (sleep 3; cat)'
  const { stdout } = await promisify(execFile)('bash', ['-c', piped, 'bash', file], {
    cwd: PROJECT_ROOT,
    env: { ...env, ...databaseEnv },
    maxBuffer: 16 * 1024 * 1024,
  })
  t.match(stdout, /^Credentials: 8000 to create, 0 to update, 0 unchanged\n/)
  t.match(stdout, /\n {2}create 8000 WHMCS\.client-8000 "Client 8000 x+"\nDry run: nothing was written\.\n$/, 'to its last line')
})

t.test('import-legacy waits for writes in flight past a statement\'s own bound, and refuses in one line when they outlast its wait', async (t) => {
  const { database } = await freshDatabaseFor(t, { on: 'postgresql' })
  if (!('url' in database)) throw new Error('a PostgreSQL database was asked for')
  const dir = await mkdtemp(path.join(tmpdir(), 'import-legacy-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'list.json')
  await writeFile(file, JSON.stringify({ result: 'success', clients: [sso] }))
  t.equal((await cli({ database }, ['migrate'])).code, 0)
  // A writer in flight (another process's transaction), holding its lock on the credentials.
  const writer = new pg.Client({ connectionString: database.url })
  await writer.connect()
  t.teardown(() => writer.end())
  const holdFor = async (ms: number) => {
    await writer.query('BEGIN; LOCK TABLE credential IN ROW EXCLUSIVE MODE')
    if (Number.isFinite(ms)) setTimeout(() => void writer.query('COMMIT'), ms)
  }
  // Statements may take 2.5 s (DATABASE_TIMEOUT_MS, 5 s, halved): the import's wait for its lock is its own.
  await holdFor(4_000)
  let started = Date.now()
  const waited = await cli({ database }, ['import-legacy', '--file', file])
  t.equal(waited.code, 0, waited.stderr)
  t.ok(Date.now() - started >= 3_500, `it waited for the writer (${Date.now() - started} ms)`)
  t.match(waited.stdout, /^Credentials: 1 to create/)

  await holdFor(Infinity)
  started = Date.now()
  const refused = await cli({ database }, ['import-legacy', '--file', file])
  const elapsed = Date.now() - started
  await writer.query('ROLLBACK')
  t.equal(refused.code, 1)
  t.equal(refused.stderr, 'Nothing was imported: another import, or writes in flight, held the tables for more than 10 s. Run it again.\n')
  t.ok(elapsed >= 9_500 && elapsed < 20_000, `after its 10 s (${elapsed} ms)`)
})
