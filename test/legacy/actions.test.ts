import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy, createCredential, storedCredential } from '../helpers/legacy.js'

// SPEC §3: CreateOAuthCredential, UpdateOAuthCredential, ListOAuthCredentials and
// DeleteOAuthCredential, their answers and every message they give.
const test = await buildTestApp(t)
const call = (form: Record<string, unknown>) => callLegacy(test, { responsetype: 'json', ...form })
const error = (message: string) => ({ result: 'error', message })

t.test('CreateOAuthCredential', async (t) => {
  const create = (fields: Record<string, unknown>) => call({ action: 'CreateOAuthCredential', ...fields })
  t.same((await create({ name: 'x', scope: 'openid' })).data, error('A valid grant type is required.'))
  t.same((await create({ grantType: 'implicit', name: 'x', scope: 'openid' })).data, error('The requested grant type "implicit" is invalid.'))
  t.same((await create({ grantType: 'authorization_code', scope: 'openid' })).data, error('A name for the Client Credential is required.'))
  t.same((await create({ grantType: 'authorization_code', name: '  ', scope: 'openid' })).data, error('A name for the Client Credential is required.'), 'a blank name')
  t.same((await create({ grantType: 'authorization_code', name: 'x' })).data, error('At least one valid scope is required.'))
  t.same((await create({ grantType: 'authorization_code', name: 'x', scope: 'openid admin' })).data, error('The requested scope "admin" is invalid.'))
  t.same((await create({ grantType: 'single_sign_on', scope: 'clientarea:sso' })).data, error('A service ID is required for the single sign-on grant type.'))
  t.same(await test.sql('SELECT id FROM credential'), [], 'no refused create wrote a row')

  const created = await create({
    grantType: 'authorization_code',
    name: 'Portal',
    description: 'Customer portal',
    scope: 'openid email',
    serviceId: '12',
    logoUri: 'https://cdn.example.com/portal.png',
    redirectUri: ['https://portal.example.com/cb'],
  })
  t.same(Object.keys(created.data), ['result', 'credentialId', 'clientIdentifier', 'clientSecret'])
  t.same([created.data.result, created.data.credentialId], ['success', '1'], 'credentialId is a string')
  t.match(created.data.clientIdentifier, /^TEST\.[A-Za-z0-9+/]{22}==$/, 'the configured prefix, then 16 random bytes')
  t.match(created.data.clientSecret, /^[A-Za-z0-9+/]{86}==$/, '64 random bytes')
  const stored = await storedCredential(test, 1)
  t.same(
    [stored.row?.name, stored.row?.description, stored.row?.grant_type, stored.row?.service_id, stored.row?.logo_uri, stored.scopes, stored.redirectUris],
    ['Portal', 'Customer portal', 'authorization_code', 12, 'https://cdn.example.com/portal.png', ['openid', 'email'], ['https://portal.example.com/cb']],
  )
  const second = await createCredential(test)
  t.not(second.clientIdentifier, created.data.clientIdentifier)
  t.not(second.clientSecret, created.data.clientSecret)
})

