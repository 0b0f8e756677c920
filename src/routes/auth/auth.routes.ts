import { createRoute, z } from "@hono/zod-openapi";
import { bearerToken, requireAuth } from "../../middleware/auth";
import { requestContext } from "../../middleware/context";
import { createCaptcha } from "../../lib/captcha";
import { AppError } from "../../lib/errors";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import {
  CodeLoginBody,
  LoginBody,
  RefreshBody,
  RegisterBody,
  ResetPasswordBody,
  SendCodeBody,
  Session,
} from "./auth.schemas";
import * as auth from "./auth.service";

const tags = ["Auth"];
const router = createRouter();

router.openapi(
  createRoute({
    method: "post",
    path: "/auth/register",
    tags,
    summary: "Register with username and password (seed 001); optional email, phone, nickname, invite code",
    request: { body: jsonBody(RegisterBody) },
    responses: { 201: envelope(Session, "Registered and signed in"), ...errors(403, 409, 415, 429) },
  }),
  async (c) => ok(c, "User registered successfully", await auth.register(await requestContext(c), c.req.valid("json")), 201),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/auth/login",
    tags,
    summary: "Sign in with username, email or phone plus password",
    request: { body: jsonBody(LoginBody) },
    responses: { 200: envelope(Session), ...errors(401, 403, 415, 429) },
  }),
  async (c) => ok(c, "Login successful", await auth.login(await requestContext(c), c.req.valid("json"))),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/auth/refresh",
    tags,
    summary: "Rotate a refresh token (body or bearer); reuse of a rotated token revokes the session",
    request: { body: { required: false, content: { "application/json": { schema: RefreshBody } } } },
    responses: { 200: envelope(Session), ...errors(401, 403) },
  }),
  async (c) => {
    const token = c.req.valid("json")?.refresh_token ?? bearerToken(c.req.header("authorization"));
    if (!token) throw new AppError("VALIDATION_ERROR", "refresh_token: required (body or Authorization: Bearer)");
    return ok(c, "Token refreshed", await auth.refresh(await requestContext(c), token));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/auth/logout",
    tags,
    security: bearer,
    middleware: [requireAuth] as const,
    summary: "Revoke this session's refresh tokens",
    responses: { 200: envelope(z.object({ revoked: z.literal(true) })), ...errors(401) },
  }),
  async (c) => {
    await auth.revokeSessions(c.var.db, c.var.user.id, { familyId: c.var.user.sessionId });
    return ok(c, "Logged out", { revoked: true as const });
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/auth/captcha",
    tags,
    summary: "A single-use image captcha (SVG data URL), valid 5 minutes",
    responses: {
      200: envelope(z.object({ captcha_key: z.string(), image: z.string(), expires_in: z.number().int() })),
    },
  }),
  async (c) => ok(c, "Captcha created", await createCaptcha(c.env, c.var.db)),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/auth/codes",
    tags,
    summary: "Send a 6-digit verification code by email or SMS",
    request: { body: jsonBody(SendCodeBody) },
    responses: {
      200: envelope(z.object({ channel: z.string(), to: z.string(), purpose: z.string(), expires_in: z.number().int() })),
      ...errors(415, 429),
    },
  }),
  async (c) => ok(c, "Code sent", await auth.sendCode(await requestContext(c), c.req.valid("json"))),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/auth/login/code",
    tags,
    summary: "Sign in with a code; creates the account on first use",
    request: { body: jsonBody(CodeLoginBody) },
    responses: {
      200: envelope(Session.extend({ needs_password: z.boolean(), created: z.boolean() })),
      ...errors(403, 415),
    },
  }),
  async (c) => ok(c, "Login successful", await auth.loginWithCode(await requestContext(c), c.req.valid("json"))),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/auth/password/reset",
    tags,
    summary: "Set a new password with a reset code; signs out every session",
    request: { body: jsonBody(ResetPasswordBody) },
    responses: { 200: envelope(z.object({ reset: z.literal(true) })), ...errors(415) },
  }),
  async (c) => {
    await auth.resetPassword(await requestContext(c), c.req.valid("json"));
    return ok(c, "Password reset", { reset: true as const });
  },
);

export default router;
