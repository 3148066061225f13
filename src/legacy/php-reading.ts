/*
 * How PHP reads a request's `action`, from the raw bytes, for the pass-through's one question:
 * could the original read an action other than the one this service read? PHP parses a form
 * and a multipart body with rules of its own (the name ends at the first `=`, where qs takes
 * `]=`; the multipart boundary is the first text "boundary" in the header, wherever it stands),
 * so the answer cannot come from this service's parsers. A request PHP would read in some other
 * way is answered here (src/legacy/route.ts).
 */

/** The variable PHP fills from a parameter's name: leading spaces dropped, cut at a NUL or a `[`. */
export function phpName(name: string): string {
  return name.replace(/^ +/, '').split(/[\0[]/, 1)[0] as string
}

/** PHP's urldecode on text held one character a byte (latin1): `+` is a space, `%XX` a byte. */
function urlDecoded(bytes: string): string {
  const decoded = bytes.replace(/\+/g, ' ').replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
  return Buffer.from(decoded, 'latin1').toString('utf8')
}

/**
 * The values a form (a query string, or an urlencoded body, as latin1 text) gives PHP's
 * `action`, in order; null when a name reads as `action` with more to it (`action[]`), which
 * PHP makes a list of.
 */
export function formActions(form: string): string[] | null {
  const values: string[] = []
  for (const pair of form.split('&')) {
    const equals = pair.indexOf('=')
    const name = urlDecoded(equals === -1 ? pair : pair.slice(0, equals))
    if (phpName(name) !== 'action') continue
    if (name.replace(/^ +/, '') !== 'action') return null
    values.push(equals === -1 ? '' : urlDecoded(pair.slice(equals + 1)))
  }
  return values
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

/** A part's Content-Disposition that may name `action` for PHP: the word at the start of a name. */
const MAY_NAME_ACTION = /(?:^|[\s=;"'])action/
/** The one form every client writes: PHP and MIME parsers read it alike. */
const NAMES_ACTION = /^\s*form-data\s*;\s*name="action"\s*$/i

/**
 * The values a multipart body gives PHP's `action`, in order; null when PHP might read the body
 * otherwise than a MIME parser does: another boundary, or a part that may name `action` in any
 * but the plain `form-data; name="action"` (PHP's own reading of quotes, escapes and repeated
 * parameters is not this one's to guess). Split at every delimiter, not only at line starts, and
 * past the closing one: that finds every part PHP finds, and at worst some that it does not.
 */
export function multipartActions(contentType: string, body: Buffer): string[] | null {
  const boundary = phpBoundary(contentType)
  if (boundary === null || boundary === '' || boundary !== boundaryParameter(contentType)) return null
  const values: string[] = []
  for (const part of body.toString('latin1').split(`--${boundary}`).slice(1)) {
    const [headers = '', ...value] = part.split(/\r?\n\r?\n/)
    const dispositions = headers
      .split(/\r?\n/)
      .map((line) => /^content-disposition\s*:(.*)$/i.exec(line)?.[1])
      .filter((disposition) => disposition !== undefined)
    if (!dispositions.some((disposition) => MAY_NAME_ACTION.test(disposition))) continue
    if (dispositions.length !== 1 || !NAMES_ACTION.test(dispositions[0] as string)) return null
    values.push(Buffer.from(value.join('\r\n\r\n').replace(/\r?\n$/, ''), 'latin1').toString('utf8'))
  }
  return values
}
