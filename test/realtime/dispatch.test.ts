/// <reference types="vite/client" />
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CLIENT_FRAME_TYPES, MAX_FRAME_BYTES } from "../../src/protocol";
import { BASE, call, connect, makeConversation, setConfig, signup, sleep, type TestSocket, type TestUser } from "../helpers";

/** Every source file under src/, as text (Vite inlines them at build time). */
const sources = import.meta.glob("../../src/**/*.ts", { query: "?raw", import: "default", eager: true }) as Record<string, string>;
const DISPATCHER = "src/realtime/dispatch.ts";
const SCHEMAS = "src/protocol/client-frames.ts";
const quoted = CLIENT_FRAME_TYPES.join("|");

/**
 * Places where code branches on a client frame's type: a switch with two or more client frame
 * types among its cases, comparisons of `.type` with two or more of them (an if-chain; one alone
 * is a message type such as "call"), or an object literal keyed by two or more (a handler table).
 */
function branchesOnFrameType(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/switch\s*\(([^)]*)\)\s*\{/g)) {
    const body = source.slice(m.index! + m[0].length, m.index! + m[0].length + 20_000);
    const cases = new Set([...body.matchAll(new RegExp(`case\\s*["'](${quoted})["']\\s*:`, "g"))].map((c) => c[1]));
    if (cases.size >= 2) found.push(`switch (${m[1]}) over ${[...cases].join(", ")}`);
  }
  const compared = new Set([...source.matchAll(new RegExp(`\\.type\\s*[!=]==?\\s*["'](${quoted})["']`, "g"))].map((m) => m[1]));
  if (compared.size >= 2) found.push(`comparisons of .type with ${[...compared].join(", ")}`);
  // handler-like properties (`send_message: async (…) =>`, `join_room: function …`), wherever they sit
  const keys = new Set([...source.matchAll(new RegExp(`(?:^|[{,\\s])["']?(${quoted})["']?\\s*:\\s*(?:async\\b|\\(|function\\b|[a-z]\\w*\\s*=>)`, "gm"))].map((k) => k[1]));
  if (keys.size >= 2) found.push(`handler table keyed by ${[...keys].join(", ")}`);
  return found;
}

describe("one dispatcher", () => {
  it("is the only code in src/ that branches on a client frame's type, and every socket host uses it", () => {
    const files = Object.fromEntries(Object.entries(sources).map(([path, text]) => [path.replace(/^(\.\.\/)+/, ""), text]));
    expect(Object.keys(files).length).toBeGreaterThan(30);
    const elsewhere = Object.entries(files)
      .filter(([path]) => path !== DISPATCHER && path !== SCHEMAS)
      .flatMap(([path, text]) => branchesOnFrameType(text).map((b) => `${path}: ${b}`));
    expect(elsewhere).toEqual([]);
    // the dispatcher holds the one table, covering every client frame type
    expect(branchesOnFrameType(files[DISPATCHER])).toEqual([`handler table keyed by ${CLIENT_FRAME_TYPES.join(", ")}`]);
    for (const host of ["src/realtime/user-do.ts", "src/realtime/conversation-do.ts", "src/realtime/gateway.ts"]) {
      expect(files[host], host).toMatch(/import \{[^}]*\bdispatch\b[^}]*\} from "\.\/dispatch"/);
    }
    // socket.io sessions meter every packet with the same budget and strikes, and hand frames to the user connection's dispatcher
    expect(files["src/realtime/socketio.ts"]).toMatch(/\bmeter\(this\.budget/);
    expect(files["src/realtime/socketio.ts"]).toMatch(/\bstrike\(this\.budget\)/);
  });

  it("the check above finds the kinds of second dispatcher this project had before", () => {
    const oldUserDo = `switch (frame.type) {\n case "auth":\n return;\n case "ping":\n safeSend(ws, pong);\n }`;
    const oldGateway = `if (parsed.type === "ping") { server.send(pong) }\n if (parsed.type !== "auth" || typeof token !== "string") {}`;
    const table = `const handlers = {\n  send_message: async (f) => {\n    return f;\n  },\n  join_room: (f) => f,\n};`;
    expect(branchesOnFrameType(oldUserDo)).toHaveLength(1);
    expect(branchesOnFrameType(oldGateway)).toHaveLength(1);
    expect(branchesOnFrameType(`if (m.type === "call") return 6;`)).toEqual([]);
    expect(branchesOnFrameType(table)).toHaveLength(1);
    // a socket.io event named like one frame type is not a second dispatcher
    expect(branchesOnFrameType(`switch (event) { case "joinRoom": break; case "typing": break; }`)).toEqual([]);
  });
});

