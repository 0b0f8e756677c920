import { AppError, type ErrorCode } from "../lib/errors";

/** What a Durable Object RPC returns: errors cross the RPC boundary as data, not as thrown classes. */
export type Result<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; error: string; retryAfter?: number };

export async function capture<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof AppError) return { ok: false, code: err.code, error: err.message, retryAfter: err.retryAfter };
    throw err;
  }
}

type Failure = Extract<Result<unknown>, { ok: false }>;

/** Returns the value of a successful result (as it arrives through an RPC stub) or throws its AppError. */
export function unwrap<R extends { ok: true; value: unknown } | Failure>(result: R): Extract<R, { ok: true }>["value"] {
  if (result.ok) return (result as { value: unknown }).value as Extract<R, { ok: true }>["value"];
  const failure = result as Failure;
  throw new AppError(failure.code, failure.error, { retryAfter: failure.retryAfter });
}
