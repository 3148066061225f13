import { Readable } from 'node:stream'
import { runCli } from '../../src/cli/index.js'
import { loadConfig } from '../../src/config.js'

/** Where a command runs (a database to open, or one already open) and its settings; default: silent logs. */
type Where = NonNullable<Parameters<typeof runCli>[2]>

const quiet = loadConfig({ LOG_LEVEL: 'silent' })

/** Runs one CLI command, with `input` as its standard input; returns its exit code and what it printed. */
export async function cli(where: Where, argv: string[], input?: string | Buffer) {
  const io = {
    stdout: '',
    stderr: '',
    out: (text: string) => void (io.stdout += text),
    err: (text: string) => void (io.stderr += text),
    input: input === undefined ? undefined : Readable.from([Buffer.from(input)]),
  }
  const code = await runCli(argv, io, { config: quiet, ...where })
  return { code, stdout: io.stdout, stderr: io.stderr }
}
