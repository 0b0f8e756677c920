import { env, SELF } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../src/db/schema";
import type { Env } from "../src/env";
import { saveConfig } from "../src/lib/config";

export const testEnv = env as unknown as Env;
export const db = () => drizzle(testEnv.DB, { schema });
export const BASE = "http://edge-im.test";

let counter = 0;
/** Unique per test file run: storage is shared by every test in a file. */
export function uniq(prefix = "u") {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${counter}${Math.floor(Math.random() * 1e6).toString(36)}`.slice(0, 30);
}

export function randomIp() {
  const n = () => Math.floor(Math.random() * 250) + 1;
  return `10.${n()}.${n()}.${n()}`;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  raw?: BodyInit;
  headers?: Record<string, string>;
  ip?: string;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** One HTTP call through the Worker's fetch handler, as a client would make it. */
export async function call<T = any>(method: string, path: string, opts: CallOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { "cf-connecting-ip": opts.ip ?? randomIp(), ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: BodyInit | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await SELF.fetch(`${BASE}${path.startsWith("/api") || path.startsWith("/docs") ? path : `/api/v1${path}`}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // non-JSON bodies (docs HTML) stay text
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

export interface TestUser {
  id: string;
  username: string;
  password: string;
  token: string;
  refresh_token: string;
}

export async function signup(fields: Record<string, unknown> = {}): Promise<TestUser> {
  const username = (fields.username as string) ?? uniq("user");
  const password = (fields.password as string) ?? "pass-word-1";
  const res = await call("POST", "/auth/register", { body: { username, password, ...fields } });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...res.body.data, password };
}

export async function setConfig(values: Record<string, string | number | boolean>) {
  await saveConfig(db(), Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)])));
}

/** The newest code the outbox provider recorded for an address. */
export async function outboxCode(to: string): Promise<string> {
  const res = await call("GET", `/dev/outbox?to=${encodeURIComponent(to)}`);
  const body = res.body.data.messages[0]?.body as string | undefined;
  const code = body?.match(/\b(\d{6})\b/)?.[1];
  if (!code) throw new Error(`no code for ${to}`);
  return code;
}

export async function captchaAnswer(key: string): Promise<string> {
  const res = await call("GET", `/dev/outbox?to=${encodeURIComponent(key)}`);
  return res.body.data.messages[0].body;
}

export function expectError(res: ApiResponse, status: number, code?: string) {
  const detail = `${res.status} ${JSON.stringify(res.body)}`;
  if (res.status !== status) throw new Error(`expected ${status}, got ${detail}`);
  if (res.body?.success !== false || typeof res.body.message !== "string" || typeof res.body.error !== "string" || typeof res.body.code !== "string") {
    throw new Error(`not an error envelope: ${detail}`);
  }
  if (code && res.body.code !== code) throw new Error(`expected code ${code}, got ${detail}`);
}

/** A group/room made directly in D1 (fixture for message tests; the groups API has its own tests). */
export async function makeConversation(
  owner: TestUser,
  others: TestUser[],
  opts: { kind?: "group" | "room"; historyVisible?: boolean; roles?: Record<string, "admin" | "member"> } = {},
) {
  const { conversations, members } = schema;
  const kind = opts.kind ?? "group";
  const id = `${kind === "room" ? "room" : "grp"}_${uniq("c").toLowerCase().replace(/[^0-9a-z]/g, "")}`;
  const d = db();
  await d.batch([
    d.insert(conversations).values({ id, kind, name: `conv ${id}`, creatorId: owner.id, ownerId: owner.id, memberCount: others.length + 1, historyVisible: opts.historyVisible ?? true }),
    d.insert(members).values([
      { conversationId: id, userId: owner.id, role: "owner" as const },
      ...others.map((u) => ({ conversationId: id, userId: u.id, role: opts.roles?.[u.id] ?? ("member" as const) })),
    ]),
  ]);
  return id;
}

export async function openDm(a: TestUser, b: TestUser): Promise<string> {
  const res = await call("POST", "/conversations/dm", { token: a.token, body: { user_id: b.id } });
  if (res.status !== 200) throw new Error(`dm failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.conversation.id;
}

export async function send(user: TestUser, conversationId: string, body: Record<string, unknown>) {
  return call("POST", `/conversations/${conversationId}/messages`, { token: user.token, body });
}

export interface Frame {
  success: boolean;
  message: string;
  error?: string;
  data?: { type: string; [k: string]: any };
  [k: string]: any;
}

export interface TestSocket {
  ws: WebSocket;
  frames: Frame[];
  send(frame: unknown): void;
  /** The first not-yet-taken frame matching `match` (a data.type or a predicate), waiting up to `ms`. */
  next(match: string | ((f: Frame) => boolean), ms?: number): Promise<Frame>;
  /** Every frame of a type seen so far (taken or not). */
  all(type: string): Frame[];
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** Opens a real WebSocket to /api/v1/ws through the Worker. */
export async function connect(query = ""): Promise<TestSocket> {
  const res = await SELF.fetch(`${BASE}/api/v1/ws${query ? `?${query}` : ""}`, { headers: { upgrade: "websocket" } });
  const ws = res.webSocket;
  if (!ws) throw new Error(`no websocket: ${res.status} ${await res.text()}`);
  ws.accept();
  const frames: Frame[] = [];
  const taken = new Set<Frame>();
  let wake: (() => void)[] = [];
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(e.data as string));
    const w = wake;
    wake = [];
    w.forEach((f) => f());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.addEventListener("close", (e) => {
      resolve({ code: e.code, reason: e.reason });
      const w = wake;
      wake = [];
      w.forEach((f) => f());
    }),
  );
  const matches = (match: string | ((f: Frame) => boolean), f: Frame) => (typeof match === "string" ? f.data?.type === match : match(f));
  return {
    ws,
    frames,
    closed,
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    all: (type) => frames.filter((f) => f.data?.type === type),
    close: () => ws.close(1000, "bye"),
    async next(match, ms = 3000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = frames.find((f) => !taken.has(f) && matches(match, f));
        if (found) {
          taken.add(found);
          return found;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no frame matching ${String(match)}; got ${JSON.stringify(frames.map((f) => f.data?.type ?? f.error))}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          wake.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
