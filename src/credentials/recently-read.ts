import type { Watch } from '../db/database.js'

/**
 * What authentication read lately, by client identifier, so that a client authenticating
 * often costs no database round trip. An entry goes when this process changes the credential,
 * when any process does (the database notifies every watcher at commit), and after `ttlMs` at
 * the latest. Nothing is kept or served while notifications may be missed, nor a read that a
 * change overtook.
 */
export class RecentlyRead<T> {
  readonly #entries = new Map<string, { value: T; expires: number }>()
  /** Moves on every change heard, so a read that started before one is not kept. */
  #generation = 0

  constructor(
    private readonly watch: Watch,
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  /** Whether entries are kept and served now: changes are heard. */
  get live(): boolean {
    return this.watch.live()
  }

  /** What is kept for `key`; otherwise what `load` reads, kept unless something changed meanwhile. */
  async get(key: string, load: () => Promise<T | null>): Promise<T | null> {
    const entry = this.#entries.get(key)
    if (entry !== undefined) {
      if (entry.expires > Date.now() && this.live) return entry.value
      this.#entries.delete(key)
    }
    const generation = this.#generation
    const value = await load()
    if (value !== null && generation === this.#generation && this.live) {
      // Re-inserted, a key moves to the end; the oldest entry makes room (Maps keep insertion order).
      this.#entries.delete(key)
      if (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value as string)
      this.#entries.set(key, { value, expires: Date.now() + this.ttlMs })
    }
    return value
  }

  /** `key` changed; `null`: anything may have. */
  forget(key: string | null): void {
    this.#generation++
    if (key === null) this.#entries.clear()
    else this.#entries.delete(key)
  }
}
