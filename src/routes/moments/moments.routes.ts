import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../../middleware/auth";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import {
  CommentBody,
  CommentParam,
  CommentView,
  CreateMomentBody,
  FeedQuery,
  MomentParam,
  MomentView,
  NoteBody,
  NoteParam,
  NotePatch,
  NotesQuery,
  NoteView,
} from "./moments.schemas";
import { UserId } from "../users/users.schemas";
import * as moments from "./moments.service";

const tags = ["Moments and notes"];
const router = createRouter();
for (const path of ["/moments", "/moments/*", "/notes", "/notes/*", "/users/:id/moments"]) router.use(path, requireAuth);

const momentEnvelope = envelope(z.object({ moment: MomentView }));

router.openapi(
  createRoute({
    method: "post",
    path: "/moments",
    tags,
    security: bearer,
    summary: "Post a moment: text and/or up to 9 photos (my files, uploaded with purpose moment)",
    request: { body: jsonBody(CreateMomentBody) },
    responses: { 201: envelope(z.object({ moment: MomentView }), "Posted"), ...errors(401, 415) },
  }),
  async (c) => ok(c, "Moment posted", { moment: await moments.createMoment(c.env, c.var.db, c.var.user, c.req.valid("json")) }, 201),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/moments/feed",
    tags,
    security: bearer,
    summary: "My and my friends' moments, newest first (or one user's, with user_id), by cursor",
    request: { query: FeedQuery },
    responses: { 200: envelope(z.object({ moments: z.array(MomentView), next_cursor: z.string().nullable() })), ...errors(401) },
  }),
  async (c) => ok(c, "Moments retrieved", await moments.feed(c.env, c.var.db, c.var.user, c.req.valid("query"))),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/users/{id}/moments",
    tags,
    security: bearer,
    summary: "One user's moments (their space), newest first, as far as I may see them; the same as /moments/feed?user_id=",
    request: { params: z.object({ id: UserId }), query: FeedQuery.omit({ user_id: true }) },
    responses: { 200: envelope(z.object({ moments: z.array(MomentView), next_cursor: z.string().nullable() })), ...errors(401) },
  }),
  async (c) => ok(c, "Moments retrieved", await moments.feed(c.env, c.var.db, c.var.user, { ...c.req.valid("query"), user_id: c.req.valid("param").id })),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/moments/{id}",
    tags,
    security: bearer,
    summary: "One moment (404 unless I may see it)",
    request: { params: MomentParam },
    responses: { 200: momentEnvelope, ...errors(401, 404) },
  }),
  async (c) => ok(c, "Moment retrieved", { moment: await moments.getMoment(c.env, c.var.db, c.var.user, c.req.valid("param").id) }),
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/moments/{id}",
    tags,
    security: bearer,
    summary: "Delete my moment",
    request: { params: MomentParam },
    responses: { 200: envelope(z.object({ id: z.string(), deleted: z.literal(true) })), ...errors(401, 403, 404) },
  }),
  async (c) => ok(c, "Moment deleted", await moments.deleteMoment(c.var.db, c.var.user, c.req.valid("param").id)),
);

router.openapi(
  createRoute({
    method: "put",
    path: "/moments/{id}/like",
    tags,
    security: bearer,
    summary: "Like a moment (idempotent); the author gets a moment_liked notification",
    request: { params: MomentParam },
    responses: { 200: momentEnvelope, ...errors(401, 404) },
  }),
  async (c) => ok(c, "Moment liked", { moment: await moments.like(c.env, c.var.db, c.var.user, c.req.valid("param").id) }),
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/moments/{id}/like",
    tags,
    security: bearer,
    summary: "Take my like back (idempotent)",
    request: { params: MomentParam },
    responses: { 200: momentEnvelope, ...errors(401, 404) },
  }),
  async (c) => ok(c, "Like removed", { moment: await moments.unlike(c.env, c.var.db, c.var.user, c.req.valid("param").id) }),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/moments/{id}/comments",
    tags,
    security: bearer,
    summary: "Comment on a moment, or reply to one of its comments; the author (and the replied-to) get moment_commented",
    request: { params: MomentParam, body: jsonBody(CommentBody) },
    responses: { 201: envelope(z.object({ comment: CommentView, moment: MomentView }), "Commented"), ...errors(401, 404, 415) },
  }),
  async (c) => ok(c, "Comment added", await moments.comment(c.env, c.var.db, c.var.user, c.req.valid("param").id, c.req.valid("json")), 201),
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/moments/{id}/comments/{comment_id}",
    tags,
    security: bearer,
    summary: "Delete a comment: its author or the moment's author",
    request: { params: CommentParam },
    responses: { 200: momentEnvelope, ...errors(401, 403, 404) },
  }),
  async (c) => {
    const { id, comment_id } = c.req.valid("param");
    return ok(c, "Comment deleted", { moment: await moments.deleteComment(c.env, c.var.db, c.var.user, id, comment_id) });
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/notes",
    tags,
    security: bearer,
    summary: "My notes, newest first, 12 a page",
    request: { query: NotesQuery },
    responses: { 200: envelope(z.object({ notes: z.array(NoteView), next_cursor: z.string().nullable() })), ...errors(401) },
  }),
  async (c) => ok(c, "Notes retrieved", await moments.listNotes(c.var.db, c.var.user, c.req.valid("query").cursor)),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/notes",
    tags,
    security: bearer,
    summary: "Add a note (text, colour)",
    request: { body: jsonBody(NoteBody) },
    responses: { 201: envelope(z.object({ note: NoteView }), "Added"), ...errors(401, 415) },
  }),
  async (c) => ok(c, "Note added", { note: await moments.createNote(c.var.db, c.var.user, c.req.valid("json")) }, 201),
);

router.openapi(
  createRoute({
    method: "patch",
    path: "/notes/{id}",
    tags,
    security: bearer,
    summary: "Change a note's text or colour",
    request: { params: NoteParam, body: jsonBody(NotePatch) },
    responses: { 200: envelope(z.object({ note: NoteView })), ...errors(401, 404, 415) },
  }),
  async (c) => ok(c, "Note updated", { note: await moments.updateNote(c.var.db, c.var.user, c.req.valid("param").id, c.req.valid("json")) }),
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/notes/{id}",
    tags,
    security: bearer,
    summary: "Delete a note",
    request: { params: NoteParam },
    responses: { 200: envelope(z.object({ id: z.string(), deleted: z.literal(true) })), ...errors(401, 404) },
  }),
  async (c) => ok(c, "Note deleted", await moments.deleteNote(c.var.db, c.var.user, c.req.valid("param").id)),
);

export default router;
