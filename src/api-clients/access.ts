import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'
import { secretMatches } from '../secrets.js'

/** Every action an API client can be allowed to run, on api.php and REST alike. */
export const ACTIONS = [
  'CreateOAuthCredential',
  'ListOAuthCredentials',
  'GetOAuthCredential',
  'UpdateOAuthCredential',
  'DeleteOAuthCredential',
  'RotateOAuthCredentialSecret',
  'AuthenticateOAuthCredential',
  'ListOAuthCredentialEvents',
] as const
export type Action = (typeof ACTIONS)[number]
export const ALL_ACTIONS = '*'

/** Why an API credential cannot have these permissions or this allow-list; undefined when it can. */
export function settingsRefusal(permissions: readonly string[], allowedIps: readonly string[]): string | undefined {
  const unknown = unknownPermission(permissions)
  if (unknown !== undefined) return `Unknown action "${unknown}". Known: ${ACTIONS.join(', ')} or ${ALL_ACTIONS}`
  const notAddress = notAnAddress(allowedIps)
  return notAddress === undefined ? undefined : `"${notAddress}" is not an IP address`
}

/** The first of `permissions` that names no action (nor `*`), if any. */
function unknownPermission(permissions: readonly string[]): string | undefined {
  return permissions.find((permission) => permission !== ALL_ACTIONS && !(ACTIONS as readonly string[]).includes(permission))
}

/** The first of an allow-list's entries that is not an IP address, if any. */
function notAnAddress(allowedIps: readonly string[]): string | undefined {
  return allowedIps.find((ip) => isIP(ip) === 0)
}

/**
 * What an API credential identifier may be, wherever one is made (ApiClientService.create,
 * API_BOOTSTRAP_IDENTIFIER, the CLI's --identifier before it reads a secret): HTTP Basic cannot
 * carry a `:` in it, and spaces or an empty one cannot be typed back reliably.
 */
export const API_IDENTIFIER_RULE = { pattern: '^[A-Za-z0-9._-]{3,128}$', description: '3 to 128 of A-Z a-z 0-9 . _ -' }
const API_IDENTIFIER = new RegExp(API_IDENTIFIER_RULE.pattern)

export function isApiIdentifier(text: string): boolean {
  return API_IDENTIFIER.test(text)
}

/**
 * What a secret an operator brings may be (the CLI's --secret-stdin, API_BOOTSTRAP_SECRET): at
 * least as long as the original's own (32 characters), on one line, and typeable into a
 * Basic header or a form without quoting.
 */
export const API_SECRET_RULE = { pattern: '^[\\x21-\\x7e]{32,256}$', description: '32 to 256 printable ASCII characters, without spaces' }
const API_SECRET = new RegExp(API_SECRET_RULE.pattern)

export function isGivenApiSecret(text: string): boolean {
  return API_SECRET.test(text)
}

/** A caller of this service, as the edges see it once its secret has been checked. */
export interface ApiClient {
  identifier: string
  permissions: string[]
  allowedIps: string[]
}

/** Why a caller is turned away, in the original api.php's words; REST uses the same ones. */
export const refusals = {
  missing: 'Invalid or missing credentials',
  failed: 'Authentication Failed',
  accessKey: 'Invalid Access Key',
  address: (ip: string) => `Invalid IP ${ip}`,
  permission: (action: string) => `Invalid Permissions: API action "${action}" is not allowed`,
}

export function mayRun(client: ApiClient, action: string): boolean {
  return client.permissions.includes(ALL_ACTIONS) || client.permissions.includes(action)
}

/**
 * Whether `secret` is this API credential's. It is compared even when there is no such
 * credential, so "unknown identifier" and "wrong secret" take the same time on every endpoint.
 */
export function secretAccepted<C extends { secretHash: string }>(client: C | null | undefined, secret: string): client is C {
  return secretMatches(secret, client?.secretHash)
}

/**
 * One spelling per address: an IPv4 address written as IPv6 (`::ffff:127.0.0.1`, as a dual-stack
 * listener reports IPv4 callers) is the IPv4 one, and IPv6 is written the short way (RFC 5952).
 * Text that is no address stays as it is.
 */
export function canonicalAddress(ip: string): string {
  return isIP(ip) === 0 ? ip : ipaddr.process(ip).toString()
}

/**
 * An empty allow-list lets any address in; an address is itself however it is written (the
 * list is in canonical spelling, as storage reads it).
 */
export function ipAllowed(client: Pick<ApiClient, 'allowedIps'>, ip: string): boolean {
  return client.allowedIps.length === 0 || client.allowedIps.includes(ip) || client.allowedIps.includes(canonicalAddress(ip))
}
