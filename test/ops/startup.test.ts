import t from 'tap'
import { startServerProcess } from '../helpers/server-process.js'

t.test('a bad setting stops the server before it opens anything: one line naming it, exit 1', async (t) => {
  const server = startServerProcess(t, { PORT: '70000', DATA_DIR: t.testdir() })
  const [code] = await server.exited
  t.equal(code, 1)
  t.match(server.stderr(), /^Invalid configuration: PORT="70000" \([^\n]+\)\n$/)
})
