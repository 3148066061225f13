import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { API_IDENTIFIER_RULE } from './api-clients/access.js'

const LogLevel = Type.Union(
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
)

/** Every setting the service reads from the environment, with its default and its rule. */
const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  DATABASE_URL: Type.Optional(
    Type.String({ pattern: '^postgres(ql)?://', description: 'a postgres:// or postgresql:// URL' }),
  ),
  DATABASE_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 600_000,
    default: 5_000,
    description: 'milliseconds a request waits for the database, 100 to 600000',
  }),
  DATA_DIR: Type.String({ minLength: 1, default: './.data' }),
  CLIENT_IDENTIFIER_PREFIX: Type.String({
    pattern: '^[0-9A-Z-]{1,16}$',
    default: 'OAUTH',
    description: 'upper case letters, digits and "-", at most 16 characters',
  }),
  LOG_LEVEL: Type.Union(LogLevel.anyOf, { default: 'info' }),
  API_BOOTSTRAP_IDENTIFIER: Type.Optional(Type.String(API_IDENTIFIER_RULE)),
  API_BOOTSTRAP_SECRET: Type.Optional(
    Type.String({ minLength: 32, maxLength: 256, description: 'at least 32 characters' }),
  ),
  API_ACCESS_KEY: Type.Optional(Type.String({ minLength: 16, description: 'at least 16 characters' })),
  TRUST_PROXY: Type.Optional(
    Type.String({
      pattern: '^(true|false|[0-9a-fA-F.:/, ]+)$',
      description: 'true, false, or a comma-separated list of proxy addresses or CIDR ranges',
    }),
  ),
  REDIS_URL: Type.Optional(
    Type.String({ pattern: '^rediss?://', description: 'a redis:// or rediss:// URL' }),
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
  LEGACY_UPSTREAM_URL: Type.Optional(
    Type.String({
      pattern: '^https?://[^?#@\\s]+$',
      description: "the original's http(s) …/includes/api.php URL, without query, fragment or user name",
    }),
  ),
  LEGACY_UPSTREAM_TIMEOUT_MS: Type.Integer({ minimum: 1, maximum: 600_000, default: 30_000, description: '1 to 600000' }),
  /** The API secret import-legacy sends to the upstream; read from the environment, never from the command line. */
  LEGACY_UPSTREAM_SECRET: Type.Optional(Type.String()),
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
    if (schema.type === 'integer' && !/^\d+$/.test(value)) {
      throw new ConfigError(`Invalid configuration: ${name}=${JSON.stringify(value)} (${schema.description ?? 'a whole number'})`)
    }
    raw[name] = value
  }
  const config = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, raw))
  const error = Value.Errors(ConfigSchema, config).First()
  if (error) {
    const name = error.path.replace(/^\//, '')
    const rule = (error.schema as { description?: string }).description ?? error.message
    throw new ConfigError(`Invalid configuration: ${name}=${JSON.stringify(env[name])} (${rule})`)
  }
  const checked = config as Config
  if ((checked.API_BOOTSTRAP_IDENTIFIER === undefined) !== (checked.API_BOOTSTRAP_SECRET === undefined)) {
    throw new ConfigError(
      'Invalid configuration: API_BOOTSTRAP_IDENTIFIER and API_BOOTSTRAP_SECRET must be set together',
    )
  }
  return checked
}

/**
 * Reads `.env` in the working directory into process.env when there is one (Node's own
 * parser, the format docker compose reads too). A variable already set in the real
 * environment keeps its value. Answers whether a file was read.
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
