import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Action, ApiClient } from '../api-clients/access.js'
import type { AccessAttempt } from '../http/authorization.js'
import type { Admission } from '../limits/index.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The API client that authenticated this REST request. */
    apiClient?: ApiClient
    /**
     * POST …/authenticate: the request's budgets, not yet decided, once its caller has passed
     * its checks; the handler decides them with the client's, in one round trip (see `admit`).
     */
    admission?: Admission
  }
}

/** `Authorization: Basic base64(identifier:secret)` (RFC 7617), or null when absent or malformed. */
function basicCredentials(header: string | undefined): { identifier: string; secret: string } | null {
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
 * action. It runs before the body is read, so a refused caller's body is never parsed. The
 * request's budgets are one decision (see `restAccess`): here, or for POST …/authenticate, with
 * the client's once the body is read (`admit`).
 */
export function guard(app: FastifyInstance, action: Action) {
  const { access } = app
  const defer = action === 'AuthenticateOAuthCredential'
  const passed = (request: FastifyRequest, attempt: AccessAttempt, pending: Admission | undefined) => {
    request.apiClient = attempt.client
    if (pending) request.admission = pending
  }
  // A callback hook: a remembered caller whose budgets are counted here passes without a promise.
  return (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    const given = basicCredentials(request.headers.authorization) ?? NO_CREDENTIALS
    const attempt: AccessAttempt = { request, identifier: given.identifier, secret: given.secret, action }
    let checked
    try {
      checked = access.restAccess(attempt, defer)
    } catch (error) {
      return done(error as Error)
    }
    if (!(checked instanceof Promise)) {
      passed(request, attempt, checked)
      return done()
    }
    checked.then((pending) => {
      passed(request, attempt, pending)
      done()
    }, done)
  }
}

/**
 * Decides a request's budgets that its guard left for later (POST …/authenticate), with what
 * the request adds (a wrong client secret); once only: the error handler decides for a request
 * that failed before its handler did, so that it is counted too.
 */
export function admit(request: FastifyRequest, more?: Admission): Promise<void> | undefined {
  const admission = request.admission
  if (admission === undefined) return undefined
  request.admission = undefined
  return request.server.limits.admit(request, more === undefined ? admission : Object.assign(admission, more))
}

const NO_CREDENTIALS = { identifier: '', secret: '' }
