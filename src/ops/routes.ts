import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { UNAVAILABLE } from '../http/errors.js'

/** How long /readyz waits for the database before calling it unavailable. */
const READINESS_TIMEOUT_MS = 2_000

const Ok = Type.Object({ status: Type.Literal('ok') }, { examples: [{ status: 'ok' }] })
const Unavailable = Type.Object(
  { status: Type.Literal('unavailable'), reason: Type.String() },
  { examples: [{ status: 'unavailable', reason: 'database unreachable' }] },
)

/**
 * Probes for orchestrators and load balancers. Both are public and cheap: /healthz says the
 * process is alive (restart it if not), /readyz says it can serve requests (send it traffic).
 */
export default async function opsRoutes(app: FastifyInstance) {
  const common = { tags: ['ops'], security: [] }

  app.get('/healthz', {
    config: { quietLog: true },
    schema: {
      ...common,
      operationId: 'getHealth',
      summary: 'Liveness: the process is running',
      description: 'Answers 200 while the process can serve HTTP; it touches nothing else. No credentials.',
      response: { 200: Ok },
    },
    handler: async () => ({ status: 'ok' as const }),
  })

  app.get('/readyz', {
    config: { quietLog: true },
    schema: {
      ...common,
      operationId: 'getReadiness',
      summary: 'Readiness: the database answers',
      description: `Answers 200 when the database answers within ${READINESS_TIMEOUT_MS / 1000} s, else 503. No credentials.`,
      response: { 200: Ok, 503: Unavailable },
    },
    handler: async (_request, reply) => {
      try {
        await withTimeout(app.database.ping(), READINESS_TIMEOUT_MS)
        return { status: 'ok' as const }
      } catch (error) {
        const reason = error instanceof TimeoutError ? 'database timed out' : 'database unreachable'
        // Logged once per outage, not once per probe.
        app.database.availability.lost(reason)
        return reply.code(503).header('retry-after', String(UNAVAILABLE.retryAfterSeconds)).send({ status: 'unavailable' as const, reason })
      }
    },
  })
}

class TimeoutError extends Error {}

/** A database that accepts connections but never answers must still make /readyz answer. */
async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError()), ms)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}
