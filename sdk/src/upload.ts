import type { EdgeIm, Schemas } from "./client";
import { EdgeImError } from "./errors";

export type StoredFile = Schemas["File"];

export interface UploadOptions {
  purpose?: Schemas["CreateUpload"]["purpose"];
  /** For `message`: the conversation the file is for; for `group_avatar`: the group. */
  targetId?: string;
  /** Called with (bytes sent, total) as the upload goes. */
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
  /** Files above this size go in resumable parts (POST /uploads); smaller ones in one form POST. Default 5 MiB. */
  chunkedAbove?: number;
  /** Bytes per part of a chunked upload (5-64 MiB); the server picks 8 MiB by default. */
  partSize?: number;
  /** Where a chunked upload's id is kept so that a retry (even after a page reload) resumes it. Default: localStorage when there is one. */
  resumeStore?: KeyValueStore | null;
}

/** Where resumable uploads are remembered (localStorage's shape). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const DEFAULT_CHUNKED_ABOVE = 5 * 1024 * 1024;

interface SendResult {
  status: number;
  body: { success?: boolean; data?: unknown; code?: string; error?: string; details?: unknown };
}

/**
 * Uploads a file: small ones in one multipart POST /files, large ones in parts (POST /uploads, PUT
 * each missing part, complete) that resume where they stopped: the upload id is remembered by the
 * file's sha256 and size, and only the parts the server lacks are sent again.
 */
