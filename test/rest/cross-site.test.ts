import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callRest, createCredential } from '../helpers/rest.js'

// A web page can make a browser send a "simple" request to any origin without asking it first:
// a POST with no body, or with a form's or plain text's content type. The browser adds the Basic
// credentials it remembers for that origin (once someone signed in at its prompt, which a 401's
// challenge opens). So no such request may change anything: every change needs a JSON body,
// which a page can send cross-site only after a CORS preflight this service answers for no one
// it was not told to trust.
const test = await buildTestApp(t)
const { body: created } = await createCredential(test)

const SIMPLE_BODIES = [
  { what: 'no body', payload: undefined, type: undefined },
  { what: 'a form', payload: 'graceSeconds=0&name=Forged', type: 'application/x-www-form-urlencoded' },
  { what: 'a multipart form', payload: '--b\r\ncontent-disposition: form-data; name="name"\r\n\r\nForged\r\n--b--\r\n', type: 'multipart/form-data; boundary=b' },
  { what: 'plain text holding JSON', payload: '{"name":"Forged","grantType":"single_sign_on","scopes":[]}', type: 'text/plain' },
]

t.test('simple cross-site POSTs create and rotate nothing', async (t) => {
  const events = async () => (await test.sql<{ n: number }>('SELECT count(*)::int AS n FROM audit_event'))[0]?.n
  const before = await events()
  for (const url of ['/oauth/credentials', `/oauth/credentials/${created.credentialId}/secret`]) {
    for (const { what, payload, type } of SIMPLE_BODIES) {
      const answer = await callRest(test, { method: 'POST', url, body: payload, headers: type ? { 'content-type': type } : {} })
      t.ok(answer.status === 400 || answer.status === 415, `${url}, ${what}: refused (${answer.status})`)
    }
  }
  t.equal(await events(), before, 'no change recorded')
  t.equal((await test.sql<{ n: number }>('SELECT count(*)::int AS n FROM credential'))[0]?.n, 1, 'nothing created')
})
