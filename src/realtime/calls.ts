import { and, eq, ne } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../db/schema";
import type { Env } from "../env";
import { AppError } from "../lib/errors";
import { membership, openDm } from "../routes/conversations/conversations.service";
import { serverFrame, type ClientFrameOf } from "../protocol";
import { conversationStub, userStub } from "./push";
import { capture } from "./result";

type CallFrame = ClientFrameOf<"call">;

const stored: Partial<Record<CallFrame["action"], "started" | "ended" | "rejected" | "cancelled">> = {
  invite: "started",
  hangup: "ended",
  reject: "rejected",
  cancel: "cancelled",
};

/**
 * Relays call signalling (invite, ringing, accept, reject, cancel, hangup, sdp, ice) to the other
 * side's devices and to the caller's other devices; the start and end of a call are stored as call
 * messages (seed 002 types 6-8) in the conversation.
 */
export async function relayCall(env: Env, userId: string, username: string, frame: CallFrame, origin: string) {
  return capture(async () => {
    const db = drizzle(env.DB, { schema });
    let conversationId = frame.conversation_id ?? frame.room_id;
    if (frame.to_user_id) conversationId = (await openDm(db, userId, frame.to_user_id)).id;
    if (!conversationId || !(await membership(db, conversationId, userId))) throw new AppError("FORBIDDEN", "You are not a member of this conversation");
    const callId = frame.call_id ?? crypto.randomUUID();
    const others = await db
      .select({ userId: schema.members.userId })
      .from(schema.members)
      .where(and(eq(schema.members.conversationId, conversationId), ne(schema.members.userId, userId)));
    const signal = serverFrame("call", {
      call_id: callId,
      conversation_id: conversationId,
      from_user_id: userId,
      from_username: username,
      action: frame.action,
      call_type: frame.call_type,
      payload: frame.payload ?? null,
    });
    await Promise.all([
      ...others.map((o) => userStub(env, o.userId).receive(conversationId!, [{ frame: signal }], true)),
      userStub(env, userId).receive(conversationId, [{ frame: signal, origin }], true),
    ]);
    const action = stored[frame.action];
    if (action) {
      const payload = frame.payload as { duration_s?: unknown } | undefined;
      const duration = typeof payload?.duration_s === "number" && payload.duration_s >= 0 ? Math.min(86_400, Math.floor(payload.duration_s)) : undefined;
      await conversationStub(env, conversationId).send({
        conversationId,
        senderId: userId,
        type: "call",
        payload: { call_type: frame.call_type, action, ...(duration !== undefined ? { duration_s: duration } : {}) },
        client_id: `call:${callId}:${action}`,
      });
    }
    return { call_id: callId, conversation_id: conversationId, action: frame.action };
  });
}
