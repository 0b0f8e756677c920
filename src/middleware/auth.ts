import { createMiddleware } from "hono/factory";
import type { AppEnv, AuthUser, Env } from "../env";
import { AppError } from "../lib/errors";
import { verifyAccessToken } from "../lib/jwt";

export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

/** The user a verified access token names (throws 401 otherwise). */
export async function authenticate(env: Env, token: string): Promise<AuthUser> {
  const claims = await verifyAccessToken(env, token);
  return { id: claims.sub, username: claims.username, sessionId: claims.sid, isAdmin: claims.adm === true };
}

/** Identity comes only from a verified access token. */
export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.header("authorization"));
  if (!token) throw new AppError("UNAUTHORIZED", "Missing or invalid token");
  c.set("user", await authenticate(c.env, token));
  await next();
});

/**
 * Public routes that say more to a signed-in caller: a request with an Authorization header is
 * authenticated exactly as by requireAuth (a bad token is still 401); one without goes on anonymous.
 */
export const optionalAuth = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.header("authorization") === undefined) return next();
  return requireAuth(c, next);
});

export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.var.user?.isAdmin) throw new AppError("FORBIDDEN", "Administrators only");
  await next();
});
