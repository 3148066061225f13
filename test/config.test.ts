import t from 'tap'
import Fastify from 'fastify'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseEnv } from 'node:util'
import { ConfigError, corsOrigins, loadConfig, loadEnvFile, trustProxySetting } from '../src/config.js'
import { PROJECT_ROOT } from '../src/paths.js'

t.test('defaults: a laptop start needs no configuration', async (t) => {
  t.same(loadConfig({}), {
    PORT: 3000,
    HOST: '127.0.0.1',
    DATABASE_TIMEOUT_MS: 5_000,
    DATA_DIR: './.data',
    CLIENT_IDENTIFIER_PREFIX: 'OAUTH',
    LOG_LEVEL: 'info',
    REDIS_KEY_PREFIX: 'oauth-credential-service:',
    REDIS_TIMEOUT_MS: 250,
    RATE_LIMIT_WINDOW_SECONDS: 60,
    RATE_LIMIT_PER_CREDENTIAL: 30_000,
    RATE_LIMIT_PER_IP: 60_000,
    RATE_LIMIT_FAILED_AUTH_PER_IP: 30,
    RATE_LIMIT_FAILED_AUTH_PER_IDENTIFIER: 30,
    RATE_LIMIT_FAILED_CLIENT_AUTH_PER_IP: 300,
    RATE_LIMIT_FAILED_CLIENT_AUTH_PER_CLIENT: 10,
    METRICS_ENABLED: true,
    LEGACY_UPSTREAM_TIMEOUT_MS: 30_000,
  })
})

t.test('values are read and converted; empty ones count as unset', async (t) => {
  const config = loadConfig({
    PORT: '8080',
    HOST: '0.0.0.0',
    DATABASE_URL: 'postgresql://app@db:5432/oauth',
    DATA_DIR: '',
    CLIENT_IDENTIFIER_PREFIX: 'ACME-1',
    LOG_LEVEL: 'warn',
    API_BOOTSTRAP_IDENTIFIER: 'ops',
    API_BOOTSTRAP_SECRET: 'x'.repeat(32),
    API_ACCESS_KEY: 'k'.repeat(16),
    TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
    UNRELATED: 'ignored',
  })
  t.equal(config.PORT, 8080)
  t.equal(config.DATA_DIR, './.data')
  t.equal(config.DATABASE_URL, 'postgresql://app@db:5432/oauth')
  t.equal(config.CLIENT_IDENTIFIER_PREFIX, 'ACME-1')
  t.notOk('UNRELATED' in config)
})

