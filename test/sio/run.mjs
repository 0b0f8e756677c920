#!/usr/bin/env node
// `npm run test:sio` (also run by .ci/run): the stock socket.io-client against /socket.io/ under
// wrangler dev, for seed 000's and seed 002's events (PROTOCOL.md, "socket.io compatibility").
// Bounded: about 30 s, hard limit 3 minutes. Prints `N passed, M failed`; exits non-zero on failure.
import { io } from "socket.io-client";
import { setTimeout as sleep } from "node:timers/promises";
import { startWrangler, migrate, tempDir, installCleanup, cleanup, DEV_VARS } from "../../bench/lib/proc.mjs";
import { Api } from "../../bench/lib/api.mjs";

const HARD_LIMIT_MS = 180_000;
const TAG = Math.random().toString(36).slice(2, 7);
const results = [];
const clients = new Set();
installCleanup(() => clients.forEach((c) => c.disconnect()));
setTimeout(() => {
  console.error(`sio: hard time limit (${HARD_LIMIT_MS / 1000} s) reached`);
  clients.forEach((c) => c.disconnect());
  cleanup().finally(() => process.exit(1));
}, HARD_LIMIT_MS).unref();

async function check(name, fn) {
  try {
    const detail = await fn();
    results.push(true);
    console.log(`ok - ${name}${detail ? `: ${detail}` : ""}`);
  } catch (err) {
    results.push(false);
    console.log(`not ok - ${name}: ${err?.stack ?? err}`);
  }
}

function assert(cond, what) {
  if (!cond) throw new Error(what);
}

/** Resolves with the first `event` whose args satisfy `match`, within ms. */
function next(socket, event, match = () => true, ms = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      socket.off(event, on);
      reject(new Error(`no ${event} within ${ms} ms`));
    }, ms);
    const on = (...args) => {
      if (!match(...args)) return;
      clearTimeout(t);
      socket.off(event, on);
      resolve(args.length > 1 ? args : args[0]);
    };
    socket.on(event, on);
  });
}

const persist = tempDir("edge-im-sio-");
migrate(persist);
const server = await startWrangler({ label: "sio", persistTo: persist, vars: { ...DEV_VARS, SIO_PING_INTERVAL_MS: 500, WS_AUTH_TIMEOUT_MS: 3000 } });
const api = new Api(server.url);
const [a, b, c] = await Promise.all(["a", "b", "c"].map((n) => api.register(`sio_${n}_${TAG}`)));

function connect(user, extra = {}) {
  const socket = io(server.url, { transports: ["websocket"], auth: user ? { token: user.token } : undefined, reconnection: false, ...extra });
  clients.add(socket);
  return socket;
}

async function connected(user) {
  const s = connect(user);
  const hello = next(s, "connected");
  await next(s, "connect");
  await hello;
  return s;
}

await check("refuses a bad token and a missing one with connect_error", async () => {
  const bad = connect({ token: "nope" });
  const err = await next(bad, "connect_error");
  assert(/invalid or expired token/i.test(err.message), err.message);
  const none = connect(null);
  const err2 = await next(none, "connect_error");
  assert(/auth\.token/.test(err2.message), err2.message);
  bad.disconnect();
  none.disconnect();
  return err.message;
});

await check("refuses long-polling with a 400 that says to use the websocket transport", async () => {
  const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
  const body = await res.json();
  assert(res.status === 400 && body.success === false && /websocket/.test(body.error), `${res.status} ${JSON.stringify(body)}`);
});

const sa = await connected(a);
const sb = await connected(b);
const sc = await connected(c);

await check("keeps the connection through Engine.IO heartbeats", async () => {
  // 500 ms interval and timeout: a missing ping (client side) or pong (server side) closes within ~1 s
  await sleep(3000);
  assert(sa.connected && sb.connected, "a socket dropped");
});

await check("seed 000: joinRoom, message (ack + broadcast), typing, statusUpdate", async () => {
  const room = (await api.must("POST", "/rooms", { token: a.token, body: { name: `sio ${TAG}` } })).body.data;
  const roomId = room.id ?? room.room?.id;
  const joinedA = await sa.timeout(5000).emitWithAck("joinRoom", { room: roomId });
  assert(joinedA.success, JSON.stringify(joinedA));
  await sb.timeout(5000).emitWithAck("joinRoom", { room: roomId });
  const got = next(sb, "message", (m) => m.content === "Hello!");
  const ack = await sa.timeout(5000).emitWithAck("message", { room: roomId, content: "Hello!", type: "TEXT" });
  assert(ack.success && ack.message.seq >= 1, JSON.stringify(ack));
  const m = await got;
  assert(m.type === "TEXT" && m.room === roomId && m.senderId === a.id && m.sender.username === a.username && m.id === ack.message.id, JSON.stringify(m));
  const typing = next(sb, "typing", (t) => t.userId === a.id);
  sa.emit("typing", { room: roomId, isTyping: true });
  const t = await typing;
  assert(t.isTyping === true && t.room === roomId, JSON.stringify(t));
  const status = next(sa, "userStatus", (s) => s.userId === a.id);
  sa.emit("statusUpdate", { status: "BUSY" });
  assert((await status).status === "BUSY", "status");
  const bad = await sa.timeout(5000).emitWithAck("message", { room: roomId, content: "", type: "TEXT" });
  assert(bad.success === false && bad.error, JSON.stringify(bad));
  return `message seq ${ack.message.seq}`;
});

