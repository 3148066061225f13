import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { MAX_GRACE_SECONDS } from '../credentials/service.js'
import { GRANT_TYPES } from '../credentials/credential.js'
import {
  ClientSecretSchema,
  DescriptionSchema,
  GrantTypeSchema,
  LogoUriSchema,
  NameSchema,
  RedirectUriListSchema,
  ScopeSchema,
  ServiceIdSchema,
} from '../schemas/credential.js'

/*
 * Request schemas check shapes (types, unknown fields, sizes). Values (grant type, scopes,
 * redirect URIs, what is required for which grant type) are judged by the credential service,
 * so REST and api.php refuse the same mistake with the same message.
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

const RequestGrantType = Type.String({
  description: `The grant type: ${GRANT_TYPES.join(' or ')}.`,
  examples: ['authorization_code'],
})

export const CredentialIdParams = Type.Object(
  { credentialId: Type.Integer({ minimum: 1, description: 'The credential id.', examples: [1] }) },
  strict,
)

const credentialProperties = {
  credentialId: Type.Integer({ minimum: 1 }),
  clientIdentifier: Type.String({ description: 'The OAuth client_id.' }),
  name: Type.String(),
  description: Type.String(),
  grantType: GrantTypeSchema,
  scope: ScopeSchema,
  serviceId: Nullable(ServiceIdSchema),
  logoUri: Nullable(LogoUriSchema),
  redirectUri: Type.Array(Type.String(), { description: RedirectUriListSchema.description }),
  version: Type.Integer({ minimum: 1, description: 'Bumped on every change; the ETag is made from it.' }),
  lastUsedAt: Nullable(DateTime('Last successful authentication, to the minute.')),
  previousSecretExpiresAt: Nullable(
    DateTime('Until when the previous secret still authenticates, after a rotation with a grace period.'),
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
  { ...strict, title: 'CreatedCredential', examples: [{ ...exampleCredential, clientSecret: EXAMPLE_SECRET }] },
)

export const UpdatedCredentialSchema = Type.Object(
  {
    ...credentialProperties,
    newClientSecret: Type.Optional({ ...ClientSecretSchema, description: 'Only when resetSecret was true.' }),
  },
  { ...strict, title: 'UpdatedCredential', examples: [{ ...exampleCredential, version: 2 }] },
)

export const RotatedCredentialSchema = Type.Object(
  {
    ...credentialProperties,
    clientSecret: ClientSecretSchema,
  },
  {
    ...strict,
    title: 'RotatedCredential',
    description: '`previousSecretExpiresAt` says when the old secret stops working (null: it already has).',
    examples: [{ ...exampleCredential, version: 2, previousSecretExpiresAt: EXAMPLE_TIME, clientSecret: EXAMPLE_SECRET }],
  },
)

export const CreateCredentialBody = Type.Object(
  {
    name: Type.Optional(NameSchema),
    description: Type.Optional(DescriptionSchema),
    grantType: Type.Optional(RequestGrantType),
    scope: Type.Optional(ScopeSchema),
    serviceId: Type.Optional(Nullable(ServiceIdSchema)),
    logoUri: Type.Optional(Nullable(LogoUriSchema)),
    redirectUri: Type.Optional(RedirectUriListSchema),
  },
  {
    ...strict,
    title: 'NewCredential',
    description:
      'grantType and scope are required; name too for authorization_code, serviceId for single_sign_on ' +
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
    grantType: Type.Optional(RequestGrantType),
    scope: Type.Optional(ScopeSchema),
    serviceId: Type.Optional(Nullable(ServiceIdSchema)),
    logoUri: Type.Optional(Nullable(LogoUriSchema)),
    redirectUri: Type.Optional(Nullable(RedirectUriListSchema)),
    resetSecret: Type.Optional(
      Type.Boolean({ description: 'Issue a new client secret now; the old one stops working at once.' }),
    ),
  },
  {
    ...strict,
    title: 'CredentialPatch',
    description: 'JSON Merge Patch (RFC 7396): fields left out keep their values; null clears an optional field.',
    examples: [{ name: 'Billing portal (EU)', logoUri: null }],
  },
)

export const RotateSecretBody = Type.Object(
  {
    graceSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_GRACE_SECONDS,
        default: 0,
        description: 'How long the previous secret keeps working (at most 7 days). 0 revokes it at once.',
      }),
    ),
  },
  { ...strict, title: 'SecretRotation', examples: [{ graceSeconds: 3600 }] },
)

export const AuthenticateBody = Type.Object(
  { clientIdentifier: Type.String({ minLength: 1 }), clientSecret: Type.String({ minLength: 1 }) },
  {
    ...strict,
    title: 'ClientAuthentication',
    examples: [{ clientIdentifier: exampleCredential.clientIdentifier, clientSecret: EXAMPLE_SECRET }],
  },
)

export const DryRunQuery = Type.Object(
  {
    dryRun: Type.Optional(
      Type.Boolean({ default: false, description: 'Validate and answer with the would-be credential; write nothing.' }),
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
    grantType: Type.Optional(RequestGrantType),
    clientIdentifier: Type.Optional(Type.String()),
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
  { ...strict, title: 'CredentialPage', examples: [{ items: [exampleCredential], next: null }] },
)

export const AuditEventSchema = Type.Object(
  {
    id: Type.Integer(),
    credentialId: Type.Integer(),
    actor: Type.String({ description: 'The API credential that made the change; for an import, who ran it.' }),
    action: Type.String({ examples: ['create', 'update', 'rotate_secret', 'delete'] }),
    changedFields: Type.Array(Type.String(), { description: 'Names of the changed fields; never their values.' }),
    requestId: Nullable(Type.String()),
    source: Type.String({ description: 'rest, legacy, cli, or import (a backup or the original system, imported).' }),
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
  { ...strict, title: 'AuditEventPage', examples: [{ items: [exampleEvent], next: null }] },
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
            in: Type.Union([Type.Literal('body'), Type.Literal('query'), Type.Literal('path'), Type.Literal('header')]),
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
export const NAMED_SCHEMAS = [CredentialSchema, AuditEventSchema, ProblemSchema]
