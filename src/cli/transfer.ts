import { describePlan } from '../transfer/plan.js'
import { exportRecords, importRecords, type ImportOutcome } from '../transfer/service.js'
import { BackupFormatError, endLine, headerLine, readBackup, recordLine } from '../transfer/jsonl.js'
import { CommandError, type CliIo, type Command } from './command.js'

const exportCommand: Command = {
  words: ['export'],
  summary: 'write every credential and API credential to stdout as a backup (JSON Lines)',
  details:
    'Secrets travel only as the hashes the database stores. The records are read from one\n' +
    'consistent snapshot. Restore with: npm run cli -- import < backup.jsonl',
  options: {
    'with-events': { type: 'boolean', description: 'include the audit trail' },
  },
  async run({ database, io, options }) {
    const withEvents = options['with-events'] === true
    io.out(headerLine(new Date(), withEvents))
    const counts = await exportRecords(database, { withEvents }, (exported) => io.out(recordLine(exported)))
    io.out(endLine(counts))
    return 0
  },
}

const importCommand: Command = {
  words: ['import'],
  summary: 'restore a backup from stdin, in one transaction; prints what it did',
  details:
    'Records already stored as they are in the backup are left alone, so importing twice\n' +
    'changes nothing. A record whose id or identifier holds other data here is a conflict:\n' +
    'the conflicts are listed and nothing is written (exit 1). Id sequences continue past the\n' +
    'highest imported id; each credential created gets an audit event of source "import".',
  options: {
    'dry-run': { type: 'boolean', description: 'print the plan, write nothing' },
  },
  async run({ database, io, options }) {
    if (!io.input || io.input.isTTY) throw new CommandError('Give the backup on standard input: npm run cli -- import < backup.jsonl')
    let records
    try {
      records = await readBackup(io.input)
    } catch (error) {
      if (error instanceof BackupFormatError) throw new CommandError(`Not imported: ${error.message}`)
      throw error
    }
    const dryRun = options['dry-run'] === true
    const outcome = await importRecords(database, records, { whenChanged: 'conflict', dryRun, actor: 'cli' })
    return reportImport(io, outcome, dryRun, 'backup')
  },
}

/**
 * Prints an import's plan and returns its exit code: on stdout when it was carried out or only
 * planned (0), on stderr when its conflicts refused it (1), as every refusal of the CLI is told.
 */
export function reportImport(io: CliIo, { plan, written }: ImportOutcome, dryRun: boolean, from: 'backup' | 'original'): number {
  const refused = plan.conflicts.length > 0
  const report = describePlan(plan, written ? 'written' : dryRun && !refused ? 'dry-run' : 'refused', from)
  if (refused) {
    io.err(report)
    return 1
  }
  io.out(report)
  return 0
}

export const transferCommands = [exportCommand, importCommand]
