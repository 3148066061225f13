import fc from 'fast-check'

/**
 * Malformed requests for any endpoint: the generator knows nothing of api.php or REST. An
 * endpoint is described by a well-formed request (its fields, headers, method and URL); the
 * generator breaks its values, adds hostile keys, and sends the result in a right or wrong
 * encoding.
 */
export interface FuzzEndpoint {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
  url: string
  /** A well-formed request's fields, which the generator corrupts. */
  fields: Record<string, string>
  /** Headers every request carries (e.g. HTTP Basic authentication). */
  headers?: Record<string, string>
}

export interface FuzzRequest {
  method: FuzzEndpoint['method']
  url: string
  headers: Record<string, string>
  payload?: string | Buffer
  /** What was generated, for the failure message. */
  describe: string
}

/** A value that is not what the field wants. */
const badValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '0', '-1', '1e309', 'NaN', 'null', 'true', '[]', '{}', '%00', '\u0000', '\uFFFF', '\uD800'),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 30 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 5 }),
  // huge: up to past the 64 KiB body limit
  fc.tuple(fc.constantFrom('a', 'é', '\u{1F600}', '%', '[', '&'), fc.integer({ min: 256, max: 70_000 })).map(([unit, n]) =>
    unit.repeat(n),
  ),
  // deeply nested
  fc.integer({ min: 2, max: 3_000 }).map((depth) => {
    let value: unknown = 'deep'
    for (let level = 0; level < depth; level++) value = level % 2 ? [value] : { a: value }
    return value
  }),
)

/** Keys that no endpoint expects and that have hurt parsers before. */
const hostileKey = fc.oneof(
  fc.constantFrom(
    '__proto__',
    '__proto__[polluted]',
    'constructor',
    'constructor[prototype]',
    'constructor[prototype][polluted]',
    'prototype',
    'toString',
    'hasOwnProperty',
    '',
    '[]',
    '[',
    'a]]][[[b',
    'x[0][1][2][3][4][5]',
    'x[99999999]',
  ),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: 100, max: 5_000 }).map((n) => 'k'.repeat(n)),
)

/** A field name as legacy parsers also read it: plain, with brackets, indexed. */
const keyForm = (name: string) => fc.constantFrom(name, `${name}[]`, `${name}[0]`, `${name}[a][b]`, `${name}[][]`)

type Entry = [string, unknown]

const entries = (endpoint: FuzzEndpoint): fc.Arbitrary<Entry[]> =>
  fc
    .tuple(
      fc.subarray(Object.keys(endpoint.fields), { minLength: 1 }),
      fc.array(fc.tuple(hostileKey, badValue), { maxLength: 3 }),
      fc.boolean(),
    )
    .chain(([broken, extra, duplicate]) =>
      fc
        .tuple(...broken.map((name) => fc.tuple(keyForm(name), badValue)))
        .map((replaced) => {
          const kept: Entry[] = Object.entries(endpoint.fields).filter(([name]) => !broken.includes(name))
          const all: Entry[] = [...kept, ...(replaced as Entry[]), ...(extra as Entry[])]
          // the same key twice: which one wins?
          return duplicate && replaced[0] ? [...all, [replaced[0][0], endpoint.fields[broken[0] as string]]] : all
        }),
    )

function flat(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? 'undefined'
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Percent-encoding that writes a lone surrogate as the bytes of one: invalid UTF-8 on purpose. */
function encode(text: string): string {
  return text.split(LONE_SURROGATE).map(encodeURIComponent).join('%ED%A0%80')
}

function formBody(list: Entry[]): string {
  return list
    .flatMap(([key, value]) =>
      Array.isArray(value)
        ? value.map((item) => `${encode(key)}[]=${encode(flat(item))}`)
        : [`${encode(key)}=${encode(flat(value))}`],
    )
    .join('&')
}

/** JSON written by hand so that duplicate keys and `__proto__` survive into the text. */
function jsonBody(list: Entry[]): string {
  return `{${list.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'}`).join(',')}}`
}

function multipartBody(list: Entry[], boundary: string): string {
  return (
    list
      .map(([key, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${key}"\r\n\r\n${flat(value)}\r\n`)
      .join('') + `--${boundary}--\r\n`
  )
}

const CONTENT_TYPES = [
  'application/x-www-form-urlencoded',
  'application/json',
  'multipart/form-data; boundary=fuzz',
  'text/plain',
  'application/xml',
  'application/octet-stream',
  'application/json; charset=latin1',
  'application/x-www-form-urlencoded; charset=utf-16',
  'multipart/form-data',
  'x/y;;;=',
  '',
]

export function malformedRequest(endpoint: FuzzEndpoint): fc.Arbitrary<FuzzRequest> {
  const base = { method: endpoint.method, url: endpoint.url }
  const withType = (type: string) => ({ ...endpoint.headers, ...(type === '' ? {} : { 'content-type': type }) })
  const encoded = fc.tuple(entries(endpoint), fc.constantFrom(...CONTENT_TYPES)).map(([list, type]): FuzzRequest => {
    const payload = type.startsWith('application/json')
      ? jsonBody(list)
      : type.startsWith('multipart/')
        ? multipartBody(list, 'fuzz')
        : formBody(list)
    return { ...base, headers: withType(type), payload, describe: `${type || 'no content type'}: ${payload.slice(0, 300)}` }
  })
  // Bytes that are not UTF-8 (or not text at all) in a form or JSON body.
  const invalidUtf8 = fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.constantFrom(...CONTENT_TYPES))
    .map(([bytes, type]): FuzzRequest => {
      const payload = Buffer.concat([Buffer.from(formBody(Object.entries(endpoint.fields)) + '&name='), Buffer.from(bytes)])
      return { ...base, headers: withType(type), payload, describe: `${type}: bytes ${Buffer.from(bytes).toString('hex')}` }
    })
  // The fields in the query string instead (and a body that is not there).
  const inQuery = entries(endpoint).map((list): FuzzRequest => {
    const query = formBody(list).slice(0, 8_000)
    return { ...base, url: `${endpoint.url}?${query}`, headers: { ...endpoint.headers }, describe: `query: ${query.slice(0, 300)}` }
  })
  return fc.oneof({ arbitrary: encoded, weight: 6 }, { arbitrary: invalidUtf8, weight: 2 }, { arbitrary: inQuery, weight: 2 })
}
