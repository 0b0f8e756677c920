import { z } from "@hono/zod-openapi";
import { FileId } from "../messages/messages.schemas";

export { FileId };
export const UploadId = z.string().regex(/^upl_[0-9a-z]{6,40}$/, "an upload id (upl_…)");

export const purposes = ["avatar", "group_avatar", "message", "moment", "other"] as const;
export const Purpose = z.enum(purposes).openapi({
  description:
    "avatar and group_avatar: an image, public (its download path needs no token); message: readable by the members of each conversation it is sent into (or named in target_id); moment: an image, readable by the owner's friends and by whoever may see a moment showing it; other: the owner's only",
});
export type PurposeT = z.infer<typeof Purpose>;

export const Sha256 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, "64 hex characters")
  .transform((s) => s.toLowerCase());

export const ContentType = z
  .string()
  .trim()
  .toLowerCase()
  .transform((s) => s.split(";")[0].trim())
  .pipe(z.string().regex(/^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/, "a MIME type such as image/png"));

export const FileName = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .refine((s) => !/[\u0000-\u001f\u007f/\\]/.test(s), "no control characters or path separators");

export const FileView = z
  .object({
    id: FileId,
    owner_id: z.string(),
    purpose: Purpose,
    target_id: z.string().nullable(),
    name: z.string(),
    size: z.number().int(),
    content_type: z.string(),
    sha256: z.string().nullable(),
    created_at: z.string(),
    download_url: z.string().openapi({
      description: "downloads without a bearer token (for <img src>): for avatars and group avatars a stable path to store in a profile; otherwise a signed URL valid for about an hour",
    }),
    download_url_expires_at: z.string().nullable().openapi({ description: "null for avatars (the path does not expire)" }),
  })
  .openapi("File");

export const FileParam = z.object({ id: FileId });

export const DownloadQuery = z.object({
  expires: z.coerce.number().int().positive().optional().openapi({ description: "with sig: the signed URL's expiry (unix seconds)" }),
  sig: z.string().regex(/^[0-9a-f]{64}$/).optional().openapi({ description: "signature from download_url; without it a bearer token is required" }),
  disposition: z.enum(["inline", "attachment"]).optional().openapi({ description: "attachment forces a download; inline is honoured only for media types a browser cannot run script in" }),
});

const formFile = z.instanceof(File).openapi({ type: "string", format: "binary" });

export const UploadForm = z
  .object({
    file: z.union([formFile, z.array(formFile)]).openapi({ description: "the file; repeat the field for several moment photos (up to 9)" }),
    purpose: Purpose.default("message"),
    target_id: z.string().trim().max(64).optional().openapi({ description: "group_avatar: the group (owner or admin); message: a conversation I am a member of" }),
  })
  .openapi("UploadForm");

export const CreateUploadBody = z
  .object({
    file_name: FileName,
    size: z.number().int().min(1),
    sha256: Sha256,
    content_type: ContentType,
    purpose: Purpose.default("message"),
    target_id: z.string().trim().max(64).optional(),
    part_size: z
      .number()
      .int()
      .min(5 * 1024 * 1024)
      .max(64 * 1024 * 1024)
      .optional()
      .openapi({ description: "bytes per part (5-64 MiB); by default 8 MiB, or more to stay within 10,000 parts" }),
  })
  .strict()
  .openapi("CreateUpload");

export const UploadView = z
  .object({
    id: UploadId,
    status: z.enum(["uploading", "completing", "completed", "aborted", "expired", "failed"]),
    instant: z.boolean().openapi({ description: "completed at once because a file with this sha256 and size is already stored" }),
    file_name: z.string(),
    size: z.number().int(),
    sha256: z.string(),
    content_type: z.string(),
    purpose: Purpose,
    target_id: z.string().nullable(),
    part_size: z.number().int(),
    part_count: z.number().int(),
    parts: z.array(z.object({ part_number: z.number().int(), size: z.number().int() })).openapi({ description: "the parts stored so far" }),
    missing_parts: z.array(z.number().int()),
    uploaded_bytes: z.number().int(),
    progress: z.number().openapi({ description: "uploaded_bytes / size, 0-1" }),
    error: z.string().nullable(),
    created_at: z.string(),
    expires_at: z.string(),
    file: FileView.nullable(),
    proof: z
      .object({
        ranges: z.array(z.object({ offset: z.number().int(), length: z.number().int() })).openapi({ description: "byte ranges of the file, chosen at random by the server" }),
      })
      .nullable()
      .openapi({
        description:
          "A possession challenge, while one is open: these bytes are already stored (under another owner), so sending the sha256 of each range to POST /uploads/{id}/proof completes the upload at once. One answer per challenge; ignoring it and uploading the parts works as usual.",
      }),
  })
  .openapi("Upload");

export const ProofBody = z
  .object({
    sha256s: z.array(Sha256).min(1).max(16).openapi({ description: "the sha256 (hex) of each range of `proof.ranges`, in order" }),
  })
  .strict()
  .openapi("UploadProof");

export const UploadParam = z.object({ id: UploadId });
export const PartParam = z.object({ id: UploadId, n: z.coerce.number().int().min(1).max(10_000) });
