import type { Db, Env } from "../env";
import { outbox } from "../db/schema";
import { AppError } from "./errors";
import { newId } from "./ids";

export type Channel = "email" | "sms";

export interface OutgoingMessage {
  channel: Channel;
  to: string;
  subject: string;
  text: string;
}

/** Where verification codes go: a real HTTP gateway in production, the D1 outbox in dev and tests. */
export interface DeliveryProvider {
  send(message: OutgoingMessage): Promise<void>;
}

class OutboxProvider implements DeliveryProvider {
  constructor(private db: Db) {}
  async send(m: OutgoingMessage) {
    await this.db.insert(outbox).values({ id: newId("ob"), channel: m.channel, target: m.to, subject: m.subject, body: m.text });
  }
}

/** Posts `{channel, to, subject, text}` as JSON to DELIVERY_HTTP_URL with a bearer DELIVERY_HTTP_TOKEN. */
class HttpProvider implements DeliveryProvider {
  constructor(private url: string, private token?: string) {}
  async send(m: OutgoingMessage) {
    const res = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
      body: JSON.stringify(m),
    });
    if (!res.ok) throw new AppError("INTERNAL", `Delivery provider answered ${res.status}`);
  }
}

export function isDevEnvironment(env: Env) {
  return env.ENVIRONMENT !== "production";
}

export function deliveryProvider(env: Env, db: Db): DeliveryProvider {
  if (env.DELIVERY_PROVIDER === "outbox" && isDevEnvironment(env)) return new OutboxProvider(db);
  if (env.DELIVERY_PROVIDER === "http" && env.DELIVERY_HTTP_URL) return new HttpProvider(env.DELIVERY_HTTP_URL, env.DELIVERY_HTTP_TOKEN);
  throw new AppError("MISCONFIGURED", "No delivery provider: set DELIVERY_PROVIDER=http and DELIVERY_HTTP_URL");
}
