import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy } from '../helpers/legacy.js'

// SPEC §4: the checks before an action runs, in the original's order, with their statuses.
const ACCESS_KEY = 'legacy-access-key-0123456789'
const test = await buildTestApp(t, { API_ACCESS_KEY: ACCESS_KEY })
const office = await test.app.apiClients.create({ allowedIps: ['10.1.2.3', '2001:db8::7'] })
const lister = await test.app.apiClients.create({ permissions: ['ListOAuthCredentials'] })
const asOffice = { identifier: office.identifier, secret: office.secret }
const list = { action: 'ListOAuthCredentials', responsetype: 'json' }

t.test('1. an API credential with an IP allow-list', async (t) => {
  const refused = await callLegacy(test, { ...list, ...asOffice }, { auth: false })
  t.equal(refused.status, 403)
  t.same(refused.data, { result: 'error', message: 'Invalid IP 127.0.0.1' }, 'names the caller address')

  const v6 = await callLegacy(test, { ...list, ...asOffice }, { auth: false, remoteAddress: '2001:db8::8' })
  t.same([v6.status, v6.data.message], [403, 'Invalid IP 2001:db8::8'])

  for (const remoteAddress of ['10.1.2.3', '2001:db8::7']) {
    const allowed = await callLegacy(test, { ...list, ...asOffice }, { auth: false, remoteAddress })
    t.same([allowed.status, allowed.data.result], [200, 'success'], `${remoteAddress} is on the list`)
  }
  // A dual-stack listener (HOST=::) reports an IPv4 caller as ::ffff:a.b.c.d; an address is itself however written.
  const mapped = await callLegacy(test, { ...list, ...asOffice }, { auth: false, remoteAddress: '::ffff:10.1.2.3' })
  t.same([mapped.status, mapped.data.result], [200, 'success'], 'an IPv4 caller on a dual-stack listener')
  const spelled = await test.app.apiClients.create({ allowedIps: ['2001:0db8:0:0:0:0:0:0009', '::FFFF:10.9.9.9'] })
  t.same((await test.app.apiClients.list()).find((client) => client.identifier === spelled.identifier)?.allowedIps, ['2001:db8::9', '10.9.9.9'], 'kept in one spelling')
  for (const remoteAddress of ['2001:db8::9', '10.9.9.9', '::ffff:10.9.9.9']) {
    const allowed = await callLegacy(test, { ...list, identifier: spelled.identifier, secret: spelled.secret }, { auth: false, remoteAddress })
    t.same([allowed.status, allowed.data.result], [200, 'success'], `${remoteAddress}, allowed as written otherwise`)
  }
  // Stored before addresses were kept in one spelling (or restored from such a backup).
  const stored = await test.app.apiClients.create({ allowedIps: ['10.9.9.7'] })
  await test.sql("UPDATE api_credential SET allowed_ips = '{::FFFF:10.9.9.8}' WHERE identifier = $1", [stored.identifier])
  const old = await callLegacy(test, { ...list, identifier: stored.identifier, secret: stored.secret }, { auth: false, remoteAddress: '10.9.9.8' })
  t.same([old.status, old.data.result], [200, 'success'], 'an allow-list stored in another spelling')

  const bypass = await callLegacy(test, { ...list, ...asOffice, accesskey: ACCESS_KEY }, { auth: false })
  t.same([bypass.status, bypass.data.result], [200, 'success'], 'the access key bypasses the allow-list')

  const wrongKey = await callLegacy(test, { ...list, ...asOffice, accesskey: 'not-the-key' }, { auth: false })
  t.equal(wrongKey.status, 403)
  t.same(wrongKey.data, { result: 'error', message: 'Invalid Access Key' })

  const emptyKey = await callLegacy(test, { ...list, ...asOffice, accesskey: '' }, { auth: false })
  t.same([emptyKey.status, emptyKey.data.message], [403, 'Invalid IP 127.0.0.1'], 'an empty access key is no key')

  const beforeAction = await callLegacy(test, { ...asOffice, responsetype: 'json' }, { auth: false })
  t.same([beforeAction.status, beforeAction.data.message], [403, 'Invalid IP 127.0.0.1'], 'checked before the action')

  const beforeSecret = await callLegacy(test, { ...list, identifier: office.identifier, secret: 'wrong' }, { auth: false })
  t.same([beforeSecret.status, beforeSecret.data.message], [403, 'Invalid IP 127.0.0.1'], 'checked before the secret')
})

