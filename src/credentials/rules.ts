import { GRANT_TYPES, isRowNumber, type CredentialFields, type GrantType } from './credential.js'
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
// or line breaks), which XML cannot carry and which would garble NVP answers and log lines,
// and no line or paragraph separator (U+2028, U+2029), which ends a line as well.
const CONTROL_CHARACTER = /[\p{Cc}\p{Zl}\p{Zp}]/u

/**
 * Text that displays other than it reads: bidi controls (every Bidi_Control character: U+061C,
 * U+200E–200F, U+202A–202E, U+2066–2069) reorder what follows; default-ignorable characters
 * (U+00AD soft hyphen, U+034F, U+200B–200D, U+2060, U+3164 and the other Hangul fillers,
 * variation selectors, U+FEFF, the U+E0000 tag block, ...) display as nothing and hide inside
 * look-alikes; and a lone surrogate half is no character at all (it cannot be stored as sent).
 * Two of them are an emoji's own and stay allowed there: a presentation selector (U+FE0E,
 * U+FE0F) right after a pictograph, as phone keyboards type "❤️", or in a keycap ("1️⃣"); and a
 * zero-width joiner between two pictographs, the first with its skin tone or selector, as in
 * "👩🏽‍💻". Elsewhere ("Client 2️", a joiner between letters) they hide in look-alikes.
 */
const DECEPTIVE_TEXT = new RegExp(
  [
    '[\\p{Bidi_Control}\\p{Cs}]',
    '(?![\\uFE0E\\uFE0F\\u200D])\\p{Default_Ignorable_Code_Point}',
    '(?<!\\p{Extended_Pictographic})[\\uFE0E\\uFE0F](?!\\u20E3)',
    '(?<![\\p{Extended_Pictographic}\\p{Emoji_Modifier}]\\uFE0F?)\\u200D',
    '\\u200D(?!\\p{Extended_Pictographic})',
  ].join('|'),
  'u',
)

function isDeceptive(text: string): boolean {
  return DECEPTIVE_TEXT.test(text)
}

/** Length in characters (code points), as the database's VARCHAR limits count them. */
function characters(text: string): number {
  return [...text].length
}

function isGrantType(value: string): value is GrantType {
  return (GRANT_TYPES as readonly string[]).includes(value)
}

const FORBIDDEN_SCHEMES = new Set(['javascript', 'data', 'vbscript', 'blob', 'file', 'about'])
const LOOPBACK_HTTP = /^http:\/\/(127\.0\.0\.1|\[::1\])(:\d{1,5})?([/?]|$)/i

