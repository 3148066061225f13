import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { MAX_GRACE_SECONDS } from '../credentials/service.js'
import { MAX_ID } from '../credentials/credential.js'
import {
  ClientSecretSchema,
  DescriptionSchema,
  GrantTypeSchema,
  LogoUriSchema,
  NameSchema,
  RedirectUriListSchema,
  ScopeSchema,
  ServiceIdSchema,
  StringEnum,
} from '../schemas/credential.js'

/*
 * Request schemas check shapes (types, unknown fields, sizes, the fields every create needs,
 * the grant type's values). Values beyond that (scopes, redirect URIs, what is required for
 * which grant type) are judged by the credential service, so REST and api.php refuse the same
 * mistake with the same message; problem.ts words the schema's refusals of those two the same way.
 *
 * Every request and response body has a `$id`: the document names it as a component and SDK
 * generators name their types after it.
 */

export const PAGE_LIMIT = { default: 20, max: 100 } as const

const strict = { additionalProperties: false } as const
const DateTime = (description: string) => Type.String({ format: 'date-time', description })
const Nullable = <T extends TSchema>(schema: T) =>
  Type.Union([schema, Type.Null()], { description: schema.description })

const EXAMPLE_TIME = '2026-11-27T21:07:13.000Z'
const EXAMPLE_SECRET = 'q'.repeat(86) + '=='
const exampleCredential = {
  credentialId: 1,
  etag: '"1-1"',
  clientIdentifier: 'ACME.3q2+7w8K1m9vX0aB4cD5eQ==',
  name: 'Billing portal',
  description: 'Single sign-on for the billing portal',
  grantType: 'authorization_code',
  scope: 'clientarea:sso openid email',
  serviceId: null,
  logoUri: 'https://portal.example.com/logo.png',
  redirectUri: ['https://portal.example.com/callback'],
  version: 1,
  lastUsedAt: null,
  previousSecretExpiresAt: null,
  createdAt: EXAMPLE_TIME,
  updatedAt: EXAMPLE_TIME,
}

/** One named enum for the grant type, in requests, answers and the list filter alike. */
export const GrantType = Type.Unsafe<Static<typeof GrantTypeSchema>>({
  ...GrantTypeSchema,
  $id: 'GrantType',
  title: 'GrantType',
  examples: ['authorization_code'],
})
const GrantTypeRef = Type.Ref(GrantType)

/** The ETag's form, in the header and in every credential body. */
export const ETAG_FORM = 'a strong entity tag, `"<credentialId>-<version>"` (quotes included), e.g. `"1-3"`'

/**
 * A credential id in a path: at most MAX_ID, and written as canonical decimal digits
 * (CANONICAL_ID, checked on the text before it is converted), so `0x1a`, `010`, `+10` or `1e1`
 * never name another credential. Anything else answers 404.
 */
export const CredentialIdParams = Type.Object(
  {
    credentialId: Type.Integer({
      minimum: 1,
      maximum: MAX_ID,
      description: 'The credential id, in decimal digits without a leading zero.',
      examples: [1],
    }),
  },
  strict,
)
export const CANONICAL_ID = /^[1-9][0-9]*$/

const credentialProperties = {
  credentialId: Type.Integer({ minimum: 1 }),
  etag: Type.String({
    pattern: '^"[0-9]+-[0-9]+"$',
    description: `The ETag of this version, equal to the ETag header: ${ETAG_FORM}. Send it back in If-Match.`,
    examples: ['"1-1"'],
  }),
  clientIdentifier: Type.String({ description: 'The OAuth client_id.' }),
  name: Type.String(),
  description: Type.String(),
  grantType: GrantTypeRef,
  scope: ScopeSchema,
  serviceId: Nullable(ServiceIdSchema),
  logoUri: Nullable(LogoUriSchema),
  redirectUri: Type.Array(Type.String(), { description: RedirectUriListSchema.description }),
  version: Type.Integer({ minimum: 1, description: 'Bumped on every change; the ETag is made from it.' }),
  lastUsedAt: Nullable(DateTime('Last successful authentication; recorded at most once a minute, so it may be up to a minute behind.')),
  previousSecretExpiresAt: Nullable(
    DateTime('Until when the previous secret still authenticates, after a rotation with a grace period; once past, it no longer does.'),
  ),
  createdAt: DateTime('When the credential was created.'),
  updatedAt: DateTime('When the credential was last changed.'),
}

