import { Type } from '@sinclair/typebox'
import { refusals } from '../api-clients/access.js'
import { UNAVAILABLE } from '../http/errors.js'
import { CommonParams, LEGACY_ACTIONS, LegacyErrorSchema } from './actions.js'
import { render, type LegacyReply } from './format.js'

/** Shared by the three body encodings, by reference: the document and SDKs name it once. */
export const LegacyRequest = Type.Union(
  LEGACY_ACTIONS.map((action) => action.request),
  { $id: 'LegacyRequest', description: 'The parameters of each action; `action` selects one.' },
)
const LegacyResponse = Type.Union([...LEGACY_ACTIONS.map((action) => action.response), LegacyErrorSchema])

/** One status of api.php in the three formats it answers in, with an example of each. */
function documented(description: string, schema: typeof LegacyResponse | typeof LegacyErrorSchema, example: LegacyReply) {
  return {
    description,
    content: {
      'application/json': { schema, example },
      'application/xml': {
        schema: Type.String({ description: '`<whmcsapi>` document' }),
        example: render(example, 'xml', 'UpdateOAuthCredential'),
      },
      'text/plain': {
        schema: Type.String({ description: 'NVP: `result=success;credentialId=1`' }),
        example: render(example, 'nvp', 'UpdateOAuthCredential'),
      },
    },
  }
}

const error = (message: string): LegacyReply => ({ result: 'error', message })

/** What the OpenAPI document says of api.php, shared by its POST and GET operations. */
const common = {
  tags: ['legacy'],
  // Callers authenticate with form fields (identifier + secret), which OpenAPI security
  // schemes cannot express; the description and request schema document them.
  security: [],
  summary: 'Legacy action API (api.php)',
  description:
    'The billing system action API. `action` selects ' +
    LEGACY_ACTIONS.map((action) => `\`${action.name}\``).join(', ') +
    '. Answers in `responsetype` (json, xml or nvp; nvp when left out).',
  response: {
    200: documented('Success or action error', LegacyResponse, { result: 'success', credentialId: '1' }),
    400: documented('Empty action request, or unsupported response type', LegacyErrorSchema, error('Empty action request')),
    403: documented('Invalid IP, access key, credentials or permissions', LegacyErrorSchema, error(refusals.failed)),
    503: documented('Database unavailable', LegacyErrorSchema, error(UNAVAILABLE.message)),
  },
}

export const LEGACY_POST_SCHEMA = {
  ...common,
  operationId: 'legacyApiPost',
  body: {
    content: {
      'application/x-www-form-urlencoded': { schema: Type.Ref(LegacyRequest) },
      'multipart/form-data': { schema: Type.Ref(LegacyRequest) },
      'application/json': { schema: Type.Ref(LegacyRequest) },
    },
  },
}

export const LEGACY_GET_SCHEMA = {
  ...common,
  operationId: 'legacyApiGet',
  querystring: Type.Object({ action: Type.String(), ...CommonParams }, { additionalProperties: true }),
}
