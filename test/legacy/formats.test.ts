import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy, createCredential } from '../helpers/legacy.js'

// SPEC §4: json, xml and nvp say the same thing; xml and nvp are parsed back, not string-matched.
const test = await buildTestApp(t)
const tricky = {
  name: `Tom & Jerry <b>"quoted"</b> 'n' ]]> end`,
  description: 'semi;colon=equals%percent;',
  redirectUri: ['https://a.example.com/cb?x=1&y=2;z', 'com.example.app:/cb'],
  logoUri: 'https://cdn.example.com/logo.png?a=1&b=2',
}
const credential = await createCredential(test, { ...tricky, scope: 'openid email' })
await createCredential(test, { grantType: 'single_sign_on', serviceId: 9, name: '', scope: 'clientarea:sso' })

/** The JSON answer with every value a string, as XML carries it. */
function asStrings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asStrings)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, asStrings(item)]))
  }
  return String(value)
}

/** The JSON answer as NVP pairs: nested keys written `clients[0][name]`, every value a string. */
function asPairs(value: unknown, prefix = '', pairs: Record<string, string> = {}): Record<string, string> {
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) asPairs(item, prefix === '' ? key : `${prefix}[${key}]`, pairs)
  } else {
    pairs[prefix] = String(value)
  }
  return pairs
}

async function inEveryFormat(form: Record<string, unknown>) {
  const [json, xml, nvp] = [
    await callLegacy(test, { ...form, responsetype: 'json' }),
    await callLegacy(test, { ...form, responsetype: 'xml' }),
    await callLegacy(test, form),
  ]
  return { json, xml, nvp }
}

t.test('the same answer in json, xml and nvp', async (t) => {
  const requests = [
    { action: 'ListOAuthCredentials' },
    { action: 'ListOAuthCredentials', grantType: 'single_sign_on' },
    { action: 'ListOAuthCredentials', grantType: 'authorization_code', sortOrder: 'DESC' },
    { action: 'UpdateOAuthCredential', credentialId: credential.credentialId, name: tricky.name },
    { action: 'UpdateOAuthCredential', credentialId: credential.credentialId, scope: 'openid nope' },
    { action: 'DeleteOAuthCredential', credentialId: 999 },
    { action: 'NoSuchAction' },
  ]
  for (const form of requests) {
    const { json, xml, nvp } = await inEveryFormat(form)
    const label = JSON.stringify(form)
    t.same([json.status, xml.status, nvp.status], [200, 200, 200], label)
    t.same(
      [json.contentType, xml.contentType, nvp.contentType],
      ['application/json; charset=utf-8', 'application/xml; charset=utf-8', 'text/plain; charset=utf-8'],
    )
    const { '@version': version, action, ...xmlFields } = xml.data
    t.equal(version, '8.13.0')
    t.equal(action, form.action.toLowerCase(), 'xml names the action in lower case')
    t.same(xmlFields, asStrings(json.data), `xml = json: ${label}`)
    t.same(nvp.data, asPairs(json.data), `nvp = json: ${label}`)
  }
})

t.test('text needing escaping: CDATA in xml, percent-encoding in nvp', async (t) => {
  const { json, xml, nvp } = await inEveryFormat({ action: 'ListOAuthCredentials', grantType: 'authorization_code' })
  const [client] = json.data.clients as Record<string, unknown>[]
  t.same(
    [client?.name, client?.description, client?.redirectUri, client?.logoUri],
    [tricky.name, tricky.description, tricky.redirectUri, tricky.logoUri],
    'json carries the values as stored',
  )
  t.ok(xml.body.startsWith('<?xml version="1.0" encoding="utf-8"?>\n<whmcsapi version="8.13.0"><action>listoauthcredentials</action>'))
  t.match(xml.body, '<name><![CDATA[Tom & Jerry <b>"quoted"</b> \'n\' ]]]]><![CDATA[> end]]></name>', 'the name in CDATA, "]]>" split')
  t.match(xml.body, '<description>semi;colon=equals%percent;</description>', 'plain text stays plain')
  t.equal(((xml.data.clients as Record<string, unknown>[])[0] as Record<string, unknown>).name, tricky.name, 'read back exactly')
  t.match(nvp.body, ';clients[0][description]=semi%3Bcolon=equals%25percent%3B;', 'nvp encodes ";" and "%"')
  t.equal(nvp.data['clients[0][description]'], tricky.description)
  t.equal(nvp.data['clients[0][redirectUri][0]'], tricky.redirectUri[0])
})

t.test('secrets read from xml and nvp answers work', async (t) => {
  for (const responsetype of ['xml', 'nvp']) {
    const created = await callLegacy(test, { action: 'CreateOAuthCredential', grantType: 'authorization_code', name: 'Fmt', scope: 'openid', responsetype })
    t.same(Object.keys(created.data).filter((key) => !key.startsWith('@') && key !== 'action'), ['result', 'credentialId', 'clientIdentifier', 'clientSecret'])
    t.match(created.data.clientIdentifier, /^TEST\.[A-Za-z0-9+/]{22}==$/)
    const identifier = String(created.data.clientIdentifier)
    t.ok(await test.app.credentials.authenticate(identifier, String(created.data.clientSecret)), `${responsetype}: the secret works`)
    const reset = await callLegacy(test, { action: 'UpdateOAuthCredential', clientIdentifier: identifier, resetSecret: 'yes', responsetype })
    t.equal(reset.data.credentialId, created.data.credentialId)
    t.ok(await test.app.credentials.authenticate(identifier, String(reset.data.newClientSecret)), `${responsetype}: the new secret works`)
  }
})
