import { API_IDENTIFIER_RULE, isApiIdentifier, settingsRefusal } from '../api-clients/access.js'
import { AUDIT_FIELD_NAMES, isRowNumber, MAX_ID, type AuditEvent, type StoredCredential } from '../credentials/credential.js'
import { CredentialError } from '../credentials/errors.js'
import { assertValidCredential } from '../credentials/rules.js'
import type { ApiCredentialRecord, CredentialRecord, EventRecord, TransferRecords } from './records.js'

/** What the database holds of the incoming records' keys (ids, identifiers), and the scope catalogue. */
export interface ExistingRows {
  credentials: StoredCredential[]
  apiCredentials: ApiCredentialRecord[]
  events: AuditEvent[]
  catalogue: ReadonlySet<string>
  /**
   * With `whenChanged: 'update'`: per credential id, the newest change made here since this
   * importer last imported it (a deletion too), if any.
   */
  changedHere?: ReadonlyMap<number, AuditEvent>
  /**
   * With `whenGone`: the stored credentials this importer imported before that the incoming
   * records no longer hold (`changedHere` covers them too).
   */
  gone?: StoredCredential[]
}

/** A credential the import changes: the record, what is stored, and which fields differ. */
export interface CredentialUpdate {
  record: CredentialRecord
  current: StoredCredential
  /** Audit-trail names of the fields that differ (the secret columns are `clientSecret`). */
  changedFields: string[]
}

/** A credential changed or deleted here since this importer last imported it: left as it is here. */
export interface CredentialKept {
  credentialId: number
  clientIdentifier: string
  /** The newest change made here. */
  last: AuditEvent
  /** What the import would have changed; empty for a credential deleted here, or gone from the source. */
  changedFields: string[]
  /** The source no longer holds it: the import would have deleted it. */
  gone?: true
}

/**
 * What an import does. Nothing is written unless `conflicts` is empty. API credentials and
 * events are never changed by an import: one that differs from what is stored is a conflict.
 */
export interface ImportPlan {
  credentials: {
    create: CredentialRecord[]
    update: CredentialUpdate[]
    unchanged: CredentialRecord[]
    /** Imported before, gone from the source since: deleted with `whenGone: 'delete'`. */
    remove: StoredCredential[]
    /** The same, only reported (`whenGone: 'report'`). */
    goneKept: StoredCredential[]
    keptHere: CredentialKept[]
  }
  apiCredentials: { create: ApiCredentialRecord[]; unchanged: ApiCredentialRecord[] }
  events: { create: EventRecord[]; unchanged: EventRecord[] }
  /** One readable line each. */
  conflicts: string[]
}

export interface PlanOptions {
  /**
   * A stored credential with the record's id and client identifier but other data: `update`
   * it (a re-import from a system that is still in use), or report a `conflict` (a backup,
   * which must not overwrite what changed since it was made).
   */
  whenChanged: 'update' | 'conflict'
  /**
   * A credential this importer imported before that the incoming records no longer hold (the
   * source deleted it): `delete` it too, unless it was changed here since (then it is kept and
   * reported), or only `report` it. Unset: not looked for, as a backup's import leaves alone
   * what is not in the backup.
   */
  whenGone?: 'delete' | 'report'
}

/** Fields compared between a record and the stored credential, with their audit-trail names. */
const COMPARED_FIELDS: Record<Exclude<keyof CredentialRecord, 'origin' | 'credentialId' | 'clientIdentifier' | 'version' | 'lastUsedAt'>, string> = {
  ...AUDIT_FIELD_NAMES,
  secretHash: 'clientSecret',
  previousSecretHash: 'clientSecret',
  previousSecretExpiresAt: 'clientSecret',
  createdAt: 'createdAt',
  updatedAt: 'updatedAt',
}

const API_CREDENTIAL_FIELDS = ['secretHash', 'description', 'permissions', 'allowedIps', 'revokedAt', 'createdAt'] as const
const EVENT_FIELDS = ['credentialId', 'actor', 'action', 'changedFields', 'requestId', 'source', 'createdAt'] as const

