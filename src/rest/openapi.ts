import { Type, type TSchema } from '@sinclair/typebox'
import { refusals } from '../api-clients/access.js'
import { messages } from '../credentials/errors.js'
import { INTERNAL_ERROR, UNAVAILABLE } from '../http/errors.js'
import { TOO_MANY_REQUESTS } from '../limits/index.js'
import { PROBLEM_TYPE, problem } from './problem.js'
import { ETAG_FORM, ProblemSchema } from './schemas.js'

/*
 * What the OpenAPI document says of the REST operations beyond their schemas: the answers,
 * their headers, and an example of each problem.
 */

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
  409: [
    'A rotation with a grace period is already running, or the credential could not be written in time; see Retry-After.',
    messages.rotationInProgress('2026-11-27T22:07:13.000Z'),
  ],
  412: ['If-Match does not match the current ETag; nothing was written.', messages.versionMismatch],
  413: ['The body is too large.', 'Request body is too large'],
  415: ['Unsupported content type.', 'Unsupported Media Type: text/plain'],
  429: [
    'Too many requests from this address or API credential, or too many failed authentications from this address or for this identifier or client; see Retry-After.',
    TOO_MANY_REQUESTS,
  ],
  500: ['Unexpected failure.', INTERNAL_ERROR],
  503: ['The database is unavailable; retry later.', UNAVAILABLE.message],
}

const headerDoc = (description: string) => ({ type: 'string', description })

/**
 * A header every such answer carries, so generated clients type it as present. Marked in its
 * schema, where Fastify's swagger copies it; src/http/docs.ts moves it to the header object.
 */
export const always = <H extends { type: string; description: string }>(header: H) => ({ ...header, required: true as const })

export const HEADERS = {
  etag: headerDoc(
    `This version of the credential: ${ETAG_FORM}, also in the body's \`etag\`; it covers every field but lastUsedAt. Send it back in If-Match.`,
  ),
  location: headerDoc('URL of the new credential.'),
  link: headerDoc('RFC 8288 link to the next page (rel="next"), when there is one.'),
}

const PROBLEM_HEADERS: Record<number, Record<string, { type: string; description: string }>> = {
  401: {
    'www-authenticate': headerDoc(
      'Basic realm="oauth-credentials", charset="UTF-8"; left out when the request says X-Requested-With: XMLHttpRequest, so a browser shows no login prompt.',
    ),
  },
  409: { 'retry-after': headerDoc('Seconds until trying again may succeed (the grace period ends, or the writers ahead are done).') },
  429: { 'retry-after': headerDoc('Seconds until the limit resets.') },
  503: { 'retry-after': headerDoc('Seconds to wait before retrying.') },
}

/** The problems any operation with a body can answer besides its own. */
export const BODY_PROBLEMS = [400, 413, 415]

/** Every REST operation: HTTP Basic with an API credential, under the `credentials` tag. */
export const OPERATION = { tags: ['credentials'], security: [{ basicAuth: [] }] }

/** A success answer: its schema (by reference when named), its first example, its headers. */
export function answer(description: string, schema: TSchema, headers: Partial<typeof HEADERS> = {}) {
  const example = (schema.examples as unknown[] | undefined)?.[0]
  // Named schemas are referenced, so the document and generated SDKs name them once.
  const reference = schema.$id === undefined ? schema : Type.Ref(schema)
  return { description, headers, content: { 'application/json': { schema: reference, example } } }
}

/** Problem answers: the statuses every operation can answer, plus the ones given. */
export function problems(...statuses: number[]) {
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
