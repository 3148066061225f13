import { splitScopes } from '../schemas/credential.js'
import { hashSecret } from '../secrets.js'
import type { CredentialRecord } from '../transfer/records.js'

/** The original's answer could not be read; each problem names the client and field at fault. */
export class OriginalListError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'))
    this.name = 'OriginalListError'
  }
}

/** An answer larger than this is refused before it is parsed (about 5 KB per client). */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024
/** How many clients the call asks for; an answer this long may have been cut short. */
const LIST_CALL_LIMIT = 100_000

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december']
// `18th November 2016 9:32:24am`: the documented example's form.
const SPOKEN_DATE = /^(\d{1,2})(?:st|nd|rd|th) ([a-z]+) (\d{4}) (\d{1,2}):(\d{2}):(\d{2}) ?(am|pm)$/i
// `2016-11-18 09:32:24`: what installations answer otherwise.
const SQL_DATE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/

/**
 * A date as the original writes it, read in the installation's time zone given as minutes
 * east of UTC (its answers carry none). Null when it is not one of its forms or not a real
 * date (`31st February`, `0000-00-00 00:00:00`).
 */
export function parseOriginalDate(text: string, utcOffsetMinutes = 0): Date | null {
  let parts: number[]
  const spoken = SPOKEN_DATE.exec(text.trim())
  const sql = SQL_DATE.exec(text.trim())
  if (spoken) {
    const [, day, month, year, hour, minute, second, half] = spoken as unknown as string[]
    const hour12 = Number(hour)
    if (hour12 < 1 || hour12 > 12) return null
    const hour24 = (hour12 % 12) + (half?.toLowerCase() === 'pm' ? 12 : 0)
    parts = [Number(year), MONTHS.indexOf(month?.toLowerCase() ?? '') + 1, Number(day), hour24, Number(minute), Number(second)]
  } else if (sql) {
    parts = sql.slice(1).map(Number)
  } else {
    return null
  }
  const [year, month, day, hour, minute, second] = parts as [number, number, number, number, number, number]
  const utc = Date.UTC(year, month - 1, day, hour, minute, second)
  const check = new Date(utc)
  const real =
    month >= 1 &&
    check.getUTCFullYear() === year &&
    check.getUTCMonth() === month - 1 &&
    check.getUTCDate() === day &&
    check.getUTCHours() === hour &&
    check.getUTCMinutes() === minute &&
    check.getUTCSeconds() === second
  return real ? new Date(utc - utcOffsetMinutes * 60_000) : null
}

/** `+01:00`, `-05:30`, `Z`: minutes east of UTC, or null. */
export function parseUtcOffset(text: string): number | null {
  if (text === 'Z') return 0
  const match = /^([+-])(\d{2}):(\d{2})$/.exec(text)
  if (!match || Number(match[2]) > 14 || Number(match[3]) > 59) return null
  return (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3]))
}

/**
 * Reads the original's ListOAuthCredentials (json) answer (SPEC §6) into the records an import
 * takes, each secret already its digest: the plain one goes no further. Nothing is judged
 * here (unknown scopes or grant types are the import's to report), but every problem of
 * shape is collected, so one run shows them all; any of them refuses the whole answer.
 */
