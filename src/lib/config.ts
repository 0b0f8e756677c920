import { z } from "@hono/zod-openapi";
import type { Db } from "../env";
import { configs } from "../db/schema";

const bool = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * Operator configuration (seed 004 `/configs`): key → schema, default, and whether clients may read it.
 * Values live in D1 (`configs`) and are changed through `/admin/configs`.
 */
export const configSpec = {
  register_enabled: { schema: bool, default: true, public: true },
  register_invite: { schema: bool, default: false, public: true },
  ip_register_rate: { schema: int(0, 100_000), default: 0, public: false },
  login_captcha: { schema: bool, default: false, public: true },
  register_captcha: { schema: bool, default: false, public: true },
  login_fail_limit: { schema: int(0, 1000), default: 5, public: false },
  search_account_mode: {
    schema: z.string().regex(/^(all|none|(id|username|nickname|email|phone)(,(id|username|nickname|email|phone))*)$/),
    default: "all",
    public: true,
  },
  add_friend_mode: { schema: z.enum(["all", "approval", "none"]), default: "approval", public: true },
  add_friend_apply_limit: { schema: int(0, 100_000), default: 0, public: false },
  display_online_status: { schema: bool, default: true, public: true },
  near_friend_distance: { schema: int(1, 1_000_000), default: 1000, public: true },
  near_chatgroup_distance: { schema: int(1, 1_000_000), default: 1000, public: true },
  create_chatgroup: { schema: bool, default: true, public: true },
  chatgroup_members_limit: { schema: int(2, 100_000), default: 500, public: true },
  chat_rate: { schema: int(0, 100_000), default: 0, public: true },
  chat_text_max_length: { schema: int(1, 100_000), default: 5000, public: true },
  sensitive_words: { schema: z.string().max(100_000), default: "", public: false },
  sensitive_replace: { schema: z.string().max(32), default: "**", public: false },
  sensitive_send: { schema: bool, default: true, public: false },
  recall_window_seconds: { schema: int(0, 31_536_000), default: 120, public: true },
  read_receipts_max_members: { schema: int(0, 100_000), default: 50, public: true },
  full_delivery_max_members: { schema: int(0, 100_000), default: 50, public: false },
  // 10,000 parts of at most 64 MiB
  file_max_bytes: { schema: int(1, 625 * 2 ** 30), default: 2 * 2 ** 30, public: true },
  form_upload_max_bytes: { schema: int(1, 95 * 2 ** 20), default: 20 * 2 ** 20, public: true },
  image_max_bytes: { schema: int(1, 95 * 2 ** 20), default: 10 * 2 ** 20, public: true },
  upload_expiry_hours: { schema: int(1, 720), default: 24, public: true },
  discover_name: { schema: z.string().max(32), default: "Discover", public: true },
  // data rights (README "Account deletion, export, reports, retention")
  message_retention_days: { schema: int(0, 36_500), default: 0, public: true },
  deleted_account_messages: { schema: z.enum(["keep", "erase"]), default: "keep", public: true },
  deleted_username_grace_days: { schema: int(0, 3650), default: 0, public: false },
  export_per_day: { schema: int(1, 100), default: 2, public: true },
  export_expiry_hours: { schema: int(1, 720), default: 72, public: true },
} as const;

type Spec = typeof configSpec;
export type ConfigKey = keyof Spec;
export type Config = { [K in ConfigKey]: Spec[K]["default"] extends boolean ? boolean : Spec[K]["default"] extends number ? number : string };

export const configKeys = Object.keys(configSpec) as ConfigKey[];

export function defaultConfig(): Config {
  return Object.fromEntries(configKeys.map((k) => [k, configSpec[k].default])) as Config;
}

/** Reads every override in one query; a stored value that no longer parses falls back to the default. */
export async function loadConfig(db: Db): Promise<Config> {
  const config = defaultConfig() as Record<string, unknown>;
  for (const row of await db.select().from(configs)) {
    const spec = configSpec[row.key as ConfigKey];
    if (!spec) continue;
    const parsed = spec.schema.safeParse(row.value);
    if (parsed.success) config[row.key] = parsed.data;
  }
  return config as Config;
}

export function publicConfig(config: Config): Partial<Config> {
  return Object.fromEntries(configKeys.filter((k) => configSpec[k].public).map((k) => [k, config[k]])) as Partial<Config>;
}

/** Validates and stores overrides; returns the keys whose value failed validation. */
export function parseConfigUpdate(input: Record<string, unknown>) {
  const values: Record<string, string> = {};
  const invalid: { key: string; error: string }[] = [];
  for (const [key, raw] of Object.entries(input)) {
    const spec = configSpec[key as ConfigKey];
    if (!spec) {
      invalid.push({ key, error: "unknown config key" });
      continue;
    }
    const parsed = spec.schema.safeParse(typeof raw === "string" ? raw : raw);
    if (!parsed.success) invalid.push({ key, error: parsed.error.issues[0]?.message ?? "invalid" });
    else values[key] = String(parsed.data);
  }
  return { values, invalid };
}

export async function saveConfig(db: Db, values: Record<string, string>) {
  const now = new Date().toISOString();
  const rows = Object.entries(values).map(([key, value]) =>
    db.insert(configs).values({ key, value, updatedAt: now }).onConflictDoUpdate({ target: configs.key, set: { value, updatedAt: now } }),
  );
  if (rows.length) await db.batch(rows as [(typeof rows)[0], ...typeof rows]);
}
