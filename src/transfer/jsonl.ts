import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { MAX_ID } from '../credentials/credential.js'
import type { ExportedRecord } from './service.js'
import type { TransferRecords } from './records.js'

/*
 * The backup file: JSON Lines, one record per line, each with a `type`. The first line names
 * the format and its version; the last one counts the records, so that a file cut short (a
 * full disk, an interrupted copy) is refused instead of half restored.
 */

const BACKUP_FORMAT = 'oauth-credential-service/backup'
const BACKUP_VERSION = 1
/** Longer than any record can be: a credential with 20 redirect URIs of 2,000 characters is about 170 KB. */
export const MAX_LINE_BYTES = 1024 * 1024

/** A backup this service cannot read; the message names the line. */
export class BackupFormatError extends Error {}

const Instant = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,6})?Z$' })
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const Text = (maxLength: number) => Type.String({ maxLength })
const Id = Type.Integer({ minimum: 1, maximum: MAX_ID })

const HeaderLine = Type.Object(
  { type: Type.Literal('format'), format: Type.Literal(BACKUP_FORMAT), version: Type.Integer(), exportedAt: Instant, events: Type.Boolean() },
  { additionalProperties: false },
)
const Counts = { credentials: Type.Integer({ minimum: 0 }), apiCredentials: Type.Integer({ minimum: 0 }), events: Type.Integer({ minimum: 0 }) }
const EndLine = Type.Object({ type: Type.Literal('end'), ...Counts }, { additionalProperties: false })

const CredentialLine = Type.Object(
  {
    type: Type.Literal('credential'),
    credentialId: Id,
    clientIdentifier: Text(128),
    secretHash: Type.String(),
    previousSecretHash: Nullable(Type.String()),
    previousSecretExpiresAt: Nullable(Instant),
    name: Type.String(),
    description: Type.String(),
    grantType: Type.String(),
    scopes: Type.Array(Text(64), { maxItems: 100 }),
    serviceId: Nullable(Type.Integer()),
    logoUri: Nullable(Type.String()),
    redirectUris: Type.Array(Type.String()),
    version: Id,
    lastUsedAt: Nullable(Instant),
    createdAt: Instant,
    updatedAt: Instant,
  },
  { additionalProperties: false },
)
const ApiCredentialLine = Type.Object(
  {
    type: Type.Literal('apiCredential'),
    identifier: Text(128),
    secretHash: Type.String(),
    description: Text(255),
    permissions: Type.Array(Text(64), { maxItems: 100 }),
    allowedIps: Type.Array(Text(64), { maxItems: 1000 }),
    revokedAt: Nullable(Instant),
    createdAt: Instant,
  },
  { additionalProperties: false },
)
const EventLine = Type.Object(
  {
    type: Type.Literal('event'),
    id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    credentialId: Type.Integer(),
    actor: Text(128),
    action: Text(64),
    changedFields: Type.Array(Text(64), { maxItems: 100 }),
    requestId: Nullable(Text(128)),
    source: Text(16),
    createdAt: Instant,
  },
  { additionalProperties: false },
)

const LINES = {
  format: TypeCompiler.Compile(HeaderLine),
  end: TypeCompiler.Compile(EndLine),
  credential: TypeCompiler.Compile(CredentialLine),
  apiCredential: TypeCompiler.Compile(ApiCredentialLine),
  event: TypeCompiler.Compile(EventLine),
}

/** The first line of a backup. */
export function headerLine(exportedAt: Date, withEvents: boolean): string {
  const header: Static<typeof HeaderLine> = {
    type: 'format',
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    exportedAt: exportedAt.toISOString(),
    events: withEvents,
  }
  return `${JSON.stringify(header)}\n`
}

/** One record's line; its fields are named one by one, so nothing else a row has can travel. */
export function recordLine({ type, record }: ExportedRecord): string {
  switch (type) {
    case 'credential': {
      const { credentialId, clientIdentifier, secretHash, previousSecretHash, previousSecretExpiresAt, name, description } = record
      const { grantType, scopes, serviceId, logoUri, redirectUris, version, lastUsedAt, createdAt, updatedAt } = record
      return json({ type, credentialId, clientIdentifier, secretHash, previousSecretHash, previousSecretExpiresAt, name, description,
        grantType, scopes, serviceId, logoUri, redirectUris, version, lastUsedAt, createdAt, updatedAt })
    }
    case 'apiCredential': {
      const { identifier, secretHash, description, permissions, allowedIps, revokedAt, createdAt } = record
      return json({ type, identifier, secretHash, description, permissions, allowedIps, revokedAt, createdAt })
    }
    case 'event': {
      const { id, credentialId, actor, action, changedFields, requestId, source, createdAt } = record
      return json({ type, id, credentialId, actor, action, changedFields, requestId, source, createdAt })
    }
  }
}

