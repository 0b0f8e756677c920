import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { EdgeIm, EdgeImError, type Message, type OpenSocket, type Realtime, type SocketLike } from "../../sdk/edge-im";
import { signAccessToken } from "../../src/lib/jwt";
import { BASE, call, makeConversation, sleep, testEnv, uniq, type TestUser } from "../helpers";

/** The SDK as an app uses it, with the Worker's fetch and real WebSockets through it. */
const openSocket: OpenSocket = async (url) => {
  const res = await SELF.fetch(url.replace(/^ws/, "http"), { headers: { upgrade: "websocket" } });
  if (!res.webSocket) throw new Error(`no socket: ${res.status}`);
  res.webSocket.accept();
  return res.webSocket as unknown as SocketLike;
};
const client = (sessions?: unknown[]) => new EdgeIm({ baseUrl: BASE, fetch: (input, init) => SELF.fetch(input, init), openSocket, onSession: (s) => sessions?.push(s) });

async function account() {
  const sdk = client();
  await sdk.register({ username: uniq("sdk"), password: "pass-word-1" });
  return sdk;
}
const asUser = (sdk: EdgeIm): TestUser => ({ id: sdk.session!.id, username: sdk.session!.username, token: sdk.session!.token, refresh_token: sdk.session!.refresh_token, password: "" });

/** Collects a connection's messages; resolves `until` once n have arrived. */
function collect(rt: Realtime) {
  const got: Message[] = [];
  rt.on<Message>("message", (m) => got.push(m));
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
  it("signs up, calls the API, maps errors, and refreshes an expired token once", async () => {
    const sessions: unknown[] = [];
    const sdk = client(sessions);
    const s = await sdk.register({ username: uniq("sdk"), password: "pass-word-1" });
    expect(sessions).toHaveLength(1);
    expect((await sdk.request<{ user: { id: string } }>("GET", "/users/me")).user.id).toBe(s.id);
    const err = await sdk.request("GET", "/users/user_0000000000missing00").catch((e) => e);
    expect(err).toBeInstanceOf(EdgeImError);
    expect(err).toMatchObject({ status: 404, code: "NOT_FOUND" });

    sdk.session = { ...s, token: await signAccessToken(testEnv, { sub: s.id, username: s.username, sid: "x" }, "access", -10) };
    expect((await sdk.request<{ user: { id: string } }>("GET", "/users/me")).user.id).toBe(s.id);
    expect(sessions).toHaveLength(2);
    expect(sdk.session!.refresh_token).not.toBe(s.refresh_token);
    await sdk.logout();
    expect(sdk.session).toBeNull();
    expect((await sdk.request("GET", "/users/me").catch((e) => e)).status).toBe(401);
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
