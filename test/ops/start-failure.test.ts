import t from 'tap'
import { describeStartFailure } from '../../src/start-failure.js'

t.test('a DATABASE_URL the URL parser refuses or misreads is still described in one line, without its password', async (t) => {
  const errno = (code: string) => Object.assign(new Error('database error'), { code })
  const cases: [string, string, string][] = [
    ['postgres://oauth:ab/cd@127.0.0.1:5432/x', '127.0.0.1:5432', 'x'],
    ['postgres://oauth:ab#cd@db.internal/x', 'db.internal:5432', 'x'],
    ['postgres://oauth:12/cd@[::1]:6432/x?sslmode=require', '[::1]:6432', 'x'],
    ['postgres://oauth:ab@cd@db.internal:6432', 'db.internal:6432', 'oauth'],
    ['postgres://oauth:abcd@db.internal/%zz', 'db.internal:5432', '%zz'],
  ]
  for (const [url, host, database] of cases) {
    const config = { PORT: 3000, HOST: '127.0.0.1', DATABASE_URL: url }
    t.equal(
      describeStartFailure(errno('28P01'), config),
      `PostgreSQL on ${host} refused the login of DATABASE_URL (28P01): fix its user or password.`,
      url,
    )
    t.equal(
      describeStartFailure(errno('3D000'), config),
      `The database "${database}" does not exist on ${host}: create it (createdb ${database}), or fix DATABASE_URL.`,
      url,
    )
  }
})
