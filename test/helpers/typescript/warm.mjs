// Run by `npm test` before tap: compiles every .ts file the tests load (src/, test/, bench/,
// sdk/) into the cache that hooks.mjs reads, in this one process. On a cold cache (after
// `npm ci`, or a change) the test processes that tap starts side by side each loaded
// TypeScript and compiled the same modules again. Here TypeScript loads once, and only when a
// file is missing from the cache; a warm cache costs this step about 0.1 s.
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { compiled, root } from './hooks.mjs'

for (const folder of ['src', 'test', 'bench', 'sdk']) {
  for (const entry of readdirSync(path.join(root, folder), { recursive: true })) {
    if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) await compiled(path.join(root, folder, entry))
  }
}
