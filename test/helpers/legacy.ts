import { XMLParser } from 'fast-xml-parser'
import qs from 'qs'
import type { TestApp } from './app.js'

export interface LegacyResponse {
  status: number
  contentType: string
  body: string
  headers: Record<string, unknown>
  /** The body parsed back from whatever format it came in. */
  data: Record<string, unknown>
}

type Form = Record<string, unknown>

export interface LegacyCallOptions {
  /** false: send the form as it is, without the test app's bootstrap credential. */
  auth?: boolean
  /**
   * How the form is encoded: `form` is `http_build_query` (PHP), `json` a JSON body,
   * `multipart` what PHP curl sends when given an array. GET puts the form in the query string.
   */
  encoding?: 'form' | 'json' | 'multipart'
  /**
   * How form arrays are written: `brackets` (`a[]=1`, PHP), `indices` (`a[0]=1`, PHP), or
   * `repeat` (`a=1&a=2`, as Node's querystring and the whmcs npm client write them).
   */
  arrayFormat?: 'brackets' | 'indices' | 'repeat'
  /** A raw body sent instead of the encoded form. */
  body?: string
  contentType?: string
  query?: string
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  remoteAddress?: string
}

/**
 * Calls /includes/api.php as a legacy caller would: by default a form body built like
 * `http_build_query` (brackets for arrays), authenticated with the test app's bootstrap
 * credential unless the form says otherwise.
 */
export async function callLegacy(test: Pick<TestApp, 'app' | 'admin'>, form: Form, options: LegacyCallOptions = {}): Promise<LegacyResponse> {
  const withAuth = options.auth === false ? form : { username: test.admin.identifier, password: test.admin.secret, ...form }
  const formText = qs.stringify(withAuth, { arrayFormat: options.arrayFormat ?? 'brackets' })
  const query = [options.method === 'GET' ? formText : '', options.query ?? ''].filter((part) => part !== '').join('&')
  let payload: string | Buffer | undefined
  let contentType = options.contentType ?? 'application/x-www-form-urlencoded'
  if (options.method === 'GET') {
    payload = undefined
  } else if (options.body !== undefined) {
    payload = options.body
  } else if (options.encoding === 'json') {
    payload = JSON.stringify(withAuth)
    contentType = 'application/json'
  } else if (options.encoding === 'multipart') {
    ;({ payload, contentType } = await multipart(formText))
  } else {
    payload = formText
  }
  const response = await test.app.inject({
    method: options.method ?? 'POST',
    url: '/includes/api.php' + (query ? `?${query}` : ''),
    headers: { ...(payload === undefined ? {} : { 'content-type': contentType }), ...options.headers },
    remoteAddress: options.remoteAddress,
    payload,
  })
  const type = String(response.headers['content-type'] ?? '')
  return {
    status: response.statusCode,
    contentType: type,
    body: response.body,
    headers: response.headers,
    data: parseLegacyBody(type, response.body),
  }
}

/** A real multipart/form-data body, encoded by Node's own FormData, one part per form pair. */
async function multipart(formText: string): Promise<{ payload: Buffer; contentType: string }> {
  const data = new FormData()
  for (const [name, value] of new URLSearchParams(formText)) data.append(name, value)
  const encoded = new Response(data)
  return {
    payload: Buffer.from(await encoded.arrayBuffer()),
    contentType: encoded.headers.get('content-type') ?? '',
  }
}

// Values exactly as an XML reader sees them: not trimmed, not turned into numbers.
const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  trimValues: false,
  jPath: true,
  isArray: (_name, path) => XML_LISTS.some(([list, item]) => String(path).endsWith(`.${list}.${item}`)),
})
/** The lists in answers and the element name of their items. */
const XML_LISTS = [
  ['clients', 'client'],
  ['redirectUri', 'uri'],
] as const

/** `<clients><client>..</client></clients>` becomes a list, as in the JSON answer; `<clients></clients>` an empty one. */
function unwrapXmlLists(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapXmlLists)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => {
      const list = XML_LISTS.find(([name]) => name === key)
      if (list === undefined) return [key, unwrapXmlLists(item)]
      return [key, item === '' ? [] : unwrapXmlLists((item as Record<string, unknown>)[list[1]])]
    }),
  )
}

/**
 * A legacy answer parsed back: JSON; the `<whmcsapi>` element of XML with its lists as arrays
 * (all values strings); or NVP pairs split on `;`, keys as written (`clients[0][name]`).
 */
export function parseLegacyBody(contentType: string, body: string): Record<string, unknown> {
  if (contentType.startsWith('application/json')) return JSON.parse(body) as Record<string, unknown>
  if (contentType.startsWith('application/xml')) {
    return unwrapXmlLists((xml.parse(body) as { whmcsapi: Record<string, unknown> }).whmcsapi) as Record<string, unknown>
  }
  return Object.fromEntries(
    body.split(';').map((pair) => {
      const at = pair.indexOf('=')
      return [pair.slice(0, at), decodeURIComponent(pair.slice(at + 1))]
    }),
  )
}

export interface CreatedCredential {
  credentialId: number
  clientIdentifier: string
  clientSecret: string
}

/** Creates a credential through CreateOAuthCredential (a valid authorization_code one by default). */
export async function createCredential(test: TestApp, fields: Form = {}): Promise<CreatedCredential> {
  const { status, data } = await callLegacy(test, {
    action: 'CreateOAuthCredential',
    grantType: 'authorization_code',
    name: 'App',
    scope: 'openid',
    responsetype: 'json',
    ...fields,
  })
  if (status !== 200 || data.result !== 'success') throw new Error(`create failed: ${JSON.stringify(data)}`)
  return {
    credentialId: Number(data.credentialId),
    clientIdentifier: String(data.clientIdentifier),
    clientSecret: String(data.clientSecret),
  }
}

/** A credential as stored: its row, scopes and redirect URIs in order, and its audit trail. */
export async function storedCredential(test: TestApp, credentialId: number) {
  const [row] = await test.sql<Record<string, unknown>>('SELECT * FROM credential WHERE id = $1', [credentialId])
  const scopes = await test.sql<{ scope_name: string }>(
    'SELECT scope_name FROM credential_scope WHERE credential_id = $1 ORDER BY position',
    [credentialId],
  )
  const redirectUris = await test.sql<{ uri: string }>(
    'SELECT uri FROM credential_redirect_uri WHERE credential_id = $1 ORDER BY position',
    [credentialId],
  )
  const audit = await test.sql<Record<string, unknown>>(
    'SELECT id, actor, action, changed_fields, request_id, source FROM audit_event WHERE credential_id = $1 ORDER BY id',
    [credentialId],
  )
  return {
    row,
    scopes: scopes.map((scope) => scope.scope_name),
    redirectUris: redirectUris.map((redirect) => redirect.uri),
    audit,
  }
}
