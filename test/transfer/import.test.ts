import t from 'tap'
import { ACTIONS } from '../../src/api-clients/access.js'
import { hashSecret } from '../../src/secrets.js'
import type { CredentialRecord } from '../../src/transfer/records.js'
import { describePlan } from '../../src/transfer/plan.js'
import { importRecords } from '../../src/transfer/service.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { callRest } from '../helpers/rest.js'

const SECRET = 'the original system issued this secret long ago'

function record(overrides: Partial<CredentialRecord> = {}): CredentialRecord {
  return {
    credentialId: 41,
    clientIdentifier: 'LEGACY.abc',
    secretHash: hashSecret(SECRET),
    name: 'Billing portal',
    description: '',
    grantType: 'authorization_code',
    scopes: ['clientarea:profile', 'openid'],
    serviceId: null,
    logoUri: null,
    redirectUris: ['https://app.example.com/callback'],
    createdAt: new Date('2016-11-18T09:32:24.000Z'),
    updatedAt: new Date('2017-01-02T03:04:05.000Z'),
    ...overrides,
  }
}

const only = (credentials: CredentialRecord[]) => ({ credentials, apiCredentials: [], events: [] })

/** Everything stored, as rows, to prove that a refused or dry import wrote nothing. */
async function everything(test: TestApp) {
  return {
    credentials: await test.sql('SELECT * FROM credential ORDER BY id'),
    scopes: await test.sql('SELECT * FROM credential_scope ORDER BY credential_id, position'),
    uris: await test.sql('SELECT * FROM credential_redirect_uri ORDER BY credential_id, position'),
    events: await test.sql('SELECT * FROM audit_event ORDER BY id'),
    apiCredentials: await test.sql('SELECT * FROM api_credential ORDER BY id'),
  }
}

t.test('a credential from elsewhere is created with its id, authenticates with its secret, and ids continue past it', async (t) => {
  const test = await buildTestApp(t)
  const before = await everything(test)
  const dry = await importRecords(test.app.database, only([record()]), { whenChanged: 'update', actor: 'tester', dryRun: true })
  t.equal(dry.written, false)
  t.same(dry.plan.credentials.create.map((r) => r.credentialId), [41])
  t.same(await everything(test), before, 'a dry run writes nothing')
  t.match(describePlan(dry.plan, 'dry-run', 'original'), /^Credentials: 1 to create, 0 to update, 0 unchanged\n {2}create 41 LEGACY\.abc "Billing portal"\n[^]*Dry run: nothing was written\.\n$/)

  const done = await importRecords(test.app.database, only([record()]), { whenChanged: 'update', actor: 'tester' })
  t.equal(done.written, true)
  const got = await callRest(test, { method: 'GET', url: '/oauth/credentials/41' })
  t.equal(got.status, 200)
  t.match(got.body, {
    credentialId: 41,
    clientIdentifier: 'LEGACY.abc',
    scope: 'clientarea:profile openid',
    redirectUri: ['https://app.example.com/callback'],
    createdAt: '2016-11-18T09:32:24.000Z',
    updatedAt: '2017-01-02T03:04:05.000Z',
    version: 1,
  })
  const auth = await callRest(test, {
    method: 'POST',
    url: '/oauth/credentials/authenticate',
    body: { clientIdentifier: 'LEGACY.abc', clientSecret: SECRET },
  })
  t.equal(auth.status, 200, 'the imported client authenticates with its original secret')
  const events = await test.sql<{ source: string; action: string; actor: string }>(
    'SELECT source, action, actor FROM audit_event WHERE credential_id = 41',
  )
  t.same(events, [{ source: 'import', action: 'create', actor: 'tester' }])

  const next = await callRest(test, {
    method: 'POST',
    url: '/oauth/credentials',
    body: { grantType: 'single_sign_on', serviceId: 7, scope: 'openid' },
  })
  t.equal(next.status, 201)
  t.equal(next.body.credentialId, 42, 'the next credential takes the id after the highest imported one')
})

