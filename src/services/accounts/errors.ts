// The one error type of the accounts services; each HTTP layer maps `kind` to its own protocol.
export type AccountErrorKind =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'throttled'
  | 'disabled'
  | 'unavailable';

export class AccountError extends Error {
  constructor(
    readonly kind: AccountErrorKind,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export const invalid = (m: string) => new AccountError('invalid', m);
export const notFound = (m: string) => new AccountError('not_found', m);
export const conflict = (m: string) => new AccountError('conflict', m);
export const forbidden = (m: string) => new AccountError('forbidden', m);
/** An identity provider (the directory, the OpenID provider) cannot be reached or answers wrongly. */
export const unavailable = (m: string) => new AccountError('unavailable', m);
