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
// pg's own: a connection that failed or timed out, no turn in the pool, no answer in time.
const UNAVAILABLE_MESSAGES = /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Query read timeout/

/**
 * Why the database cannot be reached right now, in a few words (a code or pg's message), or
 * null when the error is something else, a bug: the endpoints answer 503 for the first, so
 * callers retry, and 500 for anything else. The driver's error may be wrapped: its `cause`
 * chain is searched too.
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
