import { describe, expect, it } from "vitest";
import { blocks, friendships } from "../../src/db/schema";
import { call, db, expectError, signup, type TestUser } from "../helpers";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 1, 2, 3, 4]);

async function befriend(a: TestUser, b: TestUser) {
  await db().insert(friendships).values([{ userId: a.id, friendId: b.id }, { userId: b.id, friendId: a.id }]);
}

async function photo(user: TestUser, seed = 0) {
  const form = new FormData();
  form.append("file", new File([PNG, new Uint8Array([seed])], "p.png", { type: "image/png" }));
  form.append("purpose", "moment");
  const res = await call("POST", "/files", { token: user.token, raw: form });
  return res.body.data.file.id as string;
}

const post = (user: TestUser, body: Record<string, unknown>) => call("POST", "/moments", { token: user.token, body });
const feedOf = async (user: TestUser, query = "") => (await call("GET", `/moments/feed${query}`, { token: user.token })).body.data;

describe("moments", () => {
  it("posts text and photos; my friends see them in their feed by cursor, strangers do not", async () => {
    const a = await signup();
    const friend = await signup();
    const stranger = await signup();
    await befriend(a, friend);
    const p1 = await photo(a, 1);
    const first = await post(a, { text: "hello moments", photos: [p1] });
    expect(first.status).toBe(201);
    const m = first.body.data.moment;
    expect(m).toMatchObject({ text: "hello moments", visibility: "friends", like_count: 0, comment_count: 0, is_liked: false, user: { id: a.id } });
    expect(m.photos).toHaveLength(1);
    // the photo's signed url downloads for a friend's <img>
    expect((await call("GET", m.photos[0].url)).status).toBe(200);
    expect((await call("GET", `/files/${p1}`, { token: friend.token })).status).toBe(200);

    for (let i = 0; i < 4; i++) await post(a, { text: `post ${i}` });
    await post(friend, { text: "from the friend" });
    const page1 = await feedOf(friend, "?limit=3");
    expect(page1.moments.map((x: { text: string }) => x.text)).toEqual(["from the friend", "post 3", "post 2"]);
    const page2 = await feedOf(friend, `?limit=3&cursor=${page1.next_cursor}`);
    expect(page2.moments.map((x: { text: string }) => x.text)).toEqual(["post 1", "post 0", "hello moments"]);
    expect(page2.next_cursor).toBeNull();

    expect((await feedOf(stranger)).moments).toEqual([]);
    expect((await feedOf(stranger, `?user_id=${a.id}`)).moments).toEqual([]);
    expectError(await call("GET", `/moments/${m.id}`, { token: stranger.token }), 404);
    expectError(await call("GET", `/files/${p1}`, { token: stranger.token }), 403);
    expect((await feedOf(friend, `?user_id=${a.id}`)).moments).toHaveLength(5);
    const page = (await call("GET", `/users/${a.id}/moments?limit=2`, { token: friend.token })).body.data;
    expect(page.moments.map((x: { text: string }) => x.text)).toEqual(["post 3", "post 2"]);
    expect((await call("GET", `/users/${a.id}/moments`, { token: stranger.token })).body.data.moments).toEqual([]);
  });

  it("keeps private moments private and shows public ones to everyone but the blocked", async () => {
    const a = await signup();
    const friend = await signup();
    const stranger = await signup();
    const blocked = await signup();
    await befriend(a, friend);
    await db().insert(blocks).values({ userId: a.id, blockedUserId: blocked.id });
    const secret = (await post(a, { text: "diary", visibility: "private" })).body.data.moment;
    const open = (await post(a, { text: "hello world", visibility: "public", photos: [await photo(a, 2)] })).body.data.moment;
    expect((await feedOf(friend)).moments.map((x: { id: string }) => x.id)).toEqual([open.id]);
    expectError(await call("GET", `/moments/${secret.id}`, { token: friend.token }), 404);
    expect((await feedOf(a)).moments.map((x: { id: string }) => x.id)).toEqual([open.id, secret.id]);
    // a public moment is on the author's page for anyone, not in strangers' feeds
    expect((await feedOf(stranger)).moments).toEqual([]);
    expect((await feedOf(stranger, `?user_id=${a.id}`)).moments.map((x: { id: string }) => x.id)).toEqual([open.id]);
    expect((await call("GET", `/files/${open.photos[0].id}`, { token: stranger.token })).status).toBe(200);
    expectError(await call("GET", `/moments/${open.id}`, { token: blocked.token }), 404);
    expect((await feedOf(blocked, `?user_id=${a.id}`)).moments).toEqual([]);
  });

  it("likes and comments: idempotent likes, replies, notifications, and who may delete", async () => {
    const a = await signup();
    const b = await signup();
    const c = await signup();
    const outsider = await signup();
    await befriend(a, b);
    await befriend(a, c);
    const m = (await post(a, { text: "like me" })).body.data.moment;

    const liked = await call("PUT", `/moments/${m.id}/like`, { token: b.token });
    expect(liked.body.data.moment).toMatchObject({ like_count: 1, is_liked: true });
    expect((await call("PUT", `/moments/${m.id}/like`, { token: b.token })).body.data.moment.like_count).toBe(1);
    expectError(await call("PUT", `/moments/${m.id}/like`, { token: outsider.token }), 404);
    const notes = (await call("GET", "/notifications", { token: a.token })).body.data.notifications;
    expect(notes.filter((n: { kind: string }) => n.kind === "moment_liked")).toHaveLength(1);

    const cmt = await call("POST", `/moments/${m.id}/comments`, { token: b.token, body: { text: "nice" } });
    expect(cmt.status).toBe(201);
    const cmtId = cmt.body.data.comment.id;
    // the author replies to b; b hears it
    const reply = await call("POST", `/moments/${m.id}/comments`, { token: a.token, body: { text: "thanks", reply_to: cmtId } });
    expect(reply.body.data.comment).toMatchObject({ reply_to: cmtId, reply_to_user: { id: b.id } });
    const bNotes = (await call("GET", "/notifications", { token: b.token })).body.data.notifications;
    expect(bNotes.some((n: { kind: string; data: { text: string } }) => n.kind === "moment_commented" && n.data.text === "thanks")).toBe(true);
    // b and c are not friends: c cannot see b's comment, so cannot reply to it
    expectError(await call("POST", `/moments/${m.id}/comments`, { token: c.token, body: { text: "me too", reply_to: cmtId } }), 400);
    const own = await call("POST", `/moments/${m.id}/comments`, { token: c.token, body: { text: "agreed" } });
    expect(own.body.data.moment.comment_count).toBe(3);
    // each sees their own comments, the author's and their friends' (the count is everyone's)
    const textsFor = async (u: TestUser) => (await call("GET", `/moments/${m.id}`, { token: u.token })).body.data.moment.comments.map((x: { text: string }) => x.text);
    expect(await textsFor(b)).toEqual(["nice", "thanks"]);
    expect(await textsFor(c)).toEqual(["thanks", "agreed"]);
    expect(await textsFor(a)).toEqual(["nice", "thanks", "agreed"]);

    expectError(await call("POST", `/moments/${m.id}/comments`, { token: b.token, body: { text: "" } }), 400);
    expectError(await call("POST", `/moments/${m.id}/comments`, { token: b.token, body: { text: "x", reply_to: "cmt_0000000000missing000" } }), 400);
    expectError(await call("POST", `/moments/${m.id}/comments`, { token: outsider.token, body: { text: "x" } }), 404);
    const cId = own.body.data.comment.id;
    expectError(await call("DELETE", `/moments/${m.id}/comments/${cId}`, { token: b.token }), 403);
    expect((await call("DELETE", `/moments/${m.id}/comments/${cId}`, { token: a.token })).body.data.moment.comment_count).toBe(2);
    expect((await call("DELETE", `/moments/${m.id}/comments/${cmtId}`, { token: b.token })).status).toBe(200);
    expectError(await call("DELETE", `/moments/${m.id}/comments/${cId}`, { token: a.token }), 404);

    expect((await call("DELETE", `/moments/${m.id}/like`, { token: b.token })).body.data.moment).toMatchObject({ like_count: 0, is_liked: false });
    expectError(await call("DELETE", `/moments/${m.id}`, { token: b.token }), 403);
    expect((await call("DELETE", `/moments/${m.id}`, { token: a.token })).body.data.deleted).toBe(true);
    expectError(await call("GET", `/moments/${m.id}`, { token: a.token }), 404);
  });

  it("refuses bad moments", async () => {
    const a = await signup();
    const b = await signup();
    const theirs = await photo(b, 3);
    const form = new FormData();
    form.append("file", new File(["%PDF-1.4"], "x.pdf", { type: "application/pdf" }));
    const pdf = (await call("POST", "/files", { token: a.token, raw: form })).body.data.file.id;
    const bad: Record<string, unknown>[] = [
      {},
      { text: "   " },
      { photos: [theirs] },
      { photos: [pdf] },
      { photos: ["file_0000000000missing000"] },
      { text: "x", photos: Array(10).fill(theirs) },
      { text: "x", visibility: "everyone" },
      { text: "x", extra: 1 },
      { text: "x".repeat(5001) },
    ];
    for (const body of bad) {
      const res = await post(a, body);
      if (res.status !== 400) throw new Error(`${JSON.stringify(body)} → ${res.status}`);
      expectError(res, 400);
    }
    expectError(await call("POST", "/moments", { body: { text: "x" } }), 401);
    expectError(await call("GET", "/moments/feed?cursor=nope", { token: a.token }), 400);
    expectError(await call("GET", "/moments/nope", { token: a.token }), 400);
  });
});

