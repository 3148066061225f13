import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify'
import { credentialNotFound, CredentialError, messages, type CredentialErrorKind } from '../credentials/errors.js'
import { firstRefusedRedirectUri, LIMITS } from '../credentials/rules.js'
import { AccessRefused } from '../http/authorization.js'
import { failureOf, INTERNAL_ERROR, refuseUnavailable, UNAVAILABLE } from '../http/errors.js'
import { RateLimited } from '../limits/index.js'
import { admit } from './auth.js'
import type { Problem } from './schemas.js'

export const PROBLEM_TYPE = 'application/problem+json'
/** Sent with a 401, as RFC 9110 requires: how to authenticate (HTTP Basic). */
const CHALLENGE = { 'www-authenticate': 'Basic realm="oauth-credentials", charset="UTF-8"' }

/**
 * The challenge for this 401: none to a script that says it is one (`X-Requested-With:
 * XMLHttpRequest`, as Swagger UI sends), because a browser answers a Basic challenge with its own
 * password dialog and the page never sees the problem. Every other client gets the challenge.
 */
export function challengeFor(request: FastifyRequest): Record<string, string> {
  return request.headers['x-requested-with']?.toString().toLowerCase() === 'xmlhttprequest' ? {} : CHALLENGE
}

type ProblemError = NonNullable<Problem['errors']>[number]

/** A refusal the REST layer decides itself (authentication, permissions, preconditions). */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    detail: string,
    readonly errors?: ProblemError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail)
  }
}

const STATUS_OF_KIND: Record<CredentialErrorKind, number> = {
  invalid: 400,
  not_found: 404,
  precondition_failed: 412,
  conflict: 409,
}

/** Where the credential service's field names come from in a REST request. */
const FIELD_LOCATION: Record<string, ProblemError['in']> = { credentialId: 'path' }

const VALIDATION_LOCATION: Record<string, ProblemError['in']> = {
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'header',
}

export function problem(status: number, detail: string, errors?: ProblemError[]): Problem {
  return {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    ...(errors && errors.length > 0 ? { errors } : {}),
  }
}

type Issue = FastifySchemaValidationError & { data?: unknown }

/** The service's refusal of a body's redirect URI list, which names the first URI it refuses, as api.php does. */
function redirectUriRefusal(body: unknown): string | undefined {
  const uris = (body as { redirectUri?: unknown } | null)?.redirectUri
  if (!Array.isArray(uris) || !uris.every((uri) => typeof uri === 'string')) return undefined
  const refused = firstRefusedRedirectUri(uris)
  return refused === undefined ? undefined : messages.redirectUriInvalid(refused)
}

/**
 * The schema refuses some values before the credential service sees them (a missing grant type
 * or scope, an unknown grant type, the limits it states for the document and generated clients);
 * the answer keeps the service's words (api.php's) for them. Keyed by pointer, a list's items
 * under `/*`.
 */
const SERVICE_WORDING: Record<string, (issue: Issue, body: unknown) => string | undefined> = {
  '/grantType': (issue) =>
    issue.keyword === 'required'
      ? messages.grantTypeRequired
      : issue.keyword === 'enum'
        ? messages.grantTypeInvalid(String(issue.data))
        : undefined,
  '/scope': (issue) => (issue.keyword === 'required' ? messages.scopeRequired : undefined),
  '/name': (issue) => (issue.keyword === 'maxLength' ? messages.tooLong('name', LIMITS.name) : undefined),
  '/description': (issue) => (issue.keyword === 'maxLength' ? messages.tooLong('description', LIMITS.description) : undefined),
  '/serviceId': (issue) => (issue.keyword === 'minimum' || issue.keyword === 'maximum' ? messages.serviceIdInvalid(String(issue.data)) : undefined),
  '/logoUri': (issue) => (issue.keyword === 'maxLength' ? messages.logoUriInvalid(String(issue.data)) : undefined),
  '/redirectUri': (issue, body) => (issue.keyword === 'maxItems' ? redirectUriRefusal(body) : undefined),
  '/redirectUri/*': (issue, body) => (issue.keyword === 'maxLength' ? redirectUriRefusal(body) : undefined),
}

/**
 * Ajv's errors as JSON pointers to the offending input, one per pointer: the first says what is
 * wrong, where a nullable field's value adds "must be null" and "must match a schema in anyOf".
 */
