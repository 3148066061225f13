import t from 'tap'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { callLegacy } from '../helpers/legacy.js'
import { basic, callRest, createCredential as create, newCredential, type Credential, type Problem } from '../helpers/rest.js'

async function storedRow(test: TestApp, id: number) {
  const [row] = await test.sql('SELECT name, logo_uri, service_id, version, secret_hash FROM credential WHERE id = $1', [id])
  return row
}

async function auditCount(test: TestApp, credentialId?: number) {
  const [row] = await test.sql<{ count: number }>(
    'SELECT count(*)::int AS count FROM audit_event WHERE $1::int IS NULL OR credential_id = $1',
    [credentialId ?? null],
  )
  return row?.count
}

async function credentialCount(test: TestApp) {
  const [row] = await test.sql<{ count: number }>('SELECT count(*)::int AS count FROM credential')
  return row?.count
}

// One app (and database) for the file: starting one costs seconds; each test makes its own rows.
const test = await buildTestApp(t)

t.test('no answer may be cached or sniffed: refusals, unknown routes, a body that is not JSON and a URL the router refuses carry no-store and nosniff too', async (t) => {
  const answers = [
    await test.app.inject({ method: 'GET', url: '/oauth/credentials' }),
    await test.app.inject({ method: 'GET', url: '/oauth/credentials/1/nothing-here', headers: { authorization: basic(test.admin) } }),
    await test.app.inject({ method: 'POST', url: '/oauth/credentials', headers: { authorization: basic(test.admin), 'content-type': 'application/json' }, payload: '{' }),
    await test.app.inject({ method: 'GET', url: '/nothing-here' }),
    // Refused by the router itself, before any hook: a percent-encoding that is not UTF-8.
    await test.app.inject({ method: 'GET', url: '/oauth/credentials/%E0%A4%A', headers: { authorization: basic(test.admin) } }),
  ]
  t.same(answers.map((answer) => answer.statusCode), [401, 404, 400, 404, 400])
  for (const answer of answers) {
    t.equal(answer.headers['cache-control'], 'no-store', `${answer.statusCode} ${answer.body.slice(0, 40)}`)
    t.equal(answer.headers['x-content-type-options'], 'nosniff', 'no browser guesses another type')
    t.ok(answer.headers['x-request-id'], 'with its request id')
  }
  const docs = await test.app.inject({ method: 'GET', url: '/docs/static/index.css' })
  t.not(docs.headers['cache-control'], 'no-store', 'static files of the docs set their own')
})

t.test('POST creates: 201, Location, ETag, the secret once, an audit event from rest', async (t) => {
  const { status, headers, body } = await create(test)
  t.equal(status, 201)
  t.equal(headers.location, `/oauth/credentials/${body.credentialId}`)
  t.equal(headers.etag, `"${body.credentialId}-1"`)
  t.equal(headers['cache-control'], 'no-store', 'the secret is not cached anywhere')
  t.match(body, {
    name: 'Billing portal',
    grantType: 'authorization_code',
    scope: 'clientarea:sso openid',
    serviceId: null,
    redirectUri: newCredential.redirectUri,
    version: 1,
  })
  t.match(body.clientIdentifier, /^TEST\./)
  t.equal(body.clientSecret.length, 88)
  t.ok(await test.app.credentials.authenticate(body.clientIdentifier, body.clientSecret), 'the secret works')

  const fetched = await callRest(test, { method: 'GET', url: headers.location as string })
  t.equal(fetched.status, 200)
  t.notOk('clientSecret' in fetched.body, 'the secret is never shown again')
  t.equal(fetched.headers.etag, headers.etag)
  const [event] = await test.sql('SELECT actor, action, source, request_id FROM audit_event WHERE credential_id = $1', [body.credentialId])
  t.match(event, { actor: test.admin.identifier, action: 'create', source: 'rest' })
  t.ok(event?.request_id, 'the request id is recorded')
})

