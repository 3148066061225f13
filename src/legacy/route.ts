import { createHash, timingSafeEqual } from 'node:crypto'
import formbody from '@fastify/formbody'
import multipart from '@fastify/multipart'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ipAllowed, mayRun, refusals, secretAccepted, type ApiClientService } from '../api-clients/service.js'
import { CredentialError } from '../credentials/errors.js'
import type { CredentialService } from '../credentials/service.js'
import { isDatabaseUnavailable } from '../http/errors.js'
import { setActor } from '../http/request-log.js'
import { RateLimited, type RequestLimits } from '../limits/index.js'
import { CommonParams, LEGACY_ACTIONS, LegacyErrorSchema } from './actions.js'
import { CONTENT_TYPES, RESPONSE_TYPES, render, type LegacyReply, type ResponseType } from './format.js'
import { FORM_LIMITS, parseForm, type LegacyParams } from './params.js'

export interface LegacyApiOptions {
  credentials: CredentialService
  apiClients: ApiClientService
  limits: RequestLimits
  /** API_ACCESS_KEY: when sent as `accesskey`, it lets a caller past its IP allow-list. */
  accessKey?: string
}

export const LEGACY_PATH = '/includes/api.php'
const INTERNAL_ERROR = 'An internal error occurred.'
const actionsByName = new Map(LEGACY_ACTIONS.map((action) => [action.name.toLowerCase(), action]))

/** A refusal at one of the checks before an action runs (SPEC §4), with its HTTP status. */
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
export default async function legacyApi(app: FastifyInstance, options: LegacyApiOptions) {
  await app.register(formbody, { parser: parseForm })
  await app.register(multipart, {
    limits: { fields: FORM_LIMITS.parameters, fieldSize: FORM_LIMITS.fieldBytes, files: 0, parts: FORM_LIMITS.parameters },
  })

  // Parsing failures (bad JSON, too large, unknown content type) answer in the legacy shape.
  app.setErrorHandler(async (error: Error & { statusCode?: number }, request, reply) => {
    const status = error.statusCode ?? 500
    if (status >= 500) request.log.error({ err: error }, 'legacy request failed')
    const requested = requestedType(parseForm(queryString(request)).responsetype)
    const type = isResponseType(requested) ? requested : 'json'
    const message = status < 500 ? error.message : INTERNAL_ERROR
    return send(reply, status, { result: 'error', message }, type, '')
  })

  async function handle(request: FastifyRequest, reply: FastifyReply) {
    const params = await readParams(request)
    const action = plain(params.action)
    const type = requestedType(params.responsetype)
    if (!isResponseType(type)) {
      const message = `Unsupported API response type format "${type}". Supported formats include: json, xml, nvp`
      return send(reply, 400, { result: 'error', message }, 'json', '')
    }
    try {
      const client = await authorize(request, params, action)
      const definition = actionsByName.get(action.toLowerCase())
      if (!definition) return send(reply, 200, { result: 'error', message: 'API Function Not Found' }, type, action)
      const actor = { actor: client.identifier, source: 'legacy' as const, requestId: request.id }
      const answer = await definition.run(params, { credentials: options.credentials, actor })
      return send(reply, 200, answer, type, action)
    } catch (error) {
      if (error instanceof Refusal) {
        return send(reply, error.statusCode, { result: 'error', message: error.message }, type, action)
      }
      if (error instanceof RateLimited) {
        const answer = { result: 'error' as const, message: error.message }
        return send(reply.header('retry-after', String(error.retryAfterSeconds)), 429, answer, type, action)
      }
      if (error instanceof CredentialError) {
        return send(reply, 200, { result: 'error', message: error.message }, type, action)
      }
      if (isDatabaseUnavailable(error)) {
        request.log.warn({ err: error }, 'database unavailable')
        const message = 'The service is temporarily unavailable. Please try again.'
        return send(reply.header('retry-after', '5'), 503, { result: 'error', message }, type, action)
      }
      request.log.error({ err: error }, 'legacy request failed')
      return send(reply, 500, { result: 'error', message: INTERNAL_ERROR }, type, action)
    }
  }

  /** The original's order of checks: address or access key, action, credentials, permission. */
  async function authorize(request: FastifyRequest, params: LegacyParams, action: string) {
    await options.limits.admitAddress(request)
    const identifier = plain(params.identifier) || plain(params.username)
    const secret = plain(params.secret) || plain(params.password)
    const accessKey = plain(params.accesskey) || undefined
    const client = identifier === '' ? null : await options.apiClients.find(identifier)
    const refuseAuthentication = async (message: string) => {
      await options.limits.authenticationFailed(request)
      return new Refusal(403, message)
    }
    // As in the original, the access key is only consulted for an address the allow-list
    // refuses: callers that always send one keep working from allowed addresses.
    if (client && !ipAllowed(client, request.ip)) {
      if (accessKey === undefined) throw new Refusal(403, refusals.address(request.ip))
      if (!sameText(accessKey, options.accessKey)) throw await refuseAuthentication('Invalid Access Key')
    }
    if (action === '') throw new Refusal(400, 'Empty action request')
    if (identifier === '' || secret === '') throw await refuseAuthentication(refusals.missing)
    if (!secretAccepted(client, secret)) throw await refuseAuthentication(refusals.failed)
    setActor(request, client.identifier)
    await options.limits.admitCaller(request, client.identifier)
    const known = actionsByName.get(action.toLowerCase())?.name ?? action
    if (!mayRun(client, known)) {
      throw new Refusal(403, refusals.permission(known))
    }
    return client
  }

  const LegacyRequest = Type.Union(
    LEGACY_ACTIONS.map((action) => action.request),
    { description: 'The parameters of each action; `action` selects one.' },
  )
  const LegacyResponse = Type.Union([...LEGACY_ACTIONS.map((action) => action.response), LegacyErrorSchema])
  const documented = (status: string, example: LegacyReply = { result: 'success', credentialId: '1' }) => ({
    description: status,
    content: {
      'application/json': {
        schema: status === 'Success or action error' ? LegacyResponse : LegacyErrorSchema,
        example,
      },
      'application/xml': {
        schema: Type.String({ description: '`<whmcsapi>` document' }),
        example: render(example, 'xml', 'UpdateOAuthCredential'),
      },
      'text/plain': {
        schema: Type.String({ description: 'NVP: `result=success;credentialId=1`' }),
        example: render(example, 'nvp', 'UpdateOAuthCredential'),
      },
    },
  })
  const schema = {
    tags: ['legacy'],
    // Callers authenticate with form fields (identifier + secret), which OpenAPI security
    // schemes cannot express; the description and request schema document them.
    security: [],
    summary: 'Legacy action API (api.php)',
    description:
      'The billing system action API. `action` selects ' +
      LEGACY_ACTIONS.map((action) => `\`${action.name}\``).join(', ') +
      '. Answers in `responsetype` (json, xml or nvp; nvp when left out).',
    response: {
      200: documented('Success or action error'),
      400: documented('Empty action request, or unsupported response type', { result: 'error', message: 'Empty action request' }),
      403: documented('Invalid IP, access key, credentials or permissions', { result: 'error', message: refusals.failed }),
      503: documented('Database unavailable', {
        result: 'error',
        message: 'The service is temporarily unavailable. Please try again.',
      }),
    },
  }
  // The schemas document the wire format; api.php itself answers bad input with the
  // original's messages, from the credential service, so Ajv does not reject anything here.
  const acceptAll = () => () => true
  app.post(LEGACY_PATH, {
    schema: {
      ...schema,
      operationId: 'legacyApiPost',
      body: {
        content: {
          'application/x-www-form-urlencoded': { schema: LegacyRequest },
          'multipart/form-data': { schema: LegacyRequest },
          'application/json': { schema: LegacyRequest },
        },
      },
    },
    validatorCompiler: acceptAll,
    handler: handle,
  })
  app.get(LEGACY_PATH, {
    schema: {
      ...schema,
      operationId: 'legacyApiGet',
      querystring: Type.Object({ action: Type.String(), ...CommonParams }, { additionalProperties: true }),
    },
    validatorCompiler: acceptAll,
    handler: handle,
  })
}

