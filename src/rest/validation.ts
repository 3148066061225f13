import { Ajv, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'
import { NAMED_SCHEMAS } from './schemas.js'

function ajv(options: Options) {
  // verbose: problem.ts quotes a refused value in the credential service's words.
  const instance = new Ajv({ removeAdditional: false, useDefaults: true, allErrors: true, strict: false, verbose: true, ...options })
  addFormats.default(instance)
  // Routes refer to the named schemas by `$id`.
  for (const schema of NAMED_SCHEMAS) instance.addSchema(schema)
  return instance
}

// JSON bodies are taken as sent: `"7"` is not a number and a string is not an array. Query,
// path and header values are always text, so those are converted to the schema's types.
const bodies = ajv({ coerceTypes: false })
const parameters = ajv({ coerceTypes: 'array' })

/** The REST scope's validator compiler: strict for bodies, converting for parameters. */
export const restValidatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodies : parameters).compile(schema)
