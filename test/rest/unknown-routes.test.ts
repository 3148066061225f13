import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { basic } from '../helpers/rest.js'

const test = await buildTestApp(t)
const authorization = basic(test.admin)

t.test('an unknown path under the resource: 404 problem+json', async (t) => {
  // A trailing slash the router does not take is no resource either (not a 405 naming the very method sent).
  for (const url of ['/oauth/credentials/1/nothing', '/oauth/credentials/1/secret/extra', '/oauth/credentials/1/', '/oauth/credentials/1/events/']) {
    const response = await test.app.inject({ method: 'GET', url, headers: { authorization } })
    t.equal(response.statusCode, 404, url)
    t.match(response.headers['content-type'], /^application\/problem\+json/)
    t.same(response.json(), { type: 'about:blank', title: 'Not Found', status: 404, detail: `No resource at ${url}.` })
  }
})

t.test('a method the path does not take: 405 problem+json with Allow', async (t) => {
  const cases = [
    ['PUT', '/oauth/credentials/1', 'DELETE, GET, HEAD, PATCH'],
    ['DELETE', '/oauth/credentials', 'GET, HEAD, POST'],
    ['GET', '/oauth/credentials/1/secret', 'POST'],
    ['POST', '/oauth/credentials/1?dryRun=true', 'DELETE, GET, HEAD, PATCH'],
    ['OPTIONS', '/oauth/credentials', 'GET, HEAD, POST'],
    // A fixed path is not a credential id, whichever method the id's routes take.
    ...(['GET', 'HEAD', 'PATCH', 'DELETE', 'PUT'] as const).map((method) => [method, '/oauth/credentials/authenticate', 'POST'] as const),
  ] as const
  for (const [method, url, allow] of cases) {
    const response = await test.app.inject({ method, url, headers: { authorization } })
    t.equal(response.statusCode, 405, `${method} ${url}`)
    t.equal(response.headers.allow, allow)
    t.match(response.headers['content-type'], /^application\/problem\+json/)
    if (method === 'HEAD') continue // no body
    t.match(response.json(), { type: 'about:blank', title: 'Method Not Allowed', status: 405 })
    t.equal(response.json().detail, `${method} is not allowed here; use ${allow}.`)
  }
})

t.test('outside the resource a 404 names the path, never the query string a secret may be in', async (t) => {
  const secret = 'Zm9vYmFyIGEgc2VjcmV0'
  for (const [method, url] of [['PUT', `/includes/api.php?action=ListOAuthCredentials&identifier=admin&secret=${secret}`], ['GET', `/nothing?token=${secret}`]] as const) {
    const response = await test.app.inject({ method, url })
    t.equal(response.statusCode, 404, `${method} ${url}`)
    t.notMatch(response.body, secret)
    t.same(response.json(), { message: `Route ${method}:${url.split('?')[0]} not found`, error: 'Not Found', statusCode: 404 })
  }
})
