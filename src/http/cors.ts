import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/**
 * CORS for browser apps on the origins in CORS_ORIGINS (none by default: then this plugin is not
 * registered and no CORS header is ever sent). Only the listed origins are answered; a preflight
 * may ask for exactly what the REST resource uses.
 */
async function crossOrigin(app: FastifyInstance, { origins }: { origins: string[] }) {
  await app.register(cors, {
    origin: origins,
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'If-Match', 'X-Request-Id'],
    // What scripts may read besides the CORS-safelisted headers: the ETag for If-Match, where a
    // new credential is, the next page, when to retry, and the id to quote in a support request.
    exposedHeaders: ['ETag', 'Location', 'Link', 'Retry-After', 'X-Request-Id'],
    maxAge: 600,
  })
}

export default fp(crossOrigin, { name: 'cors' })
