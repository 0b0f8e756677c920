import { createRoute, z } from "@hono/zod-openapi";
import { authenticate, bearerToken, requireAuth } from "../../middleware/auth";
import { getConfig } from "../../middleware/context";
import { AppError } from "../../lib/errors";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { CreateUploadBody, DownloadQuery, FileParam, FileView, PartParam, ProofBody, UploadForm, UploadParam, UploadView } from "./files.schemas";
import * as files from "./files.service";

const tags = ["Files"];
const router = createRouter();
router.use("/uploads", requireAuth);
router.use("/uploads/*", requireAuth);
for (const path of ["/files", "/files/:id"]) router.use(path, requireAuth);
// before the form is parsed (which buffers it): the type, and a size bound from Content-Length
router.post("/files", async (c, next) => {
  if (!/^multipart\/form-data\b/i.test(c.req.header("content-type") ?? "")) throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Send the file as multipart/form-data (fields file, purpose, target_id)");
  const length = Number(c.req.header("content-length") ?? NaN);
  if (!Number.isFinite(length)) throw new AppError("BAD_REQUEST", "Form uploads need a Content-Length header");
  const config = await getConfig(c);
  if (length > config.form_upload_max_bytes + FORM_OVERHEAD) {
    throw new AppError("PAYLOAD_TOO_LARGE", `A form upload is limited to ${config.form_upload_max_bytes} bytes in all; send larger files one at a time or through POST /uploads`);
  }
  await next();
});

/** Form uploads skip the app's JSON body limit; this bounds them before the form is parsed. */
const FORM_OVERHEAD = 64 * 1024;

router.openapi(
  createRoute({
    method: "post",
    path: "/files",
    tags,
    security: bearer,
    summary: "Upload a file (multipart form), up to form_upload_max_bytes for the whole form; larger files go through /uploads",
    description:
      "Size limits per purpose come from the operator configs (`image_max_bytes`, `form_upload_max_bytes`, `file_max_bytes`). Images are checked by their first bytes, not only their declared type. Bytes already stored (same sha256 and size) are not stored twice.",
    request: { body: { required: true, content: { "multipart/form-data": { schema: UploadForm } } } },
    responses: { 201: envelope(z.object({ file: FileView, files: z.array(FileView) }), "Stored"), ...errors(401, 403, 404, 413, 415) },
  }),
  async (c) => {
    const stored = await files.storeFormFiles(c.env, c.var.db, await getConfig(c), c.var.user, c.req.valid("form"));
    return ok(c, "File uploaded", { file: stored[0], files: stored }, 201);
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/files/{id}",
    tags,
    security: bearer,
    summary: "A file's metadata and a signed download URL (for those allowed to see it)",
    request: { params: FileParam },
    responses: { 200: envelope(z.object({ file: FileView })), ...errors(401, 403, 404) },
  }),
  async (c) => {
    const file = await files.visibleFile(c.var.db, c.var.user, c.req.valid("param").id);
    return ok(c, "File retrieved", { file: await files.fileView(c.env, file) });
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/files/{id}/download",
    tags,
    security: [...bearer, {}],
    summary: "Download a file: with a bearer token, through the signed download_url, or (avatars) without either; supports Range and If-None-Match",
    description:
      "Served with the original file name in Content-Disposition (inline only for images, audio, video, PDF and plain text), `X-Content-Type-Options: nosniff` and a sandboxing Content-Security-Policy.",
    request: { params: FileParam, query: DownloadQuery },
    responses: {
      200: { description: "The whole file", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
      206: { description: "The requested byte range", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
      304: { description: "Not modified (If-None-Match)" },
      ...errors(401, 403, 404, 416),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { sig, expires, disposition } = c.req.valid("query");
    const token = bearerToken(c.req.header("authorization"));
    let file;
    if (sig || expires) {
      if (!sig || !expires) throw new AppError("VALIDATION_ERROR", "expires and sig come together (from download_url)");
      await files.verifySignature(c.env, id, expires, sig);
      file = await files.liveFile(c.var.db, id);
    } else if (token) {
      file = await files.visibleFile(c.var.db, await authenticate(c.env, token), id);
    } else {
      file = await files.liveFile(c.var.db, id);
      if (!files.isPublicFile(file)) throw new AppError("UNAUTHORIZED", "Missing or invalid token (or use the file's signed download_url)");
    }
    return files.download(c.env, file, { range: c.req.header("range"), ifNoneMatch: c.req.header("if-none-match"), disposition }) as never;
  },
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/files/{id}",
    tags,
    security: bearer,
    summary: "Delete my file (messages that carried it keep its id, but it no longer downloads)",
    request: { params: FileParam },
    responses: { 200: envelope(z.object({ id: z.string(), deleted: z.literal(true) })), ...errors(401, 403, 404) },
  }),
  async (c) => ok(c, "File deleted", await files.deleteFile(c.env, c.var.db, c.var.user, c.req.valid("param").id)),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/uploads",
    tags,
    security: bearer,
    summary: "Start a resumable upload; completes at once (instant: true) when I stored the same bytes before, or challenges me to prove I have them when someone else did",
    description:
      "Upload the parts with PUT /uploads/{id}/parts/{n} in any order (each exactly part_size bytes, the last the remainder), check progress with GET, then POST …/complete, which verifies the whole file's sha256. Unfinished uploads expire after `upload_expiry_hours`.",
    request: { body: jsonBody(CreateUploadBody) },
    responses: { 201: envelope(z.object({ upload: UploadView }), "Started (or completed at once)"), ...errors(401, 403, 404, 413, 415) },
  }),
  async (c) => {
    const config = await getConfig(c);
    const upload = await files.createUpload(c.env, c.var.db, config, c.var.user, c.req.valid("json"));
    return ok(c, upload.instant ? "Already stored: upload completed" : "Upload started", { upload }, 201);
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/uploads/{id}",
    tags,
    security: bearer,
    summary: "An upload's status: the parts stored, the parts missing and the progress",
    request: { params: UploadParam },
    responses: { 200: envelope(z.object({ upload: UploadView })), ...errors(401, 404) },
  }),
  async (c) => ok(c, "Upload retrieved", { upload: await files.getUpload(c.env, c.var.db, c.var.user, c.req.valid("param").id) }),
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/uploads/{id}",
    tags,
    security: bearer,
    summary: "Abort an upload and free its stored parts",
    request: { params: UploadParam },
    responses: { 200: envelope(z.object({ upload: UploadView })), ...errors(401, 404, 409) },
  }),
  async (c) => ok(c, "Upload aborted", { upload: await files.abortUpload(c.env, c.var.db, c.var.user, c.req.valid("param").id) }),
);

