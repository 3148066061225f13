import type { AuditEvent, StoredCredential } from '../credentials/credential.js'
import { CREDENTIAL_COLUMNS, EVENT_COLUMNS, LISTS, SCOPE_NAMES } from '../credentials/storage.js'
import type { Transaction } from '../db/database.js'
import { sql } from '../db/sql.js'
import { IMPORT_SOURCE, type ApiCredentialRecord, type CredentialRecord } from './records.js'

/*
 * The transfer's storage: the statements an export and an import run, always inside one
 * transaction that the caller opens (src/transfer/service.ts). Column lists are the
 * credentials domain's own, so a record reads exactly as the service reads a credential.
 */

/** How long an import waits for writers in flight, or another import, before it gives up (nothing written). */
export const LOCK_WAIT_SECONDS = 10
/** Rows read per statement while exporting. */
const PAGE = 1000

const API_CREDENTIAL_COLUMNS = `identifier, secret_hash AS "secretHash", description,
  COALESCE(permissions, '{}') AS permissions, COALESCE(allowed_ips, '{}') AS "allowedIps",
  revoked_at AS "revokedAt", created_at AS "createdAt"`

type EventRow = AuditEvent & { id: string }
const eventOf = (row: EventRow): AuditEvent => ({ ...row, id: Number(row.id) })

const CREDENTIALS_BY_KEYS = sql<StoredCredential, { ids: number[]; identifiers: string[] }>('transfer.credentials_by_keys', 
  `SELECT ${CREDENTIAL_COLUMNS} FROM credential c
   WHERE c.id = ANY(CAST(:ids AS integer[])) OR c.client_identifier = ANY(CAST(:identifiers AS text[]))`,
)
const API_CREDENTIALS_BY_IDENTIFIERS = sql<ApiCredentialRecord, { identifiers: string[] }>('transfer.api_credentials_by_identifiers', 
  `SELECT ${API_CREDENTIAL_COLUMNS} FROM api_credential WHERE identifier = ANY(CAST(:identifiers AS text[]))`,
)
const EVENTS_BY_IDS = sql<EventRow, { ids: number[] }>('transfer.events_by_ids', 
  `SELECT ${EVENT_COLUMNS} FROM audit_event WHERE id = ANY(CAST(:ids AS bigint[]))`,
)
/**
 * For each credential id that `actor` imported: the newest change made here since its newest
 * import (an event of another source than `import`; another import, such as a restore, is no
 * change), through the (credential_id, id) index. A trail with neither an import of `actor`'s
 * nor any creation left was pruned past them (AUDIT_RETENTION_DAYS deletes the oldest first):
 * every change in it was made here after the import. Otherwise an id this importer never
 * imported has none.
 */
const CHANGED_SINCE_IMPORT = sql<EventRow, { ids: number[]; actor: string }>('transfer.changed_since_import', 
  `SELECT changed.* FROM unnest(CAST(:ids AS integer[])) AS wanted(id)
   CROSS JOIN LATERAL (SELECT max(id) AS id FROM audit_event
     WHERE credential_id = wanted.id AND source = '${IMPORT_SOURCE}' AND actor = :actor) AS imported
   CROSS JOIN LATERAL (SELECT ${EVENT_COLUMNS} FROM audit_event
     WHERE credential_id = wanted.id AND source <> '${IMPORT_SOURCE}'
       AND (id > imported.id OR (imported.id IS NULL AND NOT EXISTS (
         SELECT 1 FROM audit_event created WHERE created.credential_id = wanted.id AND created.action = 'create')))
     ORDER BY id DESC LIMIT 1) AS changed`,
)

/** Stored credentials `actor` imported before (an import event of theirs is left) that are not among `ids`. */
const IMPORTED_BESIDES = sql<StoredCredential, { ids: number[]; actor: string }>('transfer.imported_besides',
  `SELECT ${CREDENTIAL_COLUMNS} FROM credential c
   WHERE c.id <> ALL(CAST(:ids AS integer[]))
     AND EXISTS (SELECT 1 FROM audit_event e WHERE e.credential_id = c.id AND e.source = '${IMPORT_SOURCE}' AND e.actor = :actor)
   ORDER BY c.id`,
)
const DELETE_CREDENTIALS = sql<{ id: number }, { ids: number[] }>('transfer.delete_credentials',
  'DELETE FROM credential WHERE id = ANY(CAST(:ids AS integer[])) RETURNING id',
)