await check("seed 002: login, private_chat and unread_message to the recipient, with an ack to the sender", async () => {
  const login = next(sa, "login");
  sa.emit("login", a.id);
  assert(typeof (await login) === "string", "login answers with the socket id");
  const chat = next(sc, "private_chat", (d) => d.message === "hi c");
  const unread = next(sc, "unread_message", (id) => id === a.id);
  const ack = await sa.timeout(5000).emitWithAck("private_chat", { msgType: 0, message: "hi c", userId: { _id: a.id } }, a.id, c.id);
  assert(ack.success, JSON.stringify(ack));
  const d = await chat;
  await unread;
  assert(d.fromId === a.id && d.toId === c.id && d.msgType === 0 && d.userId._id === a.id, JSON.stringify(d));
  const refused = await sa.timeout(5000).emitWithAck("private_chat", { msgType: 7, message: "call" }, a.id, c.id);
  assert(refused.success === false, JSON.stringify(refused));
});

await check("seed 002: join_group and group_chat reach the other members with groupInfo", async () => {
  const group = (await api.must("POST", "/groups", { token: a.token, body: { name: `g ${TAG}`, join_policy: "open" } })).body.data.group;
  await api.must("POST", `/groups/${group.id}/join`, { token: c.token, body: {} });
  const joined = await sc.timeout(5000).emitWithAck("join_group", group.id);
  assert(joined.success, JSON.stringify(joined));
  const outsider = await sb.timeout(5000).emitWithAck("join_group", group.id);
  assert(outsider.success === false, "a non-member may not join_group");
  const chat = next(sc, "group_chat", (d) => d.message === "hello group");
  const unread = next(sc, "unread_message", (id) => id === group.id);
  await sa.timeout(5000).emitWithAck("group_chat", { msgType: 0, message: "hello group" }, a.id, group.id);
  const d = await chat;
  await unread;
  assert(d.toId === group.id && d.groupInfo._id === group.id && d.groupInfo.groupName === `g ${TAG}`, JSON.stringify(d));
});

await check("seed 002: apply_notice on a friend request, init_apply_notice counts, agree_apply on acceptance", async () => {
  const notice = next(sc, "apply_notice");
  const req = (await api.must("POST", "/friends/requests", { token: b.token, body: { user_id: c.id } })).body.data;
  const counts = await notice;
  assert(counts.friendNoticeNum === 1, JSON.stringify(counts));
  const init = next(sc, "init_apply_notice");
  sc.emit("init_apply_notice", c.id);
  assert((await init).friendNoticeNum === 1, "init counts");
  const agreed = next(sb, "agree_apply");
  const requestId = req.request?.id ?? req.id;
  await api.must("POST", `/friends/requests/${requestId}/accept`, { token: c.token, body: {} });
  await agreed;
});

await check("the whole protocol by name: sync replays what a socket missed, then sync_done", async () => {
  const dm = (await api.must("POST", "/conversations/dm", { token: a.token, body: { user_id: c.id } })).body.data.conversation.id;
  const replayed = [];
  const onReplay = (m) => m.replay && m.conversation_id === dm && replayed.push(m.seq);
  sc.on("message_received", onReplay);
  const done = next(sc, "sync_done");
  sc.emit("sync", { cursors: { [dm]: 0 } });
  await done;
  sc.off("message_received", onReplay);
  assert(replayed.length >= 1 && replayed[0] === 1, JSON.stringify(replayed));
  const unknown = await sc.timeout(5000).emitWithAck("Nonsense Event", {});
  assert(unknown.success === false && /Unknown event/.test(unknown.error), JSON.stringify(unknown));
  return `${replayed.length} replayed`;
});

await check("logout ends the session for good: the stock client, reconnection on, does not come back", async () => {
  const s = connect(b, { reconnection: true, reconnectionDelay: 100 });
  await next(s, "connect");
  const reason = next(s, "disconnect");
  s.emit("logout", b.id);
  const [why] = [await reason].flat();
  assert(why === "io server disconnect", `reason: ${why}`);
  await sleep(1000);
  assert(!s.connected && !s.active, "the client reconnected");
  const closed = next(sb, "disconnect");
  sb.emit("logout", b.id);
  await closed;
});

clients.forEach((s) => s.disconnect());
await cleanup();
const failed = results.filter((ok) => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
