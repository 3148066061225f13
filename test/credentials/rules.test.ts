import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy, createCredential, storedCredential } from '../helpers/legacy.js'

// SPEC §2: the rules every write of a credential obeys, as a caller of api.php meets them.
const test = await buildTestApp(t)
const credential = await createCredential(test, { name: 'Rules' })
const update = (fields: Record<string, unknown>) =>
  callLegacy(test, { action: 'UpdateOAuthCredential', credentialId: credential.credentialId, responsetype: 'json', ...fields })
const create = (fields: Record<string, unknown>) =>
  callLegacy(test, { action: 'CreateOAuthCredential', grantType: 'authorization_code', name: 'New', scope: 'openid', responsetype: 'json', ...fields })
const refusedUri = (uri: string) => ({ result: 'error', message: `The requested redirect URI "${uri}" is invalid.` })
const ok = { result: 'success', credentialId: String(credential.credentialId) }

t.test('redirect URIs that are accepted', async (t) => {
  const accepted = [
    'https://app.example.com/cb',
    'https://app.example.com:8443/oauth/callback?tenant=7&x=%20y',
    'HTTPS://APP.EXAMPLE.COM/upper',
    'http://127.0.0.1/cb',
    'http://127.0.0.1:51000/cb',
    'http://[::1]:8080/cb',
    'http://[::1]',
    'https://192.0.2.10/cb',
    'https://[2001:db8::1]:8443/cb',
    'https://app.example.com./cb',
    'com.example.app:/oauth2redirect',
    'com.example.app:/cb',
    'https://app.example.com/' + 'p'.repeat(2000 - 'https://app.example.com/'.length),
  ]
  for (const uri of accepted) {
    t.same((await update({ redirectUri: [uri] })).data, ok, uri.slice(0, 80))
    t.same((await storedCredential(test, credential.credentialId)).redirectUris, [uri], 'stored as sent')
  }
  const twenty = Array.from({ length: 20 }, (_, index) => `https://app.example.com/cb/${index}`)
  t.same((await update({ redirectUri: twenty })).data, ok, 'twenty URIs')
  t.same((await storedCredential(test, credential.credentialId)).redirectUris, twenty, 'in the order sent')
})

