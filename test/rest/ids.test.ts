import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callRest, createCredential, type Problem } from '../helpers/rest.js'

// Issue 10, points 3 and 5: a REST id is a canonical decimal no greater than the int4 maximum;
// anything else names no credential (404), never another one, and never fails (5xx).
const test = await buildTestApp(t)
const credentialCount = async () => (await test.sql<{ n: number }>('SELECT count(*)::int AS n FROM credential'))[0]?.n

// Ten credentials, so that 10 and 26 exist and a loose reading would reach them.
for (let i = 0; i < 26; i++) await createCredential(test)

const NOT_IDS = ['0x1a', '010', '+10', '10.0', '10e0', '1e1', '0', '-1', ' 10', '10%20', '1e400', 'Infinity', 'NaN', '2147483648', '9999999999', '9999999999999999999', '%EF%BC%91']

t.test('GET, PATCH, DELETE, rotate and events: anything but a canonical id is 404', async (t) => {
  for (const id of NOT_IDS) {
    for (const [method, suffix, body] of [
      ['GET', '', undefined],
      ['GET', '/events', undefined],
      ['PATCH', '', { name: 'Reached' }],
      ['POST', '/secret', {}],
      ['DELETE', '', undefined],
    ] as const) {
      const answer = await callRest<Problem>(test, { method, url: `/oauth/credentials/${id}${suffix}`, body })
      t.equal(answer.status, 404, `${method} ${id}${suffix}`)
      t.equal(answer.body.detail, 'Invalid Credential ID provided.')
    }
  }
  t.equal(await credentialCount(), 26, 'nothing deleted')
  const names = await test.sql<{ n: number }>(`SELECT count(*)::int AS n FROM credential WHERE name = 'Reached'`)
  t.equal(names[0]?.n, 0, 'nothing renamed')
  const rotations = await test.sql<{ n: number }>(`SELECT count(*)::int AS n FROM audit_event WHERE action <> 'create'`)
  t.equal(rotations[0]?.n, 0, 'no change recorded')
})

t.test('the largest id is a valid id that names no credential', async (t) => {
  const answer = await callRest<Problem>(test, { method: 'GET', url: '/oauth/credentials/2147483647/events' })
  t.equal(answer.status, 404)
  t.equal((await callRest(test, { method: 'GET', url: '/oauth/credentials/26' })).status, 200, 'a canonical id works')
})

t.test('a cursor that decodes to an id past its column (int4 credentials, bigint events), or to no id, is a 400', async (t) => {
  const cursor = (text: string) => Buffer.from(text).toString('base64url')
  const invalid = async (url: string, text: string) => {
    const answer = await callRest<Problem>(test, { method: 'GET', url: `${url}?cursor=${cursor(text)}` })
    t.equal(answer.status, 400, `${url} cursor ${text}`)
    t.equal(answer.body.detail, 'The cursor is invalid: pass the `next` value of a previous page.')
  }
  for (const text of ['id:0', 'id:01', 'id:1e3', 'id:-1', 'id:']) {
    for (const url of ['/oauth/credentials', '/oauth/credentials/1/events']) await invalid(url, text)
  }
  for (const text of ['id:2147483648', 'id:9999999999']) await invalid('/oauth/credentials', text)
  // The trail's ids pass 2^31 after two billion events: its cursor takes any exact integer.
  for (const text of ['id:2147483648', 'id:9007199254740991']) {
    t.equal((await callRest(test, { method: 'GET', url: `/oauth/credentials/1/events?cursor=${cursor(text)}` })).status, 200, `events cursor ${text}`)
  }
  for (const text of ['id:9007199254740992', 'id:99999999999999999']) await invalid('/oauth/credentials/1/events', text)
  const last = await callRest<{ items: unknown[] }>(test, { method: 'GET', url: `/oauth/credentials?cursor=${cursor('id:2147483647')}` })
  t.same([last.status, last.body.items], [200, []], 'the largest id is a cursor past every credential')
})

t.test('an unauthenticated caller learns nothing from an id: 401 first', async (t) => {
  const answer = await callRest<Problem>(test, { method: 'GET', url: '/oauth/credentials/0x1a', auth: null })
  t.equal(answer.status, 401)
})
