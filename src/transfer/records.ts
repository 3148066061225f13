import type { AuditEvent } from '../credentials/credential.js'
import type { ApiCredential } from '../generated/prisma/client.js'

/*
 * What an import takes in and an export gives out, whatever the file format: the rows that
 * matter, secrets only as their stored hashes. A backup (src/transfer/jsonl.ts) fills every
 * field; another system's export (the original billing system's list) leaves the optional ones
 * out, and the import then keeps or defaults them.
 */

/** The audit trail's source for every change an import makes. */
export const IMPORT_SOURCE = 'import' as const

/** Where a record came from ("line 12"), so that a report can point at it. */
interface Traced {
  origin?: string
}

/** A credential with its secret's hash, scopes and redirect URIs, keyed by its id and client identifier. */
export interface CredentialRecord extends Traced {
  credentialId: number
  clientIdentifier: string
  /** SHA-256 hex of the client secret, as src/secrets.ts stores it. */
  secretHash: string
  name: string
  description: string
  grantType: string
  scopes: string[]
  serviceId: number | null
  logoUri: string | null
  redirectUris: string[]
  createdAt: Date
  updatedAt: Date
  /** Left out: kept as stored, or none when created (cleared when the secret changes). */
  previousSecretHash?: string | null
  previousSecretExpiresAt?: Date | null
  /** Left out: 1 when created. Never compared: it is a concurrency token, not data. */
  version?: number
  /** Left out: kept as stored. Never compared: authentication moves it without a change. */
  lastUsedAt?: Date | null
}

/** An API credential (a caller of this service), keyed by its identifier. */
export type ApiCredentialRecord = Traced &
  Pick<ApiCredential, 'identifier' | 'secretHash' | 'description' | 'permissions' | 'allowedIps' | 'revokedAt' | 'createdAt'>

/** One audit event, keyed by its id. */
export type EventRecord = Traced & AuditEvent

/** Everything one import brings, or one export holds. */
export interface TransferRecords {
  credentials: CredentialRecord[]
  apiCredentials: ApiCredentialRecord[]
  events: EventRecord[]
}
