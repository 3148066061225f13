import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { PROJECT_ROOT } from '../../src/paths.js'
import { ensureDebianPackages } from './debian.js'

const FIXTURE_DIR = path.join(PROJECT_ROOT, 'test/fixtures/legacy-upstream')
const START_TIMEOUT_MS = 10_000

export interface LegacyUpstream {
  /** The fixture's `…/includes/api.php`-like URL: `http://127.0.0.1:<port>/api.php`. */
  url: string
  /** The one API credential the fixture accepts. */
  identifier: string
  secret: string
  /** Replaces what ListOAuthCredentials answers (the original's documented client shape). */
  setClients(clients: unknown[]): Promise<void>
  /** Stops the server (and its workers): from then on it is unreachable. */
  stop(): void
}

/**
 * PHP's command line with its curl extension (Debian's php-cli and php-curl), installed first
 * when missing: the fixture below runs on it, and so does the seed's PHP example.
 */
export function ensurePhp(t: Test): Promise<void> {
  const withCurl = () => spawnSync('php', ['-r', "exit(function_exists('curl_init') ? 0 : 1);"]).status === 0
  return ensureDebianPackages(t, ['php-cli', 'php-curl'], withCurl, 'The pass-through and import tests')
}

/**
 * The original's api.php, played by test/fixtures/legacy-upstream/api.php under PHP's built-in
 * server (Debian `php-cli`), on a port of its own, stopped at teardown. Several workers, so a
 * request that sleeps does not hold up the others; no output buffering, so what it flushes is sent.
 */
export async function startLegacyUpstream(t: Test, clients: unknown[] = []): Promise<LegacyUpstream> {
  await ensurePhp(t)
  const identifier = 'upstream-api'
  const secret = randomBytes(24).toString('base64')
  // Not t.testdir(): a test calling that again would empty it.
  const dir = await mkdtemp(path.join(tmpdir(), 'legacy-upstream-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const clientsFile = path.join(dir, 'clients.json')
  const setClients = (list: unknown[]) => writeFile(clientsFile, JSON.stringify(list))
  await setClients(clients)

  const server = await startPhpServer(t, FIXTURE_DIR, ['enable_post_data_reading=0', 'output_buffering=0'], {
    UPSTREAM_IDENTIFIER: identifier,
    UPSTREAM_SECRET: secret,
    UPSTREAM_CLIENTS: clientsFile,
  })
  return { url: `http://127.0.0.1:${server.port}/api.php`, identifier, secret, setClients, stop: server.stop }
}

/**
 * test/fixtures/php-request/echo.php under PHP's built-in server with PHP's own request parsing:
 * it answers what PHP read ($_GET, $_POST, $_COOKIE, $_REQUEST) as `{"php": …}`.
 */
export async function startPhpEcho(t: Test): Promise<string> {
  await ensurePhp(t)
  const server = await startPhpServer(t, path.join(PROJECT_ROOT, 'test/fixtures/php-request'), [], {})
  return `http://127.0.0.1:${server.port}/echo.php`
}

/** `php -S` on a free port serving `dir`, with these ini settings and environment; stopped at teardown. */
async function startPhpServer(t: Test, dir: string, ini: string[], env: Record<string, string>): Promise<{ port: string; stop: () => void }> {
  const child = spawn('php', [...ini.flatMap((setting) => ['-d', setting]), '-S', '127.0.0.1:0', '-t', dir], {
    env: { PATH: process.env.PATH, PHP_CLI_SERVER_WORKERS: '8', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    // A group of its own: the workers are the server's children, and they go with it.
    detached: true,
  })
  const stop = () => {
    child.stderr.destroy()
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL')
  }
  t.teardown(stop)

  // The server says where it listens on stderr: "Development Server (http://127.0.0.1:PORT) started".
  const port = await new Promise<string>((resolve, reject) => {
    let said = ''
    const timer = setTimeout(() => reject(new Error(`php -S did not start within ${START_TIMEOUT_MS} ms: ${said}`)), START_TIMEOUT_MS)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(new Error(`php -S could not run (Debian: apt-get install php-cli): ${error.message}`))
    })
    child.stderr.on('data', (chunk) => {
      said += String(chunk)
      const match = /Development Server \(http:\/\/127\.0\.0\.1:(\d+)\) started/.exec(said)
      if (match) {
        clearTimeout(timer)
        resolve(match[1] as string)
      }
    })
  })
  return { port, stop }
}
