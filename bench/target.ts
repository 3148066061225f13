import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'

async function freePort(): Promise<number> {
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

  static async start(name: string, script: string, env: Record<string, string>): Promise<Target> {
    const port = await freePort()
    const child = spawn(process.execPath, [script], {
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

