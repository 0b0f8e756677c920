import { SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { unzipSync, strFromU8 } from "fflate";
import { describe, expect, it } from "vitest";
import { accountJobs } from "../../src/db/schema";
import { jobStub } from "../../src/jobs/jobs";
import { BASE, call, db, expectError, makeConversation, openDm, send, signup, testEnv, type TestUser } from "../helpers";

async function upload(user: TestUser, bytes: Uint8Array, name: string) {
  const form = new FormData();
  form.append("file", new File([bytes], name, { type: "application/octet-stream" }));
  form.append("purpose", "message");
  const res = await call("POST", "/files", { token: user.token, raw: form });
  if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.file as { id: string };
}

/** Polls the export until it is done, recording every progress value seen on the way. */
async function watch(user: TestUser, ms = 60_000) {
  const seen: number[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await call("GET", "/users/me/export", { token: user.token });
    const e = res.body.data.export;
    if (!seen.length || seen[seen.length - 1] !== e.progress) seen.push(e.progress);
    if (e.state === "done") return { e, seen };
    if (e.state === "failed" || Date.now() > deadline) throw new Error(`export did not finish: ${JSON.stringify(e)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("data export", () => {
  it("an archive with my note, a message I sent and a file's exact bytes, with progress on the way", async () => {
    const [a, b] = [await signup(), await signup()];
    const bytes = new Uint8Array(200_000);
    for (let i = 0; i < bytes.length; i += 65_536) crypto.getRandomValues(bytes.subarray(i, i + 65_536));
    const file = await upload(a, bytes, "report.bin");
    await call("POST", "/notes", { token: a.token, body: { text: "remember the milk", color: "#ffcc00" } });
    const dm = await openDm(a, b);
    await send(a, dm, { content: "exported hello" });
    await send(b, dm, { content: "not mine" });
    const group = await makeConversation(b, [a]);
    for (let i = 0; i < 3; i++) await send(a, group, { content: `group ${i}` });
    await send(a, dm, { type: "file", attachments: [file.id] });
    expectError(await call("GET", "/users/me/export", { token: a.token }), 404);

    const started = await call("POST", "/users/me/export", { token: a.token });
    expect(started.status).toBe(202);
    expect(started.body.data.job).toMatchObject({ kind: "export", progress: 0 });
    // a second request while it runs returns the same job
    expect((await call("POST", "/users/me/export", { token: a.token })).body.data.job.id).toBe(started.body.data.job.id);
    const { e, seen } = await watch(a);
    expect(seen.some((p) => p > 0 && p < 1)).toBe(true);
    expect(seen).toEqual([...seen].sort((x, y) => x - y));
    expect(e).toMatchObject({ state: "done", progress: 1, expired: false });
    expect(e.download_url).toMatch(/^\/api\/v1\/files\/file_[0-9a-z]+\/download\?expires=\d+&sig=/);

    const res = await SELF.fetch(`${BASE}${e.download_url}`);
    expect(res.status).toBe(200);
    const zip = unzipSync(new Uint8Array(await res.arrayBuffer()));
    const names = Object.keys(zip);
    expect(names).toEqual(expect.arrayContaining(["profile.json", "contacts.json", "groups.json", "moments.json", "notes.json", "files/index.json"]));
    expect(JSON.parse(strFromU8(zip["profile.json"]))).toMatchObject({ id: a.id, username: a.username });
    expect(JSON.parse(strFromU8(zip["notes.json"]))[0]).toMatchObject({ text: "remember the milk" });
    const messages = names.filter((n) => n.startsWith("messages/")).flatMap((n) => JSON.parse(strFromU8(zip[n])));
    expect(messages.find((m: { content: string }) => m.content === "exported hello")).toMatchObject({ conversation_id: dm, seq: 1, created_at: expect.any(String) });
    expect(messages.filter((m: { conversation_id: string }) => m.conversation_id === group)).toHaveLength(3);
    expect(messages.some((m: { content: string }) => m.content === "not mine")).toBe(false);
    expect(JSON.parse(strFromU8(zip["groups.json"])).map((g: { id: string }) => g.id).sort()).toEqual([dm, group].sort());
    const path = `files/${file.id}-report.bin`;
    expect(zip[path]).toEqual(bytes);
    expect(JSON.parse(strFromU8(zip["files/index.json"]))[0]).toMatchObject({ id: file.id, path, size: bytes.length });
    // someone else cannot read my export, even with its id
    expectError(await call("GET", e.download_url.split("?")[0].replace("/download", "").replace("/api/v1", ""), { token: b.token }), 403);
  });

  it("is rate-limited, and the archive expires", async () => {
    const a = await signup();
    const first = await call("POST", "/users/me/export", { token: a.token });
    await watch(a);
    expect((await call("POST", "/users/me/export", { token: a.token })).status).toBe(202);
    const { e } = await watch(a);
    expectError(await call("POST", "/users/me/export", { token: a.token }), 429, "RATE_LIMITED");

    const id = (await call("GET", "/users/me/export", { token: a.token })).body.data.export.id;
    expect(id).not.toBe(first.body.data.job.id);
    await db().update(accountJobs).set({ expiresAt: new Date(Date.now() - 1000).toISOString() }).where(eq(accountJobs.id, id));
    await jobStub(testEnv, id).start(id);
    const deadline = Date.now() + 20_000;
    while (!(await db().select().from(accountJobs).where(eq(accountJobs.id, id)).get())!.data.expired) {
      if (Date.now() > deadline) throw new Error("the archive did not expire");
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await call("GET", "/users/me/export", { token: a.token })).body.data.export).toMatchObject({ expired: true, download_url: null });
    expect((await SELF.fetch(`${BASE}${e.download_url}`)).status).toBe(404);
    expect(await testEnv.FILES.head(`exports/${id}/edge-im-export.zip`)).toBeNull();
  });

  it("needs a token", async () => {
    expectError(await call("POST", "/users/me/export"), 401);
    expectError(await call("GET", "/users/me/export"), 401);
  });
});
