/**
 * The error-code registry: every error livecart reports, on every transport.
 *
 * One entry per code. A code is never reused for another meaning; retired codes stay listed with
 * `retired: true`. `http` is the status a REST call answers with, `retryable` tells a client whether
 * sending the same thing again later can succeed (Redis outage, rate limit) or not (bad input).
 * `test/errors-registry.test.ts` checks that protocol/SPEC.md lists exactly these codes.
 */
export const ERRORS = {
  E_AUTH_MISSING: { http: 401, retryable: false, message: 'No token was given.' },
  E_AUTH_INVALID: { http: 401, retryable: false, message: 'The token is malformed or its signature is wrong.' },
  E_AUTH_EXPIRED: { http: 401, retryable: false, message: 'The token has expired.' },
  E_AUTH_FORBIDDEN: { http: 403, retryable: false, message: 'The token does not grant this cart or this action.' },
  E_AUTH_REVOKED: { http: 403, retryable: false, message: 'The token was revoked (its subject signed out everywhere, or its grant was withdrawn).' },
  E_CART_NOT_FOUND: { http: 404, retryable: false, message: 'No such cart.' },
  E_CART_ID_INVALID: { http: 400, retryable: false, message: 'The cart id is not a valid cart id.' },
  E_CART_NOT_JOINED: { http: 409, retryable: false, message: 'Join the cart before sending it updates.' },
  E_CART_CLOSED: { http: 409, retryable: false, message: 'The cart is no longer open for changes.' },
  E_CART_MERGING: { http: 409, retryable: true, message: 'The cart is being merged into another one at a sign-in; retry in a moment.' },
  E_LINE_NOT_FOUND: { http: 404, retryable: false, message: 'No such line in this cart.' },
  E_UPDATE_MALFORMED: { http: 400, retryable: false, message: 'The update bytes could not be decoded.' },
  E_UPDATE_TOO_LARGE: { http: 413, retryable: false, message: 'The update is larger than the limit.' },
  E_UPDATE_FORBIDDEN_FIELD: { http: 422, retryable: false, message: 'The update writes a field clients may not write.' },
  E_UPDATE_INVALID_VALUE: { http: 422, retryable: false, message: 'The update carries a value outside its allowed range or shape.' },
  E_UPDATE_TOO_MANY_LINES: { http: 422, retryable: false, message: 'The cart would hold more lines than the limit.' },
  E_UPDATE_MISSING_DEPENDENCY: { http: 409, retryable: false, message: 'The update builds on changes the server does not have; resync.' },
  E_MESSAGE_MALFORMED: { http: 400, retryable: false, message: 'The message is not of the expected shape.' },
  E_MESSAGE_UNKNOWN: { http: 400, retryable: false, message: 'Unknown message kind.' },
  E_AWARENESS_INVALID: { http: 400, retryable: false, message: 'The presence update is malformed or too large.' },
  E_RATE_LIMITED: { http: 429, retryable: true, message: 'Too many messages; slow down.' },
  E_TOO_MANY_CARTS: { http: 429, retryable: false, message: 'This connection has joined too many carts.' },
  E_VALIDATION: { http: 400, retryable: false, message: 'The request body is invalid.' },
  E_BODY_MALFORMED: { http: 400, retryable: false, message: 'The request body is not valid JSON.' },
  E_BODY_TOO_LARGE: { http: 413, retryable: false, message: 'The request body is larger than the limit.' },
  E_IDEMPOTENCY_KEY_INVALID: { http: 400, retryable: false, message: 'The Idempotency-Key header is empty or too long.' },
  E_IDEMPOTENCY_MISMATCH: { http: 422, retryable: false, message: 'This Idempotency-Key was used with a different request.' },
  E_IDEMPOTENCY_IN_PROGRESS: { http: 409, retryable: true, message: 'A request with this Idempotency-Key is still being processed.' },
  E_NOT_FOUND: { http: 404, retryable: false, message: 'No such route.' },
  E_PRODUCT_NOT_FOUND: { http: 404, retryable: false, message: 'No such product in the catalog.' },
  E_SHARE_NOT_FOUND: { http: 404, retryable: false, message: 'No such share code or grant (unknown, expired, already used or revoked).' },
  E_RULE_NOT_FOUND: { http: 404, retryable: false, message: 'No such pricing rule.' },
  E_STORAGE_UNAVAILABLE: { http: 503, retryable: true, message: 'Storage is unavailable; the change was not saved. Retry later.' },
  E_SHUTTING_DOWN: { http: 503, retryable: true, message: 'This node is shutting down; reconnect elsewhere.' },
  E_INTERNAL: { http: 500, retryable: true, message: 'Internal error.' },
  E_WRITE_BUDGET_EXCEEDED: { http: 429, retryable: true, message: 'This cart or caller wrote more bytes than its budget allows for now; retry later.' },
  E_TOO_MANY_CONNECTIONS: { http: 429, retryable: true, message: 'Too many open connections from this address; close some or retry later.' },
  E_IDP_NOT_CONFIGURED: { http: 501, retryable: false, message: 'Sign-in with an identity provider is not configured on this server.' },
  E_IDP_UNAVAILABLE: { http: 503, retryable: true, message: "The identity provider's keys could not be fetched; retry later." },
} as const satisfies Record<string, ErrorSpec>;

export interface ErrorSpec {
  readonly http: number;
  readonly retryable: boolean;
  readonly message: string;
}

export type ErrorCode = keyof typeof ERRORS;

/** The wire form of an error, the same on REST (`{ error }`), Socket.IO acks and y-websocket closes. */
export interface WireError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  /** Extra detail for humans and logs, e.g. which field was rejected. Never needed to act on the error. */
  detail?: string;
}

/** An error that carries a registry code. Thrown inside the server, turned into a WireError at the edge. */
export class CartError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  constructor(code: ErrorCode, detail?: string) {
    // A client's error (4xx) is answered, not debugged: skipping its stack trace keeps a flood of
    // refusals cheap. Server-side failures keep theirs for the logs.
    const stackLimit = Error.stackTraceLimit;
    if (ERRORS[code].http < 500) Error.stackTraceLimit = 0;
    try {
      super(detail ? `${ERRORS[code].message} (${detail})` : ERRORS[code].message);
    } finally {
      Error.stackTraceLimit = stackLimit;
    }
    this.name = 'CartError';
    this.code = code;
    this.detail = detail;
  }

  toWire(): WireError {
    const wire: WireError = { code: this.code, message: ERRORS[this.code].message, retryable: ERRORS[this.code].retryable };
    if (this.detail !== undefined) wire.detail = this.detail;
    return wire;
  }

  get httpStatus(): number {
    return ERRORS[this.code].http;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

export function wireError(code: ErrorCode, detail?: string): WireError {
  return new CartError(code, detail).toWire();
}