/** A credential as REST clients see it: never a secret or its hash. */
export const CredentialSchema = Type.Object(credentialProperties, {
  ...strict,
  $id: 'Credential',
  title: 'Credential',
  examples: [exampleCredential],
})
export type CredentialBody = Static<typeof CredentialSchema>

export const CreatedCredentialSchema = Type.Object(
  { ...credentialProperties, clientSecret: ClientSecretSchema },
  {
    ...strict,
    $id: 'CreatedCredential',
    title: 'CreatedCredential',
    examples: [{ ...exampleCredential, clientSecret: EXAMPLE_SECRET }],
  },
)

export const UpdatedCredentialSchema = Type.Object(
  {
    ...credentialProperties,
    newClientSecret: Type.Optional({ ...ClientSecretSchema, description: 'Only when resetSecret was true.' }),
  },
  {
    ...strict,
    $id: 'UpdatedCredential',
    title: 'UpdatedCredential',
    examples: [{ ...exampleCredential, etag: '"1-2"', version: 2 }],
  },
)

export const RotatedCredentialSchema = Type.Object(
  {
    ...credentialProperties,
    clientSecret: ClientSecretSchema,
  },
  {
    ...strict,
    $id: 'RotatedCredential',
    title: 'RotatedCredential',
    description: '`previousSecretExpiresAt` says when the old secret stops working (null: it already has, with no grace period).',
    examples: [{ ...exampleCredential, etag: '"1-2"', version: 2, previousSecretExpiresAt: EXAMPLE_TIME, clientSecret: EXAMPLE_SECRET }],
  },
)

export const CreateCredentialBody = Type.Object(
  {
    name: Type.Optional(NameSchema),
    description: Type.Optional(DescriptionSchema),
    grantType: GrantTypeRef,
    scope: ScopeSchema,
    serviceId: Type.Optional(Nullable(ServiceIdSchema)),
    logoUri: Type.Optional(Nullable(LogoUriSchema)),
    redirectUri: Type.Optional(RedirectUriListSchema),
  },
  {
    ...strict,
    $id: 'NewCredential',
    title: 'NewCredential',
    description:
      'name is required too for authorization_code, serviceId for single_sign_on ' +
      '(the credential service says which is missing, in the words api.php uses).',
    examples: [
      {
        name: 'Billing portal',
        grantType: 'authorization_code',
        scope: 'clientarea:sso openid email',
        redirectUri: ['https://portal.example.com/callback'],
      },
    ],
  },
)

/** RFC 7396 JSON Merge Patch: an absent field keeps its value, `null` clears an optional one. */
export const CredentialPatchBody = Type.Object(
  {
    name: Type.Optional(Nullable(NameSchema)),
    description: Type.Optional(Nullable(DescriptionSchema)),
    grantType: Type.Optional(GrantTypeRef),
    scope: Type.Optional(ScopeSchema),
    serviceId: Type.Optional(Nullable(ServiceIdSchema)),
    logoUri: Type.Optional(Nullable(LogoUriSchema)),
    redirectUri: Type.Optional(Nullable(RedirectUriListSchema)),
    resetSecret: Type.Optional(
      Type.Boolean({ description: 'Issue a new client secret now; the old one stops working at once. Needs the RotateOAuthCredentialSecret permission.' }),
    ),
  },
  {
    ...strict,
    $id: 'CredentialPatch',
    title: 'CredentialPatch',
    description: 'JSON Merge Patch (RFC 7396): fields left out keep their values; null clears an optional field.',
    examples: [{ name: 'Billing portal (EU)', logoUri: null }],
  },
)

export const RotateSecretBody = Type.Object(
  {
    graceSeconds: Type.Optional(
      // No `default: 0` in the schema: openapi-typescript makes a property with a default
      // required, and `{}` (no grace period) must stay a body its SDK can send.
      Type.Integer({
        minimum: 0,
        maximum: MAX_GRACE_SECONDS,
        description: 'How long the previous secret keeps working (at most 7 days). 0, or left out, revokes it at once.',
      }),
    ),
  },
  { ...strict, $id: 'SecretRotation', title: 'SecretRotation', examples: [{ graceSeconds: 3600 }] },
)

