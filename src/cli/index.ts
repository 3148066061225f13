import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { ApiClientError } from '../api-clients/service.js'
import { loadConfig, loadEnvFile, type Config } from '../config.js'
import { configuredDatabase, openDatabase, type Database, type DatabaseTarget } from '../db/database.js'
import { describeStartFailure } from '../start-failure.js'
import { ImportBusy } from '../transfer/service.js'
import { apiCredentialCommands } from './api-credentials.js'
import { CommandError, UsageError, type CliIo, type Command } from './command.js'
import { importLegacy } from './import-legacy.js'
import { migrate } from './migrate.js'
import { transferCommands } from './transfer.js'

const COMMANDS: readonly Command[] = [migrate, ...apiCredentialCommands, ...transferCommands, importLegacy]

const PROGRAM = 'npm run cli --'
const DATABASE_NOTE =
  'The database is DATABASE_URL when set, else the embedded one in DATA_DIR (stop the server\n' +
  'first: the embedded database serves one process at a time).'
const EXIT_CODES = 'Exit codes: 0 done, 1 refused (the reason is on stderr), 2 usage error.'

function synopsis(command: Command): string {
  const args = (command.args ?? []).map((name) => `<${name}>`)
  return [...command.words, ...args, ...(command.options ? ['[options]'] : [])].join(' ')
}

function usage(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((command) => synopsis(command).length)) + 2
  const lines = commands.map((command) => `  ${synopsis(command).padEnd(width)}${command.summary}`)
  return (
    `Usage: ${PROGRAM} <command> [--help]\n\n${lines.join('\n')}\n\n` +
    `${PROGRAM} <command> --help tells more of one command.\n${DATABASE_NOTE}\n${EXIT_CODES}\n`
  )
}

function commandHelp(command: Command): string {
  const options = Object.entries(command.options ?? {}).map(([name, option]) => {
    const flag = `--${name}${option.value ? ` ${option.value}` : ''}`
    return `  ${flag.padEnd(28)}${option.description}`
  })
  return (
    `Usage: ${PROGRAM} ${synopsis(command)}\n\n${command.summary}.\n` +
    (command.details ? `${command.details}\n` : '') +
    (options.length ? `\nOptions:\n${options.join('\n')}\n` : '') +
    `\n${EXIT_CODES}\n`
  )
}

/** The command named by the leading words of `argv`, and where its own arguments start. */
function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  const matches = COMMANDS.filter((command) => command.words.every((word, index) => argv[index] === word))
  const command = matches.sort((a, b) => b.words.length - a.words.length)[0]
  return command && { command, rest: argv.slice(command.words.length) }
}

/** The commands of a group such as `api-credentials`: those whose words go on after `words`. */
function commandsUnder(words: string[]): Command[] {
  return COMMANDS.filter((command) => command.words.length > words.length && words.every((word, index) => command.words[index] === word))
}

/**
 * Runs one CLI command; returns the process exit code. `open`: a database already open (left
 * open), instead of opening `database` or the configured one.
 */
export async function runCli(
  argv: string[],
  io: CliIo,
  options: { config?: Config; database?: DatabaseTarget; open?: Database } = {},
): Promise<number> {
  const found = findCommand(argv)
  if (!found) {
    if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help')) {
      io.out(usage())
      return 0
    }
    const words = argv.filter((word) => !word.startsWith('-'))
    const group = words.length > 0 ? commandsUnder(words) : []
    if (group.length > 0) {
      if (argv.includes('--help') || argv.includes('-h')) {
        io.out(usage(group))
        return 0
      }
      const next = group.map((command) => command.words[words.length]).join(', ')
      io.err(`"${words.join(' ')}" needs one of: ${next}.\n\n${usage(group)}`)
      return 2
    }
    io.err(`${words.length > 0 ? `Unknown command "${words.join(' ')}".` : 'No command given.'}\n\n${usage()}`)
    return 2
  }
  const { command, rest } = found
  let parsed
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
    })
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${commandHelp(command)}`)
    return 2
  }
  if (parsed.values.help) {
    io.out(commandHelp(command))
    return 0
  }
  const names = command.args ?? []
  if (parsed.positionals.length !== names.length) {
    const problem =
      parsed.positionals.length < names.length
        ? `Missing <${names[parsed.positionals.length]}>.`
        : `Unexpected argument "${parsed.positionals[names.length]}".`
    io.err(`${problem}\n\n${commandHelp(command)}`)
    return 2
  }

  try {
    command.checkOptions?.(parsed.values)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    io.err(`${error.message}\n`)
    return 2
  }

  let config: Config | undefined
  let database: Database | undefined
  let applied: string[]
  try {
    config = options.config ?? loadConfig()
    database =
      options.open ??
      (await openDatabase(options.database ?? configuredDatabase(config), { timeoutMs: config.DATABASE_TIMEOUT_MS }))
    applied = await database.migrate()
  } catch (error) {
    if (!options.open) await database?.close().catch(() => {})
    io.err(`${describeStartFailure(error, config)}\n`)
    return 1
  }
  try {
    const args = Object.fromEntries(names.map((name, index) => [name, parsed.positionals[index] as string]))
    return await command.run({ io, config, args, options: parsed.values, database, applied })
  } catch (error) {
    if (error instanceof ApiClientError || error instanceof CommandError || error instanceof ImportBusy) {
      io.err(`${error.message}\n`)
      return 1
    }
    throw error
  } finally {
    if (!options.open) await database.close()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const io: CliIo = {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    input: process.stdin,
  }
  const main = async (): Promise<number> => {
    try {
      loadEnvFile()
    } catch (error) {
      io.err(`${describeStartFailure(error)}\n`)
      return 1
    }
    return runCli(process.argv.slice(2), io)
  }
  main().then(exitWhenWritten, (error: unknown) => {
    io.err(`${String((error as Error).stack ?? error)}\n`)
    exitWhenWritten(1)
  })
}

/**
 * Exits once all that was written has left: a pipe takes 64 KiB at a time, and the rest waits
 * in the process, where an immediate exit would drop it (a report piped to `tee` or `less`).
 */
function exitWhenWritten(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
}
