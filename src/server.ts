import { buildServer } from './app.js'
import { ConfigError, loadConfig } from './config.js'

/** Boots the service: configuration, database, listen, and a clean stop on SIGTERM/SIGINT. */
async function main() {
  const config = loadConfig()
  const { app, firstAdmin } = await buildServer(config)
  const shutdown = async (signal: string) => {
    app.log.info({ signal }, 'shutting down')
    const timer = setTimeout(() => process.exit(1), 10_000).unref()
    await app.close()
    clearTimeout(timer)
    process.exit(0)
  }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)

  const address = await app.listen({ port: config.PORT, host: config.HOST })
  const base = address.replace('0.0.0.0', '127.0.0.1')
  if (firstAdmin) {
    // Printed once, to the console only: the database keeps just a hash of the secret.
    process.stdout.write(
      `\nFirst start: created the API credential "${firstAdmin.identifier}" with every permission.\n` +
        `Its secret is shown only now:\n\n  ${firstAdmin.secret}\n\n` +
        `Try it:\n  curl -s ${base}/includes/api.php -d action=ListOAuthCredentials ` +
        `-d identifier=${firstAdmin.identifier} --data-urlencode secret='${firstAdmin.secret}' -d responsetype=json\n\n`,
    )
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`)
  } else {
    process.stderr.write(`Failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  }
  process.exit(1)
})
