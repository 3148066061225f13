import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Actor, Credential } from '../credentials/credential.js'
import { credentialNotFound } from '../credentials/errors.js'
import { splitScopes } from '../schemas/credential.js'
import { refusals } from '../api-clients/access.js'
import { requireSecretIssuing } from '../http/authorization.js'
import { admit, callerOf, guard } from './auth.js'
import { etagOf, preconditionOf } from './etag.js'
import { always, answer, BODY_PROBLEMS, HEADERS, OPERATION, problems } from './openapi.js'
import { answerUnknownRoutes } from './not-found.js'
import { decodeCursor, sendPage } from './paging.js'
import { challengeFor, HttpProblem, problemHandler } from './problem.js'
import {
  AuthenticateBody,
  CANONICAL_ID,
  CreateCredentialBody,
  CreatedCredentialSchema,
  CredentialIdParams,
  CredentialPageSchema,
  CredentialPatchBody,
  CredentialSchema,
  DryRunQuery,
  EventPageSchema,
  EventsQuery,
  IfMatchHeaders,
  ListQuery,
  NAMED_SCHEMAS,
  PAGE_LIMIT,
  RotateSecretBody,
  RotatedCredentialSchema,
  UpdatedCredentialSchema,
} from './schemas.js'
import { restValidatorCompiler } from './validation.js'
import { credentialBody, eventBody } from './wire.js'

const REST_PREFIX = '/oauth/credentials'
const MERGE_PATCH_TYPE = 'application/merge-patch+json'
/** What Fastify sends serialized JSON as. */
const JSON_TYPE = 'application/json; charset=utf-8'
const CLIENT_REFUSED = 'The client identifier or secret is wrong.'

/**
 * POST …/authenticate answers 401 for its caller's credential and for the client's it checks,
 * with a Basic challenge either way (a 401 must carry one, RFC 9110); `detail` tells them apart.
 */
const AUTHENTICATE_PROBLEMS = (() => {
  const answers = problems(...BODY_PROBLEMS)
  const description =
    'Missing or wrong API credential (HTTP Basic), or a wrong client identifier or secret: detail says which ' +
    `("${refusals.missing}", "${refusals.failed}" or "${CLIENT_REFUSED}").`
  return { ...answers, 401: { ...answers[401], description } }
})()

/** POST …/authenticate's answers, serialized, by the credential object the service answered. */
const answers = new WeakMap<Credential, string>()

/** Who made a change, for the audit trail: the API credential that authenticated. */
function actor(request: FastifyRequest): Actor {
  return { actor: callerOf(request).identifier, source: 'rest', requestId: request.id }
}

/**
 * `/oauth/credentials`: the REST resource over the same credential service as api.php. Routes
 * translate HTTP to service calls and back; the service decides. Errors leave as problem+json
 * from one handler.
 */