export async function uploadFile(im: EdgeIm, file: Blob & { name?: string }, options: UploadOptions = {}): Promise<StoredFile> {
  const total = file.size;
  const progress = options.onProgress ?? (() => undefined);
  const name = file.name || "file";
  const purpose = options.purpose ?? "message";
  if (total <= (options.chunkedAbove ?? DEFAULT_CHUNKED_ABOVE)) {
    const form = new FormData();
    form.append("file", file, name);
    form.append("purpose", purpose);
    if (options.targetId) form.append("target_id", options.targetId);
    const res = await send(im, "POST", "/files", form, (n) => progress(n, total), options.signal);
    progress(total, total);
    return (res as { file: StoredFile }).file;
  }

  const sha256 = hex(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
  const store = options.resumeStore === undefined ? ((globalThis as { localStorage?: KeyValueStore }).localStorage ?? null) : options.resumeStore;
  const key = `edge-im:upload:${sha256}:${total}:${purpose}:${options.targetId ?? ""}:${options.partSize ?? ""}`;
  const remembered = store?.getItem(key);
  const resumed = remembered
    ? await im.data(im.api.GET("/uploads/{id}", { params: { path: { id: remembered } } })).then(
        (r) => (r.upload.status === "uploading" || r.upload.status === "completed" ? r.upload : null),
        () => null,
      )
    : null;
  const upload =
    resumed ??
    (
      await im.data(
        im.api.POST("/uploads", {
          body: { file_name: name, size: total, sha256, content_type: file.type || "application/octet-stream", purpose, ...(options.targetId ? { target_id: options.targetId } : {}), ...(options.partSize ? { part_size: options.partSize } : {}) },
        }),
      )
    ).upload;
  store?.setItem(key, upload.id);
  const done = (file: StoredFile) => {
    store?.removeItem(key);
    progress(total, total);
    return file;
  };
  if (upload.status === "completed" && upload.file) return done(upload.file);
  // these bytes are stored already (someone else's): prove I have them and skip the parts
  if (upload.proof) {
    const proven = await answerProof(im, upload.id, upload.proof.ranges, file);
    if (proven) return done(proven);
  }

  const missing = new Set(upload.missing_parts);
  let stored = upload.uploaded_bytes;
  progress(stored, total);
  for (let n = 1; n <= upload.part_count; n++) {
    if (!missing.has(n)) continue;
    const start = (n - 1) * upload.part_size;
    const part = file.slice(start, Math.min(total, start + upload.part_size));
    const base = stored;
    await send(im, "PUT", `/uploads/${upload.id}/parts/${n}`, part, (sent) => progress(base + sent, total), options.signal);
    stored += part.size;
    progress(stored, total);
  }
  const completed = (await im.data(im.api.POST("/uploads/{id}/complete", { params: { path: { id: upload.id } } }))).upload;
  if (!completed.file) throw new EdgeImError(409, "CONFLICT", completed.error ?? "The upload did not complete");
  return done(completed.file);
}

/**
 * Answers a possession challenge (POST /uploads returned `proof.ranges`) with the sha256 of each byte
 * range of the file. The stored file on success; null when the server refused (409: the challenge
 * was spent or the bytes are gone), and the parts then go up as usual.
 */
async function answerProof(im: EdgeIm, id: string, ranges: { offset: number; length: number }[], file: Blob): Promise<StoredFile | null> {
  const sha256s = await Promise.all(ranges.map(async (r) => hex(await crypto.subtle.digest("SHA-256", await file.slice(r.offset, r.offset + r.length).arrayBuffer()))));
  try {
    const { upload } = await im.data(im.api.POST("/uploads/{id}/proof", { params: { path: { id } }, body: { sha256s } }));
    return upload.status === "completed" && upload.file ? upload.file : null;
  } catch (err) {
    if (err instanceof EdgeImError && err.status === 409) return null;
    throw err;
  }
}

/** The part of XMLHttpRequest used here (declared so the SDK also compiles without the DOM library). */
interface Xhr {
  status: number;
  responseText: string;
  upload: { onprogress: ((e: { loaded: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob | FormData): void;
  abort(): void;
}
const XhrClass = (globalThis as { XMLHttpRequest?: new () => Xhr }).XMLHttpRequest;

/** One body upload with progress: XMLHttpRequest where there is one (browsers report upload progress only there), else fetch. */
async function send(im: EdgeIm, method: string, path: string, body: Blob | FormData, onSent: (n: number) => void, signal?: AbortSignal, retried = false): Promise<unknown> {
  const result = !XhrClass ? await sendFetch(im, method, path, body, signal) : await sendXhr(im, method, path, body, onSent, signal);
  if (result.status === 401 && result.body.code === "TOKEN_EXPIRED" && !retried) {
    await im.refresh();
    return send(im, method, path, body, onSent, signal, true);
  }
  if (result.status >= 200 && result.status < 300 && result.body.success !== false) return result.body.data;
  throw new EdgeImError(result.status, result.body.code ?? "HTTP_ERROR", result.body.error ?? `HTTP ${result.status}`, result.body.details);
}

async function sendFetch(im: EdgeIm, method: string, path: string, body: Blob | FormData, signal?: AbortSignal): Promise<SendResult> {
  const headers: Record<string, string> = {};
  if (im.session) headers.authorization = `Bearer ${im.session.token}`;
  if (body instanceof Blob && !(body instanceof File)) headers["content-type"] = "application/octet-stream";
  const res = await im.rawFetch(`${im.baseUrl}/api/v1${path}`, { method, headers, body, signal });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as SendResult["body"] };
}

function sendXhr(im: EdgeIm, method: string, path: string, body: Blob | FormData, onSent: (n: number) => void, signal?: AbortSignal): Promise<SendResult> {
  return new Promise((resolve, reject) => {
    const xhr = new XhrClass!();
    xhr.open(method, `${im.baseUrl}/api/v1${path}`);
    if (im.session) xhr.setRequestHeader("authorization", `Bearer ${im.session.token}`);
    if (!(body instanceof FormData)) xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.upload.onprogress = (e) => onSent(e.loaded);
    xhr.onload = () => {
      let parsed = {};
      try {
        parsed = JSON.parse(xhr.responseText);
      } catch {
        // not JSON: reported by status
      }
      resolve({ status: xhr.status, body: parsed });
    };
    xhr.onerror = () => reject(new EdgeImError(0, "NETWORK", "The upload was interrupted"));
    xhr.onabort = () => reject(new EdgeImError(0, "ABORTED", "The upload was cancelled"));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

function hex(buf: ArrayBuffer) {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
