import { readFileSync } from 'node:fs'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'

interface MediaType {
  schema?: object
}
interface ResponseObject {
  content?: Record<string, MediaType>
  headers?: Record<string, { required?: boolean }>
}
interface OpenApiDocument {
  components: { schemas: Record<string, object> }
  paths: Record<string, Record<string, { responses: Record<string, ResponseObject> }>>
}

/** The committed contract: what the tests hold every response to. */
export const openApiDocument = JSON.parse(
  readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'),
) as OpenApiDocument

const ajv = new Ajv2020({ allErrors: true, strict: false })
addFormats.default(ajv)
const validators = new Map<object, ValidateFunction>()

const templates = Object.keys(openApiDocument.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
}))

/**
 * Throws unless the document describes this response: the path and method, the status, the
 * content type, and a body matching that content type's schema (no body where none is documented);
 * with `header` (the response's header by name), every header the document requires too.
 */
export function assertMatchesContract(
  method: string,
  url: string,
  status: number,
  contentType: string | undefined,
  body: string,
  header?: (name: string) => string | undefined,
): void {
  const path = new URL(url, 'http://localhost').pathname
  const where = `${method.toUpperCase()} ${path} → ${status}`
  const template = templates.find((candidate) => candidate.pattern.test(path))?.template
  const operation = template && openApiDocument.paths[template]?.[method.toLowerCase()]
  if (!operation) throw new Error(`${where}: the operation is not in openapi.json`)
  const response = operation.responses[String(status)]
  if (!response) throw new Error(`${where}: status not documented (documented: ${Object.keys(operation.responses).join(', ')})`)
  const missing = Object.entries(response.headers ?? {}).find(([name, documented]) => documented.required && header && !header(name))
  if (missing) throw new Error(`${where}: no ${missing[0]} header, which the document says it always has`)
  if (!response.content) {
    if (body !== '') throw new Error(`${where}: a body where none is documented`)
    return
  }
  const mediaType = (contentType ?? '').split(';')[0]?.trim() ?? ''
  const schema = response.content[mediaType]?.schema
  if (!schema) throw new Error(`${where}: content type "${mediaType}" not documented`)
  const mismatch = schemaMismatch(schema, JSON.parse(body))
  if (mismatch) throw new Error(`${where}: body does not match the documented schema: ${mismatch}\n${body}`)
}

/** Why `value` does not match a schema of the document, or null when it does. */
export function schemaMismatch(schema: object, value: unknown): string | null {
  let validate = validators.get(schema)
  if (!validate) {
    // `#/components/schemas/X` references resolve within the schema's root: give it the components.
    validate = ajv.compile({ ...schema, components: openApiDocument.components })
    validators.set(schema, validate)
  }
  return validate(value) ? null : ajv.errorsText(validate.errors)
}
