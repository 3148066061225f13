// @fastify/rate-limit ships its stores without type declarations; the limits count in its LocalStore.
declare module '@fastify/rate-limit/store/LocalStore.js' {
  import type { FastifyRateLimitStore } from '@fastify/rate-limit'
  export default class LocalStore implements FastifyRateLimitStore {
    /** `cache`: how many keys the store keeps (an LRU). */
    constructor(continueExceeding: boolean | undefined, exponentialBackoff: boolean | undefined, cache?: number)
    incr: FastifyRateLimitStore['incr']
    read: FastifyRateLimitStore['incr']
    child: FastifyRateLimitStore['child']
  }
}
