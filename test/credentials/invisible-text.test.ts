import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy } from '../helpers/legacy.js'
import { callRest, type Credential, type Problem } from '../helpers/rest.js'

// Characters that display as nothing, reorder text or break a line, and URIs whose host or user
// info reads other than it resolves: refused on every write, with the field's usual message.
const test = await buildTestApp(t)
const service = test.app.credentials
const actor = { actor: 'tester', source: 'rest' as const }
const valid = { grantType: 'authorization_code', name: 'Invisible', scopes: ['openid'] }
const { credential } = await service.create(valid, actor)
const reference = { credentialId: credential.credentialId }

const controlCharacters = (field: string) => `The ${field} must be a single line without control characters.`
const redirectUriInvalid = (uri: string) => `The requested redirect URI "${uri}" is invalid.`
const logoUriInvalid = (uri: string) => `The requested logo URI "${uri}" is invalid.`
const codePoint = (text: string) => `U+${(text.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}`

/** Refused the same way on create and on update, and nothing of it is stored. */
async function refusedOnWrite(t: Test, changes: Record<string, unknown>, message: string, what: string) {
  await t.rejects(service.create({ ...valid, ...changes }, actor), { message }, `${what} (create)`)
  await t.rejects(service.update(reference, changes, actor), { message }, `${what} (update)`)
}

const INVISIBLE: [string, string][] = [
  ['a left-to-right mark', '\u200E'],
  ['a right-to-left mark', '\u200F'],
  ['an Arabic letter mark', '\u061C'],
  ['a line separator', '\u2028'],
  ['a paragraph separator', '\u2029'],
  ['a soft hyphen', '\u00AD'],
  ['a combining grapheme joiner', '\u034F'],
  ['a Hangul filler', '\u3164'],
  ['a language tag', '\u{E0001}'],
  ['a tag letter', '\u{E0061}'],
  ['a cancel tag', '\u{E007F}'],
  ['an emoji presentation selector after a letter', 'a\uFE0F'],
  ['an emoji presentation selector after a digit, outside a keycap', '2\uFE0F'],
  ['a zero-width joiner between letters', 'a\u200Db'],
  ['a zero-width joiner after an emoji, before a letter', '👩\u200Db'],
]

t.test('names and descriptions with bidi marks, line separators or invisible characters are refused', async (t) => {
  for (const field of ['name', 'description'] as const) {
    for (const [what, character] of INVISIBLE) {
      await refusedOnWrite(t, { [field]: `look${character}alike` }, controlCharacters(field), `${field} with ${what} (${codePoint(character)})`)
    }
  }
  t.equal((await service.get(reference)).name, 'Invisible', 'nothing was written')
})

const LOOK_ALIKE_REDIRECT_URIS: [string, string][] = [
  ['a soft hyphen in the host', 'https://ap\u00ADple.com/cb'],
  ['a full-width dot in the host', 'https://EXAMPLE\uFF0Ecom/cb'],
  ['a Cyrillic a in the host', 'https://\u0430pple.com/cb'],
  ['a percent-encoded Cyrillic a in the host', 'https://%D0%B0pple.com/cb'],
  ['a percent-encoded full-width dot in the host', 'https://example%EF%BC%8Ecom/cb'],
  ['a non-ASCII host in a private-use URI', 'com.example.app://\u0430pp/cb'],
  ['a left-to-right mark in the path', 'https://app.example.com/c\u200Eb'],
  ['an Arabic letter mark in the query', 'https://app.example.com/cb?x=\u061C'],
  ['a combining grapheme joiner in the path', 'https://app.example.com/c\u034Fb'],
  ['a tag character in the path', 'https://app.example.com/cb\u{E0061}'],
  ['a line separator', 'https://app.example.com/cb\u2028'],
]

