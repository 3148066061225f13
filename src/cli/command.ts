import type { Config } from '../config.js'
import type { Database } from '../db/database.js'

export interface CliIo {
  out(text: string): void
  err(text: string): void
  /** Standard input, for commands that read it (import); `isTTY` when a terminal, not a file. */
  input?: AsyncIterable<Buffer | string> & { isTTY?: boolean }
}

export interface OptionSpec {
  type: 'string' | 'boolean'
  multiple?: boolean
  /** What the value is, in the help: `--identifier <id>`. */
  value?: string
  description: string
}

/** What a command runs with: its arguments, the configuration, and the open database. */
export interface CommandContext {
  io: CliIo
  config: Config
  /** Named positional arguments, in the order the command declares them. */
  args: Record<string, string>
  options: Record<string, string | boolean | string[] | undefined>
  database: Database
  /** The migrations this run applied before the command (every command runs on a current schema). */
  applied: string[]
}

/** One CLI command: the words that name it, its arguments and options, and what it does. */
export interface Command {
  words: readonly string[]
  args?: readonly string[]
  summary: string
  /** More about it, for its own --help. */
  details?: string
  options?: Record<string, OptionSpec>
  /** Checks option values before the database is opened; throws a UsageError. */
  checkOptions?(options: CommandContext['options']): void
  /** Returns the exit code (0 done, 1 refused). */
  run(context: CommandContext): Promise<number>
}

/** A refusal a command reports as one line on stderr, with exit code 1. */
export class CommandError extends Error {}

/** A command called with a value it cannot take: one line on stderr, exit code 2 as other usage errors. */
export class UsageError extends Error {}
