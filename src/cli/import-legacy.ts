import { open } from 'node:fs/promises'
import { Value } from '@sinclair/typebox/value'
import { LegacyUpstreamUrl } from '../config.js'
import {
  fetchOriginalList,
  MAX_ANSWER_BYTES,
  OriginalListError,
  parseUtcOffset,
  readOriginalList,
} from '../legacy/original-list.js'
import { importRecords } from '../transfer/service.js'
import { CommandError, UsageError, type Command, type CommandContext } from './command.js'
import { reportImport } from './transfer.js'

/** Who the audit trail says made the changes (its source is `import`). */
const IMPORT_ACTOR = 'import-legacy'

/**
 * `import-legacy`: the original's OAuth credentials, secrets included, read from its
 * ListOAuthCredentials answer and imported with the transfer core (src/transfer): one
 * transaction, nothing written on any conflict, unchanged ones skipped, changed ones updated
 * unless they were changed here since (src/transfer/plan.ts).
 */
export const importLegacy: Command = {
  words: ['import-legacy'],
  summary: "import the original's OAuth credentials, with their secrets, from its ListOAuthCredentials",
  details:
    'Asks the original api.php at --url (default LEGACY_UPSTREAM_URL) for ListOAuthCredentials (json), as the\n' +
    'API credential --identifier, whose secret is read from LEGACY_UPSTREAM_SECRET (never from the command\n' +
    'line); or reads a saved answer with --file. Running it again updates what changed at the original and\n' +
    'skips the rest; a credential changed or deleted here since it was imported is kept as it is here.\n' +
    'Imported credentials the original no longer lists are reported, and deleted with --delete-gone.',
  options: {
    url: { type: 'string', value: '<api.php URL>', description: "the original's …/includes/api.php" },
    identifier: { type: 'string', value: '<id>', description: "an API identifier of the original's" },
    file: { type: 'string', value: '<list.json>', description: 'a saved ListOAuthCredentials (json) answer instead' },
    'utc-offset': { type: 'string', value: '<±HH:MM>', description: "the original's time zone (its dates carry none); default +00:00" },
    'dry-run': { type: 'boolean', description: 'print the plan, write nothing' },
    'delete-gone': { type: 'boolean', description: "delete the imported credentials the original no longer lists (else only reported)" },
  },
  checkOptions(options) {
    if (utcOffset(options) === null) throw new UsageError(`--utc-offset "${String(options['utc-offset'])}" is not ±HH:MM.`)
    // Not repeated back: a URL that breaks the rule may carry a user name and password.
    if (options.url !== undefined && !Value.Check(LegacyUpstreamUrl, options.url)) {
      throw new UsageError(`--url is not ${LegacyUpstreamUrl.description}.`)
    }
  },
  async run(context) {
    const { options, io, database } = context
    const offset = utcOffset(options) as number // checked by checkOptions
    let credentials
    try {
      credentials = readOriginalList(await originalAnswer(context), offset)
    } catch (error) {
      if (error instanceof OriginalListError) throw new CommandError(`Nothing was imported.\n${error.message}`)
      throw error
    }
    const dryRun = options['dry-run'] === true
    const deleteGone = options['delete-gone'] === true
    // An empty list is likelier a wrong installation or API credential than an original emptied on purpose.
    if (deleteGone && credentials.length === 0) throw new CommandError('Nothing was imported: the original lists no credentials, and --delete-gone would delete every imported one.')
    const outcome = await importRecords(
      database,
      { credentials: credentials.map((record, index) => ({ ...record, origin: `clients[${index}]` })), apiCredentials: [], events: [] },
      { whenChanged: 'update', whenGone: deleteGone ? 'delete' : 'report', dryRun, actor: IMPORT_ACTOR },
    )
    return reportImport(io, outcome, dryRun, 'original')
  },
}

/** Minutes east of UTC; null when --utc-offset is not ±HH:MM. */
function utcOffset(options: CommandContext['options']): number | null {
  return parseUtcOffset((options['utc-offset'] as string | undefined) ?? 'Z')
}

async function originalAnswer({ options, config }: CommandContext): Promise<string> {
  const file = options.file as string | undefined
  const url = (options.url as string | undefined) ?? config.LEGACY_UPSTREAM_URL
  const identifier = options.identifier as string | undefined
  if (file !== undefined) {
    if (options.url !== undefined || identifier !== undefined) throw new CommandError('--file reads a saved answer: leave out --url and --identifier.')
    return readBounded(file)
  }
  if (url === undefined || identifier === undefined) {
    throw new CommandError('Give --identifier and --url (or LEGACY_UPSTREAM_URL) to ask the original, or --file to read a saved answer.')
  }
  const secret = config.LEGACY_UPSTREAM_SECRET
  if (secret === undefined) {
    throw new CommandError(`Set LEGACY_UPSTREAM_SECRET to the secret of "${identifier}" (it is never taken from the command line).`)
  }
  return fetchOriginalList({ url, identifier, secret, timeoutMs: config.LEGACY_UPSTREAM_TIMEOUT_MS })
}

async function readBounded(path: string): Promise<string> {
  let handle
  try {
    handle = await open(path)
  } catch (error) {
    throw new CommandError(`--file ${path}: ${(error as Error).message}`)
  }
  try {
    if ((await handle.stat()).size > MAX_ANSWER_BYTES) throw new CommandError(`--file ${path} is larger than ${MAX_ANSWER_BYTES} bytes.`)
    return await handle.readFile('utf8')
  } finally {
    await handle.close()
  }
}
