import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import type { ServerFrame } from "./push";

/** One per user: the sockets of all the user's devices, presence and pushes. */
export class UserDO extends DurableObject<Env> {
  /** Sends frames to every socket of this user that is open. */
  async deliver(frames: ServerFrame[]): Promise<number> {
    const sockets = this.ctx.getWebSockets();
    for (const ws of sockets) {
      for (const f of frames) {
        try {
          ws.send(JSON.stringify(f));
        } catch {
          // a socket closing under us is dropped by its close handler
        }
      }
    }
    return sockets.length;
  }
}
