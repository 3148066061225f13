import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import tap, { type Test } from 'tap'

const DEBIAN_CHROMIUM = '/usr/bin/chromium'
/** Headless, with nothing that reaches out to the network. */
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync']
/** apt waits this long for another apt (a parallel test file installing the same package). */
const APT_LOCK_WAIT_SECONDS = 600

/**
 * Debian's chromium, headless. A browser test brings its browser: when it is missing and this
 * runs as root (as on these machines and in CI), it is installed with apt-get first; a missing
 * browser is never a reason to fail or to skip.
 */
export async function launchChromium(t: Test): Promise<Browser> {
  if (!existsSync(DEBIAN_CHROMIUM)) await installChromium(t)
  const browser = await chromium.launch({ executablePath: DEBIAN_CHROMIUM, args: ARGS })
  t.teardown(() => browser.close())
  return browser
}

async function installChromium(t: Test): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error(`The browser tests need ${DEBIAN_CHROMIUM}: install Debian's chromium as root (apt-get install chromium), then run them again.`)
  }
  t.comment(`${DEBIAN_CHROMIUM} is missing: installing Debian's chromium with apt-get`)
  // An install takes minutes on a slow mirror: longer than a test file's usual time limit.
  tap.setTimeout((APT_LOCK_WAIT_SECONDS + 600) * 1000)
  const lock = `DPkg::Lock::Timeout=${APT_LOCK_WAIT_SECONDS}`
  await apt(['-o', lock, '-q', 'update'])
  await apt(['-o', lock, '-q', '-y', '--no-install-recommends', 'install', 'chromium'])
}

async function apt(args: string[]): Promise<void> {
  const child = spawn('apt-get', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += String(chunk)))
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`apt-get ${args.at(-1)} failed (exit ${code}): ${stderr.trim().split('\n').at(-1)}`)
}
