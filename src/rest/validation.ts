import { Ajv, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

function ajv(options: Options) {
  const instance = new Ajv({ removeAdditional: false, useDefaults: true, allErrors: true, strict: false, ...options })
  addFormats.default(instance)
  return instance
}

// JSON bodies are taken as sent: `"7"` is not a number and a string is not an array. Query,
// path and header values are always text, so those are converted to the schema's types.
const bodies = ajv({ coerceTypes: false })
const parameters = ajv({ coerceTypes: 'array' })

/** The REST scope's validator compiler: strict for bodies, converting for parameters. */
export const restValidatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodies : parameters).compile(schema)
