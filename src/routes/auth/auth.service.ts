import { and, desc, eq, gt, isNull, ne, or, sql } from "drizzle-orm";
import type { Db, Env } from "../../env";
import { refreshTokens, users, verificationCodes } from "../../db/schema";
import { verifyCaptcha } from "../../lib/captcha";
import type { Config } from "../../lib/config";
import { bump, clear, limit, peek, retryAfter } from "../../lib/counters";
import { hmacHex, randomDigits, randomSecret, sha256Hex } from "../../lib/crypto";
import { deliveryProvider, type Channel } from "../../lib/delivery";
import { AppError } from "../../lib/errors";
import { newId, randomToken } from "../../lib/ids";
import { ACCESS_TOKEN_TTL_SECONDS, jwtKey, signAccessToken } from "../../lib/jwt";
import { hashPassword, verifyPassword } from "../../lib/passwords";
import { isUniqueViolation } from "../../db/errors";
import { inviteCodes } from "../../db/schema";

export const REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
export const CODE_TTL_SECONDS = 600;
const CODE_MAX_ATTEMPTS = 5;
const LOGIN_FAIL_WINDOW_SECONDS = 900;

export interface RequestContext {
  env: Env;
  db: Db;
  config: Config;
  ip: string;
}

type UserRow = typeof users.$inferSelect;

/** Admins are exactly the accounts ADMIN_USERNAMES names (taking a name off the list takes the rights away). */
export function isListedAdmin(env: Env, username: string) {
  return env.ADMIN_USERNAMES.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean).includes(username.toLowerCase());
}

/** Mints an access token and a refresh token; `familyId` continues an existing session on rotation. */
async function issueSession(ctx: RequestContext, user: UserRow, familyId = newId("fam")) {
  const refresh = `${randomSecret(32)}`;
  const admin = isListedAdmin(ctx.env, user.username);
  // the column mirrors the list (profiles show it); the token's claim is what authorizes
  if (user.isAdmin !== admin) await ctx.db.update(users).set({ isAdmin: admin }).where(eq(users.id, user.id));
  await ctx.db.insert(refreshTokens).values({
    id: newId("rt"),
    userId: user.id,
    familyId,
    tokenHash: await sha256Hex(refresh),
    expiresAt: new Date(Date.now() + REFRESH_TOKEN_TTL_SECONDS * 1000).toISOString(),
  });
  const token = await signAccessToken(ctx.env, {
    sub: user.id,
    username: user.username,
    sid: familyId,
    adm: admin,
  });
  return {
    token,
    refresh_token: refresh,
    token_type: "Bearer" as const,
    expires_in: ACCESS_TOKEN_TTL_SECONDS,
    id: user.id,
    username: user.username,
  };
}

async function consumeInvite(db: Db, code: string | undefined) {
  if (!code) throw new AppError("REGISTRATION_CLOSED", "Registration needs an invite code", { message: "Invite code required" });
  const now = new Date().toISOString();
  const used = await db
    .update(inviteCodes)
    .set({ uses: sql`${inviteCodes.uses} + 1` })
    .where(
      and(
        eq(inviteCodes.code, code),
        sql`${inviteCodes.uses} < ${inviteCodes.maxUses}`,
        or(isNull(inviteCodes.expiresAt), gt(inviteCodes.expiresAt, now)),
      ),
    )
    .returning({ code: inviteCodes.code });
  if (!used.length) throw new AppError("BAD_REQUEST", "Invite code is invalid, expired or used up", { message: "Invalid invite code" });
}

export interface RegisterInput {
  username: string;
  password: string;
  email?: string;
  phone?: string;
  nickname?: string;
  invite_code?: string;
  captcha_key?: string;
  captcha?: string;
}

