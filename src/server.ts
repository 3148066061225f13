import closeWithGrace from 'close-with-grace'
import { buildServer } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { unavailableReason } from './http/errors.js'

/** How long a stop may take: in-flight requests finish, then the database closes. */
const SHUTDOWN_GRACE_MS = 10_000

/**
 * Boots the service. On SIGTERM/SIGINT it stops accepting connections, lets in-flight requests
 * finish, closes the database and exits 0; it exits 1 when that outlasts the grace period. The
 * handlers are in place before the database opens: as a container's PID 1, a signal without a
 * handler would be ignored, and a stop during startup waits for the migrations to finish.
 */
async function main() {
  const config = loadConfig()
  const starting = start(config)
  closeWithGrace({ delay: SHUTDOWN_GRACE_MS, logger: false }, async ({ signal, err }) => {
    const app = await starting.catch(() => undefined)
    if (err) {
      if (app) app.log.error({ err }, 'uncaught error, shutting down')
      else process.stderr.write(`Uncaught error: ${describe(err)}\n`)
    } else {
      app?.log.info({ signal }, 'shutting down')
    }
    await app?.close()
  })
  await starting
}

async function start(config: Config) {
  const { app, firstAdmin } = await buildServer(config)
  const address = await app.listen({ port: config.PORT, host: config.HOST })
  if (firstAdmin) {
    const base = address.replace('0.0.0.0', '127.0.0.1')
    // Printed once, to the console only: the database keeps just a hash of the secret.
    process.stdout.write(
      `\nFirst start: created the API credential "${firstAdmin.identifier}" with every permission.\n` +
        `Its secret is shown only now:\n\n  ${firstAdmin.secret}\n\n` +
        `Try it:\n  curl -s ${base}/includes/api.php -d action=ListOAuthCredentials ` +
        `-d identifier=${firstAdmin.identifier} --data-urlencode secret='${firstAdmin.secret}' -d responsetype=json\n\n`,
    )
  }
  return app
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error)
}

/** One line for the failures an operator fixes outside the code; a stack for the rest. */
function startFailure(error: unknown): string {
  if (error instanceof ConfigError) return error.message
  const unavailable = unavailableReason(error)
  if (unavailable !== null) {
    // The configuration was read without error before the start began.
    const { DATABASE_TIMEOUT_MS } = loadConfig()
    return `Failed to start: the database is unavailable (${unavailable}); each wait for it is bounded by DATABASE_TIMEOUT_MS=${DATABASE_TIMEOUT_MS}.`
  }
  return `Failed to start: ${describe(error)}`
}

main().catch((error: unknown) => {
  process.stderr.write(`${startFailure(error)}\n`)
  process.exit(1)
})
