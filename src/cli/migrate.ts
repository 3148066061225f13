import type { Command } from './command.js'

export const migrate: Command = {
  words: ['migrate'],
  summary: 'apply pending database migrations (every command, and the server, does so first)',
  async run({ applied, io }) {
    io.out(applied.length === 0 ? 'No pending migrations to apply.\n' : `Applied: ${applied.join(', ')}\n`)
    return 0
  },
}
