/** What every edge answers when the database cannot be reached: retry after this many seconds. */
export const UNAVAILABLE = {
  message: 'The service is temporarily unavailable. Please try again.',
  retryAfterSeconds: 5,
} as const

/** What every edge answers for a failure it did not expect; the details go to the log only. */
export const INTERNAL_ERROR = 'An internal error occurred.'

const UNAVAILABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028'])
const UNAVAILABLE_ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TransactionAlreadyClosed',
])
// Socket errors, then PostgreSQL's: server shutting down or restarting, connection failures,
// too many connections.
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
])

/**
 * True when an error means "the database cannot be reached right now" rather than a bug: the
 * endpoints answer 503 for these, so callers retry, and 500 for anything else. Prisma puts the
 * driver's error in `cause` or, for errors inside a query, in `meta.driverAdapterError`.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const pending = [error as Record<string, unknown> | undefined]
  for (let depth = 0; depth < 10 && pending.length > 0; depth++) {
    const cause = pending.shift()
    if (!cause || typeof cause !== 'object') continue
    const code = cause.code
    if (typeof code === 'string' && (UNAVAILABLE_PRISMA_CODES.has(code) || UNAVAILABLE_NODE_CODES.has(code))) {
      return true
    }
    const kind = cause.kind
    if (typeof kind === 'string' && UNAVAILABLE_ADAPTER_KINDS.has(kind)) return true
    if (typeof cause.message === 'string' && /Connection terminated|connect ECONNREFUSED/.test(cause.message)) {
      return true
    }
    const meta = cause.meta as { driverAdapterError?: Record<string, unknown> } | undefined
    pending.push(cause.cause as Record<string, unknown> | undefined, meta?.driverAdapterError)
  }
  return false
}
