// Module hooks that run this project's .ts files: TypeScript's transpileModule (what ts-node
// did under tap in transpile-only mode, with the same inline source map, so coverage maps back
// to the .ts lines), with each output kept on disk, keyed by the file's path and content, so a
// module is compiled once for the whole suite and not once per test process. TypeScript itself
// is loaded only on a miss.
import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The project folder (warm.mjs walks it too). */
export const root = fileURLToPath(new URL('../../../', import.meta.url))
const cacheDir = path.join(root, 'node_modules/.cache/test-typescript')
// A change to the compiler, its options or this file makes new outputs.
const salt = createHash('sha256')
  .update(readFileSync(path.join(root, 'node_modules/typescript/package.json')))
  .update(readFileSync(path.join(root, 'tsconfig.json')))
  .update(readFileSync(fileURLToPath(import.meta.url)))
  .digest()

/** Imports are written as NodeNext wants them, `./x.js` for `./x.ts`: find the .ts file. */
export async function resolve(specifier, context, nextResolve) {
  if (specifier.endsWith('.js') && (specifier.startsWith('.') || specifier.startsWith('/')) && context.parentURL?.startsWith('file:')) {
    const url = new URL(specifier, context.parentURL)
    if (!existsSync(url)) {
      const ts = new URL(url.href.slice(0, -3) + '.ts')
      if (existsSync(ts)) return { url: ts.href, format: 'module', shortCircuit: true }
    }
  }
  return nextResolve(specifier, context)
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts') || url.includes('/node_modules/')) return nextLoad(url, context)
  return { format: 'module', source: await compiled(fileURLToPath(url)), shortCircuit: true }
}

/** The file's JavaScript: from the cache, or compiled and kept there (warm.mjs fills it ahead). */
export async function compiled(file) {
  const source = readFileSync(file, 'utf8')
  const key = createHash('sha256').update(salt).update(file).update('\0').update(source).digest('hex')
  const cached = path.join(cacheDir, `${key}.js`)
  let output
  try {
    output = readFileSync(cached, 'utf8')
  } catch {
    output = await transpile(file, source)
    mkdirSync(cacheDir, { recursive: true })
    // Written aside, then renamed: test processes running side by side never read half a file.
    const partial = `${cached}.${process.pid}`
    writeFileSync(partial, output)
    renameSync(partial, cached)
  }
  return output
}

let compilerOptions
async function transpile(file, source) {
  const { default: ts } = await import('typescript')
  compilerOptions ??= (() => {
    const tsconfig = path.join(root, 'tsconfig.json')
    const { config } = ts.readConfigFile(tsconfig, ts.sys.readFile)
    const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, tsconfig)
    // Every .ts file here is an ES module ("type": "module"); the map is inlined below.
    return { ...options, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, sourceMap: true, inlineSourceMap: false, inlineSources: true, declaration: false, noEmit: false }
  })()
  const { outputText, sourceMapText } = ts.transpileModule(source, { fileName: file, compilerOptions })
  const map = JSON.parse(sourceMapText)
  map.file = file
  map.sources = [file]
  delete map.sourceRoot
  const code = outputText.replace(/\/\/# sourceMappingURL=\S+\s*$/, '')
  return `${code}\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`
}
