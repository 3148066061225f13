import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callRest, createCredential as create, newCredential, type Credential, type Problem } from '../helpers/rest.js'

// Its own app and database, so the pages hold exactly the credentials made here.
const test = await buildTestApp(t)

t.test('list: filters, cursor pagination with next and a Link header', async (t) => {
  const created: Credential[] = []
  for (let index = 0; index < 5; index++) {
    const sso = index % 2 === 1
    const body = sso
      ? { grantType: 'single_sign_on', serviceId: 10 + index, scope: 'clientarea:sso' }
      : { ...newCredential, name: `app ${index}` }
    created.push((await create(test, body)).body)
  }
  const seen: number[] = []
  let url: string | undefined = '/oauth/credentials?limit=2'
  let pages = 0
  while (url) {
    const page: Awaited<ReturnType<typeof callRest<{ items: Credential[]; next: string | null }>>> = await callRest(test, { method: 'GET', url })
    t.equal(page.status, 200)
    pages++
    seen.push(...page.body.items.map((item) => item.credentialId))
    const link = page.headers.link as string | undefined
    if (page.body.next === null) {
      t.equal(link, undefined, 'no Link on the last page')
      url = undefined
    } else {
      t.equal(link, `</oauth/credentials?limit=2&cursor=${page.body.next}>; rel="next"`)
      url = /^<([^>]+)>/.exec(link ?? '')?.[1]
    }
  }
  t.same(seen, created.map((credential) => credential.credentialId), 'every credential once, in id order')
  t.equal(pages, 3)

  const sso = await callRest<{ items: Credential[] }>(test, { method: 'GET', url: '/oauth/credentials?grantType=single_sign_on' })
  t.same(sso.body.items.map((item) => item.serviceId), [11, 13])
  const one = await callRest<{ items: Credential[] }>(test, {
    method: 'GET',
    url: `/oauth/credentials?clientIdentifier=${encodeURIComponent(created[2]?.clientIdentifier ?? '')}`,
  })
  t.same(one.body.items.map((item) => item.credentialId), [created[2]?.credentialId])

  const badGrant = await callRest<Problem>(test, { method: 'GET', url: '/oauth/credentials?grantType=implicit' })
  t.equal(badGrant.status, 400)
  t.equal(badGrant.body.detail, 'The requested grant type "implicit" is invalid.')
  const badCursor = await callRest<Problem>(test, { method: 'GET', url: '/oauth/credentials?cursor=nonsense' })
  t.equal(badCursor.status, 400)
  t.same(badCursor.body.errors?.map((error) => error.pointer), ['/cursor'])
})

