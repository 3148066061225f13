import createClient, { type Middleware } from 'openapi-fetch'
import t from 'tap'
import type { paths } from '../../sdk/generated/schema.js'
import { buildTestApp } from '../helpers/app.js'
import { assertMatchesContract } from '../helpers/contract.js'
import { basic, newCredential } from '../helpers/rest.js'

t.test('the generated SDK drives a credential through its life against a listening app', async (t) => {
  const test = await buildTestApp(t)
  const address = await test.app.listen({ port: 0, host: '127.0.0.1' })

  // Every answer the SDK sees is held to the contract too.
  const contract: Middleware = {
    async onResponse({ request, response }) {
      const body = await response.clone().text()
      const header = (name: string) => response.headers.get(name) ?? undefined
      assertMatchesContract(request.method, request.url, response.status, header('content-type'), body, header)
    },
  }
  const client = createClient<paths>({ baseUrl: address, headers: { authorization: basic(test.admin) } })
  client.use(contract)

  const created = await client.POST('/oauth/credentials', { body: newCredential })
  t.equal(created.response.status, 201)
  if (!created.data) throw new Error('create failed')
  const { credentialId, clientIdentifier, clientSecret: firstSecret } = created.data
  const path = { credentialId }
  t.equal(created.response.headers.get('location'), `/oauth/credentials/${credentialId}`)

  const fetched = await client.GET('/oauth/credentials/{credentialId}', { params: { path } })
  t.equal(fetched.data?.name, newCredential.name)
  const etag = fetched.response.headers.get('etag') ?? ''
  t.equal(etag, `"${credentialId}-1"`)

  const patched = await client.PATCH('/oauth/credentials/{credentialId}', {
    params: { path, header: { 'If-Match': etag } },
    body: { description: 'Changed through the SDK', logoUri: null },
    headers: { 'content-type': 'application/merge-patch+json' },
  })
  t.equal(patched.response.status, 200)
  t.equal(patched.data?.description, 'Changed through the SDK')
  t.equal(patched.data?.logoUri, null)
  t.equal(patched.data?.name, newCredential.name, 'absent fields keep their values')

  const stale = await client.PATCH('/oauth/credentials/{credentialId}', {
    params: { path, header: { 'If-Match': etag } },
    body: { description: 'Lost update' },
  })
  t.equal(stale.response.status, 412)
  t.equal(stale.error?.detail, 'The credential has changed since it was read.')
  const afterStale = await client.GET('/oauth/credentials/{credentialId}', { params: { path } })
  t.equal(afterStale.data?.description, 'Changed through the SDK', 'the stale change was not written')

  const rotated = await client.POST('/oauth/credentials/{credentialId}/secret', {
    params: { path },
    body: { graceSeconds: 300 },
  })
  t.equal(rotated.response.status, 200)
  const newSecret = rotated.data?.clientSecret ?? ''
  t.ok(rotated.data?.previousSecretExpiresAt, 'says when the old secret stops')

  for (const [label, clientSecret] of [['old secret, in grace', firstSecret], ['new secret', newSecret]] as const) {
    const checked = await client.POST('/oauth/credentials/authenticate', { body: { clientIdentifier, clientSecret } })
    t.equal(checked.response.status, 200, label)
    t.equal(checked.data?.credentialId, credentialId)
  }
  const wrong = await client.POST('/oauth/credentials/authenticate', { body: { clientIdentifier, clientSecret: 'wrong' } })
  t.equal(wrong.response.status, 401)

  // No grace period: an empty body, which the SDK's types must allow (npm run typecheck).
  const revoked = await client.POST('/oauth/credentials/{credentialId}/secret', { params: { path }, body: {} })
  t.equal(revoked.data?.previousSecretExpiresAt, null)
  const withOld = await client.POST('/oauth/credentials/authenticate', { body: { clientIdentifier, clientSecret: newSecret } })
  t.equal(withOld.response.status, 401, 'the secret before it stops at once')

  const deleted = await client.DELETE('/oauth/credentials/{credentialId}', { params: { path } })
  t.equal(deleted.response.status, 204)
  const gone = await client.GET('/oauth/credentials/{credentialId}', { params: { path } })
  t.equal(gone.response.status, 404)
  t.equal(gone.error?.detail, 'Invalid Credential ID provided.')
  const trail = await client.GET('/oauth/credentials/{credentialId}/events', { params: { path } })
  t.same(trail.data?.items.map((event) => event.action), ['delete', 'rotate_secret', 'rotate_secret', 'update', 'create'])
})
