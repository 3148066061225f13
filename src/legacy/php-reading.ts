/*
 * How PHP reads a request's `action`, from the raw bytes, for the pass-through's one question:
 * could the original read an action other than the one this service read? PHP parses a form
 * and a multipart body with rules of its own (the name ends at the first `=`, where qs takes
 * `]=`; the multipart boundary is the first text "boundary" in the header, wherever it stands),
 * so the answer cannot come from this service's parsers. A request PHP would read in some other
 * way is answered here (src/legacy/route.ts).
 */

/** A parameter's name as PHP starts reading it: leading spaces dropped. */
const withoutLeadingSpaces = (name: string) => name.replace(/^ +/, '')

/** The variable PHP fills from a parameter's name: leading spaces dropped, cut at a NUL or a `[`. */
export function phpName(name: string): string {
  return withoutLeadingSpaces(name).split(/[\0[]/, 1)[0] as string
}

/** PHP's urldecode on text held one character a byte (latin1): `+` is a space, `%XX` a byte. */
function urlDecoded(bytes: string): string {
  const decoded = bytes.replace(/\+/g, ' ').replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
  return Buffer.from(decoded, 'latin1').toString('utf8')
}

/**
 * The values a form (a query string, or an urlencoded body, as latin1 text) gives PHP's
 * `action`; null when a name reads as `action` with more to it (`action[]`), which PHP makes a
 * list of. PHP splits a form at `arg_separator.input`: `&`, and `;` too where an installation
 * adds it; both readings are given.
 */
export function formActions(form: string): string[] | null {
  const byAmpersand = actionsSplitAt(form, '&')
  const bySemicolonToo = actionsSplitAt(form, /[&;]/)
  return byAmpersand === null || bySemicolonToo === null ? null : [...byAmpersand, ...bySemicolonToo]
}

function actionsSplitAt(form: string, separator: string | RegExp): string[] | null {
  const values: string[] = []
  for (const pair of form.split(separator)) {
    const equals = pair.indexOf('=')
    const name = urlDecoded(equals === -1 ? pair : pair.slice(0, equals))
    if (phpName(name) !== 'action') continue
    if (withoutLeadingSpaces(name) !== 'action') return null
    values.push(equals === -1 ? '' : urlDecoded(pair.slice(equals + 1)))
  }
  return values
}

/**
 * The names PHP may read from a Cookie header: split at `;` (and at `,`), white space around
 * them dropped, each as written and URL-decoded (as PHP before 8.1.11 decoded cookie names).
 */
export function cookieNames(header: string): string[] {
  return header.split(/[;,]/).flatMap((cookie) => {
    const name = (cookie.split('=', 1)[0] as string).trim()
    return [name, urlDecoded(name)]
  })
}

/**
 * The boundary PHP takes from a multipart Content-Type: after the first text "boundary" (in
 * that case, else in any case), the first `=`, then up to a closing quote or to `,` or `;`.
 * Null where PHP finds none and reads no field.
 */
function phpBoundary(contentType: string): string | null {
  let at = contentType.indexOf('boundary')
  if (at === -1) at = contentType.toLowerCase().indexOf('boundary')
  const equals = at === -1 ? -1 : contentType.indexOf('=', at)
  if (equals === -1) return null
  const rest = contentType.slice(equals + 1)
  if (rest.startsWith('"')) {
    const end = rest.indexOf('"', 1)
    return end === -1 ? null : rest.slice(1, end)
  }
  const end = rest.search(/[,;]/)
  return end === -1 ? rest : rest.slice(0, end)
}

/** The `boundary` parameter as a MIME parser reads it: the one parameter of that name, unquoted. */
function boundaryParameter(contentType: string): string | null {
  const found = contentType
    .split(';')
    .slice(1)
    .map((parameter) => /^\s*boundary\s*=\s*(?:"([^"]*)"|([^\s"]*))\s*$/i.exec(parameter))
    .filter((match) => match !== null)
  return found.length === 1 ? (found[0]?.[1] ?? found[0]?.[2] ?? null) : null
}

