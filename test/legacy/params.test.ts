import querystring from 'node:querystring'
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy, createCredential, storedCredential } from '../helpers/legacy.js'

// How legacy callers send parameters (SPEC §3, §4): every array form, every body encoding.
const test = await buildTestApp(t)
const credential = await createCredential(test, { name: 'Params' })
const update = { action: 'UpdateOAuthCredential', credentialId: credential.credentialId, responsetype: 'json' }
const uris = ['https://a.example.com/cb', 'https://b.example.com/cb?x=1&y=2', 'com.example.app:/oauth']

async function listed(credentialId: number) {
  const { data } = await callLegacy(test, { action: 'ListOAuthCredentials', responsetype: 'json' })
  return (data.clients as Record<string, unknown>[]).find((client) => client.credentialId === credentialId)
}

t.test('redirectUri and scope arrays in every legacy form', async (t) => {
  const auth = { username: test.admin.identifier, password: test.admin.secret }
  const forms: [string, () => ReturnType<typeof callLegacy>][] = [
    ['brackets: redirectUri[]=a&redirectUri[]=b', () => callLegacy(test, { ...update, redirectUri: uris })],
    ['indexed: redirectUri[0]=a', () => callLegacy(test, { ...update, redirectUri: uris }, { arrayFormat: 'indices' })],
    [
      "repeated keys, as Node's querystring writes them",
      () => callLegacy(test, {}, { body: querystring.stringify({ ...auth, ...update, redirectUri: uris }) }),
    ],
    ['one string split on whitespace', () => callLegacy(test, { ...update, redirectUri: ` ${uris[0]}\n${uris[1]}\t ${uris[2]} ` })],
    ['a JSON array', () => callLegacy(test, { ...update, redirectUri: uris }, { encoding: 'json' })],
    ['multipart/form-data', () => callLegacy(test, { ...update, redirectUri: uris }, { encoding: 'multipart' })],
    ['GET with a query string', () => callLegacy(test, { ...update, redirectUri: uris }, { method: 'GET' })],
  ]
  for (const [form, call] of forms) {
    await callLegacy(test, { ...update, redirectUri: '' })
    t.same((await storedCredential(test, credential.credentialId)).redirectUris, [], 'cleared before: ' + form)
    const answer = await call()
    t.same(answer.data, { result: 'success', credentialId: String(credential.credentialId) }, form)
    t.same((await listed(credential.credentialId))?.redirectUri, uris, form)
  }

  const scopes = ['openid', 'email', 'clientarea:sso']
  for (const arrayFormat of ['brackets', 'indices', 'repeat'] as const) {
    await callLegacy(test, { ...update, scope: scopes.slice().reverse() }, { arrayFormat })
    t.equal((await listed(credential.credentialId))?.scope, 'clientarea:sso email openid', `scope as an array (${arrayFormat})`)
  }
  await callLegacy(test, { ...update, scope: scopes.join(' ') })
  t.equal((await listed(credential.credentialId))?.scope, 'openid email clientarea:sso', 'scope as one string')
  await callLegacy(test, { ...update, scope: ['openid email', 'openid'] }, { encoding: 'json' })
  t.equal((await listed(credential.credentialId))?.scope, 'openid email', 'duplicates collapse')
})

t.test('named keys and JSON scalars, read as PHP reads them', async (t) => {
  const named = await callLegacy(test, { ...update, redirectUri: { main: uris[0], backup: uris[1] } })
  t.equal(named.data.result, 'success')
  t.same((await storedCredential(test, credential.credentialId)).redirectUris, uris.slice(0, 2), 'redirectUri[main]=a&redirectUri[backup]=b, in order')
  const scalars = await callLegacy(test, { ...update, name: 123, description: null, serviceId: 42 }, { encoding: 'json' })
  t.equal(scalars.data.result, 'success')
  const { row } = await storedCredential(test, credential.credentialId)
  t.same([row?.name, row?.description, row?.service_id], ['123', '', 42], 'a number is its text, null is empty')
  const notAList = await callLegacy(test, { ...update, redirectUri: 5 }, { encoding: 'json' })
  t.same(notAList.data, { result: 'error', message: 'The redirectUri parameter must be a list of strings.' })
})

t.test('an empty list clears; a list of lists is refused', async (t) => {
  await callLegacy(test, { ...update, redirectUri: uris })
  await callLegacy(test, {}, {
    body: `${querystring.stringify({ username: test.admin.identifier, password: test.admin.secret, ...update })}&redirectUri[]=`,
  })
  t.same((await storedCredential(test, credential.credentialId)).redirectUris, [], 'redirectUri[]= clears the list')
  const nested = await callLegacy(test, { ...update, redirectUri: [[uris[0]]] }, { encoding: 'json' })
  t.same(nested.data, { result: 'error', message: 'The redirectUri parameter must be a list of strings.' })
  const nestedName = await callLegacy(test, { ...update, name: ['a', 'b'] })
  t.same(nestedName.data, { result: 'error', message: 'The name parameter must be a single value.' })
})