function queryString(request: FastifyRequest): string {
  const url = request.raw.url ?? ''
  const start = url.indexOf('?')
  return start === -1 ? '' : url.slice(start + 1)
}

/** PHP's `$_REQUEST`: the query string, overridden by the body, whatever its encoding. */
async function readParams(request: FastifyRequest): Promise<LegacyParams> {
  const query = parseForm(queryString(request))
  if (request.isMultipart()) {
    const fields = new URLSearchParams()
    try {
      for await (const part of request.parts()) {
        if (part.type === 'field') fields.append(part.fieldname, String(part.value))
      }
    } catch (error) {
      // The multipart plugin's limits carry their status (413); busboy's parse errors do not.
      if ((error as { statusCode?: number }).statusCode) throw error
      throw Object.assign(new Error('The multipart/form-data body is malformed.'), { statusCode: 400 })
    }
    return { ...query, ...parseForm(fields.toString()) }
  }
  const body = request.body
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? { ...query, ...body } : query
}

/** A parameter the checks read: anything but one plain string (e.g. `action[]=x`) counts as missing. */
function plain(value: unknown): string {
  return typeof value === 'string' ? value : ''
}

/** The `responsetype` asked for; these actions answer in NVP when it is left out. */
function requestedType(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value.toLowerCase() : 'nvp'
}

function isResponseType(type: string): type is ResponseType {
  return (RESPONSE_TYPES as readonly string[]).includes(type)
}

function sameText(given: string, expected: string | undefined): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest()
  return expected !== undefined && timingSafeEqual(digest(given), digest(expected))
}

function send(reply: FastifyReply, status: number, answer: LegacyReply, type: ResponseType, action: string) {
  return reply.code(status).type(CONTENT_TYPES[type]).send(render(answer, type, action))
}
