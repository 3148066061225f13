import { XMLBuilder } from 'fast-xml-parser'

export const RESPONSE_TYPES = ['json', 'xml', 'nvp'] as const
export type ResponseType = (typeof RESPONSE_TYPES)[number]

/** A reply of api.php before it is written in the caller's `responsetype`. */
export type LegacyReply = { result: 'success' | 'error' } & Record<string, unknown>

export const CONTENT_TYPES: Record<ResponseType, string> = {
  json: 'application/json; charset=utf-8',
  xml: 'application/xml; charset=utf-8',
  nvp: 'text/plain; charset=utf-8',
}

/** Element names for the items of the lists api.php returns. */
const XML_ITEM_NAMES: Record<string, string> = { clients: 'client', redirectUri: 'uri' }
const XML_API_VERSION = '8.13.0'

// Not formatted: the builder would put CDATA sections on lines of their own, and those line
// breaks would become part of the value a caller reads.
const xmlBuilder = new XMLBuilder({
  format: false,
  cdataPropName: '#cdata',
  suppressEmptyNode: false,
  ignoreAttributes: false,
  attributeNamePrefix: '@',
})

export function render(reply: LegacyReply, type: ResponseType, action: string): string {
  switch (type) {
    case 'json':
      return JSON.stringify(reply)
    case 'xml':
      return renderXml(reply, action)
    case 'nvp':
      return renderNvp(reply)
  }
}

function renderXml(reply: LegacyReply, action: string): string {
  const body = xmlBuilder.build({
    whmcsapi: { '@version': XML_API_VERSION, action: xmlValue(action.toLowerCase()), ...xmlTree(reply) },
  })
  return `<?xml version="1.0" encoding="utf-8"?>\n${body}`
}

function xmlTree(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      Array.isArray(item) ? { [XML_ITEM_NAMES[key] ?? 'item']: item.map(xmlValue) } : xmlValue(item),
    ]),
  )
}

// Characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF).
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu

function xmlValue(value: unknown): unknown {
  if (value === null || value === undefined) return ''
  if (typeof value === 'object') return xmlTree(value as Record<string, unknown>)
  const text = String(value).replace(NOT_XML, '\uFFFD')
  // Text that would need escaping goes in CDATA, as the original does (the builder splits "]]>").
  return /[<>&'"]/.test(text) ? { '#cdata': text } : text
}

/** `result=success;credentialId=1`; nested values are flattened as `clients[0][name]=...`. */
function renderNvp(reply: LegacyReply): string {
  const pairs: string[] = []
  const walk = (prefix: string, value: unknown) => {
    if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) walk(prefix === '' ? key : `${prefix}[${key}]`, item)
    } else {
      pairs.push(`${prefix}=${nvpValue(value)}`)
    }
  }
  walk('', reply)
  return pairs.join(';')
}

// A ";" or a line break inside a value would end the pair early: those (and "%") are
// percent-encoded. Nothing the original documents contains them.
function nvpValue(value: unknown): string {
  const text = value == null ? '' : String(value)
  return text.replace(/[%;\r\n]/g, (char) => '%' + char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))
}
