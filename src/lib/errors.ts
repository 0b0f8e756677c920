import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorCode } from "../protocol";

/** Machine codes of every failure the API reports, with their HTTP status and default texts. */
export const errorCodes = {
  VALIDATION_ERROR: { status: 400, message: "Validation failed" },
  MALFORMED_JSON: { status: 400, message: "Invalid JSON format" },
  BAD_REQUEST: { status: 400, message: "Bad request" },
  CAPTCHA_REQUIRED: { status: 400, message: "Captcha required" },
  CAPTCHA_INVALID: { status: 400, message: "Captcha invalid" },
  CODE_INVALID: { status: 400, message: "Verification code invalid" },
  CONTENT_REJECTED: { status: 400, message: "Message rejected" },
  UNAUTHORIZED: { status: 401, message: "Unauthorized" },
  TOKEN_EXPIRED: { status: 401, message: "Unauthorized" },
  INVALID_CREDENTIALS: { status: 401, message: "Invalid credentials" },
  REFRESH_TOKEN_INVALID: { status: 401, message: "Unauthorized" },
  FORBIDDEN: { status: 403, message: "Forbidden" },
  ACCOUNT_DISABLED: { status: 403, message: "Account disabled" },
  REGISTRATION_CLOSED: { status: 403, message: "Registration closed" },
  NOT_FOUND: { status: 404, message: "Not found" },
  CONFLICT: { status: 409, message: "Conflict" },
  USER_EXISTS: { status: 409, message: "User already exists" },
  PAYLOAD_TOO_LARGE: { status: 413, message: "Payload too large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "Unsupported media type" },
  RANGE_NOT_SATISFIABLE: { status: 416, message: "Range not satisfiable" },
  UPGRADE_REQUIRED: { status: 426, message: "Upgrade required" },
  RATE_LIMITED: { status: 429, message: "Too many requests" },
  MISCONFIGURED: { status: 500, message: "Server misconfigured" },
  INTERNAL: { status: 500, message: "Internal server error" },
} as const satisfies Record<ErrorCode, { status: ContentfulStatusCode; message: string }>;

// the code list lives in src/protocol (socket error frames and clients use it); this maps each code to its status
export type { ErrorCode };

export interface AppErrorOptions {
  /** Short summary for `message`; defaults to the code's text. */
  message?: string;
  details?: unknown;
  retryAfter?: number;
  /** Response headers the error carries (e.g. Content-Range on a 416). */
  headers?: Record<string, string>;
}

/** The one error type services throw; the app's error handler renders it as the envelope. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: ContentfulStatusCode;
  readonly summary: string;
  readonly details?: unknown;
  readonly retryAfter?: number;
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, error?: string, options: AppErrorOptions = {}) {
    const spec = errorCodes[code];
    super(error ?? spec.message);
    this.name = "AppError";
    this.code = code;
    this.status = spec.status;
    this.summary = options.message ?? spec.message;
    this.details = options.details;
    this.retryAfter = options.retryAfter;
    this.headers = options.headers;
  }
}

export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`);
export const forbidden = (why: string) => new AppError("FORBIDDEN", why);
export const conflict = (why: string) => new AppError("CONFLICT", why);
export const badRequest = (why: string) => new AppError("BAD_REQUEST", why);
