import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { EdgeIm, EdgeImError, OPENAPI_SHA256, type Message, type OpenSocket, type Realtime, type SocketLike } from "../../sdk/src/index";
import { signAccessToken } from "../../src/lib/jwt";
import { BASE, call, makeConversation, sleep, testEnv, uniq, type TestUser } from "../helpers";

/** Every socket URL the SDK opened (none may carry a token). */
const socketUrls: string[] = [];
/** The SDK as an app uses it, with the Worker's fetch and real WebSockets through it. */
const openSocket: OpenSocket = async (url) => {
  socketUrls.push(url);
  const res = await SELF.fetch(url.replace(/^ws/, "http"), { headers: { upgrade: "websocket" } });
  if (!res.webSocket) throw new Error(`no socket: ${res.status}`);
  res.webSocket.accept();
  return res.webSocket as unknown as SocketLike;
};
const workerFetch: typeof fetch = (input, init) => SELF.fetch(input, init);
const client = (sessions?: unknown[], fetcher = workerFetch) => new EdgeIm({ baseUrl: BASE, fetch: fetcher, openSocket, onSession: (s) => sessions?.push(s) });

async function account() {
  const sdk = client();
  await sdk.register({ username: uniq("sdk"), password: "pass-word-1" });
  return sdk;
}
const asUser = (sdk: EdgeIm): TestUser => ({ id: sdk.session!.id, username: sdk.session!.username, token: sdk.session!.token, refresh_token: sdk.session!.refresh_token, password: "" });

/** Collects a connection's messages; resolves `until` once n have arrived. */
function collect(rt: Realtime) {
  const got: Message[] = [];
  rt.on("message", (m) => got.push(m));
  return {
    got,
    async until(n: number, ms = 5000) {
      const end = Date.now() + ms;
      while (got.length < n && Date.now() < end) await sleep(20);
      return got;
    },
  };
}

describe("sdk: REST", () => {
  it("signs up, makes typed calls, maps errors, and refreshes an expired token once", async () => {
    const sessions: unknown[] = [];
    const sdk = client(sessions);
    const s = await sdk.register({ username: uniq("sdk"), password: "pass-word-1" });
    expect(sessions).toHaveLength(1);
    expect((await sdk.data(sdk.api.GET("/users/me"))).user.id).toBe(s.id);
    const err = await sdk.data(sdk.api.GET("/users/{user_id}", { params: { path: { user_id: "user_0000000000missing00" } } })).catch((e) => e);
    expect(err).toBeInstanceOf(EdgeImError);
    expect(err).toMatchObject({ status: 404, code: "NOT_FOUND" });
    const invalid = await sdk.data(sdk.api.POST("/groups", { body: { name: "" } as never })).catch((e) => e);
    expect(invalid).toMatchObject({ status: 400, code: "VALIDATION_ERROR" });

    sdk.session = { ...s, token: await signAccessToken(testEnv, { sub: s.id, username: s.username, sid: "x" }, "access", -10) };
    expect((await sdk.data(sdk.api.GET("/users/me"))).user.id).toBe(s.id);
    expect(sessions).toHaveLength(2);
    expect(sdk.session!.refresh_token).not.toBe(s.refresh_token);
    // a body survives the retry after a refresh
    sdk.session = { ...sdk.session!, token: await signAccessToken(testEnv, { sub: s.id, username: s.username, sid: "x" }, "access", -10) };
    const group = await sdk.data(sdk.api.POST("/groups", { body: { name: "after refresh" } }));
    expect(group.group.name).toBe("after refresh");
    expect(sessions).toHaveLength(3);
    await sdk.logout();
    expect(sdk.session).toBeNull();
    expect((await sdk.data(sdk.api.GET("/users/me")).catch((e) => e)).status).toBe(401);
  });

  it("a refused refresh token signs the client out", async () => {
    const sessions: unknown[] = [];
    const sdk = client(sessions);
    const s = await sdk.register({ username: uniq("sdk"), password: "pass-word-1" });
    sdk.session = { ...s, token: await signAccessToken(testEnv, { sub: s.id, username: s.username, sid: "x" }, "access", -10), refresh_token: "not-a-refresh-token" };
    expect(await sdk.data(sdk.api.GET("/users/me")).catch((e) => e)).toMatchObject({ status: 401 });
    expect(sdk.session).toBeNull();
    expect(sessions.at(-1)).toBeNull();
  });

  it("its REST types were generated from the document the Worker serves (not stale)", async () => {
    const res = await SELF.fetch(`${BASE}/api/v1/openapi.json`);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(await res.text()));
    const sha = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    // stale: the build regenerates sdk/src/openapi.ts (npm test and npm start run it; or npm run build:sdk)
    expect(sha).toBe(OPENAPI_SHA256);
  });
});

