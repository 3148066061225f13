import type { AuditEvent, StoredCredential } from '../credentials/credential.js'
import { CREDENTIAL_COLUMNS, EVENT_COLUMNS, LISTS, SCOPE_NAMES, insertList } from '../credentials/storage.js'
import type { Transaction } from '../db/database.js'
import { sql } from '../db/sql.js'
import type { ApiCredentialRecord, CredentialRecord } from './records.js'

/*
 * The transfer's storage: the statements an export and an import run, always inside one
 * transaction that the caller opens (src/transfer/service.ts). Column lists are the
 * credentials domain's own, so a record reads exactly as the service reads a credential.
 */

/** How long an import waits for writers in flight before it gives up (nothing written). */
const LOCK_TIMEOUT = '10s'
/** Rows read per statement while exporting. */
const PAGE = 1000

const API_CREDENTIAL_COLUMNS = `identifier, secret_hash AS "secretHash", description,
  COALESCE(permissions, '{}') AS permissions, COALESCE(allowed_ips, '{}') AS "allowedIps",
  revoked_at AS "revokedAt", created_at AS "createdAt"`

type EventRow = AuditEvent & { id: string }
const eventOf = (row: EventRow): AuditEvent => ({ ...row, id: Number(row.id) })

const CREDENTIALS_BY_KEYS = sql<StoredCredential, { ids: number[]; identifiers: string[] }>(
  `SELECT ${CREDENTIAL_COLUMNS} FROM credential c
   WHERE c.id = ANY(CAST(:ids AS integer[])) OR c.client_identifier = ANY(CAST(:identifiers AS text[]))`,
)
const API_CREDENTIALS_BY_IDENTIFIERS = sql<ApiCredentialRecord, { identifiers: string[] }>(
  `SELECT ${API_CREDENTIAL_COLUMNS} FROM api_credential WHERE identifier = ANY(CAST(:identifiers AS text[]))`,
)
const EVENTS_BY_IDS = sql<EventRow, { ids: number[] }>(
  `SELECT ${EVENT_COLUMNS} FROM audit_event WHERE id = ANY(CAST(:ids AS bigint[]))`,
)

const CREDENTIALS_PAGE = sql<StoredCredential, { afterId: number; limit: number }>(
  `SELECT ${CREDENTIAL_COLUMNS} FROM credential c WHERE c.id > :afterId ORDER BY c.id LIMIT :limit`,
)
const API_CREDENTIALS = sql<ApiCredentialRecord>(`SELECT ${API_CREDENTIAL_COLUMNS} FROM api_credential ORDER BY id`)
const EVENTS_PAGE = sql<EventRow, { afterId: number; limit: number }>(
  `SELECT ${EVENT_COLUMNS} FROM audit_event WHERE id > :afterId ORDER BY id LIMIT :limit`,
)

/** Every column of a credential's row, as the record has it (`version` and `lastUsedAt` filled in). */
type CredentialRow = Omit<CredentialRecord, 'origin' | 'scopes' | 'redirectUris'> &
  Required<Pick<CredentialRecord, 'previousSecretHash' | 'previousSecretExpiresAt' | 'version' | 'lastUsedAt'>>

const ROW_VALUES = `secret_hash = :secretHash, previous_secret_hash = :previousSecretHash,
  previous_secret_expires_at = CAST(:previousSecretExpiresAt AS timestamptz), name = :name, description = :description,
  grant_type = CAST(:grantType AS "GrantType"), service_id = CAST(:serviceId AS integer), logo_uri = :logoUri,
  version = :version, last_used_at = CAST(:lastUsedAt AS timestamptz), created_at = :createdAt, updated_at = :updatedAt`

/** A new credential row with the record's id; its columns are set by the same assignments as an update. */
const INSERT_CREDENTIAL = sql<never, CredentialRow>(
  `INSERT INTO credential (id, client_identifier, secret_hash, grant_type)
   VALUES (:credentialId, :clientIdentifier, :secretHash, CAST(:grantType AS "GrantType"))
   ON CONFLICT (id) DO NOTHING`,
)
const UPDATE_CREDENTIAL = sql<never, CredentialRow>(`UPDATE credential SET ${ROW_VALUES} WHERE id = :credentialId`)

type ListParams = { credentialId: number } & Partial<Record<(typeof LISTS)[number]['param'], string[]>>
/** Per list (scopes, redirect URIs): clear a credential's, then fill it in order. */
const LIST_STATEMENTS = LISTS.map((list) => ({
  param: list.param,
  clear: sql<never, ListParams>(`DELETE FROM ${list.table} WHERE credential_id = :credentialId`),
  fill: sql<never, ListParams>(`WITH owner AS (SELECT CAST(:credentialId AS integer) AS id) ${insertList('owner', list)}`),
}))

