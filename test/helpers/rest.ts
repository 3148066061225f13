import type { OutgoingHttpHeaders } from 'node:http'
import type { TestApp } from './app.js'
import { assertMatchesContract } from './contract.js'

export interface RestResponse<T = Record<string, unknown>> {
  status: number
  headers: Record<string, string | string[] | number | undefined>
  /** The parsed JSON body (undefined for an empty one). */
  body: T
  raw: string
}

export interface RestRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  url: string
  body?: unknown
  headers?: OutgoingHttpHeaders
  /** HTTP Basic pair; the test app's admin unless given, none when null. */
  auth?: { identifier: string; secret: string } | null
  /** The client address the app sees (default 127.0.0.1). */
  remoteAddress?: string
}

export function basic(auth: { identifier: string; secret: string }): string {
  return `Basic ${Buffer.from(`${auth.identifier}:${auth.secret}`).toString('base64')}`
}

/**
 * Calls the REST resource through inject and holds every answer to openapi/openapi.json
 * (documented status, content type and body schema) before the test looks at it.
 */
export async function callRest<T = Record<string, unknown>>(test: TestApp, request: RestRequest): Promise<RestResponse<T>> {
  const auth = request.auth === undefined ? test.admin : request.auth
  const headers: OutgoingHttpHeaders = { ...(auth ? { authorization: basic(auth) } : {}), ...request.headers }
  const payload =
    request.body === undefined ? undefined : typeof request.body === 'string' ? request.body : JSON.stringify(request.body)
  if (payload !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json'
  const { method, url, remoteAddress } = request
  const response = await test.app.inject({ method, url, headers, payload, remoteAddress })
  const contentType = response.headers['content-type']
  assertMatchesContract(request.method, request.url, response.statusCode, contentType?.toString(), response.body, (name) => response.headers[name]?.toString())
  return {
    status: response.statusCode,
    headers: response.headers,
    body: (response.body === '' ? undefined : JSON.parse(response.body)) as T,
    raw: response.body,
  }
}

export type Credential = Record<string, unknown> & { credentialId: number; clientIdentifier: string; version: number }

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  errors?: { in: string; pointer: string; detail: string }[]
}

export const newCredential = {
  name: 'Billing portal',
  description: 'SSO for the portal',
  grantType: 'authorization_code' as const,
  scope: 'clientarea:sso openid',
  logoUri: 'https://portal.example.com/logo.png',
  redirectUri: ['https://portal.example.com/callback', 'com.example.app:/cb'],
}

/** Creates a credential through the REST resource; anything but 201 fails the test. */
export async function createCredential(test: TestApp, body: Record<string, unknown> = newCredential) {
  const response = await callRest<Credential & { clientSecret: string }>(test, { method: 'POST', url: '/oauth/credentials', body })
  if (response.status !== 201) throw new Error(`create failed: ${response.raw}`)
  return response
}
