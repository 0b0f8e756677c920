import type { Env } from "../../env";
import { conversationStub } from "../../realtime/push";
import { unwrap } from "../../realtime/result";
import type { SendMessageInput } from "./messages.schemas";

/** Sends through the conversation's object and waits until the conversation list in D1 shows it. */
export async function sendMessage(env: Env, conversationId: string, senderId: string, input: SendMessageInput) {
  return unwrap(await conversationStub(env, conversationId).send({ ...input, conversationId, senderId, awaitSummary: true }));
}