t.test('a caller that always sends an access key keeps working from an allowed address', async (t) => {
  const answer = await callLegacy(test, { ...list, accesskey: 'whatever-the-script-has' })
  t.same([answer.status, answer.data.result], [200, 'success'])
})

t.test('2. a missing action: 400 Empty action request', async (t) => {
  for (const form of [{}, { action: '' }, { action: ['ListOAuthCredentials'] }]) {
    const answer = await callLegacy(test, { ...form, responsetype: 'json' })
    t.equal(answer.status, 400)
    t.same(answer.data, { result: 'error', message: 'Empty action request' }, JSON.stringify(form))
  }
  const anonymous = await callLegacy(test, { responsetype: 'json' }, { auth: false })
  t.same([anonymous.status, anonymous.data.message], [400, 'Empty action request'], 'before the credentials')
})

t.test('3. credentials: missing, unknown, wrong or revoked', async (t) => {
  const missing = [
    {},
    { identifier: test.admin.identifier },
    { secret: test.admin.secret },
    { username: '', password: '' },
    { username: [test.admin.identifier], password: [test.admin.secret] },
  ]
  for (const auth of missing) {
    const answer = await callLegacy(test, { ...list, ...auth }, { auth: false })
    t.equal(answer.status, 403)
    t.same(answer.data, { result: 'error', message: 'Invalid or missing credentials' }, JSON.stringify(Object.keys(auth)))
  }
  const failed = [
    { identifier: 'nobody', secret: 'x' },
    { identifier: test.admin.identifier, secret: test.admin.secret + 'x' },
    { username: test.admin.identifier, password: office.secret },
  ]
  for (const auth of failed) {
    const answer = await callLegacy(test, { ...list, ...auth }, { auth: false })
    t.equal(answer.status, 403)
    t.same(answer.data, { result: 'error', message: 'Authentication Failed' })
  }
  const both = await callLegacy(test, { ...list, identifier: test.admin.identifier, secret: test.admin.secret }, { auth: false })
  t.same([both.status, both.data.result], [200, 'success'], 'identifier + secret work like username + password')

  const revocable = await test.app.apiClients.create({})
  t.equal((await callLegacy(test, { ...list, ...revocable }, { auth: false })).status, 200)
  t.equal(await test.app.apiClients.revoke(revocable.identifier), true)
  t.equal(await test.app.apiClients.revoke(revocable.identifier), false, 'revoking twice changes nothing')
  const revoked = await callLegacy(test, { ...list, ...revocable }, { auth: false })
  t.same([revoked.status, revoked.data.message], [403, 'Authentication Failed'], 'a revoked credential stops working')
})

t.test('4. permissions per action', async (t) => {
  const asLister = { identifier: lister.identifier, secret: lister.secret }
  const allowed = await callLegacy(test, { ...list, ...asLister }, { auth: false })
  t.same([allowed.status, allowed.data.result], [200, 'success'])
  const refused = await callLegacy(
    test,
    { action: 'deleteoauthcredential', credentialId: 1, responsetype: 'json', ...asLister },
    { auth: false },
  )
  t.equal(refused.status, 403)
  t.same(refused.data, { result: 'error', message: 'Invalid Permissions: API action "DeleteOAuthCredential" is not allowed' })
  const unknown = await callLegacy(test, { action: 'GetClients', responsetype: 'json', ...asLister }, { auth: false })
  t.same([unknown.status, unknown.data.message], [403, 'Invalid Permissions: API action "GetClients" is not allowed'])
})

t.test('5. an unknown action: 200 API Function Not Found', async (t) => {
  const answer = await callLegacy(test, { action: 'GetClients', responsetype: 'json' })
  t.equal(answer.status, 200)
  t.same(answer.data, { result: 'error', message: 'API Function Not Found' })
})

