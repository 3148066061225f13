/** Where the outage lines go: a pino logger (Fastify's) fits. */
export interface OutageLog {
  warn(fields: object, message: string): void
  info(fields: object, message: string): void
}

/** How often a lost database is asked whether it is back. */
const PROBE_EVERY_MS = 1_000

/**
 * Whether the database answers, told in two log lines per outage instead of one per refused
 * request: "database lost" (with the first reason) and "database back" (with how long it was
 * gone and how many requests were refused meanwhile). Only the probe, asking the database
 * every second while it is lost, says it is back: a database that fails some statements and
 * answers others (a full disk, a failing trigger) then logs at most two lines a second, not
 * two per request. Requests are never held back by this: each one tries the database.
 */
export class DatabaseAvailability {
  #lostAt: number | null = null
  #refusedSinceLost = 0
  #probe: NodeJS.Timeout | undefined
  #probing = false
  #log: OutageLog | undefined

  constructor(private readonly ping: () => Promise<unknown>) {}

  /** Whether the database answers now, as far as the requests and the probe have seen (oauth_database_up). */
  get available(): boolean {
    return this.#lostAt === null
  }

  /** Where the two lines go (the database opens before the logger exists). */
  reportTo(log: OutageLog): void {
    this.#log = log
  }

  /** A request was answered 503 because the database did not answer (`reason`, without a stack). */
  refused(reason: string): void {
    this.lost(reason)
    this.#refusedSinceLost++
  }

  /** The database failed to answer; logs once per outage. */
  lost(reason: string): void {
    if (this.#lostAt !== null) return
    this.#lostAt = Date.now()
    this.#log?.warn({ reason }, 'database lost')
    this.#probe = setInterval(() => void this.#ask(), PROBE_EVERY_MS).unref()
  }

  #back(): void {
    if (this.#lostAt === null) return
    this.#log?.info({ outageMs: Date.now() - this.#lostAt, refused: this.#refusedSinceLost }, 'database back')
    this.#lostAt = null
    this.#refusedSinceLost = 0
    this.stop()
  }

  stop(): void {
    clearInterval(this.#probe)
    this.#probe = undefined
  }

  async #ask(): Promise<void> {
    if (this.#probing) return
    this.#probing = true
    try {
      await this.ping()
      this.#back()
    } catch {
      // Still lost: the next probe asks again.
    } finally {
      this.#probing = false
    }
  }
}