/** The last line of a backup: how many records of each kind it holds. */
export function endLine(counts: Omit<Static<typeof EndLine>, 'type'>): string {
  return json({ type: 'end', ...counts })
}

const json = (value: object) => `${JSON.stringify(value)}\n`

const date = (text: string) => new Date(text)
const dateOrNull = (text: string | null) => (text === null ? null : new Date(text))

/**
 * Reads a whole backup into records, checking every line. Blank lines, and the banner that
 * `npm run` prints before the first line (lines starting with "> "), are skipped.
 */
export async function readBackup(input: AsyncIterable<Buffer | string>): Promise<TransferRecords> {
  const records: TransferRecords = { credentials: [], apiCredentials: [], events: [] }
  let header: Static<typeof HeaderLine> | undefined
  let end: Static<typeof EndLine> | undefined
  for await (const { number, text } of lines(input)) {
    const fail = (problem: string) => new BackupFormatError(`line ${number}: ${problem}`)
    if (text.trim() === '' || (!header && text.startsWith('> '))) continue
    if (end) throw fail('nothing may follow the end line')
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw fail(header ? 'not JSON' : `not a backup: the first line must be the ${BACKUP_FORMAT} format line`)
    }
    const type = (value as { type?: unknown } | null)?.type
    if (typeof type !== 'string' || !Object.hasOwn(LINES, type)) throw fail(`unknown record type ${JSON.stringify(type ?? null)}`)
    const check = LINES[type as keyof typeof LINES]
    const error = check.Errors(value).First()
    if (error) {
      const where = error.path === '' ? '' : `${error.path.slice(1).replaceAll('/', '.')}: `
      throw fail(`${type} record: ${where}${error.message}`)
    }
    if (!header) {
      if (type !== 'format') throw fail(`not a backup: the first line must be the ${BACKUP_FORMAT} format line`)
      header = value as Static<typeof HeaderLine>
      if (header.version !== BACKUP_VERSION) {
        throw fail(`backup format version ${header.version}; this service reads version ${BACKUP_VERSION}`)
      }
      continue
    }
    const origin = `line ${number}`
    if (type === 'format') throw fail('a second format line')
    else if (type === 'end') end = value as Static<typeof EndLine>
    else if (type === 'credential') {
      const { type: _, ...line } = value as Static<typeof CredentialLine>
      records.credentials.push({
        ...line,
        previousSecretExpiresAt: dateOrNull(line.previousSecretExpiresAt),
        lastUsedAt: dateOrNull(line.lastUsedAt),
        createdAt: date(line.createdAt),
        updatedAt: date(line.updatedAt),
        origin,
      })
    } else if (type === 'apiCredential') {
      const { type: _, ...line } = value as Static<typeof ApiCredentialLine>
      records.apiCredentials.push({ ...line, revokedAt: dateOrNull(line.revokedAt), createdAt: date(line.createdAt), origin })
    } else {
      const { type: _, ...line } = value as Static<typeof EventLine>
      records.events.push({ ...line, createdAt: date(line.createdAt), origin })
    }
  }
  if (!header) throw new BackupFormatError('empty input: no backup given')
  if (!end) throw new BackupFormatError('the backup has no end line: it was cut short, nothing was imported')
  const found = { credentials: records.credentials.length, apiCredentials: records.apiCredentials.length, events: records.events.length }
  const { type: _, ...counted } = end
  if (JSON.stringify(found) !== JSON.stringify(counted)) {
    throw new BackupFormatError(`the end line counts ${JSON.stringify(counted)} but the backup holds ${JSON.stringify(found)}`)
  }
  return records
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** The input's lines, numbered from 1, each at most MAX_LINE_BYTES (without its line break). */
async function* lines(input: AsyncIterable<Buffer | string>): AsyncGenerator<{ number: number; text: string }> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  let number = 0
  const line = (last: Buffer) => {
    number++
    if (pendingBytes + last.length > MAX_LINE_BYTES) {
      throw new BackupFormatError(`line ${number}: longer than ${MAX_LINE_BYTES} bytes`)
    }
    const bytes = Buffer.concat([...pending, last])
    pending = []
    pendingBytes = 0
    try {
      return { number, text: UTF8.decode(bytes).replace(/\r$/, '') }
    } catch {
      throw new BackupFormatError(`line ${number}: not UTF-8 text`)
    }
  }
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    let start = 0
    for (let newline = buffer.indexOf(10); newline !== -1; newline = buffer.indexOf(10, start)) {
      yield line(buffer.subarray(start, newline))
      start = newline + 1
    }
    const rest = buffer.subarray(start)
    if (pendingBytes + rest.length > MAX_LINE_BYTES) {
      throw new BackupFormatError(`line ${number + 1}: longer than ${MAX_LINE_BYTES} bytes`)
    }
    pending.push(rest)
    pendingBytes += rest.length
  }
  if (pendingBytes > 0) yield line(Buffer.alloc(0))
}