t.test('UpdateOAuthCredential', async (t) => {
  const target = await createCredential(test, { name: 'Target', scope: 'openid', redirectUri: ['https://t.example.com/cb'] })
  const update = (fields: Record<string, unknown>) => call({ action: 'UpdateOAuthCredential', ...fields })
  const byId = { credentialId: target.credentialId }
  t.same((await update({ name: 'x' })).data, error('A Credential ID or Client Identifier is required.'))
  t.same((await update({ credentialId: 0, clientIdentifier: '' })).data, error('A Credential ID or Client Identifier is required.'))
  t.same((await update({ credentialId: 9999, name: 'x' })).data, error('Invalid Credential ID provided.'))
  t.same((await update({ credentialId: '99999999999', name: 'x' })).data, error('Invalid Credential ID provided.'), 'beyond any id')
  t.same((await update({ clientIdentifier: 'TEST.nope', name: 'x' })).data, error('Invalid Client Identifier provided.'))
  t.same((await update({ clientApiIdentifier: 'TEST.nope', name: 'x' })).data, error('Invalid Client Identifier provided.'))
  t.same((await update({ ...byId, grantType: 'password' })).data, error('The requested grant type "password" is invalid.'))
  t.same((await update({ ...byId, grantType: '' })).data, error('A valid grant type is required.'))
  t.same((await update({ ...byId, name: '' })).data, error('A name for the Client Credential is required.'))
  t.same((await update({ ...byId, grantType: 'single_sign_on' })).data, error('A service ID is required for the single sign-on grant type.'))
  t.same((await update({ ...byId, scope: 'email nope' })).data, error('The requested scope "nope" is invalid.'))
  t.same((await update({ ...byId, scope: '' })).data, error('At least one valid scope is required.'))

  const renamed = await update({ ...byId, description: 'Only this' })
  t.same(renamed.data, { result: 'success', credentialId: String(target.credentialId) })
  const stored = await storedCredential(test, target.credentialId)
  t.same(
    [stored.row?.name, stored.row?.description, stored.scopes, stored.redirectUris],
    ['Target', 'Only this', ['openid'], ['https://t.example.com/cb']],
    'fields left out keep their values',
  )
  const sso = await update({ ...byId, grantType: 'single_sign_on', serviceId: 5, name: '' })
  t.equal(sso.data.result, 'success', 'validated as it would be after the update: a service ID makes single sign-on valid')
  const back = await update({ ...byId, grantType: 'authorization_code', name: 'Back', serviceId: '' })
  t.equal(back.data.result, 'success')
  t.same([(await storedCredential(test, target.credentialId)).row?.service_id], [null], 'an empty serviceId clears it')
})

