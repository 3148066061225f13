import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'

/**
 * Reads what a database was really sent, from PostgreSQL's own log: the bench turns on
 * `log_statement = 'all'` for its database only, then reads the lines appended since a mark.
 * BENCH_PG_LOG names the log file; by default the newest file in /var/log/postgresql.
 */
export class StatementLog {
  private constructor(private readonly file: string) {}

  static async open(file = process.env.BENCH_PG_LOG): Promise<StatementLog> {
    if (file) return new StatementLog(file)
    const folder = '/var/log/postgresql'
    const names = (await readdir(folder)).filter((name) => name.endsWith('.log'))
    const dated = await Promise.all(names.map(async (name) => ({ name, at: (await stat(path.join(folder, name))).mtimeMs })))
    const newest = dated.sort((a, b) => b.at - a.at)[0]
    if (!newest) throw new Error(`no PostgreSQL log in ${folder}: set BENCH_PG_LOG`)
    return new StatementLog(path.join(folder, newest.name))
  }

  async mark(): Promise<number> {
    return (await stat(this.file)).size
  }

  /** The statements logged for `database` since `mark`, in order, one per round trip. */
  async since(mark: number, database: string): Promise<string[]> {
    const text = (await readFile(this.file)).subarray(mark).toString('utf8')
    const statements: string[] = []
    let current: string[] | null = null
    for (const line of text.split('\n')) {
      if (/^\d{4}-\d\d-\d\d /.test(line)) {
        if (current) statements.push(current.join(' ').replace(/\s+/g, ' ').trim())
        current = null
        const entry = /@(\S+) LOG: {2}(?:statement|execute [^:]+): (.*)$/.exec(line)
        if (entry && entry[1] === database) current = [entry[2] ?? '']
      } else if (current && /^\s/.test(line)) {
        current.push(line)
      }
    }
    if (current) statements.push(current.join(' ').replace(/\s+/g, ' ').trim())
    return statements
  }
}

/**
 * A statement's shape for comparing two streams of SQL: its verb, the table it works on
 * (for a SELECT the last FROM, after any subqueries of its select list) and its lock.
 */
export function shape(statement: string): string {
  const sql = statement.replace(/"public"\./g, '').replace(/"/g, '')
  const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '?'
  const tables = [...sql.replace(/FOR UPDATE( OF \w+)?/gi, '').matchAll(/\b(?:FROM|INTO|UPDATE)\s+([a-z_]+)/gi)].map(
    (match) => match[1],
  )
  const table = verb === 'SELECT' ? tables.at(-1) : tables[0]
  const lock = /FOR UPDATE/i.test(sql) ? ' FOR UPDATE' : ''
  return `${verb}${table ? ' ' + table : ''}${lock}`
}
