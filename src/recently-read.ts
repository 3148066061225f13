import type { Watch } from './db/notifications.js'
import { TtlCache } from './ttl-cache.js'

/**
 * What authentication read lately (an OAuth client by its client identifier, a caller's API
 * credential by its identifier), so that authenticating often costs no database round trip. An
 * entry goes when this process changes the row, when any process does (the database notifies
 * every watcher at commit), and after `ttlMs` at the latest. Nothing is kept or served while
 * notifications may be missed, nor a read that a change overtook. With `keepUnknown`, a key
 * that found nothing is kept too, so that a known and an unknown key cost the same (only for
 * rows whose creation is notified as well); apart from the found ones, so that a stream of
 * made-up keys cannot push real ones out. Its users count its hits and misses, each by its own
 * rule (oauth_auth_cache_lookups_total).
 */
export class RecentlyRead<T> {
  readonly #entries: TtlCache<string, T>
  readonly #unknown: TtlCache<string, true> | undefined
  /** Moves on every change heard, so a read that started before one is not kept. */
  #generation = 0

  constructor(
    private readonly watch: Watch,
    ttlMs: number,
    maxEntries: number,
    keepUnknown = false,
  ) {
    this.#entries = new TtlCache(ttlMs, maxEntries)
    this.#unknown = keepUnknown ? new TtlCache(ttlMs, maxEntries) : undefined
  }

  /** Whether entries are kept and served now: changes are heard. */
  get live(): boolean {
    return this.watch.live()
  }

  /** What is kept for `key`; otherwise what `load` reads, kept unless something changed meanwhile. */
  async get(key: string, load: () => Promise<T | null>): Promise<T | null> {
    const kept = this.remembered(key)
    if (kept !== undefined) return kept
    const generation = this.#generation
    const value = await load()
    if (generation === this.#generation && this.live) {
      if (value !== null) this.#entries.set(key, value)
      else this.#unknown?.set(key, true)
    }
    return value
  }

  /** What is kept for `key`, without reading: a look-up answered from memory (null: known to be absent), or undefined. */
  remembered(key: string): T | null | undefined {
    if (!this.live) return undefined
    const kept = this.#entries.get(key) ?? (this.#unknown?.get(key) ? null : undefined)
    return kept
  }

  /** `key` changed; `null`: anything may have. */
  forget(key: string | null): void {
    this.#generation++
    if (key === null) {
      this.#entries.clear()
      this.#unknown?.clear()
    } else {
      this.#entries.delete(key)
      this.#unknown?.delete(key)
    }
  }
}