export async function register(ctx: RequestContext, input: RegisterInput) {
  const { db, config } = ctx;
  if (!config.register_enabled) throw new AppError("REGISTRATION_CLOSED", "Registration is closed by the operator");
  if (config.register_captcha) await verifyCaptcha(ctx.env, db, input.captcha_key, input.captcha);
  await limit(db, `register:ip:${ctx.ip}`, config.ip_register_rate, 3600, "registrations from this address");

  const key = input.username.toLowerCase();
  const taken = await db
    .select({ usernameKey: users.usernameKey, email: users.email, phone: users.phone })
    .from(users)
    .where(
      or(
        eq(users.usernameKey, key),
        input.email ? eq(users.email, input.email) : sql`0`,
        input.phone ? eq(users.phone, input.phone) : sql`0`,
      ),
    );
  const conflict = (what: string) => new AppError("USER_EXISTS", what);
  if (taken.some((t) => t.usernameKey === key)) throw conflict("Username already taken");
  if (input.email && taken.some((t) => t.email === input.email)) throw conflict("Email already registered");
  if (input.phone && taken.some((t) => t.phone === input.phone)) throw conflict("Phone already registered");

  if (config.register_invite) await consumeInvite(db, input.invite_code);

  const user = {
    id: newId("user"),
    username: input.username,
    usernameKey: key,
    email: input.email ?? null,
    phone: input.phone ?? null,
    nickname: input.nickname ?? input.username,
    passwordHash: await hashPassword(input.password),
    isAdmin: isListedAdmin(ctx.env, input.username),
  };
  let row: UserRow;
  try {
    [row] = await db.insert(users).values(user).returning();
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict("Username already taken");
    throw err;
  }
  return issueSession(ctx, row);
}

/** Failed-login counters per account and per address: captcha after N failures, 429 after 2N (4N per address). */
async function loginGate(ctx: RequestContext, account: string, captchaKey?: string, captcha?: string) {
  const n = ctx.config.login_fail_limit;
  const [acct, ip] = await Promise.all([peek(ctx.db, `login_fail:acct:${account}`), peek(ctx.db, `login_fail:ip:${ctx.ip}`)]);
  if (n > 0 && (acct.count >= 2 * n || ip.count >= 4 * n)) {
    const worst = acct.count >= 2 * n ? acct : ip;
    throw new AppError("RATE_LIMITED", "Too many failed logins; try again later", { retryAfter: retryAfter(worst) });
  }
  const needCaptcha = ctx.config.login_captcha || (n > 0 && (acct.count >= n || ip.count >= n));
  if (needCaptcha) await verifyCaptcha(ctx.env, ctx.db, captchaKey, captcha);
}

async function recordLoginFailure(ctx: RequestContext, account: string) {
  await Promise.all([
    bump(ctx.db, `login_fail:acct:${account}`, LOGIN_FAIL_WINDOW_SECONDS),
    bump(ctx.db, `login_fail:ip:${ctx.ip}`, LOGIN_FAIL_WINDOW_SECONDS),
  ]);
}

export async function login(ctx: RequestContext, input: { username: string; password: string; captcha_key?: string; captcha?: string }) {
  const account = input.username.trim().toLowerCase();
  await loginGate(ctx, account, input.captcha_key, input.captcha);
  const phone = account.replace(/^(?=[1-9]\d{6,14}$)/, "+");
  const user = await ctx.db
    .select()
    .from(users)
    .where(or(eq(users.usernameKey, account), eq(users.email, account), eq(users.phone, phone)))
    .get();
  const valid = await verifyPassword(input.password, user?.passwordHash ?? null);
  if (!user || !valid) {
    await recordLoginFailure(ctx, account);
    throw new AppError("INVALID_CREDENTIALS", "Username or password is incorrect");
  }
  if (user.disabledAt) throw new AppError("ACCOUNT_DISABLED", "This account has been disabled");
  await clear(ctx.db, `login_fail:acct:${account}`);
  return issueSession(ctx, user);
}

