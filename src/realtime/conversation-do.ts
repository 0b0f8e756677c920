import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

/** One per DM, group or room: the conversation's message log, seq and live sockets. */
export class ConversationDO extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
  }
}