t.test('redirect URIs that are refused, with the exact message', async (t) => {
  const refused: [string, string][] = [
    ['plain http', 'http://app.example.com/cb'],
    ['http on localhost (a name, not a loopback literal)', 'http://localhost:8080/cb'],
    ['http on another loopback address', 'http://127.0.0.2/cb'],
    ['http on a disguised loopback address', 'http://0x7f.1/cb'],
    ...['https://0x7f000001/cb', 'https://127.1/cb', 'https://0177.0.0.1/cb', 'https://[::ffff:7f00:1]/cb', 'https://[::FFFF:127.0.0.1]/cb', 'https://[2001:db8:0:0::1]/cb'].map(
      (uri): [string, string] => ['https on an address written otherwise than URL parsing reads it', uri],
    ),
    ['a fragment', 'https://app.example.com/cb#state'],
    ['a bare #', 'https://app.example.com/cb#'],
    ['javascript:', 'javascript:alert(1)'],
    ['data:', 'data:text/html,<script>alert(1)</script>'],
    ['vbscript:', 'vbscript:msgbox(1)'],
    ['blob:', 'blob:https://app.example.com/1'],
    ['file:', 'file:///etc/passwd'],
    ['about:', 'about:blank'],
    ['a wildcard host', 'https://*.example.com/cb'],
    ['a wildcard path', 'https://app.example.com/*'],
    ['a relative path', '/oauth/callback'],
    ['no scheme', 'app.example.com/cb'],
    ['scheme-relative', '//app.example.com/cb'],
    ['a private-use scheme without a dot', 'myapp:/cb'],
    ['a private-use scheme with nothing after it', 'com.example.app:'],
    ['user info', 'https://user:pass@app.example.com/cb'],
    ['no host', 'https:///cb'],
    ['a backslash', 'https://app.example.com\\@evil.example/cb'],
    ['a control character', 'https://app.example.com/c\u0001b'],
    ['an empty user info', 'https://@app.example.com/cb'],
    ['an empty user info with a colon', 'https://:@app.example.com/cb'],
    ['a bidi override', 'https://app.example.com/\u202Ebc/cb'],
    ['a bidi isolate', 'https://app.example.com/\u2067cb'],
    ['a zero-width space in the host', 'https://app\u200B.example.com/cb'],
    ['a word joiner', 'https://app.example.com/c\u2060b'],
    ['a byte order mark', '\uFEFFhttps://app.example.com/cb'],
    ['over 2000 characters', 'https://app.example.com/' + 'p'.repeat(2001 - 'https://app.example.com/'.length)],
  ]
  await update({ redirectUri: ['https://kept.example.com/cb'] })
  for (const [rule, uri] of refused) {
    t.same((await update({ redirectUri: ['https://ok.example.com/cb', uri] })).data, refusedUri(uri), rule)
    t.same((await create({ redirectUri: uri })).data.message, refusedUri(uri).message, `${rule} (create)`)
  }
  const duplicate = 'https://app.example.com/cb'
  t.same((await update({ redirectUri: [duplicate, 'https://b.example.com/', duplicate] })).data, refusedUri(duplicate), 'duplicates')
  // The same URI written another way is a duplicate too: scheme and host have no case, and a
  // browser resolves dot segments before it goes there.
  for (const same of ['HTTPS://APP.EXAMPLE.COM/cb', 'https://app.example.com/x/../cb', 'https://app.example.com:443/cb']) {
    t.same((await update({ redirectUri: [duplicate, same] })).data, refusedUri(same), `duplicates: ${same}`)
  }
  const many = Array.from({ length: 21 }, (_, index) => `https://app.example.com/cb/${index}`)
  t.same((await update({ redirectUri: many })).data, refusedUri(many[20] as string), 'more than 20 names the first extra one')
  t.same((await storedCredential(test, credential.credentialId)).redirectUris, ['https://kept.example.com/cb'], 'none was written')
  t.equal((await update({ redirectUri: [duplicate, 'https://app.example.com/CB'] })).data.result, 'success', 'a path keeps its case')
})

t.test('logo URI: an absolute http(s) URL of at most 255 characters, or empty', async (t) => {
  for (const logoUri of ['https://cdn.example.com/logo.png', 'http://cdn.example.com/logo.png?v=2', 'https://c.example/' + 'l'.repeat(255 - 18)]) {
    t.same((await update({ logoUri })).data, ok, logoUri.slice(0, 60))
    t.equal((await storedCredential(test, credential.credentialId)).row?.logo_uri, logoUri)
  }
  const refused = ['https://cdn.example.com/\u202Egnp.logo', 'https://cdn\u200D.example.com/logo.png', 'logo.png', '/img/logo.png', 'ftp://cdn.example.com/logo.png', 'javascript:alert(1)', 'https://cdn.example.com/a logo.png', 'https://c.example/' + 'l'.repeat(256 - 18)]
  for (const logoUri of refused) {
    t.same((await update({ logoUri })).data, { result: 'error', message: `The requested logo URI "${logoUri}" is invalid.` }, logoUri.slice(0, 60))
  }
  t.same((await update({ logoUri: '' })).data, ok)
  t.equal((await storedCredential(test, credential.credentialId)).row?.logo_uri, null, 'an empty logoUri clears it')
})

