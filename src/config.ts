import { isIP } from 'node:net'
import { FormatRegistry, Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { API_IDENTIFIER_RULE, API_SECRET_RULE } from './api-clients/access.js'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const LogLevel = Type.Union(LOG_LEVELS.map((level) => Type.Literal(level)))

// A pattern let through what Fastify then refuses at start (10.0.0.0/33), an error naming no setting.
// pg reads the URL with the URL parser, which a password holding "/", "?" or "#" breaks: "Invalid URL",
// naming no setting, or, when what precedes it is digits, a port (`user:12/x@db` is host "user").
FormatRegistry.Set('url', (value) => {
  if (!URL.canParse(value)) return false
  const { pathname, hash } = new URL(value)
  return !pathname.includes('@') && !hash.includes('@')
})
FormatRegistry.Set('trust-proxy', (value) => value === 'true' || value === 'false' || value.split(',').every(isProxyAddress))

/** The original's api.php: LEGACY_UPSTREAM_URL, and import-legacy's --url. */
export const LegacyUpstreamUrl = Type.String({
  pattern: '^https?://[^?#@\\s]+$',
  description: "the original's http(s) …/includes/api.php URL, without query, fragment or user name",
  redact: 'credentials',
})

/**
 * Every setting the service reads from the environment, with its default and its rule. An error
 * never shows a `redact: 'value'` setting's value, nor a `redact: 'credentials'` URL's user name,
 * password or query.
 */
const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'a port number from 0 to 65535; 0 picks a free one' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'an address or host name of this machine' }),
  DATABASE_URL: Type.Optional(
    Type.String({
      pattern: '^postgres(ql)?://',
      format: 'url',
      description: 'a postgres:// or postgresql:// URL; in its password, write / as %2F, ? as %3F and # as %23',
      redact: 'credentials',
    }),
  ),
  DATABASE_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 600_000,
    default: 5_000,
    description: 'milliseconds a request waits for the database, 100 to 600000',
  }),
  DATA_DIR: Type.String({ minLength: 1, default: './.data', description: 'a folder for the embedded database' }),
  CLIENT_IDENTIFIER_PREFIX: Type.String({
    pattern: '^[0-9A-Z-]{1,16}$',
    default: 'OAUTH',
    description: 'upper case letters, digits and "-", at most 16 characters',
  }),
  LOG_LEVEL: Type.Union(LogLevel.anyOf, { default: 'info', description: `one of ${LOG_LEVELS.join(', ')}` }),
  API_BOOTSTRAP_IDENTIFIER: Type.Optional(Type.String(API_IDENTIFIER_RULE)),
  API_BOOTSTRAP_SECRET: Type.Optional(
    Type.String({ ...API_SECRET_RULE, redact: 'value' }),
  ),
  API_ACCESS_KEY: Type.Optional(Type.String({ minLength: 16, description: 'at least 16 characters', redact: 'value' })),
  TRUST_PROXY: Type.Optional(
    Type.String({
      format: 'trust-proxy',
      description: 'true, false, or a comma-separated list of proxy addresses or CIDR ranges such as 10.0.0.0/8; not a hop count',
    }),
  ),
  REDIS_URL: Type.Optional(
    Type.String({ pattern: '^rediss?://', description: 'a redis:// or rediss:// URL', redact: 'credentials' }),
  ),
  REDIS_KEY_PREFIX: Type.String({
    pattern: '^[\\w.:-]{1,64}$',
    default: 'oauth-credential-service:',
    description: 'letters, digits and _.:-, at most 64 characters',
  }),
  REDIS_TIMEOUT_MS: Type.Integer({ minimum: 10, maximum: 10_000, default: 250, description: '10 to 10000' }),
  CORS_ORIGINS: Type.Optional(
    Type.String({
      pattern: '^https?://[^/,\\s]+(\\s*,\\s*https?://[^/,\\s]+)*$',
      description: 'comma-separated origins such as https://app.example.com (scheme, host and port only)',
    }),
  ),
  RATE_LIMIT_WINDOW_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 60, description: '1 to 86400' }),
  RATE_LIMIT_PER_CREDENTIAL: Type.Integer({
    minimum: 1,
    default: 30_000,
    description: 'requests per window per API credential, at least 1',
  }),
  RATE_LIMIT_PER_IP: Type.Integer({ minimum: 1, default: 60_000, description: 'requests per window per client IP, at least 1' }),
  AUDIT_RETENTION_DAYS: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 36_500, description: 'days, 1 to 36500; unset keeps every event' }),
  ),
  RATE_LIMIT_FAILED_AUTH_PER_IP: Type.Integer({
    minimum: 1,
    default: 30,
    description: 'failed authentications per window per client IP, at least 1',
  }),
  RATE_LIMIT_FAILED_AUTH_PER_IDENTIFIER: Type.Integer({
    minimum: 1,
    default: 30,
    description: 'failed authentications per window per API credential identifier, at least 1',
  }),
  RATE_LIMIT_FAILED_CLIENT_AUTH_PER_IP: Type.Integer({
    minimum: 1,
    default: 300,
    description: 'failed client authentications per window per client IP, at least 1',
  }),
  RATE_LIMIT_FAILED_CLIENT_AUTH_PER_CLIENT: Type.Integer({
    minimum: 1,
    default: 10,
    description: 'failed client authentications per window per client identifier, at least 1',
  }),
  METRICS_ENABLED: Type.Boolean({ default: true, description: 'true or false' }),
  METRICS_PORT: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 65535, description: 'a port for /metrics alone, 0 to 65535' }),
  ),
  LEGACY_UPSTREAM_URL: Type.Optional(LegacyUpstreamUrl),
  LEGACY_UPSTREAM_TIMEOUT_MS: Type.Integer({ minimum: 1, maximum: 600_000, default: 30_000, description: '1 to 600000' }),
  /** The API secret import-legacy sends to the upstream; read from the environment, never from the command line. */
  LEGACY_UPSTREAM_SECRET: Type.Optional(Type.String({ redact: 'value' })),
})

