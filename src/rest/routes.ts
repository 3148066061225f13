import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { refusals, type Action, type ApiClientService } from '../api-clients/service.js'
import { messages } from '../credentials/errors.js'
import type { RequestLimits } from '../limits/index.js'
import type { Actor, AuditEventView, CredentialService, CredentialView } from '../credentials/service.js'
import { authorize } from './auth.js'
import { CHALLENGE, HttpProblem, PROBLEM_TYPE, problem, problemHandler } from './problem.js'
import { restValidatorCompiler } from './validation.js'
import {
  AuthenticateBody,
  CreateCredentialBody,
  CreatedCredentialSchema,
  CredentialIdParams,
  CredentialPageSchema,
  CredentialPatchBody,
  CredentialSchema,
  DryRunQuery,
  EventPageSchema,
  EventsQuery,
  ListQuery,
  NAMED_SCHEMAS,
  PAGE_LIMIT,
  ProblemSchema,
  RotateSecretBody,
  RotatedCredentialSchema,
  UpdatedCredentialSchema,
  type CredentialBody,
} from './schemas.js'

export interface RestOptions {
  credentials: CredentialService
  apiClients: ApiClientService
  limits: RequestLimits
}

export const REST_PREFIX = '/oauth/credentials'
export const MERGE_PATCH_TYPE = 'application/merge-patch+json'

/** Each problem status: when it happens, and a typical `detail`. */
const PROBLEMS: Record<number, [description: string, example: string]> = {
  400: [
    'The request breaks the schema, or the credential would be invalid (`detail` says why).',
    messages.scopeInvalid('admin'),
  ],
  401: ['Missing or wrong API credential (HTTP Basic).', refusals.failed],
  403: [
    'The API credential may not run this operation, or not from this address.',
    refusals.permission('UpdateOAuthCredential'),
  ],
  404: ['No credential with this id.', messages.credentialIdInvalid],
  409: ['A rotation with a grace period is already running.', messages.rotationInProgress('2026-11-27T22:07:13.000Z')],
  412: ['If-Match does not match the current ETag; nothing was written.', messages.versionMismatch],
  413: ['The body is too large.', 'Request body is too large'],
  415: ['Unsupported content type.', 'Unsupported Media Type: text/plain'],
  429: ['Too many requests from this address or API credential; see Retry-After.', 'Rate limit exceeded, retry in 1 minute'],
  500: ['Unexpected failure.', 'An internal error occurred.'],
  503: ['The database is unavailable; retry later.', 'The service is temporarily unavailable. Please try again.'],
}

const headerDoc = (description: string) => ({ type: 'string', description })
const HEADERS = {
  etag: headerDoc('Strong entity tag of this version of the credential; send it back in If-Match.'),
  location: headerDoc('URL of the new credential.'),
  link: headerDoc('RFC 8288 link to the next page (rel="next"), when there is one.'),
}

function answer(description: string, schema: TSchema, headers: Partial<typeof HEADERS> = {}) {
  const example = (schema.examples as unknown[] | undefined)?.[0]
  // Named schemas are referenced, so the document and generated SDKs name them once.
  const reference = schema.$id === undefined ? schema : Type.Ref(schema)
  return { description, headers, content: { 'application/json': { schema: reference, example } } }
}

/** Problem responses: the statuses every operation can answer, plus the ones given. */
function problems(...statuses: number[]) {
  const all = [...new Set([401, 403, ...statuses, 429, 500, 503])].sort((a, b) => a - b)
  return Object.fromEntries(
    all.map((status) => {
      const [description, detail] = PROBLEMS[status] ?? ['', '']
      const example = problem(status, detail, status === 400 ? [{ in: 'body', pointer: '/scope', detail }] : undefined)
      return [
        status,
        {
          description,
          headers: PROBLEM_HEADERS[status] ?? {},
          content: { [PROBLEM_TYPE]: { schema: Type.Ref(ProblemSchema), example } },
        },
      ]
    }),
  )
}
const PROBLEM_HEADERS: Record<number, Record<string, { type: string; description: string }>> = {
  401: { 'www-authenticate': headerDoc('Basic realm="oauth-credentials"') },
  429: { 'retry-after': headerDoc('Seconds until the limit resets.') },
  503: { 'retry-after': headerDoc('Seconds to wait before retrying.') },
}
const BODY_PROBLEMS = [400, 413, 415]

