// How `npm test` runs TypeScript: package.json's test script puts this file in NODE_OPTIONS,
// so it runs first in every test process (and in every server or CLI process a test spawns).
// It registers hooks.mjs, which compiles each .ts file once for the whole suite (an on-disk
// cache) where tap's own TypeScript plugin (ts-node) loaded TypeScript twice in every process
// and compiled every module again in each. See docs/development.md.
import { register } from 'node:module'

// tap's plugin (@tapjs/typescript) stays installed and is what runs when tap is started
// without this file (e.g. `npx tap test/x.test.ts`). Here it steps aside: with this variable
// set, its --import registers nothing (its mode for Node's own type stripping, Node >= 22).
process.env.TAP_TYPE_STRIP_ONLY = '1'
register('./hooks.mjs', import.meta.url)
