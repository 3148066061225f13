import t from 'tap'
import { ConfigError, loadConfig, trustProxySetting } from '../src/config.js'

t.test('defaults: a laptop start needs no configuration', async (t) => {
  t.same(loadConfig({}), {
    PORT: 3000,
    HOST: '127.0.0.1',
    DATABASE_TIMEOUT_MS: 5_000,
    DATA_DIR: './.data',
    CLIENT_IDENTIFIER_PREFIX: 'OAUTH',
    LOG_LEVEL: 'info',
    RATE_LIMIT_WINDOW_SECONDS: 60,
    RATE_LIMIT_PER_CREDENTIAL: 30_000,
    RATE_LIMIT_PER_IP: 60_000,
    RATE_LIMIT_FAILED_AUTH_PER_IP: 30,
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
    [{ PORT: '70000' }, /^Invalid configuration: PORT="70000"/],
    [{ PORT: '1.5' }, /^Invalid configuration: PORT="1.5" \(a whole number\)$/],
    [{ RATE_LIMIT_WINDOW_SECONDS: '60s' }, /^Invalid configuration: RATE_LIMIT_WINDOW_SECONDS="60s" \(1 to 86400\)$/],
    [{ DATABASE_TIMEOUT_MS: '0' }, /^Invalid configuration: DATABASE_TIMEOUT_MS="0" \(milliseconds a request waits for the database, 100 to 600000\)$/],
    [{ DATABASE_URL: 'mysql://x' }, /^Invalid configuration: DATABASE_URL="mysql:\/\/x" \(a postgres:\/\/ or postgresql:\/\/ URL\)$/],
    [{ CLIENT_IDENTIFIER_PREFIX: 'lower' }, /^Invalid configuration: CLIENT_IDENTIFIER_PREFIX="lower" \(upper case/],
    [{ CLIENT_IDENTIFIER_PREFIX: 'A'.repeat(17) }, /^Invalid configuration: CLIENT_IDENTIFIER_PREFIX=/],
    [{ LOG_LEVEL: 'loud' }, /^Invalid configuration: LOG_LEVEL="loud"/],
    [{ API_BOOTSTRAP_IDENTIFIER: 'ops', API_BOOTSTRAP_SECRET: 'short' }, /^Invalid configuration: API_BOOTSTRAP_SECRET="short" \(at least 32 characters\)$/],
    [{ API_BOOTSTRAP_IDENTIFIER: 'ops' }, /^Invalid configuration: API_BOOTSTRAP_IDENTIFIER and API_BOOTSTRAP_SECRET must be set together$/],
    [{ API_ACCESS_KEY: 'short' }, /^Invalid configuration: API_ACCESS_KEY="short"/],
    [{ TRUST_PROXY: 'everyone' }, /^Invalid configuration: TRUST_PROXY="everyone"/],
  ]
  for (const [env, message] of cases) {
    const error = t.throws(() => loadConfig(env)) as Error
    t.type(error, ConfigError)
    t.match(error.message, message, JSON.stringify(env))
    t.notMatch(error.message, /\n/, 'one line')
  }
})

t.test('TRUST_PROXY becomes Fastify trustProxy', async (t) => {
  t.equal(trustProxySetting(undefined), false)
  t.equal(trustProxySetting('false'), false)
  t.equal(trustProxySetting('true'), true)
  t.equal(trustProxySetting('10.0.0.0/8,127.0.0.1'), '10.0.0.0/8,127.0.0.1')
})