t.test('a mistake gets the message api.php gives for it, with a pointer to the field', async (t) => {
  const [credentialsBefore, eventsBefore] = [await credentialCount(test), await auditCount(test)]
  const mistakes: [Record<string, unknown>, string][] = [
    [{ scope: 'openid', name: 'x' }, '/grantType'],
    [{ grantType: 'implicit', scope: 'openid', name: 'x' }, '/grantType'],
    [{ grantType: 'authorization_code', scope: 'openid' }, '/name'],
    [{ grantType: 'single_sign_on', scope: 'openid' }, '/serviceId'],
    [{ grantType: 'authorization_code', name: 'x', scope: 'openid admin' }, '/scope'],
    [{ grantType: 'authorization_code', name: 'x', scope: '' }, '/scope'],
    [{ grantType: 'authorization_code', name: 'x', scope: 'openid', redirectUri: ['https://a.example/*'] }, '/redirectUri'],
    [{ grantType: 'authorization_code', name: 'x', scope: 'openid', redirectUri: ['http://example.com/cb'] }, '/redirectUri'],
  ]
  for (const [body, pointer] of mistakes) {
    const rest = await callRest<Problem>(test, { method: 'POST', url: '/oauth/credentials', body })
    const legacy = await callLegacy(test, { action: 'CreateOAuthCredential', ...body, responsetype: 'json' })
    t.equal(rest.status, 400, JSON.stringify(body))
    t.match(rest.headers['content-type'], /^application\/problem\+json/)
    t.equal(legacy.data.result, 'error')
    t.equal(rest.body.detail, legacy.data.message, `same message as api.php: ${legacy.data.message}`)
    t.same(rest.body.errors, [{ in: 'body', pointer, detail: legacy.data.message }])
    t.match(rest.body, { type: 'about:blank', title: 'Bad Request', status: 400 })
  }
  t.equal(await auditCount(test), eventsBefore, 'no audit event')
  t.equal(await credentialCount(test), credentialsBefore, 'no credential')
})

t.test('schema violations: 400 with JSON pointers; unknown fields are refused, not dropped', async (t) => {
  const credentialsBefore = await credentialCount(test)
  const unknown = await callRest<Problem>(test, { method: 'POST', url: '/oauth/credentials', body: { ...newCredential, secret: 'mine' } })
  t.equal(unknown.status, 400)
  t.same(unknown.body.errors, [{ in: 'body', pointer: '/secret', detail: 'Unknown field "secret".' }])
  t.equal(unknown.body.detail, 'Unknown field "secret".')

  const wrongType = await callRest<Problem>(test, { method: 'POST', url: '/oauth/credentials', body: { ...newCredential, redirectUri: 'https://a.example/cb' } })
  t.equal(wrongType.status, 400)
  t.equal(wrongType.body.errors?.[0]?.pointer, '/redirectUri')
  t.equal(wrongType.body.errors?.[0]?.in, 'body')

  const nested = await callRest<Problem>(test, { method: 'POST', url: '/oauth/credentials', body: { ...newCredential, redirectUri: ['https://a.example/cb', 7] } })
  t.equal(nested.body.errors?.[0]?.pointer, '/redirectUri/1')

  const badId = await callRest<Problem>(test, { method: 'GET', url: '/oauth/credentials/abc' })
  t.equal(badId.status, 404, 'an id that is not one names no credential')
  t.match(badId.body.errors, [{ in: 'path', pointer: '/credentialId', detail: 'Invalid Credential ID provided.' }])

  const badLimit = await callRest<Problem>(test, { method: 'GET', url: '/oauth/credentials?limit=101' })
  t.equal(badLimit.status, 400)
  t.match(badLimit.body.errors, [{ in: 'query', pointer: '/limit' }])
  for (const query of ['limit=3&limit=4', 'grantType=authorization_code&grantType=single_sign_on']) {
    const twice = await callRest<Problem>(test, { method: 'GET', url: `/oauth/credentials?${query}` })
    const name = query.split('=', 1)[0] as string
    t.strictSame([twice.status, twice.body.errors], [400, [{ in: 'query', pointer: `/${name}`, detail: `/${name} must be given once.` }]], query)
  }
  // A nullable field's wrong value is one mistake, told once (not also "must be null" and "must match a schema in anyOf").
  const zero = await callRest<Problem>(test, { method: 'POST', url: '/oauth/credentials', body: { ...newCredential, serviceId: 0 } })
  t.strictSame([zero.status, zero.body.errors], [400, [{ in: 'body', pointer: '/serviceId', detail: 'The requested service ID "0" is invalid.' }]])

  const malformed = await callRest<Problem>(test, { method: 'POST', url: '/oauth/credentials', body: '{"name":' })
  t.equal(malformed.status, 400)
  t.match(malformed.body.detail, /JSON/)
  t.equal(await credentialCount(test), credentialsBefore)
})

