import { Readable } from 'node:stream'
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy, createCredential, storedCredential } from '../helpers/legacy.js'
import { callRest, createCredential as createRestCredential, type Problem } from '../helpers/rest.js'

// Issue 10, points 7, 8 and 13: multipart bodies have the 64 KiB limit of every body, every
// legacy answer says no-store, and issuing a secret needs the rotate permission everywhere.
const test = await buildTestApp(t)

function multipartBody(fieldBytes: number): { body: Buffer; contentType: string } {
  const boundary = 'harden-boundary'
  const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
  const text = part('action', 'ListOAuthCredentials') + part('username', test.admin.identifier) +
    part('password', test.admin.secret) + part('description', 'd'.repeat(fieldBytes)) + `--${boundary}--\r\n`
  return { body: Buffer.from(text), contentType: `multipart/form-data; boundary=${boundary}` }
}

t.test('multipart bodies over 64 KiB: 413, declared or chunked', async (t) => {
  const large = multipartBody(2_200_000)
  const declared = await test.app.inject({ method: 'POST', url: '/includes/api.php?responsetype=json', headers: { 'content-type': large.contentType }, payload: large.body })
  t.same([declared.statusCode, JSON.parse(declared.body)], [413, { result: 'error', message: 'Request body is too large' }])

  const chunks = Array.from({ length: Math.ceil(large.body.length / 8192) }, (_, i) => large.body.subarray(i * 8192, (i + 1) * 8192))
  const chunked = await test.app.inject({ method: 'POST', url: '/includes/api.php?responsetype=json', headers: { 'content-type': large.contentType }, payload: Readable.from(chunks) })
  t.equal(chunked.statusCode, 413, 'no Content-Length: cut off once past the limit')

  const small = multipartBody(1000)
  const fine = await test.app.inject({ method: 'POST', url: '/includes/api.php?responsetype=json', headers: { 'content-type': small.contentType }, payload: small.body })
  t.same([fine.statusCode, JSON.parse(fine.body).result], [200, 'success'], 'a body under the limit is read')
})

t.test('a multipart field is never cut short: a long redirect URI list is stored whole', async (t) => {
  const credential = await createCredential(test)
  // Ten URIs of about 1,800 characters in one field, 18 KB: past the 16 KiB busboy once cut to.
  const uris = Array.from({ length: 10 }, (_, i) => `https://app${i}.example.com/${'p'.repeat(1_800)}`)
  const boundary = 'long-field'
  const part = (name: string, value: string | number) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
  const body = part('action', 'UpdateOAuthCredential') + part('identifier', test.admin.identifier) + part('secret', test.admin.secret) +
    part('credentialId', credential.credentialId) + part('redirectUri', uris.join(' ')) + `--${boundary}--\r\n`
  const answer = await test.app.inject({ method: 'POST', url: '/includes/api.php?responsetype=json', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: body })
  t.same(JSON.parse(answer.body), { result: 'success', credentialId: String(credential.credentialId) })
  t.same((await storedCredential(test, credential.credentialId)).redirectUris, uris, 'every URI whole')
})

t.test('every legacy answer sends Cache-Control: no-store', async (t) => {
  const credential = await createCredential(test)
  const answers = [
    await callLegacy(test, { action: 'UpdateOAuthCredential', credentialId: credential.credentialId, resetSecret: '1', responsetype: 'json' }),
    await callLegacy(test, { action: 'ListOAuthCredentials', responsetype: 'xml' }),
    await callLegacy(test, { action: 'ListOAuthCredentials' }),
    await callLegacy(test, { action: 'DeleteOAuthCredential', credentialId: 'x', responsetype: 'json' }),
    await callLegacy(test, { action: 'ListOAuthCredentials', responsetype: 'json', password: 'wrong' }),
    await callLegacy(test, { action: 'ListOAuthCredentials', responsetype: 'yaml' }),
    await callLegacy(test, { action: 'ListOAuthCredentials' }, { body: '{"action":', contentType: 'application/json' }),
    await callLegacy(test, { action: 'ListOAuthCredentials' }, { method: 'GET' }),
  ]
  t.same(answers.map((answer) => answer.status), [200, 200, 200, 200, 403, 400, 400, 200])
  for (const answer of answers) t.equal(answer.headers['cache-control'], 'no-store', `${answer.status} ${answer.body.slice(0, 40)}`)
})

t.test('resetSecret needs RotateOAuthCredentialSecret on api.php and on PATCH', async (t) => {
  const updater = await test.app.apiClients.create({ identifier: 'updater', permissions: ['UpdateOAuthCredential'] })
  const rotator = await test.app.apiClients.create({ identifier: 'rotator', permissions: ['UpdateOAuthCredential', 'RotateOAuthCredentialSecret'] })
  const credential = await createCredential(test)
  const before = await storedCredential(test, credential.credentialId)
  const legacy = (caller: { identifier: string; secret: string }, resetSecret: string) =>
    callLegacy(test, { action: 'UpdateOAuthCredential', credentialId: credential.credentialId, resetSecret, name: 'Renamed', responsetype: 'json', username: caller.identifier, password: caller.secret }, { auth: false })

  const refused = await legacy(updater, 'true')
  t.same([refused.status, refused.data], [403, { result: 'error', message: 'Invalid Permissions: API action "RotateOAuthCredentialSecret" is not allowed' }])
  t.same(await storedCredential(test, credential.credentialId), before, 'nothing written, not even the name')
  t.equal((await legacy(updater, '0')).data.result, 'success', 'an update without a reset is still allowed')
  t.match((await legacy(rotator, '1')).data, { result: 'success', newClientSecret: /^.{88}$/ })

  const { body: rest } = await createRestCredential(test)
  const url = `/oauth/credentials/${rest.credentialId}`
  const patch = await callRest<Problem>(test, { method: 'PATCH', url, body: { resetSecret: true }, auth: updater })
  t.same([patch.status, patch.body.detail], [403, 'Invalid Permissions: API action "RotateOAuthCredentialSecret" is not allowed'])
  t.ok(await test.app.credentials.authenticate(rest.clientIdentifier, rest.clientSecret), 'the secret is unchanged')
  t.equal((await callRest(test, { method: 'PATCH', url, body: { resetSecret: false, name: 'Plain' }, auth: updater })).status, 200)
  t.equal((await callRest(test, { method: 'PATCH', url, body: { resetSecret: true }, auth: rotator })).status, 200)
  t.equal((await callRest(test, { method: 'POST', url: `${url}/secret`, body: {}, auth: updater })).status, 403, 'as POST …/secret always did')
})