const CREDENTIALS_PAGE = sql<StoredCredential, { afterId: number; limit: number }>('transfer.credentials_page', 
  `SELECT ${CREDENTIAL_COLUMNS} FROM credential c WHERE c.id > :afterId ORDER BY c.id LIMIT :limit`,
)
const API_CREDENTIALS = sql<ApiCredentialRecord>('transfer.api_credentials', `SELECT ${API_CREDENTIAL_COLUMNS} FROM api_credential ORDER BY id`)
const EVENTS_PAGE = sql<EventRow, { afterId: number; limit: number }>('transfer.events_page', 
  `SELECT ${EVENT_COLUMNS} FROM audit_event WHERE id > :afterId ORDER BY id LIMIT :limit`,
)

/** Every column of a credential's row and its lists, as the record has them (`version` and `lastUsedAt` filled in). */
export type CredentialRow = Omit<CredentialRecord, 'origin'> &
  Required<Pick<CredentialRecord, 'previousSecretHash' | 'previousSecretExpiresAt' | 'version' | 'lastUsedAt'>>

/** Rows written per statement: each batch travels as one JSON parameter. */
const BATCH = 500

/** New credential rows with the records' ids, a batch (`:rows`, JSON) at a time. */
const INSERT_CREDENTIALS = sql<never, { rows: string }>('transfer.insert_credentials', `
  INSERT INTO credential (id, client_identifier, secret_hash, previous_secret_hash, previous_secret_expires_at, name,
    description, grant_type, service_id, logo_uri, version, last_used_at, created_at, updated_at)
  SELECT r."credentialId", r."clientIdentifier", r."secretHash", r."previousSecretHash", r."previousSecretExpiresAt", r.name,
    r.description, CAST(r."grantType" AS "GrantType"), r."serviceId", r."logoUri", r.version, r."lastUsedAt", r."createdAt", r."updatedAt"
  FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r("credentialId" integer, "clientIdentifier" text, "secretHash" text,
    "previousSecretHash" text, "previousSecretExpiresAt" timestamptz, name text, description text, "grantType" text,
    "serviceId" integer, "logoUri" text, version integer, "lastUsedAt" timestamptz, "createdAt" timestamptz, "updatedAt" timestamptz)`)

const UPDATE_CREDENTIAL = sql<never, CredentialRow>('transfer.update_credential', `
  UPDATE credential SET secret_hash = :secretHash, previous_secret_hash = :previousSecretHash,
    previous_secret_expires_at = CAST(:previousSecretExpiresAt AS timestamptz), name = :name, description = :description,
    grant_type = CAST(:grantType AS "GrantType"), service_id = CAST(:serviceId AS integer), logo_uri = :logoUri,
    version = :version, last_used_at = CAST(:lastUsedAt AS timestamptz), created_at = :createdAt, updated_at = :updatedAt
  WHERE id = :credentialId`)

/** Per list (scopes, redirect URIs): clear those of some credentials, and fill a batch's in order. */
const LIST_STATEMENTS = LISTS.map(({ param, table, column }) => ({
  clear: sql<never, { ids: number[] }>(`transfer.clear_${table}`, `DELETE FROM ${table} WHERE credential_id = ANY(CAST(:ids AS integer[]))`),
  fill: sql<never, { rows: string }>(`transfer.fill_${table}`, `
    INSERT INTO ${table} (credential_id, ${column}, position)
    SELECT r."credentialId", item.value, item.n - 1
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r("credentialId" integer, "${param}" jsonb),
      jsonb_array_elements_text(r."${param}") WITH ORDINALITY AS item(value, n)`),
}))

const INSERT_API_CREDENTIAL = sql<never, ApiCredentialRecord>('transfer.insert_api_credential', 
  `INSERT INTO api_credential (identifier, secret_hash, description, permissions, allowed_ips, revoked_at, created_at)
   VALUES (:identifier, :secretHash, :description, :permissions, :allowedIps, CAST(:revokedAt AS timestamptz), :createdAt)`,
)

