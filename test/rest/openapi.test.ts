import { readFile } from 'node:fs/promises'
import { Validator } from '@seriousme/openapi-schema-validator'
import t from 'tap'
import { renderOpenApi, SDK_TAGS } from '../../src/http/docs.js'
import { buildTestApp } from '../helpers/app.js'
import { assertMatchesContract, openApiDocument, schemaMismatch } from '../helpers/contract.js'

interface Media {
  schema: object
  example?: unknown
  examples?: Record<string, { value: unknown }>
}
interface Operation {
  operationId?: string
  tags?: string[]
  security?: unknown[]
  requestBody?: { content: Record<string, Media> }
  responses: Record<string, { content?: Record<string, Media> }>
}

const test = await buildTestApp(t)

t.test('GET /openapi.json serves the committed document, and it is a valid OpenAPI 3.1 document', async (t) => {
  const response = await test.app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(response.statusCode, 200)
  const committed = await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')
  t.equal(renderOpenApi(test.app), committed, 'openapi/openapi.json is up to date (npm run openapi)')
  t.same(response.json(), JSON.parse(committed))

  const validator = new Validator()
  const result = await validator.validate(JSON.parse(committed))
  t.same(result.errors, undefined)
  t.equal(result.valid, true)
  t.equal(validator.version, '3.1')
})

t.test('every operation has an id, tags, security, examples, and its auth statuses', async (t) => {
  const operations = Object.entries(openApiDocument.paths).flatMap(([path, methods]) =>
    Object.entries(methods as Record<string, Operation>).map(([method, operation]) => ({ where: `${method} ${path}`, operation })),
  )
  t.same(
    operations.map((entry) => entry.operation.operationId),
    [
      'getHealth',
      'getReadiness',
      'legacyApiPost',
      'legacyApiGet',
      'createCredential',
      'listCredentials',
      'authenticateClient',
      'getCredential',
      'updateCredential',
      'deleteCredential',
      'rotateCredentialSecret',
      'listCredentialEvents',
    ],
  )
  for (const { where, operation } of operations) {
    t.ok(operation.tags?.length, `${where} has tags`)
    t.ok(Array.isArray(operation.security), `${where} declares its security`)
    const media = [
      ...Object.values(operation.requestBody?.content ?? {}),
      ...Object.values(operation.responses).flatMap((response) => Object.values(response.content ?? {})),
    ]
    t.ok(media.some((type) => type.example !== undefined || type.examples !== undefined), `${where} has examples`)
    for (const type of media) {
      const examples = [type.example, ...Object.values(type.examples ?? {}).map((example) => example.value)]
      for (const example of examples.filter((value) => value !== undefined)) {
        t.equal(schemaMismatch(type.schema, example), null, `${where}: its example matches its schema`)
      }
    }
    if (operation.tags?.includes('credentials')) {
      t.same(operation.security, [{ basicAuth: [] }], `${where} uses HTTP Basic`)
      for (const status of ['401', '403', '503']) t.ok(operation.responses[status], `${where} documents ${status}`)
    }
  }
  const legacy = openApiDocument.paths['/includes/api.php']?.post as unknown as Operation
  t.ok(legacy.requestBody?.content['application/x-www-form-urlencoded'], 'the legacy endpoint documents its form body')
})