t.test('re-importing changes nothing; a changed record is updated with an import event, or refused', async (t) => {
  const test = await buildTestApp(t)
  await importRecords(test.app.database, only([record()]), { whenChanged: 'update', actor: 'tester' })
  const settled = await everything(test)
  const again = await importRecords(test.app.database, only([record()]), { whenChanged: 'conflict', actor: 'tester' })
  t.same(again.plan.credentials.unchanged.map((r) => r.credentialId), [41])
  t.same(again.plan.conflicts, [])
  t.same(await everything(test), settled, 'a second run writes nothing, not even an event')

  const renamed = record({ name: 'Portal', scopes: ['openid'], updatedAt: new Date('2018-01-01T00:00:00.000Z') })
  const refused = await importRecords(test.app.database, only([renamed]), { whenChanged: 'conflict', actor: 'tester' })
  t.equal(refused.written, false)
  t.same(refused.plan.conflicts, ['credential 41: LEGACY.abc is stored with other name, scope, updatedAt'])
  t.same(await everything(test), settled, 'a conflict writes nothing')

  const updated = await importRecords(test.app.database, only([renamed]), { whenChanged: 'update', actor: 'tester' })
  t.equal(updated.written, true)
  t.same(updated.plan.credentials.update.map((u) => u.changedFields), [['name', 'scope', 'updatedAt']])
  const got = await callRest(test, { method: 'GET', url: '/oauth/credentials/41' })
  t.match(got.body, { name: 'Portal', scope: 'openid', version: 2, updatedAt: '2018-01-01T00:00:00.000Z' })
  const events = await test.sql<{ source: string; action: string; changed_fields: string[] }>(
    'SELECT source, action, changed_fields FROM audit_event WHERE credential_id = 41 ORDER BY id',
  )
  t.same(events.at(-1), { source: 'import', action: 'update', changed_fields: ['name', 'scope', 'updatedAt'] })
})

t.test('conflicts are reported, each on its own line, and nothing is written', async (t) => {
  const test = await buildTestApp(t)
  const created = await callRest(test, { method: 'POST', url: '/oauth/credentials', body: { grantType: 'single_sign_on', serviceId: 7, scope: 'openid' } })
  const taken = created.body as { credentialId: number; clientIdentifier: string }
  const before = await everything(test)
  const apiCredential = {
    identifier: 'sync',
    secretHash: hashSecret('api secret'),
    description: '',
    permissions: ['*'],
    allowedIps: [],
    revokedAt: null,
    createdAt: new Date(),
  }
  const event = { id: 1, credentialId: 9, actor: 'someone', action: 'create', changedFields: [], requestId: null, source: 'rest', createdAt: new Date() }
  const outcome = await importRecords(
    test.app.database,
    {
      credentials: [
      record({ credentialId: taken.credentialId, clientIdentifier: 'LEGACY.other', origin: 'line 2' }),
      record({ credentialId: 50, clientIdentifier: taken.clientIdentifier }),
      record({ credentialId: 51, clientIdentifier: 'LEGACY.s', scopes: ['clientarea:everything'] }),
      record({ credentialId: 52, clientIdentifier: 'LEGACY.g', grantType: 'password' }),
      record({ credentialId: 53, clientIdentifier: 'LEGACY.h', secretHash: SECRET }),
      record({ credentialId: 54, clientIdentifier: 'LEGACY.d' }),
      record({ credentialId: 54, clientIdentifier: 'LEGACY.e' }),
      record({ credentialId: 55, clientIdentifier: 'LEGACY.fine' }),
      ],
      apiCredentials: [
        { ...apiCredential, permissions: ['DropEverything'] },
        { ...apiCredential, identifier: 'sync-2', allowedIps: ['localhost'] },
        { ...apiCredential, identifier: 'sync-3' },
        { ...apiCredential, identifier: 'sync-3' },
        { ...apiCredential, identifier: 'test-admin' },
      ],
      events: [event, { ...event, id: 2 }, { ...event, id: 2 }],
    },
    { whenChanged: 'update', actor: 'tester' },
  )
  t.equal(outcome.written, false)
  t.same(outcome.plan.conflicts, [
    `credential ${taken.credentialId} (line 2): id ${taken.credentialId} holds ${taken.clientIdentifier}, the import has LEGACY.other`,
    `credential 50: ${taken.clientIdentifier} is credential ${taken.credentialId} here`,
    'credential 51: The requested scope "clientarea:everything" is invalid.',
    'credential 52: The requested grant type "password" is invalid.',
    'credential 53: a secret hash must be 64 lowercase hexadecimal digits (SHA-256)',
    'credential 54: its id or client identifier LEGACY.e comes twice in the import',
    `API credential sync: Unknown action "DropEverything". Known: ${ACTIONS.join(', ')} or *`,
    'API credential sync-2: "localhost" is not an IP address',
    'API credential sync-3: its identifier comes twice in the import',
    'API credential test-admin: stored with other secretHash, description, createdAt',
    'event 1: another event has this id here',
    `event 2: the id must be a whole number from 1 to ${2 ** 52}, once in the import`,
  ])
  t.same(await everything(test), before, 'nothing written, not even the records without a conflict')
  t.match(describePlan(outcome.plan, 'refused', 'original'), /\nConflicts \(12\):\n {2}credential [^]*\nRefused: nothing was written\.\n$/)
})