t.test('ListOAuthCredentials', async (t) => {
  await test.sql('DELETE FROM credential')
  const alpha = await createCredential(test, { name: 'alpha', description: 'zz', redirectUri: ['https://a.example.com/1', 'https://a.example.com/2'] })
  const sso = await createCredential(test, { grantType: 'single_sign_on', serviceId: 3, name: 'charlie', scope: 'clientarea:sso openid' })
  const bravo = await createCredential(test, { name: 'bravo', description: 'aa', logoUri: 'https://cdn.example.com/b.png' })
  const list = async (fields: Record<string, unknown> = {}) => (await call({ action: 'ListOAuthCredentials', ...fields })).data
  const ids = async (fields: Record<string, unknown> = {}) => ((await list(fields)).clients as { credentialId: number }[]).map((client) => client.credentialId)

  const all = await list()
  t.same(Object.keys(all), ['result', 'clients'])
  const clients = all.clients as Record<string, unknown>[]
  t.same(clients.map((client) => client.credentialId), [alpha.credentialId, sso.credentialId, bravo.credentialId], 'by id by default; ids are numbers')
  t.same(Object.keys(clients[0] ?? {}), [
    'credentialId', 'name', 'description', 'grantTypes', 'scope', 'clientIdentifier', 'serviceId', 'logoUri', 'redirectUri', 'createdAt', 'updatedAt',
  ])
  t.match(clients[1], {
    credentialId: sso.credentialId,
    name: 'charlie',
    grantTypes: 'single_sign_on',
    scope: 'clientarea:sso openid',
    clientIdentifier: sso.clientIdentifier,
    serviceId: 3,
    logoUri: '',
    redirectUri: [],
    createdAt: /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/,
    updatedAt: /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/,
  })
  t.same([clients[0]?.redirectUri, clients[0]?.serviceId, clients[2]?.logoUri], [['https://a.example.com/1', 'https://a.example.com/2'], 0, 'https://cdn.example.com/b.png'])
  const text = JSON.stringify(all)
  t.notMatch(text, /secret/i, 'no secret, no secret field')
  for (const made of [alpha, sso, bravo]) t.notOk(text.includes(made.clientSecret))

  t.same(await ids({ grantType: 'single_sign_on' }), [sso.credentialId])
  t.same(await ids({ grantType: 'authorization_code' }), [alpha.credentialId, bravo.credentialId])
  t.same(await list({ grantType: 'client_credentials' }), error('The requested grant type "client_credentials" is invalid.'))
  t.same(await ids({ sortField: 'name' }), [alpha.credentialId, bravo.credentialId, sso.credentialId])
  t.same(await ids({ sortField: 'name', sortOrder: 'DESC' }), [sso.credentialId, bravo.credentialId, alpha.credentialId])
  t.same(await ids({ sortField: 'description', sortOrder: 'asc' }), [sso.credentialId, bravo.credentialId, alpha.credentialId])
  t.same(await ids({ sortField: 'credentialId', sortOrder: 'DESC' }), [bravo.credentialId, sso.credentialId, alpha.credentialId])
  t.same(await ids({ sortField: 'service_id', sortOrder: 'desc' }), [sso.credentialId, bravo.credentialId, alpha.credentialId], 'no service ID sorts as the lowest, like the original 0')
  t.same(await ids({ sortField: 'serviceId' }), [alpha.credentialId, bravo.credentialId, sso.credentialId], 'ascending: none first')
  for (const sortField of ['createdAt', 'updated_at', 'clientIdentifier', 'grantType']) {
    t.equal((await ids({ sortField })).length, 3, `sortField=${sortField}`)
  }
  for (const sortField of ['secret_hash', 'secretHash', 'id; DROP TABLE credential']) {
    t.same(await list({ sortField }), error(`The requested sort field "${sortField}" is invalid.`))
  }
  t.same(await list({ sortOrder: 'sideways' }), error('The requested sort order "sideways" is invalid.'))
  t.same(await ids({ limit: 2 }), [alpha.credentialId, sso.credentialId])
  t.same(await ids({ limit: 1, sortOrder: 'DESC' }), [bravo.credentialId])
  t.same(await ids({ limit: '0' }), [alpha.credentialId, sso.credentialId, bravo.credentialId], 'limit 0 means the default')
  t.same(await ids({ limit: '-4' }), [alpha.credentialId], 'a negative limit is at least one')
})

t.test('DeleteOAuthCredential', async (t) => {
  const doomed = await createCredential(test, { name: 'Doomed' })
  const remove = (fields: Record<string, unknown>) => call({ action: 'DeleteOAuthCredential', ...fields })
  for (const credentialId of [undefined, '', '0', 'abc', -1, 99999, '99999999999']) {
    t.same((await remove({ credentialId })).data, error('Invalid Credential ID provided.'), `credentialId=${JSON.stringify(credentialId)}`)
  }
  t.same((await remove({ clientIdentifier: doomed.clientIdentifier })).data, error('Invalid Credential ID provided.'), 'only credentialId names it')
  const deleted = await remove({ credentialId: doomed.credentialId })
  t.same(deleted.data, { result: 'success', credentialId: String(doomed.credentialId) })
  const stored = await storedCredential(test, doomed.credentialId)
  t.same([stored.row, stored.scopes, stored.redirectUris], [undefined, [], []], 'the row and its children are gone')
  t.same(stored.audit.map((event) => event.action), ['create', 'delete'], 'the audit trail outlives it')
  t.equal(await test.app.credentials.authenticate(doomed.clientIdentifier, doomed.clientSecret), null, 'its secret stops working')
  t.same((await remove({ credentialId: doomed.credentialId })).data, error('Invalid Credential ID provided.'), 'a second delete')
  t.same((await call({ action: 'UpdateOAuthCredential', credentialId: doomed.credentialId, name: 'x' })).data, error('Invalid Credential ID provided.'))
})
