import { createServer } from 'node:http'
import type { Test } from 'tap'

/**
 * An OTLP/HTTP receiver (JSON encoding) on a local port, closed when `t` ends: `url` for
 * OTEL_EXPORTER_OTLP_ENDPOINT, and every export it got, in order, with the path it went to.
 * Only node:http is loaded here, so a test can start the SDK before anything it instruments.
 */
export async function startOtlpReceiver(t: Test): Promise<{ url: string; received: { path: string; body: string }[] }> {
  const received: { path: string; body: string }[] = []
  const receiver = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      received.push({ path: request.url ?? '', body })
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => receiver.close(resolve)))
  return { url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}`, received }
}
