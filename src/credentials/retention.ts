import type { FastifyBaseLogger } from 'fastify'
import type { CredentialStorage } from './storage.js'

/**
 * How pruning walks the trail: batches small enough that each DELETE holds its row locks for
 * milliseconds, a pause between them so requests keep the database, and a round an hour (the
 * first a minute after start, not in the middle of a rolling deploy's warm-up).
 */
export const RETENTION_SCHEDULE = { batch: 1_000, pauseMs: 20, firstAfterMs: 60_000, everyMs: 3_600_000 }

const DAY_MS = 86_400_000

export interface PruneRound {
  /** Events deleted in this round. */
  deleted: number
  /** True when another process held the pruning lock, so this one left the work to it. */
  skipped: boolean
}

/**
 * AUDIT_RETENTION_DAYS: deletes audit events older than that, in rounds of small batches.
 * With several replicas each runs the schedule, but a batch runs only under a PostgreSQL
 * advisory lock: a replica that finds it taken skips its round.
 */
export class AuditRetention {
  #timer: NodeJS.Timeout | undefined
  #round: Promise<PruneRound> | undefined
  #stopped = false

  constructor(
    private readonly storage: CredentialStorage,
    readonly days: number,
    private readonly log: FastifyBaseLogger,
    private readonly schedule = RETENTION_SCHEDULE,
  ) {}

  start(): void {
    const next = (delay: number) => {
      this.#timer = setTimeout(() => {
        void this.prune().finally(() => {
          if (!this.#stopped) next(this.schedule.everyMs)
        })
      }, delay).unref()
    }
    next(this.schedule.firstAfterMs)
  }

  /** One round now (one at a time): batches until none is left, the lock is taken, or stop(). */
  prune(now = new Date()): Promise<PruneRound> {
    this.#round ??= this.#prune(new Date(now.getTime() - this.days * DAY_MS)).finally(() => {
      this.#round = undefined
    })
    return this.#round
  }

  async #prune(before: Date): Promise<PruneRound> {
    let deleted = 0
    try {
      while (!this.#stopped) {
        const batch = await this.storage.pruneEvents(before, this.schedule.batch)
        if (batch === null) {
          this.log.debug('audit retention: another process is pruning, round skipped')
          return { deleted, skipped: true }
        }
        deleted += batch
        if (batch < this.schedule.batch) break
        await new Promise((resolve) => setTimeout(resolve, this.schedule.pauseMs))
      }
    } catch (err) {
      // The next round tries again; what was deleted so far stays deleted, batch by batch.
      if (!this.#stopped) this.log.warn({ err, deleted }, 'audit retention: round failed')
      return { deleted, skipped: false }
    }
    if (deleted > 0) this.log.info({ deleted, before, retentionDays: this.days }, 'audit retention: old events deleted')
    return { deleted, skipped: false }
  }

  /** Stops the schedule and waits for a round under way, which ends after its current batch. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#round
  }
}
