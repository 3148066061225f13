import { performance } from 'node:perf_hooks'
import { unavailableReason } from '../http/errors.js'
import { metrics } from './metrics.js'
import { statementSpan } from './tracing.js'

/** One database statement, measured: its duration by name, and a span when tracing is on. */
export async function observeStatement<T>(
  statement: string,
  system: 'postgresql' | 'pglite',
  work: () => Promise<T>,
): Promise<T> {
  const started = performance.now()
  let ok = false
  try {
    const result = await statementSpan(statement, system, work)
    ok = true
    return result
  } finally {
    metrics.statementFinished(statement, (performance.now() - started) / 1000, ok)
  }
}

/**
 * Database work whose outcome says whether the database is there (`oauth_database_up`), by
 * the rule the edges answer 503 with: any answer, even an error, means it is.
 */
export async function observeAvailability<T>(work: Promise<T>): Promise<T> {
  try {
    const result = await work
    metrics.databaseAvailable(true)
    return result
  } catch (error) {
    metrics.databaseAvailable(unavailableReason(error) === null)
    throw error
  }
}
