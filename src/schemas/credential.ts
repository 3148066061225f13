import { Type } from '@sinclair/typebox'
import { GRANT_TYPES, MAX_ID, type GrantType } from '../credentials/credential.js'
import { LIMITS } from '../credentials/rules.js'

/**
 * A closed set of strings as one `enum`, which SDK generators turn into a union type (a union
 * of literals would be an `anyOf` of `const`s, which some of them type as plain strings).
 */
export const StringEnum = <T extends string>(values: readonly T[], options: object = {}) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...options })

/** Field schemas shared by the legacy actions and the REST resource. */
export const GrantTypeSchema = StringEnum<GrantType>(GRANT_TYPES, {
  description: 'The grant type the credential is valid for.',
})

export const NameSchema = Type.String({ maxLength: LIMITS.name, description: 'Required for authorization_code.' })
export const DescriptionSchema = Type.String({ maxLength: LIMITS.description })
export const ScopeSchema = Type.String({
  description: 'Space-delimited scope tokens from the scope catalogue.',
  examples: ['clientarea:sso openid email'],
})
export const ServiceIdSchema = Type.Integer({
  minimum: 1,
  maximum: MAX_ID,
  description: 'The service the credential relates to; required for single_sign_on.',
})
export const LogoUriSchema = Type.String({ maxLength: LIMITS.logoUri, description: 'An absolute http(s) URL.' })
export const RedirectUriListSchema = Type.Array(
  Type.String({ maxLength: LIMITS.redirectUri, examples: ['https://app.example.com/callback'] }),
  {
    maxItems: LIMITS.redirectUris,
    description:
      'Authorized redirect URIs: absolute, no fragment, https (http only on 127.0.0.1 or [::1]) or a ' +
      'reverse-DNS private-use scheme; no wildcards, no duplicates.',
  },
)
export const ClientSecretSchema = Type.String({
  description: 'The client secret (88 characters). Shown once: only its hash is stored.',
  minLength: 88,
  maxLength: 88,
})

/**
 * Both edges carry scopes as one space-delimited string (the seed's `scope`); the service
 * takes a list. A list of such strings (api.php's array forms) is split item by item.
 */
export function splitScopes<T extends string | string[] | undefined | null>(scope: T): T extends string | string[] ? string[] : T {
  if (scope === undefined || scope === null) return scope as never
  return [scope].flat().flatMap((item) => item.split(/\s+/)).filter((token) => token !== '') as never
}

export function joinScopes(scopes: readonly string[]): string {
  return scopes.join(' ')
}
