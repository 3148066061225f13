import qs from 'qs'
import { CredentialError } from '../credentials/errors.js'
import { legacyMessages } from './messages.js'

/** What a legacy request carries once its query and body are merged: PHP's `$_REQUEST`. */
export type LegacyParams = Record<string, unknown>

export const FORM_LIMITS = { parameters: 200, arrayItems: 50, depth: 3, fieldBytes: 16 * 1024 } as const

/**
 * Parses a form (or query) string the way PHP fills `$_POST`: `a[]=1&a[]=2` and `a[0]=1` make
 * arrays, and so do repeated plain keys (Node's `querystring`, used by the `whmcs` npm client,
 * writes arrays that way). `__proto__` and friends are dropped, and sizes are bounded.
 */
export function parseForm(text: string): LegacyParams {
  return qs.parse(text, {
    duplicates: 'combine',
    arrayLimit: FORM_LIMITS.arrayItems,
    parameterLimit: FORM_LIMITS.parameters,
    depth: FORM_LIMITS.depth,
    allowPrototypes: false,
    charset: 'utf-8',
  })
}

/** PHP's `(int)` cast: leading digits count, anything else is 0. */
export function phpInt(value: unknown): number {
  if (typeof value === 'number') return Math.trunc(value)
  if (typeof value !== 'string') return 0
  const match = /^\s*([+-]?\d+)/.exec(value)
  return match ? Number(match[1]) : 0
}

const TRUE_WORDS = new Set(['1', 'true', 'on', 'yes'])
const FALSE_WORDS = new Set(['', '0', 'false', 'off', 'no'])

/**
 * `resetSecret` and other flags. PHP would treat the string "false" as true and reset the
 * secret; we read it as false (docs/legacy.md, compatibility), and refuse words we do not know
 * rather than guess about a secret.
 */
export function flag(params: LegacyParams, name: string): boolean {
  const value = params[name]
  if (value === undefined || value === null || typeof value === 'boolean') return value === true
  const word = String(value).trim().toLowerCase()
  if (TRUE_WORDS.has(word)) return true
  if (FALSE_WORDS.has(word)) return false
  throw new CredentialError('invalid', legacyMessages.flagInvalid(name, String(value)), name)
}

/** A parameter that must be one plain value, as PHP scripts send it; absent stays undefined. */
export function text(params: LegacyParams, name: string): string | undefined {
  const value = params[name]
  if (value === undefined) return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (value === null) return ''
  throw new CredentialError('invalid', legacyMessages.singleValue(name), name)
}

/**
 * A list parameter in any form legacy callers send: `x[]=a&x[]=b`, `x[0]=a`, repeated keys,
 * a JSON array, or one string split on whitespace. Empty items are dropped, so `x[]=` clears.
 */
export function list(params: LegacyParams, name: string): string[] | undefined {
  const value = params[name]
  if (value === undefined) return undefined
  if (typeof value === 'string') return value.split(/\s+/).filter((item) => item !== '')
  const items = Array.isArray(value) ? value : typeof value === 'object' && value ? Object.values(value) : [value]
  if (items.some((item) => typeof item !== 'string')) {
    throw new CredentialError('invalid', legacyMessages.listOfStrings(name), name)
  }
  return (items as string[]).filter((item) => item !== '')
}
