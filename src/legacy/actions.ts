import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox'
import type { Action } from '../api-clients/service.js'
import { CredentialError, messages } from '../credentials/errors.js'
import type {
  Actor,
  CredentialChanges,
  CredentialReference,
  CredentialService,
  CredentialView,
} from '../credentials/service.js'
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
import { RESPONSE_TYPES, type LegacyReply } from './format.js'
import { flag, list, phpInt, text, type LegacyParams } from './params.js'

export interface LegacyContext {
  credentials: CredentialService
  actor: Actor
}

/** One api.php action: its documented parameters and answer, and what it does. */
export interface LegacyAction {
  name: Action
  summary: string
  request: TObject
  response: TObject
  run(params: LegacyParams, context: LegacyContext): Promise<LegacyReply>
}

/** Parameters every call carries (authentication and answer format). */
export const CommonParams = {
  identifier: Type.Optional(Type.String({ description: 'API credential identifier (or `username`).' })),
  secret: Type.Optional(Type.String({ description: 'API credential secret (or `password`).' })),
  username: Type.Optional(Type.String({ description: 'Alias of `identifier`.' })),
  password: Type.Optional(Type.String({ description: 'Alias of `secret`.' })),
  accesskey: Type.Optional(Type.String({ description: 'Bypasses the IP allow-list when configured.' })),
  responsetype: Type.Optional(
    Type.Union(RESPONSE_TYPES.map((type) => Type.Literal(type)), { description: 'Defaults to nvp.' }),
  ),
}

const EditableParams = {
  name: Type.Optional(NameSchema),
  description: Type.Optional(DescriptionSchema),
  grantType: Type.Optional(GrantTypeSchema),
  scope: Type.Optional(ScopeSchema),
  serviceId: Type.Optional(ServiceIdSchema),
  logoUri: Type.Optional(LogoUriSchema),
  redirectUri: Type.Optional(
    Type.Array(Type.String(), {
      ...RedirectUriListSchema,
      description:
        'Sent as `redirectUri[]=a&redirectUri[]=b`, `redirectUri[0]=a`, repeated keys, or one ' +
        'whitespace-separated string. ' +
        RedirectUriListSchema.description,
    }),
  ),
}

const CredentialIdString = Type.String({ pattern: '^[0-9]+$', examples: ['1'] })

function request(action: string, properties: TProperties) {
  return Type.Object({ action: Type.Literal(action), ...CommonParams, ...properties }, { title: action })
}

function success(action: string, properties: TProperties) {
  return Type.Object({ result: Type.Literal('success'), ...properties }, { title: `${action}Response` })
}

/** The credential fields a legacy create or update sends, read the way PHP reads them. */
function changesFrom(params: LegacyParams): CredentialChanges {
  const serviceId = params.serviceId === undefined ? undefined : phpInt(params.serviceId)
  const logoUri = text(params, 'logoUri')
  return {
    name: text(params, 'name'),
    description: text(params, 'description'),
    grantType: text(params, 'grantType'),
    scope: list(params, 'scope'),
    serviceId: serviceId === undefined ? undefined : serviceId || null,
    logoUri: logoUri === undefined ? undefined : logoUri || null,
    redirectUri: list(params, 'redirectUri'),
  }
}

function referenceFrom(params: LegacyParams): CredentialReference {
  return {
    credentialId: phpInt(params.credentialId),
    // The real system reads clientIdentifier; its documentation says clientApiIdentifier.
    clientIdentifier: text(params, 'clientIdentifier') || text(params, 'clientApiIdentifier'),
  }
}

/** `2026-11-27 21:07:13`, as the original writes timestamps (UTC here). */
function legacyTimestamp(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ')
}

const ListedCredential = Type.Object({
  credentialId: Type.Integer(),
  name: Type.String(),
  description: Type.String(),
  grantTypes: GrantTypeSchema,
  scope: Type.String(),
  clientIdentifier: Type.String(),
  serviceId: Type.Integer({ description: '0 when none.' }),
  logoUri: Type.String({ description: 'Empty when none.' }),
  redirectUri: Type.Array(Type.String()),
  createdAt: Type.String({ examples: ['2026-11-27 21:07:13'] }),
  updatedAt: Type.String({ examples: ['2026-11-27 21:07:13'] }),
})