t.test('multipart/form-data carries every field, as PHP curl sends an array', async (t) => {
  const answer = await callLegacy(
    test,
    { ...update, name: 'Multi part & co', description: 'línea', redirectUri: uris.slice(0, 2), scope: ['openid', 'profile'] },
    { encoding: 'multipart', arrayFormat: 'indices' },
  )
  t.same(answer.data, { result: 'success', credentialId: String(credential.credentialId) })
  const stored = await storedCredential(test, credential.credentialId)
  t.same(
    [stored.row?.name, stored.row?.description, stored.redirectUris, stored.scopes],
    ['Multi part & co', 'línea', uris.slice(0, 2), ['openid', 'profile']],
  )
  const file = await test.app.inject({
    method: 'POST',
    url: '/includes/api.php?responsetype=json',
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
    payload: '--x\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nhello\r\n--x--\r\n',
  })
  t.equal(file.statusCode, 413, 'files are not accepted')
  t.equal(JSON.parse(file.body).result, 'error')
})

t.test('query and body merge; the body wins', async (t) => {
  const answer = await callLegacy(
    test,
    { ...update, name: 'From body' },
    { query: 'name=From+query&description=From+query&responsetype=xml' },
  )
  t.same(answer.data, { result: 'success', credentialId: String(credential.credentialId) }, 'responsetype from the body too')
  const { row } = await storedCredential(test, credential.credentialId)
  t.same([row?.name, row?.description], ['From body', 'From query'])
  const jsonBody = await callLegacy(test, { ...update, name: 'JSON body' }, { encoding: 'json', query: 'name=Query&responsetype=nvp' })
  t.match(jsonBody.contentType, /^application\/json/)
  t.equal((await storedCredential(test, credential.credentialId)).row?.name, 'JSON body')
})

t.test('which credential: credentialId wins, clientIdentifier, clientApiIdentifier', async (t) => {
  const other = await createCredential(test, { name: 'Other' })
  const names = async () => [
    (await storedCredential(test, credential.credentialId)).row?.name,
    (await storedCredential(test, other.credentialId)).row?.name,
  ]
  const base = { action: 'UpdateOAuthCredential', responsetype: 'json' }
  const byBoth = await callLegacy(test, { ...base, credentialId: credential.credentialId, clientIdentifier: other.clientIdentifier, name: 'By id' })
  t.equal(byBoth.data.credentialId, String(credential.credentialId))
  t.same(await names(), ['By id', 'Other'], 'credentialId wins over clientIdentifier')

  for (const credentialId of [0, -3, 'abc', '']) {
    const answer = await callLegacy(test, { ...base, credentialId, clientIdentifier: other.clientIdentifier, name: `By identifier ${credentialId}` })
    t.equal(answer.data.credentialId, String(other.credentialId), `credentialId=${JSON.stringify(credentialId)} falls back to the identifier`)
  }
  const byAlias = await callLegacy(test, { ...base, clientApiIdentifier: other.clientIdentifier, name: 'By alias' })
  t.same(byAlias.data, { result: 'success', credentialId: String(other.credentialId) })
  t.same(await names(), ['By id', 'By alias'], 'the documented clientApiIdentifier works')
  const numericString = await callLegacy(test, { ...base, credentialId: ` ${other.credentialId}abc`, name: 'PHP int' })
  t.equal(numericString.data.credentialId, String(other.credentialId), 'credentialId is read like PHP (int)')
  const jsonNumber = await callLegacy(test, { ...base, credentialId: other.credentialId, name: 'JSON number' }, { encoding: 'json' })
  t.equal(jsonNumber.data.credentialId, String(other.credentialId))
})

t.test('resetSecret truth table', async (t) => {
  const cases: [unknown, boolean][] = [
    ['1', true], ['true', true], ['on', true], ['yes', true], ['TRUE', true], [' Yes ', true],
    [undefined, false], ['', false], ['0', false], ['false', false], ['off', false], ['no', false], ['FALSE', false],
  ]
  let secret = credential.clientSecret
  for (const [value, resets] of cases) {
    const answer = await callLegacy(test, { ...update, name: `reset ${String(value)}`, resetSecret: value })
    const label = `resetSecret=${JSON.stringify(value)}`
    t.equal(answer.data.result, 'success', label)
    const identifier = credential.clientIdentifier
    if (resets) {
      const fresh = answer.data.newClientSecret as string
      t.match(fresh, /^[A-Za-z0-9+/]{86}==$/, `${label} returns a new secret`)
      t.equal(await test.app.credentials.authenticate(identifier, secret), null, `${label}: the old secret stops working`)
      t.ok(await test.app.credentials.authenticate(identifier, fresh), `${label}: the new one works`)
      secret = fresh
    } else {
      t.notOk('newClientSecret' in answer.data, `${label} returns no secret`)
      t.ok(await test.app.credentials.authenticate(identifier, secret), `${label}: the secret keeps working`)
    }
  }
  for (const [value, resets] of [[true, true], [false, false], [1, true], [0, false]] as const) {
    const answer = await callLegacy(test, { ...update, resetSecret: value }, { encoding: 'json' })
    t.equal('newClientSecret' in answer.data, resets, `JSON ${String(value)}`)
    if (resets) secret = answer.data.newClientSecret as string
  }
  const unknown = await callLegacy(test, { ...update, name: 'not written', resetSecret: 'maybe' })
  t.same(unknown.data, { result: 'error', message: 'The resetSecret value "maybe" is invalid: use 1 or 0.' })
  t.ok(await test.app.credentials.authenticate(credential.clientIdentifier, secret), 'an unknown word resets nothing')
  t.not((await storedCredential(test, credential.credentialId)).row?.name, 'not written')
  const onlyReset = await callLegacy(test, { ...update, resetSecret: 1 })
  t.match(onlyReset.data.newClientSecret, /^[A-Za-z0-9+/]{86}==$/, 'a reset alone is a change')
})
