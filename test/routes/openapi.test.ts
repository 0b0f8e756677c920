import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, call, randomIp } from "../helpers";

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
}

/** `security: []` (no token) or a requirement list with an empty entry (a token is optional). */
const isPublic = (op: Operation) => op.security!.length === 0 || op.security!.some((r) => Object.keys(r).length === 0);

async function operations() {
  const doc = (await call("GET", "/api/v1/openapi.json")).body as { paths: Record<string, Record<string, Operation>> };
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, op })));
}

// Issue 20: client generators need names, a declared security and the documented errors of every operation.
// src/lib/openapi.ts (createRouter) fills these in for every route, including routes added later.
describe("the OpenAPI document", () => {
  it("every operation has a unique operationId, a declared security and its 4xx with the error envelope", async () => {
    const ops = await operations();
    expect(ops.length).toBeGreaterThan(100);
    const ids = ops.map(({ op }) => op.operationId);
    for (const { method, path, op } of ops) {
      const where = `${method} ${path}`;
      expect(op.operationId, where).toMatch(/^[a-z][A-Za-z0-9]+$/);
      expect(Array.isArray(op.security), `${where} declares no security`).toBe(true);
      for (const requirement of op.security!) for (const scheme of Object.keys(requirement)) expect(scheme, where).toBe("bearerAuth");
      const errors = Object.keys(op.responses).filter((s) => /^[45]\d\d$/.test(s));
      expect(errors.filter((s) => s.startsWith("4")).length, `${where} documents no 4xx`).toBeGreaterThan(0);
      expect(errors, where).toContain("400");
      if (op.security!.some((r) => "bearerAuth" in r)) expect(errors, `${where} takes a token but documents no 401`).toContain("401");
      for (const status of errors) {
        expect(op.responses[status].content?.["application/json"]?.schema?.$ref, `${where} ${status}`).toBe("#/components/schemas/Error");
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("the public operations are the ones declared public (security: [] or an optional token)", async () => {
    const ops = await operations();
    const pub = ops.filter(({ op }) => isPublic(op)).map(({ method, path }) => `${method} ${path}`);
    for (const must of ["GET /health", "POST /auth/login", "POST /auth/register", "GET /rooms", "GET /files/{id}/download"]) expect(pub).toContain(must);
    for (const never of ["GET /users/me", "POST /rooms", "POST /uploads/{id}/proof", "GET /admin/users", "GET /discover"]) expect(pub).not.toContain(never);
  });

  it("each declaration is what the route does: without a token, bearer-only operations answer 401 and public ones do not", async () => {
    const ops = await operations();
    const wrong: string[] = [];
    for (const { method, path, op } of ops) {
      const url = `${BASE}/api/v1${path.replace(/\{[^}]+\}/g, "x0")}`;
      const json = !!op.requestBody?.content["application/json"];
      const res = await SELF.fetch(url, {
        method,
        headers: { "cf-connecting-ip": randomIp(), ...(json ? { "content-type": "application/json" } : {}) },
        body: json ? "{}" : undefined,
      });
      const bearerOnly = !isPublic(op);
      if (bearerOnly !== (res.status === 401)) wrong.push(`${method} ${path}: declared ${bearerOnly ? "bearer" : "public"}, answered ${res.status}`);
      await res.body?.cancel();
    }
    expect(wrong).toEqual([]);
  });
});