const INSERT_API_CREDENTIAL = sql<never, ApiCredentialRecord>(
  `INSERT INTO api_credential (identifier, secret_hash, description, permissions, allowed_ips, revoked_at, created_at)
   VALUES (:identifier, :secretHash, :description, :permissions, :allowedIps, CAST(:revokedAt AS timestamptz), :createdAt)`,
)

/** An audit event: with the record's id, or (id null) the next one. */
const INSERT_EVENT = sql<never, Omit<AuditEvent, 'id'> & { id: number | null }>(
  `INSERT INTO audit_event (id, credential_id, actor, action, changed_fields, request_id, source, created_at)
   VALUES (COALESCE(CAST(:id AS bigint), nextval(pg_get_serial_sequence('audit_event', 'id'))),
     :credentialId, :actor, :action, :changedFields, :requestId, :source, :createdAt)`,
)

/**
 * Moves each id sequence past the highest id in its table, never back. Credential ids also
 * pass every id the audit trail names, so a deleted credential's id (and trail) is not reused.
 */
const ADVANCE_SEQUENCES = sql<never>(`
  SELECT setval(CAST(seq AS regclass), top) FROM (VALUES
    (pg_get_serial_sequence('credential', 'id'),
      GREATEST((SELECT max(id) FROM credential), (SELECT max(credential_id) FROM audit_event))),
    (pg_get_serial_sequence('api_credential', 'id'), (SELECT max(id) FROM api_credential)),
    (pg_get_serial_sequence('audit_event', 'id'), (SELECT max(id) FROM audit_event))) AS s(seq, top)
  WHERE top > COALESCE(pg_sequence_last_value(CAST(seq AS regclass)), 0)`)

export function transferStorage(tx: Transaction) {
  return {
    /** Keeps every other writer out until the transaction ends, waiting at most LOCK_TIMEOUT. */
    async lockForImport(): Promise<void> {
      await tx.exec(
        `SET LOCAL lock_timeout = '${LOCK_TIMEOUT}';
         LOCK TABLE credential, api_credential, audit_event IN SHARE ROW EXCLUSIVE MODE`,
      )
    },

    /** One consistent view of every table for the rest of the transaction (its first statement). */
    async snapshot(): Promise<void> {
      await tx.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY')
    },

    async scopeNames(): Promise<Set<string>> {
      return new Set((await tx.run(SCOPE_NAMES, {})).map((row) => row.name))
    },

    /** The stored credentials that have one of these ids or client identifiers. */
    credentialsMatching(ids: number[], identifiers: string[]): Promise<StoredCredential[]> {
      return tx.run(CREDENTIALS_BY_KEYS, { ids, identifiers })
    },

    apiCredentialsMatching(identifiers: string[]): Promise<ApiCredentialRecord[]> {
      return tx.run(API_CREDENTIALS_BY_IDENTIFIERS, { identifiers })
    },

    async eventsMatching(ids: number[]): Promise<AuditEvent[]> {
      return (await tx.run(EVENTS_BY_IDS, { ids })).map(eventOf)
    },

    /** Stores a credential with the record's id, or overwrites the one with that id. */
    async putCredential(row: CredentialRow, lists: Pick<CredentialRecord, 'scopes' | 'redirectUris'>): Promise<void> {
      await tx.run(INSERT_CREDENTIAL, row)
      await tx.run(UPDATE_CREDENTIAL, row)
      for (const { param, clear, fill } of LIST_STATEMENTS) {
        await tx.run(clear, row)
        await tx.run(fill, { credentialId: row.credentialId, [param]: lists[param] })
      }
    },

    async insertApiCredential(record: ApiCredentialRecord): Promise<void> {
      await tx.run(INSERT_API_CREDENTIAL, record)
    },

    /** Stores an audit event; with `id: null` it takes the next id. */
    async insertEvent(event: Omit<AuditEvent, 'id'> & { id: number | null }): Promise<void> {
      await tx.run(INSERT_EVENT, event)
    },

    async advanceSequences(): Promise<void> {
      await tx.run(ADVANCE_SEQUENCES, {})
    },

    /** Every credential, in id order, a page at a time. */
    async *credentials(): AsyncGenerator<StoredCredential> {
      for (let afterId = 0; ; ) {
        const rows = await tx.run(CREDENTIALS_PAGE, { afterId, limit: PAGE })
        yield* rows
        if (rows.length < PAGE) return
        afterId = (rows.at(-1) as StoredCredential).credentialId
      }
    },

    apiCredentials(): Promise<ApiCredentialRecord[]> {
      return tx.run(API_CREDENTIALS, {})
    },

    /** The whole audit trail, in id order, a page at a time. */
    async *events(): AsyncGenerator<AuditEvent> {
      for (let afterId = 0; ; ) {
        const rows = (await tx.run(EVENTS_PAGE, { afterId, limit: PAGE })).map(eventOf)
        yield* rows
        if (rows.length < PAGE) return
        afterId = (rows.at(-1) as AuditEvent).id
      }
    },
  }
}

export type TransferStorage = ReturnType<typeof transferStorage>