export const AuthenticateBody = Type.Object(
  {
    clientIdentifier: Type.String({ minLength: 1, description: 'The OAuth client_id.' }),
    clientSecret: Type.String({ minLength: 1, description: 'The secret to check.' }),
  },
  {
    ...strict,
    $id: 'ClientAuthentication',
    title: 'ClientAuthentication',
    examples: [{ clientIdentifier: exampleCredential.clientIdentifier, clientSecret: EXAMPLE_SECRET }],
  },
)

/** Optimistic concurrency: the change applies only to the version the caller read. */
export const IfMatchHeaders = Type.Object({
  'If-Match': Type.Optional(
    Type.String({
      description:
        `The ETag of the version this change is based on (${ETAG_FORM}); ` +
        'when the credential has changed since, nothing is written and the answer is 412. `*` matches any version.',
      examples: ['"1-1"'],
    }),
  ),
})

export const DryRunQuery = Type.Object(
  {
    dryRun: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'Validate and answer with the would-be credential; write nothing. The answer has no ETag header, and its ' +
          'etag and version are still the stored ones: send that etag in If-Match to make the same change for real.',
      }),
    ),
  },
  strict,
)

const pageQuery = {
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: PAGE_LIMIT.max, default: PAGE_LIMIT.default, description: 'Page size.' }),
  ),
  cursor: Type.Optional(Type.String({ description: 'The `next` value of the previous page.' })),
}

export const ListQuery = Type.Object(
  {
    grantType: Type.Optional(GrantTypeRef),
    clientIdentifier: Type.Optional(Type.String({ description: 'Only the credential with this OAuth client_id.' })),
    ...pageQuery,
  },
  strict,
)

export const EventsQuery = Type.Object(pageQuery, strict)

const NextCursor = Nullable(
  Type.String({ description: 'Pass as `cursor` for the next page; null on the last page (also in the Link header).' }),
)

export const CredentialPageSchema = Type.Object(
  { items: Type.Array(Type.Ref(CredentialSchema)), next: NextCursor },
  { ...strict, $id: 'CredentialPage', title: 'CredentialPage', examples: [{ items: [exampleCredential], next: null }] },
)

export const AuditEventSchema = Type.Object(
  {
    id: Type.Integer(),
    credentialId: Type.Integer(),
    actor: Type.String({ description: 'The API credential that made the change; for an import, who ran it.' }),
    action: Type.String({ examples: ['create', 'update', 'rotate_secret', 'delete'] }),
    changedFields: Type.Array(Type.String(), { description: 'Names of the changed fields; never their values.' }),
    requestId: Nullable(Type.String()),
    source: Type.String({ description: 'rest, legacy, or import (a backup or the original system, imported).' }),
    createdAt: DateTime('When it happened.'),
  },
  { ...strict, $id: 'AuditEvent', title: 'AuditEvent' },
)

const exampleEvent = {
  id: 2,
  credentialId: 1,
  actor: 'deploy-bot',
  action: 'update',
  changedFields: ['name'],
  requestId: '6f1c3c9e-4c1e-4a55-9a77-2d1f5b0f2a10',
  source: 'rest',
  createdAt: EXAMPLE_TIME,
}

export const EventPageSchema = Type.Object(
  { items: Type.Array(Type.Ref(AuditEventSchema)), next: NextCursor },
  { ...strict, $id: 'AuditEventPage', title: 'AuditEventPage', examples: [{ items: [exampleEvent], next: null }] },
)

/** RFC 9457 problem details, with `errors[]` pointing at the failing inputs. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'about:blank: the status says what kind of problem it is.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String({ description: 'What went wrong: the same message api.php gives for the same mistake.' }),
    errors: Type.Optional(
      Type.Array(
        Type.Object(
          {
            in: StringEnum(['body', 'query', 'path', 'header'] as const, { description: 'Which part of the request.' }),
            pointer: Type.String({ description: 'JSON pointer (RFC 6901) to the input at fault, within `in`.' }),
            detail: Type.String(),
          },
          strict,
        ),
      ),
    ),
  },
  { ...strict, $id: 'Problem', title: 'Problem' },
)

export type Problem = Static<typeof ProblemSchema>

/** Schemas the document names (components), referenced from the operations. */
export const NAMED_SCHEMAS = [
  GrantType,
  CredentialSchema,
  CreatedCredentialSchema,
  UpdatedCredentialSchema,
  RotatedCredentialSchema,
  CreateCredentialBody,
  CredentialPatchBody,
  RotateSecretBody,
  AuthenticateBody,
  CredentialPageSchema,
  AuditEventSchema,
  EventPageSchema,
  ProblemSchema,
]
