import { ACTIONS, ALL_ACTIONS } from '../api-clients/access.js'
import { ApiClientService } from '../api-clients/service.js'
import { apiCredentialStorage } from '../api-clients/storage.js'
import type { Command, CommandContext } from './command.js'

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
  },
  async run(context) {
    const { options, io } = context
    const created = await service(context).create({
      identifier: options.identifier as string | undefined,
      description: options.description as string | undefined,
      permissions: options.permission as string[] | undefined,
      allowedIps: options['allow-ip'] as string[] | undefined,
    })
    io.out(`Created API credential "${created.identifier}".\n${secretOnce(created.secret)}`)
    return 0
  },
}

/** The lines that show a secret, the one time it is shown. */
const secretOnce = (secret: string) => `Secret (shown only now; only its hash is stored):\n${secret}\n`

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
