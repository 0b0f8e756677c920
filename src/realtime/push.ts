import type { Env } from "../env";

/** A server frame as PROTOCOL.md defines it: `{success, message, data: {type, ...}}`. */
export interface ServerFrame {
  success: true;
  message: string;
  data: { type: string } & Record<string, unknown>;
}

export function frame(type: string, message: string, data: Record<string, unknown> = {}): ServerFrame {
  return { success: true, message, data: { type, ...data } };
}

export function userStub(env: Env, userId: string) {
  return env.USER.get(env.USER.idFromName(userId));
}

export function conversationStub(env: Env, conversationId: string) {
  return env.CONVERSATION.get(env.CONVERSATION.idFromName(conversationId));
}

/** Pushes frames to every live device of each user; users with no socket cost one cheap RPC that finds none. */
export async function pushToUsers(env: Env, userIds: string[], frames: ServerFrame[]) {
  await Promise.all([...new Set(userIds)].map((id) => userStub(env, id).deliver(frames)));
}

/** Tells a conversation's object that its members or rules changed in D1, so it reloads its cached copy. */
export async function conversationChanged(env: Env, conversationId: string, change: Record<string, unknown> = {}) {
  await conversationStub(env, conversationId).membersChanged(change);
}
