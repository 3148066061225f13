import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Action, ApiClient } from '../api-clients/access.js'
import { checkAccess } from '../http/authorization.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The API client that authenticated this REST request. */
    apiClient?: ApiClient
  }
}

/** `Authorization: Basic base64(identifier:secret)` (RFC 7617), or null when absent or malformed. */
export function basicCredentials(header: string | undefined): { identifier: string; secret: string } | null {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header ?? '')
  if (!match?.[1]) return null
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0 || colon === decoded.length - 1) return null
  return { identifier: decoded.slice(0, colon), secret: decoded.slice(colon + 1) }
}

/** The API client a guarded operation runs for. */
export function callerOf(request: FastifyRequest): ApiClient {
  if (request.apiClient === undefined) throw new Error('REST operation without its guard')
  return request.apiClient
}

/**
 * An `onRequest` hook that lets a REST operation run only for an API credential sent with HTTP
 * Basic, from an allowed address, holding the permission named after the matching api.php
 * action. It runs before the body is read, so a refused caller's body is never parsed.
 */
export function guard(app: FastifyInstance, action: Action) {
  const { access } = app
  // The request's budgets are one decision: the identifier is in the header already.
  const clients = action === 'AuthenticateOAuthCredential'
  const checks = [access.admitRequest(clients), access.authenticate, access.admitCaller, access.allowList, access.permission]
  return async (request: FastifyRequest) => {
    const given = basicCredentials(request.headers.authorization) ?? NO_CREDENTIALS
    request.apiClient = await checkAccess({ request, ...given, action }, checks)
  }
}

const NO_CREDENTIALS = { identifier: '', secret: '' }