t.test('the action name is matched case-insensitively', async (t) => {
  for (const action of ['listoauthcredentials', 'LISTOAUTHCREDENTIALS', 'ListOauthCredentials']) {
    const answer = await callLegacy(test, { action, responsetype: 'json' })
    t.same([answer.status, answer.data.result], [200, 'success'], action)
  }
})

t.test('responsetype: nvp when left out, unsupported formats refused', async (t) => {
  const nvp = await callLegacy(test, { action: 'ListOAuthCredentials' })
  t.match(nvp.contentType, /^text\/plain; charset=utf-8/)
  t.equal(nvp.body, 'result=success', 'an empty list in NVP')
  const upper = await callLegacy(test, { ...list, responsetype: 'JSON' })
  t.same([upper.contentType, upper.data.result], ['application/json; charset=utf-8', 'success'], 'matched case-insensitively')
  const yaml = await callLegacy(test, { ...list, responsetype: 'yaml' })
  t.equal(yaml.status, 400)
  t.same(yaml.data, {
    result: 'error',
    message: 'Unsupported API response type format "yaml". Supported formats include: json, xml, nvp',
  })
  const anonymous = await callLegacy(test, { ...list, responsetype: 'php' }, { auth: false })
  t.same([anonymous.status, anonymous.data.message], [400, 'Unsupported API response type format "php". Supported formats include: json, xml, nvp'])

  // Sent twice, or as a list, it is not "left out": that would answer NVP to a caller asking for JSON.
  const single = { result: 'error', message: 'The responsetype parameter must be a single value.' }
  for (const arrayFormat of ['repeat', 'brackets'] as const) {
    const twice = await callLegacy(test, { ...list, responsetype: ['json', 'json'] }, { arrayFormat })
    t.same([twice.status, twice.contentType, twice.data], [400, 'application/json; charset=utf-8', single], arrayFormat)
  }
  const json = await callLegacy(test, { ...list, responsetype: ['json'] }, { encoding: 'json' })
  t.same([json.status, json.data], [400, single], 'a list in a JSON body')
  // PHP reads a JSON false as empty text, as it reads null: left out.
  for (const empty of [false, null]) {
    const left = await callLegacy(test, { ...list, responsetype: empty }, { encoding: 'json' })
    t.same([left.status, left.contentType.split(';')[0]], [200, 'text/plain'], `${empty} in a JSON body: NVP`)
  }
})

t.test('errors keep the requested format', async (t) => {
  const xml = await callLegacy(test, { action: 'GetClients', responsetype: 'xml' })
  t.match(xml.contentType, /^application\/xml; charset=utf-8/)
  t.same(xml.data, { '@version': xml.data['@version'], action: 'getclients', result: 'error', message: 'API Function Not Found' })
  const nvp = await callLegacy(test, {}, { auth: false })
  t.same([nvp.status, nvp.body], [400, 'result=error;message=Empty action request'])
})

t.test('bodies the endpoint cannot read answer in the legacy shape', async (t) => {
  const badJson = await callLegacy(test, {}, { body: '{"action":', contentType: 'application/json', query: 'responsetype=json' })
  t.equal(badJson.status, 400)
  t.equal(badJson.data.result, 'error')
  t.type(badJson.data.message, 'string')
  const unknownType = await callLegacy(test, {}, { body: 'action=x', contentType: 'text/csv', query: 'responsetype=xml' })
  t.equal(unknownType.status, 415)
  t.equal(unknownType.data.result, 'error', 'in the format the query string asked for')
  t.match(unknownType.contentType, /^application\/xml/)
  const tooLarge = await callLegacy(test, {}, { body: 'action=' + 'x'.repeat(70 * 1024) })
  t.equal(tooLarge.status, 413)
  t.equal(tooLarge.data.result, 'error', 'in NVP by default')
})

t.test('X-Request-Id comes back, or one is made', async (t) => {
  const given = await callLegacy(test, list, { headers: { 'x-request-id': 'trace-42' } })
  t.equal(given.headers['x-request-id'], 'trace-42')
  const made = await callLegacy(test, list, { headers: { 'x-request-id': 'no spaces allowed' } })
  t.match(made.headers['x-request-id'], /^[0-9a-f-]{36}$/)
})