/**
 * Text in which a name may be `action` for PHP: the word at the start, or after a space, `=`, `;`
 * or a quote, and not going on into a longer name (`action_type`, `actions`, `action-id`).
 */
const MAY_NAME_ACTION = /(?:^|[\s=;"'])action(?![\w.-])/
/** A header line as PHP splits it: a name, then a colon (a line that starts with white space continues the one before). */
const HEADER_LINE = /^([^\s:][^:]*):(.*)$/
/** The one form every client writes for the action's part: PHP and MIME parsers read it alike. */
const NAMES_ACTION = /^[ \t]*form-data;[ \t]*name="action"[ \t]*$/i

/**
 * The values a multipart body gives PHP's `action`, in order; null when PHP might read it
 * otherwise than a MIME parser does. Read as PHP's rfc1867.c reads it: a part's headers follow
 * a line that is `--boundary` (its line break, LF or CRLF, aside) and end at the first empty
 * line; a line without a colon, or starting with white space, continues the header before it.
 * PHP reads a line longer than its buffer (5 KiB) as several, so a long line that ends in
 * `--boundary` may start a part too; every such line is taken as a part's start, even one PHP
 * would pass over (inside a value or a header block): at worst more headers are looked at. A
 * NUL byte anywhere refuses the body: PHP's C strings end there, in lines and header values. A
 * part whose headers may name `action` in any way must name it in the plain
 * `Content-Disposition: form-data; name="action"`
 * (PHP's reading of quotes, escapes and repeated parameters is not this one's to guess); its
 * value runs, as PHP reads it, to the next line break followed by `--boundary`.
 */
export function multipartActions(contentType: string, body: Buffer): string[] | null {
  const boundary = phpBoundary(contentType)
  if (boundary === null || boundary === '' || boundary !== boundaryParameter(contentType)) return null
  const text = body.toString('latin1')
  if (text.includes('\0')) return null
  const delimiter = `--${boundary}`
  const values: string[] = []
  for (let at = 0; at !== -1 && at <= text.length; ) {
    const end = text.indexOf('\n', at)
    const next = end === -1 ? -1 : end + 1
    if (lineAt(text, at, end).endsWith(delimiter)) {
      const value = actionOfPart(text, next === -1 ? text.length : next, delimiter)
      if (value === null) return null
      if (value !== undefined) values.push(value)
    }
    at = next
  }
  return values
}

/** The line that starts at `at` and ends at `end` (a `\n`, or -1 for the end), without its `\r`. */
function lineAt(text: string, at: number, end: number): string {
  const line = text.slice(at, end === -1 ? undefined : end)
  return line.endsWith('\r') ? line.slice(0, -1) : line
}

/**
 * The action a part's headers (starting at `start`) give it: undefined when they cannot name
 * `action`, null when they might in a way other than the plain one, or when its value has no end.
 */
function actionOfPart(text: string, start: number, delimiter: string): string | undefined | null {
  const lines: string[] = []
  let at = start
  let ended = false
  while (!ended && at < text.length) {
    const end = text.indexOf('\n', at)
    const line = lineAt(text, at, end)
    at = end === -1 ? text.length : end + 1
    if (line === '') ended = true
    else lines.push(line)
  }
  // PHP joins a continued header to the one before without a separator: `act` + `ion`.
  if (!lines.some((line) => MAY_NAME_ACTION.test(line)) && !MAY_NAME_ACTION.test(lines.join(''))) return undefined
  if (!ended) return null
  const headers = lines.map((line) => HEADER_LINE.exec(line))
  const dispositions = headers.filter((header) => header?.[1]?.toLowerCase() === 'content-disposition')
  const plain =
    headers.every((header) => header !== null) &&
    dispositions.length === 1 &&
    NAMES_ACTION.test(dispositions[0]?.[2] ?? '') &&
    headers.every((header) => header === dispositions[0] || !MAY_NAME_ACTION.test(header?.[0] ?? ''))
  if (!plain) return null
  const close = text.indexOf(`\n${delimiter}`, at)
  if (close === -1) return null
  const value = text.slice(at, close)
  return Buffer.from(value.endsWith('\r') ? value.slice(0, -1) : value, 'latin1').toString('utf8')
}
