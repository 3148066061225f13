import { ACTIONS, ALL_ACTIONS, API_IDENTIFIER_RULE, isApiIdentifier, settingsRefusal } from '../api-clients/access.js'
import { ApiClientService } from '../api-clients/service.js'
import { apiCredentialStorage } from '../api-clients/storage.js'
import { CommandError, UsageError, type Command, type CommandContext } from './command.js'

const service = ({ database }: CommandContext) => new ApiClientService(apiCredentialStorage(database))

const create: Command = {
  words: ['api-credentials', 'create'],
  summary: 'create an API credential; its secret is printed once',
  details: `Permissions are action names: ${ACTIONS.join(', ')}, or ${ALL_ACTIONS} for all.`,
  options: {
    identifier: { type: 'string', value: '<id>', description: 'default: a random one' },
    description: { type: 'string', value: '<text>', description: 'what it is for' },
    permission: { type: 'string', multiple: true, value: '<action>', description: 'repeatable; default: * (every action)' },
    'allow-ip': { type: 'string', multiple: true, value: '<address>', description: 'repeatable; default: any address' },
    'secret-stdin': {
      type: 'boolean',
      description: "the secret is read from standard input (an existing one of the original's), not generated",
    },
  },
  checkOptions({ identifier, permission, 'allow-ip': allowedIps }) {
    if (typeof identifier === 'string' && !isApiIdentifier(identifier)) {
      throw new UsageError(`Invalid --identifier ${JSON.stringify(identifier.slice(0, 40))}: ${API_IDENTIFIER_RULE.description}`)
    }
    const refusal = settingsRefusal((permission as string[] | undefined) ?? [], (allowedIps as string[] | undefined) ?? [])
    if (refusal !== undefined) throw new UsageError(refusal)
  },
  async run(context) {
    const { options, io } = context
    const given = options['secret-stdin'] ? await secretFromInput(context) : undefined
    const created = await service(context).create({
      identifier: options.identifier as string | undefined,
      description: options.description as string | undefined,
      permissions: options.permission as string[] | undefined,
      allowedIps: options['allow-ip'] as string[] | undefined,
      secret: given,
    })
    io.out(
      given === undefined
        ? `Created API credential "${created.identifier}".
${secretOnce(created.secret)}`
        : `Created API credential "${created.identifier}" with the secret given (only its hash is stored).
`,
    )
    return 0
  },
}

/** The lines that show a secret, the one time it is shown. */
const secretOnce = (secret: string) => `Secret (shown only now; only its hash is stored):\n${secret}\n`

/** Longer than any secret: a file piped in by mistake is refused, not read whole. */
const MAX_SECRET_INPUT = 4096

/** The secret piped in, without the line break `echo` or a here-string adds. */
async function secretFromInput({ io }: CommandContext): Promise<string> {
  let text = ''
  for await (const chunk of io.input ?? []) {
    text += String(chunk)
    if (text.length > MAX_SECRET_INPUT) throw new CommandError('--secret-stdin: the input is too long for a secret.')
  }
  const secret = text.replace(/\r?\n$/, '')
  if (secret === '') throw new CommandError('--secret-stdin: nothing was given on standard input.')
  return secret
}

const list: Command = {
  words: ['api-credentials', 'list'],
  summary: 'list API credentials (never their secrets)',
  details: 'Tab-separated, one line per credential after a header line.',
  async run(context) {
    const rows = [['identifier', 'status', 'permissions', 'allowed-ips', 'description']]
    for (const client of await service(context).list()) {
      const status = client.revokedAt ? `revoked ${client.revokedAt.toISOString()}` : 'active'
      const ips = client.allowedIps.length ? client.allowedIps.join(',') : 'any'
      rows.push([client.identifier, status, client.permissions.join(','), ips, client.description])
    }
    context.io.out(rows.map((row) => `${row.join('\t')}\n`).join(''))
    return 0
  },
}

const rotate: Command = {
  words: ['api-credentials', 'rotate'],
  args: ['identifier'],
  summary: 'give an API credential a new secret, printed once; the old one stops working',
  details: 'This is also how to recover the first start\'s "admin" credential when its secret is lost.',
  async run(context) {
    const identifier = context.args.identifier as string
    const secret = await service(context).rotate(identifier)
    context.io.out(`New secret for API credential "${identifier}".\n${secretOnce(secret)}`)
    return 0
  },
}

const revoke: Command = {
  words: ['api-credentials', 'revoke'],
  args: ['identifier'],
  summary: 'revoke an API credential',
  async run(context) {
    const identifier = context.args.identifier as string
    if (await service(context).revoke(identifier)) {
      context.io.out(`Revoked API credential "${identifier}".\n`)
      return 0
    }
    context.io.err(`No active API credential "${identifier}".\n`)
    return 1
  },
}

export const apiCredentialCommands = [create, list, rotate, revoke]
