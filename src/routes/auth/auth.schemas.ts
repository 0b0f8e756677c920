import { z } from "@hono/zod-openapi";
import { Email, Password, Phone, Username } from "../users/users.schemas";

const Platform = z.enum(["android", "ios", "h5", "web", "pc", "desktop"]).optional();
const CaptchaFields = {
  captcha_key: z.string().max(64).optional(),
  captcha: z.string().max(16).optional(),
};

export const RegisterBody = z
  .object({
    username: Username,
    password: Password,
    email: Email.optional(),
    phone: Phone.optional(),
    nickname: z.string().trim().min(1).max(32).optional(),
    invite_code: z.string().trim().min(1).max(64).optional(),
    platform: Platform,
    ...CaptchaFields,
  })
  .strict()
  .openapi("RegisterBody");

export const LoginBody = z
  .object({
    username: z.string().trim().min(1).max(254).openapi({ description: "username, email or phone" }),
    password: z.string().min(1).max(128),
    platform: Platform,
    ...CaptchaFields,
  })
  .strict()
  .openapi("LoginBody");

export const Session = z
  .object({
    token: z.string().openapi({ description: "access token (JWT, 1 hour)" }),
    refresh_token: z.string(),
    token_type: z.literal("Bearer"),
    expires_in: z.number().int(),
    id: z.string(),
    username: z.string(),
  })
  .openapi("Session");

export const RefreshBody = z.object({ refresh_token: z.string().min(1).max(512).optional() }).strict();

export const Channel = z.enum(["email", "sms"]);
export const Purpose = z.enum(["login", "register", "reset"]);

const Address = { channel: Channel, to: z.string().trim().min(3).max(254) };
const Code = z.string().regex(/^\d{6}$/, "6 digits");

/** Checks `to` against its channel (an email for `email`, a phone number for `sms`) and normalises it. */
function normaliseAddress<T extends { channel: "email" | "sms"; to: string }>(v: T, ctx: z.RefinementCtx): T {
  const parsed = (v.channel === "email" ? Email : Phone).safeParse(v.to);
  if (!parsed.success) {
    ctx.addIssue({ code: "custom", path: ["to"], message: v.channel === "email" ? "a valid email address" : "a valid phone number" });
    return z.NEVER;
  }
  return { ...v, to: v.channel === "sms" && !parsed.data.startsWith("+") ? `+${parsed.data}` : parsed.data };
}

export const SendCodeBody = z.object({ ...Address, purpose: Purpose }).strict().transform(normaliseAddress).openapi("SendCodeBody");
export const CodeLoginBody = z.object({ ...Address, code: Code }).strict().transform(normaliseAddress).openapi("CodeLoginBody");
export const ResetPasswordBody = z
  .object({ ...Address, code: Code, password: Password })
  .strict()
  .transform(normaliseAddress)
  .openapi("ResetPasswordBody");
