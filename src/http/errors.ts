const UNAVAILABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028'])
const UNAVAILABLE_ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TransactionAlreadyClosed',
])
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03'])

/**
 * True when an error means "the database cannot be reached right now" rather than a bug: the
 * endpoints answer 503 for these, so callers retry, and 500 for anything else.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let cause = error as Record<string, unknown> | undefined, depth = 0; cause && depth < 5; depth++) {
    const code = cause.code
    if (typeof code === 'string' && (UNAVAILABLE_PRISMA_CODES.has(code) || UNAVAILABLE_NODE_CODES.has(code))) {
      return true
    }
    const kind = (cause.cause as { kind?: unknown } | undefined)?.kind
    if (typeof kind === 'string' && UNAVAILABLE_ADAPTER_KINDS.has(kind)) return true
    if (typeof cause.message === 'string' && /Connection terminated|connect ECONNREFUSED/.test(cause.message)) {
      return true
    }
    cause = cause.cause as Record<string, unknown> | undefined
  }
  return false
}
