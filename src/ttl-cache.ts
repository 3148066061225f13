/**
 * A map whose entries expire `ttlMs` after they were set and which holds at most `maxEntries`:
 * the oldest entry makes room for a new one. Bounded, because callers choose its keys.
 */
export class TtlCache<K, V> {
  readonly #entries = new Map<K, { value: V; expires: number }>()

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get(key: K): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expires > Date.now()) return entry.value
    this.#entries.delete(key)
    return undefined
  }

  set(key: K, value: V): void {
    // Re-inserted, a key moves to the end: Maps keep insertion order, so the first is the oldest.
    this.#entries.delete(key)
    if (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value as K)
    this.#entries.set(key, { value, expires: Date.now() + this.ttlMs })
  }

  delete(key: K): void {
    this.#entries.delete(key)
  }

  clear(): void {
    this.#entries.clear()
  }
}
