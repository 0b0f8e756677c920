/**
 * The machine code of every failure, shared by the REST envelope and socket error frames: a
 * failure carries the same code whichever way it reaches the client. src/lib/errors.ts maps each
 * code to its HTTP status.
 */
export const ERROR_CODES = [
  "VALIDATION_ERROR",
  "MALFORMED_JSON",
  "BAD_REQUEST",
  "CAPTCHA_REQUIRED",
  "CAPTCHA_INVALID",
  "CODE_INVALID",
  "CONTENT_REJECTED",
  "UNAUTHORIZED",
  "TOKEN_EXPIRED",
  "INVALID_CREDENTIALS",
  "REFRESH_TOKEN_INVALID",
  "FORBIDDEN",
  "ACCOUNT_DISABLED",
  "REGISTRATION_CLOSED",
  "NOT_FOUND",
  "CONFLICT",
  "USER_EXISTS",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "RANGE_NOT_SATISFIABLE",
  "UPGRADE_REQUIRED",
  "RATE_LIMITED",
  "MISCONFIGURED",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