describe("sdk: uploads", () => {
  it("uploads a small file in one request, reporting progress", async () => {
    const sdk = await account();
    const seen: number[] = [];
    const file = new File([new Uint8Array(1000).fill(7)], "small.bin", { type: "application/octet-stream" });
    const stored = await sdk.upload(file, { purpose: "other", onProgress: (n) => seen.push(n) });
    expect(stored).toMatchObject({ name: "small.bin", size: 1000 });
    expect(seen.at(-1)).toBe(1000);
    const res = await SELF.fetch(`${BASE}${stored.download_url}`);
    expect((await res.arrayBuffer()).byteLength).toBe(1000);
  });

  it("uploads a big file in parts and resumes an interrupted upload with only the missing parts", async () => {
    const MiB = 1024 * 1024;
    const bytes = new Uint8Array(5 * MiB + 4321);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i % 251;
    const file = new File([bytes], "big.bin", { type: "application/octet-stream" });
    const parts: string[] = [];
    let failPart2 = true;
    const flaky: typeof fetch = async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      const m = /\/uploads\/[^/]+\/parts\/(\d+)$/.exec(url);
      if (m) {
        parts.push(m[1]);
        if (m[1] === "2" && failPart2) {
          failPart2 = false;
          throw new TypeError("network went away");
        }
      }
      return SELF.fetch(input, init);
    };
    const sdk = client(undefined, flaky);
    await sdk.register({ username: uniq("sdk"), password: "pass-word-1" });
    const store = new Map<string, string>();
    const resumeStore = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v), removeItem: (k: string) => void store.delete(k) };
    await expect(sdk.upload(file, { purpose: "other", resumeStore, partSize: 5 * MiB })).rejects.toThrow(/network went away/);
    expect(parts).toEqual(["1", "2"]);
    expect(store.size).toBe(1);

    const progress: number[] = [];
    const stored = await sdk.upload(file, { purpose: "other", resumeStore, partSize: 5 * MiB, onProgress: (n) => progress.push(n) });
    expect(parts).toEqual(["1", "2", "2"]); // part 1 was not sent again
    expect(progress[0]).toBe(5 * MiB); // resumed from what the server had
    expect(progress.at(-1)).toBe(file.size);
    expect(stored).toMatchObject({ name: "big.bin", size: file.size });
    expect(store.size).toBe(0);
    const res = await SELF.fetch(`${BASE}${stored.download_url}`);
    const hash = async (b: ArrayBuffer | Uint8Array) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", b))].join(",");
    expect(await hash(await res.arrayBuffer())).toBe(await hash(bytes));
  });
});

