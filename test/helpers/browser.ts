import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import type { Test } from 'tap'
import { ensureDebianPackages } from './debian.js'

const DEBIAN_CHROMIUM = '/usr/bin/chromium'
/** Headless, with nothing that reaches out to the network. */
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** Debian's chromium, headless, installed first when it is missing (ensureDebianPackages). */
export async function launchChromium(t: Test): Promise<Browser> {
  await ensureDebianPackages(t, ['chromium'], () => existsSync(DEBIAN_CHROMIUM), 'The browser tests')
  const browser = await chromium.launch({ executablePath: DEBIAN_CHROMIUM, args: ARGS })
  t.teardown(() => browser.close())
  return browser
}
