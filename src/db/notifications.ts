import pg from 'pg'

/** A subscription to a notification channel; see Database.watch. */
export interface Watch {
  /** Whether notifications arrive now: false until listening, and while the connection is down. */
  live(): boolean
  close(): Promise<void>
}

const RECONNECT_MS = 1_000
const CONNECT_TIMEOUT_MS = 5_000
const CLOSE_TIMEOUT_MS = 1_000

/**
 * LISTEN on a connection of its own, outside the pool. When that connection fails, `onChange`
 * hears `null` (anything may have changed unheard) and the watch is not live until a new
 * connection listens again, after which it hears `null` once more.
 */
export function listen(url: string, channel: string, onChange: (payload: string | null) => void): Watch {
  let client: pg.Client | undefined
  let live = false
  let closed = false
  let retry: NodeJS.Timeout | undefined

  const lost = (failed: pg.Client) => {
    if (failed !== client) return
    client = undefined
    if (live) onChange(null)
    live = false
    void dispose(failed)
    if (!closed) retry = setTimeout(connect, RECONNECT_MS).unref()
  }

  async function connect() {
    // TCP keep-alive after 10 s idle: a half-open connection is found without waiting hours.
    const next = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    })
    client = next
    next.on('error', () => lost(next))
    next.on('end', () => lost(next))
    next.on('notification', (message) => onChange(message.payload ?? null))
    try {
      await next.connect()
      await next.query(`LISTEN "${channel}"`)
      if (client !== next) return
      live = true
      onChange(null)
    } catch {
      lost(next)
    }
  }

  void connect()
  return {
    live: () => live,
    async close() {
      closed = true
      live = false
      clearTimeout(retry)
      const current = client
      client = undefined
      if (current) await dispose(current)
    },
  }
}

/**
 * Ends a connection no longer wanted: its later errors are ignored, and a server that cannot
 * be reached holds this up for CLOSE_TIMEOUT_MS at most.
 */
async function dispose(connection: pg.Client): Promise<void> {
  connection.removeAllListeners()
  connection.on('error', () => {})
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    connection.end().catch(() => {}),
    new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
  ])
  clearTimeout(timer)
}
