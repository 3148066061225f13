import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type { Test } from 'tap'
import { PROJECT_ROOT } from '../../src/paths.js'

export interface ServerProcess {
  child: ChildProcess
  /** Resolves with the exit code and signal. */
  exited: Promise<[number | null, NodeJS.Signals | null]>
  /** Reads stdout until a line matches: a pino line's `msg`, or a plain text line as it is. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>
  /** Everything written to stderr so far. */
  stderr(): string
}

/**
 * Runs src/server.ts as its own process, with the TypeScript loader this test runs under (no
 * build step), `env` on top of a clean environment for the service. Killed at teardown.
 * `npmStart`: runs `npm start` instead, as a user's shell does (built, without this suite's
 * TypeScript hooks and coverage), in a process group of its own, as a terminal would.
 */
export function startServerProcess(t: Test, env: Record<string, string>, options: { npmStart?: boolean } = {}): ServerProcess {
  const base = { ...process.env }
  for (const name of ['DATABASE_URL', 'DATA_DIR', 'API_BOOTSTRAP_IDENTIFIER', 'API_BOOTSTRAP_SECRET']) delete base[name]
  if (options.npmStart) for (const name of ['NODE_OPTIONS', 'NODE_V8_COVERAGE']) delete base[name]
  const [command, args] = options.npmStart ? ['npm', ['start']] : [process.execPath, [...process.execArgv, 'src/server.ts']]
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: { ...base, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.npmStart,
  })
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  t.teardown(() => {
    if (child.exitCode !== null || child.signalCode !== null) return
    if (options.npmStart) process.kill(-(child.pid as number), 'SIGKILL')
    else child.kill('SIGKILL')
  })
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)))
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  return {
    child,
    exited,
    stderr: () => stderr,
    async waitFor(pattern) {
      for (let line = await lines.next(); !line.done; line = await lines.next()) {
        const text = line.value.startsWith('{') ? ((JSON.parse(line.value) as { msg?: string }).msg ?? '') : line.value
        const match = pattern.exec(text)
        if (match) return match
      }
      throw new Error(`the server exited before printing ${pattern}`)
    },
  }
}
