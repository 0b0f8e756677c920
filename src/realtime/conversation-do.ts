import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

/** One per DM, group or room: the conversation's message log, seq and live sockets. */
export class ConversationDO extends DurableObject<Env> {
  /** Membership or rules changed in D1: drop the cached copy so the next operation reloads it. */
  async membersChanged(_change: Record<string, unknown>): Promise<void> {
    await this.ctx.storage.delete("members");
  }
}