t.test('Swagger UI is served at /docs from local assets', async (t) => {
  const page = await test.app.inject({ method: 'GET', url: '/docs/' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /swagger-ui/)
  const script = await test.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' })
  t.equal(script.statusCode, 200)
  t.ok(script.body.length > 100_000, 'the bundle is served, not fetched from a CDN')
})

t.test('the contract check the REST tests rely on refuses what the document does not describe', async (t) => {
  const json = 'application/json'
  const { body } = await test.app.inject({ method: 'GET', url: '/openapi.json' })
  const example = (JSON.parse(body) as typeof openApiDocument).components.schemas.Credential as { examples: unknown[] }
  const credential = example.examples[0] as Record<string, unknown>
  t.doesNotThrow(() => assertMatchesContract('GET', '/oauth/credentials/1', 200, json, JSON.stringify(credential)))
  const page = JSON.stringify({ items: [{ ...credential, clientSecret: 'leak' }], next: null })
  t.throws(() => assertMatchesContract('GET', '/oauth/credentials', 200, json, page), /does not match/, 'a secret in a listed credential')
  t.throws(() => assertMatchesContract('GET', '/oauth/credentials/1', 200, json, '{"credentialId":"1"}'), /does not match/)
  const headers = (sent: Record<string, string>) => (name: string) => sent[name]
  const one = JSON.stringify(credential)
  t.doesNotThrow(() => assertMatchesContract('GET', '/oauth/credentials/1', 200, json, one, headers({ etag: '"1-1"' })))
  t.throws(() => assertMatchesContract('GET', '/oauth/credentials/1', 200, json, one, headers({})), /no etag header, which the document says it always has/)
  t.throws(() => assertMatchesContract('GET', '/oauth/credentials/1', 418, json, '{}'), /status not documented/)
  t.throws(() => assertMatchesContract('GET', '/oauth/credentials/1', 404, json, '{}'), /content type "application\/json" not documented/)
  t.throws(() => assertMatchesContract('DELETE', '/oauth/credentials/1', 204, undefined, '{}'), /a body where none is documented/)
  t.throws(() => assertMatchesContract('PUT', '/oauth/credentials/1', 200, json, '{}'), /not in openapi.json/)
})

t.test('the REST-only document is what SDK generators need, and only that', async (t) => {
  type Doc = typeof openApiDocument & { tags: { name: string }[] }
  const committed = await readFile(new URL('../../openapi/credentials.openapi.json', import.meta.url), 'utf8')
  const sdkDocument = JSON.parse(committed) as Doc
  t.equal(renderOpenApi(test.app, SDK_TAGS), committed, 'up to date (npm run openapi)')
  t.ok(Object.keys(sdkDocument.paths).every((path) => path.startsWith('/oauth/credentials')), 'no api.php, no probes')
  t.same(sdkDocument.tags.map((tag) => tag.name), ['credentials'])
  t.notOk('LegacyRequest' in sdkDocument.components.schemas, 'no legacy schemas')
  t.equal((await new Validator().validate(JSON.parse(committed))).valid, true)

  const operations = Object.values(sdkDocument.paths).flatMap((methods) => Object.values(methods as Record<string, Operation & {
    parameters?: { in: string; name: string }[]
  }>))
  for (const operation of operations) {
    const bodies = [
      ...Object.values(operation.requestBody?.content ?? {}),
      ...Object.values(operation.responses).flatMap((response) => Object.values(response.content ?? {})),
    ]
    t.ok(bodies.every((media) => '$ref' in media.schema), `${operation.operationId}: every body is a named component`)
  }
  const byId = (id: string) => operations.find((operation) => operation.operationId === id)
  t.same(Object.keys(byId('updateCredential')?.requestBody?.content ?? {}), ['application/merge-patch+json'], 'PATCH: one content type')
  for (const id of ['updateCredential', 'deleteCredential', 'rotateCredentialSecret']) {
    t.ok(byId(id)?.parameters?.some((parameter) => parameter.in === 'header' && parameter.name === 'If-Match'), `${id} documents If-Match`)
  }
  const schemas = sdkDocument.components.schemas as Record<string, { required?: string[]; properties: Record<string, unknown> }>
  t.match(schemas.NewCredential?.required, ['grantType', 'scope'], 'create: what the server demands is required')
  const grantType = { $ref: '#/components/schemas/GrantType' }
  for (const name of ['Credential', 'NewCredential']) t.same(schemas[name]?.properties.grantType, grantType, `${name}: the GrantType enum`)
  t.ok(byId('listCredentials')?.parameters?.some((parameter) => parameter.name === 'grantType' && JSON.stringify(parameter).includes(grantType.$ref)))
  t.ok(schemas.Credential?.required?.includes('etag'), 'every credential body carries its ETag')
})
