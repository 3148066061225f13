import type { Static } from '@sinclair/typebox'
import type { Test } from 'tap'
import type { CreateCredentialBody, CredentialPatchBody } from '../../src/rest/schemas.js'
import { messages } from '../../src/credentials/errors.js'
import { assertMatchesContract } from './contract.js'

/** What a generated client's call gave back, as the scenario needs it. */
export interface Answer {
  status: number
  // The generated client's own type; the scenario checks the fields it uses.
  body: Record<string, unknown> | undefined
  /** The ETag header, where the client exposes the headers at all. */
  etag?: string | null
}

/** One generated client, its calls reduced to the scenario's steps. */
export interface SdkUnderTest {
  create(credential: Static<typeof CreateCredentialBody>): Promise<Answer>
  get(credentialId: number): Promise<Answer>
  update(credentialId: number, patch: Static<typeof CredentialPatchBody>, ifMatch: string): Promise<Answer>
  list(limit: number, cursor?: string): Promise<Answer>
  rotate(credentialId: number, graceSeconds: number): Promise<Answer>
  authenticate(clientIdentifier: string, clientSecret: string): Promise<Answer>
  events(credentialId: number): Promise<Answer>
  delete(credentialId: number): Promise<Answer>
}

export const SCENARIO_CREDENTIAL = {
  name: 'Billing portal',
  grantType: 'authorization_code',
  scope: 'clientarea:sso openid',
  redirectUri: ['https://portal.example.com/callback'],
} as const satisfies Static<typeof CreateCredentialBody>

/**
 * A fetch for generated clients: relative URLs go to the app at `base` (as they would from a
 * page it served), and every answer is held to the committed document.
 */
export function contractFetch(base: string): typeof fetch {
  const send = globalThis.fetch // the real one, even once this has replaced it
  return async (input, init) => {
    const request = new Request(typeof input === 'string' ? new URL(input, base) : input, init)
    const response = await send(request)
    const body = await response.clone().text()
    const header = (name: string) => response.headers.get(name) ?? undefined
    assertMatchesContract(request.method, request.url, response.status, header('content-type'), body, header)
    return response
  }
}

/**
 * The SDK consumer's scenario, one subtest per step: create, get with ETag, PATCH with If-Match,
 * stale 412, list with a cursor, rotate, authenticate, events, delete.
 */
export async function runScenario(t: Test, sdk: SdkUnderTest) {
  let credentialId = 0
  let clientIdentifier = ''
  let etag = ''

  await t.test('create', async (t) => {
    const created = await sdk.create(SCENARIO_CREDENTIAL)
    t.equal(created.status, 201)
    credentialId = Number(created.body?.credentialId)
    clientIdentifier = String(created.body?.clientIdentifier)
    t.equal(created.body?.grantType, 'authorization_code')
    t.match(created.body?.clientSecret, /^.{88}$/, 'the secret, shown once')
    t.equal(created.body?.etag, `"${credentialId}-1"`)
  })

  await t.test('get with ETag', async (t) => {
    const fetched = await sdk.get(credentialId)
    t.equal(fetched.status, 200)
    etag = String(fetched.body?.etag)
    t.equal(etag, `"${credentialId}-1"`, 'the body carries the ETag')
    if (fetched.etag !== undefined) t.equal(fetched.etag, etag, 'equal to the header')
    t.notOk(fetched.body && 'clientSecret' in fetched.body, 'never the secret again')
  })

  await t.test('PATCH with If-Match', async (t) => {
    const patched = await sdk.update(credentialId, { description: 'Changed through the SDK', logoUri: null }, etag)
    t.equal(patched.status, 200)
    t.match(patched.body, { description: 'Changed through the SDK', logoUri: null, name: SCENARIO_CREDENTIAL.name })
    t.equal(patched.body?.etag, `"${credentialId}-2"`)
  })

  await t.test('stale If-Match: 412, nothing written', async (t) => {
    const stale = await sdk.update(credentialId, { description: 'Lost update' }, etag)
    t.equal(stale.status, 412)
    t.equal(stale.body?.detail, messages.versionMismatch)
    t.equal((await sdk.get(credentialId)).body?.description, 'Changed through the SDK')
  })

  await t.test('list with a cursor', async (t) => {
    const second = await sdk.create({ ...SCENARIO_CREDENTIAL, name: 'Second portal' })
    t.equal(second.status, 201)
    const first = await sdk.list(1)
    t.equal(first.status, 200)
    const items = first.body?.items as { credentialId: number }[]
    t.same(items.map((item) => item.credentialId), [credentialId])
    t.type(first.body?.next, 'string', 'a cursor to the next page')
    const next = await sdk.list(1, String(first.body?.next))
    t.same((next.body?.items as { credentialId: number }[]).map((item) => item.credentialId), [second.body?.credentialId])
  })

  let newSecret = ''
  await t.test('rotate', async (t) => {
    const rotated = await sdk.rotate(credentialId, 300)
    t.equal(rotated.status, 200)
    newSecret = String(rotated.body?.clientSecret)
    t.equal(newSecret.length, 88)
    t.ok(rotated.body?.previousSecretExpiresAt, 'says when the old secret stops')
    t.equal(rotated.body?.etag, `"${credentialId}-3"`)
  })

  await t.test('authenticate', async (t) => {
    const checked = await sdk.authenticate(clientIdentifier, newSecret)
    t.equal(checked.status, 200)
    t.equal(checked.body?.credentialId, credentialId)
    t.equal((await sdk.authenticate(clientIdentifier, 'wrong')).status, 401)
  })

  await t.test('events', async (t) => {
    const trail = await sdk.events(credentialId)
    t.equal(trail.status, 200)
    t.same((trail.body?.items as { action: string }[]).map((event) => event.action), ['rotate_secret', 'update', 'create'])
  })

  await t.test('delete', async (t) => {
    t.equal((await sdk.delete(credentialId)).status, 204)
    const gone = await sdk.get(credentialId)
    t.equal(gone.status, 404)
    t.equal(gone.body?.detail, messages.credentialIdInvalid)
  })
}