t.test('name and description: at most 255 characters, one line', async (t) => {
  for (const field of ['name', 'description']) {
    const longest = 'n'.repeat(255)
    t.same((await update({ [field]: longest })).data, ok, `${field}: 255 characters`)
    const emoji = '🔑'.repeat(255)
    t.same((await update({ [field]: emoji })).data, ok, `${field}: 255 characters outside the BMP count as 255`)
    t.equal((await storedCredential(test, credential.credentialId)).row?.[field], emoji)
    t.same((await update({ [field]: longest + 'n' })).data, { result: 'error', message: `The ${field} must be at most 255 characters.` })
    for (const control of ['\t', '\n', '\r', '\u0000', '\u001b', '\u007f', '\u0085']) {
      const answer = await update({ [field]: `two${control}lines` })
      t.same(answer.data, { result: 'error', message: `The ${field} must be a single line without control characters.` }, `${field} with U+${control.charCodeAt(0).toString(16).padStart(4, '0')}`)
    }
    // Look-alike text: bidi controls and zero-width characters display other than they read.
    for (const hidden of ['\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069', '\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF']) {
      const answer = await update({ [field]: `look${hidden}alike` })
      t.same(answer.data, { result: 'error', message: `The ${field} must be a single line without control characters.` }, `${field} with U+${hidden.charCodeAt(0).toString(16)}`)
      t.same((await create({ [field]: `look${hidden}alike` })).data.message, answer.data.message, `${field} with U+${hidden.charCodeAt(0).toString(16)} (create)`)
    }
    t.same((await update({ [field]: 'Ünïcödé — ok <&> "quotes"' })).data, ok, `${field}: other text is fine`)
  }
})

t.test('the scope catalogue', async (t) => {
  const catalogue = [
    'clientarea:sso', 'clientarea:profile', 'clientarea:billing_info', 'clientarea:emails',
    'clientarea:announcements', 'clientarea:downloads', 'clientarea:knowledgebase', 'clientarea:network_status',
    'clientarea:services', 'clientarea:product_details', 'clientarea:domains', 'clientarea:domain_details',
    'clientarea:invoices', 'clientarea:tickets', 'clientarea:submit_ticket', 'clientarea:shopping_cart',
    'clientarea:shopping_cart_addons', 'clientarea:shopping_cart_domain_register',
    'clientarea:shopping_cart_domain_transfer', 'clientarea:upgrade', 'openid', 'email', 'profile',
  ]
  t.same((await update({ scope: catalogue.join(' ') })).data, ok, 'every scope of the catalogue')
  t.same((await storedCredential(test, credential.credentialId)).scopes, catalogue)
  const rows = await test.sql<{ name: string }>('SELECT name FROM scope ORDER BY name')
  t.same(rows.map((row) => row.name), catalogue.slice().sort(), 'the catalogue is exactly the seeded one')
  for (const scope of ['admin', 'OpenID', 'clientarea:*', 'openid,email']) {
    t.same((await update({ scope: `openid ${scope}` })).data, { result: 'error', message: `The requested scope "${scope}" is invalid.` })
  }
  for (const scope of ['', '   ']) {
    t.same((await update({ scope })).data, { result: 'error', message: 'At least one valid scope is required.' }, JSON.stringify(scope))
  }
})

t.test('service ID', async (t) => {
  const sso = { grantType: 'single_sign_on', scope: 'clientarea:sso', name: '' }
  t.same((await create(sso)).data.message, 'A service ID is required for the single sign-on grant type.')
  t.same((await create({ ...sso, serviceId: 0 })).data.message, 'A service ID is required for the single sign-on grant type.', '0 is none')
  t.same((await create({ ...sso, serviceId: 'abc' })).data.message, 'A service ID is required for the single sign-on grant type.', 'read like PHP (int)')
  for (const serviceId of ['-1', '2147483648']) {
    t.same((await create({ ...sso, serviceId })).data.message, `The requested service ID "${serviceId}" is invalid.`)
  }
  const made = await create({ ...sso, serviceId: '2147483647' })
  t.equal(made.data.result, 'success', 'single sign-on needs no name')
  const { row } = await storedCredential(test, Number(made.data.credentialId))
  t.same([row?.grant_type, row?.service_id, row?.name], ['single_sign_on', 2147483647, ''])
})