router.openapi(
  createRoute({
    method: "put",
    path: "/uploads/{id}/parts/{n}",
    tags,
    security: bearer,
    summary: "Store part n (raw body); sending a part again replaces it",
    request: {
      params: PartParam,
      body: { required: true, content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
    },
    responses: { 200: envelope(z.object({ upload: UploadView })), ...errors(401, 404, 409, 415) },
  }),
  async (c) => {
    const { id, n } = c.req.valid("param");
    return ok(c, "Part stored", { upload: await files.putPart(c.env, c.var.db, c.var.user, id, n, c.req.raw) });
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/uploads/{id}/complete",
    tags,
    security: bearer,
    summary: "Join the parts into the file; checks every part is there and the whole file's sha256",
    request: { params: UploadParam },
    responses: { 200: envelope(z.object({ upload: UploadView })), ...errors(401, 404, 409) },
  }),
  async (c) => ok(c, "Upload completed", { upload: await files.completeUpload(c.env, c.var.db, c.var.user, c.req.valid("param").id) }),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/uploads/{id}/proof",
    tags,
    security: bearer,
    summary: "Answer the upload's possession challenge: the right hashes complete it at once (instant: true)",
    description:
      "When POST /uploads finds the same sha256 and size stored under another owner it returns `proof: {ranges: [{offset, length}, …]}`. Send the sha256 of each of those byte ranges of your file: if they match the stored bytes the upload completes at once with a file of yours on the stored object. A wrong answer is a 409 and spends the challenge (one answer each; a user who answers wrong too often gets no more challenges for a day); the upload stays open for its parts.",
    request: { params: UploadParam, body: jsonBody(ProofBody) },
    responses: { 200: envelope(z.object({ upload: UploadView })), ...errors(401, 404, 409, 415) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const upload = await files.proveUpload(c.env, c.var.db, c.var.user, id, c.req.valid("json").sha256s);
    return ok(c, "Possession proven: upload completed", { upload });
  },
);

export default router;
