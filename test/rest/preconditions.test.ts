import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callRest, createCredential, type Credential, type Problem } from '../helpers/rest.js'

// Issue 10, point 6: If-Match holds for every change of a credential, the ETag covers what
// docs/rest.md says, and text that cannot be stored as sent is refused.
const test = await buildTestApp(t)
const stale = (credential: { credentialId: number }) => `"${credential.credentialId}-0"`
const row = async (id: number) =>
  (await test.sql<{ version: number; secret_hash: string }>('SELECT version, secret_hash FROM credential WHERE id = $1', [id]))[0]

t.test('DELETE with a stale If-Match: 412, nothing deleted; with the current one: deleted', async (t) => {
  const { body: created, headers } = await createCredential(test)
  const url = `/oauth/credentials/${created.credentialId}`
  const spelledOtherwise = [String(headers.etag).replace('"', '"0'), String(headers.etag).replace('-', '-0')]
  for (const ifMatch of [stale(created), `"${created.credentialId + 1}-1"`, `W/${headers.etag}`, ...spelledOtherwise]) {
    const refused = await callRest<Problem>(test, { method: 'DELETE', url, headers: { 'if-match': ifMatch } })
    t.equal(refused.status, 412, ifMatch)
    t.equal(refused.body.detail, 'The credential has changed since it was read.')
  }
  t.ok(await row(created.credentialId), 'still there')
  const deleted = await callRest(test, { method: 'DELETE', url, headers: { 'if-match': `${stale(created)}, ${headers.etag}` } })
  t.equal(deleted.status, 204, 'one of the listed tags is current')
  t.notOk(await row(created.credentialId), 'gone')
})

t.test('rotate with a stale If-Match: 412, the secret unchanged', async (t) => {
  const { body: created, headers } = await createCredential(test)
  const url = `/oauth/credentials/${created.credentialId}/secret`
  const before = await row(created.credentialId)
  const refused = await callRest<Problem>(test, { method: 'POST', url, body: {}, headers: { 'if-match': stale(created) } })
  t.equal(refused.status, 412)
  t.same(await row(created.credentialId), before, 'same version, same secret')
  t.ok(await test.app.credentials.authenticate(created.clientIdentifier, created.clientSecret), 'the old secret works')
  const rotated = await callRest<Credential>(test, { method: 'POST', url, body: {}, headers: { 'if-match': String(headers.etag) } })
  t.equal(rotated.status, 200)
  t.equal(rotated.body.version, 2)
})

t.test('the ETag covers every field but lastUsedAt, which authentication records', async (t) => {
  const { body: created } = await createCredential(test)
  const url = `/oauth/credentials/${created.credentialId}`
  const before = await callRest<Credential>(test, { method: 'GET', url })
  t.equal(before.body.lastUsedAt, null)
  const signIn = await callRest(test, {
    method: 'POST',
    url: '/oauth/credentials/authenticate',
    body: { clientIdentifier: created.clientIdentifier, clientSecret: created.clientSecret },
  })
  t.equal(signIn.status, 200)
  const after = await callRest<Credential>(test, { method: 'GET', url })
  t.type(after.body.lastUsedAt, 'string', 'lastUsedAt changed')
  t.equal(after.headers.etag, before.headers.etag, 'the ETag did not')
  const { lastUsedAt: _before, ...settingsBefore } = before.body
  const { lastUsedAt: _after, ...settingsAfter } = after.body
  t.same(settingsAfter, settingsBefore, 'everything else is as it was')
  const renamed = await callRest<Credential>(test, { method: 'PATCH', url, body: { name: 'Renamed' }, headers: { 'if-match': String(before.headers.etag) } })
  t.equal(renamed.status, 200, 'a writer that read before the sign-in is not refused')
  t.not(renamed.headers.etag, before.headers.etag, 'any other change gives a new ETag')
})

t.test('a lone surrogate is refused with the field\'s usual message, nothing stored', async (t) => {
  const { body: created } = await createCredential(test)
  const url = `/oauth/credentials/${created.credentialId}`
  for (const [field, value, detail] of [
    ['name', 'half \ud83d of a key', 'The name must be a single line without control characters.'],
    ['description', 'a low \udd11 half', 'The description must be a single line without control characters.'],
  ] as const) {
    const answer = await callRest<Problem>(test, { method: 'PATCH', url, body: { [field]: value } })
    t.same([answer.status, answer.body.detail], [400, detail], field)
  }
  const uri = 'https://app.example.com/\udfff'
  const refused = await callRest<Problem>(test, { method: 'POST', url: '/oauth/credentials', body: { grantType: 'authorization_code', name: 'x', scope: 'openid', redirectUri: [uri] } })
  t.same([refused.status, refused.body.detail], [400, `The requested redirect URI "${uri}" is invalid.`])
  t.equal((await row(created.credentialId))?.version, 1, 'nothing written')
  const paired = await callRest<Credential>(test, { method: 'PATCH', url, body: { name: 'a whole 🔑' } })
  t.equal(paired.body.name, 'a whole 🔑', 'a surrogate pair is a character like any other')
})
