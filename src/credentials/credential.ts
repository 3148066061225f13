import type { Credential as CredentialRow } from '../generated/prisma/client.js'
import { GrantType as GrantTypes } from '../generated/prisma/enums.js'

export type GrantType = CredentialRow['grantType']
/** The grant types prisma/schema.prisma declares, in its order. */
export const GRANT_TYPES = Object.values(GrantTypes) as readonly GrantType[]

/** Ids and service ids are PostgreSQL `integer`s: nothing past this can name a row. */
export const MAX_ID = 2_147_483_647

/** Whether `value` can name a row (an id, a service id) or be a version: a PostgreSQL integer from 1. */
export function isRowNumber(value: number): boolean {
  return Number.isInteger(value) && value > 0 && value <= MAX_ID
}

/**
 * A credential as it is stored: its row (prisma/schema.prisma) with its scopes and redirect
 * URIs, in order. Only the credentials domain sees this shape: it carries the secret hashes.
 */
export type StoredCredential = CredentialRow & { scopes: string[]; redirectUris: string[] }

/** A credential as the service returns it to every edge: never a secret or its hash. */
export type Credential = Omit<StoredCredential, 'secretHash' | 'previousSecretHash'>

/** What a caller may set on a credential. */
export type CredentialFields = Pick<
  Credential,
  'name' | 'description' | 'grantType' | 'scopes' | 'serviceId' | 'logoUri' | 'redirectUris'
>

/**
 * A change asked for: a field left out keeps its value, `null` clears it. The grant type is
 * whatever the caller sent, until the rules have judged it.
 */
export type CredentialChanges = {
  [K in keyof CredentialFields]?: (K extends 'grantType' ? string : CredentialFields[K]) | null
}

/** How a caller names a credential: the id wins when it is a positive number (SPEC §3). */
export interface CredentialReference {
  credentialId?: number
  clientIdentifier?: string
}

/** Who asked for a change, recorded in the audit trail. */
export interface Actor {
  actor: string
  source: 'legacy' | 'rest'
  requestId?: string
}

/** One entry of a credential's audit trail: field names only, never values. */
export interface AuditEvent {
  id: number
  credentialId: number
  actor: string
  action: string
  changedFields: string[]
  requestId: string | null
  source: string
  createdAt: Date
}

/** The names the audit trail records for changed fields: the names callers send. */
export const AUDIT_FIELD_NAMES: Record<keyof CredentialFields, string> = {
  name: 'name',
  description: 'description',
  grantType: 'grantType',
  scopes: 'scope',
  serviceId: 'serviceId',
  logoUri: 'logoUri',
  redirectUris: 'redirectUri',
}
