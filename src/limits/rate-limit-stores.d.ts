// @fastify/rate-limit ships its two stores without type declarations; the limits count in its LocalStore.
declare module '@fastify/rate-limit/store/*.js' {
  import type { FastifyRateLimitStore } from '@fastify/rate-limit'
  export default class Store implements FastifyRateLimitStore {
    constructor(continueExceeding: boolean | undefined, exponentialBackoff: boolean | undefined, backend?: unknown, nameSpace?: string)
    incr: FastifyRateLimitStore['incr']
    read: FastifyRateLimitStore['incr']
    child: FastifyRateLimitStore['child']
  }
}
