import { performance } from 'node:perf_hooks'
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
