import { beforeAll, describe, expect, it } from "vitest";
import { call, signup, type ApiResponse, type TestUser } from "../helpers";

/**
 * Every documented operation, driven with hostile input the way a careless or malicious client
 * would: no token, malformed JSON, wrong shapes and types, unknown and absurd ids, a wrong content
 * type. None of it may produce a 5xx, and every refusal must be the error envelope. The operations
 * come from the generated OpenAPI document, so a new route is covered the day it lands. (Split over
 * a few files: the pool's per-file cost grows with the number of requests a file makes.)
 */

type Operation = { method: string; path: string };

async function operations(): Promise<Operation[]> {
  const doc = (await call("GET", "/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })));
}

const ids = ["user_0000000000missing00", "x".repeat(300)];
const bodies = ["{", "[]", JSON.stringify({ user_id: 5, content: ["x"], text: {}, name: null, limit: -1, seq: "NaN", type: 42, status: true, file_name: 7, size: -1 })];
const query = `limit=-5&cursor=%25FF&before=abc&offset=1e99&q=${"%25".repeat(3)}`;

function check(label: string, res: ApiResponse) {
  if (res.status >= 500) throw new Error(`${label} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  const json = typeof res.body === "object" && res.body !== null;
  if (res.status >= 400 && (!json || res.body.success !== false || typeof res.body.code !== "string" || typeof res.body.error !== "string")) {
    throw new Error(`${label} → ${res.status} without the error envelope: ${JSON.stringify(res.body).slice(0, 300)}`);
  }
}

export async function contractSuite(name: string, covers: (path: string) => boolean) {
  const ops = (await operations()).filter((o) => covers(o.path) && !o.path.startsWith("/ws") && !o.path.startsWith("/dev/"));
  let user: TestUser;
  describe(`contract (${name}): hostile input never produces a 5xx`, () => {
    beforeAll(async () => {
      user = await signup();
    });
    it("finds the operations", () => expect(ops.length).toBeGreaterThan(10));
    for (const { method, path } of ops) {
      it(`${method} ${path}`, async () => {
        const json = { "content-type": "application/json" };
        for (const id of path.includes("{") ? ids : ids.slice(0, 1)) {
          const at = path.replace(/\{[^}]+\}/g, encodeURIComponent(id));
          check(`${method} ${at} (no token)`, await call(method, at, { raw: method === "GET" ? undefined : "{}", headers: json }));
          if (method === "GET" || method === "DELETE") {
            check(`${method} ${at}?${query}`, await call(method, `${at}?${query}`, { token: user.token }));
            continue;
          }
          for (const raw of bodies) check(`${method} ${at} body ${raw.slice(0, 40)}`, await call(method, at, { token: user.token, raw, headers: json }));
          check(`${method} ${at} text/plain`, await call(method, at, { token: user.token, raw: "a=b", headers: { "content-type": "text/plain" } }));
        }
      });
    }
  });
}

/** The three slices the contract files take; together they are every path. */
export const slices = {
  accounts: (p: string) => /^\/(auth|users|reports|friends|friend-categories|blocks|notifications|admin|discover|health|info|echo|protected|configs|openapi)/.test(p),
  chat: (p: string) => /^\/(conversations|messages|rooms|groups|workspaces)/.test(p),
  media: (p: string) => /^\/(files|uploads|moments|notes)/.test(p),
};
