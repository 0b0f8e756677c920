import { createScheduledController, SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { files as filesTable, friendships, uploads } from "../../src/db/schema";
import worker from "../../src/index";
import { BASE, call, connect, db, expectError, makeConversation, openDm, send, setConfig, signup, testEnv, type TestUser } from "../helpers";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, ...Array(40).fill(7)]);
const MiB = 1024 * 1024;

function bytes(n: number, seed = 1) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

async function sha256(data: Uint8Array) {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", data))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** POST /files with a real multipart form. */
async function upload(user: TestUser | null, parts: { file?: { data: Uint8Array; name: string; type: string }[]; purpose?: string; target_id?: string }) {
  const form = new FormData();
  for (const f of parts.file ?? []) form.append("file", new File([f.data], f.name, { type: f.type }));
  if (parts.purpose) form.append("purpose", parts.purpose);
  if (parts.target_id) form.append("target_id", parts.target_id);
  return call("POST", "/files", { token: user?.token, raw: form });
}

async function uploadOne(user: TestUser, data: Uint8Array, opts: { name?: string; type?: string; purpose?: string; target_id?: string } = {}) {
  const res = await upload(user, { file: [{ data, name: opts.name ?? "photo.png", type: opts.type ?? "image/png" }], purpose: opts.purpose ?? "message", target_id: opts.target_id });
  if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.file as { id: string; download_url: string; sha256: string; size: number; content_type: string; name: string };
}

/** A download through the Worker, body as bytes. */
async function fetchFile(path: string, token?: string, headers: Record<string, string> = {}) {
  const res = await SELF.fetch(`${BASE}${path.startsWith("/api") ? path : `/api/v1${path}`}`, { headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, json: () => JSON.parse(new TextDecoder().decode(body)) };
}

describe("POST /files and downloads", () => {
  it("stores a public avatar; serves ranges and conditional requests; signs links to other files", async () => {
    const a = await signup();
    const b = await signup();
    const file = await uploadOne(a, PNG, { purpose: "avatar", name: "我的头像.png" });
    expect(file).toMatchObject({ size: PNG.length, content_type: "image/png", name: "我的头像.png", sha256: await sha256(PNG) });

    expect((await call("GET", `/files/${file.id}`, { token: b.token })).body.data.file.id).toBe(file.id);
    const whole = await fetchFile(`/files/${file.id}/download`, b.token);
    expect(whole.status).toBe(200);
    expect(whole.body).toEqual(PNG);
    expect(whole.headers.get("content-type")).toBe("image/png");
    expect(whole.headers.get("content-disposition")).toContain(`filename*=UTF-8''${encodeURIComponent("我的头像.png")}`);
    expect(whole.headers.get("content-disposition")).toMatch(/^inline;/);
    expect(whole.headers.get("x-content-type-options")).toBe("nosniff");
    expect(whole.headers.get("content-security-policy")).toContain("sandbox");
    expect(whole.headers.get("accept-ranges")).toBe("bytes");

    const part = await fetchFile(`/files/${file.id}/download`, b.token, { range: "bytes=2-9" });
    expect(part.status).toBe(206);
    expect(part.body).toEqual(PNG.slice(2, 10));
    expect(part.headers.get("content-range")).toBe(`bytes 2-9/${PNG.length}`);
    const tail = await fetchFile(`/files/${file.id}/download`, b.token, { range: "bytes=-5" });
    expect(tail.body).toEqual(PNG.slice(-5));
    const open = await fetchFile(`/files/${file.id}/download`, b.token, { range: "bytes=50-" });
    expect(open.body).toEqual(PNG.slice(50));
    const beyond = await fetchFile(`/files/${file.id}/download`, b.token, { range: `bytes=${PNG.length}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe(`bytes */${PNG.length}`);
    expect(beyond.json().code).toBe("RANGE_NOT_SATISFIABLE");
    // several ranges or nonsense: the whole file (a server may ignore Range)
    expect((await fetchFile(`/files/${file.id}/download`, b.token, { range: "bytes=0-1,4-5" })).status).toBe(200);
    expect((await fetchFile(`/files/${file.id}/download`, b.token, { range: "lines=1-2" })).status).toBe(200);

    const etag = whole.headers.get("etag")!;
    expect((await fetchFile(`/files/${file.id}/download`, b.token, { "if-none-match": etag })).status).toBe(304);

    // an avatar's link is a stable path that needs no token (profiles store it)
    expect(file.download_url).toBe(`/api/v1/files/${file.id}/download`);
    expect((await fetchFile(file.download_url)).body).toEqual(PNG);

    // any other file's link is signed (for <img src>), and works only as signed
    const doc = await uploadOne(a, PNG, { name: "doc.png" });
    expect(doc.download_url).toMatch(/\?expires=\d+&sig=[0-9a-f]{64}$/);
    const signed = await fetchFile(doc.download_url);
    expect(signed.status).toBe(200);
    expect(signed.body).toEqual(PNG);
    expect((await fetchFile(`${doc.download_url}&disposition=attachment`)).headers.get("content-disposition")).toMatch(/^attachment;/);
    const tampered = doc.download_url.replace(/sig=([0-9a-f])/, (_, c) => `sig=${c === "0" ? "1" : "0"}`);
    expect((await fetchFile(tampered)).status).toBe(403);
    const otherFile = await uploadOne(a, PNG.slice(0, 30), { name: "other.png" });
    expect((await fetchFile(doc.download_url.replace(doc.id, otherFile.id))).status).toBe(403);
    const expiredSig = doc.download_url.replace(/expires=\d+/, "expires=1000");
    expect((await fetchFile(expiredSig)).status).toBe(403);
    expect((await fetchFile(`/files/${doc.id}/download?sig=${"0".repeat(64)}`)).status).toBe(400);
    expect((await fetchFile(`/files/${doc.id}/download`)).status).toBe(401);
    expect((await fetchFile(`/files/${doc.id}/download`, b.token)).status).toBe(403);
  });

  it("refuses bad forms with a clear 4xx", async () => {
    const a = await signup();
    const b = await signup();
    const group = await makeConversation(a, [b]);
    const html = new TextEncoder().encode("<html><script>alert(1)</script></html>");
    expectError(await upload(null, { file: [{ data: PNG, name: "a.png", type: "image/png" }] }), 401);
    expectError(await upload(a, { purpose: "message" }), 400, "VALIDATION_ERROR");
    expectError(await upload(a, { file: [{ data: PNG, name: "a.png", type: "image/png" }], purpose: "wallpaper" }), 400, "VALIDATION_ERROR");
    expectError(await upload(a, { file: [{ data: new Uint8Array(0), name: "empty.txt", type: "text/plain" }] }), 400, "VALIDATION_ERROR");
    expectError(await upload(a, { file: [{ data: html, name: "a.html", type: "text/html" }], purpose: "avatar" }), 415, "UNSUPPORTED_MEDIA_TYPE");
    // declared an image, is not one
    expectError(await upload(a, { file: [{ data: html, name: "a.png", type: "image/png" }], purpose: "avatar" }), 415);
    expectError(await upload(a, { file: [{ data: html, name: "a.png", type: "image/png" }], purpose: "message" }), 415);
    expectError(await upload(a, { file: [{ data: html, name: "x.svg", type: "image/svg+xml" }], purpose: "moment" }), 415);
    expectError(await upload(a, { file: [{ data: PNG, name: "a.png", type: "not a type" }] }), 415);
    const two = [
      { data: PNG, name: "1.png", type: "image/png" },
      { data: PNG, name: "2.png", type: "image/png" },
    ];
    expectError(await upload(a, { file: two, purpose: "avatar" }), 400, "VALIDATION_ERROR");
    expectError(await upload(a, { file: Array(10).fill(two[0]), purpose: "moment" }), 400, "VALIDATION_ERROR");
    expectError(await upload(a, { file: two.slice(0, 1), purpose: "avatar", target_id: group }), 400, "VALIDATION_ERROR");
    expectError(await upload(a, { file: two.slice(0, 1), purpose: "group_avatar" }), 400, "VALIDATION_ERROR");
    expectError(await upload(b, { file: two.slice(0, 1), purpose: "group_avatar", target_id: group }), 403, "FORBIDDEN");
    expectError(await upload(a, { file: two.slice(0, 1), purpose: "group_avatar", target_id: "grp_0000000000missing00" }), 404);
    const outsider = await signup();
    expectError(await upload(outsider, { file: two.slice(0, 1), purpose: "message", target_id: group }), 403);
    const json = await call("POST", "/files", { token: a.token, body: { file: "x" } });
    expectError(json, 415, "UNSUPPORTED_MEDIA_TYPE");
    expect(json.body.error).toContain("multipart/form-data");

    await setConfig({ form_upload_max_bytes: 1000 });
    try {
      const big = await upload(a, { file: [{ data: bytes(1001), name: "big.bin", type: "application/octet-stream" }] });
      expectError(big, 413, "PAYLOAD_TOO_LARGE");
      expect(big.body.error).toContain("/uploads");
    } finally {
      await setConfig({ form_upload_max_bytes: 20 * MiB });
    }
    // the owner of a group may set its avatar; nine moment photos are one request
    expect((await upload(a, { file: two.slice(0, 1), purpose: "group_avatar", target_id: group })).status).toBe(201);
    const nine = await upload(a, { file: Array(9).fill(two[0]), purpose: "moment" });
    expect(nine.status).toBe(201);
    expect(nine.body.data.files).toHaveLength(9);
  });

  it("shows message files only to the members of the conversations they were sent into", async () => {
    const a = await signup();
    const b = await signup();
    const outsider = await signup();
    const dm = await openDm(a, b);
    const doc = await uploadOne(a, bytes(3000, 5), { name: "report.pdf", type: "application/pdf" });
    expectError(await call("GET", `/files/${doc.id}`, { token: b.token }), 403, "FORBIDDEN");
    expect((await fetchFile(`/files/${doc.id}/download`, b.token)).status).toBe(403);

    // a send that is refused records nothing: the file stays private
    expectError(await send(a, dm, { type: "file", attachments: [doc.id], content: "x", reply_to: "msg_0000000000missing000" }), 404);
    expect((await fetchFile(`/files/${doc.id}/download`, b.token)).status).toBe(403);
    expect((await send(a, dm, { type: "file", attachments: [doc.id], content: "the report" })).status).toBe(201);
    expect((await fetchFile(`/files/${doc.id}/download`, b.token)).body).toEqual(bytes(3000, 5));
    expectError(await call("GET", `/files/${doc.id}`, { token: outsider.token }), 403);
    // a PDF may be shown inline; HTML never is
    expect((await fetchFile(`/files/${doc.id}/download`, b.token)).headers.get("content-disposition")).toMatch(/^inline;/);
    const page = await uploadOne(a, new TextEncoder().encode("<h1>hi</h1>"), { name: "x.html", type: "text/html" });
    expect((await fetchFile(`/files/${page.id}/download`, a.token, {})).headers.get("content-disposition")).toMatch(/^attachment;/);

    // b may forward what they can see into a group; the group's members can then read it
    const group = await makeConversation(b, [outsider]);
    expect((await send(b, group, { type: "file", attachments: [doc.id], content: "fwd" })).status).toBe(201);
    expect((await fetchFile(`/files/${doc.id}/download`, outsider.token)).status).toBe(200);
    // nobody attaches a file they cannot see
    const stranger = await signup();
    const strangerDm = await openDm(stranger, a);
    const secret = await uploadOne(a, bytes(100, 9), { name: "secret.bin", type: "application/octet-stream", purpose: "other" });
    expectError(await send(stranger, strangerDm, { type: "file", attachments: [secret.id], content: "mine now" }), 400);

    // a file uploaded for a conversation is readable there at once
    const pre = await uploadOne(a, PNG, { target_id: dm });
    expect((await fetchFile(`/files/${pre.id}/download`, b.token)).status).toBe(200);

    // other: the owner only; moment: the owner's friends
    expectError(await call("GET", `/files/${secret.id}`, { token: b.token }), 403);
    const photo = await uploadOne(a, PNG, { purpose: "moment" });
    expectError(await call("GET", `/files/${photo.id}`, { token: b.token }), 403);
    await db().insert(friendships).values([{ userId: a.id, friendId: b.id }, { userId: b.id, friendId: a.id }]);
    expect((await call("GET", `/files/${photo.id}`, { token: b.token })).status).toBe(200);
    expectError(await call("GET", "/files/file_0000000000missing000", { token: a.token }), 404);
    expectError(await call("GET", "/files/nonsense", { token: a.token }), 400);
  });

  it("checks attachments on bound sockets too: nobody sends a file they cannot see", async () => {
    const a = await signup();
    const b = await signup();
    const room = await makeConversation(a, [b], { kind: "room" });
    const mine = await uploadOne(b, PNG, { purpose: "other" });
    const sock = await connect(`token=${a.token}&room_id=${room}`);
    await sock.next("authenticated");
    sock.send({ type: "send_message", message_type: "image", attachments: [mine.id], client_id: "steal-1" });
    const err = await sock.next((f) => f.success === false);
    expect(err.error).toContain("not found or not yours");
    expectError(await call("GET", `/files/${mine.id}`, { token: a.token }), 403);
    sock.close();
  });

  it("stores identical bytes once and frees them with the last file", async () => {
    const a = await signup();
    const b = await signup();
    const data = bytes(5000, 3);
    const first = await uploadOne(a, data, { name: "one.bin", type: "application/octet-stream" });
    const second = await uploadOne(b, data, { name: "two.bin", type: "application/octet-stream" });
    const rows = await db().select().from(filesTable).where(eq(filesTable.sha256, first.sha256));
    expect(rows).toHaveLength(2);
    expect(rows[0].r2Key).toBe(rows[1].r2Key);
    const key = rows[0].r2Key;

    expectError(await call("DELETE", `/files/${first.id}`, { token: b.token }), 403);
    expect((await call("DELETE", `/files/${first.id}`, { token: a.token })).body.data).toEqual({ id: first.id, deleted: true });
    expectError(await call("GET", `/files/${first.id}`, { token: a.token }), 404);
    expect((await fetchFile(first.download_url)).status).toBe(404);
    expectError(await call("DELETE", `/files/${first.id}`, { token: a.token }), 404);
    expect(await testEnv.FILES.head(key)).not.toBeNull();
    expect((await fetchFile(`/files/${second.id}/download`, b.token)).body).toEqual(data);
    await call("DELETE", `/files/${second.id}`, { token: b.token });
    expect(await testEnv.FILES.head(key)).toBeNull();
  });
});

describe("chunked uploads", () => {
  async function start(user: TestUser, data: Uint8Array, extra: Record<string, unknown> = {}) {
    return call("POST", "/uploads", {
      token: user.token,
      body: { file_name: "video.mp4", size: data.length, sha256: await sha256(data), content_type: "video/mp4", purpose: "message", part_size: 5 * MiB, ...extra },
    });
  }
  const putPart = (user: TestUser, id: string, n: number, data: Uint8Array) =>
    call("PUT", `/uploads/${id}/parts/${n}`, { token: user.token, raw: data, headers: { "content-type": "application/octet-stream" } });

  it("uploads parts in any order, resumes from the status, verifies the sha256 and completes once", async () => {
    const a = await signup();
    const data = bytes(5 * MiB + 1234, 11);
    const started = await start(a, data);
    expect(started.status).toBe(201);
    const up = started.body.data.upload;
    expect(up).toMatchObject({ status: "uploading", instant: false, part_size: 5 * MiB, part_count: 2, missing_parts: [1, 2], uploaded_bytes: 0, progress: 0, file: null });

    const second = await putPart(a, up.id, 2, data.slice(5 * MiB));
    expect(second.body.data.upload).toMatchObject({ parts: [{ part_number: 2, size: 1234 }], missing_parts: [1], uploaded_bytes: 1234 });
    const early = await call("POST", `/uploads/${up.id}/complete`, { token: a.token });
    expectError(early, 409, "CONFLICT");
    expect(early.body.details).toEqual({ missing_parts: [1] });

    expectError(await putPart(a, up.id, 1, data.slice(0, 1000)), 400, "VALIDATION_ERROR");
    expectError(await putPart(a, up.id, 3, data.slice(0, 10)), 400, "VALIDATION_ERROR");
    expectError(await putPart(a, up.id, 0, data.slice(0, 10)), 400, "VALIDATION_ERROR");
    // a resumed client asks what is there
    expect((await call("GET", `/uploads/${up.id}`, { token: a.token })).body.data.upload.missing_parts).toEqual([1]);
    expect((await putPart(a, up.id, 1, data.slice(0, 5 * MiB))).body.data.upload.progress).toBe(1);
    // sending a part again replaces it
    expect((await putPart(a, up.id, 2, data.slice(5 * MiB))).status).toBe(200);

    const done = await call("POST", `/uploads/${up.id}/complete`, { token: a.token });
    expect(done.status).toBe(200);
    const file = done.body.data.upload.file;
    expect(done.body.data.upload).toMatchObject({ status: "completed", uploaded_bytes: data.length, progress: 1 });
    expect(file).toMatchObject({ size: data.length, content_type: "video/mp4", name: "video.mp4" });
    const got = await fetchFile(`/files/${file.id}/download`, a.token);
    expect(got.body.length).toBe(data.length);
    expect(await sha256(got.body)).toBe(await sha256(data));
    expect((await fetchFile(`/files/${file.id}/download`, a.token, { range: `bytes=${5 * MiB - 2}-${5 * MiB + 1}` })).body).toEqual(data.slice(5 * MiB - 2, 5 * MiB + 2));
    // completing again answers with the same file; parts after completion are refused
    expect((await call("POST", `/uploads/${up.id}/complete`, { token: a.token })).body.data.upload.file.id).toBe(file.id);
    expectError(await putPart(a, up.id, 1, data.slice(0, 5 * MiB)), 409);
    expectError(await call("DELETE", `/uploads/${up.id}`, { token: a.token }), 409);

    // the same bytes again from me: completed at once, nothing to send
    const instant = await start(a, data, { file_name: "copy.mp4" });
    expect(instant.status).toBe(201);
    expect(instant.body.data.upload).toMatchObject({ status: "completed", instant: true, progress: 1 });
    expect(instant.body.data.upload.file).toMatchObject({ name: "copy.mp4", owner_id: a.id, size: data.length });
    expect((await fetchFile(instant.body.data.upload.file.download_url)).body.length).toBe(data.length);
    expect(instant.body.data.upload.proof).toBeNull();
    // from someone else: a hash alone does not hand over another user's file (a challenge instead)
    const b = await signup();
    const theirs = await start(b, data, { file_name: "guess.mp4" });
    expect(theirs.body.data.upload).toMatchObject({ status: "uploading", instant: false, file: null });
    expect(theirs.body.data.upload.proof.ranges.length).toBeGreaterThan(0);
  });

  it("fails an upload whose bytes do not match its sha256, and aborts on request or expiry", async () => {
    const a = await signup();
    const data = bytes(3000, 2);
    const wrong = (await start(a, data, { sha256: "ab".repeat(32) })).body.data.upload;
    expect(wrong.part_count).toBe(1);
    await putPart(a, wrong.id, 1, data);
    const refused = await call("POST", `/uploads/${wrong.id}/complete`, { token: a.token });
    expectError(refused, 400, "BAD_REQUEST");
    expect(refused.body.error).toContain("sha256");
    expect((await call("GET", `/uploads/${wrong.id}`, { token: a.token })).body.data.upload.status).toBe("failed");

    const other = await signup();
    const up = (await start(a, data)).body.data.upload;
    expectError(await call("GET", `/uploads/${up.id}`, { token: other.token }), 404);
    expectError(await putPart(other, up.id, 1, data), 404);
    expectError(await call("DELETE", `/uploads/${up.id}`, { token: other.token }), 404);
    expect((await call("DELETE", `/uploads/${up.id}`, { token: a.token })).body.data.upload.status).toBe("aborted");
    expectError(await putPart(a, up.id, 1, data), 409);
    expectError(await call("POST", `/uploads/${up.id}/complete`, { token: a.token }), 409);

    const stale = (await start(a, bytes(4000, 8))).body.data.upload;
    await db().update(uploads).set({ expiresAt: "2000-01-01T00:00:00.000Z" }).where(eq(uploads.id, stale.id));
    expectError(await putPart(a, stale.id, 1, bytes(4000, 8)), 409);
    // a completion that died midway is swept too
    const stuck = (await start(a, bytes(4100, 8))).body.data.upload;
    await db().update(uploads).set({ status: "completing", expiresAt: "2000-01-01T00:00:00.000Z" }).where(eq(uploads.id, stuck.id));
    await worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron: "17 * * * *" }), testEnv);
    expect((await call("GET", `/uploads/${stale.id}`, { token: a.token })).body.data.upload.status).toBe("expired");
    expect((await call("GET", `/uploads/${stuck.id}`, { token: a.token })).body.data.upload.status).toBe("expired");
  });

  it("refuses bad upload requests", async () => {
    const a = await signup();
    const data = bytes(100, 1);
    const sha = await sha256(data);
    const good = { file_name: "a.bin", size: 100, sha256: sha, content_type: "application/octet-stream" };
    const bad: [Record<string, unknown>, number][] = [
      [{ ...good, size: 0 }, 400],
      [{ ...good, sha256: "xyz" }, 400],
      [{ ...good, file_name: "../etc/passwd" }, 400],
      [{ ...good, file_name: "" }, 400],
      [{ ...good, content_type: "nonsense" }, 400],
      [{ ...good, part_size: 1024 }, 400],
      [{ ...good, purpose: "avatar", content_type: "application/pdf" }, 415],
      [{ ...good, purpose: "avatar", size: 50 * MiB }, 413],
      [{ ...good, size: 3 * 2 ** 30 }, 413],
      [{ ...good, extra: 1 }, 400],
      [{ ...good, purpose: "avatar", content_type: "image/png", target_id: "grp_0000000000missing00" }, 400],
    ];
    for (const [body, status] of bad) {
      const res = await call("POST", "/uploads", { token: a.token, body });
      if (res.status !== status) throw new Error(`${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body)}`);
      expectError(res, status);
    }
    expectError(await call("POST", "/uploads", { body: good }), 401);
    expectError(await call("GET", "/uploads/upl_0000000000missing000", { token: a.token }), 404);

    // an avatar's first part must be an image
    const fake = new TextEncoder().encode("not an image at all");
    const avatar = (await call("POST", "/uploads", { token: a.token, body: { file_name: "me.png", size: fake.length, sha256: await sha256(fake), content_type: "image/png", purpose: "avatar" } })).body.data.upload;
    expectError(await putPart(a, avatar.id, 1, fake), 415);
  });
});

describe("instant upload with proof of possession (seed 002)", () => {
  const begin = async (user: TestUser, data: Uint8Array, extra: Record<string, unknown> = {}) => {
    const res = await call("POST", "/uploads", {
      token: user.token,
      body: { file_name: "doc.bin", size: data.length, sha256: await sha256(data), content_type: "application/octet-stream", purpose: "other", ...extra },
    });
    expect(res.status).toBe(201);
    return res.body.data.upload as { id: string; status: string; instant: boolean; proof: { ranges: { offset: number; length: number }[] } | null; file: { id: string } | null };
  };
  const answer = (data: Uint8Array, ranges: { offset: number; length: number }[]) => Promise.all(ranges.map((r) => sha256(data.slice(r.offset, r.offset + r.length))));
  const prove = (user: TestUser, id: string, sha256s: string[]) => call("POST", `/uploads/${id}/proof`, { token: user.token, body: { sha256s } });
  const putPart = (user: TestUser, id: string, n: number, data: Uint8Array) =>
    call("PUT", `/uploads/${id}/parts/${n}`, { token: user.token, raw: data, headers: { "content-type": "application/octet-stream" } });

  it("the right hashes complete at once with a file of my own on the stored bytes, which outlives the first owner's", async () => {
    const a = await signup();
    const b = await signup();
    const data = bytes(300_000, 21);
    const original = await uploadOne(a, data, { name: "report.bin", type: "application/octet-stream", purpose: "other" });

    const up = await begin(b, data, { file_name: "mine.bin" });
    expect(up).toMatchObject({ status: "uploading", instant: false, file: null });
    const { ranges } = up.proof!;
    expect(ranges).toHaveLength(3);
    for (const r of ranges) {
      expect(r.length).toBe(4096);
      expect(r.offset).toBeGreaterThanOrEqual(0);
      expect(r.offset + r.length).toBeLessThanOrEqual(data.length);
    }
    // the ranges are the server's random choice: another challenge for the same bytes asks for others
    const again = await begin(b, data);
    expect(again.proof!.ranges).not.toEqual(ranges);

    const res = await prove(b, up.id, await answer(data, ranges));
    expect(res.status).toBe(200);
    expect(res.body.message).toBe("Possession proven: upload completed");
    const done = res.body.data.upload;
    expect(done).toMatchObject({ id: up.id, status: "completed", instant: true, progress: 1, proof: null });
    expect(done.file).toMatchObject({ owner_id: b.id, name: "mine.bin", size: data.length, sha256: original.sha256, purpose: "other" });
    expect(done.file.id).not.toBe(original.id);
    expect((await call("GET", `/uploads/${up.id}`, { token: b.token })).body.data.upload).toMatchObject({ status: "completed", instant: true, file: { id: done.file.id } });
    // one stored object, two owners
    const rows = await db().select().from(filesTable).where(eq(filesTable.sha256, original.sha256));
    expect(new Set(rows.map((r) => r.r2Key)).size).toBe(1);
    expect((await fetchFile(`/files/${done.file.id}/download`, b.token)).body).toEqual(data);
    // the first owner's file is still theirs alone, and deleting it keeps mine
    expectError(await call("GET", `/files/${original.id}`, { token: b.token }), 403);
    await call("DELETE", `/files/${original.id}`, { token: a.token });
    expect((await fetchFile(`/files/${done.file.id}/download`, b.token)).body).toEqual(data);
    // answering again returns the same completed upload
    expect((await prove(b, up.id, await answer(data, ranges))).body.data.upload.file.id).toBe(done.file.id);
  });

  it("a wrong answer is a 409 that hands over nothing, spends the challenge, and the normal upload goes on", async () => {
    const a = await signup();
    const b = await signup();
    const data = bytes(9000, 5);
    await uploadOne(a, data, { name: "a.bin", type: "application/octet-stream", purpose: "other" });
    const up = await begin(b, data);
    const right = await answer(data, up.proof!.ranges);
    const wrong = [...right];
    wrong[wrong.length - 1] = await sha256(new TextEncoder().encode("guess"));
    const refused = await prove(b, up.id, wrong);
    expectError(refused, 409, "CONFLICT");
    expect(refused.body.error).toContain("upload the parts");
    const after = (await call("GET", `/uploads/${up.id}`, { token: b.token })).body.data.upload;
    expect(after).toMatchObject({ status: "uploading", instant: false, file: null, proof: null, missing_parts: [1] });
    expect((await db().select().from(filesTable).where(eq(filesTable.ownerId, b.id))).length).toBe(0);
    // one answer per challenge: even the right hashes now get a 409
    expectError(await prove(b, up.id, right), 409, "CONFLICT");
    // the parts go up as usual
    expect((await putPart(b, up.id, 1, data)).status).toBe(200);
    const completed = await call("POST", `/uploads/${up.id}/complete`, { token: b.token });
    expect(completed.status).toBe(200);
    expect(completed.body.data.upload).toMatchObject({ status: "completed", instant: false });
    expect((await fetchFile(`/files/${completed.body.data.upload.file.id}/download`, b.token)).body).toEqual(data);
  });

  it("a second user without the bytes cannot pass: whole-file hash, another file's ranges, a replayed answer", async () => {
    const a = await signup();
    const b = await signup();
    const c = await signup();
    const data = bytes(400_000, 8);
    const sha = await sha256(data);
    const original = await uploadOne(a, data, { name: "secret.bin", type: "application/octet-stream", purpose: "other" });
    // b has the bytes and passes; c only knows the hash (and b's answer to b's challenge)
    const bUp = await begin(b, data);
    const bAnswer = await answer(data, bUp.proof!.ranges);
    expect((await prove(b, bUp.id, bAnswer)).status).toBe(200);
    const attempts: string[][] = [
      [sha, sha, sha],
      bAnswer, // replayed from another challenge: the ranges differ
      await answer(bytes(400_000, 9), [{ offset: 0, length: 4096 }, { offset: 4096, length: 4096 }, { offset: 8192, length: 4096 }]),
    ];
    for (const guess of attempts) {
      const up = await begin(c, data);
      expect(up.proof).not.toBeNull();
      expectError(await prove(c, up.id, guess), 409, "CONFLICT");
      expect((await call("GET", `/uploads/${up.id}`, { token: c.token })).body.data.upload).toMatchObject({ status: "uploading", file: null });
    }
    expect((await db().select().from(filesTable).where(eq(filesTable.ownerId, c.id))).length).toBe(0);
    expectError(await call("GET", `/files/${original.id}`, { token: c.token }), 403);
    expect((await fetchFile(`/files/${original.id}/download`, c.token)).status).toBe(403);
  });

  it("limits wrong answers: after 10 in a day a user gets plain uploads, without a challenge", async () => {
    const a = await signup();
    const b = await signup();
    const data = bytes(2000, 13);
    await uploadOne(a, data, { name: "a.bin", type: "application/octet-stream", purpose: "other" });
    const junk = await sha256(new TextEncoder().encode("junk"));
    for (let i = 0; i < 10; i++) {
      const up = await begin(b, data);
      expect(up.proof).not.toBeNull();
      expectError(await prove(b, up.id, up.proof!.ranges.map(() => junk)), 409, "CONFLICT");
    }
    const plain = await begin(b, data);
    expect(plain).toMatchObject({ status: "uploading", instant: false, proof: null });
    expectError(await prove(b, plain.id, [junk]), 409, "CONFLICT");
    // others are not affected
    const c = await signup();
    expect((await begin(c, data)).proof).not.toBeNull();
  });

  it("my own bytes complete without a challenge; small files are challenged on their whole content; images only adopt images", async () => {
    const a = await signup();
    const b = await signup();
    const own = bytes(700, 17);
    await uploadOne(a, own, { name: "own.bin", type: "application/octet-stream", purpose: "other" });
    expect(await begin(a, own)).toMatchObject({ status: "completed", instant: true, proof: null });

    const up = await begin(b, own);
    expect(up.proof!.ranges).toEqual([{ offset: 0, length: 700 }]);
    expect((await prove(b, up.id, [await sha256(own)])).body.data.upload).toMatchObject({ status: "completed", instant: true });

    // a stored PNG adopted as an avatar keeps its checked type
    await uploadOne(a, PNG, { name: "pic.png", type: "image/png", purpose: "message" });
    const avatar = await begin(b, PNG, { file_name: "me.png", content_type: "image/png", purpose: "avatar" });
    const proven = await prove(b, avatar.id, await answer(PNG, avatar.proof!.ranges));
    expect(proven.body.data.upload.file).toMatchObject({ purpose: "avatar", content_type: "image/png", owner_id: b.id });
    // bytes stored as a non-image are no avatar: a plain upload
    expect((await begin(b, own, { file_name: "x.png", content_type: "image/png", purpose: "avatar" })).proof).toBeNull();
  });

  it("refuses bad proof requests", async () => {
    const a = await signup();
    const b = await signup();
    const data = bytes(20_000, 4);
    await uploadOne(a, data, { name: "a.bin", type: "application/octet-stream", purpose: "other" });
    const up = await begin(b, data);
    const right = await answer(data, up.proof!.ranges);
    expectError(await prove(b, up.id, right.slice(0, 2)), 400, "VALIDATION_ERROR");
    for (const body of [{}, { sha256s: [] }, { sha256s: ["xyz"] }, { sha256s: right, extra: 1 }, { sha256s: "ab".repeat(32) }]) {
      expectError(await call("POST", `/uploads/${up.id}/proof`, { token: b.token, body }), 400, "VALIDATION_ERROR");
    }
    expectError(await call("POST", `/uploads/${up.id}/proof`, { body: { sha256s: right } }), 401, "UNAUTHORIZED");
    // someone else's upload is not found, even with the right answer
    expectError(await prove(a, up.id, right), 404, "NOT_FOUND");
    expectError(await prove(b, "upl_0000000000missing000", right), 404, "NOT_FOUND");
    // an upload without a challenge
    const fresh = bytes(3000, 77);
    const plain = await begin(b, fresh);
    expect(plain.proof).toBeNull();
    expectError(await prove(b, plain.id, [await sha256(fresh)]), 409, "CONFLICT");
    // an aborted upload's challenge is gone
    await call("DELETE", `/uploads/${up.id}`, { token: b.token });
    expectError(await prove(b, up.id, right), 409, "CONFLICT");
    // the bad requests above spent nothing: b still passes a fresh challenge
    const next = await begin(b, data);
    expect((await prove(b, next.id, await answer(data, next.proof!.ranges))).status).toBe(200);
  });
});