/** The authority of a URI as written (`host:port`, user info included), or null when it has none. */
function authorityOf(uri: string): string | null {
  return /^[^/?#]*:\/\/([^/?#]*)/.exec(uri)?.[1] ?? null
}

/**
 * User info, even an empty one: `https://@a.com/cb` or `https://:@a.com/cb`, which URL parsing
 * drops, still hides the host from a reader; `https://user:pass@a.com/` names another one. For
 * http(s), URL parsing takes the authority after any run of slashes and backslashes
 * (`https:\\@a.com/`, `http:u:p@a.com/`), so it is read the same way here.
 */
function hasUserInfo(uri: string, url: URL): boolean {
  const special = url.protocol === 'http:' || url.protocol === 'https:'
  const authority = special ? /^[a-z][a-z0-9+.-]*:[/\\]*([^/\\?#]*)/i.exec(uri)?.[1] : authorityOf(uri)
  return (authority?.includes('@') ?? false) || url.username !== '' || url.password !== ''
}

/**
 * A host written in printable ASCII (an internationalised name in its punycode form, xn--...),
 * without percent-encoding: URL parsing would map `аpple.com` (Cyrillic a), a full-width dot
 * or `%D0%B0pple.com` onto another host than the one a reader sees.
 */
function hasAsciiHost(uri: string): boolean {
  const authority = authorityOf(uri)
  return authority === null || (/^[\x21-\x7E]*$/.test(authority) && !authority.includes('%'))
}

/**
 * Whether URL parsing keeps the host as it is written (case aside): it turns `0x7f000001`,
 * `127.1` or `[::FFFF:127.0.0.1]` into another spelling of an address, one a reader would not
 * take for where the browser goes. An IPv4 address written as IPv6 (`[::ffff:7f00:1]`) counts
 * as such a disguise too.
 */
function hostReadsAsWritten(uri: string, url: URL): boolean {
  const authority = authorityOf(uri) ?? ''
  const host = authority.startsWith('[') ? authority.slice(0, authority.indexOf(']') + 1) : (authority.split(':', 1)[0] as string)
  return host.toLowerCase() === url.hostname && !url.hostname.startsWith('[::ffff:')
}

/**
 * Redirect URI rules from the OAuth 2.0 Security BCP (RFC 9700) and RFC 8252: absolute, no
 * fragment, no wildcard, no user info, a host in ASCII that reads as written, https (http only
 * on loopback literals, compared as written so that `http://0x7f.1/` cannot pass as 127.0.0.1),
 * or a private-use scheme in reverse-DNS form.
 */
function isAcceptableRedirectUri(uri: string): boolean {
  if (uri.length === 0 || characters(uri) > LIMITS.redirectUri) return false
  if (/[#*\s\\\p{Cc}]/u.test(uri) || isDeceptive(uri) || !hasAsciiHost(uri)) return false
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return false
  }
  if (hasUserInfo(uri, url)) return false
  const scheme = url.protocol.slice(0, -1).toLowerCase()
  if (scheme === 'https') return url.hostname !== '' && /^https:\/\/[^/]/i.test(uri) && hostReadsAsWritten(uri, url)
  if (scheme === 'http') return LOOPBACK_HTTP.test(uri)
  if (FORBIDDEN_SCHEMES.has(scheme)) return false
  return /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/.test(scheme) && uri.length > scheme.length + 1
}

/** An absolute http(s) URL with a host and, as for redirect URIs, no user info. */
function isAcceptableLogoUri(uri: string): boolean {
  if (characters(uri) > LIMITS.logoUri || /[\s\p{Cc}]/u.test(uri) || isDeceptive(uri)) return false
  try {
    const url = new URL(uri)
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '' && !hasUserInfo(uri, url)
  } catch {
    return false
  }
}

/**
 * Checks a credential as it would be stored, in the order the original API reports problems,
 * and throws the first one. `catalogue` is the set of known scope tokens. `stored`: the
 * credential as it is stored now (an update): a name, description or URI it already holds is
 * not judged again, so that a rule tightened since it was stored (look-alike characters) does
 * not refuse every later change of other fields, a secret reset included.
 */
export function assertValidCredential(
  state: CredentialDraft,
  catalogue: ReadonlySet<string>,
  stored?: CredentialFields,
): asserts state is CredentialFields {
  const invalid = (message: string, field: string) => new CredentialError('invalid', message, field)
  if (state.grantType === '') throw invalid(messages.grantTypeRequired, 'grantType')
  if (!isGrantType(state.grantType)) throw invalid(messages.grantTypeInvalid(state.grantType), 'grantType')
  if (state.grantType === 'authorization_code' && state.name.trim() === '') {
    throw invalid(messages.nameRequired, 'name')
  }
  for (const field of ['name', 'description'] as const) {
    if (characters(state[field]) > LIMITS[field]) throw invalid(messages.tooLong(field, LIMITS[field]), field)
    if (state[field] !== stored?.[field] && (CONTROL_CHARACTER.test(state[field]) || isDeceptive(state[field]))) {
      throw invalid(messages.controlCharacters(field), field)
    }
  }
  if (state.serviceId !== null && !isRowNumber(state.serviceId)) {
    throw invalid(messages.serviceIdInvalid(String(state.serviceId)), 'serviceId')
  }
  if (state.grantType === 'single_sign_on' && state.serviceId === null) {
    throw invalid(messages.serviceIdRequired, 'serviceId')
  }
  for (const scope of state.scopes) {
    if (!catalogue.has(scope)) throw invalid(messages.scopeInvalid(scope), 'scope')
  }
  if (state.scopes.length === 0) throw invalid(messages.scopeRequired, 'scope')
  if (state.logoUri !== null && state.logoUri !== stored?.logoUri && !isAcceptableLogoUri(state.logoUri)) {
    throw invalid(messages.logoUriInvalid(state.logoUri), 'logoUri')
  }
  const refused = firstRefusedRedirectUri(state.redirectUris, new Set(stored?.redirectUris))
  if (refused !== undefined) throw invalid(messages.redirectUriInvalid(refused), 'redirectUri')
}

/**
 * The redirect URI a list is refused for, in order: SPEC §2 has one message for every redirect
 * URI rule, and past the limit it names the first extra URI. One already stored (`kept`) is not
 * judged again, by the duplicate rule either (see assertValidCredential).
 */
export function firstRefusedRedirectUri(uris: readonly string[], kept: ReadonlySet<string> = new Set()): string | undefined {
  const seen = new Set<string>()
  const seenParsed = new Set<string>()
  for (const uri of uris) {
    const parsed = parsedForm(uri)
    const duplicate = seen.has(uri) || (seenParsed.has(parsed) && !kept.has(uri))
    if (seen.size === LIMITS.redirectUris || duplicate || (!kept.has(uri) && !isAcceptableRedirectUri(uri))) return uri
    seen.add(uri)
    seenParsed.add(parsed)
  }
  return undefined
}

/**
 * A URI as a URL parser reads it (scheme and host in lower case, dot segments resolved), so
 * that `HTTPS://A.example/cb` and `https://a.example/cb` count as the duplicates they are.
 */
function parsedForm(uri: string): string {
  try {
    return new URL(uri).href
  } catch {
    return uri
  }
}
