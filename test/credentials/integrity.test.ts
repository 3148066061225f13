import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy, createCredential, storedCredential } from '../helpers/legacy.js'

// Issue 2 §3 and §7: all or nothing, no lost updates, hashed secrets, an audit trail.
const test = await buildTestApp(t)
const update = (fields: Record<string, unknown>, requestId?: string) =>
  callLegacy(
    test,
    { action: 'UpdateOAuthCredential', responsetype: 'json', ...fields },
    requestId === undefined ? {} : { headers: { 'x-request-id': requestId } },
  )

t.test('a failing update writes nothing: row, scopes, redirect URIs, audit trail', async (t) => {
  const made = await createCredential(test, {
    name: 'Before',
    description: 'as created',
    scope: 'openid email',
    logoUri: 'https://cdn.example.com/a.png',
    redirectUri: ['https://a.example.com/cb', 'https://b.example.com/cb'],
  })
  const before = await storedCredential(test, made.credentialId)
  const failing = [
    [{ name: 'After', scope: 'openid nope' }, 'The requested scope "nope" is invalid.'],
    [{ name: 'After', redirectUri: ['https://c.example.com/cb', 'http://evil.example.com/'] }, 'The requested redirect URI "http://evil.example.com/" is invalid.'],
    [{ description: 'After', redirectUri: ['https://c.example.com/cb'], scope: '' }, 'At least one valid scope is required.'],
    [{ name: 'After', resetSecret: '1', grantType: 'single_sign_on' }, 'A service ID is required for the single sign-on grant type.'],
    [{ logoUri: 'https://cdn.example.com/b.png', name: 'x'.repeat(256) }, 'The name must be at most 255 characters.'],
  ] as const
  for (const [fields, message] of failing) {
    const answer = await update({ credentialId: made.credentialId, ...fields })
    t.same(answer.data, { result: 'error', message }, JSON.stringify(Object.keys(fields)))
    t.same(await storedCredential(test, made.credentialId), before, 'nothing changed')
  }
  t.ok(await test.app.credentials.authenticate(made.clientIdentifier, made.clientSecret), 'the secret was not reset')
})

t.test('a write that never finds the version it read gives up with a clear error, nothing written', async (t) => {
  const made = await createCredential(test, { name: 'Contended' })
  const before = await storedCredential(test, made.credentialId)
  // Every UPDATE of this row is skipped, as if another writer always got there first.
  await test.sql(`CREATE FUNCTION skip_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`)
  await test.sql(`CREATE TRIGGER always_stale BEFORE UPDATE ON credential FOR EACH ROW
    WHEN (OLD.id = ${made.credentialId}) EXECUTE FUNCTION skip_update()`)
  t.teardown(() => test.sql('DROP TRIGGER IF EXISTS always_stale ON credential'))
  const answer = await update({ credentialId: made.credentialId, name: 'Never' })
  t.same(answer.data, { result: 'error', message: 'The credential is being changed by too many requests at once; try again.' })
  t.equal(answer.headers['retry-after'], '1', 'and says when to try again')
  t.same(await storedCredential(test, made.credentialId), before, 'nothing changed, no audit event')
  await test.sql('DROP TRIGGER always_stale ON credential')
  t.equal((await update({ credentialId: made.credentialId, name: 'At last' })).data.result, 'success', 'and once it can, it does')
})

t.test('20 concurrent updates of different fields of one credential all survive', async (t) => {
  const made = await createCredential(test, { name: 'Concurrent', scope: 'openid' })
  const { row } = await storedCredential(test, made.credentialId)
  const fields = ['name', 'description', 'logoUri', 'serviceId', 'scope', 'redirectUri'] as const
  const scopes = ['openid', 'email', 'profile', 'clientarea:sso']
  // Every value differs from the others and from the stored one, so every update is a change.
  const valueOf = (field: (typeof fields)[number], index: number) =>
    ({
      name: `name ${index}`,
      description: `description ${index}`,
      logoUri: `https://cdn.example.com/${index}.png`,
      serviceId: 100 + index,
      scope: `${scopes[Math.floor(index / fields.length)]} clientarea:tickets`,
      redirectUri: [`https://app.example.com/cb/${index}`],
    })[field]
  const changes = Array.from({ length: 20 }, (_, index) => {
    const field = fields[index % fields.length] as (typeof fields)[number]
    return { index, field, value: valueOf(field, index) }
  })
  const answers = await Promise.all(
    changes.map(({ index, field, value }) =>
      update({ credentialId: made.credentialId, [field]: value }, `concurrent-${index}`),
    ),
  )
  t.same(answers.map((answer) => answer.data.result), Array(20).fill('success'))

  const after = await storedCredential(test, made.credentialId)
  t.equal(after.row?.version, Number(row?.version) + 20, 'every update was written once')
  const events = after.audit.filter((event) => String(event.request_id).startsWith('concurrent-'))
  t.equal(events.length, 20, 'one audit event per update')
  const stored: Record<(typeof fields)[number], unknown> = {
    name: after.row?.name,
    description: after.row?.description,
    logoUri: after.row?.logo_uri,
    serviceId: after.row?.service_id,
    scope: after.scopes.join(' '),
    redirectUri: after.redirectUris,
  }
  // The events are in commit order. Each field must hold the value of the last update that
  // changed it: an update that wrote from a stale read would have put an older value back.
  for (const field of fields) {
    const last = events.filter((event) => (event.changed_fields as string[]).includes(field)).at(-1)
    const change = changes.find(({ index }) => last?.request_id === `concurrent-${index}`)
    t.same(stored[field], change?.value, `${field} holds the last committed change (#${change?.index})`)
  }
  for (const event of events) {
    const change = changes.find(({ index }) => event.request_id === `concurrent-${index}`)
    t.same(event.changed_fields, [change?.field], `event of update #${change?.index} lists only its own field`)
  }
})