const security = [{ basicAuth: [] }]
const tags = ['credentials']

/** Strong ETag from the id and version: every change of settings or secret gives a new one. */
export function etagOf(credential: Pick<CredentialView, 'id' | 'version'>): string {
  return `"${credential.id}-${credential.version}"`
}

/**
 * The versions an If-Match header accepts for this credential. `*` accepts any; tags of other
 * credentials or weak tags accept none (If-Match compares strongly, RFC 9110 §13.1.1).
 */
export function versionsMatching(ifMatch: string, credentialId: number): number[] | undefined {
  if (ifMatch.trim() === '*') return undefined
  return ifMatch
    .split(',')
    .map((tag) => /^"(\d+)-(\d+)"$/.exec(tag.trim()))
    .filter((match) => match !== null && Number(match[1]) === credentialId)
    .map((match) => Number(match?.[2]))
}

function toRest(credential: CredentialView): CredentialBody {
  return {
    credentialId: credential.id,
    clientIdentifier: credential.clientIdentifier,
    name: credential.name,
    description: credential.description,
    grantType: credential.grantType,
    scope: credential.scopes.join(' '),
    serviceId: credential.serviceId,
    logoUri: credential.logoUri,
    redirectUri: credential.redirectUris,
    version: credential.version,
    lastUsedAt: credential.lastUsedAt?.toISOString() ?? null,
    previousSecretExpiresAt: credential.previousSecretExpiresAt?.toISOString() ?? null,
    createdAt: credential.createdAt.toISOString(),
    updatedAt: credential.updatedAt.toISOString(),
  }
}

function eventToRest(event: AuditEventView) {
  return { ...event, createdAt: event.createdAt.toISOString() }
}

/** Cursors are opaque to clients: the last id of the page, encoded. */
function encodeCursor(id: number): string {
  return Buffer.from(`id:${id}`).toString('base64url')
}

function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined
  const match = /^id:(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  if (!match) {
    const detail = 'The cursor is invalid: pass the `next` value of a previous page.'
    throw new HttpProblem(400, detail, [{ in: 'query', pointer: '/cursor', detail }])
  }
  return Number(match[1])
}

/** Answers one page: `next` in the body, and the same as an RFC 8288 Link header. */
function sendPage<T>(request: FastifyRequest, reply: FastifyReply, items: T[], limit: number, lastId: (item: T) => number) {
  const page = items.slice(0, limit)
  const last = page.at(-1)
  const next = items.length > limit && last !== undefined ? encodeCursor(lastId(last)) : null
  if (next !== null) {
    const url = new URL(request.url, 'http://localhost')
    url.searchParams.set('cursor', next)
    reply.header('link', `<${url.pathname}${url.search}>; rel="next"`)
  }
  return { items: page, next }
}

/**
 * `/oauth/credentials`: the REST resource over the same credential service as api.php. Routes
 * translate HTTP to service calls and back; the service decides. Errors leave as problem+json
 * from one handler.
 */
