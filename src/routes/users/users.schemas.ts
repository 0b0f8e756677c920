import { z } from "@hono/zod-openapi";

export const Username = z
  .string()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, _ . - only")
  .openapi({ example: "example_user" });
export const Password = z.string().min(6).max(128).openapi({ example: "correct horse" });
export const Email = z.string().trim().toLowerCase().max(254).pipe(z.email()).openapi({ example: "ann@example.com" });
export const Phone = z
  .string()
  .trim()
  .regex(/^\+?[1-9]\d{6,14}$/, "phone number in international format, e.g. +8613800138000")
  .openapi({ example: "+8613800138000" });
export const UserId = z.string().regex(/^user_[0-9a-z]{6,40}$/, "a user id (user_…)").openapi({ example: "user_01jd8x2k3m9q7r4t6v8w" });
export const Status = z.enum(["ONLINE", "AWAY", "BUSY", "OFFLINE"]);
export const Gender = z.enum(["male", "female", "unknown"]);

export const PublicUser = z
  .object({
    id: z.string(),
    username: z.string(),
    nickname: z.string().nullable(),
    avatar: z.string().nullable(),
    gender: Gender,
    birthday: z.string().nullable(),
    age: z.number().int().nullable(),
    bio: z.string().nullable(),
    country: z.string().nullable(),
    province: z.string().nullable(),
    city: z.string().nullable(),
    district: z.string().nullable(),
    status: Status.nullable().openapi({ description: "null when the operator hides online status" }),
    last_seen: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("PublicUser");

export const PrivateUser = PublicUser.extend({
  email: z.string().nullable(),
  phone: z.string().nullable(),
  location: z.object({ lat: z.number(), lng: z.number() }).nullable(),
  is_admin: z.boolean(),
  needs_password: z.boolean(),
  updated_at: z.string(),
}).openapi("PrivateUser");

const Text = (max: number) => z.string().trim().max(max);

export const ProfileUpdate = z
  .object({
    nickname: Text(32).min(1).nullable(),
    avatar: Text(1024).nullable(),
    gender: Gender,
    birthday: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, "YYYY-MM-DD")
      .refine((v) => {
        const d = new Date(`${v}T00:00:00Z`);
        return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(v) && d.getTime() <= Date.now() && d.getUTCFullYear() >= 1900;
      }, "a real date between 1900 and today")
      .nullable(),
    bio: Text(280).nullable(),
    location: z.object({ lat: z.number().min(-90).max(90), lng: z.number().min(-180).max(180) }).strict().nullable(),
    country: Text(64).nullable(),
    province: Text(64).nullable(),
    city: Text(64).nullable(),
    district: Text(64).nullable(),
  })
  .partial()
  .strict()
  .refine((v) => Object.keys(v).length > 0, "send at least one field")
  .openapi("ProfileUpdate");

export const Relationship = z
  .object({
    friend_state: z.number().int().openapi({
      description: "002 friendState: 0 I requested, 1 friends, 2 none, 3 myself, 4 they requested",
    }),
    is_self: z.boolean(),
    is_friend: z.boolean(),
    is_blocked: z.boolean(),
    blocked_me: z.boolean(),
    request_id: z.string().nullable(),
    remark: z.string().nullable(),
  })
  .openapi("Relationship");