t.test('stored secrets are not the secrets', async (t) => {
  const made = await createCredential(test)
  const reset = await update({ credentialId: made.credentialId, resetSecret: 'on' })
  const secret = String(reset.data.newClientSecret)
  const [row] = await test.sql<Record<string, unknown>>('SELECT * FROM credential WHERE id = $1', [made.credentialId])
  const stored = JSON.stringify(row)
  for (const [label, value] of [['current', secret], ['previous', made.clientSecret]]) {
    t.notOk(stored.includes(value as string), `the ${label} client secret is nowhere in the row`)
    t.notOk(stored.includes(Buffer.from(value as string, 'base64').toString('hex')), `nor its bytes in hex`)
  }
  t.type(row?.secret_hash, 'string')
  t.ok(await test.app.credentials.authenticate(made.clientIdentifier, secret), 'yet the secret is recognised')

  const api = await test.app.apiClients.create({ description: 'integrity', permissions: ['ListOAuthCredentials'] })
  const rows = JSON.stringify(await test.sql('SELECT * FROM api_credential'))
  t.notOk(rows.includes(api.secret), 'an API credential secret is not stored')
  t.notOk(rows.includes(test.admin.secret), 'nor the bootstrap secret')
  const listed = await callLegacy(test, { action: 'ListOAuthCredentials', responsetype: 'json', identifier: api.identifier, secret: api.secret }, { auth: false })
  t.equal(listed.data.result, 'success', 'yet the API credential works')
})

t.test('audit events: actor, action, changed fields, request id, source; never a secret', async (t) => {
  const operator = await test.app.apiClients.create({ identifier: 'operator-7' })
  const asOperator = { identifier: operator.identifier, secret: operator.secret }
  const created = await callLegacy(
    test,
    { action: 'CreateOAuthCredential', grantType: 'authorization_code', name: 'Audited', scope: 'openid', redirectUri: ['https://a.example.com/cb'], responsetype: 'json', ...asOperator },
    { auth: false, headers: { 'x-request-id': 'req-create' } },
  )
  const credentialId = Number(created.data.credentialId)
  await update({ credentialId, name: 'Audited', description: 'new', logoUri: 'https://cdn.example.com/l.png' }, 'req-update')
  await update({ credentialId, name: 'Audited' }, 'req-noop')
  const reset = await update({ credentialId, resetSecret: 1 }, 'req-reset')
  await callLegacy(test, { action: 'DeleteOAuthCredential', credentialId }, { headers: { 'x-request-id': 'req-delete' } })

  const { audit } = await storedCredential(test, credentialId)
  t.same(
    audit.map(({ actor, action, changed_fields, request_id, source }) => ({ actor, action, changed_fields, request_id, source })),
    [
      { actor: 'operator-7', action: 'create', changed_fields: ['name', 'grantType', 'scope', 'redirectUri'], request_id: 'req-create', source: 'legacy' },
      { actor: 'test-admin', action: 'update', changed_fields: ['description', 'logoUri'], request_id: 'req-update', source: 'legacy' },
      { actor: 'test-admin', action: 'update', changed_fields: ['clientSecret'], request_id: 'req-reset', source: 'legacy' },
      { actor: 'test-admin', action: 'delete', changed_fields: [], request_id: 'req-delete', source: 'legacy' },
    ],
    'an update that changes nothing records nothing',
  )
  const everything = JSON.stringify(await test.sql('SELECT id::text AS id, credential_id, actor, action, changed_fields, request_id, source FROM audit_event'))
  for (const secret of [created.data.clientSecret, reset.data.newClientSecret, operator.secret, test.admin.secret]) {
    t.notOk(everything.includes(String(secret)), 'no secret in any audit row')
  }
})
