import { z } from "@hono/zod-openapi";
import { FileId } from "../files/files.schemas";
import { PublicUser, UserId } from "../users/users.schemas";

export const MomentId = z.string().regex(/^mom_[0-9a-z]{6,40}$/, "a moment id (mom_…)");
export const CommentId = z.string().regex(/^cmt_[0-9a-z]{6,40}$/, "a comment id (cmt_…)");
export const NoteId = z.string().regex(/^note_[0-9a-z]{6,40}$/, "a note id (note_…)");

export const Visibility = z.enum(["public", "friends", "private"]).openapi({ description: "public: every signed-in user; friends (default): my friends; private: only me" });

export const CreateMomentBody = z
  .object({
    text: z.string().trim().max(5000).optional(),
    photos: z.array(FileId).max(9).default([]).openapi({ description: "up to 9 of my files uploaded with purpose moment" }),
    visibility: Visibility.default("friends"),
  })
  .strict()
  .refine((v) => (v.text?.length ?? 0) > 0 || v.photos.length > 0, { message: "a moment needs text or photos", path: ["text"] })
  .refine((v) => new Set(v.photos).size === v.photos.length, { message: "the same photo twice", path: ["photos"] })
  .openapi("CreateMoment");

export const FeedQuery = z.object({
  cursor: MomentId.optional().openapi({ description: "next_cursor from the previous page" }),
  limit: z.coerce.number().int().min(1).max(50).default(20),
  user_id: UserId.optional().openapi({ description: "only this user's moments (their space), as far as I may see them" }),
});

const Author = PublicUser.pick({ id: true, username: true, nickname: true, avatar: true });

export const CommentView = z
  .object({
    id: CommentId,
    moment_id: MomentId,
    user: Author,
    text: z.string(),
    reply_to: CommentId.nullable(),
    reply_to_user: Author.nullable(),
    created_at: z.string(),
  })
  .openapi("MomentComment");

export const MomentView = z
  .object({
    id: MomentId,
    user: Author,
    text: z.string().nullable(),
    photos: z.array(z.object({ id: FileId, url: z.string(), content_type: z.string() })),
    visibility: Visibility,
    like_count: z.number().int(),
    comment_count: z.number().int(),
    is_liked: z.boolean(),
    likes: z.array(Author).openapi({ description: "likes by me, the author and my friends (as on WeChat: strangers' likes are not shown)" }),
    comments: z.array(CommentView).openapi({ description: "comments by me, the author and my friends, oldest first" }),
    created_at: z.string(),
  })
  .openapi("Moment");

export const MomentParam = z.object({ id: MomentId });
export const CommentParam = z.object({ id: MomentId, comment_id: CommentId });

export const CommentBody = z
  .object({
    text: z.string().trim().min(1).max(1000),
    reply_to: CommentId.optional().openapi({ description: "the comment on this moment I am replying to" }),
  })
  .strict()
  .openapi("CreateMomentComment");

export const Color = z.string().regex(/^#[0-9a-fA-F]{6}$/, "a colour such as #fbdc7c").transform((s) => s.toLowerCase());

export const NoteBody = z.object({ text: z.string().trim().min(1).max(5000), color: Color.default("#fff5a8") }).strict().openapi("CreateNote");
export const NotePatch = z
  .object({ text: z.string().trim().min(1).max(5000).optional(), color: Color.optional() })
  .strict()
  .refine((v) => v.text !== undefined || v.color !== undefined, "nothing to change")
  .openapi("UpdateNote");
export const NoteView = z.object({ id: NoteId, text: z.string(), color: z.string(), created_at: z.string(), updated_at: z.string() }).openapi("Note");
export const NoteParam = z.object({ id: NoteId });
export const NotesQuery = z.object({ cursor: NoteId.optional().openapi({ description: "next_cursor from the previous page" }) });