const SECRET_HASH = /^[0-9a-f]{64}$/
const MAX_IDENTIFIER = 128

/** Values compare as their JSON: dates by instant, lists in order. */
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

/** "credential 7 (line 12)": how a report names a record. */
function named(kind: string, key: string | number, record: { origin?: string }): string {
  return `${kind} ${shown(String(key))}${record.origin ? ` (${record.origin})` : ''}`
}

/** Text for the operator's terminal: control and format characters as escapes, never raw. */
function shown(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, (character) => `\\u${character.codePointAt(0)!.toString(16).padStart(4, '0')}`)
}

/** What a client identifier may hold: visible ASCII (the service's and the original's are `PREFIX.` and base64). */
const CLIENT_IDENTIFIER = /^[\x21-\x7e]+$/

/** Event ids stay far below 2^53, so that the ones written after an import are still exact in JSON. */
const MAX_EVENT_ID = 2 ** 52

/**
 * Decides what importing `incoming` into a database holding `existing` does: which records
 * are created, updated or already there, and which conflict. Pure: it reads and writes nothing.
 */
export function planImport(incoming: TransferRecords, existing: ExistingRows, options: PlanOptions): ImportPlan {
  const plan: ImportPlan = {
    credentials: { create: [], update: [], unchanged: [], remove: [], goneKept: [], keptHere: [] },
    apiCredentials: { create: [], unchanged: [] },
    events: { create: [], unchanged: [] },
    conflicts: [],
  }
  planCredentials(plan, incoming.credentials, existing, options)
  planApiCredentials(plan, incoming.apiCredentials, existing.apiCredentials)
  planEvents(plan, incoming.events, existing.events)
  return plan
}

function planCredentials(plan: ImportPlan, records: CredentialRecord[], existing: ExistingRows, options: PlanOptions): void {
  const byId = new Map(existing.credentials.map((row) => [row.credentialId, row]))
  const byIdentifier = new Map(existing.credentials.map((row) => [row.clientIdentifier, row]))
  const seenIds = new Set<number>()
  const seenIdentifiers = new Set<string>()
  for (const record of records) {
    const name = named('credential', record.credentialId, record)
    const problem = credentialProblem(record, existing.catalogue)
    if (problem) {
      plan.conflicts.push(`${name}: ${problem}`)
      continue
    }
    if (seenIds.has(record.credentialId) || seenIdentifiers.has(record.clientIdentifier)) {
      plan.conflicts.push(`${name}: its id or client identifier ${record.clientIdentifier} comes twice in the import`)
      continue
    }
    seenIds.add(record.credentialId)
    seenIdentifiers.add(record.clientIdentifier)
    const atId = byId.get(record.credentialId)
    const holder = byIdentifier.get(record.clientIdentifier)
    if (atId && atId.clientIdentifier !== record.clientIdentifier) {
      plan.conflicts.push(`${name}: id ${record.credentialId} holds ${atId.clientIdentifier}, the import has ${record.clientIdentifier}`)
    } else if (holder && holder.credentialId !== record.credentialId) {
      plan.conflicts.push(`${name}: ${record.clientIdentifier} is credential ${holder.credentialId} here`)
    } else if (!atId) {
      // A credential changed or deleted here since it was imported (`changedHere`, given with
      // `update`) is kept as it is here and reported: the import would undo that (a secret reset
      // here would bring the old one back).
      const deleted = existing.changedHere?.get(record.credentialId)
      if (deleted) plan.credentials.keptHere.push({ ...keyOf(record), last: deleted, changedFields: [] })
      else plan.credentials.create.push(record)
    } else {
      const changedFields = [
        ...new Set(
          (Object.keys(COMPARED_FIELDS) as (keyof typeof COMPARED_FIELDS)[])
            .filter((field) => record[field] !== undefined && !same(record[field], atId[field]))
            .map((field) => COMPARED_FIELDS[field]),
        ),
      ]
      if (changedFields.length === 0) plan.credentials.unchanged.push(record)
      else if (options.whenChanged === 'conflict') plan.conflicts.push(`${name}: ${record.clientIdentifier} is stored with other ${changedFields.join(', ')}`)
      else {
        const changed = existing.changedHere?.get(record.credentialId)
        if (changed) plan.credentials.keptHere.push({ ...keyOf(record), last: changed, changedFields })
        else plan.credentials.update.push({ record, current: atId, changedFields })
      }
    }
  }
  for (const stored of existing.gone ?? []) {
    const changed = existing.changedHere?.get(stored.credentialId)
    if (changed) plan.credentials.keptHere.push({ ...keyOf(stored), last: changed, changedFields: [], gone: true })
    else if (options.whenGone === 'delete') plan.credentials.remove.push(stored)
    else plan.credentials.goneKept.push(stored)
  }
}

