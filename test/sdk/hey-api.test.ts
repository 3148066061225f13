import t from 'tap'
import { createClient } from '../../sdk/hey-api/client/index.js'
import {
  authenticateClient,
  createCredential,
  deleteCredential,
  getCredential,
  listCredentialEvents,
  listCredentials,
  rotateCredentialSecret,
  updateCredential,
  type CredentialPatch,
  type GrantType,
  type NewCredential,
} from '../../sdk/hey-api/index.js'
import { buildTestApp } from '../helpers/app.js'
import { contractFetch, runScenario, type Answer } from '../helpers/sdk-scenario.js'

/** What a hey-api call gives back: the body (or the problem), and the raw response. */
type Result = { data?: unknown; error?: unknown; response?: Response }
const answer = ({ data, error, response }: Result): Answer => ({
  status: response?.status ?? 0,
  body: (data ?? error) as Answer['body'],
  etag: response?.headers.get('etag'),
})

// The generated types say what the server demands: create's required fields, the grant types.
// @ts-expect-error grantType and scope are required
export const incomplete: NewCredential = { name: 'No grant type' }
// @ts-expect-error only the grant types the server knows
export const unknownGrant: GrantType = 'implicit'

t.test('@hey-api/openapi-ts (fetch client, defaults) runs the SDK scenario against the listening app', async (t) => {
  const test = await buildTestApp(t)
  const baseUrl = await test.app.listen({ port: 0, host: '127.0.0.1' })
  const client = createClient({
    baseUrl,
    auth: () => `${test.admin.identifier}:${test.admin.secret}`,
    fetch: contractFetch(baseUrl),
  })
  await runScenario(t, {
    create: async (credential: NewCredential) => answer(await createCredential({ client, body: credential })),
    get: async (credentialId) => answer(await getCredential({ client, path: { credentialId } })),
    update: async (credentialId, patch: CredentialPatch, ifMatch) =>
      answer(await updateCredential({ client, path: { credentialId }, headers: { 'If-Match': ifMatch }, body: patch })),
    list: async (limit, cursor) => answer(await listCredentials({ client, query: { limit, cursor } })),
    rotate: async (credentialId, graceSeconds) =>
      answer(await rotateCredentialSecret({ client, path: { credentialId }, body: { graceSeconds } })),
    authenticate: async (clientIdentifier, clientSecret) =>
      answer(await authenticateClient({ client, body: { clientIdentifier, clientSecret } })),
    events: async (credentialId) => answer(await listCredentialEvents({ client, path: { credentialId } })),
    delete: async (credentialId) => answer(await deleteCredential({ client, path: { credentialId } })),
  })
})