export function readOriginalList(text: string, utcOffsetMinutes = 0): CredentialRecord[] {
  let answer: unknown
  try {
    answer = JSON.parse(text)
  } catch (error) {
    throw new OriginalListError([`The answer is not JSON: ${(error as Error).message}`])
  }
  if (!isRecord(answer)) throw new OriginalListError(['The answer is not a JSON object.'])
  if (answer.result !== 'success') {
    const message = typeof answer.message === 'string' ? answer.message : JSON.stringify(answer.result)
    throw new OriginalListError([`The original answered an error: ${message}`])
  }
  if (!Array.isArray(answer.clients)) throw new OriginalListError(['The answer has no "clients" list.'])
  if (answer.clients.length >= LIST_CALL_LIMIT) {
    throw new OriginalListError([`The answer lists ${answer.clients.length} clients: it may have been cut short.`])
  }

  const problems: string[] = []
  const credentials: CredentialRecord[] = []
  answer.clients.forEach((client: unknown, index: number) => {
    const where = `clients[${index}]${isRecord(client) && client.credentialId !== undefined ? ` (credentialId ${String(client.credentialId)})` : ''}`
    const field = new FieldReader(isRecord(client) ? client : {}, (problem) => problems.push(`${where}: ${problem}`))
    if (!isRecord(client)) return void problems.push(`${where}: not an object`)
    const read = {
      credentialId: field.integer('credentialId', { min: 1 }),
      clientIdentifier: field.text('clientIdentifier', { required: true }),
      secret: field.text('clientSecret', { required: true, hint: 'the original returns each secret: is this its own answer?' }),
      name: field.text('name'),
      description: field.text('description'),
      grantType: field.text('grantTypes'),
      scope: field.text('scope'),
      serviceId: field.integer('serviceId', { min: 0, whenEmpty: 0 }),
      logoUri: field.text('logoUri'),
      redirectUris: field.list('redirectUri'),
      createdAt: field.date('createdAt', utcOffsetMinutes),
      updatedAt: field.date('updatedAt', utcOffsetMinutes),
    }
    if (field.failed) return
    credentials.push({
      credentialId: read.credentialId as number,
      clientIdentifier: read.clientIdentifier,
      secretHash: hashSecret(read.secret),
      name: read.name,
      description: read.description,
      grantType: read.grantType,
      scopes: splitScopes(read.scope),
      serviceId: read.serviceId || null,
      logoUri: read.logoUri || null,
      redirectUris: read.redirectUris,
      createdAt: read.createdAt as Date,
      updatedAt: read.updatedAt as Date,
    })
  })
  if (problems.length > 0) throw new OriginalListError(problems)
  return credentials
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** Reads one client's fields in the types the original writes them, noting each one that is not. */
class FieldReader {
  failed = false

  constructor(
    private readonly client: Record<string, unknown>,
    private readonly report: (problem: string) => void,
  ) {}

  private problem(problem: string) {
    this.failed = true
    this.report(problem)
  }

  /** A string; null or absent is empty unless required. */
  text(name: string, options: { required?: boolean; hint?: string } = {}): string {
    const value = this.client[name]
    if (typeof value === 'string' && (value !== '' || !options.required)) return value
    if ((value === null || value === undefined) && !options.required) return ''
    this.problem(`${name} ${value === undefined || value === '' ? 'is missing' : 'is not a string'}${options.hint ? ` (${options.hint})` : ''}`)
    return ''
  }

  /** A whole number, as a JSON number or its digits; null or absent is `whenEmpty` when given. */
  integer(name: string, { min, whenEmpty }: { min: number; whenEmpty?: number }): number | null {
    const value = this.client[name] ?? whenEmpty
    const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
    if (typeof number === 'number' && Number.isSafeInteger(number) && number >= min) return number
    this.problem(`${name} ${JSON.stringify(value) ?? 'missing'} is not a whole number from ${min}`)
    return null
  }

  /** A list of strings, or one space-separated string (as the original's table keeps them). */
  list(name: string): string[] {
    const value = this.client[name] ?? []
    if (typeof value === 'string') return splitScopes(value)
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.filter((item) => item !== '')
    this.problem(`${name} is not a list of strings`)
    return []
  }

  date(name: string, utcOffsetMinutes: number): Date | null {
    const value = this.client[name]
    const date = typeof value === 'string' ? parseOriginalDate(value, utcOffsetMinutes) : null
    if (date === null) {
      this.problem(`${name} ${JSON.stringify(value) ?? 'missing'} is not a date in the original's forms ("18th November 2016 9:32:24am" or "2016-11-18 09:32:24")`)
    }
    return date
  }
}

/** Where the original is, and the API credential it knows this import by. */
export interface OriginalEndpoint {
  url: string
  identifier: string
  secret: string
  timeoutMs: number
}

/**
 * Asks the original's api.php for ListOAuthCredentials (json), as any caller would: a form
 * POST with the API credential in the body (never in the URL, where logs would keep it).
 */
export async function fetchOriginalList(endpoint: OriginalEndpoint): Promise<string> {
  const body = new URLSearchParams({
    action: 'ListOAuthCredentials',
    identifier: endpoint.identifier,
    secret: endpoint.secret,
    limit: String(LIST_CALL_LIMIT),
    responsetype: 'json',
  })
  // The timeout covers the whole answer, its body included.
  const signal = AbortSignal.timeout(endpoint.timeoutMs)
  const failure = (what: string, error: unknown) => {
    const cause = (error as Error).name === 'TimeoutError' ? `no complete answer within ${endpoint.timeoutMs} ms` : String((error as Error).cause ?? error)
    return new OriginalListError([`The original at ${endpoint.url} ${what}: ${cause}`])
  }
  let response: Response
  try {
    response = await fetch(endpoint.url, { method: 'POST', body, redirect: 'error', signal })
  } catch (error) {
    throw failure('could not be asked', error)
  }
  let text: string
  try {
    text = await boundedText(response)
  } catch (error) {
    if (error instanceof OriginalListError) throw error
    throw failure('broke off its answer', error)
  }
  if (!response.ok) {
    let message = ''
    try {
      message = String((JSON.parse(text) as { message?: unknown }).message ?? '')
    } catch {
      // not the legacy error shape: the status says enough
    }
    throw new OriginalListError([`The original answered HTTP ${response.status}${message ? `: ${message}` : ''}`])
  }
  return text
}

/** The body as text, refused past MAX_ANSWER_BYTES without reading the rest. */
async function boundedText(response: Response): Promise<string> {
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of response.body ?? []) {
    size += chunk.length
    // Leaving the loop cancels the rest of the body.
    if (size > MAX_ANSWER_BYTES) throw new OriginalListError([`The answer is larger than ${MAX_ANSWER_BYTES} bytes.`])
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
