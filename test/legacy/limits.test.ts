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

t.test('parameters: as many as PHP reads (1000), and past that a clear refusal, never a silent cut', async (t) => {
  const auth = `username=${encodeURIComponent(test.admin.identifier)}&password=${encodeURIComponent(test.admin.secret)}`
  const filler = (count: number) => Array.from({ length: count }, (_, n) => `x${n}=${n}`).join('&')
  const post = (payload: string, query = 'responsetype=json') =>
    test.app.inject({ method: 'POST', url: `/includes/api.php?${query}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload })
  // The action last, as the 1000th parameter of the body: once cut at 200, it was "missing".
  const last = await post(`${auth}&${filler(997)}&action=ListOAuthCredentials`)
  t.same([last.statusCode, JSON.parse(last.body).result], [200, 'success'], 'the 1000th parameter is read')
  const tooMany = { result: 'error', message: 'The request has more than 1000 parameters.' }
  const over = await post(`${auth}&${filler(998)}&action=ListOAuthCredentials`)
  t.same([over.statusCode, JSON.parse(over.body)], [400, tooMany], 'a 1001st is refused')
  const inQuery = await test.app.inject({ method: 'GET', url: `/includes/api.php?${filler(1001)}&responsetype=xml` })
  t.same([inQuery.statusCode, JSON.parse(inQuery.body)], [400, tooMany], 'in the query too (answered in JSON: its responsetype is past the limit)')

  // Short parts, so that 1,002 of them stay under the 64 KiB body limit.
  const boundary = 'b'
  const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
  const fields = part('x', '1').repeat(1001)
  const multipart = await test.app.inject({
    method: 'POST',
    url: '/includes/api.php?responsetype=json',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload: part('action', 'ListOAuthCredentials') + fields + `--${boundary}--\r\n`,
  })
  t.same([multipart.statusCode, JSON.parse(multipart.body)], [400, tooMany], 'multipart fields past the limit: the same refusal')
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
