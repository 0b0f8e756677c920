import { and, inArray, isNull } from "drizzle-orm";
import type { Db, Env } from "../../env";
import { files } from "../../db/schema";
import { AppError } from "../../lib/errors";
import { conversationStub } from "../../realtime/push";
import { unwrap } from "../../realtime/result";
import type { SendMessageInput } from "./messages.schemas";

const contentTypes: Record<string, RegExp> = { image: /^image\//, video: /^video\//, voice: /^audio\// };

/** Media messages may only carry files the sender uploaded, of the matching kind. */
export async function validateAttachments(db: Db, senderId: string, input: Pick<SendMessageInput, "type" | "attachments">) {
  const ids = input.attachments ?? [];
  if (!ids.length) return;
  const rows = await db
    .select({ id: files.id, ownerId: files.ownerId, contentType: files.contentType })
    .from(files)
    .where(and(inArray(files.id, ids), isNull(files.deletedAt)));
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const id of ids) {
    const file = byId.get(id);
    if (!file || file.ownerId !== senderId) throw new AppError("BAD_REQUEST", `attachments: file ${id} not found or not yours`);
    const want = contentTypes[input.type];
    if (want && !want.test(file.contentType)) throw new AppError("BAD_REQUEST", `attachments: file ${id} is ${file.contentType}, not a ${input.type}`);
  }
}

/** Sends through the conversation's object and waits until the conversation list in D1 shows it. */
export async function sendMessage(env: Env, db: Db, conversationId: string, senderId: string, input: SendMessageInput) {
  await validateAttachments(db, senderId, input);
  return unwrap(await conversationStub(env, conversationId).send({ ...input, conversationId, senderId, awaitSummary: true }));
}
