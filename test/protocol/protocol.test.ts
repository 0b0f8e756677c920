/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import { CloseCodes, ERROR_CODES, MAX_FRAME_BYTES, messageFields, oversize, parseFrame, serverFrame, wire, type MessageViewT, type ServerFrame } from "../../src/protocol";
import { errorCodes } from "../../src/lib/errors";

/** Every source file of src/protocol, as text (Vite inlines them at build time). */
const sources = import.meta.glob("../../src/protocol/**/*.ts", { query: "?raw", import: "default", eager: true }) as Record<string, string>;

/** Every module a source file names: static imports and re-exports, side-effect imports, dynamic imports, require. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [/\b(?:import|export)\b[^;'"`]*?\bfrom\s*["'`]([^"'`]+)["'`]/g, /\bimport\s*["'`]([^"'`]+)["'`]/g, /\bimport\s*\(\s*["'`]([^"'`]+)["'`]/g, /\brequire\s*\(\s*["'`]([^"'`]+)["'`]/g];
  for (const p of patterns) for (const m of source.matchAll(p)) found.push(m[1]);
  return found;
}

const view: MessageViewT = {
  id: "msg_000000000001",
  conversation_id: "room_0000000001",
  seq: 7,
  type: "text",
  msg_type: 0,
  content: "hi",
  payload: null,
  attachments: [],
  reply_to: null,
  sender: { id: "user_0000000001", username: "ann" },
  client_id: "c-1",
  created_at: "2026-01-01T00:00:00.000Z",
  timestamp: 1767225600,
  edited_at: null,
  recalled: false,
  deleted: false,
  reactions: [],
};

describe("src/protocol stands alone", () => {
  it("imports nothing but zod and its own files (no Workers, no drizzle, nothing else from src)", () => {
    const files = Object.keys(sources);
    expect(files.map((f) => f.split("/").pop())).toEqual(expect.arrayContaining(["index.ts", "client-frames.ts", "server-frames.ts", "close-codes.ts", "messages.ts", "errors.ts"]));
    const offending: string[] = [];
    for (const [file, source] of Object.entries(sources)) {
      const names = specifiers(source);
      expect(names.length, `${file} names no module at all?`).toBeGreaterThanOrEqual(file.endsWith("close-codes.ts") || file.endsWith("errors.ts") ? 0 : 1);
      for (const name of names) {
        const inside = /^\.\/[\w-]+$/.test(name);
        if (!inside && name !== "zod") offending.push(`${file}: ${name}`);
      }
      // the runtime's own globals are just as much a dependency as an import
      for (const global of ["DurableObject", "WebSocketPair", "ctx.storage", "env.DB", "caches."]) if (source.includes(global)) offending.push(`${file}: uses ${global}`);
    }
    expect(offending).toEqual([]);
  });

  it("finds an outside import when there is one (the check above is not vacuous)", () => {
    const bad = `import { DurableObject } from "cloudflare:workers";\nimport { eq } from "drizzle-orm";\nexport { x } from "../realtime/protocol";\nimport "./ok";\nconst y = await import("hono");`;
    expect(specifiers(bad)).toEqual(["cloudflare:workers", "drizzle-orm", "../realtime/protocol", "./ok", "hono"]);
  });

  it("has the same error codes as the REST envelope, and the documented close codes", () => {
    expect([...ERROR_CODES].sort()).toEqual(Object.keys(errorCodes).sort());
    expect(CloseCodes).toMatchObject({ replaced: 4000, authFailed: 4001, authTimeout: 4002, removed: 4003, sessionEnded: 4004, tokenExpired: 4005, policy: 1008 });
  });
});

describe("server frames", () => {
  it("builds every frame once as PROTOCOL.md's envelope; a message frame carries seed 001's fields", () => {
    const f = serverFrame("message_received", messageFields(view));
    expect(f.type).toBe("message_received");
    expect(wire(f)).toBe(f.v1);
    const parsed = JSON.parse(wire(f)) as ServerFrame;
    expect(parsed).toMatchObject({
      success: true,
      message: "Message sent successfully",
      data: { type: "message_received", user_id: view.sender.id, username: "ann", room_id: view.conversation_id, content: "hi", timestamp: view.timestamp, seq: 7, id: view.id, message_type: "text" },
    });
    expect(JSON.parse(serverFrame("pong", { timestamp: 5 }).v1)).toEqual({ success: true, message: "Pong response", data: { type: "pong", timestamp: 5 } });
  });

  it("builds error frames with a code, keeping seed 001's texts", () => {
    expect(JSON.parse(serverFrame("error", { code: "MALFORMED_JSON", error: "Invalid JSON format" }).v1)).toEqual({ success: false, message: "Request failed", error: "Invalid JSON format", code: "MALFORMED_JSON" });
    expect(JSON.parse(serverFrame("error", { code: "FORBIDDEN", error: "no", client_id: "c" }, "Failed to send message").v1)).toEqual({ success: false, message: "Failed to send message", error: "no", code: "FORBIDDEN", client_id: "c" });
  });
});

describe("client frames", () => {
  it("parses seed 001's frames (fields at the top level or nested in data) and names a code for every refusal", () => {
    expect(parseFrame(JSON.stringify({ type: "send_message", content: "x" }))).toMatchObject({ ok: true, frame: { type: "send_message", content: "x" } });
    expect(parseFrame(JSON.stringify({ type: "auth", data: { token: "t" } }))).toMatchObject({ ok: true, frame: { type: "auth", token: "t" } });
    expect(parseFrame(JSON.stringify({ type: "send_message", data: { type: "emoji", content: "🙂" } }))).toMatchObject({ ok: true, frame: { message_type: "emoji" } });
    expect(parseFrame("{nope")).toEqual({ ok: false, code: "MALFORMED_JSON", error: "Invalid JSON format" });
    expect(parseFrame("[1]")).toEqual({ ok: false, code: "MALFORMED_JSON", error: "Invalid JSON format" });
    expect(parseFrame(new ArrayBuffer(2))).toEqual({ ok: false, code: "MALFORMED_JSON", error: "Invalid JSON format" });
    expect(parseFrame(JSON.stringify({ type: "fly" }))).toEqual({ ok: false, code: "BAD_REQUEST", error: "Unknown message type: fly" });
    expect(parseFrame(JSON.stringify({ type: "typing", is_typing: "yes" }))).toMatchObject({ ok: false, code: "VALIDATION_ERROR" });
    expect(parseFrame(JSON.stringify({ type: "send_message", content: " ", client_id: "k" }))).toMatchObject({ ok: false, code: "VALIDATION_ERROR", client_id: "k" });
  });

  it("measures frame size in UTF-8 bytes", () => {
    expect(oversize("a".repeat(MAX_FRAME_BYTES))).toBe(false);
    expect(oversize("a".repeat(MAX_FRAME_BYTES + 1))).toBe(true);
    // 3 bytes a character in UTF-8: 22,000 characters are 66,000 bytes
    expect(oversize("中".repeat(22_000))).toBe(true);
    expect(oversize(new ArrayBuffer(MAX_FRAME_BYTES + 1))).toBe(true);
  });
});
