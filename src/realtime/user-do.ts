import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

/** One per user: the sockets of all the user's devices, presence and pushes. */
export class UserDO extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
  }
}
