import { errors, jwtVerify, SignJWT } from "jose";
import type { Env } from "../env";
import { AppError } from "./errors";

export const ACCESS_TOKEN_TTL_SECONDS = 3600;
const DEV_SECRET_PREFIX = "dev-only-secret";

export interface AccessClaims {
  sub: string;
  username: string;
  sid: string;
  adm?: boolean;
}

/** The signing key; in production a missing, short or dev-default secret stops every request. */
export function jwtKey(env: Env): Uint8Array {
  const secret = env.JWT_SECRET ?? "";
  const production = env.ENVIRONMENT === "production";
  if (!secret || (production && (secret.length < 32 || secret.startsWith(DEV_SECRET_PREFIX)))) {
    throw new AppError("MISCONFIGURED", "JWT_SECRET is not set to a real secret (wrangler secret put JWT_SECRET)");
  }
  return new TextEncoder().encode(secret);
}

export async function signAccessToken(env: Env, claims: AccessClaims, typ = "access", ttl = ACCESS_TOKEN_TTL_SECONDS) {
  return new SignJWT({ username: claims.username, sid: claims.sid, adm: claims.adm ?? false, typ })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuer(env.JWT_ISSUER)
    .setAudience(env.JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
    .sign(jwtKey(env));
}

/** Verifies signature (HS256 only), issuer, audience, expiry and token type. */
export async function verifyAccessToken(env: Env, token: string, typ = "access"): Promise<AccessClaims> {
  const key = jwtKey(env);
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      requiredClaims: ["sub", "exp", "iat"],
    });
    if (payload.typ !== typ || typeof payload.sid !== "string" || typeof payload.username !== "string") {
      throw new AppError("UNAUTHORIZED", "Invalid or expired token");
    }
    return { sub: payload.sub!, username: payload.username, sid: payload.sid, adm: payload.adm === true };
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof errors.JWTExpired) throw new AppError("TOKEN_EXPIRED", "Token expired");
    throw new AppError("UNAUTHORIZED", "Invalid or expired token");
  }
}
