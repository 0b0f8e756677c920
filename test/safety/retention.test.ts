import { runInDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { files } from "../../src/db/schema";
import { conversationStub } from "../../src/realtime/push";
import { call, connect, db, expectError, makeConversation, send, setConfig, signup, testEnv, type TestUser } from "../helpers";

async function upload(user: TestUser, bytes: Uint8Array) {
  const form = new FormData();
  form.append("file", new File([bytes], "r.bin", { type: "application/octet-stream" }));
  form.append("purpose", "message");
  const res = await call("POST", "/files", { token: user.token, raw: form });
  if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.file as { id: string };
}

/** Backdates messages up to `seq` by `days` (their created_at, in the conversation's own SQLite). */
async function age(conversationId: string, seq: number, days: number) {
  const stub = testEnv.CONVERSATION.get(testEnv.CONVERSATION.idFromName(conversationId));
  await runInDurableObject(stub, (_o, state) => {
    state.storage.sql.exec("UPDATE messages SET created_at = ? WHERE seq <= ?", new Date(Date.now() - days * 86_400_000).toISOString(), seq);
  });
}

const purge = async (conversationId: string) => (await conversationStub(testEnv, conversationId).dataOp({ kind: "retention", conversationId })) as { ok: true; value: { purged: number } };
const historyOf = async (u: TestUser, c: string) => (await call("GET", `/conversations/${c}/messages?limit=100`, { token: u.token })).body.data;

describe("retention", () => {
  it("the owner's setting purges old messages and the files only they referenced, nothing newer; seqs go on", async () => {
    const [a, b] = [await signup(), await signup()];
    const group = await makeConversation(a, [b]);
    const oldFile = await upload(a, new Uint8Array([9, 9, 9]));
    const keptFile = await upload(a, new Uint8Array([7, 7, 7, 7]));
    await send(a, group, { type: "file", attachments: [oldFile.id] }); // 1
    await send(b, group, { content: "old text" }); // 2
    await send(a, group, { type: "file", attachments: [keptFile.id] }); // 3 (old, but its file is used again later)
    await send(b, group, { content: "new text" }); // 4
    await send(a, group, { type: "file", attachments: [keptFile.id] }); // 5
    await age(group, 3, 10);

    expectError(await call("PUT", `/groups/${group}/retention`, { token: b.token, body: { retention_days: 7 } }), 403);
    expectError(await call("PUT", `/groups/${group}/retention`, { token: a.token, body: { retention_days: -1 } }), 400);
    expectError(await call("PUT", `/groups/${group}/retention`, { token: a.token, body: { retention_days: "7" } }), 400);
    const set = await call("PUT", `/groups/${group}/retention`, { token: a.token, body: { retention_days: 7 } });
    expect(set.status).toBe(200);
    expect(set.body.data).toMatchObject({ group_id: group, retention_days: 7 });

    // the conversation's alarm purges in the background; poll for it
    const deadline = Date.now() + 20_000;
    while ((await historyOf(b, group)).history_start_seq !== 4) {
      if (Date.now() > deadline) throw new Error(`not purged: ${JSON.stringify(await historyOf(b, group))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const h = await historyOf(b, group);
    expect(h.messages.map((m: { seq: number }) => m.seq)).toEqual([4, 5]);
    expect(h.last_seq).toBe(5);
    expectError(await call("GET", `/files/${oldFile.id}`, { token: a.token }), 404);
    expect((await db().select().from(files).where(eq(files.id, oldFile.id)).get())!.deletedAt).not.toBeNull();
    expect((await call("GET", `/files/${keptFile.id}`, { token: b.token })).status).toBe(200);
    // seq goes on from where it was, gap-free
    expect((await send(b, group, { content: "after" })).body.data.seq).toBe(6);
    // sync from before the start says where history now starts
    const s = await connect(`token=${b.token}`);
    await s.next("authenticated");
    s.send({ type: "sync", cursors: { [group]: 0 } });
    expect((await s.next("history_start")).data).toMatchObject({ conversation_id: group, history_start_seq: 4 });
    expect((await s.next((f) => f.data?.type === "message_received" && f.data.replay)).data?.seq).toBe(4);
    s.close();
  });

  it("the operator default applies when the group has none; everything expired still keeps seq going", async () => {
    const [a, b] = [await signup(), await signup()];
    const group = await makeConversation(a, [b]);
    await send(a, group, { content: "one" });
    await send(a, group, { content: "two" });
    await age(group, 2, 40);
    await setConfig({ message_retention_days: 30 });
    try {
      expect((await purge(group)).value.purged).toBe(2);
      const h = await historyOf(b, group);
      expect(h).toMatchObject({ messages: [], history_start_seq: 3, last_seq: 2 });
      expect((await send(a, group, { content: "three" })).body.data.seq).toBe(3);
      // nothing newer goes
      expect((await purge(group)).value.purged).toBe(0);
      expect((await historyOf(b, group)).messages.map((m: { content: string }) => m.content)).toEqual(["three"]);
    } finally {
      await setConfig({ message_retention_days: 0 });
    }
  });

  it("0 keeps everything", async () => {
    const [a, b] = [await signup(), await signup()];
    const group = await makeConversation(a, [b]);
    await send(a, group, { content: "ancient" });
    await age(group, 1, 4000);
    expect((await purge(group)).value.purged).toBe(0);
    expect((await historyOf(b, group)).history_start_seq).toBe(1);
  });
});