t.test('415 for other content types, 413 for oversized bodies', async (t) => {
  const form = await callRest<Problem>(test, {
    method: 'POST',
    url: '/oauth/credentials',
    body: 'grantType=authorization_code&name=x&scope=openid',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  t.equal(form.status, 415)
  t.match(form.headers['content-type'], /^application\/problem\+json/)

  const huge = await callRest<Problem>(test, {
    method: 'POST',
    url: '/oauth/credentials',
    body: { ...newCredential, description: 'x'.repeat(70 * 1024) },
  })
  t.equal(huge.status, 413)
  t.equal(huge.body.title, 'Payload Too Large')

  const { body } = await create(test)
  const mergePatchOnPost = await callRest<Problem>(test, {
    method: 'POST',
    url: `/oauth/credentials/${body.credentialId}/secret`,
    body: {},
    headers: { 'content-type': 'application/merge-patch+json' },
  })
  t.equal(mergePatchOnPost.status, 415, 'merge patch is for PATCH only')
  const textPatch = await callRest<Problem>(test, {
    method: 'PATCH',
    url: `/oauth/credentials/${body.credentialId}`,
    body: 'name=x',
    headers: { 'content-type': 'text/plain' },
  })
  t.equal(textPatch.status, 415)
})

t.test('HTTP Basic: 401 with a challenge, 403 without the permission or from the wrong address', async (t) => {
  const missing = await callRest<Problem>(test, { method: 'GET', url: '/oauth/credentials', auth: null })
  t.equal(missing.status, 401)
  t.equal(missing.headers['www-authenticate'], 'Basic realm="oauth-credentials", charset="UTF-8"')
  t.equal(missing.body.detail, 'Invalid or missing credentials')

  const malformed = await callRest<Problem>(test, { method: 'GET', url: '/oauth/credentials', auth: null, headers: { authorization: 'Basic bm9jb2xvbg==' } })
  t.equal(malformed.status, 401, 'a Basic token without identifier:secret')

  const wrong = await callRest<Problem>(test, { method: 'GET', url: '/oauth/credentials', auth: { ...test.admin, secret: 'nope' } })
  t.equal(wrong.status, 401)
  t.equal(wrong.body.detail, 'Authentication Failed')
  t.ok(wrong.headers['www-authenticate'])

  const unknown = await callRest<Problem>(test, { method: 'GET', url: '/oauth/credentials', auth: { identifier: 'ghost', secret: 'x' } })
  t.equal(unknown.status, 401)

  const credentialsBefore = await credentialCount(test)
  const reader = await test.app.apiClients.create({ permissions: ['ListOAuthCredentials', 'GetOAuthCredential'] })
  t.equal((await callRest(test, { method: 'GET', url: '/oauth/credentials', auth: reader })).status, 200)
  const denied = await callRest<Problem>(test, { method: 'POST', url: '/oauth/credentials', body: newCredential, auth: reader })
  t.equal(denied.status, 403)
  t.equal(denied.body.detail, 'Invalid Permissions: API action "CreateOAuthCredential" is not allowed')
  t.equal(await credentialCount(test), credentialsBefore, 'nothing was created')

  const remote = await test.app.apiClients.create({ allowedIps: ['10.1.2.3'] })
  const fromHere = await callRest<Problem>(test, { method: 'GET', url: '/oauth/credentials', auth: remote })
  t.equal(fromHere.status, 403)
  t.equal(fromHere.body.detail, 'Invalid IP 127.0.0.1')

  await test.app.apiClients.revoke(reader.identifier)
  t.equal((await callRest(test, { method: 'GET', url: '/oauth/credentials', auth: reader })).status, 401, 'revoked')
})

t.test('GET one: 404 with the legacy message for an unknown id', async (t) => {
  for (const id of ['999', '2147483648']) {
    const missing = await callRest<Problem>(test, { method: 'GET', url: `/oauth/credentials/${id}` })
    t.equal(missing.status, 404)
    t.equal(missing.body.detail, 'Invalid Credential ID provided.')
    t.same(missing.body.errors, [{ in: 'path', pointer: '/credentialId', detail: 'Invalid Credential ID provided.' }])
  }
})

t.test('PATCH: JSON Merge Patch, absent keeps, null clears, both content types', async (t) => {
  const { body: created } = await create(test, { ...newCredential, grantType: 'single_sign_on', serviceId: 7 })
  const url = `/oauth/credentials/${created.credentialId}`

  const renamed = await callRest<Credential>(test, {
    method: 'PATCH',
    url,
    body: { name: 'Renamed', logoUri: null, redirectUri: null },
    headers: { 'content-type': 'application/merge-patch+json' },
  })
  t.equal(renamed.status, 200)
  t.match(renamed.body, {
    name: 'Renamed',
    logoUri: null,
    redirectUri: [],
    description: newCredential.description,
    scope: newCredential.scope,
    serviceId: 7,
    version: 2,
  })
  t.notOk('newClientSecret' in renamed.body, 'no secret unless reset')
  t.equal(renamed.headers.etag, `"${created.credentialId}-2"`)

  const json = await callRest<Credential>(test, { method: 'PATCH', url, body: { grantType: 'authorization_code', serviceId: null } })
  t.match(json.body, { grantType: 'authorization_code', serviceId: null, name: 'Renamed' })
  t.match(await storedRow(test, created.credentialId), { name: 'Renamed', logo_uri: null, service_id: null, version: 3 })

  const clearsRequired = await callRest<Problem>(test, { method: 'PATCH', url, body: { name: null } })
  t.equal(clearsRequired.status, 400)
  t.equal(clearsRequired.body.detail, 'A name for the Client Credential is required.')
  const nullScope = await callRest<Problem>(test, { method: 'PATCH', url, body: { scope: null } })
  t.equal(nullScope.status, 400, 'scope cannot be cleared')
  t.equal(nullScope.body.errors?.[0]?.pointer, '/scope')
  const unknown = await callRest<Problem>(test, { method: 'PATCH', url, body: { clientSecret: 'x' } })
  t.same(unknown.body.errors, [{ in: 'body', pointer: '/clientSecret', detail: 'Unknown field "clientSecret".' }])

  const missing = await callRest<Problem>(test, { method: 'PATCH', url: '/oauth/credentials/999', body: { name: 'x' } })
  t.equal(missing.status, 404)
  t.equal(missing.body.detail, 'Invalid Credential ID provided.')
})

t.test('PATCH: If-Match with a stale ETag gives 412 and writes nothing', async (t) => {
  const { body: created, headers } = await create(test)
  const url = `/oauth/credentials/${created.credentialId}`
  const firstTag = headers.etag as string

  const first = await callRest<Credential>(test, { method: 'PATCH', url, body: { name: 'One' }, headers: { 'if-match': firstTag } })
  t.equal(first.status, 200)
  const rowBefore = await storedRow(test, created.credentialId)
  const eventsBefore = await auditCount(test, created.credentialId)

  const stale = await callRest<Problem>(test, { method: 'PATCH', url, body: { name: 'Two' }, headers: { 'if-match': firstTag } })
  t.equal(stale.status, 412)
  t.equal(stale.body.detail, 'The credential has changed since it was read.')
  for (const tag of [`W/${first.headers.etag as string}`, '"999-2"', 'garbage']) {
    const refused = await callRest(test, { method: 'PATCH', url, body: { name: 'Two' }, headers: { 'if-match': tag } })
    t.equal(refused.status, 412, `If-Match: ${tag}`)
  }
  t.same(await storedRow(test, created.credentialId), rowBefore, 'the row is untouched')
  t.equal(await auditCount(test, created.credentialId), eventsBefore, 'no audit event')

  const listed = await callRest<Credential>(test, {
    method: 'PATCH',
    url,
    body: { name: 'Two' },
    headers: { 'if-match': `${firstTag}, ${first.headers.etag as string}` },
  })
  t.equal(listed.status, 200, 'any tag of a list may match')
  const any = await callRest<Credential>(test, { method: 'PATCH', url, body: { name: 'Three' }, headers: { 'if-match': '*' } })
  t.equal(any.status, 200)
  t.equal(any.body.name, 'Three')
})

t.test('PATCH ?dryRun=true answers with the would-be credential and writes nothing', async (t) => {
  const { body: created } = await create(test)
  const url = `/oauth/credentials/${created.credentialId}`
  const rowBefore = await storedRow(test, created.credentialId)

  const dry = await callRest<Credential>(test, { method: 'PATCH', url: `${url}?dryRun=true`, body: { name: 'Maybe', resetSecret: true } })
  t.equal(dry.status, 200)
  t.equal(dry.body.name, 'Maybe')
  t.equal(dry.body.version, 1)
  t.equal(dry.headers.etag, undefined, 'nothing stored, no new ETag')
  t.notOk('newClientSecret' in dry.body, 'no secret is issued on a dry run')
  const invalid = await callRest<Problem>(test, { method: 'PATCH', url: `${url}?dryRun=true`, body: { scope: 'nope' } })
  t.equal(invalid.status, 400)
  t.equal(invalid.body.detail, 'The requested scope "nope" is invalid.')
  t.same(await storedRow(test, created.credentialId), rowBefore)
  t.equal(await auditCount(test, created.credentialId), 1, 'only the create')
  t.ok(await test.app.credentials.authenticate(created.clientIdentifier, created.clientSecret), 'the secret is unchanged')
})

t.test('PATCH resetSecret: the new secret once, the old one stops at once', async (t) => {
  const { body: created } = await create(test)
  const reset = await callRest<Credential & { newClientSecret: string }>(test, {
    method: 'PATCH',
    url: `/oauth/credentials/${created.credentialId}`,
    body: { resetSecret: true },
  })
  t.equal(reset.status, 200)
  t.equal(reset.body.newClientSecret.length, 88)
  t.equal(await test.app.credentials.authenticate(created.clientIdentifier, created.clientSecret), null)
  t.ok(await test.app.credentials.authenticate(created.clientIdentifier, reset.body.newClientSecret))
  const [event] = await test.sql<{ changed_fields: string[] }>(
    "SELECT changed_fields FROM audit_event WHERE action = 'update' AND credential_id = $1",
    [created.credentialId],
  )
  t.same(event?.changed_fields, ['clientSecret'])
})

t.test('DELETE: 204, then 404; the audit trail outlives the credential', async (t) => {
  const { body: created } = await create(test)
  const url = `/oauth/credentials/${created.credentialId}`
  const deleted = await callRest(test, { method: 'DELETE', url })
  t.equal(deleted.status, 204)
  t.equal(deleted.raw, '')
  t.equal((await callRest(test, { method: 'GET', url })).status, 404)
  const again = await callRest<Problem>(test, { method: 'DELETE', url })
  t.equal(again.status, 404)
  t.equal(again.body.detail, 'Invalid Credential ID provided.')
  const events = await callRest<{ items: { action: string }[] }>(test, { method: 'GET', url: `${url}/events` })
  t.equal(events.status, 200)
  t.same(events.body.items.map((event) => event.action), ['delete', 'create'])
})

t.test('rotate: the new secret, the old one during the grace period, 409 on a second graced rotation', async (t) => {
  const { body: created } = await create(test)
  const url = `/oauth/credentials/${created.credentialId}/secret`
  const before = Date.now()
  const rotated = await callRest<Credential & { clientSecret: string; previousSecretExpiresAt: string }>(test, {
    method: 'POST',
    url,
    body: { graceSeconds: 3600 },
  })
  t.equal(rotated.status, 200)
  t.equal(rotated.body.clientSecret.length, 88)
  t.not(rotated.body.clientSecret, created.clientSecret)
  const expires = Date.parse(rotated.body.previousSecretExpiresAt)
  t.ok(expires >= before + 3600_000 - 1000 && expires <= Date.now() + 3600_000 + 1000, 'old secret valid for an hour')
  t.equal(rotated.headers.etag, `"${created.credentialId}-2"`)
  t.ok(await test.app.credentials.authenticate(created.clientIdentifier, created.clientSecret), 'old secret still works')
  t.ok(await test.app.credentials.authenticate(created.clientIdentifier, rotated.body.clientSecret), 'new secret works')

  const again = await callRest<Problem>(test, { method: 'POST', url, body: { graceSeconds: 60 } })
  t.equal(again.status, 409)
  t.match(again.body.detail, /^The previous secret is still valid until /)
  const retryAfter = Number(again.headers['retry-after'])
  t.ok(retryAfter > 3500 && retryAfter <= 3600, `Retry-After: when the grace period ends (${retryAfter} s)`)
  t.ok(await test.app.credentials.authenticate(created.clientIdentifier, rotated.body.clientSecret), 'nothing changed')

  const tooLong = await callRest<Problem>(test, { method: 'POST', url, body: { graceSeconds: 7 * 86400 + 1 } })
  t.equal(tooLong.status, 400)
  t.equal(tooLong.body.errors?.[0]?.pointer, '/graceSeconds')

  // A POST without a body is what any page can send cross-site, with the Basic credentials a
  // browser keeps for this origin once someone signed in at its prompt: it must not rotate.
  const bodiless = await callRest<Problem>(test, { method: 'POST', url })
  t.equal(bodiless.status, 400, 'no body: refused')
  t.strictSame(bodiless.body.errors, [{ in: 'body', pointer: '', detail: 'The body must be a JSON object, {} at least.' }])
  t.ok(await test.app.credentials.authenticate(created.clientIdentifier, rotated.body.clientSecret), 'nothing rotated')

  const immediate = await callRest<Credential & { clientSecret: string }>(test, { method: 'POST', url, body: {} })
  t.equal(immediate.status, 200, 'empty object: no grace period')
  t.equal(immediate.body.previousSecretExpiresAt, null)
  t.equal(await test.app.credentials.authenticate(created.clientIdentifier, created.clientSecret), null)
  t.equal(await test.app.credentials.authenticate(created.clientIdentifier, rotated.body.clientSecret), null)
  t.ok(await test.app.credentials.authenticate(created.clientIdentifier, immediate.body.clientSecret))

  const missing = await callRest(test, { method: 'POST', url: '/oauth/credentials/999/secret', body: {} })
  t.equal(missing.status, 404)
})

t.test('authenticate: 200 with the credential and no secret, 401 otherwise, grace secrets honoured', async (t) => {
  const { body: created } = await create(test)
  const url = '/oauth/credentials/authenticate'
  const ok = await callRest<Credential>(test, {
    method: 'POST',
    url,
    body: { clientIdentifier: created.clientIdentifier, clientSecret: created.clientSecret },
  })
  t.equal(ok.status, 200)
  t.match(ok.body, { credentialId: created.credentialId, grantType: 'authorization_code', scope: newCredential.scope, redirectUri: newCredential.redirectUri })
  t.notMatch(ok.raw, created.clientSecret)
  const [row] = await test.sql<{ secret_hash: string }>('SELECT secret_hash FROM credential WHERE id = $1', [created.credentialId])
  t.notMatch(ok.raw, row?.secret_hash ?? '', 'not even its hash')
  t.notOk(['clientSecret', 'newClientSecret', 'secretHash'].some((key) => key in ok.body), 'no secret field')
  t.ok(ok.body.lastUsedAt, 'lastUsedAt is recorded')

  const wrong = await callRest<Problem>(test, { method: 'POST', url, body: { clientIdentifier: created.clientIdentifier, clientSecret: 'x' } })
  t.equal(wrong.status, 401)
  t.equal(wrong.body.detail, 'The client identifier or secret is wrong.')
  t.equal(wrong.headers['www-authenticate'], 'Basic realm="oauth-credentials", charset="UTF-8"', 'a 401 always says how to authenticate')
  t.notMatch(wrong.raw, created.clientSecret)
  const unknown = await callRest(test, { method: 'POST', url, body: { clientIdentifier: 'TEST.nobody', clientSecret: created.clientSecret } })
  t.equal(unknown.status, 401)

  const rotated = await callRest<{ clientSecret: string }>(test, {
    method: 'POST',
    url: `/oauth/credentials/${created.credentialId}/secret`,
    body: { graceSeconds: 60 },
  })
  for (const secret of [created.clientSecret, rotated.body.clientSecret]) {
    const graced = await callRest(test, { method: 'POST', url, body: { clientIdentifier: created.clientIdentifier, clientSecret: secret } })
    t.equal(graced.status, 200)
  }
  const checker = await test.app.apiClients.create({ permissions: ['GetOAuthCredential'] })
  const denied = await callRest(test, { method: 'POST', url, auth: checker, body: { clientIdentifier: 'a', clientSecret: 'b' } })
  t.equal(denied.status, 403, 'needs AuthenticateOAuthCredential')
})

t.test('events: newest first, paginated, field names only', async (t) => {
  const { body: created } = await create(test)
  const url = `/oauth/credentials/${created.credentialId}`
  await callRest(test, { method: 'PATCH', url, body: { name: 'Changed', description: 'new' } })
  await callRest(test, { method: 'POST', url: `${url}/secret`, body: {} })
  await callLegacy(test, { action: 'UpdateOAuthCredential', credentialId: created.credentialId, name: 'From PHP' })

  const all = await callRest<{ items: Record<string, unknown>[]; next: string | null }>(test, { method: 'GET', url: `${url}/events` })
  t.same(
    all.body.items.map((event) => [event.action, event.source, event.changedFields]),
    [
      ['update', 'legacy', ['name']],
      ['rotate_secret', 'rest', ['clientSecret']],
      ['update', 'rest', ['name', 'description']],
      ['create', 'rest', ['name', 'description', 'grantType', 'scope', 'logoUri', 'redirectUri']],
    ],
  )
  t.equal(all.body.next, null)
  t.notMatch(JSON.stringify(all.body), 'Changed', 'values are not in the trail')

  const first = await callRest<{ items: { id: number }[]; next: string }>(test, { method: 'GET', url: `${url}/events?limit=3` })
  t.equal(first.body.items.length, 3)
  t.equal(first.headers.link, `<${url}/events?limit=3&cursor=${first.body.next}>; rel="next"`)
  const second = await callRest<{ items: { action: string }[]; next: string | null }>(test, {
    method: 'GET',
    url: `${url}/events?limit=3&cursor=${first.body.next}`,
  })
  t.same(second.body.items.map((event) => event.action), ['create'])
  t.equal(second.body.next, null)

  const missing = await callRest<Problem>(test, { method: 'GET', url: '/oauth/credentials/999/events' })
  t.equal(missing.status, 404)
})

t.test('events: in id order where the ids gain a digit (99 before 100, not after)', async (t) => {
  const { body: created } = await create(test)
  const url = `/oauth/credentials/${created.credentialId}`
  // The next six ids: three below the next power of ten above every id so far, three from it.
  await test.sql(`SELECT setval(pg_get_serial_sequence('audit_event', 'id'),
    power(10, length((SELECT max(id) FROM audit_event)::text) + 1)::bigint - 4)`)
  for (let n = 0; n < 6; n++) await callRest(test, { method: 'PATCH', url, body: { name: `Name ${n}` } })
  const page = await callRest<{ items: { id: number }[] }>(test, { method: 'GET', url: `${url}/events?limit=4` })
  const ids = page.body.items.map((event) => event.id)
  t.same(ids, [...ids].sort((a, b) => b - a), `newest first by number: ${ids.join(', ')}`)
  t.equal(String(ids[0]).length, String(ids[3]).length + 1, 'the page spans the boundary')
})

t.test('events past two billion: the trail is bigint, and so is its cursor', async (t) => {
  const { body: created } = await create(test)
  const url = `/oauth/credentials/${created.credentialId}`
  await test.sql(`SELECT setval(pg_get_serial_sequence('audit_event', 'id'), 3000000000)`)
  for (let n = 0; n < 3; n++) await callRest(test, { method: 'PATCH', url, body: { name: `Billion ${n}` } })
  const first = await callRest<{ items: { id: number }[]; next: string }>(test, { method: 'GET', url: `${url}/events?limit=2` })
  t.same(first.body.items.map((event) => event.id), [3000000003, 3000000002])
  const second = await callRest<{ items: { id: number }[] }>(test, { method: 'GET', url: `${url}/events?limit=2&cursor=${first.body.next}` })
  t.equal(second.status, 200, 'the next page of a cursor past 2^31')
  t.equal(second.body.items[0]?.id, 3000000001)
  t.ok((second.body.items[1]?.id ?? 0) < 2 ** 31, 'then its creation, written before the sequence moved')
})
