import { runFolderOf } from './helpers/folder.js'

await runFolderOf(import.meta.url)
