import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy } from '../helpers/legacy.js'

t.test('the seed example: UpdateOAuthCredential with resetSecret, field for field', async (t) => {
  const test = await buildTestApp(t)
  const created = await callLegacy(test, {
    action: 'CreateOAuthCredential',
    grantType: 'authorization_code',
    name: 'Original',
    scope: 'clientarea:sso openid',
    responsetype: 'json',
  })
  t.equal(created.data.credentialId, '1')
  const oldSecret = created.data.clientSecret as string
  const identifier = created.data.clientIdentifier as string
  t.ok(await test.app.credentials.authenticate(identifier, oldSecret), 'the first secret works')

  // Exactly the body the seed's PHP sends (http_build_query turns `true` into "1").
  const body = `action=UpdateOAuthCredential&username=${encodeURIComponent(test.admin.identifier)}&password=${encodeURIComponent(test.admin.secret)}&credentialId=1&name=Credential+name&resetSecret=1&responsetype=json`
  const updated = await callLegacy(test, {}, { body })
  t.equal(updated.status, 200)
  t.match(updated.contentType, /^application\/json/)
  t.same(Object.keys(updated.data), ['result', 'credentialId', 'newClientSecret'])
  t.equal(updated.data.result, 'success')
  t.equal(updated.data.credentialId, '1')
  const newSecret = updated.data.newClientSecret as string
  t.match(newSecret, /^[A-Za-z0-9+/]{86}==$/, '88 characters of base64 from 64 bytes')
  t.equal(await test.app.credentials.authenticate(identifier, oldSecret), null, 'the old secret stops matching')
  t.ok(await test.app.credentials.authenticate(identifier, newSecret), 'the new secret matches')
  const [row] = await test.sql<{ name: string; secret_hash: string }>('SELECT name, secret_hash FROM credential WHERE id = 1')
  t.equal(row?.name, 'Credential name')
  t.not(row?.secret_hash, newSecret, 'the stored secret is not the secret')
  t.notMatch(row?.secret_hash ?? '', newSecret.slice(0, 20))
})