const keyOf = ({ credentialId, clientIdentifier }: { credentialId: number; clientIdentifier: string }) => ({ credentialId, clientIdentifier })

/** Why a credential record cannot be stored at all, or null: the service's own rules, and sane keys. */
function credentialProblem(record: CredentialRecord, catalogue: ReadonlySet<string>): string | null {
  if (!isRowNumber(record.credentialId)) {
    return `the id must be a whole number from 1 to ${MAX_ID}`
  }
  if (record.clientIdentifier.length > MAX_IDENTIFIER || !CLIENT_IDENTIFIER.test(record.clientIdentifier)) {
    return `the client identifier must be 1 to ${MAX_IDENTIFIER} visible ASCII characters`
  }
  if (!SECRET_HASH.test(record.secretHash) || (record.previousSecretHash != null && !SECRET_HASH.test(record.previousSecretHash))) {
    return 'a secret hash must be 64 lowercase hexadecimal digits (SHA-256)'
  }
  const dates = [record.createdAt, record.updatedAt, record.previousSecretExpiresAt, record.lastUsedAt]
  if (dates.some((date) => date != null && Number.isNaN(date.getTime()))) return 'a date is not a valid instant'
  if (record.version !== undefined && !isRowNumber(record.version)) {
    return 'the version must be a whole number from 1'
  }
  try {
    assertValidCredential({ ...record }, catalogue)
  } catch (error) {
    if (error instanceof CredentialError) return error.message
    throw error
  }
  return null
}

function planApiCredentials(plan: ImportPlan, records: ApiCredentialRecord[], existing: ApiCredentialRecord[]): void {
  const stored = new Map(existing.map((row) => [row.identifier, row]))
  const seen = new Set<string>()
  for (const record of records) {
    const name = named('API credential', record.identifier, record)
    const problem = apiCredentialProblem(record)
    if (problem || seen.has(record.identifier)) {
      plan.conflicts.push(`${name}: ${problem ?? 'its identifier comes twice in the import'}`)
      continue
    }
    seen.add(record.identifier)
    const current = stored.get(record.identifier)
    if (!current) {
      plan.apiCredentials.create.push(record)
      continue
    }
    const differ = API_CREDENTIAL_FIELDS.filter((field) => !same(record[field], current[field]))
    if (differ.length === 0) plan.apiCredentials.unchanged.push(record)
    else plan.conflicts.push(`${name}: stored with other ${differ.join(', ')}`)
  }
}

function apiCredentialProblem(record: ApiCredentialRecord): string | null {
  if (!isApiIdentifier(record.identifier)) return `the identifier must be ${API_IDENTIFIER_RULE.description}`
  if (!SECRET_HASH.test(record.secretHash)) return 'the secret hash must be 64 lowercase hexadecimal digits (SHA-256)'
  return settingsRefusal(record.permissions, record.allowedIps) ?? null
}

