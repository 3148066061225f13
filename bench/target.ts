import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import pg from 'pg'

/** Where bench databases are created (BENCH_ADMIN_URL). */
export const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A fresh PostgreSQL database for one run, dropped by `drop`; `admin` stays connected to the server. */
export async function scratchDatabase(prefix: string) {
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  const name = `${prefix}_${process.pid}`
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  await admin.query(`CREATE DATABASE "${name}"`)
  return {
    admin,
    name,
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      await admin.end()
    },
  }
}

/** The service's environment for a bench run: that database, that API credential, limits lifted. */
export function serviceEnv(databaseUrl: string, api: { identifier: string; secret: string }, logLevel: string) {
  return {
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: logLevel,
    API_BOOTSTRAP_IDENTIFIER: api.identifier,
    API_BOOTSTRAP_SECRET: api.secret,
    // The bench measures the service, not its limits.
    RATE_LIMIT_PER_CREDENTIAL: '1000000000',
    RATE_LIMIT_PER_IP: '1000000000',
  }
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A child process (the service or the floor) on a port of its own. */
export class Target {
  private constructor(
    readonly name: string,
    readonly process: ChildProcess,
    readonly base: string,
  ) {}

  static async start(name: string, script: string, env: Record<string, string>, nodeOptions: string[] = []): Promise<Target> {
    const port = await freePort()
    const child = spawn(process.execPath, [...nodeOptions, script], {
      env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    const target = new Target(name, child, `http://127.0.0.1:${port}`)
    for (let attempt = 0; attempt < 150; attempt++) {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`)
      try {
        await fetch(target.base + '/includes/api.php', { method: 'POST' })
        return target
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
    throw new Error(`${name} did not start`)
  }

  async rssMiB(): Promise<number> {
    const status = await readFile(`/proc/${this.process.pid}/status`, 'utf8')
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
  }

  /** User + system CPU seconds the process has used so far. */
  async cpuSeconds(): Promise<number> {
    const fields = (await readFile(`/proc/${this.process.pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? []
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second).
    return (Number(fields[11]) + Number(fields[12])) / 100
  }

  /** SIGKILL: no chance to finish anything. */
  async kill(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return
    const exited = new Promise((resolve) => this.process.once('exit', resolve))
    this.process.kill('SIGKILL')
    await exited
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null) return
    const exited = new Promise((resolve) => this.process.once('exit', resolve))
    this.process.kill('SIGTERM')
    await exited
  }
}

