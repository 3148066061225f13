import type { FastifyReply, FastifyRequest } from 'fastify'

/** What every edge answers when the database cannot be reached: retry after this many seconds. */
export const UNAVAILABLE = {
  message: 'The service is temporarily unavailable. Please try again.',
  retryAfterSeconds: 5,
} as const

/** What every edge answers for a failure it did not expect; the details go to the log only. */
export const INTERNAL_ERROR = 'An internal error occurred.'

// Socket errors, then PostgreSQL's: server shutting down or restarting, connection failures,
// too many connections, a statement cancelled by statement_timeout (DATABASE_TIMEOUT_MS).
const UNAVAILABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
  '53300',
  '57014',
])
// pg's own: a connection that failed or timed out, no turn in the pool, no answer in time; and
// PostgreSQL's refusal of a new connection to a database that takes none (ALLOW_CONNECTIONS
// false), whose code (55000) also names failures that are bugs.
const UNAVAILABLE_MESSAGES =
  /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Query read timeout|is not currently accepting connections/

/**
 * Why the database cannot be reached right now, in a few words (a code or pg's message), or
 * null when the error is something else, a bug. The driver's error may be wrapped: its `cause`
 * chain is searched too. It judges the error alone, so it suits errors of database work (a
 * start, a probe); an edge asks `failureOf`, which first rules out the request's own failures.
 */
export function unavailableReason(error: unknown): string | null {
  let cause = error as Record<string, unknown> | undefined
  for (let depth = 0; depth < 10 && cause && typeof cause === 'object'; depth++) {
    const code = cause.code
    if (typeof code === 'string' && UNAVAILABLE_NODE_CODES.has(code)) return code
    const message = typeof cause.message === 'string' ? UNAVAILABLE_MESSAGES.exec(cause.message) : null
    if (message) return message[0]
    cause = cause.cause as Record<string, unknown> | undefined
  }
  return null
}

/**
 * Prepares the 503 an edge answers when the database is unavailable: counted for the outage
 * log (one line when lost, one when back; no stack per request), and `Retry-After` set.
 */
export function refuseUnavailable(request: FastifyRequest, reply: FastifyReply, reason: string): void {
  request.server.database.availability.refused(reason)
  reply.header('retry-after', String(UNAVAILABLE.retryAfterSeconds))
}

/**
 * How an edge answers a failure its own refusals did not match (`failureOf`): the request's own
 * fault (its 4xx status), the database unavailable (503, and why), or anything else (500, logged).
 */
export type Failure = { kind: 'request'; status: number } | { kind: 'unavailable'; reason: string } | { kind: 'internal' }

/**
 * The one rule both edges classify their failures by. A failure that comes from the request
 * itself is the client's, whatever its code: its body could not be read (a client that hangs
 * up fails the body with ECONNRESET "aborted", one too slow is cut off with Node's 408, and
 * Fastify marks either 400), or Fastify refused it (its content parsers' errors: malformed
 * body 400, too large 413, unsupported media type 415; each with its 4xx `statusCode`). Such a
 * failure is never the database's: only an error of database work may be answered 503 and
 * reported to the outage tracker (`refuseUnavailable`), even when its client has gone
 * meanwhile (a caller that gave up on a stalled database). Any other failure is a bug, logged
 * with its stack.
 */
export function failureOf(error: unknown): Failure {
  const statusCode = (error as { statusCode?: unknown } | null | undefined)?.statusCode
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return { kind: 'request', status: statusCode }
  const reason = unavailableReason(error)
  return reason === null ? { kind: 'internal' } : { kind: 'unavailable', reason }
}
