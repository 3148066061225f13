import t from 'tap'
import { sql } from '../../src/db/sql.js'
import { buildTestApp } from '../helpers/app.js'
import { assertMatchesContract, openApiDocument } from '../helpers/contract.js'
import { parseLegacyBody } from '../helpers/legacy.js'
import { basic, createCredential } from '../helpers/rest.js'

// Issue 10 §4: an authenticated fuzz driven by openapi/openapi.json. Every operation, every
// parameter it documents (path, query, header, body field) and every legacy action's fields
// get boundary values. Each answer must be a documented status with a body matching its
// schema, never a 5xx, and a refused request must leave the data as it was.
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 5_000)
// Fixed, so CI is reproducible and a failure names its request again; FUZZ_SEED explores others.
const SEED = Number(process.env.FUZZ_SEED ?? 20261202)
// The loop took 77 s here with a load average of 26 on two cores: room for a loaded machine.
t.setTimeout(300_000)

type Schema = { $ref?: string; properties?: Record<string, Schema>; anyOf?: Schema[]; title?: string; enum?: unknown[] }
type Parameter = { in: 'path' | 'query' | 'header'; name: string }
type Operation = {
  operationId: string
  parameters?: Parameter[]
  requestBody?: { content: Record<string, { schema: Schema }> }
  responses: Record<string, { content?: Record<string, unknown> }>
}

/** mulberry32: small, fast and the same on every machine. */
function random(seed: number) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 15), z | 1)
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61)
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296
  }
  return { chance: (p: number) => next() < p, pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T }
}

const cursorOf = (text: string) => Buffer.from(text).toString('base64url')
/** Text values for path, query, header and form fields: numbers read loosely, sizes, unicode. */
const TEXT = [
  '1', '2', '3', '0', '-1', '2147483647', '2147483648', '-2147483649', '9999999999999999999', '1.5', '10.0', '1e3', '10e0',
  '1e400', '-0', '0x1a', '010', '+10', ' 1', '1 ', 'Infinity', 'NaN', '', ' ', 'true', 'false', 'null', '[]', '{}',
  'é', '😀', '\uD800', '\uDC00x', 'a\u202Eb', 'a\u2066b', 'a\u200Bb', '\uFEFF', 'a\u0000b', '%00', '../../etc/passwd',
  '__proto__', 'constructor', 'prototype', 'toString', "' OR 1=1 --", '<x/>', 'x'.repeat(256), 'x'.repeat(5_000),
  'authorization_code', 'single_sign_on', 'openid email', 'clientarea:sso', 'https://app.example.com/cb',
  'https://@a.com/cb', 'javascript:alert(1)', 'json', 'xml', 'nvp', 'asc', 'desc', 'name', 'credentialId',
  cursorOf('id:1'), cursorOf('id:2147483648'), cursorOf('id:9999999999'), cursorOf('id:-1'), 'bm9wZQ', '"1-1"', '*', 'W/"1-1"',
]
/** JSON values for body fields: the texts above, and every other JSON type at its edges. */
const JSON_VALUES: unknown[] = [
  ...TEXT, 0, 1, 2, -1, 1.5, 2147483647, 2147483648, -2147483649, 1e308, Number.MAX_SAFE_INTEGER, true, false, null,
  [], ['openid'], ['https://app.example.com/cb'], ['https://a.example.com/cb', 'https://a.example.com/cb'],
  Array.from({ length: 21 }, (_, n) => `https://a.example.com/${n}`), {}, { a: 1 }, [[[]]], { __proto__: { polluted: 1 } },
]
const HUGE = 'x'.repeat(70 * 1024)

/** Percent-encoding that also carries lone surrogates (as the bytes a sloppy client would send). */
function percent(value: string): string {
  try {
    return encodeURIComponent(value)
  } catch {
    return [...value]
      .map((char) => {
        const unit = char.charCodeAt(0)
        if (char.length > 1 || unit < 0xd800 || unit > 0xdfff) return encodeURIComponent(char)
        return [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('')
      })
      .join('')
  }
}
/** Header values must be latin-1 without controls to be sent at all. */
const sendableHeader = (value: string) => /^[\x20-\x7e\x80-\xff]*$/.test(value) && value.length < 8_000

const resolve = (schema: Schema): Schema =>
  schema.$ref ? (openApiDocument.components.schemas[schema.$ref.split('/').pop() as string] as Schema) : schema

const operations = Object.entries(openApiDocument.paths).flatMap(([path, methods]) =>
  Object.entries(methods as unknown as Record<string, Operation>).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })),
)
const legacyActions = (resolve({ $ref: '#/components/schemas/LegacyRequest' }).anyOf ?? []).map((action) => ({
  name: String(action.properties?.action?.enum?.[0]),
  fields: Object.keys(action.properties ?? {}),
}))
const AUTH_FIELDS = new Set(['identifier', 'secret', 'username', 'password'])