t.test('redirect URIs with a non-ASCII host or invisible characters are refused', async (t) => {
  for (const [what, uri] of LOOK_ALIKE_REDIRECT_URIS) {
    await refusedOnWrite(t, { redirectUris: ['https://ok.example.com/cb', uri] }, redirectUriInvalid(uri), what)
  }
  t.same((await service.get(reference)).redirectUris, [], 'nothing was written')
})

t.test('logo URIs with user info are refused, as redirect URIs are', async (t) => {
  const refused: [string, string][] = [
    ['a user and password', 'http://u:p@evil.com/x'],
    ['an empty user info', 'https://@evil.com/x'],
    ['an empty user info with a colon', 'https://:@evil.com/x'],
    ['a user info after a backslash', 'https:\\\\@evil.com/x'],
    ['a user info without slashes', 'http:u:p@evil.com/x'],
    ['a soft hyphen in the host', 'https://cdn.ex\u00ADample.com/logo.png'],
  ]
  for (const [what, logoUri] of refused) await refusedOnWrite(t, { logoUri }, logoUriInvalid(logoUri), what)
  t.equal((await service.get(reference)).logoUri, null, 'nothing was written')
})

t.test('ordinary text and an IDN host in punycode are still accepted', async (t) => {
  const names = ['Café Zürich — Ñandú', '東京の請求ポータル', '청구 포털', 'Billing 🔑🚀 portal', 'I ❤️ NY', 'Dev 👩‍💻 team', 'Ops 🏳️‍🌈 desk', 'Care 👩🏽‍💻 👨🏾‍⚕️ 🧑🏻‍❤️‍💋‍🧑🏼', 'Room 1️⃣', 'مدير الفواتير', 'Ελληνικά']
  for (const name of names) {
    const { credential: made } = await service.create({ ...valid, name, description: name }, actor)
    t.equal(made.name, name, `create: ${name}`)
    t.equal((await service.update(reference, { name, description: name }, actor)).credential.description, name, `update: ${name}`)
  }
  const redirectUris = [
    'https://xn--mnchen-3ya.de/cb',
    'https://XN--80AK6AA92E.com/callback',
    'https://app.example.com/caf\u00E9?q=\u6771\u4EAC',
    'https://app.example.com/oauth@cb',
    'com.example.app:/cb',
  ]
  t.same((await service.update(reference, { redirectUris }, actor)).credential.redirectUris, redirectUris, 'redirect URIs')
  const logoUri = 'https://xn--mnchen-3ya.de/logo@2x.png'
  t.equal((await service.update(reference, { logoUri }, actor)).credential.logoUri, logoUri, 'logo URI')
})

t.test('a value stored before these rules is not judged again when other fields change', async (t) => {
  const { credential: old } = await service.create({ ...valid, name: 'Old', redirectUris: ['https://old.example/cb'] }, actor)
  // As an earlier version stored them: a soft hyphen in the name, a host not in ASCII.
  const [name, uri] = ['Bil\u00ADling', 'https://bücher.example/cb']
  await test.sql('UPDATE credential SET name = $1 WHERE id = $2', [name, old.credentialId])
  await test.sql('UPDATE credential_redirect_uri SET uri = $1 WHERE credential_id = $2', [uri, old.credentialId])
  const at = { credentialId: old.credentialId }
  t.equal((await service.update(at, { description: 'still changeable' }, actor)).credential.name, name, 'another field changes')
  t.ok((await service.update(at, {}, actor, { resetSecret: true })).newClientSecret, 'and its secret can be reset')
  const more = [uri, 'https://new.example/cb']
  t.same((await service.update(at, { redirectUris: more }, actor)).credential.redirectUris, more, 'a URI it holds stays beside a new one')
  await t.rejects(service.update(at, { name: 'Bil\u00ADling 2' }, actor), { message: controlCharacters('name') }, 'a new value is judged')
  await t.rejects(service.update(at, { redirectUris: ['https://bücher2.example/cb'] }, actor), { message: redirectUriInvalid('https://bücher2.example/cb') })

  // Two URIs that a URL parser reads alike, stored before duplicates were compared so.
  const { credential: twice } = await service.create({ ...valid, redirectUris: ['https://dup.example/cb'] }, actor)
  await test.sql("INSERT INTO credential_redirect_uri (credential_id, position, uri) VALUES ($1, 1, 'HTTPS://DUP.EXAMPLE/cb')", [twice.credentialId])
  const both = ['https://dup.example/cb', 'HTTPS://DUP.EXAMPLE/cb']
  const atTwice = { credentialId: twice.credentialId }
  t.same((await service.update(atTwice, { description: 'still changeable' }, actor)).credential.redirectUris, both, 'both stay')
  await t.rejects(service.update(atTwice, { redirectUris: [...both, 'https://dup.example:443/cb'] }, actor), { message: redirectUriInvalid('https://dup.example:443/cb') }, 'a third is a new duplicate')
})

