import t from 'tap'
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
} from '../../sdk/orval/credentials.js'
import { buildTestApp } from '../helpers/app.js'
import { basic } from '../helpers/rest.js'
import { contractFetch, runScenario, type Answer } from '../helpers/sdk-scenario.js'

/** What an orval call gives back: status, body (or the problem) and headers. */
const answer = ({ status, data, headers }: { status: number; data: unknown; headers: Headers }): Answer => ({
  status,
  body: data as Answer['body'],
  etag: headers.get('etag'),
})

// The generated types say what the server demands: create's required fields, the grant types.
// @ts-expect-error grantType and scope are required
export const incomplete: NewCredential = { name: 'No grant type' }
// @ts-expect-error only the grant types the server knows
export const unknownGrant: GrantType = 'implicit'

t.test('orval (fetch client, defaults) runs the SDK scenario against the listening app', async (t) => {
  const test = await buildTestApp(t)
  const address = await test.app.listen({ port: 0, host: '127.0.0.1' })
  // orval's fetch client calls the global fetch with the document's relative paths, as a page
  // served by the app would.
  const realFetch = globalThis.fetch
  globalThis.fetch = contractFetch(address)
  t.teardown(() => {
    globalThis.fetch = realFetch
  })
  const authorization = { authorization: basic(test.admin) }
  const options = { headers: authorization }
  await runScenario(t, {
    create: async (credential: NewCredential) => answer(await createCredential(credential, options)),
    get: async (credentialId) => answer(await getCredential(credentialId, options)),
    // orval's defaults leave header parameters out of the signature: If-Match goes with the
    // request options.
    update: async (credentialId, patch: CredentialPatch, ifMatch) =>
      answer(await updateCredential(credentialId, patch, undefined, { headers: { ...authorization, 'if-match': ifMatch } })),
    list: async (limit, cursor) => answer(await listCredentials({ limit, cursor }, options)),
    rotate: async (credentialId, graceSeconds) => answer(await rotateCredentialSecret(credentialId, { graceSeconds }, options)),
    authenticate: async (clientIdentifier, clientSecret) =>
      answer(await authenticateClient({ clientIdentifier, clientSecret }, options)),
    events: async (credentialId) => answer(await listCredentialEvents(credentialId, undefined, options)),
    delete: async (credentialId) => answer(await deleteCredential(credentialId, options)),
  })
})