const test = await buildTestApp(t, {
  // Most of these requests are refused: the limits must not be what answers them.
  RATE_LIMIT_FAILED_AUTH_PER_IP: '1000000',
  RATE_LIMIT_PER_IP: '1000000',
  RATE_LIMIT_PER_CREDENTIAL: '1000000',
})
const authorization = basic(test.admin)

/** What any change leaves a trace in: every credential's version, times and secret, and the counts. */
const SNAPSHOT = sql<{ snapshot: string }>('fuzz.snapshot', `SELECT json_build_array(
  (SELECT json_agg(json_build_array(id, version, updated_at, last_used_at, secret_hash, previous_secret_hash) ORDER BY id) FROM credential),
  (SELECT count(*) FROM audit_event), (SELECT count(*) FROM credential_scope), (SELECT count(*) FROM credential_redirect_uri),
  (SELECT json_agg(json_build_array(id, secret_hash, revoked_at) ORDER BY id) FROM api_credential)
)::text AS snapshot`)
// Straight to the driver, past Prisma's runtime: taken around every write, it must be cheap.
const snapshot = async () => (await test.app.database.run(SNAPSHOT, {}))[0]?.snapshot

interface Sent {
  label: string
  method: string
  url: string
  headers: Record<string, string>
  payload?: string
}

function restRequest(rng: ReturnType<typeof random>, { path, method, operation }: (typeof operations)[number]): Sent {
  const headers: Record<string, string> = { authorization }
  let url = path
  const query: string[] = []
  for (const parameter of operation.parameters ?? []) {
    const value = rng.pick(TEXT)
    // An empty path value would name another operation (the collection).
    if (parameter.in === 'path') url = url.replace(`{${parameter.name}}`, value === '' ? '0' : percent(value))
    else if (parameter.in === 'query' && rng.chance(0.6)) query.push(`${parameter.name}=${percent(value)}`)
    else if (parameter.in === 'header' && rng.chance(0.6) && sendableHeader(value)) headers[parameter.name] = value
  }
  if (rng.chance(0.05)) query.push(`${rng.pick(['unknown', '__proto__[x]', 'limit'])}=${percent(rng.pick(TEXT))}`)
  if (query.length > 0) url += `?${query.join('&')}`
  const content = operation.requestBody?.content
  if (!content) return { label: operation.operationId, method, url, headers }
  const [type, media] = rng.pick(Object.entries(content))
  headers['content-type'] = rng.chance(0.03) ? rng.pick(['text/plain', 'application/xml', 'application/json; charset=latin1']) : type
  const fields = Object.keys(resolve(media.schema).properties ?? {})
  let payload: string
  if (rng.chance(0.05)) {
    payload = rng.pick(['', '{', 'null', '[]', '"x"', '1e400', `{"name":"${HUGE}"}`, '{"a":1,"a":2}'])
  } else {
    const body: Record<string, unknown> = {}
    for (const field of fields) if (rng.chance(0.5)) body[field] = rng.pick(JSON_VALUES)
    if (rng.chance(0.05)) body[rng.pick(['unknown', 'credentialId', 'version', 'clientSecret'])] = rng.pick(JSON_VALUES)
    payload = JSON.stringify(body)
  }
  return { label: operation.operationId, method, url, headers, payload }
}

function legacyRequest(rng: ReturnType<typeof random>): Sent {
  const action = rng.pick(legacyActions)
  const form: [string, string][] = [['action', rng.chance(0.03) ? rng.pick(TEXT) : action.name]]
  form.push(['username', test.admin.identifier], ['password', test.admin.secret])
  for (const field of action.fields) {
    if (field === 'action' || !rng.chance(AUTH_FIELDS.has(field) ? 0.03 : 0.5)) continue
    const value = rng.pick(TEXT)
    if (field === 'redirectUri' && rng.chance(0.5)) form.push([`${field}[]`, value], [`${field}[]`, rng.pick(TEXT)])
    else form.push([field, value])
  }
  if (rng.chance(0.05)) form.push([rng.pick(['sortField', 'sortOrder', 'limitstart', 'limitnum', 'x[y][z]']), rng.pick(TEXT)])
  const text = form.map(([key, value]) => `${percent(key)}=${percent(value)}`).join('&')
  const label = `api.php ${action.name}`
  if (rng.chance(0.2)) return { label, method: 'GET', url: `/includes/api.php?${text}`, headers: {} }
  return { label, method: 'POST', url: '/includes/api.php', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: text }
}

