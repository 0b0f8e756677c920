import { and, asc, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import type { AuthUser, Db, Env } from "../../env";
import { conversations, fileRefs, files, friendships, members, uploadParts, uploads } from "../../db/schema";
import type { Config } from "../../lib/config";
import { bump, peek } from "../../lib/counters";
import { hmacHex, sha256Hex, timingSafeEqual, toHex } from "../../lib/crypto";
import { AppError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { jwtKey } from "../../lib/jwt";
import type { MessageType } from "../messages/messages.schemas";
import { membership } from "../conversations/conversations.service";
import { photoVisible } from "../moments/moments.service";
import { ContentType, FileName, type PurposeT } from "./files.schemas";

type FileRow = typeof files.$inferSelect;
type UploadRow = typeof uploads.$inferSelect;

const MiB = 1024 * 1024;
const DEFAULT_PART_SIZE = 8 * MiB;
const MAX_PARTS = 10_000;
const MAX_MOMENT_PHOTOS = 9;
const SIGNED_URL_SECONDS = 3600;

/** Raster images a browser shows and cannot run script in (SVG is a document, not listed). */
const RASTER = /^image\/(png|jpeg|gif|webp|bmp|avif|heic|heif)$/;
const IMAGE_PURPOSES: PurposeT[] = ["avatar", "group_avatar", "moment"];
/** Served inline when asked; anything else is always an attachment. */
const INLINE_SAFE = /^(image\/(png|jpeg|gif|webp|bmp|avif)|video\/[a-z0-9.+-]+|audio\/[a-z0-9.+-]+|application\/pdf|text\/plain)$/;

function maxBytes(config: Config, purpose: PurposeT) {
  return IMAGE_PURPOSES.includes(purpose) ? Math.min(config.image_max_bytes, config.file_max_bytes) : config.file_max_bytes;
}

/** The image format a file's first bytes announce, whatever its declared type. */
export function sniffImage(head: Uint8Array): string | null {
  const at = (i: number, ...bytes: number[]) => bytes.every((b, k) => head[i + k] === b);
  const ascii = (i: number, s: string) => at(i, ...[...s].map((c) => c.charCodeAt(0)));
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  if (at(0, 0xff, 0xd8, 0xff)) return "image/jpeg";
  if (ascii(0, "GIF87a") || ascii(0, "GIF89a")) return "image/gif";
  if (ascii(0, "RIFF") && ascii(8, "WEBP")) return "image/webp";
  if (ascii(0, "BM")) return "image/bmp";
  if (ascii(4, "ftyp")) {
    const brand = String.fromCharCode(...head.subarray(8, 12));
    if (brand === "avif" || brand === "avis") return "image/avif";
    if (["heic", "heix", "hevc", "heim", "heis", "mif1", "msf1"].includes(brand)) return "image/heic";
  }
  return null;
}

/**
 * The content type a file is stored under: the declared one, checked against the purpose and, for
 * anything that claims to be a raster image, against its first bytes.
 */
function checkType(purpose: PurposeT, declared: string, head: Uint8Array | null): string {
  const parsed = ContentType.safeParse(declared || "application/octet-stream");
  if (!parsed.success) throw new AppError("UNSUPPORTED_MEDIA_TYPE", `content_type: "${declared}" is not a MIME type`);
  const type = parsed.data;
  const mustBeImage = IMAGE_PURPOSES.includes(purpose);
  if (mustBeImage && !RASTER.test(type)) throw new AppError("UNSUPPORTED_MEDIA_TYPE", `${purpose} files must be PNG, JPEG, GIF, WebP, BMP, AVIF or HEIC images, not ${type}`);
  if (head && (mustBeImage || RASTER.test(type))) {
    const sniffed = sniffImage(head);
    if (!sniffed) throw new AppError("UNSUPPORTED_MEDIA_TYPE", `the file's content is not a ${type} image`);
    return sniffed;
  }
  return type;
}

function cleanName(raw: string | undefined): string {
  const name = (raw ?? "").replace(/[\u0000-\u001f\u007f]/g, "").replace(/^.*[/\\]/, "").trim().slice(0, 255);
  return FileName.safeParse(name).success ? name : "file";
}

// ---- who may see a file -------------------------------------------------------------------------

/** Checks the upload's target: the group whose avatar it is, or the conversation it is sent into. */
async function checkTarget(db: Db, user: AuthUser, purpose: PurposeT, targetId: string | undefined | null): Promise<string | null> {
  if (purpose === "group_avatar") {
    if (!targetId) throw new AppError("VALIDATION_ERROR", "target_id: the group whose avatar this is");
    const row = await db
      .select({ kind: conversations.kind, role: members.role })
      .from(conversations)
      .leftJoin(members, and(eq(members.conversationId, conversations.id), eq(members.userId, user.id)))
      .where(eq(conversations.id, targetId))
      .get();
    if (!row || row.kind === "dm") throw new AppError("NOT_FOUND", "Group not found");
    if (row.role !== "owner" && row.role !== "admin") throw new AppError("FORBIDDEN", "Only the group's owner and admins may upload its avatar");
    return targetId;
  }
  if (purpose === "message") {
    if (!targetId) return null;
    const conv = await db.select({ id: conversations.id }).from(conversations).where(eq(conversations.id, targetId)).get();
    if (!conv) throw new AppError("NOT_FOUND", "Conversation not found");
    if (!(await membership(db, targetId, user.id))) throw new AppError("FORBIDDEN", "You are not a member of this conversation");
    return targetId;
  }
  if (targetId) throw new AppError("VALIDATION_ERROR", `target_id: ${purpose} files have no target`);
  return null;
}

/** Whether `viewer` may read the file (its metadata and its bytes). */
export async function canView(db: Db, viewer: AuthUser, file: FileRow): Promise<boolean> {
  if (file.ownerId === viewer.id || viewer.isAdmin) return true;
  if (isPublicFile(file)) return true;
  // moment photos: the owner's friends, and whoever may see a moment that shows them
  if (file.purpose === "moment") {
    const friend = await db
      .select({ u: friendships.userId })
      .from(friendships)
      .where(and(eq(friendships.userId, file.ownerId), eq(friendships.friendId, viewer.id)))
      .get();
    if (friend || (await photoVisible(db, viewer.id, file.id))) return true;
  }
  const shared = await db
    .select({ c: fileRefs.conversationId })
    .from(fileRefs)
    .innerJoin(members, and(eq(members.conversationId, fileRefs.conversationId), eq(members.userId, viewer.id)))
    .where(eq(fileRefs.fileId, file.id))
    .get();
  return !!shared;
}

/** The live files among `ids`, by id. */
export async function liveFilesById(db: Db, ids: string[]): Promise<Map<string, FileRow>> {
  const rows = await db.select().from(files).where(and(inArray(files.id, ids), isNull(files.deletedAt)));
  return new Map(rows.map((r) => [r.id, r]));
}

export async function liveFile(db: Db, id: string): Promise<FileRow> {
  const row = await db.select().from(files).where(and(eq(files.id, id), isNull(files.deletedAt))).get();
  if (!row) throw new AppError("NOT_FOUND", "File not found");
  return row;
}

export async function visibleFile(db: Db, viewer: AuthUser, id: string): Promise<FileRow> {
  const row = await liveFile(db, id);
  if (!(await canView(db, viewer, row))) throw new AppError("FORBIDDEN", "You may not see this file");
  return row;
}

/**
 * Message attachments: each file must be the sender's own or one they can already see through a
 * conversation they belong to (forwarding), and of the kind the message type needs. Every send path
 * comes through here (ConversationDO.send), before the message is stored.
 */
export async function checkAttachments(db: Db, senderId: string, type: MessageType, ids: string[]) {
  if (!ids.length) return;
  const byId = await liveFilesById(db, ids);
  const want: Partial<Record<MessageType, RegExp>> = { image: /^image\//, video: /^video\//, voice: /^audio\// };
  const sender = { id: senderId, username: "", sessionId: "", isAdmin: false };
  for (const id of ids) {
    const file = byId.get(id);
    if (!file || !(file.ownerId === senderId || (!isPublicFile(file) && (await canView(db, sender, file))))) {
      throw new AppError("BAD_REQUEST", `attachments: file ${id} not found or not yours`);
    }
    const pattern = want[type];
    if (pattern && !pattern.test(file.contentType)) throw new AppError("BAD_REQUEST", `attachments: file ${id} is ${file.contentType}, not a ${type}`);
  }
}

/** After the message is stored: the conversation's members may now download its files. */
export async function recordAttachments(db: Db, conversationId: string, ids: string[]) {
  if (!ids.length) return;
  await db
    .insert(fileRefs)
    .values(ids.map((fileId) => ({ fileId, conversationId })))
    .onConflictDoNothing();
}

// ---- views and signed links ---------------------------------------------------------------------

async function signature(env: Env, id: string, expires: number) {
  jwtKey(env); // refuses a missing or weak secret, as for tokens
  return hmacHex(env.JWT_SECRET!, `download:${id}:${expires}`);
}

export async function verifySignature(env: Env, id: string, expires: number, sig: string) {
  if (expires * 1000 < Date.now()) throw new AppError("FORBIDDEN", "This download link has expired; fetch the file again for a new one");
  const want = new TextEncoder().encode(await signature(env, id, expires));
  if (!timingSafeEqual(want, new TextEncoder().encode(sig))) throw new AppError("FORBIDDEN", "Invalid download link");
}

/** Avatars are public: their download path needs no token and never expires (a profile stores it). */
export const isPublicFile = (f: Pick<FileRow, "purpose">) => f.purpose === "avatar" || f.purpose === "group_avatar";

async function downloadUrl(env: Env, f: FileRow) {
  const path = `/api/v1/files/${f.id}/download`;
  if (isPublicFile(f)) return { download_url: path, download_url_expires_at: null };
  // rounded to five minutes, so the same file gives the same (cacheable) link for a while
  const expires = Math.ceil(Date.now() / 1000 / 300) * 300 + SIGNED_URL_SECONDS;
  return { download_url: `${path}?expires=${expires}&sig=${await signature(env, f.id, expires)}`, download_url_expires_at: new Date(expires * 1000).toISOString() };
}

export async function fileView(env: Env, f: FileRow) {
  return {
    id: f.id,
    owner_id: f.ownerId,
    purpose: f.purpose,
    target_id: f.targetId,
    name: f.name,
    size: f.size,
    content_type: f.contentType,
    sha256: f.sha256,
    created_at: f.createdAt,
    ...(await downloadUrl(env, f)),
  };
}

// ---- storing ------------------------------------------------------------------------------------

interface NewFile {
  id: string;
  ownerId: string;
  purpose: PurposeT;
  targetId: string | null;
  name: string;
  size: number;
  contentType: string;
  sha256: string;
}

/**
 * Stores a file row on an existing blob with the same sha256 and size, if a live file has one.
 * One statement: a concurrent delete of the last file on that blob either sees this row (and keeps
 * the blob) or happens first (and nothing is adopted).
 */
async function adoptBlob(db: Db, f: NewFile, only: { ownOnly?: boolean; r2Key?: string } = {}): Promise<boolean> {
  const res = await db.run(sql`
    INSERT INTO files (id, owner_id, purpose, target_id, r2_key, name, size, content_type, sha256)
    SELECT ${f.id}, ${f.ownerId}, ${f.purpose}, ${f.targetId}, r2_key, ${f.name}, ${f.size}, ${f.contentType}, ${f.sha256}
    FROM files WHERE sha256 = ${f.sha256} AND size = ${f.size} AND deleted_at IS NULL
    ${only.ownOnly ? sql`AND owner_id = ${f.ownerId}` : sql``} ${only.r2Key ? sql`AND r2_key = ${only.r2Key}` : sql``} LIMIT 1`);
  return (res.meta.changes ?? 0) > 0;
}

/** The stored type of the caller's own file with these bytes, if there is one. */
async function donorType(db: Db, ownerId: string, sha256: string, size: number) {
  const row = await db
    .select({ contentType: files.contentType })
    .from(files)
    .where(and(eq(files.sha256, sha256), eq(files.size, size), eq(files.ownerId, ownerId), isNull(files.deletedAt)))
    .get();
  return row?.contentType ?? null;
}

/** A live file of anyone's with these bytes that may serve `purpose` (images must be stored as raster images). */
async function anyDonor(db: Db, sha256: string, size: number, purpose: PurposeT) {
  const rows = await db
    .select({ r2Key: files.r2Key, contentType: files.contentType })
    .from(files)
    .where(and(eq(files.sha256, sha256), eq(files.size, size), isNull(files.deletedAt)))
    .limit(20);
  return rows.find((r) => !IMAGE_PURPOSES.includes(purpose) || RASTER.test(r.contentType)) ?? null;
}

/** A message file uploaded for a conversation is readable there at once. */
async function addRef(db: Db, fileId: string, purpose: PurposeT, targetId: string | null) {
  if (purpose === "message" && targetId) await recordAttachments(db, targetId, [fileId]);
}

/** POST /files: one file (or up to 9 moment photos) from a multipart form. */
export async function storeFormFiles(env: Env, db: Db, config: Config, user: AuthUser, input: { file: File | File[]; purpose: PurposeT; target_id?: string }) {
  const list = Array.isArray(input.file) ? input.file : [input.file];
  const { purpose } = input;
  if (list.length > 1 && purpose !== "moment") throw new AppError("VALIDATION_ERROR", "file: one file per request (moment photos: up to 9)");
  if (list.length > MAX_MOMENT_PHOTOS) throw new AppError("VALIDATION_ERROR", `file: at most ${MAX_MOMENT_PHOTOS} photos`);
  const limit = Math.min(maxBytes(config, purpose), config.form_upload_max_bytes);
  for (const f of list) {
    if (f.size === 0) throw new AppError("VALIDATION_ERROR", `file: ${cleanName(f.name)} is empty`);
    if (f.size > limit) {
      const hint = f.size <= maxBytes(config, purpose) ? "; larger files go through POST /uploads" : "";
      throw new AppError("PAYLOAD_TOO_LARGE", `file: ${cleanName(f.name)} is ${f.size} bytes; ${purpose} files sent in a form are limited to ${limit}${hint}`);
    }
  }
  const targetId = await checkTarget(db, user, purpose, input.target_id);
  // every file's type first (nothing is stored if one is refused), then one at a time
  const types: string[] = [];
  for (const f of list) types.push(checkType(purpose, f.type, new Uint8Array(await f.slice(0, 64).arrayBuffer())));
  const out = [];
  for (const [i, f] of list.entries()) {
    const bytes = await f.arrayBuffer();
    const row: NewFile = { id: newId("file"), ownerId: user.id, purpose, targetId, name: cleanName(f.name), size: bytes.byteLength, contentType: types[i], sha256: await sha256Hex(bytes) };
    if (!(await adoptBlob(db, row))) {
      const r2Key = `f/${row.id}`;
      await env.FILES.put(r2Key, bytes, { httpMetadata: { contentType: row.contentType }, sha256: row.sha256 });
      await db.insert(files).values({ ...row, r2Key });
    }
    await addRef(db, row.id, purpose, targetId);
    out.push(await fileView(env, await liveFile(db, row.id)));
  }
  return out;
}

/** DELETE /files/{id}: the owner (or an admin); the blob goes once no other file shares it. */
export async function deleteFile(env: Env, db: Db, user: AuthUser, id: string) {
  const file = await liveFile(db, id);
  if (file.ownerId !== user.id && !user.isAdmin) throw new AppError("FORBIDDEN", "Only the file's owner may delete it");
  const [, , left] = await db.batch([
    db.update(files).set({ deletedAt: new Date().toISOString() }).where(eq(files.id, id)),
    db.delete(fileRefs).where(eq(fileRefs.fileId, id)),
    db.select({ n: sql<number>`count(*)` }).from(files).where(and(eq(files.r2Key, file.r2Key), isNull(files.deletedAt))),
  ]);
  if ((left[0]?.n ?? 0) === 0) await env.FILES.delete(file.r2Key);
  return { id, deleted: true as const };
}

// ---- download -----------------------------------------------------------------------------------

/** A single byte range (RFC 9110); anything else (several ranges, bad syntax) serves the whole file. */
export function parseRange(header: string | undefined, size: number): { offset: number; length: number } | "unsatisfiable" | null {
  const m = header?.trim().match(/^bytes=(\d*)-(\d*)$/);
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== "" && Number(m[2]) < start) return null;
  if (start >= size) return "unsatisfiable";
  return { offset: start, length: end - start + 1 };
}

function contentDisposition(kind: "inline" | "attachment", name: string) {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export async function download(env: Env, file: FileRow, req: { range?: string; ifNoneMatch?: string; disposition?: "inline" | "attachment" }): Promise<Response> {
  const etag = `"${file.sha256 ?? file.id}"`;
  const headers = new Headers({
    "Accept-Ranges": "bytes",
    ETag: etag,
    "Cache-Control": "private, max-age=3600",
    "Content-Disposition": contentDisposition(req.disposition !== "attachment" && INLINE_SAFE.test(file.contentType) ? "inline" : "attachment", file.name),
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
  });
  if (req.ifNoneMatch && req.ifNoneMatch.split(",").some((t) => t.trim() === etag || t.trim() === "*")) return new Response(null, { status: 304, headers });
  const range = parseRange(req.range, file.size);
  if (range === "unsatisfiable") {
    throw new AppError("RANGE_NOT_SATISFIABLE", `Range ${req.range} is outside the file's ${file.size} bytes`, { headers: { "Content-Range": `bytes */${file.size}` } });
  }
  const object = await env.FILES.get(file.r2Key, range ? { range } : undefined);
  if (!object) throw new AppError("NOT_FOUND", "The file's content is missing");
  headers.set("Content-Type", file.contentType);
  if (range) {
    headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${file.size}`);
    headers.set("Content-Length", String(range.length));
    return new Response(object.body, { status: 206, headers });
  }
  headers.set("Content-Length", String(file.size));
  return new Response(object.body, { status: 200, headers });
}

// ---- chunked uploads ----------------------------------------------------------------------------

async function partsOf(db: Db, uploadId: string) {
  return db.select({ part_number: uploadParts.partNumber, size: uploadParts.size, etag: uploadParts.etag }).from(uploadParts).where(eq(uploadParts.uploadId, uploadId)).orderBy(asc(uploadParts.partNumber));
}

/** The part numbers of an upload that no stored part covers yet. */
function missingParts(u: UploadRow, parts: { part_number: number }[]) {
  const have = new Set(parts.map((p) => p.part_number));
  const missing: number[] = [];
  for (let n = 1; n <= u.partCount; n++) if (!have.has(n)) missing.push(n);
  return missing;
}

async function uploadView(env: Env, db: Db, u: UploadRow, instant = false) {
  const parts = u.status === "uploading" || u.status === "completing" || u.status === "failed" ? await partsOf(db, u.id) : [];
  const uploaded = u.status === "completed" ? u.size : parts.reduce((s, p) => s + p.size, 0);
  const missing = u.status === "uploading" ? missingParts(u, parts) : [];
  const file = u.fileId ? await db.select().from(files).where(and(eq(files.id, u.fileId), isNull(files.deletedAt))).get() : undefined;
  return {
    id: u.id,
    status: u.status,
    instant: instant || (u.status === "completed" && !u.r2UploadId),
    file_name: u.name,
    size: u.size,
    sha256: u.sha256,
    content_type: u.contentType,
    purpose: u.purpose,
    target_id: u.targetId,
    part_size: u.partSize,
    part_count: u.partCount,
    parts: parts.map(({ part_number, size }) => ({ part_number, size })),
    missing_parts: missing,
    uploaded_bytes: uploaded,
    progress: u.size ? Math.round((uploaded / u.size) * 1000) / 1000 : 1,
    error: u.error,
    created_at: u.createdAt,
    expires_at: u.expiresAt,
    file: file ? await fileView(env, file) : null,
    proof: u.status === "uploading" && u.proofState === "pending" && u.proofRanges ? { ranges: JSON.parse(u.proofRanges) as ProofRange[] } : null,
  };
}

async function ownUpload(db: Db, user: AuthUser, id: string): Promise<UploadRow> {
  const u = await db.select().from(uploads).where(eq(uploads.id, id)).get();
  if (!u || u.ownerId !== user.id) throw new AppError("NOT_FOUND", "Upload not found");
  return u;
}

function expectedPartSize(u: UploadRow, n: number) {
  return n < u.partCount ? u.partSize : u.size - u.partSize * (u.partCount - 1);
}

/** POST /uploads: starts a resumable upload, or completes at once when the content is already stored. */
export async function createUpload(
  env: Env,
  db: Db,
  config: Config,
  user: AuthUser,
  input: { file_name: string; size: number; sha256: string; content_type: string; purpose: PurposeT; target_id?: string; part_size?: number },
) {
  const { purpose } = input;
  const limit = maxBytes(config, purpose);
  if (input.size > limit) throw new AppError("PAYLOAD_TOO_LARGE", `size: ${purpose} files are limited to ${limit} bytes`);
  let contentType = checkType(purpose, input.content_type, null);
  const targetId = await checkTarget(db, user, purpose, input.target_id);
  const now = new Date();
  const base = { ownerId: user.id, purpose, targetId, name: input.file_name, size: input.size, sha256: input.sha256, createdAt: now.toISOString() };

  // instant upload: I stored these bytes before (their checked type wins over the declared one).
  // Only my own files: a hash alone must not tell anyone whether someone else stored a document.
  const stored = await donorType(db, user.id, input.sha256, input.size);
  if (stored && (!IMAGE_PURPOSES.includes(purpose) || RASTER.test(stored))) {
    contentType = stored;
    const fileId = newId("file");
    if (await adoptBlob(db, { ...base, id: fileId, contentType }, { ownOnly: true })) {
      await addRef(db, fileId, purpose, targetId);
      const row: UploadRow = {
        ...base,
        id: newId("upl"),
        contentType,
        partSize: input.size,
        partCount: 1,
        r2Key: "",
        r2UploadId: null,
        status: "completed",
        fileId,
        error: null,
        expiresAt: now.toISOString(),
        proofRanges: null,
        proofState: null,
      };
      await db.insert(uploads).values(row);
      return uploadView(env, db, row, true);
    }
  }

  const partSize = input.part_size ?? Math.max(DEFAULT_PART_SIZE, Math.ceil(input.size / MAX_PARTS / MiB) * MiB);
  const partCount = Math.ceil(input.size / partSize);
  if (partCount > MAX_PARTS) throw new AppError("VALIDATION_ERROR", `part_size: ${input.size} bytes need more than ${MAX_PARTS} parts of ${partSize}`);
  const id = newId("upl");
  const r2Key = `u/${id}`;
  const multipart = await env.FILES.createMultipartUpload(r2Key, { httpMetadata: { contentType } });
  const row: UploadRow = {
    ...base,
    id,
    contentType,
    partSize,
    partCount,
    r2Key,
    r2UploadId: multipart.uploadId,
    status: "uploading",
    fileId: null,
    error: null,
    expiresAt: new Date(now.getTime() + config.upload_expiry_hours * 3600_000).toISOString(),
    proofRanges: null,
    proofState: null,
  };
  // someone else stored these bytes: a possession challenge beside the normal upload (seed 002's
  // instant upload, without handing the file to whoever merely knows its hash)
  const ranges = await offerChallenge(db, user.id, input.sha256, input.size, purpose);
  if (ranges) {
    row.proofRanges = JSON.stringify(ranges);
    row.proofState = "pending";
  }
  await db.insert(uploads).values(row);
  return uploadView(env, db, row);
}

// ---- possession proof ---------------------------------------------------------------------------

/** How many ranges a challenge asks for, and how long each is (shorter only when the file is). */
const PROOF_RANGES = 3;
const PROOF_RANGE_BYTES = 4096;
/** Per user and day: challenges offered (each one tells that the bytes are stored) and wrong answers. */
const PROOF_OFFERS_PER_DAY = 200;
const PROOF_FAILURES_PER_DAY = 10;
const DAY = 86_400;

interface ProofRange {
  offset: number;
  length: number;
}

/** Server-chosen random ranges of a file of `size` bytes, one in each of PROOF_RANGES equal stretches. */
export function proofRanges(size: number): ProofRange[] {
  const length = Math.min(size, PROOF_RANGE_BYTES);
  if (length === size) return [{ offset: 0, length }];
  const random = new Uint32Array(PROOF_RANGES);
  crypto.getRandomValues(random);
  const stretch = size / PROOF_RANGES;
  return [...random].map((r, i) => {
    // anywhere the range fits, biased to its own stretch so the ranges cover the file
    const lo = Math.min(Math.floor(i * stretch), size - length);
    const hi = Math.max(lo, Math.min(Math.floor((i + 1) * stretch), size) - length);
    return { offset: lo + (r % (hi - lo + 1)), length };
  });
}

/**
 * The ranges to challenge the caller with, when another owner's live file has these bytes and the
 * caller still has challenges left today (one who keeps answering wrong, or probes many hashes, gets
 * plain uploads only).
 */
async function offerChallenge(db: Db, userId: string, sha256: string, size: number, purpose: PurposeT): Promise<ProofRange[] | null> {
  if (!(await anyDonor(db, sha256, size, purpose))) return null;
  if ((await peek(db, `proof_fail:${userId}`)).count >= PROOF_FAILURES_PER_DAY) return null;
  if ((await bump(db, `proof_offer:${userId}`, DAY)).count > PROOF_OFFERS_PER_DAY) return null;
  return proofRanges(size);
}

async function rangeSha256(env: Env, key: string, range: ProofRange): Promise<string | null> {
  const object = await env.FILES.get(key, { range });
  if (!object) return null;
  return sha256Hex(await object.arrayBuffer());
}

/**
 * POST /uploads/{id}/proof: one answer per challenge. The sha256 of every range of the stored bytes →
 * the upload completes at once with a file of the caller's on the stored object; anything else → 409,
 * the challenge is spent and the parts go up as usual.
 */
export async function proveUpload(env: Env, db: Db, user: AuthUser, id: string, sha256s: string[]) {
  const u = await ownUpload(db, user, id);
  if (u.status === "completed" && u.proofState === "passed") return uploadView(env, db, u, true);
  requireUploading(u);
  if (u.proofState !== "pending" || !u.proofRanges) {
    throw new AppError("CONFLICT", u.proofState ? "This upload's challenge was answered already; upload the parts" : "This upload has no possession challenge; upload the parts");
  }
  const ranges = JSON.parse(u.proofRanges) as ProofRange[];
  if (sha256s.length !== ranges.length) throw new AppError("VALIDATION_ERROR", `sha256s: one hash per range, ${ranges.length} in all`);
  // spend the challenge first: concurrent answers get one try between them
  const spent = await db
    .update(uploads)
    .set({ proofState: "failed", status: "completing", expiresAt: new Date(Date.now() + 3600_000).toISOString() })
    .where(and(eq(uploads.id, id), eq(uploads.proofState, "pending"), eq(uploads.status, "uploading")))
    .run();
  if (!spent.meta.changes) throw new AppError("CONFLICT", "This upload's challenge was answered already; upload the parts");
  const refuse = async (why: string) => {
    await db.update(uploads).set({ status: "uploading", expiresAt: u.expiresAt }).where(and(eq(uploads.id, id), eq(uploads.status, "completing")));
    return new AppError("CONFLICT", `${why}; upload the parts as usual`);
  };
  let donor: Awaited<ReturnType<typeof anyDonor>> = null;
  let right = false;
  try {
    donor = await anyDonor(db, u.sha256, u.size, u.purpose);
    if (donor) {
      const want = await Promise.all(ranges.map((r) => rangeSha256(env, donor!.r2Key, r)));
      const got = new TextEncoder().encode(sha256s.join(","));
      right = want.every((w) => w !== null) && timingSafeEqual(new TextEncoder().encode(want.join(",")), got);
    }
  } catch (err) {
    await refuse("unreachable");
    throw err;
  }
  if (!right) {
    await bump(db, `proof_fail:${user.id}`, DAY);
    throw await refuse(donor ? "The hashes do not match the stored bytes" : "The stored bytes are gone");
  }
  const fileId = newId("file");
  const contentType = donor!.contentType;
  const adopted = await adoptBlob(db, { id: fileId, ownerId: u.ownerId, purpose: u.purpose, targetId: u.targetId, name: u.name, size: u.size, contentType, sha256: u.sha256 }, { r2Key: donor!.r2Key });
  if (!adopted) throw await refuse("The stored bytes are gone");
  const [, , done] = await db.batch([
    db
      .update(uploads)
      .set({ status: "completed", proofState: "passed", fileId, contentType, r2Key: "", r2UploadId: null, partCount: 1, partSize: u.size })
      .where(and(eq(uploads.id, id), eq(uploads.status, "completing"))),
    db.delete(uploadParts).where(eq(uploadParts.uploadId, id)),
    db.select().from(uploads).where(eq(uploads.id, id)),
  ]);
  // the parts sent so far (if any) are not needed: free them
  if (u.r2UploadId) await env.FILES.resumeMultipartUpload(u.r2Key, u.r2UploadId).abort().catch(() => undefined);
  await addRef(db, fileId, u.purpose, u.targetId);
  return uploadView(env, db, done[0], true);
}

export async function getUpload(env: Env, db: Db, user: AuthUser, id: string) {
  return uploadView(env, db, await ownUpload(db, user, id));
}

function requireUploading(u: UploadRow) {
  if (u.status === "uploading" && u.expiresAt > new Date().toISOString()) return;
  const why = u.status === "uploading" ? "expired" : u.status;
  throw new AppError("CONFLICT", `This upload is ${why}; ${u.status === "completed" ? "its file is stored" : "start a new one"}`);
}

/** Reads a request body of exactly `size` bytes (a part): memory grows with what arrives, and more is refused. */
async function readExactly(body: ReadableStream<Uint8Array> | null, size: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let at = 0;
  if (body) {
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (at + value.byteLength > size) {
        await reader.cancel();
        throw new AppError("VALIDATION_ERROR", `part: more than the expected ${size} bytes`);
      }
      chunks.push(value);
      at += value.byteLength;
    }
  }
  if (at !== size) throw new AppError("VALIDATION_ERROR", `part: ${at} bytes, expected ${size}`);
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** PUT /uploads/{id}/parts/{n}: stores one part (again, if it was stored before). */
export async function putPart(env: Env, db: Db, user: AuthUser, id: string, n: number, request: Request) {
  const u = await ownUpload(db, user, id);
  requireUploading(u);
  if (n > u.partCount) throw new AppError("VALIDATION_ERROR", `n: this upload has ${u.partCount} part${u.partCount === 1 ? "" : "s"}`);
  const size = expectedPartSize(u, n);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) !== size) throw new AppError("VALIDATION_ERROR", `part ${n} must be ${size} bytes, not ${declared}`);
  const bytes = await readExactly(request.body, size);
  if (n === 1) checkType(u.purpose, u.contentType, bytes.subarray(0, 64));
  const part = await env.FILES.resumeMultipartUpload(u.r2Key, u.r2UploadId!).uploadPart(n, bytes);
  await db
    .insert(uploadParts)
    .values({ uploadId: id, partNumber: n, size, etag: part.etag })
    .onConflictDoUpdate({ target: [uploadParts.uploadId, uploadParts.partNumber], set: { etag: part.etag, size, createdAt: new Date().toISOString() } });
  return uploadView(env, db, await ownUpload(db, user, id));
}

/** Streams the stored object through SHA-256 (the multipart API gives no checksum of the whole). */
async function storedSha256(env: Env, key: string): Promise<string | null> {
  const object = await env.FILES.get(key);
  if (!object) return null;
  const digest = new crypto.DigestStream("SHA-256");
  await object.body.pipeTo(digest);
  return toHex(await digest.digest);
}

/** POST /uploads/{id}/complete: joins the parts, checks the whole file's sha256, and stores the file. */
export async function completeUpload(env: Env, db: Db, user: AuthUser, id: string) {
  const u = await ownUpload(db, user, id);
  if (u.status === "completed") return uploadView(env, db, u);
  requireUploading(u);
  const parts = await partsOf(db, id);
  const missing = missingParts(u, parts);
  if (missing.length) throw new AppError("CONFLICT", `Parts missing: ${missing.slice(0, 20).join(", ")}${missing.length > 20 ? ", …" : ""}`, { details: { missing_parts: missing } });
  // one completion at a time: whoever moves the status on does the work
  // the claim also moves the expiry on, so the sweep cannot abort a long completion midway
  const claimed = await db
    .update(uploads)
    .set({ status: "completing", expiresAt: new Date(Date.now() + 3600_000).toISOString() })
    .where(and(eq(uploads.id, id), eq(uploads.status, "uploading")))
    .run();
  if (!claimed.meta.changes) {
    const now = await ownUpload(db, user, id);
    if (now.status === "completed") return uploadView(env, db, now);
    throw new AppError("CONFLICT", `This upload is ${now.status}`);
  }
  const fail = async (error: string) => {
    await env.FILES.delete(u.r2Key).catch(() => undefined);
    await db.batch([db.update(uploads).set({ status: "failed", error }).where(eq(uploads.id, id)), db.delete(uploadParts).where(eq(uploadParts.uploadId, id))]);
    return new AppError("BAD_REQUEST", `${error}; start a new upload`);
  };
  try {
    await env.FILES.resumeMultipartUpload(u.r2Key, u.r2UploadId!).complete(parts.map((p) => ({ partNumber: p.part_number, etag: p.etag })));
  } catch (err) {
    // back to uploading, so the client can re-send a part and try again
    await db.update(uploads).set({ status: "uploading" }).where(eq(uploads.id, id));
    throw new AppError("CONFLICT", `Storage refused the parts: ${err instanceof Error ? err.message : String(err)}`);
  }
  const sha = await storedSha256(env, u.r2Key);
  if (sha !== u.sha256) throw await fail(`the uploaded bytes hash to ${sha ?? "nothing"}, not the declared sha256 ${u.sha256}`);
  const fileId = newId("file");
  // only while still ours to complete (a sweep that took it has freed the bytes)
  const finished = await db.update(uploads).set({ status: "completed", fileId }).where(and(eq(uploads.id, id), eq(uploads.status, "completing"))).run();
  if (!finished.meta.changes) throw new AppError("CONFLICT", "This upload expired while completing; start a new one");
  await db.batch([
    db.insert(files).values({ id: fileId, ownerId: u.ownerId, purpose: u.purpose, targetId: u.targetId, r2Key: u.r2Key, name: u.name, size: u.size, contentType: u.contentType, sha256: u.sha256 }),
    db.delete(uploadParts).where(eq(uploadParts.uploadId, id)),
  ]);
  await addRef(db, fileId, u.purpose, u.targetId);
  return uploadView(env, db, await ownUpload(db, user, id));
}

async function abortStored(env: Env, db: Db, u: UploadRow, status: "aborted" | "expired") {
  if (u.r2UploadId) {
    try {
      await env.FILES.resumeMultipartUpload(u.r2Key, u.r2UploadId).abort();
    } catch {
      // already gone at the storage: nothing to free
    }
  }
  // a completion that died midway may have joined the object; no file points at it yet
  if (u.status === "completing") await env.FILES.delete(u.r2Key);
  await db.batch([
    db.update(uploads).set({ status }).where(and(eq(uploads.id, u.id), eq(uploads.status, u.status))),
    db.delete(uploadParts).where(eq(uploadParts.uploadId, u.id)),
  ]);
}

/** DELETE /uploads/{id}: abandons an upload and frees its parts. */
export async function abortUpload(env: Env, db: Db, user: AuthUser, id: string) {
  const u = await ownUpload(db, user, id);
  if (u.status === "completed") throw new AppError("CONFLICT", "This upload is completed; DELETE /files/{id} removes its file");
  if (u.status === "uploading") await abortStored(env, db, u, "aborted");
  return uploadView(env, db, await ownUpload(db, user, id));
}

/**
 * The scheduled sweep: aborts uploads left unfinished (or a completion left midway) past their
 * expiry, `batch` at a time for at most `rounds` (the next run takes the rest). Returns how many.
 */
export async function expireUploads(env: Env, db: Db, now = new Date(), batch = 100, rounds = 10) {
  let swept = 0;
  for (let round = 0; round < rounds; round++) {
    const stale = await db
      .select()
      .from(uploads)
      .where(and(inArray(uploads.status, ["uploading", "completing"]), lt(uploads.expiresAt, now.toISOString())))
      .limit(batch);
    for (const u of stale) await abortStored(env, db, u, "expired");
    swept += stale.length;
    if (stale.length < batch) break;
  }
  return swept;
}