export type Config = Static<typeof ConfigSchema>

export class ConfigError extends Error {}

/**
 * Reads and checks the configuration once. A bad value throws a ConfigError whose message is
 * one line naming the variable, which server.ts prints before exiting.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {}
  for (const [name, schema] of Object.entries(ConfigSchema.properties)) {
    const value = env[name]
    if (value === undefined || value === '') continue
    // Conversion would truncate "1.5" to 1: a whole-number setting must be written as one.
    if (schema.type === 'integer' && !/^\d+$/.test(value)) throw invalid(name, value, schema.description ?? 'a whole number')
    raw[name] = value
  }
  const config = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, raw))
  const error = Value.Errors(ConfigSchema, config).First()
  if (error) {
    const name = error.path.replace(/^\//, '')
    throw invalid(name, env[name] ?? '', (error.schema as { description?: string }).description ?? error.message)
  }
  const checked = config as Config
  if ((checked.API_BOOTSTRAP_IDENTIFIER === undefined) !== (checked.API_BOOTSTRAP_SECRET === undefined)) {
    throw new ConfigError(
      'Invalid configuration: API_BOOTSTRAP_IDENTIFIER and API_BOOTSTRAP_SECRET must be set together',
    )
  }
  // Port 0 picks a free port for each listener, so only a fixed port can clash; with metrics off
  // no metrics listener opens.
  if (checked.METRICS_ENABLED && checked.METRICS_PORT !== undefined && checked.METRICS_PORT !== 0 && checked.METRICS_PORT === checked.PORT) {
    throw new ConfigError(`Invalid configuration: METRICS_PORT=${checked.METRICS_PORT} is PORT too; leave it unset to serve /metrics on PORT`)
  }
  return checked
}

/** The one-line error for a bad value, which container logs keep: never a secret. */
function invalid(name: string, value: string, rule: string): ConfigError {
  const { redact } = ConfigSchema.properties[name as keyof Config] as { redact?: 'value' | 'credentials' }
  if (redact === 'value') return new ConfigError(`Invalid configuration: ${name} (${rule}; the value of a secret is not shown)`)
  // By hand, not with the URL parser: a password holding "/", "?" or "#" makes it throw, or read
  // part of the password as the host. All before the last "@" goes, and the query (`password=`).
  const shown = redact === 'credentials' ? value.replace(/^([a-z][\w+.-]*:\/\/)?.*@/is, '$1***@').replace(/\?.*/s, '?***') : value
  return new ConfigError(`Invalid configuration: ${name}=${JSON.stringify(shown)} (${rule})`)
}

/** Ones then zeros, and not all zeros (a /0 would trust every address). */
function isNetmask(mask: string): boolean {
  const bits = mask.split('.').reduce((value, octet) => value * 256 + Number(octet), 0)
  const host = 2 ** 32 - 1 - bits
  return bits !== 0 && (host & (host + 1)) === 0
}

/** An address or CIDR range that Fastify's proxy-addr takes; it would also take "1" for 0.0.0.1, which is refused here. */
function isProxyAddress(entry: string): boolean {
  const [address = '', prefix, ...rest] = entry.trim().split('/')
  const family = isIP(address)
  const max = family === 4 ? 32 : 128
  // An IPv4 range may be given by its netmask too (10.0.0.0/255.0.0.0), as proxy-addr reads it.
  const netmask = family === 4 && prefix !== undefined && isIP(prefix) === 4 && isNetmask(prefix)
  return family !== 0 && rest.length === 0 && (prefix === undefined || netmask || (/^\d+$/.test(prefix) && Number(prefix) >= 1 && Number(prefix) <= max))
}

/**
 * Reads `.env` in the working directory into process.env when there is one, with Node's own
 * parser: unlike docker compose's, it ends an unquoted value at "#". A variable already set in
 * the real environment keeps its value. Answers whether a file was read.
 */
export function loadEnvFile(file = '.env'): boolean {
  try {
    process.loadEnvFile(file)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw new ConfigError(`Cannot read ${file}: ${(error as Error).message}`)
  }
}

/** Fastify's `trustProxy` from TRUST_PROXY: whose X-Forwarded-For to believe for client IPs. */
export function trustProxySetting(value: string | undefined): boolean | string {
  return value === undefined || value === 'false' ? false : value === 'true' ? true : value
}

/** The browser origins CORS_ORIGINS allows; none when it is unset. */
export function corsOrigins(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',').map((origin) => origin.trim())
}
