/**
 * Why a credential operation was refused. `message` is the exact text the legacy api.php gives
 * (SPEC §3); `kind` lets the REST layer choose a status; `field` names the input at fault.
 */
export type CredentialErrorKind = 'invalid' | 'not_found' | 'precondition_failed' | 'conflict'

export class CredentialError extends Error {
  constructor(
    readonly kind: CredentialErrorKind,
    message: string,
    readonly field?: string,
    /** For a conflict that may resolve itself: when to try again. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message)
    this.name = 'CredentialError'
  }
}

export const messages = {
  referenceRequired: 'A Credential ID or Client Identifier is required.',
  credentialIdInvalid: 'Invalid Credential ID provided.',
  clientIdentifierInvalid: 'Invalid Client Identifier provided.',
  grantTypeRequired: 'A valid grant type is required.',
  grantTypeInvalid: (value: string) => `The requested grant type "${value}" is invalid.`,
  nameRequired: 'A name for the Client Credential is required.',
  serviceIdRequired: 'A service ID is required for the single sign-on grant type.',
  scopeInvalid: (value: string) => `The requested scope "${value}" is invalid.`,
  scopeRequired: 'At least one valid scope is required.',
  redirectUriInvalid: (value: string) => `The requested redirect URI "${value}" is invalid.`,
  // Not in the original API: our own wording, in the same style.
  logoUriInvalid: (value: string) => `The requested logo URI "${value}" is invalid.`,
  tooLong: (field: string, max: number) => `The ${field} must be at most ${max} characters.`,
  controlCharacters: (field: string) => `The ${field} must be a single line without control characters.`,
  serviceIdInvalid: (value: string) => `The requested service ID "${value}" is invalid.`,
  graceSecondsInvalid: (max: number) => `The grace period must be a whole number of seconds from 0 to ${max}.`,
  versionMismatch: 'The credential has changed since it was read.',
  tooManyConcurrentChanges: 'The credential is being changed by too many requests at once; try again.',
  rotationInProgress: (until: string) =>
    `The previous secret is still valid until ${until}; rotate with a grace period of 0 to revoke both older secrets.`,
} as const

/** No credential has this id (or it is not an id at all). */
export function credentialNotFound(): CredentialError {
  return new CredentialError('not_found', messages.credentialIdInvalid, 'credentialId')
}