describe("sdk: instant upload with proof of possession", () => {
  it("answers the server's challenge from the file's bytes and sends no parts", async () => {
    const bytes = new Uint8Array(200_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + 5) & 0xff;
    const first = await account();
    const original = await first.upload(new File([bytes], "orig.bin", { type: "application/octet-stream" }), { purpose: "other" });
    const calls: string[] = [];
    const spy: typeof fetch = async (input, init) => {
      const req = new Request(input, init);
      calls.push(`${req.method} ${new URL(req.url).pathname.replace(/\/upl_[0-9a-z]+/, "/{id}")}`);
      return SELF.fetch(req);
    };
    const sdk = client(undefined, spy);
    await sdk.register({ username: uniq("sdk"), password: "pass-word-1" });
    const progress: number[] = [];
    const stored = await sdk.upload(new File([bytes], "mine.bin", { type: "application/octet-stream" }), { purpose: "other", chunkedAbove: 0, resumeStore: null, onProgress: (n) => progress.push(n) });
    expect(stored).toMatchObject({ name: "mine.bin", size: bytes.length, owner_id: sdk.session!.id, sha256: original.sha256 });
    expect(stored.id).not.toBe(original.id);
    expect(calls.filter((c) => c.includes("/uploads"))).toEqual(["POST /api/v1/uploads", "POST /api/v1/uploads/{id}/proof"]);
    expect(progress.at(-1)).toBe(bytes.length);
    const res = await SELF.fetch(`${BASE}${stored.download_url}`);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  it("a refused answer falls back to sending the parts", async () => {
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
    const first = await account();
    await first.upload(new File([bytes], "orig.bin"), { purpose: "other" });
    const calls: string[] = [];
    // the answer is corrupted on the way: the server refuses it (409) and the upload goes on
    const tamper: typeof fetch = async (input, init) => {
      const req = new Request(input, init);
      calls.push(`${req.method} ${new URL(req.url).pathname.replace(/\/upl_[0-9a-z]+/, "/{id}")}`);
      if (!req.url.endsWith("/proof")) return SELF.fetch(req);
      const body = (await req.text()).replace(/[0-9a-f]{8}"/, '00000000"');
      return SELF.fetch(new Request(req.url, { method: req.method, headers: req.headers, body }));
    };
    const sdk = client(undefined, tamper);
    await sdk.register({ username: uniq("sdk"), password: "pass-word-1" });
    const stored = await sdk.upload(new File([bytes], "mine.bin"), { purpose: "other", chunkedAbove: 0, resumeStore: null });
    expect(calls.filter((c) => c.includes("/uploads"))).toEqual(["POST /api/v1/uploads", "POST /api/v1/uploads/{id}/proof", "PUT /api/v1/uploads/{id}/parts/1", "POST /api/v1/uploads/{id}/complete"]);
    const res = await SELF.fetch(`${BASE}${stored.download_url}`);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });
});

/** Two accounts in a room, each on a bound connection; `seen` collects what b receives. */
async function roomPair() {
  const a = await account();
  const b = await account();
  const room = await makeConversation(asUser(a), [asUser(b)], { kind: "room" });
  const ra = a.realtime({ conversationId: room });
  const rb = b.realtime({ conversationId: room });
  await Promise.all([ra.start(), rb.start()]);
  return { a, b, room, ra, rb, seen: collect(rb) };
}

describe("sdk: realtime", () => {
  it("opens sockets with a single-use ticket, never a token in the URL", async () => {
    const before = socketUrls.length;
    const { a, ra, rb } = await roomPair();
    const urls = socketUrls.slice(before);
    expect(urls).toHaveLength(2);
    for (const url of urls) {
      const q = new URL(url).searchParams;
      expect(q.get("ticket")).toMatch(/^user_[0-9a-z]+\./);
      expect(q.has("token")).toBe(false);
      expect(url).not.toContain(a.session!.token);
    }
    // a used ticket does not open a second socket
    const res = await SELF.fetch(urls[0].replace(/^ws/, "http"), { headers: { upgrade: "websocket" } });
    res.webSocket?.accept();
    const first = await new Promise<string>((resolve) => res.webSocket?.addEventListener("message", (e) => resolve(String(e.data))));
    expect(JSON.parse(first)).toMatchObject({ success: false, error: "Invalid or expired token" });
    ra.close();
    rb.close();
  });

  it("sends with acknowledgement and delivers every message once, in order", async () => {
    const { a, room, ra, rb, seen } = await roomPair();
    const sent = await Promise.all(Array.from({ length: 8 }, (_, i) => ra.send(room, { content: `m${i}` })));
    expect(new Set(sent.map((m) => m.seq)).size).toBe(8);
    expect((await seen.until(8)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const bad = await ra.send(room, { content: "" }).catch((e) => e);
    expect(bad).toBeInstanceOf(EdgeImError);
    // the same client_id while pending is the same send
    const once = ra.send(room, { content: "once", client_id: "sdk-same-1" });
    expect(ra.send(room, { content: "once", client_id: "sdk-same-1" })).toBe(once);
    await once;
    ra.close();
    rb.close();
  });

  it("catches up after a dropped connection and resends what was not acknowledged, exactly once", async () => {
    const { a, room, ra, rb, seen } = await roomPair();
    await ra.send(room, { content: "before" });
    await seen.until(1);

    // b drops; a keeps sending; b comes back on its own and syncs from its cursor
    const reopened = new Promise((r) => rb.on("synced", r));
    (rb as unknown as { socket: SocketLike }).socket.close(1000, "network went away");
    for (let i = 0; i < 5; i++) await ra.send(room, { content: `while away ${i}` });
    await reopened;
    expect((await seen.until(6)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);

    // a drops with a send in flight: it is sent again after the reconnect and stored once
    (ra as unknown as { socket: SocketLike }).socket.close(1000, "network went away");
    const late = await ra.send(room, { content: "sent while down", client_id: "sdk-retry-1" });
    expect(late.seq).toBe(7);
    expect((await seen.until(7)).map((m) => m.content)).toContain("sent while down");
    const history = await call("GET", `/conversations/${room}/messages`, { token: a.session!.token });
    expect(history.body.data.messages.filter((m: { client_id: string }) => m.client_id === "sdk-retry-1")).toHaveLength(1);
    ra.close();
    rb.close();
  });

  it("holds a frame that arrives ahead of a gap until the gap is filled", async () => {
    const sdk = await account();
    const rt = sdk.realtime({ cursors: { dm_x: 3 } });
    const seen = collect(rt);
    const frame = (seq: number) => JSON.stringify({ success: true, data: { type: "message_received", conversation_id: "dm_x", seq, id: `msg_${seq}`, content: `${seq}` } });
    const onFrame = (rt as unknown as { onFrame(raw: string): void }).onFrame.bind(rt);
    onFrame(frame(5));
    onFrame(frame(3)); // already had
    expect(seen.got).toEqual([]);
    onFrame(frame(4));
    onFrame(frame(5)); // again
    expect(seen.got.map((m) => m.seq)).toEqual([4, 5]);
    expect(rt.cursors.get("dm_x")).toBe(5);
    rt.close();
  });

  it("starts a new conversation at the lowest seq heard, and skips what a sync says can never come", async () => {
    const sdk = await account();
    const shared = new Map([["grp_hidden", 0]]);
    const rt = sdk.realtime({ cursors: shared });
    const seen = collect(rt);
    const frame = (c: string, seq: number) => JSON.stringify({ success: true, data: { type: "message_received", conversation_id: c, seq, id: `msg_${c}${seq}` } });
    const onFrame = (rt as unknown as { onFrame(raw: string): void }).onFrame.bind(rt);
    // no cursor: 8 then 7 in the first moment → 7, 8
    onFrame(frame("dm_new", 8));
    onFrame(frame("dm_new", 7));
    await sleep(400);
    expect(seen.got.map((m) => m.seq)).toEqual([7, 8]);
    // cursor 0 in a group whose history before my join is hidden: replay starts at 101
    onFrame(frame("grp_hidden", 101));
    onFrame(frame("grp_hidden", 102));
    onFrame(JSON.stringify({ success: true, data: { type: "sync_done", conversations: { grp_hidden: 102 } } }));
    expect(seen.got.map((m) => m.seq)).toEqual([7, 8, 101, 102]);
    expect(shared.get("grp_hidden")).toBe(102);
    rt.close();
    await expect(rt.send("dm_new", { content: "x" })).rejects.toThrow(/not started/);
  });
});
