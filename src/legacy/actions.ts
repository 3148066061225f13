import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox'
import type { Action } from '../api-clients/access.js'
import type { Actor, Credential, CredentialChanges, CredentialReference } from '../credentials/credential.js'
import { CredentialError, messages } from '../credentials/errors.js'
import { LIST_LIMIT, type CredentialService } from '../credentials/service.js'
import type { SortField } from '../credentials/storage.js'
import {
  ClientSecretSchema,
  DescriptionSchema,
  GrantTypeSchema,
  LogoUriSchema,
  NameSchema,
  RedirectUriListSchema,
  ScopeSchema,
  ServiceIdSchema,
  joinScopes,
  splitScopes,
} from '../schemas/credential.js'
import { RESPONSE_TYPES, type LegacyReply } from './format.js'
import { legacyMessages } from './messages.js'
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
    scopes: splitScopes(list(params, 'scope')),
    serviceId: serviceId === undefined ? undefined : serviceId || null,
    logoUri: logoUri === undefined ? undefined : logoUri || null,
    redirectUris: list(params, 'redirectUri'),
  }
}

function referenceFrom(params: LegacyParams): CredentialReference {
  return {
    credentialId: phpInt(params.credentialId),
    // The real system reads clientIdentifier; its documentation says clientApiIdentifier.
    clientIdentifier: text(params, 'clientIdentifier') || text(params, 'clientApiIdentifier'),
  }
}

/** Sortable columns, by every spelling a legacy caller may use for them (lower case). */
const SORT_SPELLINGS: ReadonlyMap<string, SortField> = new Map([
  ['id', 'credentialId'],
  ['credentialid', 'credentialId'],
  ['name', 'name'],
  ['description', 'description'],
  ['granttype', 'grantType'],
  ['grant_type', 'grantType'],
  ['serviceid', 'serviceId'],
  ['service_id', 'serviceId'],
  ['clientidentifier', 'clientIdentifier'],
  ['client_identifier', 'clientIdentifier'],
  ['createdat', 'createdAt'],
  ['created_at', 'createdAt'],
  ['updatedat', 'updatedAt'],
  ['updated_at', 'updatedAt'],
])

/** ListOAuthCredentials' `sortField` and `sortOrder`; credentialId ascending when left out. */
function sortFrom(params: LegacyParams): { field: SortField; order: 'asc' | 'desc' } {
  const sortField = text(params, 'sortField') || undefined
  const sortOrder = text(params, 'sortOrder') || undefined
  const field = sortField === undefined ? 'credentialId' : SORT_SPELLINGS.get(sortField.toLowerCase())
  if (field === undefined) throw new CredentialError('invalid', legacyMessages.sortFieldInvalid(sortField as string), 'sortField')
  const order = (sortOrder ?? 'asc').toLowerCase()
  if (order !== 'asc' && order !== 'desc') {
    throw new CredentialError('invalid', legacyMessages.sortOrderInvalid(sortOrder as string), 'sortOrder')
  }
  return { field, order }
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

function listed(credential: Credential): Static<typeof ListedCredential> {
  return {
    credentialId: credential.credentialId,
    name: credential.name,
    description: credential.description,
    grantTypes: credential.grantType,
    scope: joinScopes(credential.scopes),
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
        credentialId: String(credential.credentialId),
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
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIST_LIMIT.max, default: LIST_LIMIT.default })),
    }),
    response: success('ListOAuthCredentials', { clients: Type.Array(ListedCredential) }),
    async run(params, { credentials }) {
      const limit = params.limit === undefined ? undefined : phpInt(params.limit)
      const found = await credentials.list({
        grantType: text(params, 'grantType') || undefined,
        sort: sortFrom(params),
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
        ? { result: 'success', credentialId: String(credential.credentialId) }
        : { result: 'success', credentialId: String(credential.credentialId), newClientSecret }
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
      return { result: 'success', credentialId: String(credential.credentialId) }
    },
  },
]

export const LegacyErrorSchema = Type.Object(
  { result: Type.Literal('error'), message: Type.String() },
  { title: 'LegacyError' },
)