async function refusals(s: TestSocket, n: number, code: string) {
  const got = [];
  for (let i = 0; i < n; i++) got.push(await s.next((f) => f.success === false && f.code === code));
  return got;
}

describe("the same budget before authentication (seed 001's relay)", () => {
  it("closes a flood of frames sent before the auth frame with 1008, answering RATE_LIMITED first", async () => {
    const s = await connect();
    s.send({ type: "ping" });
    await s.next("pong");
    for (let i = 0; i < 200; i++) s.send({ type: "ping" });
    const limited = await s.next((f) => f.success === false);
    expect(limited).toMatchObject({ success: false, code: "RATE_LIMITED", error: expect.stringContaining("Rate limit") });
    expect((await s.closed).code).toBe(1008);
  });

  it("refuses oversize frames before authentication and closes a socket that keeps sending garbage with 1008", async () => {
    const s = await connect();
    s.send(JSON.stringify({ type: "auth", token: "x".repeat(MAX_FRAME_BYTES) }));
    expect(await s.next((f) => f.success === false)).toMatchObject({ code: "PAYLOAD_TOO_LARGE", error: expect.stringContaining("too large") });
    s.send("{not json");
    expect(await s.next((f) => f.success === false)).toEqual({ success: false, message: "Request failed", error: "Invalid JSON format", code: "MALFORMED_JSON" });
    for (let i = 0; i < 30; i++) s.send("{not json");
    expect((await s.closed).code).toBe(1008);
    // 2 refusals above, then strikes up to the 20th: the socket closed at once, not at the auth timeout
    expect(s.frames.filter((f) => f.success === false).length).toBeLessThanOrEqual(20);
  });

  it("answers frames other than auth and ping with UNAUTHORIZED (the REST code without a token), then still accepts the auth frame", async () => {
    const a = await signup();
    const s = await connect();
    s.send({ type: "send_message", content: "too early" });
    const early = await s.next((f) => f.success === false);
    const rest = await call("GET", "/conversations");
    expect(early).toMatchObject({ message: "Authentication required", code: rest.body.code });
    expect(rest.body.code).toBe("UNAUTHORIZED");
    s.send({ type: "auth", token: a.token });
    expect((await s.next("authenticated")).data!.user_id).toBe(a.id);
  });
});

/** A raw Engine.IO 4 socket to /socket.io/, read packet by packet. */
async function engineIo() {
  const res = await SELF.fetch(`${BASE}/socket.io/?EIO=4&transport=websocket`, { headers: { upgrade: "websocket" } });
  const ws = res.webSocket!;
  ws.accept();
  const packets: string[] = [];
  ws.addEventListener("message", (e) => {
    packets.push(e.data as string);
  });
  const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
  const events = () => packets.filter((p) => p.startsWith("42")).map((p) => JSON.parse(p.slice(2)) as [string, Record<string, unknown>]);
  return { ws, packets, closed, events };
}