t.test('a bad value stops with one line naming the variable', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: 'eighty' }, /^Invalid configuration: PORT="eighty" \(/],
    [{ PORT: '70000' }, /^Invalid configuration: PORT="70000" \(a port number from 0 to 65535; 0 picks a free one\)$/],
    [{ LOG_LEVEL: 'verbose' }, /^Invalid configuration: LOG_LEVEL="verbose" \(one of fatal, error, warn, info, debug, trace, silent\)$/],
    [{ PORT: '1.5' }, /^Invalid configuration: PORT="1.5" \(a port number from 0 to 65535; 0 picks a free one\)$/],
    [{ RATE_LIMIT_WINDOW_SECONDS: '60s' }, /^Invalid configuration: RATE_LIMIT_WINDOW_SECONDS="60s" \(1 to 86400\)$/],
    [{ DATABASE_TIMEOUT_MS: '0' }, /^Invalid configuration: DATABASE_TIMEOUT_MS="0" \(milliseconds a request waits for the database, 100 to 600000\)$/],
    [{ DATABASE_URL: 'mysql://x' }, /^Invalid configuration: DATABASE_URL="mysql:\/\/x" \(a postgres:\/\/ or postgresql:\/\/ URL; in its password, write \/ as %2F, \? as %3F and # as %23\)$/],
    [{ DATABASE_URL: 'postgres://oauth:ab/cd@127.0.0.1:5432/x' }, /^Invalid configuration: DATABASE_URL="postgres:\/\/\*\*\*@127.0.0.1:5432\/x" \(a postgres:\/\/ or postgresql:\/\/ URL; in its password, write \/ as %2F/],
    [{ CLIENT_IDENTIFIER_PREFIX: 'lower' }, /^Invalid configuration: CLIENT_IDENTIFIER_PREFIX="lower" \(upper case/],
    [{ CLIENT_IDENTIFIER_PREFIX: 'A'.repeat(17) }, /^Invalid configuration: CLIENT_IDENTIFIER_PREFIX=/],
    [{ LOG_LEVEL: 'loud' }, /^Invalid configuration: LOG_LEVEL="loud"/],
    [{ API_BOOTSTRAP_IDENTIFIER: 'ops', API_BOOTSTRAP_SECRET: 'short' }, /^Invalid configuration: API_BOOTSTRAP_SECRET \(32 to 256 printable ASCII characters, without spaces; the value of a secret is not shown\)$/],
    // The rule the CLI holds a given secret to: a space would not survive a Basic header typed by hand.
    [{ API_BOOTSTRAP_IDENTIFIER: 'ops', API_BOOTSTRAP_SECRET: 'long enough but has spaces in it ok' }, /^Invalid configuration: API_BOOTSTRAP_SECRET \(32 to 256 printable ASCII/],
    [{ API_BOOTSTRAP_IDENTIFIER: 'ops' }, /^Invalid configuration: API_BOOTSTRAP_IDENTIFIER and API_BOOTSTRAP_SECRET must be set together$/],
    [{ PORT: '9464', METRICS_PORT: '9464' }, /^Invalid configuration: METRICS_PORT=9464 is PORT too; leave it unset to serve \/metrics on PORT$/],
    // The default PORT counts too.
    [{ METRICS_PORT: '3000' }, /^Invalid configuration: METRICS_PORT=3000 is PORT too/],
    [{ API_ACCESS_KEY: 'short' }, /^Invalid configuration: API_ACCESS_KEY \(at least 16 characters; the value of a secret is not shown\)$/],
    [{ TRUST_PROXY: 'everyone' }, /^Invalid configuration: TRUST_PROXY="everyone"/],
    [{ REDIS_URL: 'localhost:6379' }, /^Invalid configuration: REDIS_URL="localhost:6379" \(a redis:\/\/ or rediss:\/\/ URL\)$/],
    [{ REDIS_KEY_PREFIX: 'has space' }, /^Invalid configuration: REDIS_KEY_PREFIX="has space"/],
    [{ CORS_ORIGINS: '*' }, /^Invalid configuration: CORS_ORIGINS="\*" \(comma-separated origins/],
    [{ CORS_ORIGINS: 'https://app.example.com/path' }, /^Invalid configuration: CORS_ORIGINS=/],
    [{ METRICS_ENABLED: 'maybe' }, /^Invalid configuration: METRICS_ENABLED="maybe" \(true or false\)$/],
    [{ METRICS_PORT: '9100.5' }, /^Invalid configuration: METRICS_PORT="9100.5" \(a port for \/metrics alone, 0 to 65535\)$/],
    [{ METRICS_PORT: '70000' }, /^Invalid configuration: METRICS_PORT="70000" \(a port for \/metrics alone/],
    [{ LEGACY_UPSTREAM_URL: 'billing.example.com/includes/api.php' }, /^Invalid configuration: LEGACY_UPSTREAM_URL=.* \(the original's http\(s\)/],
    [{ LEGACY_UPSTREAM_URL: 'https://billing.example.com/includes/api.php?x=1' }, /^Invalid configuration: LEGACY_UPSTREAM_URL="https:\/\/billing.example.com\/includes\/api.php\?\*\*\*" \(/],
    [{ LEGACY_UPSTREAM_URL: 'https://admin:pw@billing.example.com/includes/api.php' }, /^Invalid configuration: LEGACY_UPSTREAM_URL="https:\/\/\*\*\*@billing.example.com\/includes\/api.php" \(/],
    [{ LEGACY_UPSTREAM_TIMEOUT_MS: '0' }, /^Invalid configuration: LEGACY_UPSTREAM_TIMEOUT_MS="0" \(1 to 600000\)$/],
  ]
  for (const [env, message] of cases) {
    const error = t.throws(() => loadConfig(env)) as Error
    t.type(error, ConfigError)
    t.match(error.message, message, JSON.stringify(env))
    t.notMatch(error.message, /\n/, 'one line')
  }
})

t.test('a bad secret is never shown, nor the user name, password or query of a bad URL', async (t) => {
  const cases: [Record<string, string>, string[]][] = [
    [{ API_BOOTSTRAP_IDENTIFIER: 'ops', API_BOOTSTRAP_SECRET: 'Sh0rtSecret' }, ['Sh0rtSecret']],
    [{ API_BOOTSTRAP_IDENTIFIER: 'ops', API_BOOTSTRAP_SECRET: 'L0ngSecret'.repeat(26) }, ['L0ngSecret']],
    [{ API_BOOTSTRAP_IDENTIFIER: 'ops', API_BOOTSTRAP_SECRET: 'Spaced S3cret of thirty-two or more' }, ['Spaced S3cret']],
    [{ API_ACCESS_KEY: 'Sh0rtKey' }, ['Sh0rtKey']],
    [{ DATABASE_URL: 'postgress://dbuser:S3cretPassw0rd@db/oauth' }, ['dbuser', 'S3cretPassw0rd']],
    [{ DATABASE_URL: 'postgress://dbuser:ab/cd#S3cret@db/oauth' }, ['dbuser', 'ab/cd', 'S3cret']],
    [{ DATABASE_URL: 'pg://db/oauth?user=dbuser&password=S3cret' }, ['dbuser', 'S3cret']],
    [{ DATABASE_URL: 'postgres://dbuser:ab/cd@127.0.0.1:5432/x' }, ['dbuser', 'ab/cd']],
    // Digits before the "/" parse as a port: the URL parser alone takes this for host "dbuser".
    [{ DATABASE_URL: 'postgres://dbuser:12/cd@127.0.0.1:5432/x' }, ['dbuser', '12/cd']],
    [{ DATABASE_URL: 'postgres://dbuser:12#cd@127.0.0.1:5432/x' }, ['dbuser', '12#cd']],
    [{ REDIS_URL: 'redis:/:S3cretPassw0rd@cache:6379' }, ['S3cretPassw0rd']],
    [{ REDIS_URL: 'http://default:S3cret@cache:6379' }, ['default', 'S3cret']],
    [{ LEGACY_UPSTREAM_URL: 'https://u5er:p4ss@billing.example.com/includes/api.php' }, ['u5er', 'p4ss']],
    [{ LEGACY_UPSTREAM_URL: 'u5er:p4ss@billing.example.com/includes/api.php' }, ['u5er', 'p4ss']],
    [{ LEGACY_UPSTREAM_URL: 'https://billing.example.com/includes/api.php?secret=S3cret' }, ['S3cret']],
  ]
  for (const [env, secrets] of cases) {
    const name = Object.keys(env).at(-1) as string
    const error = t.throws(() => loadConfig(env)) as Error
    t.type(error, ConfigError)
    t.match(error.message, new RegExp(`^Invalid configuration: ${name}[ =]`), name)
    for (const secret of secrets) t.notMatch(error.message, secret, `${name}: ${error.message}`)
  }
})

t.test('a DATABASE_URL with an "@" in its query, or an encoded password, is a URL', async (t) => {
  for (const url of ['postgres://u:p@db/oauth?application_name=me@host', 'postgres://u:12%2Fcd%23x%3F@db:5432/oauth']) {
    t.equal(loadConfig({ DATABASE_URL: url }).DATABASE_URL, url)
  }
})

t.test('TRUST_PROXY: true, false, or addresses and CIDR ranges that Fastify takes; not a hop count', async (t) => {
  for (const value of ['true', 'false', '10.0.0.1', '10.0.0.0/8, 127.0.0.1', '10.0.0.0/32', '::1', 'fd00::/8', '::ffff:10.0.0.0/104', '10.0.0.0/255.0.0.0', '10.0.0.1/255.255.255.255']) {
    const { TRUST_PROXY } = loadConfig({ TRUST_PROXY: value })
    t.doesNotThrow(() => Fastify({ trustProxy: trustProxySetting(TRUST_PROXY) }), value)
  }
  // "1" is no hop count: Fastify hands the string to proxy-addr, which reads it as the address 0.0.0.1.
  for (const value of ['1', '2', '10.0.0.0/33', '10.0.0.0/0', '::/129', '10.0.0.1,', '10.1', '10.0.0.0/8/8', '10.0.0.1 10.0.0.2', '10.0.0.0/255.0.255.0', '10.0.0.0/0.0.0.0']) {
    const error = t.throws(() => loadConfig({ TRUST_PROXY: value })) as Error
    t.type(error, ConfigError)
    t.equal(
      error.message,
      `Invalid configuration: TRUST_PROXY=${JSON.stringify(value)} (true, false, or a comma-separated list of proxy addresses or CIDR ranges such as 10.0.0.0/8; not a hop count)`,
    )
  }
})

t.test('.env.example, copied to .env as it is, is a configuration that starts', async (t) => {
  const env = parseEnv(await readFile(path.join(PROJECT_ROOT, '.env.example'), 'utf8'))
  t.ok(Object.keys(env).length > 10, 'read')
  t.doesNotThrow(() => loadConfig(env))
})

t.test('TRUST_PROXY becomes Fastify trustProxy', async (t) => {
  t.equal(trustProxySetting(undefined), false)
  t.equal(trustProxySetting('false'), false)
  t.equal(trustProxySetting('true'), true)
  t.equal(trustProxySetting('10.0.0.0/8,127.0.0.1'), '10.0.0.0/8,127.0.0.1')
})

t.test('CORS_ORIGINS: the listed origins, none when unset', async (t) => {
  t.same(corsOrigins(undefined), [])
  const { CORS_ORIGINS } = loadConfig({ CORS_ORIGINS: 'https://app.example.com, http://127.0.0.1:5173' })
  t.same(corsOrigins(CORS_ORIGINS), ['https://app.example.com', 'http://127.0.0.1:5173'])
})

t.test('METRICS_ENABLED and METRICS_PORT are read', async (t) => {
  const config = loadConfig({ METRICS_ENABLED: 'false', METRICS_PORT: '9464' })
  t.equal(config.METRICS_ENABLED, false)
  t.equal(config.METRICS_PORT, 9464)
})

t.test('a .env file is read; the real environment wins; no file is no error', async (t) => {
  const folder = await mkdtemp(path.join(tmpdir(), 'env-file-'))
  t.teardown(() => rm(folder, { recursive: true, force: true }))
  const file = path.join(folder, '.env')
  await writeFile(file, '# a comment\nENV_FILE_TEST_RATE=7\nENV_FILE_TEST_HOST="0.0.0.0"\nENV_FILE_TEST_KEY=from-file\n')
  process.env.ENV_FILE_TEST_KEY = 'from-environment'
  t.teardown(() => {
    for (const name of ['ENV_FILE_TEST_RATE', 'ENV_FILE_TEST_HOST', 'ENV_FILE_TEST_KEY']) delete process.env[name]
  })
  t.equal(loadEnvFile(file), true)
  t.equal(process.env.ENV_FILE_TEST_RATE, '7')
  t.equal(process.env.ENV_FILE_TEST_HOST, '0.0.0.0', 'quotes removed')
  t.equal(process.env.ENV_FILE_TEST_KEY, 'from-environment', 'a variable set in the environment is not replaced')
  t.equal(loadEnvFile(path.join(folder, 'missing.env')), false)
  const error = t.throws(() => loadEnvFile(folder)) as Error
  t.type(error, ConfigError, 'a .env that cannot be read (here a folder) stops the start')
})

t.test('METRICS_PORT may equal PORT while metrics are off: no metrics listener opens', async (t) => {
  t.doesNotThrow(() => loadConfig({ METRICS_ENABLED: 'false', METRICS_PORT: '3000' }))
  t.doesNotThrow(() => loadConfig({ PORT: '0', METRICS_PORT: '0' }), 'port 0 gives each listener a free port of its own')
})
