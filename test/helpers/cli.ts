import { Readable } from 'node:stream'
import { runCli } from '../../src/cli/index.js'
import { loadConfig } from '../../src/config.js'
import type { DatabaseTarget } from '../../src/db/database.js'

const config = loadConfig({ LOG_LEVEL: 'silent' })

/** Runs one CLI command on `database`, with `input` as its standard input; returns what it printed. */
export async function cli(database: DatabaseTarget, argv: string[], input?: string | Buffer) {
  const io = {
    stdout: '',
    stderr: '',
    out: (text: string) => void (io.stdout += text),
    err: (text: string) => void (io.stderr += text),
    input: input === undefined ? undefined : Readable.from([Buffer.from(input)]),
  }
  const code = await runCli(argv, io, { config, database })
  return { code, stdout: io.stdout, stderr: io.stderr }
}
