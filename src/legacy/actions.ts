import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox'
import type { Action, ApiClient } from '../api-clients/access.js'
import { requireSecretIssuing } from '../http/authorization.js'
import { GRANT_TYPES, type Actor, type Credential, type CredentialChanges, type GrantType } from '../credentials/credential.js'
import { messages } from '../credentials/errors.js'
import { LIMITS } from '../credentials/rules.js'
import { DEFAULT_SORT, LIST_LIMIT, type CredentialService } from '../credentials/service.js'
import type { SortField } from '../credentials/storage.js'
import {
  ClientSecretSchema,
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
import {
  flag,
  list,
  mapped,
  oneOf,
  paramReader,
  phpInteger,
  positiveInteger,
  text,
  type DecodedParams,
  type LegacyParam,
  type LegacyParams,
} from './params.js'

export interface LegacyContext {
  credentials: CredentialService
  actor: Actor
  /** The API credential that called. */
  caller: ApiClient
}

/** One api.php action: its documented parameters and answer, and what it does. */
export interface LegacyAction {
  name: Action
  summary: string
  /** Every parameter of a call, as the document shows it: `action`, the common ones, the action's own. */
  request: TObject
  response: TObject
  run(params: LegacyParams, context: LegacyContext): Promise<LegacyReply>
}

/** Parameters every call carries (authentication and answer format), read by the route's checks. */
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

const atMost = (max: number) => `At most ${max} characters.`

/**
 * The credential fields, in the order api.php has always read them (which is the order it
 * reports parameters sent in the wrong shape). Empty `serviceId` and `logoUri` clear them.
 */
const EditableParams = {
  serviceId: Type.Optional(
    mapped(
      phpInteger({ description: `${ServiceIdSchema.description} Read as PHP's (int); 0 or empty clears it.` }),
      (id) => id || null,
      (id) => id ?? 0,
    ),
  ),
  logoUri: Type.Optional(
    mapped(
      text({ description: `${LogoUriSchema.description} ${atMost(LIMITS.logoUri)} Empty clears it.` }),
      (uri) => uri || null,
      (uri) => uri ?? '',
    ),
  ),
  name: Type.Optional(text({ description: `${NameSchema.description} ${atMost(LIMITS.name)}` })),
  description: Type.Optional(text({ description: atMost(LIMITS.description) })),
  grantType: Type.Optional(text({ description: `${GRANT_TYPES.join(' or ')}.`, examples: ['authorization_code'] })),
  scope: Type.Optional(
    mapped(
      list({ description: `${ScopeSchema.description} Also a list of such strings.`, examples: ScopeSchema.examples }),
      splitScopes,
      (scopes) => scopes,
    ),
  ),
  redirectUri: Type.Optional(
    list({
      description:
        'Sent as `redirectUri[]=a&redirectUri[]=b`, `redirectUri[0]=a`, repeated keys, or one ' +
        `whitespace-separated string; at most ${LIMITS.redirectUris}, each at most ${LIMITS.redirectUri} ` +
        `characters. ${RedirectUriListSchema.description}`,
    }),
  ),
}

/** The credential fields a legacy create or update sends, under the service's names. */
function changesFrom(params: DecodedParams<typeof EditableParams>): CredentialChanges {
  return {
    name: params.name,
    description: params.description,
    grantType: params.grantType,
    scopes: params.scope,
    serviceId: params.serviceId,
    logoUri: params.logoUri,
    redirectUris: params.redirectUri,
  }
}

const CredentialIdString = Type.String({ pattern: '^[0-9]+$', examples: ['1'] })

/**
 * An action whose parameters are read by their schemas, compiled once, before `run` sees them.
 * The document shows the same schemas, with `action` and the common parameters.
 */
function action<P extends Record<string, LegacyParam>>(definition: {
  name: Action
  summary: string
  params: P
  response: TObject
  run(params: DecodedParams<P>, context: LegacyContext): Promise<LegacyReply>
}): LegacyAction {
  const { name, summary, params, response, run } = definition
  const read = paramReader(params)
  return {
    name,
    summary,
    request: Type.Object(
      { action: Type.Literal(name), ...CommonParams, ...params },
      { title: name, additionalProperties: true },
    ),
    response,
    run: async (sent, context) => run(read(sent), context),
  }
}

function success(action: string, properties: TProperties) {
  return Type.Object({ result: Type.Literal('success'), ...properties }, { title: `${action}Response` })
}

/** Sortable columns, by every spelling a legacy caller may use for them (in any case). */
const SORT_SPELLINGS = new Map<string, SortField | undefined>([
  ['', undefined],
  ['id', 'credentialId'],
  ['credentialId', 'credentialId'],
  ['name', 'name'],
  ['description', 'description'],
  ['grantType', 'grantType'],
  ['grant_type', 'grantType'],
  ['serviceId', 'serviceId'],
  ['service_id', 'serviceId'],
  ['clientIdentifier', 'clientIdentifier'],
  ['client_identifier', 'clientIdentifier'],
  ['createdAt', 'createdAt'],
  ['created_at', 'createdAt'],
  ['updatedAt', 'updatedAt'],
  ['updated_at', 'updatedAt'],
])
const SORT_ORDERS = new Map([
  ['', undefined],
  ['ASC', 'asc'],
  ['DESC', 'desc'],
] as const)
const GRANT_TYPE_FILTERS = new Map<string, GrantType | undefined>([
  ['', undefined],
  ...GRANT_TYPES.map((type) => [type, type] as const),
])
const lowerCase = (text: string) => text.toLowerCase()

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
  action({
    name: 'CreateOAuthCredential',
    summary: 'Creates an OAuth API client credential; its secret is shown once.',
    params: EditableParams,
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
  }),
  action({
    name: 'ListOAuthCredentials',
    summary: 'Lists OAuth API client credentials (never their secrets).',
    // In the order api.php has always read them.
    params: {
      grantType: Type.Optional(
        oneOf(GRANT_TYPE_FILTERS, {
          fold: (text) => text,
          outsideSet: messages.grantTypeInvalid,
          description: 'Only credentials of this grant type; empty: all.',
        }),
      ),
      sortField: Type.Optional(
        oneOf(SORT_SPELLINGS, {
          fold: lowerCase,
          outsideSet: legacyMessages.sortFieldInvalid,
          description: `In any case; empty: ${DEFAULT_SORT.field}.`,
        }),
      ),
      sortOrder: Type.Optional(
        oneOf(SORT_ORDERS, {
          fold: lowerCase,
          outsideSet: legacyMessages.sortOrderInvalid,
          description: `In any case; empty: ${DEFAULT_SORT.order.toUpperCase()}.`,
        }),
      ),
      limit: Type.Optional(
        mapped(
          phpInteger({
            description: `Read as PHP's (int): 0 or empty means ${LIST_LIMIT.default}; at least 1, at most ${LIST_LIMIT.max}.`,
          }),
          (limit) => limit || undefined,
          (limit) => limit ?? 0,
        ),
      ),
    },
    response: success('ListOAuthCredentials', { clients: Type.Array(ListedCredential) }),
    async run(params, { credentials }) {
      const found = await credentials.list({
        grantType: params.grantType,
        sort: { field: params.sortField ?? DEFAULT_SORT.field, order: params.sortOrder ?? DEFAULT_SORT.order },
        limit: params.limit,
      })
      return { result: 'success', clients: found.map(listed) }
    },
  }),
  action({
    name: 'UpdateOAuthCredential',
    summary: 'Updates an OAuth API client credential; fields left out keep their values.',
    params: {
      credentialId: Type.Optional(
        phpInteger({ description: "Read as PHP's (int); wins over clientIdentifier when > 0.", examples: ['1'] }),
      ),
      clientIdentifier: Type.Optional(text()),
      clientApiIdentifier: Type.Optional(text({ description: 'Documented alias of clientIdentifier.' })),
      ...EditableParams,
      resetSecret: Type.Optional(
        flag({ description: 'True for 1, true, on, yes; false for 0, false, off, no or empty; in any case.' }),
      ),
    },
    response: success('UpdateOAuthCredential', {
      credentialId: CredentialIdString,
      newClientSecret: Type.Optional(ClientSecretSchema),
    }),
    async run(params, { credentials, actor, caller }) {
      if (params.resetSecret) requireSecretIssuing(caller)
      const reference = {
        credentialId: params.credentialId,
        // The real system reads clientIdentifier; its documentation says clientApiIdentifier.
        clientIdentifier: params.clientIdentifier || params.clientApiIdentifier,
      }
      const options = { resetSecret: params.resetSecret }
      const { credential, newClientSecret } = await credentials.update(reference, changesFrom(params), actor, options)
      return newClientSecret === undefined
        ? { result: 'success', credentialId: String(credential.credentialId) }
        : { result: 'success', credentialId: String(credential.credentialId), newClientSecret }
    },
  }),
  action({
    name: 'DeleteOAuthCredential',
    summary: 'Deletes an OAuth API client credential.',
    params: {
      credentialId: positiveInteger(messages.credentialIdInvalid, {
        description: "A positive integer, or text that starts with one (read as PHP's (int)).",
        examples: ['1'],
      }),
    },
    response: success('DeleteOAuthCredential', { credentialId: CredentialIdString }),
    async run({ credentialId }, { credentials, actor }) {
      const credential = await credentials.delete({ credentialId }, actor)
      return { result: 'success', credentialId: String(credential.credentialId) }
    },
  }),
]

export const LegacyErrorSchema = Type.Object(
  { result: Type.Literal('error'), message: Type.String() },
  { title: 'LegacyError' },
)