function planEvents(plan: ImportPlan, records: EventRecord[], existing: AuditEvent[]): void {
  const stored = new Map(existing.map((row) => [row.id, row]))
  const seen = new Set<number>()
  for (const record of records) {
    const name = named('event', record.id, record)
    if (!Number.isSafeInteger(record.id) || record.id < 1 || record.id > MAX_EVENT_ID || seen.has(record.id)) {
      plan.conflicts.push(`${name}: the id must be a whole number from 1 to ${MAX_EVENT_ID}, once in the import`)
      continue
    }
    if (!isRowNumber(record.credentialId)) {
      plan.conflicts.push(`${name}: the credential id must be a whole number from 1 to ${MAX_ID}`)
      continue
    }
    seen.add(record.id)
    const current = stored.get(record.id)
    if (!current) plan.events.create.push(record)
    else if (EVENT_FIELDS.every((field) => same(record[field], current[field]))) plan.events.unchanged.push(record)
    else plan.conflicts.push(`${name}: another event has this id here`)
  }
}

/**
 * The plan as the operator reads it: counts, each change, and every conflict. `from`: a backup
 * (import), which holds API credentials and events too and never updates (a changed credential
 * is a conflict), or the original's list (import-legacy), credentials only, updated when changed.
 */
export function describePlan(plan: ImportPlan, outcome: 'dry-run' | 'refused' | 'written', from: 'backup' | 'original'): string {
  const { credentials, apiCredentials, events, conflicts } = plan
  const kept = credentials.keptHere.length > 0 ? `, ${credentials.keptHere.length} changed here since imported (kept)` : ''
  const updates = from === 'original' ? `${credentials.update.length} to update, ` : ''
  const removals =
    (credentials.remove.length > 0 ? `, ${credentials.remove.length} to delete` : '') +
    (credentials.goneKept.length > 0 ? `, ${credentials.goneKept.length} gone from the original (not deleted)` : '')
  const lines = [
    `Credentials: ${credentials.create.length} to create, ${updates}${credentials.unchanged.length} unchanged${removals}${kept}`,
    ...credentials.create.map((record) => `  create ${record.credentialId} ${record.clientIdentifier} ${JSON.stringify(record.name)}`),
    ...credentials.update.map(
      ({ record, changedFields }) => `  update ${record.credentialId} ${record.clientIdentifier}: ${changedFields.join(', ')}`,
    ),
    ...credentials.remove.map(
      (stored) => `  delete ${stored.credentialId} ${stored.clientIdentifier} ${JSON.stringify(stored.name)}: gone from the original`,
    ),
    ...credentials.goneKept.map(
      (stored) => `  gone ${stored.credentialId} ${stored.clientIdentifier} ${JSON.stringify(stored.name)}: not in the original's list; kept`,
    ),
    ...credentials.keptHere.map(({ credentialId, clientIdentifier, last, changedFields, gone }) => {
      const change = `${last.action} by ${last.source} "${last.actor}" at ${last.createdAt.toISOString()}`
      const what = gone ? 'gone from the original, but changed' : last.action === 'delete' ? 'deleted' : 'changed'
      const skipped = gone ? 'not deleted' : changedFields.length > 0 ? `the original's ${changedFields.join(', ')} not taken` : 'not created again'
      return `  keep ${credentialId} ${clientIdentifier}: ${what} here (${change}); ${skipped}`
    }),
  ]
  if (from === 'backup') {
    lines.push(
      `API credentials: ${apiCredentials.create.length} to create, ${apiCredentials.unchanged.length} unchanged`,
      ...apiCredentials.create.map((record) => `  create ${record.identifier}`),
      `Events: ${events.create.length} to create, ${events.unchanged.length} unchanged`,
    )
  }
  if (conflicts.length > 0) lines.push(`Conflicts (${conflicts.length}):`, ...conflicts.map((conflict) => `  ${conflict}`))
  lines.push(
    {
      'dry-run': 'Dry run: nothing was written.',
      refused: 'Refused: nothing was written.',
      written: 'Imported.',
    }[outcome],
  )
  return `${lines.join('\n')}\n`
}
