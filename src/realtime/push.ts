import type { Env } from "../env";
import type { EncodedFrame } from "../protocol";
import type { ConversationDO } from "./conversation-do";
import type { UserDO } from "./user-do";

type PublicMethods<T> = { [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] };
/**
 * The objects' RPC surfaces with their declared types: every method returns plain data
 * (structured-clone safe), so the stub's wire types are the same as the class's.
 */
export type ConversationApi = PublicMethods<Omit<ConversationDO, "fetch" | "alarm" | "webSocketMessage" | "webSocketClose" | "webSocketError">>;
export type UserApi = PublicMethods<Omit<UserDO, "fetch" | "alarm" | "webSocketMessage" | "webSocketClose" | "webSocketError">>;

export function userStub(env: Env, userId: string): UserApi & { fetch(req: Request): Promise<Response> } {
  return env.USER.get(env.USER.idFromName(userId)) as unknown as UserApi & { fetch(req: Request): Promise<Response> };
}

export function conversationStub(env: Env, conversationId: string): ConversationApi & { fetch(req: Request): Promise<Response> } {
  return env.CONVERSATION.get(env.CONVERSATION.idFromName(conversationId)) as unknown as ConversationApi & { fetch(req: Request): Promise<Response> };
}

/** Pushes frames to every live device of each user; users with no socket cost one cheap RPC that finds none. */
export async function pushToUsers(env: Env, userIds: string[], frames: EncodedFrame[]) {
  await Promise.all([...new Set(userIds)].map((id) => userStub(env, id).deliver(frames)));
}

/** Tells a conversation's object that its members or rules changed in D1, so it reloads its cached copy. */
export async function conversationChanged(env: Env, conversationId: string, change: Record<string, unknown> = {}) {
  await conversationStub(env, conversationId).membersChanged(change);
}
