import type { AuditEvent, StoredCredential } from '../credentials/credential.js'
import type { Database } from '../db/database.js'
import { metrics } from '../observability/metrics.js'
import { planImport, type ImportPlan, type PlanOptions } from './plan.js'
import { IMPORT_SOURCE, type ApiCredentialRecord, type CredentialRecord, type TransferRecords } from './records.js'
import { LOCK_WAIT_SECONDS, transferStorage, type CredentialRow, type TransferStorage } from './storage.js'

export interface ImportOptions extends PlanOptions {
  /** Plan only: nothing is written. */
  dryRun?: boolean
  /** Who imports, as the audit trail names them (its source is always IMPORT_SOURCE). */
  actor: string
}

/** The tables stayed held (by another import, or writes that did not finish) past the import's wait: nothing was written. */
export class ImportBusy extends Error {
  constructor() {
    super(`Nothing was imported: another import, or writes in flight, held the tables for more than ${LOCK_WAIT_SECONDS} s. Run it again.`)
    this.name = 'ImportBusy'
  }
}

/** PostgreSQL's lock_not_available: a lock_timeout passed. */
const LOCK_NOT_AVAILABLE = '55P03'

export interface ImportOutcome {
  plan: ImportPlan
  /** Whether the plan was carried out: false on a dry run or when anything conflicts. */
  written: boolean
}

/**
 * Imports `incoming` in one transaction, with every other writer kept out: it plans against
 * what is stored (src/transfer/plan.ts), then, unless it is a dry run or something conflicts,
 * carries the whole plan out, moves the id sequences past the highest id, and records an
 * audit event of source `import` for each credential it created or changed. Running it again
 * on the same records finds them unchanged and writes nothing.
 */
export async function importRecords(database: Database, incoming: TransferRecords, options: ImportOptions): Promise<ImportOutcome> {
  const outcome = await database.transaction(async (tx) => {
    const storage = transferStorage(tx)
    await storage.lockForImport().catch((error: unknown) => {
      throw (error as { code?: unknown }).code === LOCK_NOT_AVAILABLE ? new ImportBusy() : error
    })
    const { credentials, apiCredentials, events } = incoming
    const incomingIds = credentials.map((record) => record.credentialId)
    const gone = options.whenGone ? await storage.importedBesides(incomingIds, options.actor) : undefined
    const existing = {
      credentials: await storage.credentialsMatching(incomingIds, credentials.map((record) => record.clientIdentifier)),
      apiCredentials: await storage.apiCredentialsMatching(apiCredentials.map((record) => record.identifier)),
      events: await storage.eventsMatching(events.map((record) => record.id)),
      catalogue: await storage.scopeNames(),
      changedHere:
        options.whenChanged === 'update'
          ? new Map(
              (await storage.changedSinceImport([...incomingIds, ...(gone ?? []).map((stored) => stored.credentialId)], options.actor)).map(
                (event) => [event.credentialId, event],
              ),
            )
          : undefined,
      gone,
    }
    const plan = planImport(incoming, existing, options)
    if (options.dryRun || plan.conflicts.length > 0) return { plan, written: false }
    await carryOut(storage, plan, options.actor)
    return { plan, written: true }
  })
  if (outcome.written) {
    metrics.credentialChanged('create', IMPORT_SOURCE, outcome.plan.credentials.create.length)
    metrics.credentialChanged('update', IMPORT_SOURCE, outcome.plan.credentials.update.length)
    metrics.credentialChanged('delete', IMPORT_SOURCE, outcome.plan.credentials.remove.length)
  }
  return outcome
}

async function carryOut(storage: TransferStorage, plan: ImportPlan, actor: string): Promise<void> {
  const audit: Omit<AuditEvent, 'id' | 'credentialId' | 'action' | 'changedFields'> & { id: null } = {
    id: null,
    actor,
    source: IMPORT_SOURCE,
    requestId: null,
    createdAt: new Date(),
  }
  const { create, update, remove } = plan.credentials
  await storage.deleteCredentials(remove.map((stored) => stored.credentialId))
  await storage.insertCredentials(create.map(createdRow))
  await storage.updateCredentials(update.map(({ record, current }) => updatedRow(record, current)))
  await storage.insertApiCredentials(plan.apiCredentials.create)
  await storage.insertEvents(plan.events.create)
  // Before the import's own events take their ids, so that those come after every imported one.
  await storage.advanceSequences()
  await storage.insertEvents([
    ...create.map((record) => ({ ...audit, credentialId: record.credentialId, action: 'create', changedFields: [] })),
    ...update.map(({ record, changedFields }) => ({ ...audit, credentialId: record.credentialId, action: 'update', changedFields })),
    ...remove.map((stored) => ({ ...audit, credentialId: stored.credentialId, action: 'delete', changedFields: [] })),
  ])
}

function createdRow({ origin: _, ...record }: CredentialRecord): CredentialRow {
  return {
    ...record,
    previousSecretHash: record.previousSecretHash ?? null,
    previousSecretExpiresAt: record.previousSecretExpiresAt ?? null,
    version: record.version ?? 1,
    lastUsedAt: record.lastUsedAt ?? null,
  }
}

/** The row that replaces `current`: a new version, and the grace period as another system's record leaves it. */
function updatedRow({ origin: _, ...record }: CredentialRecord, current: StoredCredential): CredentialRow {
  const secretChanged = record.secretHash !== current.secretHash
  // Another system's record may not know the grace period: a new secret ends it, else it stays.
  const kept = <T>(given: T | undefined, stored: T): T | null => (given !== undefined ? given : secretChanged ? null : stored)
  return {
    ...record,
    previousSecretHash: kept(record.previousSecretHash, current.previousSecretHash),
    previousSecretExpiresAt: kept(record.previousSecretExpiresAt, current.previousSecretExpiresAt),
    version: current.version + 1,
    lastUsedAt: current.lastUsedAt,
  }
}

/** One record of an export, in the order they come: credentials, API credentials, then events. */
export type ExportedRecord =
  | { type: 'credential'; record: Required<Omit<CredentialRecord, 'origin'>> }
  | { type: 'apiCredential'; record: ApiCredentialRecord }
  | { type: 'event'; record: AuditEvent }

/**
 * Hands every credential, API credential and (with `withEvents`) audit event to `write`, read
 * from one consistent snapshot, so that a backup taken while the service runs is whole.
 * Returns how many of each it wrote.
 */
export async function exportRecords(
  database: Database,
  options: { withEvents: boolean },
  write: (exported: ExportedRecord) => void,
): Promise<{ credentials: number; apiCredentials: number; events: number }> {
  return database.transaction(async (tx) => {
    const storage = transferStorage(tx)
    await storage.snapshot()
    const counts = { credentials: 0, apiCredentials: 0, events: 0 }
    for await (const stored of storage.credentials()) {
      write({ type: 'credential', record: stored })
      counts.credentials++
    }
    for (const record of await storage.apiCredentials()) {
      write({ type: 'apiCredential', record })
      counts.apiCredentials++
    }
    if (options.withEvents) {
      for await (const record of storage.events()) {
        write({ type: 'event', record })
        counts.events++
      }
    }
    return counts
  })
}
