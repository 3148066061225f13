import type { Credential } from '../credentials/credential.js'

/** Strong ETag from the id and version: every change of settings or secret gives a new one. */
export function etagOf(credential: Pick<Credential, 'credentialId' | 'version'>): string {
  return `"${credential.credentialId}-${credential.version}"`
}

/**
 * The versions an If-Match header accepts for this credential; undefined for `*` (any).
 * Tags of other credentials or weak tags accept none (If-Match compares strongly, RFC 9110 §13.1.1).
 */
export function versionsMatching(ifMatch: string, credentialId: number): number[] | undefined {
  if (ifMatch.trim() === '*') return undefined
  return ifMatch
    .split(',')
    .map((tag) => /^"(\d+)-(\d+)"$/.exec(tag.trim()))
    .filter((match) => match !== null && Number(match[1]) === credentialId)
    .map((match) => Number(match?.[2]))
}
