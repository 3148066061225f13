import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { PROJECT_ROOT } from '../../src/paths.js'

const TEST_ROOT = new URL('../', import.meta.url)

/**
 * Runs the test files of one folder in this process, one after another: `test/rest.test.ts`
 * runs every `test/rest/*.test.ts`. tap gives each file it runs a process of its own, and a
 * process costs 3–4 s of CPU before its first test (Node, tap, loading the app's modules,
 * PGlite's first database), so a folder's files share one; tap's `exclude` keeps it from
 * running them again on their own. One file can still be run alone: `npm test -- test/rest/list.test.ts`.
 */
export async function runFolderOf(runner: string): Promise<void> {
  refuseFoldersWithoutRunner()
  const folder = new URL(runner.replace(/\.test\.ts$/, '/'))
  const files = readdirSync(folder).filter((name) => name.endsWith('.test.ts')).sort()
  if (files.length === 0) throw new Error(`no test files in ${fileURLToPath(folder)}`)
  // Each file is loaded in a subtest of its own name, and its tests are queued behind it: tap
  // ends the process's tests once they are idle, and would end them while the next file loads.
  // So the next file's loading is also where the previous file's own teardowns run.
  for (const [index, name] of files.entries()) {
    const file = new URL(name, folder)
    await t.test(path.relative(PROJECT_ROOT, fileURLToPath(file)), async () => {
      await endOfFile()
      // The last file's go to the process's end, as a file's do when it runs alone.
      fileTeardowns = index < files.length - 1 ? [] : undefined
      await import(file.href)
    })
  }
}

/** What the file a folder is running registered with `teardownWithFile` on tap's root; undefined outside a folder run. */
let fileTeardowns: (() => unknown)[] | undefined

/**
 * `t.teardown`, except that what a test file registers on tap's root at its top level (an app
 * its tests share) ends with that file's tests, not with the folder's process: the next file
 * can then take its database (test/helpers/app.ts lends them).
 */
export function teardownWithFile(test: Test, teardown: () => unknown): void {
  if (fileTeardowns && test === t) fileTeardowns.push(teardown)
  else test.teardown(teardown)
}

/** Runs the teardowns of the file whose tests just ended, last registered first, as tap does. */
async function endOfFile(): Promise<void> {
  for (let teardown; (teardown = fileTeardowns?.pop()); ) await teardown()
}

/** A folder of test files with no runner beside it would never run: tap excludes every folder. */
function refuseFoldersWithoutRunner(): void {
  for (const entry of readdirSync(TEST_ROOT, { withFileTypes: true })) {
    if (!entry.isDirectory() || existsSync(new URL(`${entry.name}.test.ts`, TEST_ROOT))) continue
    if (readdirSync(new URL(`${entry.name}/`, TEST_ROOT)).some((name) => name.endsWith('.test.ts'))) {
      throw new Error(`test/${entry.name}/ holds test files but no test/${entry.name}.test.ts runs them`)
    }
  }
}