function listed(credential: CredentialView): Static<typeof ListedCredential> {
  return {
    credentialId: credential.id,
    name: credential.name,
    description: credential.description,
    grantTypes: credential.grantType,
    scope: credential.scopes.join(' '),
    clientIdentifier: credential.clientIdentifier,
    serviceId: credential.serviceId ?? 0,
    logoUri: credential.logoUri ?? '',
    redirectUri: credential.redirectUris,
    createdAt: legacyTimestamp(credential.createdAt),
    updatedAt: legacyTimestamp(credential.updatedAt),
  }
}

export const LEGACY_ACTIONS: LegacyAction[] = [
  {
    name: 'CreateOAuthCredential',
    summary: 'Creates an OAuth API client credential; its secret is shown once.',
    request: request('CreateOAuthCredential', {
      ...EditableParams,
      grantType: GrantTypeSchema,
      scope: ScopeSchema,
    }),
    response: success('CreateOAuthCredential', {
      credentialId: CredentialIdString,
      clientIdentifier: Type.String(),
      clientSecret: ClientSecretSchema,
    }),
    async run(params, { credentials, actor }) {
      const { credential, clientSecret } = await credentials.create(changesFrom(params), actor)
      return {
        result: 'success',
        credentialId: String(credential.id),
        clientIdentifier: credential.clientIdentifier,
        clientSecret,
      }
    },
  },
  {
    name: 'ListOAuthCredentials',
    summary: 'Lists OAuth API client credentials (never their secrets).',
    request: request('ListOAuthCredentials', {
      grantType: Type.Optional(GrantTypeSchema),
      sortField: Type.Optional(
        Type.String({ description: 'credentialId, name, description, grantType, serviceId, clientIdentifier, createdAt or updatedAt.' }),
      ),
      sortOrder: Type.Optional(Type.Union([Type.Literal('ASC'), Type.Literal('DESC')])),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    }),
    response: success('ListOAuthCredentials', { clients: Type.Array(ListedCredential) }),
    async run(params, { credentials }) {
      const limit = params.limit === undefined ? undefined : phpInt(params.limit)
      const found = await credentials.list({
        grantType: text(params, 'grantType') || undefined,
        sortField: text(params, 'sortField') || undefined,
        sortOrder: text(params, 'sortOrder') || undefined,
        limit: limit || undefined,
      })
      return { result: 'success', clients: found.map(listed) }
    },
  },
  {
    name: 'UpdateOAuthCredential',
    summary: 'Updates an OAuth API client credential; fields left out keep their values.',
    request: request('UpdateOAuthCredential', {
      credentialId: Type.Optional(Type.Integer({ description: 'Wins over clientIdentifier when > 0.' })),
      clientIdentifier: Type.Optional(Type.String()),
      clientApiIdentifier: Type.Optional(Type.String({ description: 'Documented alias of clientIdentifier.' })),
      ...EditableParams,
      resetSecret: Type.Optional(
        Type.Union([Type.Boolean(), Type.String()], {
          description: 'True for 1, true, on, yes; false for 0, false, off, no or empty.',
        }),
      ),
    }),
    response: success('UpdateOAuthCredential', {
      credentialId: CredentialIdString,
      newClientSecret: Type.Optional(ClientSecretSchema),
    }),
    async run(params, { credentials, actor }) {
      const reference = referenceFrom(params)
      const changes = changesFrom(params)
      const resetSecret = flag(params, 'resetSecret')
      const { credential, newClientSecret } = await credentials.update(reference, changes, actor, { resetSecret })
      return newClientSecret === undefined
        ? { result: 'success', credentialId: String(credential.id) }
        : { result: 'success', credentialId: String(credential.id), newClientSecret }
    },
  },
  {
    name: 'DeleteOAuthCredential',
    summary: 'Deletes an OAuth API client credential.',
    request: request('DeleteOAuthCredential', { credentialId: Type.Integer() }),
    response: success('DeleteOAuthCredential', { credentialId: CredentialIdString }),
    async run(params, { credentials, actor }) {
      const credentialId = phpInt(params.credentialId)
      if (credentialId <= 0) throw new CredentialError('invalid', messages.credentialIdInvalid, 'credentialId')
      const credential = await credentials.delete({ credentialId }, actor)
      return { result: 'success', credentialId: String(credential.id) }
    },
  },
]

export const LegacyErrorSchema = Type.Object(
  { result: Type.Literal('error'), message: Type.String() },
  { title: 'LegacyError' },
)
