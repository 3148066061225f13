import formbody from '@fastify/formbody'
import multipart from '@fastify/multipart'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { CredentialError } from '../credentials/errors.js'
import { AccessRefused, checkAccess, type AccessAttempt, type AccessCheck } from '../http/authorization.js'
import { failureOf, INTERNAL_ERROR, refuseUnavailable, UNAVAILABLE } from '../http/errors.js'
import { RateLimited } from '../limits/index.js'
import { LEGACY_ACTIONS } from './actions.js'
import { legacyMessages } from './messages.js'
import { CONTENT_TYPES, render, type LegacyReply, type ResponseType } from './format.js'
import { LEGACY_GET_SCHEMA, LEGACY_POST_SCHEMA, LegacyRequest } from './openapi.js'
import { FORM_LIMITS, parseForm, type LegacyParams } from './params.js'
import { cookieNames, formActions, multipartActions, phpName } from './php-reading.js'
import { isResponseType, plain, queryString, readParams, requestedType } from './request.js'
import { ForwardFailed, legacyUpstream } from './upstream.js'

const LEGACY_PATH = '/includes/api.php'
const actionsByName = new Map(LEGACY_ACTIONS.map((action) => [action.name.toLowerCase(), action]))

/** A refusal api.php itself decides (not an access check), with its HTTP status. */
class Refusal extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message)
  }
}

/**
 * `/includes/api.php`: the billing system's action API, byte for byte. It reads the request
 * the way PHP does, runs the checks in the original's order, hands the action to the
 * credential service, and writes the answer in the caller's `responsetype`.
 */
export default async function legacyApi(app: FastifyInstance) {
  await app.register(formbody, { parser: parseForm })
  await app.register(multipart, {
    // A field may be as long as the whole body may be: busboy cuts a longer field short without
    // a word, and a redirect URI list cut short would be stored as a shorter URI.
    limits: { fields: FORM_LIMITS.parameters, fieldSize: app.initialConfig.bodyLimit, files: 0, parts: FORM_LIMITS.parameters },
  })

  const { access, config } = app
  const upstream =
    config.LEGACY_UPSTREAM_URL === undefined
      ? undefined
      : legacyUpstream({ url: config.LEGACY_UPSTREAM_URL, timeoutMs: config.LEGACY_UPSTREAM_TIMEOUT_MS })
  const actionRequired: AccessCheck = (attempt) => {
    if (attempt.action === '') throw new Refusal(400, 'Empty action request')
  }
  // SPEC §4: address or access key, action, credentials, permission.
  const checks = [access.admitAddress, access.allowList, actionRequired, access.admitIdentifier, access.authenticate, access.admitCaller, access.permission]

  // Parsing failures (bad JSON, too large, unknown content type) answer in the legacy shape.
  app.setErrorHandler(async (error: Error & { statusCode?: number }, request, reply) => {
    const status = error.statusCode ?? 500
    if (status >= 500) request.log.error({ err: error }, 'legacy request failed')
    const type = typeAskedInQuery(request)
    return send(reply, status, { result: 'error', message: status < 500 ? error.message : INTERNAL_ERROR }, type, '')
  })

  async function handle(request: FastifyRequest, reply: FastifyReply) {
    const params = await readParams(request)
    const action = plain(params.action)
    const definition = actionsByName.get(action.toLowerCase())
    // An action this service does not own is the upstream's to answer, in whatever format.
    const forwardTo = !definition && upstream && isOriginalsAction(params, request, await upstream.keptBody(request)) ? upstream : undefined
    const requested = requestedType(params.responsetype)
    if (!isResponseType(requested) && !forwardTo) {
      const message =
        requested === null
          ? legacyMessages.singleValue('responsetype')
          : `Unsupported API response type format "${requested}". Supported formats include: json, xml, nvp`
      return send(reply, 400, { result: 'error', message }, 'json', '')
    }
    const type = isResponseType(requested) ? requested : 'json'
    const attempt: AccessAttempt = {
      request,
      identifier: plain(params.identifier) || plain(params.username),
      secret: plain(params.secret) || plain(params.password),
      accessKey: plain(params.accesskey) || undefined,
      action: definition?.name ?? action,
    }
    try {
      if (forwardTo) {
        // The upstream authenticates; the per-address limits are still this service's.
        await access.admitAddress(attempt)
        return await forwardTo.forward(request, reply, action)
      }
      const client = await checkAccess(attempt, checks)
      if (!definition) return send(reply, 200, { result: 'error', message: 'API Function Not Found' }, type, action)
      const actor = { actor: client.identifier, source: 'legacy' as const, requestId: request.id }
      const answer = await definition.run(params, { credentials: app.credentials, actor, caller: client })
      return send(reply, 200, answer, type, action)
    } catch (error) {
      const refused = (status: number, message: string) => send(reply, status, { result: 'error', message }, type, action)
      if (error instanceof AccessRefused) return refused(403, error.message)
      if (error instanceof Refusal || error instanceof ForwardFailed) return refused(error.statusCode, error.message)
      if (error instanceof RateLimited) {
        reply.header('retry-after', String(error.retryAfterSeconds))
        return refused(429, error.message)
      }
      if (error instanceof CredentialError) {
        if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds))
        return refused(200, error.message)
      }
      const failure = failureOf(error)
      if (failure.kind === 'unavailable') {
        refuseUnavailable(request, reply, failure.reason)
        return refused(503, UNAVAILABLE.message)
      }
      if (failure.kind === 'request') return refused(failure.status, (error as Error).message)
      request.log.error({ err: error }, 'legacy request failed')
      return refused(500, INTERNAL_ERROR)
    }
  }

  // Ajv does not validate here: the access checks come first (SPEC §4), and then the action
  // reads its parameters with these same schemas (actions.ts), in the original's words.
  const acceptAll = () => () => true
  app.addSchema(LegacyRequest)
  const keepBody = upstream && { preParsing: upstream.keepBody }
  app.post(LEGACY_PATH, { schema: LEGACY_POST_SCHEMA, validatorCompiler: acceptAll, ...keepBody, handler: handle })
  app.get(LEGACY_PATH, { schema: LEGACY_GET_SCHEMA, validatorCompiler: acceptAll, handler: handle })
}