/** Rotates a refresh token; presenting one that was already rotated or revoked revokes its whole family. */
export async function refresh(ctx: RequestContext, token: string) {
  const { db } = ctx;
  const invalid = () => new AppError("REFRESH_TOKEN_INVALID", "Invalid or expired refresh token");
  const row = await db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, await sha256Hex(token))).get();
  if (!row) throw invalid();
  const now = new Date().toISOString();
  const revokeFamily = () =>
    db.update(refreshTokens).set({ revokedAt: now }).where(and(eq(refreshTokens.familyId, row.familyId), isNull(refreshTokens.revokedAt)));
  if (row.rotatedAt || row.revokedAt) {
    await revokeFamily();
    throw new AppError("REFRESH_TOKEN_INVALID", "Refresh token was already used; the session has been revoked");
  }
  if (row.expiresAt <= now) throw invalid();
  const claimed = await db
    .update(refreshTokens)
    .set({ rotatedAt: now })
    .where(and(eq(refreshTokens.id, row.id), isNull(refreshTokens.rotatedAt), isNull(refreshTokens.revokedAt)))
    .returning({ id: refreshTokens.id });
  if (!claimed.length) {
    await revokeFamily();
    throw new AppError("REFRESH_TOKEN_INVALID", "Refresh token was already used; the session has been revoked");
  }
  const user = await db.select().from(users).where(eq(users.id, row.userId)).get();
  if (!user) throw invalid();
  if (user.disabledAt) {
    await revokeFamily();
    throw new AppError("ACCOUNT_DISABLED", "This account has been disabled");
  }
  return issueSession(ctx, user, row.familyId);
}

export async function revokeSessions(db: Db, userId: string, opts: { familyId?: string; exceptFamilyId?: string } = {}) {
  const now = new Date().toISOString();
  await db
    .update(refreshTokens)
    .set({ revokedAt: now })
    .where(
      and(
        eq(refreshTokens.userId, userId),
        isNull(refreshTokens.revokedAt),
        opts.familyId ? eq(refreshTokens.familyId, opts.familyId) : undefined,
        opts.exceptFamilyId ? ne(refreshTokens.familyId, opts.exceptFamilyId) : undefined,
      ),
    );
}

const codeHash = (env: Env, channel: Channel, to: string, code: string) =>
  hmacHex(new TextDecoder().decode(jwtKey(env)), `code:${channel}:${to}:${code}`);

const findByAddress = (db: Db, channel: Channel, to: string) =>
  db.select().from(users).where(channel === "email" ? eq(users.email, to) : eq(users.phone, to)).get();

/** Sends a 6-digit code (10 minutes, single use); limited per address and per client address. */
export async function sendCode(ctx: RequestContext, input: { channel: Channel; to: string; purpose: "login" | "register" | "reset" }) {
  const { db, env } = ctx;
  const addr = `${input.channel}:${input.to}`;
  await limit(db, `code:addr:min:${addr}`, 1, 60, "codes for this address");
  await limit(db, `code:addr:hour:${addr}`, 10, 3600, "codes for this address");
  await limit(db, `code:ip:${ctx.ip}`, 30, 3600, "codes from this address");

  const result = { channel: input.channel, to: input.to, purpose: input.purpose, expires_in: CODE_TTL_SECONDS };
  // A reset code for an unknown address is silently not sent, so the answer does not reveal who has an account.
  if (input.purpose === "reset" && !(await findByAddress(db, input.channel, input.to))) return result;

  const code = randomDigits(6);
  const now = new Date().toISOString();
  await db.batch([
    db
      .update(verificationCodes)
      .set({ consumedAt: now })
      .where(
        and(
          eq(verificationCodes.channel, input.channel),
          eq(verificationCodes.target, input.to),
          eq(verificationCodes.purpose, input.purpose),
          isNull(verificationCodes.consumedAt),
        ),
      ),
    db.insert(verificationCodes).values({
      id: newId("vc"),
      channel: input.channel,
      target: input.to,
      purpose: input.purpose,
      codeHash: await codeHash(env, input.channel, input.to, code),
      expiresAt: new Date(Date.now() + CODE_TTL_SECONDS * 1000).toISOString(),
    }),
  ]);
  await deliveryProvider(env, db).send({
    channel: input.channel,
    to: input.to,
    subject: "Your edge-im verification code",
    text: `Your edge-im ${input.purpose} code is ${code}. It expires in 10 minutes.`,
  });
  return result;
}

