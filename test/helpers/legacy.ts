import { XMLParser } from 'fast-xml-parser'
import qs from 'qs'
import type { TestApp } from './app.js'

export interface LegacyResponse {
  status: number
  contentType: string
  body: string
  /** The body parsed back from whatever format it came in. */
  data: Record<string, unknown>
}

type Form = Record<string, unknown>

/**
 * Calls /includes/api.php as a PHP script would: a form body built like `http_build_query`
 * (brackets for arrays), authenticated with the test app's bootstrap credential unless the
 * form says otherwise.
 */
export async function callLegacy(
  test: TestApp,
  form: Form,
  options: { auth?: boolean; body?: string; contentType?: string; query?: string; method?: 'GET' | 'POST' } = {},
): Promise<LegacyResponse> {
  const withAuth = options.auth === false ? form : { username: test.admin.identifier, password: test.admin.secret, ...form }
  const payload = options.body ?? qs.stringify(withAuth, { arrayFormat: 'brackets' })
  const response = await test.app.inject({
    method: options.method ?? 'POST',
    url: '/includes/api.php' + (options.query ? `?${options.query}` : ''),
    headers: { 'content-type': options.contentType ?? 'application/x-www-form-urlencoded' },
    payload: options.method === 'GET' ? undefined : payload,
  })
  const contentType = String(response.headers['content-type'] ?? '')
  return { status: response.statusCode, contentType, body: response.body, data: parseLegacyBody(contentType, response.body) }
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, isArray: (name) => ['client', 'uri'].includes(name) })

export function parseLegacyBody(contentType: string, body: string): Record<string, unknown> {
  if (contentType.startsWith('application/json')) return JSON.parse(body) as Record<string, unknown>
  if (contentType.startsWith('application/xml')) return (xml.parse(body) as { whmcsapi: Record<string, unknown> }).whmcsapi
  return Object.fromEntries(
    body.split(';').map((pair) => {
      const at = pair.indexOf('=')
      return [pair.slice(0, at), decodeURIComponent(pair.slice(at + 1))]
    }),
  )
}

/** Creates a credential through api.php (authorization_code, scope openid unless given); returns its id. */
export async function createLegacyCredential(test: TestApp, fields: Form = {}): Promise<string> {
  const created = await callLegacy(test, {
    action: 'CreateOAuthCredential',
    grantType: 'authorization_code',
    name: 'Credential',
    scope: 'openid',
    responsetype: 'json',
    ...fields,
  })
  if (created.data.result !== 'success') throw new Error(`create failed: ${created.body}`)
  return String(created.data.credentialId)
}
