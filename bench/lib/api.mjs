// REST client for the bench and the fault test (Node's fetch; loopback only).
import { setTimeout as sleep } from "node:timers/promises";

let ipCounter = 0;
/** A distinct cf-connecting-ip per auth call, so the per-IP auth limiter (120/min) never trips. */
export function nextIp() {
  ipCounter += 1;
  const n = ipCounter;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${(n & 255) || 1}`;
}

export class Api {
  constructor(baseUrl) {
    this.base = `${baseUrl}/api/v1`;
  }

  /** One call; returns {status, body, ms}. Bounded by timeoutMs. */
  async call(method, path, { token, body, ip, timeoutMs = 30_000 } = {}) {
    const headers = { "cf-connecting-ip": ip ?? "127.0.0.1" };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const t0 = performance.now();
    const res = await fetch(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, ms };
  }

  /** Like call, but throws unless the status is expected. Retries 429/503 a few times (bounded). */
  async must(method, path, opts = {}, expect = [200, 201]) {
    for (let attempt = 0; ; attempt++) {
      const r = await this.call(method, path, opts);
      if (expect.includes(r.status)) return r;
      if ((r.status === 429 || r.status === 503) && attempt < 5) {
        await sleep(500 * (attempt + 1));
        continue;
      }
      throw new Error(`${method} ${path} → ${r.status}: ${JSON.stringify(r.body).slice(0, 400)}`);
    }
  }

  async register(username, password = "bench-password-123") {
    const r = await this.must("POST", "/auth/register", { body: { username, password }, ip: nextIp() }, [201]);
    return { id: r.body.data.id, username: r.body.data.username ?? username, token: r.body.data.token };
  }
}

/** Runs fn over items with at most `limit` in flight; results in order. */
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}