/** Checks and consumes the newest live code for the address; wrong guesses count toward a small limit. */
export async function consumeCode(ctx: RequestContext, channel: Channel, to: string, purposes: ("login" | "register" | "reset")[], code: string) {
  const { db } = ctx;
  const now = new Date().toISOString();
  const invalid = () => new AppError("CODE_INVALID", "The code is wrong, expired or already used");
  const row = await db
    .select()
    .from(verificationCodes)
    .where(
      and(
        eq(verificationCodes.channel, channel),
        eq(verificationCodes.target, to),
        sql`${verificationCodes.purpose} IN ${purposes}`,
        isNull(verificationCodes.consumedAt),
        gt(verificationCodes.expiresAt, now),
      ),
    )
    .orderBy(desc(verificationCodes.createdAt))
    .get();
  if (!row || row.attempts >= CODE_MAX_ATTEMPTS) throw invalid();
  if (row.codeHash !== (await codeHash(ctx.env, channel, to, code))) {
    await db.update(verificationCodes).set({ attempts: sql`${verificationCodes.attempts} + 1` }).where(eq(verificationCodes.id, row.id));
    throw invalid();
  }
  const claimed = await db
    .update(verificationCodes)
    .set({ consumedAt: now })
    .where(and(eq(verificationCodes.id, row.id), isNull(verificationCodes.consumedAt)))
    .returning({ id: verificationCodes.id });
  if (!claimed.length) throw invalid();
}

/** Code login: signs in the owner of the address, creating the account on first use. */
export async function loginWithCode(ctx: RequestContext, input: { channel: Channel; to: string; code: string }) {
  const { db, config } = ctx;
  await consumeCode(ctx, input.channel, input.to, ["login", "register"], input.code);
  let user = await findByAddress(db, input.channel, input.to);
  let created = false;
  if (!user) {
    if (!config.register_enabled) throw new AppError("REGISTRATION_CLOSED", "Registration is closed by the operator");
    const username = `u_${randomToken(12)}`;
    try {
      [user] = await db
        .insert(users)
        .values({
          id: newId("user"),
          username,
          usernameKey: username,
          nickname: input.channel === "email" ? input.to.split("@")[0].slice(0, 32) : `user${input.to.slice(-4)}`,
          email: input.channel === "email" ? input.to : null,
          phone: input.channel === "sms" ? input.to : null,
        })
        .returning();
      created = true;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      user = await findByAddress(db, input.channel, input.to);
      if (!user) throw err;
    }
  }
  if (user.disabledAt) throw new AppError("ACCOUNT_DISABLED", "This account has been disabled");
  const session = await issueSession(ctx, user);
  return { ...session, needs_password: !user.passwordHash, created };
}

export async function resetPassword(ctx: RequestContext, input: { channel: Channel; to: string; code: string; password: string }) {
  const { db } = ctx;
  await consumeCode(ctx, input.channel, input.to, ["reset"], input.code);
  const user = await findByAddress(db, input.channel, input.to);
  if (!user) throw new AppError("CODE_INVALID", "The code is wrong, expired or already used");
  await db
    .update(users)
    .set({ passwordHash: await hashPassword(input.password), updatedAt: new Date().toISOString() })
    .where(eq(users.id, user.id));
  await revokeSessions(db, user.id);
  await clear(db, `login_fail:acct:${user.usernameKey}`);
}

export async function changePassword(db: Db, userId: string, sessionId: string, oldPassword: string | undefined, password: string) {
  const user = await db.select().from(users).where(eq(users.id, userId)).get();
  if (!user) throw new AppError("UNAUTHORIZED", "Account no longer exists");
  if (user.passwordHash) {
    if (!oldPassword) throw new AppError("VALIDATION_ERROR", "old_password: required to change an existing password");
    if (!(await verifyPassword(oldPassword, user.passwordHash))) throw new AppError("FORBIDDEN", "Old password is incorrect");
  }
  await db.update(users).set({ passwordHash: await hashPassword(password), updatedAt: new Date().toISOString() }).where(eq(users.id, userId));
  await revokeSessions(db, userId, { exceptFamilyId: sessionId });
}