describe("the same budget before socket.io CONNECT", () => {
  it("closes a flood before CONNECT with 1008, after a DISCONNECT packet and RATE_LIMITED errors", async () => {
    const s = await engineIo();
    for (let i = 0; i < 200; i++) s.ws.send(`42${JSON.stringify(["typing", { room: "x" }])}`);
    expect(await s.closed).toBe(1008);
    expect(s.packets[0]).toMatch(/^0\{/);
    expect(s.events().some(([name, arg]) => name === "error" && arg.code === "RATE_LIMITED")).toBe(true);
    expect(s.packets).toContain("41");
  });

  it("refuses oversize and malformed packets before CONNECT with their codes, and ends the session with 1008 on the 20th", async () => {
    const s = await engineIo();
    s.ws.send(`42${JSON.stringify(["message", { content: "x".repeat(MAX_FRAME_BYTES) }])}`);
    s.ws.send("42[not json");
    for (let i = 0; i < 18; i++) s.ws.send("42[not json");
    expect(await s.closed).toBe(1008);
    const errors = s.events().filter(([name]) => name === "error").map(([, arg]) => arg.code);
    expect(errors[0]).toBe("PAYLOAD_TOO_LARGE");
    expect(errors.slice(1)).toEqual(Array(19).fill("MALFORMED_JSON"));
  });

  it("keeps a well-behaved session under the budget working", async () => {
    const a = await signup();
    const s = await engineIo();
    s.ws.send(`40${JSON.stringify({ token: a.token })}`);
    for (let i = 0; i < 50 && !s.packets.some((p) => p.startsWith("40{")); i++) await sleep(50);
    expect(s.packets.find((p) => p.startsWith("40{"))).toBeTruthy();
    s.ws.send(`42${JSON.stringify(["statusUpdate", { status: "AWAY" }])}`);
    for (let i = 0; i < 50 && !s.events().some(([name]) => name === "userStatus"); i++) await sleep(50);
    expect(s.events().find(([name]) => name === "userStatus")?.[1]).toMatchObject({ userId: a.id, status: "AWAY" });
    s.ws.close(1000, "bye");
  });
});

async function authed(user: TestUser, query = "") {
  const s = await connect(`token=${user.token}${query ? `&${query}` : ""}`);
  await s.next("authenticated");
  return s;
}

describe("error frames carry the REST envelope's code for the same failure", () => {
  it("on user and bound sockets: not a member, invalid message, rejected content, read marks elsewhere", async () => {
    await setConfig({ sensitive_words: "forbiddenword", sensitive_send: false });
    const a = await signup();
    const b = await signup();
    const outsider = await signup();
    const group = await makeConversation(a, [b]);
    const theirs = await makeConversation(outsider, []);
    const user = await authed(a);
    const bound = await authed(a, `room_id=${group}`);

    const cases: { rest: () => Promise<{ body: { code: string } }>; frame: Record<string, unknown>; sockets: TestSocket[] }[] = [
      { rest: () => call("POST", `/conversations/${theirs}/messages`, { token: a.token, body: { content: "hi" } }), frame: { type: "send_message", conversation_id: theirs, content: "hi", client_id: "c1" }, sockets: [user] },
      { rest: () => call("POST", `/conversations/${group}/messages`, { token: a.token, body: { content: "  " } }), frame: { type: "send_message", conversation_id: group, content: "  ", client_id: "c2" }, sockets: [user, bound] },
      { rest: () => call("POST", `/conversations/${group}/messages`, { token: a.token, body: { content: "a forbiddenword here" } }), frame: { type: "send_message", conversation_id: group, content: "a forbiddenword here", client_id: "c3" }, sockets: [user, bound] },
      { rest: () => call("POST", `/conversations/${theirs}/read`, { token: a.token, body: { seq: 1 } }), frame: { type: "mark_read", conversation_id: theirs, seq: 1 }, sockets: [user] },
    ];
    for (const c of cases) {
      const rest = await c.rest();
      expect(rest.body.code, JSON.stringify(rest.body)).toMatch(/^[A-Z_]+$/);
      for (const s of c.sockets) {
        s.send(c.frame);
        const err = await s.next((f) => f.success === false);
        expect({ frame: c.frame, code: err.code }).toEqual({ frame: c.frame, code: rest.body.code });
        if (c.frame.client_id) expect(err.client_id).toBe(c.frame.client_id);
      }
    }
    // a bound socket refuses other conversations with a code too
    bound.send({ type: "typing", conversation_id: theirs });
    expect(await bound.next((f) => f.success === false)).toMatchObject({ code: "BAD_REQUEST", error: expect.stringContaining("bound to") });
    // and every error frame any socket got in this test carried a code
    for (const s of [user, bound]) expect(s.frames.filter((f) => f.success === false).every((f) => typeof f.code === "string")).toBe(true);
  });
});