function validationErrors(error: FastifyError, body: unknown): ProblemError[] {
  const location = VALIDATION_LOCATION[error.validationContext ?? 'body'] ?? 'body'
  const errors = (error.validation ?? []).map((issue: Issue) => {
    const params = issue.params as { missingProperty?: string; additionalProperty?: string }
    const child = params.missingProperty ?? params.additionalProperty
    const pointer = child === undefined ? issue.instancePath : `${issue.instancePath}/${escapePointer(child)}`
    const detail =
      // A query parameter given twice arrives as a list (`?limit=3&limit=4`).
      location === 'query' && Array.isArray(issue.data) && issue.keyword === 'type'
        ? `${pointer} must be given once.`
        : (SERVICE_WORDING[pointer.replace(/\/\d+$/, '/*')]?.(issue, location === 'body' ? body : undefined) ??
          (params.additionalProperty !== undefined
            ? `Unknown field "${params.additionalProperty}".`
            : pointer === '' && issue.keyword === 'type'
              ? `The ${location} must be a JSON object, {} at least.`
              : `${pointer || 'The ' + location} ${issue.message ?? 'is invalid'}.`))
    return { in: location, pointer, detail }
  })
  return errors.filter((problem, index) => errors.findIndex((other) => other.pointer === problem.pointer) === index)
}

function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1')
}

/**
 * The REST scope's one error handler: every failure becomes RFC 9457 problem details. Credential
 * errors keep the credential service's message (the one api.php gives), schema violations point
 * at their fields, and only unexpected failures are logged.
 */
export async function problemHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  // A request that failed before its handler decided its budgets (a body refused): counted now,
  // and over a budget it is answered so, as it would have been before its body was read.
  const pending = admit(request)
  if (pending) await pending.catch((refusal: unknown) => void (error = refusal as FastifyError))
  if (error instanceof CredentialError) return sendCredentialProblem(reply, error)
  // The only path parameter is the credential id: one out of its range names no credential.
  if (error.validation && error.validationContext === 'params') {
    return sendCredentialProblem(reply, credentialNotFound())
  }
  if (error instanceof RateLimited) {
    reply.header('retry-after', String(error.retryAfterSeconds))
    return sendProblem(reply, problem(429, error.message))
  }
  if (error instanceof AccessRefused) {
    // Who the caller is, unproven: 401 with the challenge. What it may do: 403.
    const unauthenticated = error.reason === 'missing' || error.reason === 'failed'
    if (unauthenticated) reply.headers(challengeFor(request))
    return sendProblem(reply, problem(unauthenticated ? 401 : 403, error.message))
  }
  if (error instanceof HttpProblem) return sendHttpProblem(reply, error)
  if (error.validation) {
    const errors = validationErrors(error, request.body)
    return sendProblem(reply, problem(400, errors[0]?.detail ?? error.message, errors))
  }
  const failure = failureOf(error)
  if (failure.kind === 'unavailable') {
    refuseUnavailable(request, reply, failure.reason)
    return sendProblem(reply, problem(503, UNAVAILABLE.message))
  }
  if (failure.kind === 'internal') {
    request.log.error({ err: error }, 'REST request failed')
    return sendProblem(reply, problem(500, INTERNAL_ERROR))
  }
  // Fastify's own refusals: malformed JSON, body too large (413), unsupported media type (415),
  // a body its client cut short (400) or sent too slowly (408).
  return sendProblem(reply, problem(failure.status, error.message))
}

/**
 * The router's own refusals, made before any route runs, answered as problems too: a path
 * whose percent-encoding is not UTF-8 (400), and a path segment longer than any id (404: no
 * credential has it).
 */
export function routerProblem(error: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendCredentialProblem(reply, credentialNotFound())
  return sendProblem(reply, problem(400, 'The URL is not valid: its percent-encoding is not UTF-8.'))
}

function sendCredentialProblem(reply: FastifyReply, error: CredentialError) {
  const errors = error.field
    ? [{ in: FIELD_LOCATION[error.field] ?? 'body', pointer: `/${error.field}`, detail: error.message }]
    : undefined
  if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds))
  return sendProblem(reply, problem(STATUS_OF_KIND[error.kind], error.message, errors))
}

export function sendProblem(reply: FastifyReply, body: Problem) {
  return reply.code(body.status).type(PROBLEM_TYPE).send(body)
}

/** An HttpProblem as problem+json, with its headers. */
export function sendHttpProblem(reply: FastifyReply, error: HttpProblem) {
  reply.headers(error.headers)
  return sendProblem(reply, problem(error.status, error.message, error.errors))
}
