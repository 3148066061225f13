import { Writable } from 'node:stream'

/** A stream for the logger that keeps each line it is given. */
export function captureLogs() {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter((line) => line !== ''))
      done()
    },
  })
  return { lines, stream }
}