/** Whether a request could change data: REST writes, and api.php actions other than the list. */
const mayWrite = (sent: Sent) =>
  sent.label.startsWith('api.php') ? !sent.label.endsWith('ListOAuthCredentials') : sent.method !== 'GET'

/** A refusal: an error status, or api.php's `result: error` (it answers some with 200). */
function refused(status: number, contentType: string, body: string): boolean {
  if (status >= 400) return true
  if (status === 200 && contentType !== '' && body !== '') {
    try {
      return parseLegacyBody(contentType, body).result === 'error'
    } catch {
      return false
    }
  }
  return false
}

t.test(`contract fuzz: ${REQUESTS} authenticated requests from the OpenAPI document`, async (t) => {
  const rng = random(SEED)
  const counts = { requests: 0, serverErrors: 0, undocumented: 0, refusals: 0, refusalsThatChangedData: 0 }
  const failures = new Map<string, { count: number; example: string }>()
  const fail = (kind: string, sent: Sent, detail: string) => {
    const key = `${kind}: ${sent.label}: ${detail.split('\n')[0]?.slice(0, 160)}`
    const seen = failures.get(key)
    if (seen) seen.count++
    else failures.set(key, { count: 1, example: `${sent.method} ${sent.url.slice(0, 300)} ${sent.payload?.slice(0, 300) ?? ''}` })
  }
  const restOperations = operations.filter(({ path }) => path !== '/includes/api.php')

  let before = await snapshot()
  for (let n = 0; n < REQUESTS; n++) {
    // Keep something to aim at: ids 1 to 3 are the first the path values try.
    if (n % 250 === 0) {
      for (let made = 0; made < 2; made++) await createCredential(test)
      before = await snapshot()
    }
    const sent = rng.chance(0.35) ? legacyRequest(rng) : restRequest(rng, rng.pick(restOperations))
    const response = await test.app.inject({ method: sent.method as 'GET', url: sent.url, headers: sent.headers, payload: sent.payload })
    counts.requests++
    const status = response.statusCode
    const contentType = String(response.headers['content-type'] ?? '')
    if (status >= 500) {
      counts.serverErrors++
      fail(String(status), sent, response.body)
    }
    try {
      if (sent.label.startsWith('api.php') && !contentType.startsWith('application/json')) {
        const documented = openApiDocument.paths['/includes/api.php']?.[sent.method.toLowerCase()]?.responses[String(status)]
        const media = contentType.split(';')[0] ?? ''
        if (!documented?.content?.[media]) throw new Error(`status ${status} with ${media} not documented`)
      } else {
        assertMatchesContract(sent.method, sent.url, status, contentType, response.body)
      }
    } catch (error) {
      counts.undocumented++
      fail('contract', sent, (error as Error).message.replace(/^\S+ \S+ → /, ''))
    }
    if (!refused(status, contentType, response.body)) {
      if (mayWrite(sent)) before = await snapshot()
      continue
    }
    counts.refusals++
    // Reads cannot change anything; the snapshot is taken around the rest.
    if (!mayWrite(sent)) continue
    const after = await snapshot()
    if (after !== before) {
      counts.refusalsThatChangedData++
      fail('changed data', sent, `${status} ${response.body}`)
      before = after
    }
  }

  t.comment(
    `contract fuzz (seed ${SEED}): ${counts.requests} requests, ${counts.serverErrors} answered 5xx, ` +
      `${counts.undocumented} not as documented, ${counts.refusals} refusals of which ${counts.refusalsThatChangedData} changed data`,
  )
  for (const [key, { count, example }] of failures) t.comment(`${count} × ${key}\n    e.g. ${example}`)
  t.ok(counts.requests >= 5_000 || process.env.FUZZ_REQUESTS !== undefined, 'at least 5,000 requests')
  t.equal(counts.serverErrors, 0, 'no 5xx')
  t.equal(counts.undocumented, 0, 'every answer as the document says')
  t.equal(counts.refusalsThatChangedData, 0, 'no refusal changed data')
})
