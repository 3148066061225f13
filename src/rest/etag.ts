import type { Credential } from '../credentials/credential.js'
import type { Precondition } from '../credentials/service.js'

/**
 * Strong ETag from the id and version: every change of settings or secret gives a new one.
 * It covers every field but `lastUsedAt`, which authentication records (docs/rest.md, ETags):
 * a client's sign-ins must not fail every writer's If-Match.
 */
export function etagOf(credential: Pick<Credential, 'credentialId' | 'version'>): string {
  return `"${credential.credentialId}-${credential.version}"`
}

/**
 * The versions an If-Match header accepts for this credential; undefined for `*` (any).
 * Tags of other credentials or weak tags accept none (If-Match compares strongly, RFC 9110 §13.1.1),
 * nor a tag spelt otherwise than etagOf spells it (`"01-1"` is not `"1-1"`).
 */
function versionsMatching(ifMatch: string, credentialId: number): number[] | undefined {
  if (ifMatch.trim() === '*') return undefined
  return ifMatch
    .split(',')
    .map((tag) => /^"([1-9]\d*)-([1-9]\d*)"$/.exec(tag.trim()))
    .filter((match) => match !== null && Number(match[1]) === credentialId)
    .map((match) => Number(match?.[2]))
}

/** The precondition an `If-Match` header (if any) sets on a change of this credential. */
export function preconditionOf(ifMatch: string | undefined, credentialId: number): Precondition {
  return { expectedVersions: ifMatch === undefined ? undefined : versionsMatching(ifMatch, credentialId) }
}
