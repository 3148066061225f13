import Fastify from 'fastify'
import t from 'tap'
import { DatabaseAvailability } from '../../src/db/availability.js'
import type { Database } from '../../src/db/database.js'
import { problemHandler, routerProblem } from '../../src/rest/problem.js'

// The REST scope's error handler on failures the database tests cannot provoke on demand.
async function failingWith(error: Error) {
  const app = Fastify({ logger: false })
  // What a 503 reports to (the outage log), as the app has it.
  const availability = new DatabaseAvailability(async () => {})
  app.decorate('database', { availability } as unknown as Database)
  t.teardown(() => availability.stop())
  app.setErrorHandler(problemHandler)
  app.get('/', async () => {
    throw error
  })
  const response = await app.inject({ method: 'GET', url: '/' })
  await app.close()
  return response
}

t.test('an unreachable database answers 503 problem+json with Retry-After', async (t) => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
  const response = await failingWith(new Error('query failed', { cause: refused }))
  t.equal(response.statusCode, 503)
  t.equal(response.headers['retry-after'], '5')
  t.match(response.headers['content-type'], /^application\/problem\+json/)
  t.same(response.json(), {
    type: 'about:blank',
    title: 'Service Unavailable',
    status: 503,
    detail: 'The service is temporarily unavailable. Please try again.',
  })
})

t.test('an unexpected failure answers 500 without its message', async (t) => {
  const response = await failingWith(new Error('secret internals: password=hunter2'))
  t.equal(response.statusCode, 500)
  t.equal(response.json().detail, 'An internal error occurred.')
  t.notMatch(response.body, 'hunter2')
})

t.test("the router's own refusals are problems too: a path not in UTF-8, an id longer than any", async (t) => {
  const app = Fastify({ logger: false, frameworkErrors: routerProblem })
  app.get('/oauth/credentials/:credentialId', async () => ({}))
  const badUtf8 = await app.inject('/oauth/credentials/%ED%A0%80')
  t.equal(badUtf8.statusCode, 400)
  t.match(badUtf8.headers['content-type'], /^application\/problem\+json/)
  t.equal(badUtf8.json().detail, 'The URL is not valid: its percent-encoding is not UTF-8.')
  const long = await app.inject(`/oauth/credentials/${'9'.repeat(200)}`)
  t.equal(long.statusCode, 404)
  t.equal(long.json().detail, 'Invalid Credential ID provided.')
  await app.close()
})
