import closeWithGrace from 'close-with-grace'
import { loadConfig, loadEnvFile, type Config } from './config.js'
import { tracingRequested } from './observability/tracing.js'

/** How long a stop may take: in-flight requests finish, then the database closes. */
const SHUTDOWN_GRACE_MS = 10_000

/**
 * Boots the service. On SIGTERM/SIGINT it stops accepting connections, lets in-flight requests
 * finish, closes the database and exits 0; it exits 1 when that outlasts the grace period. The
 * handlers are in place before the database opens: as a container's PID 1, a signal without a
 * handler would be ignored, and a stop during startup waits for the migrations to finish.
 */
async function main() {
  let config: Config | undefined
  try {
    loadEnvFile()
    config = loadConfig()
    // Tracing patches Fastify and pg as they load, so it starts before the app is imported;
    // when off, the SDK is never loaded.
    const tracing = tracingRequested(process.env) ? await import('./observability/start-tracing.js') : undefined
    const starting = start(config)
    const onTimeout = () => process.stderr.write(`The stop took longer than ${SHUTDOWN_GRACE_MS} ms: exiting with what is still open.\n`)
    closeWithGrace({ delay: SHUTDOWN_GRACE_MS, logger: false, onTimeout }, async ({ signal, err }) => {
      const app = await starting.catch(() => undefined)
      if (err) {
        if (app) app.log.error({ err }, 'uncaught error, shutting down')
        else process.stderr.write(`Uncaught error: ${err.stack ?? err.message}\n`)
      } else {
        app?.log.info({ signal }, 'shutting down')
      }
      await app?.close()
      await tracing?.stopTracing()
    })
    await starting
  } catch (error) {
    // Imported here, as the app is: it reaches the database module, and so pg.
    const { describeStartFailure } = await import('./start-failure.js')
    process.stderr.write(`${describeStartFailure(error, config)}\n`)
    process.exit(1)
  }
}

async function start(config: Config) {
  const { startServer } = await import('./app.js')
  const { app, address, firstAdmin } = await startServer(config)
  if (firstAdmin) {
    const base = address.replace('0.0.0.0', '127.0.0.1')
    // Printed once (the database keeps just a hash of the secret), for a person: on stderr, as
    // stdout carries the JSON log lines that log shippers parse and keep.
    process.stderr.write(
      `\nFirst start: created the API credential "${firstAdmin.identifier}" with every permission.\n` +
        `Its secret is shown only now:\n\n  ${firstAdmin.secret}\n\n` +
        `Try it:\n  curl -s ${base}/includes/api.php -d action=ListOAuthCredentials ` +
        `-d identifier=${firstAdmin.identifier} --data-urlencode secret='${firstAdmin.secret}' -d responsetype=json\n` +
        `Lost it? Run: npm run cli -- api-credentials rotate ${firstAdmin.identifier}` +
        `${config.DATABASE_URL ? ' (with the same DATABASE_URL)' : ' (stop the server first: the embedded database serves one process)'}\n\n`,
    )
  }
  return app
}

await main()
