import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import path from 'node:path'
import tap, { type Test } from 'tap'

/** apt waits this long for another apt (a parallel test file installing the same package). */
const APT_LOCK_WAIT_SECONDS = 600

/**
 * A test brings the Debian packages it runs (a browser, PHP): when `present()` says they are
 * missing and this runs as root (as on these machines and in CI), they are installed with
 * apt-get first; as another user the test fails saying what to install. A missing package is
 * never a reason to skip.
 */
export async function ensureDebianPackages(t: Test, packages: string[], present: () => boolean, neededFor: string): Promise<void> {
  if (present()) return
  const install = `apt-get install ${packages.join(' ')}`
  if (process.getuid?.() !== 0) throw new Error(`${neededFor} need Debian's ${packages.join(', ')}: run \`${install}\` as root, then run them again.`)
  t.comment(`${packages.join(', ')} missing: installing with apt-get, for ${neededFor}`)
  // An install takes minutes on a slow mirror: longer than a test file's usual time limit.
  tap.setTimeout((APT_LOCK_WAIT_SECONDS + 600) * 1000)
  // Test files run in parallel and may install at once: apt-get update does not wait for the
  // lock of another one's lists, so the two commands run in turns under a lock of the suite's own.
  const apt = `apt-get -o DPkg::Lock::Timeout=${APT_LOCK_WAIT_SECONDS} -q`
  // Another test file may have installed them while this one waited for its turn.
  await inTurns(`dpkg -s ${packages.join(' ')} >/dev/null 2>&1 || { ${apt} update && ${apt} -y --no-install-recommends install ${packages.join(' ')}; }`)
  if (!present()) throw new Error(`${install} succeeded, but ${neededFor} still cannot find what they need`)
}

/** The lock test files take turns at apt-get under. */
const APT_TURNS = path.join(tmpdir(), 'oauth-credential-service-tests-apt.lock')

/** Runs an apt-get script once no other test file holds the lock. */
async function inTurns(script: string): Promise<void> {
  const child = spawn('flock', ['-w', String(APT_LOCK_WAIT_SECONDS), APT_TURNS, 'sh', '-c', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += String(chunk)))
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`apt-get failed (exit ${code}): ${stderr.trim().split('\n').at(-1)}`)
}