t.test('api.php answers with the same messages', async (t) => {
  const legacy = (fields: Record<string, unknown>) =>
    callLegacy(test, { action: 'UpdateOAuthCredential', credentialId: credential.credentialId, responsetype: 'json', ...fields })
  const create = (fields: Record<string, unknown>) =>
    callLegacy(test, { action: 'CreateOAuthCredential', grantType: 'authorization_code', name: 'New', scope: 'openid', responsetype: 'json', ...fields })
  const error = (message: string) => ({ result: 'error', message })
  t.same((await legacy({ name: 'look\u200Falike' })).data, error(controlCharacters('name')), 'a right-to-left mark in the name')
  t.same((await create({ description: 'two\u2028lines' })).data, error(controlCharacters('description')), 'a line separator in the description')
  for (const [what, uri] of LOOK_ALIKE_REDIRECT_URIS.slice(0, 3)) {
    t.same((await legacy({ redirectUri: [uri] })).data, error(redirectUriInvalid(uri)), `a redirect URI with ${what}`)
  }
  t.same((await create({ logoUri: 'http://u:p@evil.com/x' })).data, error(logoUriInvalid('http://u:p@evil.com/x')), 'a logo URI with user info')
  t.same((await legacy({ redirectUri: ['https://xn--mnchen-3ya.de/cb'] })).data, { result: 'success', credentialId: String(credential.credentialId) }, 'punycode')
})

t.test('the REST resource answers 400 with the same messages', async (t) => {
  const url = `/oauth/credentials/${credential.credentialId}`
  const body = { grantType: 'authorization_code', name: 'New', scope: 'openid' }
  const refused: [string, Record<string, unknown>, string, string][] = [
    ['POST', { ...body, name: 'tag\u{E0067}\u{E0062}' }, controlCharacters('name'), '/name'],
    ['PATCH', { description: 'soft\u00ADhyphen' }, controlCharacters('description'), '/description'],
    ['POST', { ...body, redirectUri: ['https://\u0430pple.com/cb'] }, redirectUriInvalid('https://\u0430pple.com/cb'), '/redirectUri'],
    ['PATCH', { logoUri: 'https://@evil.com/x' }, logoUriInvalid('https://@evil.com/x'), '/logoUri'],
  ]
  for (const [method, sent, message, pointer] of refused) {
    const answer = await callRest<Problem>(test, { method: method as 'POST' | 'PATCH', url: method === 'POST' ? '/oauth/credentials' : url, body: sent })
    t.equal(answer.status, 400, `${method} with a refused ${pointer.slice(1)}`)
    t.equal(answer.body.detail, message, message)
    t.same(answer.body.errors, [{ in: 'body', pointer, detail: message }], `pointer ${pointer}`)
  }
  const accepted = await callRest<Credential>(test, { method: 'PATCH', url, body: { name: '北京 ✨ Ünïcödé', redirectUri: ['https://xn--fiqs8s.example/cb'] } })
  t.equal(accepted.status, 200, 'CJK, emoji and a punycode host')
  t.match(accepted.body, { name: '北京 ✨ Ünïcödé', redirectUri: ['https://xn--fiqs8s.example/cb'] })
})
