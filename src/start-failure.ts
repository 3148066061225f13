import { ConfigError, type Config } from './config.js'
import { DataDirError } from './db/database.js'
import { unavailableReason } from './http/errors.js'

/** PostgreSQL's codes for a database that does not exist, and for a refused login. */
const NO_SUCH_DATABASE = '3D000'
const LOGIN_REFUSED = new Set(['28P01', '28000'])

/**
 * What went wrong when the server or the CLI could not start, as one line that names what to
 * do: a newcomer meets these first, and a stack trace tells them neither.
 */
export function describeStartFailure(error: unknown, config?: Pick<Config, 'PORT' | 'HOST' | 'DATABASE_URL' | 'METRICS_PORT'>): string {
  if (error instanceof ConfigError || error instanceof DataDirError) return error.message
  const cause = errnoOf(error)
  if (config && cause?.syscall === 'listen') {
    // The metrics listener (METRICS_PORT, on HOST too) fails the start as the main one does.
    const [setting, port] = cause.port !== undefined && cause.port === config.METRICS_PORT ? ['METRICS_PORT', cause.port] : ['PORT', config.PORT]
    const where = `${config.HOST}:${port}`
    if (cause.code === 'EADDRINUSE') return `Cannot listen on ${where}: the port is in use. Stop what uses it, or set ${setting} to a free port.`
    if (cause.code === 'EACCES') return `Cannot listen on ${where}: not allowed (ports below 1024 need privileges). Set ${setting} above 1023.`
    return `Cannot listen on ${where} (${cause.code}): set HOST to an address of this machine, such as 127.0.0.1 or 0.0.0.0.`
  }
  if (config && cause?.code === 'ENOTFOUND' && cause.syscall === 'getaddrinfo' && cause.hostname === config.HOST) {
    return `Cannot listen on ${config.HOST}: no such host. Set HOST to an address of this machine, such as 127.0.0.1 or 0.0.0.0.`
  }
  if (config?.DATABASE_URL) {
    const server = serverOf(config.DATABASE_URL)
    if (cause?.code === NO_SUCH_DATABASE) {
      return `The database "${server.database}" does not exist on ${server.host}: create it (createdb ${server.database}), or fix DATABASE_URL.`
    }
    if (cause?.syscall === 'getaddrinfo' && (cause.code === 'ENOTFOUND' || cause.code === 'EAI_AGAIN')) {
      return `Cannot find the host of DATABASE_URL (${server.host}, ${cause.code}): fix DATABASE_URL, or the name service.`
    }
    if (cause?.code && LOGIN_REFUSED.has(cause.code)) {
      return `PostgreSQL on ${server.host} refused the login of DATABASE_URL (${cause.code}): fix its user or password.`
    }
    if (unavailableReason(error) !== null) {
      return `Cannot reach PostgreSQL at ${server.host} (DATABASE_URL): start it, or fix DATABASE_URL.`
    }
  }
  return `Failed to start: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`
}

interface Errno {
  code?: string
  syscall?: string
  hostname?: string
  /** The port a listen asked for (Node leaves it out for 0). */
  port?: number
}

/** The first error in the cause chain (or an AggregateError's list) that carries a code. */
function errnoOf(error: unknown): Errno | undefined {
  const pending = [error]
  for (let seen = 0; seen < 20 && pending.length > 0; seen++) {
    const next = pending.shift()
    if (!next || typeof next !== 'object') continue
    if (typeof (next as Errno).code === 'string') return next as Errno
    pending.push((next as { cause?: unknown }).cause, ...((next as { errors?: unknown[] }).errors ?? []))
  }
  return undefined
}

/**
 * Host, port and database name of a PostgreSQL URL: never its password, and never an error. Read
 * by hand after the last "@": the URL parser throws on a password holding "/" or "#", or takes
 * part of it for the host.
 */
function serverOf(url: string): { host: string; database: string } {
  const [, userinfo = '', authority = '', path = ''] = /^(?:[^:/?#]*:\/\/)?(?:(.*)@)?([^/?#]*)\/?([^?#]*)/s.exec(url) ?? []
  const decoded = (text: string) => {
    try {
      return decodeURIComponent(text)
    } catch {
      return text
    }
  }
  return { host: /:\d+$/.test(authority) ? authority : `${authority}:5432`, database: decoded(path) || decoded(userinfo.split(':')[0] ?? '') }
}