/** Audit events, a batch at a time: each with its record's id, or (id null) the next one. */
const INSERT_EVENTS = sql<never, { rows: string }>('transfer.insert_events', `
  INSERT INTO audit_event (id, credential_id, actor, action, changed_fields, request_id, source, created_at)
  SELECT COALESCE(r.id, nextval(pg_get_serial_sequence('audit_event', 'id'))), r."credentialId", r.actor, r.action,
    ARRAY(SELECT jsonb_array_elements_text(r."changedFields")), r."requestId", r.source, r."createdAt"
  FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id bigint, "credentialId" integer, actor text,
    action text, "changedFields" jsonb, "requestId" text, source text, "createdAt" timestamptz)`)

/**
 * Moves each id sequence past the highest id in its table, never back. Credential ids also
 * pass every id the audit trail names, so a deleted credential's id (and trail) is not reused.
 */
const ADVANCE_SEQUENCES = sql<never>('transfer.advance_sequences', `
  SELECT setval(CAST(seq AS regclass), top) FROM (VALUES
    (pg_get_serial_sequence('credential', 'id'),
      GREATEST((SELECT max(id) FROM credential), (SELECT max(credential_id) FROM audit_event))),
    (pg_get_serial_sequence('api_credential', 'id'), (SELECT max(id) FROM api_credential)),
    (pg_get_serial_sequence('audit_event', 'id'), (SELECT max(id) FROM audit_event))) AS s(seq, top)
  WHERE top > COALESCE(pg_sequence_last_value(CAST(seq AS regclass)), 0)`)

function* batches<T>(items: T[]): Generator<T[]> {
  for (let start = 0; start < items.length; start += BATCH) yield items.slice(start, start + BATCH)
}

export function transferStorage(tx: Transaction) {
  return {
    /**
     * Keeps every other writer out until the transaction ends, waiting at most LOCK_WAIT_SECONDS
     * (a lock_timeout error, 55P03): the wait is bounded by the lock's timeout alone, not by the
     * shorter one every statement has, which applies again once the lock is held.
     */
    async lockForImport(): Promise<void> {
      await tx.exec(
        `SET LOCAL lock_timeout = '${LOCK_WAIT_SECONDS}s';
         SET LOCAL statement_timeout = 0;
         LOCK TABLE credential, api_credential, audit_event IN SHARE ROW EXCLUSIVE MODE;
         SET LOCAL statement_timeout = DEFAULT`,
        { timeoutMs: (LOCK_WAIT_SECONDS + 5) * 1000 },
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

    /** The changes made here since `actor` last imported each of these credentials (CHANGED_SINCE_IMPORT). */
    async changedSinceImport(ids: number[], actor: string): Promise<AuditEvent[]> {
      return (await tx.run(CHANGED_SINCE_IMPORT, { ids, actor })).map(eventOf)
    },

    /** The credentials `actor` imported before that `ids` leaves out (the source no longer holds them). */
    importedBesides(ids: number[], actor: string): Promise<StoredCredential[]> {
      return tx.run(IMPORTED_BESIDES, { ids, actor })
    },

    /** Deletes credentials, their lists with them (their audit trail stays). */
    async deleteCredentials(ids: number[]): Promise<void> {
      if (ids.length > 0) await tx.run(DELETE_CREDENTIALS, { ids })
    },

    /** Stores new credentials, with the records' ids. */
    async insertCredentials(rows: CredentialRow[]): Promise<void> {
      for (const batch of batches(rows)) {
        await tx.run(INSERT_CREDENTIALS, { rows: JSON.stringify(batch) })
        for (const { fill } of LIST_STATEMENTS) await tx.run(fill, { rows: JSON.stringify(batch) })
      }
    },

    /** Overwrites stored credentials (the ones with the rows' ids), their lists too. */
    async updateCredentials(rows: CredentialRow[]): Promise<void> {
      for (const row of rows) await tx.run(UPDATE_CREDENTIAL, row)
      for (const batch of batches(rows)) {
        for (const { clear, fill } of LIST_STATEMENTS) {
          await tx.run(clear, { ids: batch.map((row) => row.credentialId) })
          await tx.run(fill, { rows: JSON.stringify(batch) })
        }
      }
    },

    async insertApiCredentials(records: ApiCredentialRecord[]): Promise<void> {
      for (const record of records) await tx.run(INSERT_API_CREDENTIAL, record)
    },

    /** Stores audit events in their order; those with `id: null` take the next ids. */
    async insertEvents(events: (Omit<AuditEvent, 'id'> & { id: number | null })[]): Promise<void> {
      for (const batch of batches(events)) await tx.run(INSERT_EVENTS, { rows: JSON.stringify(batch) })
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