/**
 * Whether a request names an action of the original's (the pass-through's), read alike by this
 * service and by PHP (src/legacy/php-reading.ts): one plain name, the same wherever PHP finds
 * one (query string, form or multipart body, JSON body), no other parameter or cookie that PHP
 * reads as `action`, and none of this service's own actions once spaces and NUL bytes are taken
 * out. Otherwise the original may read an action this service owns (from the query where this
 * service read a JSON body, the last of two, an alias, a part of a multipart body split another
 * way, or trimmed) and run it without this service's rules: such a request is answered here,
 * as if there were no upstream.
 */
function isOriginalsAction(params: LegacyParams, request: FastifyRequest, body: Buffer | null | undefined): boolean {
  const action = params.action
  if (typeof action !== 'string' || action === '') return false
  if (actionsByName.has(action.replace(/[\s\0]/g, '').toLowerCase())) return false
  // A body in another encoding (gzip) is read here as it came, and may be read inflated there.
  const encoding = request.headers['content-encoding']
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return false
  const cookies = cookieNames(String(request.headers.cookie ?? ''))
  const aliases = Object.keys(params).filter((name) => name !== 'action')
  if ([...aliases, ...cookies].some((name) => phpName(name) === 'action')) return false
  const read = [formActions(queryString(request)), bodyActions(request, body)]
  if (read.some((values) => values === null)) return false
  const values = read.flat()
  return values.length > 0 && values.every((value) => value === action)
}

/** The values PHP reads as `action` from the body as it came; null when it may read more than one way. */
function bodyActions(request: FastifyRequest, body: Buffer | null | undefined): string[] | null {
  if (body === undefined) return []
  if (body === null) return null
  const type = String(request.headers['content-type'] ?? '')
  if (request.isMultipart()) return multipartActions(type, body)
  if (/^application\/x-www-form-urlencoded/i.test(type)) return formActions(body.toString('latin1'))
  // JSON: names are read as written, so the action is the one parsed.
  const parsed = request.body as Record<string, unknown> | null
  const value = parsed !== null && typeof parsed === 'object' ? parsed.action : undefined
  return value === undefined ? [] : typeof value === 'string' ? [value] : null
}

/** The responsetype of a request whose body failed: from its query, JSON when it names none it can read. */
function typeAskedInQuery(request: FastifyRequest): ResponseType {
  try {
    const requested = requestedType(parseForm(queryString(request)).responsetype)
    return isResponseType(requested) ? requested : 'json'
  } catch {
    return 'json' // a query past the parameter limit
  }
}

function send(reply: FastifyReply, status: number, answer: LegacyReply, type: ResponseType, action: string) {
  return reply.code(status).type(CONTENT_TYPES[type]).send(render(answer, type, action))
}
