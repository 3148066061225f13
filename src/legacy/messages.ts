/**
 * What only api.php says, about how its parameters were sent. The messages the credential
 * service gives too (on every edge) are in credentials/errors.ts.
 */
export const legacyMessages = {
  singleValue: (name: string) => `The ${name} parameter must be a single value.`,
  listOfStrings: (name: string) => `The ${name} parameter must be a list of strings.`,
  flagInvalid: (name: string, value: string) => `The ${name} value "${value}" is invalid: use 1 or 0.`,
  sortFieldInvalid: (value: string) => `The requested sort field "${value}" is invalid.`,
  sortOrderInvalid: (value: string) => `The requested sort order "${value}" is invalid.`,
  upstreamUnreachable: 'The upstream api.php could not be reached.',
  upstreamTimeout: (ms: number) => `The upstream api.php did not answer within ${ms} ms.`,
  bodyTooLarge: 'Request body is too large',
  tooManyParameters: (limit: number) => `The request has more than ${limit} parameters.`,
} as const