const resource: FastifyPluginAsyncTypebox = async (app) => {
  const { credentials } = app
  app.setErrorHandler(problemHandler)
  const fixedPathRefusal = answerUnknownRoutes(app)
  for (const schema of NAMED_SCHEMAS) app.addSchema(schema)
  app.setValidatorCompiler(restValidatorCompiler)
  // Before the id is converted to a number: only canonical digits name a credential, and a
  // fixed path (GET …/authenticate) is not one.
  app.addHook('preValidation', (request, _reply, done) => {
    const { credentialId } = request.params as { credentialId?: string }
    if (credentialId === undefined || CANONICAL_ID.test(credentialId)) return done()
    done(fixedPathRefusal(request) ?? credentialNotFound())
  })
  // JSON only: a text body would pass unvalidated to routes that document JSON schemas.
  app.removeContentTypeParser('text/plain')

  app.post('', {
    schema: {
      operationId: 'createCredential',
      summary: 'Create a credential',
      description: 'Creates an OAuth client credential. The client secret is in this answer only.',
      ...OPERATION,
      body: Type.Ref(CreateCredentialBody),
      response: {
        201: answer('Created; the client secret is shown this once.', CreatedCredentialSchema, {
          location: always(HEADERS.location),
          etag: always(HEADERS.etag),
        }),
        ...problems(...BODY_PROBLEMS),
      },
    },
    onRequest: guard(app, 'CreateOAuthCredential'),
    handler: async (request, reply) => {
      const { scope, redirectUri, ...fields } = request.body
      const created = { ...fields, scopes: splitScopes(scope), redirectUris: redirectUri }
      const { credential, clientSecret } = await credentials.create(created, actor(request))
      reply.code(201).header('location', `${REST_PREFIX}/${credential.credentialId}`).header('etag', etagOf(credential))
      return { ...credentialBody(credential), clientSecret }
    },
  })

  app.get('', {
    schema: {
      operationId: 'listCredentials',
      summary: 'List credentials',
      description: 'Credentials in ascending id order, a page at a time. Never their secrets.',
      ...OPERATION,
      querystring: ListQuery,
      response: { 200: answer('A page of credentials.', CredentialPageSchema, { link: HEADERS.link }), ...problems(400) },
    },
    onRequest: guard(app, 'ListOAuthCredentials'),
    handler: async (request, reply) => {
      const { grantType, clientIdentifier, cursor, limit = PAGE_LIMIT.default } = request.query
      const found = await credentials.list({ grantType, clientIdentifier, afterId: decodeCursor(cursor), limit: limit + 1 })
      return sendPage(request, reply, found.map(credentialBody), limit, (item) => item.credentialId)
    },
  })

  app.post('/authenticate', {
    schema: {
      operationId: 'authenticateClient',
      summary: 'Check a client secret',
      description:
        'What an authorization server calls to check client credentials (secrets are stored hashed). ' +
        'Honours the previous secret during a rotation grace period and records lastUsedAt. Wrong secrets ' +
        'are counted per address and per client identifier; past either budget a wrong secret is answered ' +
        '429, and the right one still authenticates.',
      ...OPERATION,
      body: Type.Ref(AuthenticateBody),
      response: {
        200: answer('The client credentials are valid: the credential, without any secret.', CredentialSchema),
        ...AUTHENTICATE_PROBLEMS,
      },
    },
    onRequest: guard(app, 'AuthenticateOAuthCredential'),
    handler: async (request, reply) => {
      const { clientIdentifier, clientSecret } = request.body
      // The secret is checked first, so that the request's budgets, a wrong secret's included,
      // are one decision (one round trip with Redis); its use is recorded once admitted.
      const checking = credentials.checkSecret(clientIdentifier, clientSecret)
      const checked = checking instanceof Promise ? await checking : checking
      const pending = admit(request, checked ? undefined : { clientFailed: { client: clientIdentifier, exists: checked !== undefined } })
      if (pending) await pending
      if (!checked) throw new HttpProblem(401, CLIENT_REFUSED, undefined, challengeFor(request))
      const used = credentials.recordUse(checked)
      const credential = used instanceof Promise ? await used : used
      // The same credential object until it changes (or its lastUsedAt does): serialized once.
      let json = answers.get(credential)
      if (json === undefined) {
        json = String(reply.serializeInput(credentialBody(credential), '200', 'application/json'))
        answers.set(credential, json)
      }
      reply.header('content-type', JSON_TYPE)
      return json
    },
  })

  app.get('/:credentialId', {
    schema: {
      operationId: 'getCredential',
      summary: 'Get a credential',
      description: 'The credential, never its secret. Its ETag (header and `etag`) is what If-Match takes.',
      ...OPERATION,
      params: CredentialIdParams,
      response: { 200: answer('The credential.', CredentialSchema, { etag: always(HEADERS.etag) }), ...problems(400, 404) },
    },
    onRequest: guard(app, 'GetOAuthCredential'),
    handler: async (request, reply) => {
      const credential = await credentials.get({ credentialId: request.params.credentialId })
      reply.header('etag', etagOf(credential))
      return credentialBody(credential)
    },
  })

  // In its own scope, so that only PATCH accepts JSON Merge Patch bodies. Named: an anonymous
  // plugin is named after its source text, which traces then show in its hooks' span names.
  await app.register(async function mergePatchScope(patchScope) {
    patchScope.addContentTypeParser(MERGE_PATCH_TYPE, { parseAs: 'string' }, patchScope.getDefaultJsonParser('error', 'error'))
    patchScope.withTypeProvider<TypeBoxTypeProvider>().patch('/:credentialId', {
      schema: {
        operationId: 'updateCredential',
        summary: 'Update a credential (JSON Merge Patch)',
        description:
          'The seed\'s UpdateOAuthCredential as RFC 7396 JSON Merge Patch: fields left out keep their ' +
          'values, null clears an optional field. The result is validated as a whole; nothing is ' +
          'written unless all of it passes. Send If-Match with the ETag you read to avoid lost updates. ' +
          `The body is \`${MERGE_PATCH_TYPE}\`; \`application/json\` is accepted too, with the same meaning.`,
        ...OPERATION,
        params: CredentialIdParams,
        querystring: DryRunQuery,
        headers: IfMatchHeaders,
        // One documented type, so generated clients send it; the schema validates both.
        consumes: [MERGE_PATCH_TYPE],
        body: Type.Ref(CredentialPatchBody),
        response: {
          200: answer(
            'Updated (or, with dryRun, what it would be). newClientSecret only when resetSecret was true.',
            UpdatedCredentialSchema,
            { etag: HEADERS.etag },
          ),
          ...problems(...BODY_PROBLEMS, 404, 409, 412),
        },
      },
      onRequest: guard(app, 'UpdateOAuthCredential'),
      handler: async (request, reply) => {
        const { credentialId } = request.params
        const { resetSecret, scope, redirectUri, ...fields } = request.body
        if (resetSecret) requireSecretIssuing(callerOf(request))
        const changes = { ...fields, scopes: splitScopes(scope), redirectUris: redirectUri }
        const dryRun = request.query.dryRun === true
        const { credential, newClientSecret } = await credentials.update({ credentialId }, changes, actor(request), {
          resetSecret,
          dryRun,
          ...preconditionOf(request.headers['if-match'], credentialId),
        })
        if (!dryRun) reply.header('etag', etagOf(credential))
        return newClientSecret === undefined ? credentialBody(credential) : { ...credentialBody(credential), newClientSecret }
      },
    })
  })

  app.delete('/:credentialId', {
    schema: {
      operationId: 'deleteCredential',
      summary: 'Delete a credential',
      description: 'Removes the credential; its audit trail stays. With If-Match, only the version it names.',
      ...OPERATION,
      params: CredentialIdParams,
      headers: IfMatchHeaders,
      response: { 204: { description: 'Deleted.', type: 'null' }, ...problems(400, 404, 409, 412) },
    },
    onRequest: guard(app, 'DeleteOAuthCredential'),
    handler: async (request, reply) => {
      const credentialId = request.params.credentialId
      await credentials.delete({ credentialId }, actor(request), preconditionOf(request.headers['if-match'], credentialId))
      return reply.code(204).send()
    },
  })

  app.post('/:credentialId/secret', {
    schema: {
      operationId: 'rotateCredentialSecret',
      summary: 'Rotate the client secret',
      description:
        'Issues a new client secret, shown once. With graceSeconds the previous secret keeps working ' +
        'until previousSecretExpiresAt, so clients can be redeployed without an outage. With If-Match, ' +
        'only the version it names.',
      ...OPERATION,
      params: CredentialIdParams,
      headers: IfMatchHeaders,
      body: Type.Ref(RotateSecretBody),
      response: {
        200: answer('The new secret, and until when the previous one works.', RotatedCredentialSchema, {
          etag: always(HEADERS.etag),
        }),
        ...problems(...BODY_PROBLEMS, 404, 409, 412),
      },
    },
    onRequest: guard(app, 'RotateOAuthCredentialSecret'),
    handler: async (request, reply) => {
      const credentialId = request.params.credentialId
      const { credential, clientSecret } = await credentials.rotateSecret(
        { credentialId },
        request.body.graceSeconds ?? 0,
        actor(request),
        preconditionOf(request.headers['if-match'], credentialId),
      )
      reply.header('etag', etagOf(credential))
      return { ...credentialBody(credential), clientSecret }
    },
  })

  app.get('/:credentialId/events', {
    schema: {
      operationId: 'listCredentialEvents',
      summary: 'List a credential\'s audit trail',
      description: 'Who changed what and when, newest first. Field names only, never values or secrets.',
      ...OPERATION,
      params: CredentialIdParams,
      querystring: EventsQuery,
      response: { 200: answer('A page of audit events.', EventPageSchema, { link: HEADERS.link }), ...problems(400, 404) },
    },
    onRequest: guard(app, 'ListOAuthCredentialEvents'),
    handler: async (request, reply) => {
      const credentialId = request.params.credentialId
      const { cursor, limit = PAGE_LIMIT.default } = request.query
      const beforeId = decodeCursor(cursor, Number.MAX_SAFE_INTEGER)
      const events = await credentials.events(credentialId, { limit: limit + 1, beforeId })
      return sendPage(request, reply, events.map(eventBody), limit, (event) => event.id)
    },
  })
}

/** The resource, under its path. */
export default async function restApi(app: FastifyInstance) {
  await app.register(resource, { prefix: REST_PREFIX })
}