describe("notes", () => {
  it("adds, pages 12 at a time, edits and deletes my notes only", async () => {
    const a = await signup();
    const b = await signup();
    for (let i = 0; i < 14; i++) expect((await call("POST", "/notes", { token: a.token, body: { text: `note ${i}`, color: "#FBDC7C" } })).status).toBe(201);
    const page1 = (await call("GET", "/notes", { token: a.token })).body.data;
    expect(page1.notes).toHaveLength(12);
    expect(page1.notes[0]).toMatchObject({ text: "note 13", color: "#fbdc7c" });
    const page2 = (await call("GET", `/notes?cursor=${page1.next_cursor}`, { token: a.token })).body.data;
    expect(page2.notes.map((n: { text: string }) => n.text)).toEqual(["note 1", "note 0"]);
    expect(page2.next_cursor).toBeNull();
    expect((await call("GET", "/notes", { token: b.token })).body.data.notes).toEqual([]);

    const id = page1.notes[0].id;
    expect((await call("PATCH", `/notes/${id}`, { token: a.token, body: { color: "#000000" } })).body.data.note).toMatchObject({ text: "note 13", color: "#000000" });
    expectError(await call("PATCH", `/notes/${id}`, { token: b.token, body: { text: "mine" } }), 404);
    expectError(await call("PATCH", `/notes/${id}`, { token: a.token, body: {} }), 400);
    expectError(await call("PATCH", `/notes/${id}`, { token: a.token, body: { color: "red" } }), 400);
    expectError(await call("POST", "/notes", { token: a.token, body: { text: "" } }), 400);
    expectError(await call("POST", "/notes", { body: { text: "x" } }), 401);
    expectError(await call("DELETE", `/notes/${id}`, { token: b.token }), 404);
    expect((await call("DELETE", `/notes/${id}`, { token: a.token })).body.data.deleted).toBe(true);
    expectError(await call("DELETE", `/notes/${id}`, { token: a.token }), 404);
    expect((await call("POST", "/notes", { token: a.token, body: { text: "default colour" } })).body.data.note.color).toBe("#fff5a8");
  });
});
