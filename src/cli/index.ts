import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { ACTIONS, ALL_ACTIONS, ApiClientError, ApiClientService } from './api-clients/service.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { openDatabase, type DatabaseTarget } from './db/database.js'

const USAGE = `Usage: npm run cli -- <command>

  migrate                               apply pending database migrations
  api-credentials create [options]      create an API credential; its secret is printed once
      --identifier <id>                 default: a random one
      --description <text>
      --permission <action>             repeatable; default: * (every action)
      --allow-ip <address>              repeatable; default: any address
  api-credentials list                  list API credentials (never their secrets)
  api-credentials revoke <identifier>   revoke an API credential

Actions: ${ACTIONS.join(', ')}, or ${ALL_ACTIONS}.
The database is DATABASE_URL when set, else the embedded one in DATA_DIR (stop the server
first: the embedded database serves one process at a time).
`

type Command = { name: 'migrate' } | { name: 'create' } | { name: 'list' } | { name: 'revoke'; identifier: string }

function commandOf(positionals: string[]): Command | undefined {
  const [group, verb, target, ...extra] = positionals
  if (group === 'migrate' && verb === undefined) return { name: 'migrate' }
  if (group !== 'api-credentials' || extra.length > 0) return undefined
  if ((verb === 'create' || verb === 'list') && target === undefined) return { name: verb }
  if (verb === 'revoke' && target !== undefined) return { name: 'revoke', identifier: target }
  return undefined
}

export interface CliIo {
  out(text: string): void
  err(text: string): void
}

/** Runs one CLI command; returns the process exit code. */
export async function runCli(
  argv: string[],
  io: CliIo,
  options: { config?: Config; database?: DatabaseTarget } = {},
): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        identifier: { type: 'string' },
        description: { type: 'string' },
        permission: { type: 'string', multiple: true },
        'allow-ip': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  const command = commandOf(positionals)
  if (values.help || !command) {
    ;(values.help ? io.out : io.err)(USAGE)
    return values.help ? 0 : 2
  }

  const config = options.config ?? loadConfig()
  const database = await openDatabase(
    options.database ?? (config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: config.DATA_DIR }),
  )
  try {
    const applied = await database.migrate()
    if (command.name === 'migrate') {
      io.out(applied.length === 0 ? 'No pending migrations to apply.\n' : `Applied: ${applied.join(', ')}\n`)
      return 0
    }
    const apiClients = new ApiClientService(database)
    if (command.name === 'create') {
      const created = await apiClients.create({
        identifier: values.identifier,
        description: values.description,
        permissions: values.permission,
        allowedIps: values['allow-ip'],
      })
      io.out(
        `Created API credential "${created.identifier}".\n` +
          `Secret (shown only now; only its hash is stored):\n${created.secret}\n`,
      )
      return 0
    }
    if (command.name === 'list') {
      for (const client of await apiClients.list()) {
        const status = client.revokedAt ? `revoked ${client.revokedAt.toISOString()}` : 'active'
        const ips = client.allowedIps.length ? client.allowedIps.join(',') : 'any'
        io.out(`${client.identifier}\t${status}\tpermissions=${client.permissions.join(',')}\tips=${ips}\t${client.description}\n`)
      }
      return 0
    }
    if (await apiClients.revoke(command.identifier)) {
      io.out(`Revoked API credential "${command.identifier}".\n`)
      return 0
    }
    io.err(`No active API credential "${command.identifier}".\n`)
    return 1
  } catch (error) {
    if (error instanceof ApiClientError) {
      io.err(`${error.message}\n`)
      return 1
    }
    throw error
  } finally {
    await database.close()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const io: CliIo = { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) }
  runCli(process.argv.slice(2), io).then(
    (code) => process.exit(code),
    (error: unknown) => {
      io.err(error instanceof ConfigError ? `${error.message}\n` : `${String((error as Error).stack ?? error)}\n`)
      process.exit(1)
    },
  )
}
