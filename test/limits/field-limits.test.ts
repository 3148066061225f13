import t from 'tap'
import { LIMITS } from '../../src/credentials/rules.js'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy, createCredential } from '../helpers/legacy.js'
import { callRest, type Problem } from '../helpers/rest.js'

t.test('field lengths, list sizes and the body size are bounded, each with a clear answer', async (t) => {
  const test = await buildTestApp(t)
  const id = String((await createCredential(test)).credentialId)
  const update = (fields: Record<string, unknown>) =>
    callLegacy(test, { action: 'UpdateOAuthCredential', credentialId: id, responsetype: 'json', ...fields })
  const https = (length: number) => {
    const start = 'https://app.example.com/'
    return start + 'p'.repeat(length - start.length)
  }

  const cases: [string, Record<string, unknown>, string][] = [
    ['name', { name: 'n'.repeat(LIMITS.name + 1) }, 'The name must be at most 255 characters.'],
    ['description', { description: 'd'.repeat(LIMITS.description + 1) }, 'The description must be at most 255 characters.'],
    ['logoUri', { logoUri: https(LIMITS.logoUri + 1) }, `The requested logo URI "${https(LIMITS.logoUri + 1)}" is invalid.`],
    ['one redirect URI', { redirectUri: [https(LIMITS.redirectUri + 1)] }, `The requested redirect URI "${https(LIMITS.redirectUri + 1)}" is invalid.`],
    [
      'redirect URI count',
      { redirectUri: Array.from({ length: LIMITS.redirectUris + 1 }, (_, n) => `https://app.example.com/${n}`) },
      'The requested redirect URI "https://app.example.com/20" is invalid.',
    ],
    [
      'redirect URIs past the parser\'s array limit',
      { redirectUri: Array.from({ length: 60 }, (_, n) => `https://app.example.com/${n}`) },
      'The requested redirect URI "https://app.example.com/20" is invalid.',
    ],
    [
      'redirect URIs past the limit, an early one refused',
      { redirectUri: ['http://app.example.com/cb', ...Array.from({ length: LIMITS.redirectUris }, (_, n) => `https://app.example.com/${n}`)] },
      'The requested redirect URI "http://app.example.com/cb" is invalid.',
    ],
    [
      'a redirect URI too long after an early one refused',
      { redirectUri: ['http://app.example.com/cb', https(LIMITS.redirectUri + 1)] },
      'The requested redirect URI "http://app.example.com/cb" is invalid.',
    ],
    ['a service id below 1', { serviceId: -1 }, 'The requested service ID "-1" is invalid.'],
    ['a NUL character', { name: 'a\u0000b' }, 'The name must be a single line without control characters.'],
  ]
  for (const [what, fields, message] of cases) {
    const answer = await update(fields)
    t.same(answer.data, { result: 'error', message }, `${what}: one over the limit is refused`)
    // REST's schema states the limits too (for its document); it refuses in the same words.
    const patched = await callRest<Problem>(test, { method: 'PATCH', url: `/oauth/credentials/${id}`, body: fields })
    t.same([patched.status, patched.body.detail], [400, message], `${what}: REST says the same`)
  }

  const atLimits = await update({
    name: 'n'.repeat(LIMITS.name),
    description: 'd'.repeat(LIMITS.description),
    logoUri: https(LIMITS.logoUri),
    redirectUri: [https(LIMITS.redirectUri), ...Array.from({ length: LIMITS.redirectUris - 1 }, (_, n) => `https://app.example.com/${n}`)],
    // the catalogue bounds scopes: repeats collapse into one token each
    scope: Array.from({ length: 500 }, () => 'openid email').join(' '),
  })
  t.same(atLimits.data, { result: 'success', credentialId: id }, 'exactly at every limit is accepted')
  const stored = await test.app.credentials.get({ credentialId: Number(id) })
  t.equal(stored.name.length, LIMITS.name)
  t.equal(stored.redirectUris.length, LIMITS.redirectUris)
  t.same(stored.scopes, ['openid', 'email'])

  const oversized = await callLegacy(test, {
    action: 'UpdateOAuthCredential',
    credentialId: id,
    description: 'x'.repeat(70 * 1024),
    responsetype: 'json',
  })
  t.equal(oversized.status, 413, 'a body over 64 KiB is refused before it is parsed')
  t.same(oversized.data, { result: 'error', message: 'Request body is too large' })
  t.equal((await test.app.credentials.get({ credentialId: Number(id) })).version, stored.version, 'nothing written')
})