const restApi: FastifyPluginAsyncTypebox<RestOptions> = async (app, { credentials, apiClients, limits }) => {
  app.setErrorHandler(problemHandler)
  for (const schema of NAMED_SCHEMAS) app.addSchema(schema)
  // Answers carry client secrets or data about them: no cache may keep a copy.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
  })
  app.setValidatorCompiler(restValidatorCompiler)
  // JSON only: a text body would pass unvalidated to routes that document JSON schemas.
  app.removeContentTypeParser('text/plain')

  const guard = (action: Action) => async (request: FastifyRequest) => authorize(apiClients, limits, request, action)
  const actor = (request: FastifyRequest): Actor => ({
    actor: request.apiClient?.identifier ?? '',
    source: 'rest',
    requestId: request.id,
  })

  app.post('', {
    schema: {
      operationId: 'createCredential',
      summary: 'Create a credential',
      description: 'Creates an OAuth client credential. The client secret is in this answer only.',
      tags,
      security,
      body: CreateCredentialBody,
      response: {
        201: answer('Created; the client secret is shown this once.', CreatedCredentialSchema, {
          location: HEADERS.location,
          etag: HEADERS.etag,
        }),
        ...problems(...BODY_PROBLEMS),
      },
    },
    preHandler: guard('CreateOAuthCredential'),
    handler: async (request, reply) => {
      const { credential, clientSecret } = await credentials.create(request.body, actor(request))
      reply.code(201).header('location', `${REST_PREFIX}/${credential.id}`).header('etag', etagOf(credential))
      return { ...toRest(credential), clientSecret }
    },
  })

  app.get('', {
    schema: {
      operationId: 'listCredentials',
      summary: 'List credentials',
      description: 'Credentials in ascending id order, a page at a time. Never their secrets.',
      tags,
      security,
      querystring: ListQuery,
      response: { 200: answer('A page of credentials.', CredentialPageSchema, { link: HEADERS.link }), ...problems(400) },
    },
    preHandler: guard('ListOAuthCredentials'),
    handler: async (request, reply) => {
      const { grantType, clientIdentifier, cursor, limit = PAGE_LIMIT.default } = request.query
      const found = await credentials.list({ grantType, clientIdentifier, afterId: decodeCursor(cursor), limit: limit + 1 })
      return sendPage(request, reply, found.map(toRest), limit, (item) => item.credentialId)
    },
  })

  app.post('/authenticate', {
    schema: {
      operationId: 'authenticateClient',
      summary: 'Check a client secret',
      description:
        'What an authorization server calls to check client credentials (secrets are stored hashed). ' +
        'Honours the previous secret during a rotation grace period and records lastUsedAt.',
      tags,
      security,
      body: AuthenticateBody,
      response: {
        200: answer('The client credentials are valid: the credential, without any secret.', CredentialSchema),
        ...problems(...BODY_PROBLEMS),
      },
    },
    preHandler: guard('AuthenticateOAuthCredential'),
    handler: async (request) => {
      const { clientIdentifier, clientSecret } = request.body
      const credential = await credentials.authenticate(clientIdentifier, clientSecret)
      if (!credential) throw new HttpProblem(401, 'The client identifier or secret is wrong.', undefined, CHALLENGE)
      return toRest(credential)
    },
  })

  app.get('/:credentialId', {
    schema: {
      operationId: 'getCredential',
      summary: 'Get a credential',
      tags,
      security,
      params: CredentialIdParams,
      response: { 200: answer('The credential.', CredentialSchema, { etag: HEADERS.etag }), ...problems(400, 404) },
    },
    preHandler: guard('GetOAuthCredential'),
    handler: async (request, reply) => {
      const credential = await credentials.get({ credentialId: request.params.credentialId })
      reply.header('etag', etagOf(credential))
      return toRest(credential)
    },
  })

  // In its own scope, so that only PATCH accepts JSON Merge Patch bodies.
  await app.register(async (patchScope) => {
    patchScope.addContentTypeParser(MERGE_PATCH_TYPE, { parseAs: 'string' }, patchScope.getDefaultJsonParser('error', 'error'))
    patchScope.withTypeProvider<TypeBoxTypeProvider>().patch('/:credentialId', {
      schema: {
        operationId: 'updateCredential',
        summary: 'Update a credential (JSON Merge Patch)',
        description:
          'The seed\'s UpdateOAuthCredential as RFC 7396 JSON Merge Patch: fields left out keep their ' +
          'values, null clears an optional field. The result is validated as a whole; nothing is ' +
          'written unless all of it passes. Send If-Match with the ETag you read to avoid lost updates.',
        tags,
        security,
        params: CredentialIdParams,
        querystring: DryRunQuery,
        headers: {
          type: 'object',
          properties: { 'if-match': { type: 'string', description: 'ETag of the version this change is based on.' } },
        },
        body: {
          content: {
            [MERGE_PATCH_TYPE]: { schema: CredentialPatchBody },
            'application/json': { schema: CredentialPatchBody },
          },
        },
        response: {
          200: answer(
            'Updated (or, with dryRun, what it would be). newClientSecret only when resetSecret was true.',
            UpdatedCredentialSchema,
            { etag: HEADERS.etag },
          ),
          ...problems(...BODY_PROBLEMS, 404, 412),
        },
      },
      preHandler: guard('UpdateOAuthCredential'),
      handler: async (request, reply) => {
        const { credentialId } = request.params
        const { resetSecret, ...changes } = request.body as Static<typeof CredentialPatchBody>
        const ifMatch = request.headers['if-match']
        const dryRun = request.query.dryRun === true
        const { credential, newClientSecret } = await credentials.update({ credentialId }, changes, actor(request), {
          resetSecret,
          dryRun,
          expectedVersion: ifMatch === undefined ? undefined : versionsMatching(ifMatch, credentialId),
        })
        if (!dryRun) reply.header('etag', etagOf(credential))
        return newClientSecret === undefined ? toRest(credential) : { ...toRest(credential), newClientSecret }
      },
    })
  })

  app.delete('/:credentialId', {
    schema: {
      operationId: 'deleteCredential',
      summary: 'Delete a credential',
      description: 'Removes the credential; its audit trail stays.',
      tags,
      security,
      params: CredentialIdParams,
      response: { 204: { description: 'Deleted.', type: 'null' }, ...problems(400, 404) },
    },
    preHandler: guard('DeleteOAuthCredential'),
    handler: async (request, reply) => {
      await credentials.delete({ credentialId: request.params.credentialId }, actor(request))
      return reply.code(204).send()
    },
  })

  app.post('/:credentialId/secret', {
    schema: {
      operationId: 'rotateCredentialSecret',
      summary: 'Rotate the client secret',
      description:
        'Issues a new client secret, shown once. With graceSeconds the previous secret keeps working ' +
        'until previousSecretExpiresAt, so clients can be redeployed without an outage.',
      tags,
      security,
      params: CredentialIdParams,
      body: RotateSecretBody,
      response: {
        200: answer('The new secret, and until when the previous one works.', RotatedCredentialSchema, {
          etag: HEADERS.etag,
        }),
        ...problems(...BODY_PROBLEMS, 404, 409),
      },
    },
    // Rotating needs no options: an empty body means "no grace period".
    preValidation: async (request) => {
      request.body ??= {}
    },
    preHandler: guard('RotateOAuthCredentialSecret'),
    handler: async (request, reply) => {
      const { credential, clientSecret } = await credentials.rotateSecret(
        { credentialId: request.params.credentialId },
        request.body.graceSeconds ?? 0,
        actor(request),
      )
      reply.header('etag', etagOf(credential))
      return { ...toRest(credential), clientSecret }
    },
  })

  app.get('/:credentialId/events', {
    schema: {
      operationId: 'listCredentialEvents',
      summary: 'List a credential\'s audit trail',
      description: 'Who changed what and when, newest first. Field names only, never values or secrets.',
      tags,
      security,
      params: CredentialIdParams,
      querystring: EventsQuery,
      response: { 200: answer('A page of audit events.', EventPageSchema, { link: HEADERS.link }), ...problems(400, 404) },
    },
    preHandler: guard('ListOAuthCredentialEvents'),
    handler: async (request, reply) => {
      const { credentialId } = request.params
      const { cursor, limit = PAGE_LIMIT.default } = request.query
      const beforeId = decodeCursor(cursor)
      const events = await credentials.events(credentialId, { limit: limit + 1, beforeId })
      // The trail outlives its credential; no events at all means there never was one.
      if (events.length === 0 && beforeId === undefined) await credentials.get({ credentialId })
      return sendPage(request, reply, events.map(eventToRest), limit, (event) => event.id)
    },
  })
}

export default restApi
