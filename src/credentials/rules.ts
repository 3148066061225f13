import { GRANT_TYPES, MAX_ID, type CredentialFields, type GrantType } from './credential.js'
import { CredentialError, messages } from './errors.js'

export const LIMITS = {
  name: 255,
  description: 255,
  logoUri: 255,
  redirectUri: 2000,
  redirectUris: 20,
} as const

/** A credential's fields before the rules have judged them: the grant type is what was sent. */
export type CredentialDraft = Omit<CredentialFields, 'grantType'> & { grantType: string }

/** PostgreSQL text cannot hold a NUL character: such input can never be stored or match a row. */
export function hasNul(value: string): boolean {
  return value.includes('\u0000')
}

// Names and descriptions are single-line text: no C0 or C1 control characters (not even tab
// or line breaks), which XML cannot carry and which would garble NVP answers and log lines.
const CONTROL_CHARACTER = /\p{Cc}/u

/**
 * Text that displays other than it reads: bidi controls (U+202A–202E, U+2066–2069) reorder
 * what follows, zero-width characters (U+200B–200D, U+2060, U+FEFF) hide inside look-alikes,
 * and a lone surrogate half is no character at all (it cannot be stored as sent).
 */
const DECEPTIVE_TEXT = /[\u202A-\u202E\u2066-\u2069\u200B-\u200D\u2060\uFEFF]|\p{Cs}/u

function isDeceptive(text: string): boolean {
  return DECEPTIVE_TEXT.test(text)
}

/** Length in characters (code points), as the database's VARCHAR limits count them. */
function characters(text: string): number {
  return [...text].length
}

export function isGrantType(value: string): value is GrantType {
  return (GRANT_TYPES as readonly string[]).includes(value)
}

const FORBIDDEN_SCHEMES = new Set(['javascript', 'data', 'vbscript', 'blob', 'file', 'about'])
const LOOPBACK_HTTP = /^http:\/\/(127\.0\.0\.1|\[::1\])(:\d{1,5})?([/?]|$)/i

/**
 * Redirect URI rules from the OAuth 2.0 Security BCP (RFC 9700) and RFC 8252: absolute, no
 * fragment, no wildcard, https (http only on loopback literals, compared as written so that
 * `http://0x7f.1/` cannot pass as 127.0.0.1), or a private-use scheme in reverse-DNS form.
 */
function isAcceptableRedirectUri(uri: string): boolean {
  if (uri.length === 0 || characters(uri) > LIMITS.redirectUri) return false
  if (/[#*\s\\\p{Cc}]/u.test(uri) || isDeceptive(uri)) return false
  // `https://@a.com/cb`: an empty userinfo, which URL parsing drops, still hides the host.
  if (/^[^/?#]*:\/\/[^/?#]*@/.test(uri)) return false
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return false
  }
  if (url.username !== '' || url.password !== '') return false
  const scheme = url.protocol.slice(0, -1).toLowerCase()
  if (scheme === 'https') return url.hostname !== '' && /^https:\/\/[^/]/i.test(uri)
  if (scheme === 'http') return LOOPBACK_HTTP.test(uri)
  if (FORBIDDEN_SCHEMES.has(scheme)) return false
  return /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/.test(scheme) && uri.length > scheme.length + 1
}

function isServiceId(value: number): boolean {
  return Number.isInteger(value) && value > 0 && value <= MAX_ID
}

function isAcceptableLogoUri(uri: string): boolean {
  if (characters(uri) > LIMITS.logoUri || /[\s\p{Cc}]/u.test(uri) || isDeceptive(uri)) return false
  try {
    const url = new URL(uri)
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== ''
  } catch {
    return false
  }
}

/**
 * Checks a credential as it would be stored, in the order the original API reports problems,
 * and throws the first one. `catalogue` is the set of known scope tokens.
 */
export function assertValidCredential(
  state: CredentialDraft,
  catalogue: ReadonlySet<string>,
): asserts state is CredentialFields {
  const invalid = (message: string, field: string) => new CredentialError('invalid', message, field)
  if (state.grantType === '') throw invalid(messages.grantTypeRequired, 'grantType')
  if (!isGrantType(state.grantType)) throw invalid(messages.grantTypeInvalid(state.grantType), 'grantType')
  if (state.grantType === 'authorization_code' && state.name.trim() === '') {
    throw invalid(messages.nameRequired, 'name')
  }
  for (const field of ['name', 'description'] as const) {
    if (characters(state[field]) > LIMITS[field]) throw invalid(messages.tooLong(field, LIMITS[field]), field)
    if (CONTROL_CHARACTER.test(state[field]) || isDeceptive(state[field])) {
      throw invalid(messages.controlCharacters(field), field)
    }
  }
  if (state.serviceId !== null && !isServiceId(state.serviceId)) {
    throw invalid(messages.serviceIdInvalid(String(state.serviceId)), 'serviceId')
  }
  if (state.grantType === 'single_sign_on' && state.serviceId === null) {
    throw invalid(messages.serviceIdRequired, 'serviceId')
  }
  for (const scope of state.scopes) {
    if (!catalogue.has(scope)) throw invalid(messages.scopeInvalid(scope), 'scope')
  }
  if (state.scopes.length === 0) throw invalid(messages.scopeRequired, 'scope')
  if (state.logoUri !== null && !isAcceptableLogoUri(state.logoUri)) {
    throw invalid(messages.logoUriInvalid(state.logoUri), 'logoUri')
  }
  // SPEC §2 has one message for every redirect URI rule; past the limit it names the first extra URI.
  const seen = new Set<string>()
  for (const uri of state.redirectUris) {
    if (seen.size === LIMITS.redirectUris || seen.has(uri) || !isAcceptableRedirectUri(uri)) {
      throw invalid(messages.redirectUriInvalid(uri), 'redirectUri')
    }
    seen.add(uri)
  }
}
